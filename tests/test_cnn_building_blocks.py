"""Tests for cifar10/cnn_building_blocks.py: the CNN lab's building blocks.

Expected outputs of the classic 5x5 example are written out here as
literals, worked out by hand, so the tests cannot pass by comparing two
equally wrong implementations (TensorFlow against the script's NumPy).
"""

import importlib.util
import math
import os
import struct
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO, run_program

SCRIPT = os.path.join(REPO, 'cifar10', 'cnn_building_blocks.py')


def _load_script():
  """Imports the script from its file, as the program runs it."""
  spec = importlib.util.spec_from_file_location('cnn_building_blocks',
                                                SCRIPT)
  module = importlib.util.module_from_spec(spec)
  # Registered like any imported module: main() hands sys.modules[__name__]
  # to the walks in cnn_building_blocks_plot.
  sys.modules[spec.name] = module
  spec.loader.exec_module(module)
  return module


blocks = _load_script()

CLASSIC = np.array([[1, 1, 1, 0, 0],
                    [0, 1, 1, 1, 0],
                    [0, 0, 1, 1, 1],
                    [0, 0, 1, 1, 0],
                    [0, 1, 1, 0, 0]])
ONES = np.ones((3, 3))
X = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])

# (kernel, padding, stride) -> output, by hand. SAME stride 3 pads 0 zeros
# before and 1 after, so its windows are centred on rows/columns 1 and 4.
EXPECTED = {
    ('ones', 'VALID', 1): [[6, 7, 6], [4, 7, 7], [4, 6, 6]],
    ('ones', 'VALID', 2): [[6, 6], [4, 6]],
    ('ones', 'VALID', 3): [[6]],
    ('ones', 'SAME', 1): [[3, 5, 5, 3, 1], [3, 6, 7, 6, 3], [1, 4, 7, 7, 4],
                          [1, 4, 6, 6, 3], [1, 3, 4, 3, 1]],
    ('ones', 'SAME', 2): [[3, 5, 1], [1, 7, 4], [1, 4, 1]],
    ('ones', 'SAME', 3): [[6, 3], [3, 1]],
    ('x', 'VALID', 1): [[4, 3, 4], [2, 4, 3], [2, 3, 4]],
    ('x', 'VALID', 2): [[4, 4], [2, 4]],
    ('x', 'VALID', 3): [[4]],
    ('x', 'SAME', 1): [[2, 2, 3, 1, 1], [1, 4, 3, 4, 1], [1, 2, 4, 3, 3],
                       [1, 2, 3, 4, 1], [0, 2, 2, 1, 1]],
    ('x', 'SAME', 2): [[2, 3, 1], [1, 4, 3], [0, 2, 1]],
    ('x', 'SAME', 3): [[4, 1], [2, 1]],
}

# (n, k, padding, stride) -> (output size, SAME zeros before/after or None).
SIZES = [
    (5, 3, 'VALID', 1, 3, None), (5, 3, 'VALID', 2, 2, None),
    (5, 3, 'VALID', 3, 1, None), (5, 3, 'SAME', 1, 5, (1, 1)),
    (5, 3, 'SAME', 2, 3, (1, 1)), (5, 3, 'SAME', 3, 2, (0, 1)),
    (32, 5, 'VALID', 1, 28, None), (32, 5, 'VALID', 2, 14, None),
    (32, 5, 'VALID', 3, 10, None), (32, 5, 'SAME', 1, 32, (2, 2)),
    (32, 5, 'SAME', 2, 16, (1, 2)), (32, 5, 'SAME', 3, 11, (1, 2)),
    (24, 5, 'VALID', 1, 20, None), (24, 5, 'VALID', 2, 10, None),
    (24, 5, 'VALID', 3, 7, None), (24, 5, 'SAME', 1, 24, (2, 2)),
    (24, 5, 'SAME', 2, 12, (1, 2)), (24, 5, 'SAME', 3, 8, (1, 1)),
]

SIX_LINE = 'top-left output = 1+1+1+0+1+1+0+0+1 = 6'


