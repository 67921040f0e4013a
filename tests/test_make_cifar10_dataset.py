"""cifar10/make_cifar10_dataset.py and cifar10/image_files.py: own images
and MNIST in the CIFAR-10 binary format, read back with numpy and through
cifar10_input."""

import hashlib
import os
import struct
import tarfile

import numpy as np
import pytest
import tensorflow as tf

import testdata
from cifar10 import cifar10_download
from cifar10 import cifar10_input
from conftest import run_program
from cifar10 import image_files
from cifar10 import make_cifar10_dataset as mk

SCRIPT = os.path.join('cifar10', 'make_cifar10_dataset.py')
BIN_FILES = ['data_batch_%d.bin' % i for i in range(1, 6)] + [
    'test_batch.bin']
# A 1x1 GIF whose one pixel is palette colour 0, pure red.
RED_GIF = (b'GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\x00\x00\x00\x00\x00'
           b',\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;')


def _write(path, data):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'wb') as f:
    f.write(data)


def _png(path, image):
  _write(path, tf.io.encode_png(np.asarray(image, np.uint8)).numpy())


def _bmp(image):
  """A 24-bit BMP file: bottom-up rows of B, G, R bytes, 4-byte aligned."""
  height, width = image.shape[:2]
  pad = b'\0' * ((-3 * width) % 4)
  body = b''.join(image[r, :, ::-1].tobytes() + pad
                  for r in range(height - 1, -1, -1))
  return (struct.pack('<2sIHHI', b'BM', 54 + len(body), 0, 0, 54) +
          struct.pack('<IiiHHIIiiII', 40, width, height, 1, 24, 0, len(body),
                      2835, 2835, 0, 0) + body)


def _read_bin(path):
  """labels [n], images [n, 32, 32, 3] of a CIFAR-10 .bin, with numpy."""
  with open(path, 'rb') as f:
    records = np.frombuffer(f.read(), np.uint8).reshape(-1, 3073)
  images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  return records[:, 0], images


def _read_all(folder):
  return {name: _read_bin(os.path.join(folder, name)) for name in BIN_FILES}


def _image_dir(root, classes, per_class, seed=0):
  """PNG class folders of random 32x32 images; returns {path: (label, img)}."""
  rng = np.random.RandomState(seed)
  made = {}
  for label, name in enumerate(sorted(classes)):
    for i in range(per_class):
      image = rng.randint(0, 256, (32, 32, 3)).astype(np.uint8)
      path = os.path.join(root, name, 'img%02d.png' % i)
      _png(path, image)
      made[path] = (label, image)
  return made


def _md5(path):
  with open(path, 'rb') as f:
    return hashlib.md5(f.read()).hexdigest()


