"""mnist.fully_connected_feed: the library functions and the program."""

import glob
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import testdata
from conftest import REPO, program_env, run_program
from mnist import fully_connected_feed as fcf
from mnist import input_data
from mnist import mnist

tf1 = tf.compat.v1

STEP = re.compile(r'^Step (\d+): loss = (\d+\.\d\d) \(\d+\.\d\d\d sec\)$')
EVAL = re.compile(r'^  Num examples: (\d+)  Num correct: (\d+)  '
                  r'Precision @ 1: (\d\.\d\d\d\d)$')
TITLES = ['Training Data Eval:', 'Validation Data Eval:', 'Test Data Eval:']


def _offline_env():
  # Any download a run attempts goes to a closed port on this machine, so no
  # test can reach the internet even if a file is unexpectedly missing.
  proxy = testdata.closed_port_url('')
  return {'https_proxy': proxy, 'http_proxy': proxy, 'HTTPS_PROXY': proxy,
          'HTTP_PROXY': proxy, 'no_proxy': '', 'NO_PROXY': ''}


def _run(args, cwd=REPO, check=True):
  return run_program(args, cwd=cwd, env=_offline_env(), check=check,
                     timeout=300)


def _parse(stdout):
  """Step lines [(step, loss)] and eval blocks [(title, n, correct, p)]."""
  lines = stdout.splitlines()
  steps = [(int(m.group(1)), float(m.group(2)))
           for m in map(STEP.match, lines) if m]
  evals = []
  for i, line in enumerate(lines):
    if line in TITLES:
      m = EVAL.match(lines[i + 1])
      assert m, 'no eval line after %r: %r' % (line, lines[i + 1])
      evals.append((line, int(m.group(1)), int(m.group(2)),
                    float(m.group(3))))
  return steps, evals


def _events(log_dir):
  """{step: loss} of the loss summaries, and whether a graph was written."""
  losses, graph = {}, False
  for path in glob.glob(os.path.join(log_dir, 'events.out.tfevents.*')):
    for event in tf1.train.summary_iterator(path):
      graph = graph or bool(event.graph_def)
      for value in event.summary.value:
        if value.tag == 'loss':
          losses[event.step] = value.simple_value
  return losses, graph


@pytest.fixture(scope='module')
def mnist_dir(tmp_path_factory):
  """Synthetic MNIST files: 600 training examples after 5,000 validation."""
  root = str(tmp_path_factory.mktemp('mnist'))
  testdata.make_mnist_dir(root, n_train=5600, n_test=250)
  return root


# --- Library functions -------------------------------------------------------

def test_placeholder_inputs():
  with tf.Graph().as_default():
    images, labels = fcf.placeholder_inputs()
    assert images.shape.as_list() == [None, 784] and images.dtype == tf.float32
    assert labels.shape.as_list() == [None] and labels.dtype == tf.int32
    images, labels = fcf.placeholder_inputs(100)
    assert images.shape.as_list() == [100, 784]


def test_fill_feed_dict_takes_the_next_batch():
  images = np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1)
  data_set = input_data.DataSet(images, np.arange(20) % 10, dtype=np.uint8,
                                seed=0)
  twin = input_data.DataSet(images, np.arange(20) % 10, dtype=np.uint8,
                            seed=0)
  feed = fcf.fill_feed_dict(data_set, 'images', 'labels', 7)
  expected_images, expected_labels = twin.next_batch(7)
  np.testing.assert_array_equal(feed['images'], expected_images)
  np.testing.assert_array_equal(feed['labels'], expected_labels)
  feed = fcf.fill_feed_dict(data_set, 'images', 'labels', 3, fake_data=True)
  np.testing.assert_array_equal(feed['labels'], [0, 0, 0])


def _eval_graph():
  """A 'model' whose prediction is the argmax of the first 10 pixels."""
  images, labels = fcf.placeholder_inputs()
  return images, labels, mnist.evaluation(images[:, :10], labels)