def test_classic_example_and_kernels_are_the_published_ones():
  np.testing.assert_array_equal(blocks.CLASSIC_IMAGE, CLASSIC)
  np.testing.assert_array_equal(blocks.KERNELS['ones'], ONES)
  np.testing.assert_array_equal(blocks.KERNELS['x'], X)


def test_top_left_of_all_ones_kernel_is_six():
  tf_out, np_out = blocks.conv2d_block(CLASSIC, ONES, 1, 'VALID')
  # The window 1 1 1 / 0 1 1 / 0 0 1 summed.
  assert tf_out[0, 0] == 6
  assert np_out[0, 0] == 6


@pytest.mark.parametrize('case', sorted(EXPECTED), ids=str)
def test_classic_example_matches_hand_computed_output(case):
  name, padding, stride = case
  kernel = {'ones': ONES, 'x': X}[name]
  tf_out, np_out = blocks.conv2d_block(CLASSIC, kernel, stride, padding)
  expected = np.array(EXPECTED[case], dtype=float)
  np.testing.assert_allclose(tf_out, expected, atol=1e-6)
  np.testing.assert_array_equal(np_out, expected)
  np.testing.assert_array_equal(
      blocks.numpy_conv2d(CLASSIC, kernel, stride, padding), expected)


@pytest.mark.parametrize('n,k,padding,stride,size,zeros', SIZES)
def test_output_size_and_same_padding(n, k, padding, stride, size, zeros):
  assert blocks.output_size(n, k, stride, padding) == size
  if zeros is not None:
    assert blocks.same_padding(n, k, stride) == zeros
  # TensorFlow itself agrees with the formula...
  image = np.random.default_rng(n + k + stride).normal(size=(1, n, n, 1))
  kernel = np.random.default_rng(1).normal(size=(k, k, 1, 1))
  same_or_valid = tf.nn.conv2d(image, kernel, stride, padding).numpy()
  assert same_or_valid.shape == (1, size, size, 1)
  if zeros is not None:
    # ...and SAME is exactly these explicit zeros followed by VALID.
    explicit = tf.nn.conv2d(image, kernel, stride,
                            [[0, 0], list(zeros), list(zeros), [0, 0]])
    np.testing.assert_allclose(explicit.numpy(), same_or_valid, atol=1e-9)


def test_output_size_rejects_bad_arguments():
  with pytest.raises(ValueError, match='padding'):
    blocks.output_size(5, 3, 1, 'FULL')
  with pytest.raises(ValueError, match='stride'):
    blocks.output_size(5, 3, 0, 'SAME')
  with pytest.raises(ValueError, match='longer than the input'):
    blocks.output_size(2, 3, 1, 'VALID')


def test_conv_rejects_kernel_with_wrong_channels():
  with pytest.raises(ValueError, match='kernel must be'):
    blocks.numpy_conv2d(np.zeros((5, 5, 3)), np.zeros((3, 3, 2, 1)), 1,
                        'VALID')


@pytest.mark.parametrize('padding', ['VALID', 'SAME'])
@pytest.mark.parametrize('stride', [1, 2, 3])
@pytest.mark.parametrize('h,w,c_in,c_out,k', [
    (7, 9, 3, 4, 3), (8, 8, 2, 5, 5), (6, 5, 1, 2, 2)])
def test_multichannel_conv_matches_numpy(padding, stride, h, w, c_in, c_out,
                                         k):
  rng = np.random.default_rng(h * w + stride)
  image = rng.normal(size=(h, w, c_in))
  kernel = rng.normal(size=(k, k, c_in, c_out))
  tf_out, np_out = blocks.conv2d_block(image, kernel, stride, padding)
  assert np_out.shape == (blocks.output_size(h, k, stride, padding),
                          blocks.output_size(w, k, stride, padding), c_out)
  assert tf_out.shape == np_out.shape
  np.testing.assert_allclose(tf_out, np_out, rtol=1e-4, atol=1e-4)
  # One output number checked by hand: filter 0 on the first window.
  if padding == 'VALID':
    first = np.sum(image[:k, :k, :] * kernel[:, :, :, 0])
    assert np_out[0, 0, 0] == pytest.approx(first)