def test_image_dir_exact_pixels_labels_and_split(tmp_path, capsys):
  image_dir, out = str(tmp_path / 'images'), str(tmp_path / 'out')
  made = _image_dir(image_dir, ['zebra', 'ant', 'moose'], 4)
  _write(os.path.join(image_dir, 'ant', 'notes.txt'), b'not an image')
  _write(os.path.join(image_dir, 'moose', '.DS_Store'), b'hidden')
  images, labels, classes, ignored = mk.load_image_dir(image_dir)
  assert classes == ['ant', 'moose', 'zebra']
  assert ignored == [os.path.join(image_dir, 'ant', 'notes.txt')]
  np.testing.assert_array_equal(images, [m[1] for m in made.values()])
  np.testing.assert_array_equal(labels, [m[0] for m in made.values()])

  written = mk.main(['--image_dir', image_dir, '--output_dir', out,
                     '--test_fraction', '0.25', '--seed', '3'])
  data = _read_all(written['dir'])
  # round(12 * 0.25) = 3 test images; the other 9 over five files.
  assert [len(data[n][0]) for n in BIN_FILES] == [2, 2, 2, 2, 1, 3]
  (train_x, train_y), (test_x, test_y) = mk.split(images, labels, 0.25, 3)
  np.testing.assert_array_equal(
      np.concatenate([data[n][1] for n in BIN_FILES[:5]]), train_x)
  np.testing.assert_array_equal(
      np.concatenate([data[n][0] for n in BIN_FILES[:5]]), train_y)
  np.testing.assert_array_equal(data['test_batch.bin'][1], test_x)
  np.testing.assert_array_equal(data['test_batch.bin'][0], test_y)
  # Every image is there exactly once, with its own label.
  pairs = sorted((int(y), x.tobytes()) for n in BIN_FILES
                 for y, x in zip(*data[n], strict=True))
  assert pairs == sorted((y, x.tobytes()) for y, x in made.values())
  with open(os.path.join(written['dir'], 'batches.meta.txt')) as f:
    assert f.read() == 'ant\nmoose\nzebra\n'
  out_lines = capsys.readouterr().out.splitlines()
  assert 'Ignored 1 file that is not .png/.jpg/.jpeg/.gif/.bmp: %s' % (
      ignored[0]) in out_lines
  # The same seed gives the same files; another seed another split.
  again = mk.main(['--image_dir', image_dir, '--output_dir', out,
                   '--test_fraction', '0.25', '--seed', '3', '--overwrite'])
  assert _read_all(again['dir'])['test_batch.bin'][0].tolist() == (
      test_y.tolist())
  assert not np.array_equal(mk.split(images, labels, 0.25, 4)[1][0],
                            test_x)


def test_resize_and_centre_crop():
  rng = np.random.RandomState(0)
  tall = rng.randint(0, 256, (96, 32, 3)).astype(np.uint8)
  wide = rng.randint(0, 256, (32, 96, 3)).astype(np.uint8)
  encode = lambda x: tf.io.encode_png(x).numpy()  # noqa: E731
  # Shorter side already 32: no resampling, the exact middle is kept.
  np.testing.assert_array_equal(image_files.to_cifar_image(encode(tall)),
                                tall[32:64])
  np.testing.assert_array_equal(image_files.to_cifar_image(encode(wide)),
                                wide[:, 32:64])
  # 64 high, 48 wide: scaled by 2/3 to 43x32, then rows 5..36 kept, which
  # is the middle 48x48 of the original. A smooth ramp shows where the crop
  # came from: a top- or bottom-aligned crop would be off by ~8 rows * 3.
  rows, cols = np.meshgrid(np.arange(64), np.arange(48), indexing='ij')
  ramp = np.stack([rows * 3, cols * 4, np.full_like(rows, 77)], -1)
  out = image_files.to_cifar_image(encode(ramp.astype(np.uint8)))
  assert out.shape == (32, 32, 3) and out.dtype == np.uint8
  middle = tf.image.resize(ramp[8:56].astype(np.float32), [32, 32],
                           antialias=True).numpy()
  assert np.abs(out.astype(float) - middle).max() <= 3
  assert np.all(out[..., 2] == 77)
  # Upscaling a flat image keeps it flat.
  flat = np.full((16, 16, 3), [10, 200, 30], np.uint8)
  np.testing.assert_array_equal(image_files.to_cifar_image(encode(flat)),
                                np.full((32, 32, 3), [10, 200, 30]))


def test_formats_grey_alpha_bmp_gif_jpeg():
  rng = np.random.RandomState(1)
  grey = rng.randint(0, 256, (32, 32, 1)).astype(np.uint8)
  out = image_files.to_cifar_image(tf.io.encode_png(grey).numpy())
  np.testing.assert_array_equal(out, np.repeat(grey, 3, axis=2))
  rgba = rng.randint(0, 256, (32, 32, 4)).astype(np.uint8)
  out = image_files.to_cifar_image(tf.io.encode_png(rgba).numpy())
  np.testing.assert_array_equal(out, rgba[..., :3])  # Alpha dropped.
  rgb = rng.randint(0, 256, (32, 32, 3)).astype(np.uint8)
  np.testing.assert_array_equal(image_files.to_cifar_image(_bmp(rgb)), rgb)
  np.testing.assert_array_equal(image_files.to_cifar_image(RED_GIF),
                                np.full((32, 32, 3), [255, 0, 0]))
  flat = np.full((40, 40, 3), [200, 100, 50], np.uint8)
  out = image_files.to_cifar_image(tf.io.encode_jpeg(flat, quality=95).numpy())
  assert np.abs(out.astype(int) - [200, 100, 50]).max() <= 3