@pytest.mark.parametrize('batch_size', [10, 7, 23, 1000])
def test_do_eval_counts_every_example(batch_size, capsys):
  rng = np.random.RandomState(0)
  n = 23
  predicted = rng.randint(0, 10, size=n)
  labels = np.where(rng.uniform(size=n) < 0.6, predicted, (predicted + 1) % 10)
  images = np.zeros((n, 28, 28, 1), np.uint8)
  images[np.arange(n), 0, predicted, 0] = 255
  data_set = input_data.DataSet(images, labels.astype(np.uint8))
  with tf.Graph().as_default():
    images_pl, labels_pl, correct = _eval_graph()
    with tf1.Session() as sess:
      result = fcf.do_eval(sess, correct, images_pl, labels_pl, data_set,
                           batch_size=batch_size)
  true_count = int((predicted == labels).sum())
  assert result == (n, true_count, true_count / n)
  assert capsys.readouterr().out == (
      '  Num examples: 23  Num correct: %d  Precision @ 1: %0.04f\n'
      % (true_count, true_count / n))


def test_do_eval_leaves_training_batch_order_alone():
  images = np.zeros((50, 28, 28, 1), np.uint8)
  images[:, 1, :, 0] = np.arange(50)[:, None]  # Row 1 holds the example id.
  labels = (np.arange(50) % 10).astype(np.uint8)
  evaluated = input_data.DataSet(images, labels, seed=5)
  untouched = input_data.DataSet(images, labels, seed=5)
  with tf.Graph().as_default():
    images_pl, labels_pl, correct = _eval_graph()
    with tf1.Session() as sess:
      for _ in range(4):  # Across two epochs, with evaluations in between.
        fcf.do_eval(sess, correct, images_pl, labels_pl, evaluated, 16)
        np.testing.assert_array_equal(evaluated.next_batch(30)[0],
                                      untouched.next_batch(30)[0])
  assert evaluated.epochs_completed == untouched.epochs_completed == 2


def test_run_training_in_process_learns(mnist_dir, tmp_path, capsys):
  data_sets = input_data.read_data_sets(mnist_dir, validation_size=100)
  results = fcf.run_training(None, str(tmp_path), max_steps=300,
                             learning_rate=0.1, data_sets=data_sets)
  steps, evals = _parse(capsys.readouterr().out)
  assert [s for s, _ in steps] == [0, 100, 200]
  assert [e[1] for e in evals] == [5500, 100, 250]
  assert [results[k] for k in ('train', 'validation', 'test')] == [
      e[3] for e in evals]
  assert results['test'] >= 0.9  # The synthetic classes are easy.
  assert results['seconds'] > 0 and np.isfinite(results['loss'])


# --- The program -------------------------------------------------------------

def test_program_log_checkpoints_and_events(mnist_dir, tmp_path):
  log_dir = str(tmp_path / 'logs')
  proc = _run(['-m', 'mnist.fully_connected_feed', '--max_steps=1050',
               '--learning_rate=0.1', '--input_data_dir', mnist_dir,
               '--log_dir', log_dir])
  lines = proc.stdout.splitlines()
  steps, evals = _parse(proc.stdout)
  assert [s for s, _ in steps] == list(range(0, 1050, 100))
  # Evaluations after steps 1000 and 1050, on the three splits, in order.
  assert [e[:2] for e in evals] == [
      ('Training Data Eval:', 600), ('Validation Data Eval:', 5000),
      ('Test Data Eval:', 250)] * 2
  assert evals[-1][3] >= 0.9
  for _, n, correct, precision in evals:
    assert precision == round(correct / n, 4)
  # The first evaluation follows step 900's line, the second the last.
  first_eval = lines.index('Training Data Eval:')
  assert lines[first_eval - 1].startswith('Step 900:')
  assert lines[first_eval + 6].startswith('Step 1000:')
  assert lines[-1].startswith('Trained 1050 steps in ')
  assert lines[:4] == ['Extracting %s' % os.path.join(mnist_dir, n)
                       for n in testdata.MNIST_FILES]
  # No deprecation chatter from TensorFlow's Python side.
  assert 'deprecat' not in proc.stderr.lower(), proc.stderr
  assert 'WARNING:tensorflow' not in proc.stderr, proc.stderr

  # Checkpoints model.ckpt-1000 and -1050, the latest one registered.
  for step in (1000, 1050):
    for suffix in ('.index', '.meta', '.data-00000-of-00001'):
      assert os.path.exists(os.path.join(log_dir,
                                         'model.ckpt-%d%s' % (step, suffix)))
  assert tf.train.latest_checkpoint(log_dir) == os.path.join(
      log_dir, 'model.ckpt-1050')
  reader = tf.train.load_checkpoint(os.path.join(log_dir, 'model.ckpt-1050'))
  shapes = reader.get_variable_to_shape_map()
  assert shapes['hidden1/weights'] == [784, 128]
  assert shapes['softmax_linear/biases'] == [10]
  assert reader.get_tensor('global_step') == 1050

  # The loss summaries are the printed losses, with the graph alongside.
  losses, graph = _events(log_dir)
  assert graph
  assert sorted(losses) == [s for s, _ in steps]
  for step, loss in steps:
    assert round(losses[step], 2) == pytest.approx(loss, abs=0.006)