def test_strided_valid_conv_is_stride_one_subsampled():
  image = np.random.default_rng(3).normal(size=(9, 11, 2))
  kernel = np.random.default_rng(4).normal(size=(3, 3, 2, 3))
  full = blocks.numpy_conv2d(image, kernel, 1, 'VALID')
  for stride in (2, 3):
    np.testing.assert_allclose(
        blocks.numpy_conv2d(image, kernel, stride, 'VALID'),
        full[::stride, ::stride])


def test_pooling_on_hand_made_4x4():
  x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])
  tf_max, np_max = blocks.pool_block(x, 2, 2, 'max')
  tf_mean, np_mean = blocks.pool_block(x, 2, 2, 'mean')
  np.testing.assert_array_equal(tf_max, [[6, 8], [3, 4]])
  np.testing.assert_array_equal(np_max, [[6, 8], [3, 4]])
  np.testing.assert_allclose(tf_mean, [[3.25, 5.25], [2, 2]])
  np.testing.assert_allclose(np_mean, [[3.25, 5.25], [2, 2]])


def test_pooling_odd_input_drops_last_row_and_column():
  tf_max, np_max = blocks.pool_block(CLASSIC, 2, 2, 'max')
  tf_mean, np_mean = blocks.pool_block(CLASSIC, 2, 2, 'mean')
  np.testing.assert_array_equal(tf_max, [[1, 1], [0, 1]])
  np.testing.assert_array_equal(np_max, [[1, 1], [0, 1]])
  np.testing.assert_allclose(tf_mean, [[0.75, 0.75], [0, 1]])
  np.testing.assert_allclose(np_mean, [[0.75, 0.75], [0, 1]])


@pytest.mark.parametrize('mode', ['max', 'mean'])
def test_pooling_multichannel_matches_numpy(mode):
  x = np.random.default_rng(5).normal(size=(6, 8, 3))
  tf_out, np_out = blocks.pool_block(x, 2, 2, mode)
  assert tf_out.shape == np_out.shape == (3, 4, 3)
  np.testing.assert_allclose(tf_out, np_out, rtol=1e-5, atol=1e-6)
  reduce = np.max if mode == 'max' else np.mean
  np.testing.assert_allclose(np_out[1, 2, 0], reduce(x[2:4, 4:6, 0]))


def test_pooling_rejects_unknown_mode():
  with pytest.raises(ValueError, match='mode'):
    blocks.numpy_pool(np.zeros((4, 4)), 2, 2, 'median')


def test_softmax_small_logits():
  exps = [math.exp(2.0), math.exp(1.0), math.exp(0.1)]
  expected = [e / sum(exps) for e in exps]  # 0.659, 0.242, 0.099
  tf_out, np_out = blocks.softmax_block([2.0, 1.0, 0.1])
  np.testing.assert_allclose(np_out, expected, rtol=1e-12)
  np.testing.assert_allclose(tf_out, expected, rtol=1e-6)
  assert np_out.sum() == pytest.approx(1.0, abs=1e-12)
  assert float(tf_out.sum()) == pytest.approx(1.0, abs=1e-6)


def test_softmax_large_logits_are_stable():
  tf_out, np_out = blocks.softmax_block([1000.0, 1001.0, 1002.0])
  expected = blocks.numpy_softmax([0.0, 1.0, 2.0])  # Shift-invariant.
  assert np.all(np.isfinite(np_out)) and np.all(np.isfinite(tf_out))
  np.testing.assert_allclose(np_out, expected, rtol=1e-12)
  np.testing.assert_allclose(tf_out, expected, rtol=1e-6)
  assert np_out.sum() == pytest.approx(1.0, abs=1e-12)