def test_image_dir_errors(tmp_path):
  root = str(tmp_path)
  with pytest.raises(ValueError, match='does not exist'):
    mk.load_image_dir(os.path.join(root, 'nowhere'))
  os.makedirs(os.path.join(root, 'empty'))
  _write(os.path.join(root, 'empty', 'loose.png'), b'x')
  with pytest.raises(ValueError, match='holds no class sub-folders'):
    mk.load_image_dir(os.path.join(root, 'empty'))
  many = os.path.join(root, 'many')
  _image_dir(many, ['c%02d' % i for i in range(11)], 1)
  with pytest.raises(ValueError, match='holds 11 class folders .* at most '
                     '10 classes'):
    mk.load_image_dir(many)
  no_images = os.path.join(root, 'no_images')
  _image_dir(no_images, ['a'], 1)
  _write(os.path.join(no_images, 'b', 'readme.txt'), b'text')
  with pytest.raises(ValueError, match='Class folder .*b holds no images'):
    mk.load_image_dir(no_images)
  for name, data in [('garbage.png', b'not an image at all'),
                     ('cut.png', tf.io.encode_png(
                         np.zeros((32, 32, 3), np.uint8)).numpy()[:40])]:
    bad = os.path.join(root, 'bad_' + name[:-4])
    _image_dir(bad, ['a'], 1)
    path = os.path.join(bad, 'a', name)
    _write(path, data)
    with pytest.raises(ValueError, match='Cannot decode image %s: ' % path):
      mk.load_image_dir(bad)
  five = os.path.join(root, 'five')
  _image_dir(five, ['a'], 5)
  images, labels, _, _ = mk.load_image_dir(five)
  with pytest.raises(ValueError, match='5 images are too few'):
    mk.split(images, labels, 0.2)
  for fraction in (0.0, 1.0, -0.5):
    with pytest.raises(ValueError, match='between 0 and 1'):
      mk.split(images, labels, fraction)


def test_mnist_conversion_exact(tmp_path):
  mnist_dir, out = str(tmp_path / 'mnist'), str(tmp_path / 'out')
  made = testdata.make_mnist_dir(mnist_dir, n_train=50, n_test=7)
  written = mk.main(['--mnist_dir', mnist_dir, '--output_dir', out])
  data = _read_all(written['dir'])
  assert [len(data[n][0]) for n in BIN_FILES] == [10] * 5 + [7]
  for split, names in (('train', BIN_FILES[:5]), ('test', BIN_FILES[5:])):
    digits, labels = made[split]
    got_labels = np.concatenate([data[n][0] for n in names])
    got = np.concatenate([data[n][1] for n in names])
    np.testing.assert_array_equal(got_labels, labels)
    for c in range(3):  # Grey copied into R, G and B.
      np.testing.assert_array_equal(got[:, 2:30, 2:30, c], digits)
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert not got[:, border].any()  # Two black pixels on every side.
  with open(os.path.join(written['dir'], 'batches.meta.txt')) as f:
    assert f.read().split() == [str(d) for d in range(10)]