def test_fake_data_and_fresh_log_dir(tmp_path, capsys):
  # In-process through run(), the program's own entry point.
  log_dir = str(tmp_path / 'logs')
  argv = ['--fake_data', '--max_steps=20', '--log_dir', log_dir,
          '--batch_size', '7']
  fcf.main(argv)
  first = capsys.readouterr().out
  steps, evals = _parse(first)
  assert [s for s, _ in steps] == [0]
  assert [e[1] for e in evals] == [10000] * 3
  assert os.path.exists(os.path.join(log_dir, 'model.ckpt-20.index'))
  assert 'Removing' not in first
  fcf.main(argv)
  second = capsys.readouterr().out
  assert second.splitlines()[0] == ('Removing the previous run in %s'
                                    % log_dir)
  assert len(glob.glob(os.path.join(log_dir, 'events.out.*'))) == 1


def _console_script():
  return os.path.join(os.path.dirname(sys.executable), 'fully_connected_feed')


@pytest.mark.parametrize('way', ['inside_folder', 'path', 'module',
                                 'console_script'])
def test_four_ways_to_start(way, tmp_path):
  flags = ['--fake_data', '--max_steps=2', '--log_dir', str(tmp_path / 'l')]
  if way == 'inside_folder':
    # mnist/mnist.py is first on sys.path here and must not shadow the
    # package.
    proc = _run(['fully_connected_feed.py'] + flags,
                cwd=os.path.join(REPO, 'mnist'))
  elif way == 'path':
    proc = _run(['mnist/fully_connected_feed.py'] + flags)
  elif way == 'module':
    proc = _run(['-m', 'mnist.fully_connected_feed'] + flags)
  else:
    proc = subprocess.run([_console_script()] + flags, cwd=str(tmp_path),
                          env=program_env(**_offline_env()),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
  assert _parse(proc.stdout)[1][-1][:2] == ('Test Data Eval:', 10000)
  assert os.path.exists(str(tmp_path / 'l' / 'model.ckpt-2.index'))


def test_misspelled_flag_is_an_error_with_a_suggestion():
  proc = _run(['-m', 'mnist.fully_connected_feed', '--max_step=10',
               '--fake_data'], check=False)
  assert proc.returncode == 2
  assert ('error: unrecognized arguments: --max_step=10 '
          '(did you mean --max_steps?)') in proc.stderr
  assert proc.stdout == ''


@pytest.mark.parametrize('flag, message', [
    ('--batch_size=0', 'argument --batch_size: must be at least 1, not 0'),
    ('--max_steps=-1', 'argument --max_steps: must be at least 0, not -1'),
    ('--hidden1=x', "argument --hidden1: invalid int value: 'x'"),
    ('--max', 'unrecognized arguments: --max'),  # No abbreviations.
])
def test_bad_flag_values(flag, message, capsys):
  with pytest.raises(SystemExit) as e:
    fcf.main([flag, '--fake_data'])
  assert e.value.code == 2
  assert message in capsys.readouterr().err


def test_divergence_is_a_clear_error(mnist_dir, tmp_path, capsys):
  with pytest.raises(SystemExit) as e:
    fcf.main(['--input_data_dir', mnist_dir, '--learning_rate=1e6',
             '--max_steps=50', '--log_dir', str(tmp_path)])
  assert re.match(r'^fully_connected_feed: error: the model diverged: '
                  r'loss = (nan|inf) at step \d+; try a smaller '
                  r'--learning_rate \(now 1e\+06\)$', e.value.code)
  capsys.readouterr()


def test_flag_defaults():
  flags = fcf._parser().parse_args([])
  assert (flags.learning_rate, flags.max_steps, flags.hidden1, flags.hidden2,
          flags.batch_size, flags.fake_data) == (0.01, 2000, 128, 32, 100,
                                                 False)
  assert flags.input_data_dir.endswith('tensorflow/mnist/input_data')
  assert flags.log_dir.endswith('tensorflow/mnist/logs/fully_connected_feed')


def _one_line_error(proc):
  assert proc.returncode == 1, proc.stdout + proc.stderr
  assert 'Traceback' not in proc.stderr
  errors = [line for line in proc.stderr.splitlines()
            if line.startswith('fully_connected_feed: error: ')]
  assert len(errors) == 1, proc.stderr
  return errors[0]


def test_missing_data_is_a_one_line_error(tmp_path):
  data_dir = str(tmp_path / 'data')
  proc = _run(['-m', 'mnist.fully_connected_feed', '--input_data_dir',
               data_dir, '--log_dir', str(tmp_path / 'l')], check=False)
  error = _one_line_error(proc)
  assert 'Could not download train-images-idx3-ubyte.gz into %s' % data_dir \
      in error
  for name in testdata.MNIST_FILES:
    assert name in error
  assert 'storage.googleapis.com' in error and '--input_data_dir' in error
  assert os.listdir(data_dir) == []


def test_corrupt_data_is_a_one_line_error(mnist_dir, tmp_path):
  data_dir = tmp_path / 'data'
  data_dir.mkdir()
  for name in testdata.MNIST_FILES:
    (data_dir / name).write_bytes(open(os.path.join(mnist_dir, name),
                                       'rb').read())
  path = data_dir / 't10k-images-idx3-ubyte.gz'
  broken = path.read_bytes()[:-100]
  path.write_bytes(broken)
  proc = _run(['mnist/fully_connected_feed.py', '--input_data_dir',
               str(data_dir), '--log_dir', str(tmp_path / 'l')], check=False)
  error = _one_line_error(proc)
  assert 'Corrupt gzip data in MNIST image file %s' % path in error
  assert 'could not be fetched' in error
  assert path.read_bytes() == broken  # Kept, since no fresh copy came.


def test_unwritable_log_dir_is_a_one_line_error(tmp_path):
  blocker = tmp_path / 'file'
  blocker.write_text('x')
  proc = _run(['-m', 'mnist.fully_connected_feed', '--fake_data',
               '--log_dir', str(blocker / 'logs')], check=False)
  assert str(blocker / 'logs') in _one_line_error(proc)


def test_foreign_log_dir_is_not_emptied(tmp_path):
  (tmp_path / 'notes.txt').write_text('precious')
  with pytest.raises(SystemExit) as e:
    fcf.main(['--fake_data', '--log_dir', str(tmp_path)])
  assert str(e.value.code) == (
      'fully_connected_feed: error: refusing to empty --log_dir %s: it '
      'holds notes.txt, which this program did not write; choose a new or '
      'empty folder' % tmp_path)
  assert (tmp_path / 'notes.txt').read_text() == 'precious'


def test_real_mnist_defaults_reach_0_89(shared_data, tmp_path):
  proc = _run(['-m', 'mnist.fully_connected_feed', '--input_data_dir',
               os.path.join(shared_data, 'mnist'),
               '--log_dir', str(tmp_path / 'logs')])
  steps, evals = _parse(proc.stdout)
  assert [s for s, _ in steps] == list(range(0, 2000, 100))
  assert [e[1] for e in evals] == [55000, 5000, 10000] * 2
  assert evals[-1][0] == 'Test Data Eval:' and evals[-1][3] >= 0.89