def test_softmax_batch_rows_each_sum_to_one():
  logits = np.random.default_rng(6).normal(scale=30, size=(5, 10))
  logits[0] = -1000.0  # Equal scores: uniform.
  tf_out, np_out = blocks.softmax_block(logits)
  np.testing.assert_allclose(tf_out, np_out, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(np_out.sum(axis=1), np.ones(5), atol=1e-12)
  np.testing.assert_allclose(np_out[0], np.full(10, 0.1))


def test_one_hot_of_six_vehicle_classes():
  assert blocks.VEHICLE_CLASSES == ('airplane', 'automobile', 'ship', 'truck',
                                    'bicycle', 'motorcycle')
  tf_out, np_out = blocks.one_hot_block(range(6), 6)
  np.testing.assert_array_equal(tf_out, np.eye(6))
  np.testing.assert_array_equal(np_out, np.eye(6))
  tf_out, np_out = blocks.one_hot_block([3, 0, 5], 6)
  expected = [[0, 0, 0, 1, 0, 0], [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1]]
  np.testing.assert_array_equal(tf_out, expected)
  np.testing.assert_array_equal(np_out, expected)


def test_one_hot_out_of_range_label_is_all_zeros_like_tf():
  tf_out, np_out = blocks.one_hot_block([6, -1, 2], 6)
  expected = [[0] * 6, [0] * 6, [0, 0, 1, 0, 0, 0]]
  np.testing.assert_array_equal(tf_out, expected)
  np.testing.assert_array_equal(np_out, expected)


def _png_size(path):
  """(width, height) from a PNG's header; fails on anything else."""
  with open(path, 'rb') as f:
    head = f.read(24)
  assert head[:8] == b'\x89PNG\r\n\x1a\n', path
  return struct.unpack('>II', head[16:24])


def test_program_prints_all_blocks_and_writes_figures(tmp_path):
  plot_dir = tmp_path / 'figures'
  proc = run_program([SCRIPT, '--plot_dir', str(plot_dir)])
  lines = proc.stdout.splitlines()
  assert SIX_LINE in lines
  assert 'top-left output = 1+0+1+0+1+0+0+0+1 = 4' in lines
  assert 'top-left max = max(1, 1, 5, 6) = 6' in lines
  assert 'top-left mean = (1+1+5+6) / 4 = 3.25' in lines
  # The VALID all-ones output, TensorFlow then NumPy, right after its title.
  start = lines.index("-- kernel 'ones', VALID, stride 1: "
                      'ceil((5 - 3 + 1) / 1) = 3')
  assert lines[start + 1:start + 6] == [
      '  tf.nn.conv2d (3, 3)   numpy loops (3, 3)',
      '  6 7 6                 6 7 6',
      '  4 7 7                 4 7 7',
      '  4 6 6                 4 6 6',
      '  agree (np.allclose): True']
  assert ("-- kernel 'x', SAME, stride 3: ceil(5 / 3) = 2, zeros 0 before, "
          '1 after') in lines
  assert '    5   3  SAME          3       2  (0, 1)' in lines
  assert '   32   5  VALID         3      10  -' in lines
  assert '  tf.nn.softmax [0.090 0.245 0.665]  sum 1.000000' in lines
  assert '      3  truck        [0 0 0 1 0 0]  [0 0 0 1 0 0]' in lines
  # 3 convolution + 12 stride/padding + 2 pooling + 2 softmax + 1 one-hot.
  assert proc.stdout.count('agree (np.allclose): True') == 20
  assert 'False' not in proc.stdout
  assert lines[-1] == 'TensorFlow and NumPy agree on every block shown.'
  for name in blocks.BLOCKS:
    path = plot_dir / (name + '.png')
    assert 'wrote %s' % path in lines
    width, height = _png_size(path)
    assert width >= 300 and height >= 200
    assert path.stat().st_size > 5000


def test_program_only_one_block_from_its_folder():
  proc = run_program(['cnn_building_blocks.py', '--only', 'pooling'],
                     cwd=os.path.join(REPO, 'cifar10'))
  lines = proc.stdout.splitlines()
  assert [line for line in lines if line.startswith('==')] == [
      '== 3. Pooling: 2x2 windows, stride 2 ==']
  assert 'top-left max = max(1, 1, 5, 6) = 6' in lines
  assert SIX_LINE not in lines
  assert not any(line.startswith('wrote') for line in lines)


def test_program_as_module_convolution_only():
  proc = run_program(['-m', 'cifar10.cnn_building_blocks', '--only',
                      'convolution'])
  assert SIX_LINE in proc.stdout.splitlines()
  assert '== 2.' not in proc.stdout


def test_program_rejects_misspelled_flag(tmp_path):
  # '--plot' is also a prefix of --plot_dir, which argparse would accept
  # by default; here it must be an error.
  proc = run_program([SCRIPT, '--plot', 'x'], cwd=str(tmp_path), check=False)
  assert proc.returncode == 2
  assert proc.stderr.splitlines()[-1] == (
      'cnn_building_blocks: error: unrecognized arguments: --plot x')
  assert proc.stdout == ''
  assert os.listdir(tmp_path) == []  # No folder x was made.


def test_program_without_matplotlib_says_so(tmp_path):
  fake = tmp_path / 'fake' / 'matplotlib'
  fake.mkdir(parents=True)
  (fake / '__init__.py').write_text("raise ImportError('no matplotlib')\n")
  plot_dir = tmp_path / 'figures'
  proc = run_program([SCRIPT, '--only', 'one_hot', '--plot_dir',
                      str(plot_dir)], check=False,
                     env={'PYTHONPATH': str(tmp_path / 'fake')})
  assert proc.returncode == 1
  assert proc.stderr.splitlines()[-1] == (
      "cnn_building_blocks: error: --plot_dir needs matplotlib: "
      "pip install -e '.[plot]'")
  assert 'Traceback' not in proc.stderr
  assert not plot_dir.exists()


def test_program_unwritable_plot_dir_is_one_line_error(tmp_path):
  blocker = tmp_path / 'a_file'
  blocker.write_text('not a folder')
  plot_dir = blocker / 'figures'
  proc = run_program([SCRIPT, '--only', 'softmax', '--plot_dir',
                      str(plot_dir)], check=False)
  assert proc.returncode == 1
  last = proc.stderr.splitlines()[-1]
  assert last.startswith('cnn_building_blocks: error: cannot create '
                         '--plot_dir %s: ' % plot_dir)
  assert 'Traceback' not in proc.stderr


def test_main_in_process_reports_a_disagreement(monkeypatch, capsys):
  # A NumPy pooling that is off by one must not pass silently.
  real = blocks.numpy_pool
  monkeypatch.setattr(blocks, 'numpy_pool',
                      lambda *args: real(*args) + 1.0)
  assert blocks.main(['--only', 'pooling']) == 1
  out, err = capsys.readouterr()
  assert out.count('agree (np.allclose): False') == 2
  assert err == ('cnn_building_blocks: error: TensorFlow and NumPy disagree '
                 'in: pooling\n')


def test_main_in_process_one_hot_only(capsys):
  assert blocks.main(['--only', 'one_hot']) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == '== 5. One-hot labels =='
  assert ('  0 airplane  1 automobile  2 ship  3 truck  4 bicycle  '
          '5 motorcycle') in lines
  assert '      5  motorcycle   [0 0 0 0 0 1]  [0 0 0 0 0 1]' in lines
  assert '  shape: tf (6, 6), numpy (6, 6)' in lines


def test_every_block_has_a_walk_and_a_figure(tmp_path):
  from cifar10 import cnn_building_blocks_plot as show
  assert tuple(show.WALKS) == blocks.BLOCKS
  # A figure that cannot be written is a one-line error naming the file.
  _, data = show.walk_pooling(blocks)
  path = tmp_path / 'missing_folder' / 'pooling.png'
  with pytest.raises(SystemExit) as e:
    show.draw(show.pyplot(blocks.PROG), 'pooling', data, str(path), blocks)
  assert str(e.value).startswith('cnn_building_blocks: error: cannot write '
                                 '%s: ' % path)