def test_mnist_raw_files_and_errors(tmp_path):
  gz_dir, raw_dir = str(tmp_path / 'gz'), str(tmp_path / 'raw')
  made = testdata.make_mnist_dir(gz_dir, n_train=10, n_test=6)
  os.makedirs(raw_dir)
  (train_x, train_y), (test_x, test_y) = made['train'], made['test']
  testdata.write_idx_images(os.path.join(raw_dir, 'train-images-idx3-ubyte'),
                            train_x, gz=False)
  testdata.write_idx_labels(os.path.join(raw_dir, 'train-labels-idx1-ubyte'),
                            train_y, gz=False)
  testdata.write_idx_images(os.path.join(raw_dir, 't10k-images-idx3-ubyte'),
                            test_x, gz=False)
  (train, test), classes = mk.load_mnist(gz_dir)
  with pytest.raises(ValueError, match='MNIST file t10k-labels-idx1-ubyte'
                     r'\(\.gz\) not found in ' + raw_dir):
    mk.load_mnist(raw_dir)
  testdata.write_idx_labels(os.path.join(raw_dir, 't10k-labels-idx1-ubyte'),
                            test_y[:5], gz=False)
  with pytest.raises(ValueError, match='holds 6 images but .*t10k-labels'
                     '-idx1-ubyte holds 5 labels'):
    mk.load_mnist(raw_dir)
  testdata.write_idx_labels(os.path.join(raw_dir, 't10k-labels-idx1-ubyte'),
                            test_y, gz=False)
  (raw_train, raw_test), _ = mk.load_mnist(raw_dir)
  for a, b in zip(train + test, raw_train + raw_test, strict=True):
    np.testing.assert_array_equal(a, b)
  assert classes == [str(d) for d in range(10)]
  path = os.path.join(gz_dir, 'train-images-idx3-ubyte.gz')
  testdata.write_idx_images(path, train_x, magic=1234)
  with pytest.raises(ValueError, match='Invalid magic number 1234 .*' + path):
    mk.load_mnist(gz_dir)


def test_write_records_layout_and_checks(tmp_path):
  image = np.zeros((1, 32, 32, 3), np.uint8)
  image[0, 0, 1] = [1, 2, 3]  # Row 0, column 1.
  path = str(tmp_path / 'one.bin')
  mk.write_records(path, image, [7])
  with open(path, 'rb') as f:
    record = f.read()
  assert len(record) == 3073 and record[0] == 7
  assert record[1 + 1] == 1 and record[1 + 1024 + 1] == 2
  assert record[1 + 2048 + 1] == 3 and sum(record) == 7 + 6
  with pytest.raises(ValueError, match='uint8 \\[n, 32, 32, 3\\]'):
    mk.write_records(path, image.astype(np.float32), [7])
  with pytest.raises(ValueError, match='labels must be in 0..9'):
    mk.write_records(path, image, [10])
  with pytest.raises(ValueError, match='2 labels for 1 images'):
    mk.write_records(path, image, [1, 2])


def test_tarball_md5_and_download_path(tmp_path):
  mnist_dir, out = str(tmp_path / 'mnist'), str(tmp_path / 'out')
  testdata.make_mnist_dir(mnist_dir, n_train=20, n_test=5)
  written = mk.main(['--mnist_dir', mnist_dir, '--output_dir', out])
  assert sorted(os.listdir(out)) == [
      'cifar-10-batches-bin', 'cifar-10-binary.tar.gz',
      'cifar-10-binary.tar.gz.md5']
  md5 = _md5(written['tarball'])
  assert written['md5'] == md5
  with open(written['md5_file']) as f:
    assert f.read() == '%s  cifar-10-binary.tar.gz\n' % md5
  names = sorted(BIN_FILES + ['batches.meta.txt'])
  with tarfile.open(written['tarball'], 'r:gz') as tar:
    members = tar.getmembers()
    assert [m.name for m in members] == ['cifar-10-batches-bin'] + [
        'cifar-10-batches-bin/' + n for n in names]
    for m in members[1:]:
      with open(os.path.join(written['dir'], os.path.basename(m.name)),
                'rb') as f:
        assert tar.extractfile(m).read() == f.read()
  # With only the tarball, the downloader's path verifies and extracts it.
  data_dir = str(tmp_path / 'elsewhere')
  os.makedirs(data_dir)
  os.rename(written['tarball'], os.path.join(data_dir,
                                             'cifar-10-binary.tar.gz'))
  dest = cifar10_download.maybe_download_and_extract(
      data_dir, testdata.closed_port_url('/cifar-10-binary.tar.gz'), md5)
  for n in names:
    assert _md5(os.path.join(dest, n)) == _md5(
        os.path.join(written['dir'], n))


def test_existing_output_and_interrupted_runs(tmp_path, monkeypatch):
  mnist_dir, out = str(tmp_path / 'mnist'), str(tmp_path / 'out')
  testdata.make_mnist_dir(mnist_dir, n_train=20, n_test=5)
  first = mk.main(['--mnist_dir', mnist_dir, '--output_dir', out])
  before = {n: _md5(os.path.join(first['dir'], n)) for n in BIN_FILES}
  with pytest.raises(ValueError, match='already holds a data set .*pass '
                     '--overwrite'):
    mk.main(['--mnist_dir', mnist_dir, '--output_dir', out])

  def interrupted(path, folder):
    del path, folder
    raise KeyboardInterrupt

  monkeypatch.setattr(mk, '_write_tarball', interrupted)
  testdata.make_mnist_dir(mnist_dir, n_train=20, n_test=5, seed=1)
  with pytest.raises(KeyboardInterrupt):
    mk.main(['--mnist_dir', mnist_dir, '--output_dir', out, '--overwrite'])
  # The old data set is untouched and no temporary folder is left.
  assert sorted(os.listdir(out)) == [
      'cifar-10-batches-bin', 'cifar-10-binary.tar.gz',
      'cifar-10-binary.tar.gz.md5']
  assert before == {n: _md5(os.path.join(first['dir'], n))
                    for n in BIN_FILES}
  fresh = str(tmp_path / 'fresh')
  with pytest.raises(KeyboardInterrupt):
    mk.main(['--mnist_dir', mnist_dir, '--output_dir', fresh])
  assert os.listdir(fresh) == []
  monkeypatch.undo()
  mk.main(['--mnist_dir', mnist_dir, '--output_dir', out, '--overwrite'])
  assert before != {n: _md5(os.path.join(first['dir'], n))
                    for n in BIN_FILES}
  assert len(os.listdir(out)) == 3


def test_output_reads_back_through_cifar10_input(tmp_path):
  image_dir, out = str(tmp_path / 'images'), str(tmp_path / 'out')
  _image_dir(image_dir, ['a', 'b', 'c'], 5)
  written = mk.main(['--image_dir', image_dir, '--output_dir', out])
  data = _read_all(written['dir'])
  paths = [os.path.join(written['dir'], n) for n in BIN_FILES]
  assert cifar10_input.check_files(paths) == 15
  test_labels, test_images = data['test_batch.bin']
  assert len(test_labels) == 3  # round(15 * 0.2)
  with tf.Graph().as_default():
    images, labels = cifar10_input.inputs(
        eval_data=True, data_dir=written['dir'], batch_size=8,
        pipeline='dataset', num_epochs=1)  # No queue runners to start.
    with tf.compat.v1.Session() as sess:
      got_images, got_labels = sess.run([images, labels])
  np.testing.assert_array_equal(got_labels, test_labels)
  # Centre crop to 24x24 and per-image standardization, in numpy.
  crop = test_images[:, 4:28, 4:28].astype(np.float64)
  mean = crop.mean(axis=(1, 2, 3), keepdims=True)
  std = np.maximum(crop.std(axis=(1, 2, 3), keepdims=True),
                   1.0 / np.sqrt(24 * 24 * 3))
  np.testing.assert_allclose(got_images, (crop - mean) / std, atol=1e-4)


def test_summary_lines(tmp_path, capsys):
  mnist_dir, out = str(tmp_path / 'mnist'), str(tmp_path / 'out')
  made = testdata.make_mnist_dir(mnist_dir, n_train=50, n_test=7)
  written = mk.main(['--mnist_dir', mnist_dir, '--output_dir', out])
  lines = capsys.readouterr().out.splitlines()
  train_counts = np.bincount(made['train'][1], minlength=10)
  test_counts = np.bincount(made['test'][1], minlength=10)
  table = ['Wrote 50 training and 7 test images of 10 classes:',
           '      class   train    test']
  table += ['  %-3d %-5s %7d %7d' % (d, d, train_counts[d], test_counts[d])
            for d in range(10)]
  table += ['      total      50       7']
  start = lines.index(table[0])
  assert lines[start:start + 13] == table
  assert lines[start + 13:] == [
      'Data set: %s' % written['dir'],
      '  data_batch_1..5.bin: 10, 10, 10, 10, 10 images; test_batch.bin: 7; '
      'batches.meta.txt',
      'Tarball:  %s' % written['tarball'],
      'md5:      %s (in %s)' % (written['md5'], written['md5_file']),
      'Next:',
      '  cifar10_train --data_dir %s' % out,
      '  cifar10_eval --data_dir %s --run_once' % out,
      'With only the tarball there (or copied to another machine):',
      '  cifar10_train --data_dir %s --data_md5 %s' % (out, written['md5'])]


@pytest.mark.parametrize('how', ['root', 'inside', 'module'])
def test_script_runs_three_ways(tmp_path, how):
  mnist_dir, out = str(tmp_path / 'mnist'), str(tmp_path / 'out')
  testdata.make_mnist_dir(mnist_dir, n_train=10, n_test=3)
  flags = ['--mnist_dir', mnist_dir, '--output_dir', out]
  args, cwd = {
      'root': ([SCRIPT], None),
      'inside': (['make_cifar10_dataset.py'], 'cifar10'),
      'module': (['-m', 'cifar10.make_cifar10_dataset'], None),
  }[how]
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  proc = run_program(args + flags, cwd=os.path.join(repo, cwd or ''))
  assert 'Wrote 10 training and 3 test images of 10 classes:' in proc.stdout
  assert cifar10_input.check_files(
      [os.path.join(out, 'cifar-10-batches-bin', n) for n in BIN_FILES]) == 13


def test_script_bad_image_is_a_one_line_error(tmp_path):
  image_dir, out = str(tmp_path / 'images'), str(tmp_path / 'out')
  _image_dir(image_dir, ['a', 'b'], 4)
  bad = os.path.join(image_dir, 'b', 'broken.png')
  _write(bad, b'\x89PNG\r\n\x1a\n broken')
  proc = run_program([SCRIPT, '--image_dir', image_dir, '--output_dir', out],
                     check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1].startswith(
      'make_cifar10_dataset: error: Cannot decode image %s: ' % bad)
  assert 'Traceback' not in proc.stderr and not os.path.exists(out)


@pytest.mark.parametrize('flags, message', [
    (['--image_dir', 'x', '--output_dir', 'y', '--image_dri', 'z'],
     'unrecognized arguments: --image_dri (did you mean --image_dir?) z'),
    (['--image_dir', 'x'], 'the following arguments are required: '
     '--output_dir'),
    (['--image_dir', 'x', '--mnist_dir', 'y', '--output_dir', 'z'],
     'not allowed with argument'),
    (['--mnist_dir', 'x', '--output_dir', 'y', '--test_fraction', '0.1'],
     '--test_fraction and --seed apply to --image_dir only'),
])
def test_bad_flags(flags, message, capsys):
  with pytest.raises(SystemExit) as e:
    mk.main(flags)
  assert e.value.code == 2
  assert message in capsys.readouterr().err


def test_bad_flags_subprocess(tmp_path):
  proc = run_program([SCRIPT, '--mnist_dir', str(tmp_path), '--output_dir',
                      str(tmp_path / 'o'), '--seeds', '1'], check=False)
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines()[-1] == (
      'make_cifar10_dataset: error: unrecognized arguments: --seeds (did you '
      'mean --seed?) 1')
  proc = run_program([SCRIPT, '--mnist_dir', str(tmp_path / 'none'),
                      '--output_dir', str(tmp_path / 'o')], check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip() == (
      'make_cifar10_dataset: error: MNIST file train-images-idx3-ubyte(.gz) '
      'not found in %s' % (tmp_path / 'none'))
