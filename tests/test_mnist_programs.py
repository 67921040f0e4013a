"""Tests of mnist_softmax, mnist_softmax_xla, mnist_with_summaries and
mnist_deep: their library functions in this process (numerics against
NumPy, shapes, names, parameter counts) and the programs as subprocesses on
tiny synthetic MNIST files (exact output lines, trace, summaries,
checkpoints, bad flags, bad data)."""

import functools
import json
import os
import re
import sys
import types

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, run_program, skip_unless_required

import testdata
from mnist import input_data, mnist_deep, mnist_softmax, mnist_softmax_xla
from mnist import mnist_with_summaries

tf1 = tf.compat.v1

PROGRAMS = ('mnist_softmax', 'mnist_softmax_xla', 'mnist_with_summaries',
            'mnist_deep')
MODULES = {'mnist_softmax': mnist_softmax,
           'mnist_softmax_xla': mnist_softmax_xla,
           'mnist_with_summaries': mnist_with_summaries,
           'mnist_deep': mnist_deep}
N_TEST = 103  # Not a multiple of any batch size used below.
ACCURACY = r'(0|1|0\.\d+)'  # How %g prints a fraction.


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  """The four MNIST files: 600 training images after the 5000 validation."""
  root = str(tmp_path_factory.mktemp('mnist_data'))
  testdata.make_mnist_dir(root, n_train=5600, n_test=N_TEST)
  return root


@pytest.fixture(scope='module')
def data_sets(data_dir):
  return input_data.read_data_sets(data_dir)


def extracting_lines(data_dir):
  return ['Extracting %s' % os.path.join(data_dir, name)
          for name in testdata.MNIST_FILES]


def numpy_accuracy(images, labels, weights, biases):
  return float(np.mean(np.argmax(images @ weights + biases, 1) == labels))


def offline_run(program, args, cwd=REPO):
  """Runs a program whose downloads go to a closed local port, not the web."""
  code = ('import functools, sys\n'
          'from mnist import input_data\n'
          'input_data.read_data_sets = functools.partial(\n'
          '    input_data.read_data_sets, source_url=%r)\n'
          'from mnist import %s as program\n'
          'program.main(sys.argv[1:])\n'
          % (testdata.closed_port_url('/'), program))
  return run_program(['-c', code] + list(args), cwd=cwd, check=False)


def assert_one_line_error(proc, program, *words):
  assert proc.returncode == 1, proc.stderr
  assert 'Traceback' not in proc.stderr
  errors = [line for line in proc.stderr.splitlines()
            if line.startswith(program + ': error: ')]
  assert len(errors) == 1, proc.stderr
  for word in words:
    assert word in errors[0]


# mnist_softmax ---------------------------------------------------------------


def test_softmax_accuracy_is_that_of_the_returned_weights(data_sets):
  accuracy, weights, biases = mnist_softmax.train(data_sets, max_steps=30)
  assert weights.shape == (784, 10) and biases.shape == (10,)
  test = data_sets.test
  assert accuracy == pytest.approx(
      numpy_accuracy(test.images, test.labels, weights, biases), abs=1e-6)
  # The synthetic digits are a bar whose height is the label: learnable.
  assert accuracy > 0.9


def test_softmax_one_step_is_gradient_descent_on_cross_entropy():
  rng = np.random.RandomState(3)
  xs = rng.uniform(size=(8, 784)).astype(np.float32)
  ys = rng.randint(0, 10, size=8)
  fixed = types.SimpleNamespace(
      train=types.SimpleNamespace(next_batch=lambda n: (xs[:n], ys[:n])),
      test=types.SimpleNamespace(images=xs, labels=ys))
  _, weights, biases = mnist_softmax.train(fixed, max_steps=1, batch_size=8,
                                           learning_rate=0.5)
  # From zeros the softmax is uniform: d(mean loss)/d logits = (0.1 - y)/n.
  d_logits = (np.full((8, 10), 0.1) - np.eye(10)[ys]) / 8
  np.testing.assert_allclose(weights, -0.5 * xs.T @ d_logits, atol=1e-6)
  np.testing.assert_allclose(biases, -0.5 * d_logits.sum(0), atol=1e-6)


def softmax_lines(data_dir, stdout):
  lines = stdout.splitlines()
  assert lines[:4] == extracting_lines(data_dir)
  assert len(lines) == 5 and re.fullmatch(ACCURACY, lines[4]), stdout
  return float(lines[4])


@pytest.mark.parametrize('way', ['in_folder', 'path', 'module', 'script'])
def test_softmax_starts_all_four_ways(way, data_dir):
  args = ['--data_dir', data_dir, '--max_steps', '30']
  cwd = REPO
  if way == 'in_folder':
    # mnist/mnist.py sits next to the program and must not shadow the
    # mnist package.
    command, cwd = ['mnist_softmax.py'], os.path.join(REPO, 'mnist')
  elif way == 'path':
    command = [os.path.join('mnist', 'mnist_softmax.py')]
  elif way == 'module':
    command = ['-m', 'mnist.mnist_softmax']
  else:
    script = os.path.join(os.path.dirname(sys.executable), 'mnist_softmax')
    if not os.path.exists(script):
      skip_unless_required('console script not installed (pip install -e .)')
    command = [script]
  proc = run_program(command + args, cwd=cwd)
  assert softmax_lines(data_dir, proc.stdout) > 0.9


# mnist_softmax_xla -----------------------------------------------------------


@pytest.mark.parametrize('argv, xla', [
    ([], True), (['--xla'], True), (['--xla=true'], True),
    (['--xla=false'], False), (['--xla', '0'], False), (['--noxla'], False),
    (['--noxla', '--xla'], True)])
def test_xla_flag_forms(argv, xla):
  flags = mnist_softmax_xla.parse_flags(mnist_softmax_xla._parser(), argv)
  assert flags.xla is xla
  assert flags.log_dir == '/tmp/tensorflow/mnist/logs/mnist_softmax_xla'


def test_xla_flag_rejects_non_boolean(capsys):
  with pytest.raises(SystemExit) as exit_info:
    mnist_softmax_xla.main(['--xla=maybe'])
  assert exit_info.value.code == 2
  assert "invalid boolean value: 'maybe'" in capsys.readouterr().err


def read_trace(path):
  with open(path) as f:
    events = json.load(f)['traceEvents']
  ops = [e['args']['op'] for e in events if 'op' in e.get('args', {})]
  return events, ops


def test_xla_program_traces_the_last_step_with_jit(data_dir, tmp_path):
  log_dir = str(tmp_path / 'xla')
  proc = run_program(['-m', 'mnist.mnist_softmax_xla', '--data_dir',
                      data_dir, '--log_dir', log_dir, '--max_steps', '20'])
  lines = proc.stdout.splitlines()
  trace = os.path.join(log_dir, 'timeline.ctf.json')
  assert lines[:4] == extracting_lines(data_dir)
  assert lines[4] == 'XLA JIT: on (global_jit_level ON_1)'
  assert re.fullmatch(ACCURACY, lines[5]) and float(lines[5]) > 0.5
  assert lines[6] == 'Wrote a Chrome trace of the last step to %s' % trace
  events, ops = read_trace(trace)
  assert events and ops
  clusters = ops.count('_XlaRun')
  # XLA is part of the TensorFlow wheels; the CPU JIT must really cluster.
  assert clusters >= 1
  assert lines[7:] == [
      'XLA ran %d compiled cluster(s) in the traced step.' % clusters]


def test_xla_program_without_jit_traces_plain_ops(data_dir, tmp_path):
  log_dir = str(tmp_path / 'noxla')
  proc = run_program(['mnist/mnist_softmax_xla.py', '--noxla', '--data_dir',
                      data_dir, '--log_dir', log_dir, '--max_steps', '20'])
  trace = os.path.join(log_dir, 'timeline.ctf.json')
  lines = proc.stdout.splitlines()
  assert lines[4] == 'XLA JIT: off'
  assert re.fullmatch(ACCURACY, lines[5])
  assert lines[6:] == ['Wrote a Chrome trace of the last step to %s' % trace]
  _, ops = read_trace(trace)
  assert '_XlaRun' not in ops
  # The training step itself: the gradient descent update of W and b.
  assert ops.count('ResourceApplyGradientDescent') == 2


# mnist_with_summaries --------------------------------------------------------


def summary_values(summary_bytes):
  summary = tf1.Summary.FromString(summary_bytes)
  return {v.tag: v.simple_value for v in summary.value
          if v.WhichOneof('value') == 'simple_value'}


def test_variable_summaries_match_numpy():
  values = np.array([[1.0, -2.0, 3.5], [0.25, 8.0, -4.0]], np.float32)
  with tf.Graph().as_default():
    with tf.name_scope('layer'):
      var = tf.Variable(values, name='weights')
      mnist_with_summaries.variable_summaries(var)
    merged = tf1.summary.merge_all()
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      got = summary_values(sess.run(merged))
  assert got == pytest.approx({
      'layer/summaries/mean': values.mean(),
      'layer/summaries/stddev': values.std(),
      'layer/summaries/max': 8.0,
      'layer/summaries/min': -4.0})


def test_prepare_log_dir_replaces_only_train_and_test(tmp_path, capsys):
  log_dir = str(tmp_path)
  for sub in ('train', 'test'):
    os.makedirs(os.path.join(log_dir, sub))
    open(os.path.join(log_dir, sub, 'events.old'), 'w').close()
  open(os.path.join(log_dir, 'notes.txt'), 'w').close()
  folders = mnist_with_summaries.prepare_log_dir(log_dir)
  assert folders == (os.path.join(log_dir, 'train'),
                     os.path.join(log_dir, 'test'))
  assert all(os.listdir(f) == [] for f in folders)
  assert os.path.exists(os.path.join(log_dir, 'notes.txt'))
  assert capsys.readouterr().out == (
      'Removing the summaries of the previous run: %s and %s\n' % folders)
  mnist_with_summaries.prepare_log_dir(log_dir)  # Again, now empty.


def load_events(folder):
  from tensorboard.backend.event_processing import event_accumulator
  accumulator = event_accumulator.EventAccumulator(
      folder, size_guidance={'scalars': 0, 'histograms': 0, 'images': 0})
  accumulator.Reload()
  return accumulator


def test_with_summaries_program_writes_train_and_test_logs(data_dir,
                                                           tmp_path):
  log_dir = str(tmp_path / 'logs')
  proc = run_program(['-m', 'mnist.mnist_with_summaries', '--data_dir',
                      data_dir, '--log_dir', log_dir, '--max_steps', '100'])
  lines = proc.stdout.splitlines()
  assert lines[:4] == extracting_lines(data_dir)
  printed = []
  for step, line in zip(range(0, 100, 10), lines[4:14], strict=True):
    match = re.fullmatch(r'Accuracy at step %d: (\S+)' % step, line)
    assert match, line
    printed.append(float(match.group(1)))
  assert lines[14:] == [
      'Adding run metadata for 99',
      'Summaries are in %s; view them with: tensorboard --logdir=%s'
      % (log_dir, log_dir)]
  assert printed[-1] > 0.9

  train = load_events(os.path.join(log_dir, 'train'))
  test = load_events(os.path.join(log_dir, 'test'))
  tags = {'accuracy', 'cross_entropy', 'dropout/dropout_keep_probability'}
  for layer in ('layer1', 'layer2'):
    for var in ('weights', 'biases'):
      tags |= {'%s/%s/summaries/%s' % (layer, var, stat)
               for stat in ('mean', 'stddev', 'max', 'min')}
  histograms = {'layer1/activations', 'layer2/activations',
                'layer1/Wx_plus_b/pre_activations',
                'layer1/weights/summaries/histogram',
                'layer2/biases/summaries/histogram'}
  for events in (train, test):
    assert set(events.Tags()['scalars']) == tags
    assert histograms <= set(events.Tags()['histograms'])
    assert 'input_reshape/input/image/0' in events.Tags()['images']
  assert train.Tags()['run_metadata'] == ['step099']
  assert train.Tags()['graph']
  # Test summaries every 10 steps, training summaries on the others.
  test_accuracy = test.Scalars('accuracy')
  assert [e.step for e in test_accuracy] == list(range(0, 100, 10))
  assert [e.value for e in test_accuracy] == pytest.approx(printed)
  assert [e.step for e in train.Scalars('cross_entropy')] == [
      i for i in range(100) if i % 10]
  assert {e.value for e in train.Scalars(
      'dropout/dropout_keep_probability')} == {np.float32(0.9)}
  assert {e.value for e in test.Scalars(
      'dropout/dropout_keep_probability')} == {1.0}


def test_with_summaries_fake_data_and_rerun(tmp_path):
  log_dir = str(tmp_path / 'logs')
  os.makedirs(os.path.join(log_dir, 'train'))
  old = os.path.join(log_dir, 'train', 'events.out.tfevents.old')
  open(old, 'w').close()
  proc = run_program(['mnist/mnist_with_summaries.py', '--fake_data',
                      '--max_steps', '11', '--dropout', '0.5',
                      '--log_dir', log_dir, '--data_dir',
                      str(tmp_path / 'no_data_needed')])
  lines = proc.stdout.splitlines()
  assert lines[0] == ('Removing the summaries of the previous run: %s'
                      % os.path.join(log_dir, 'train'))
  assert re.fullmatch(r'Accuracy at step 0: (0\.\d+|1\.0)', lines[1])
  # Fake images are all ones labelled 0: learnt within ten steps.
  assert lines[2:] == [
      'Accuracy at step 10: 1.0',
      'Summaries are in %s; view them with: tensorboard --logdir=%s'
      % (log_dir, log_dir)]
  assert not os.path.exists(old)
  assert not os.path.exists(str(tmp_path / 'no_data_needed'))


# mnist_deep ------------------------------------------------------------------


def test_deepnn_shapes_names_and_parameter_count():
  with tf.Graph().as_default() as graph:
    x = tf1.placeholder(tf.float32, [None, 784], name='x')
    logits, keep_prob = mnist_deep.deepnn(x)
    assert logits.shape.as_list() == [None, 10]
    assert logits.name == 'logits:0' and keep_prob.name == 'keep_prob:0'
    assert keep_prob.shape.as_list() == []
    shapes = {v.name: v.shape.as_list() for v in tf1.trainable_variables()}
    assert graph.get_tensor_by_name('x:0') is x
  assert shapes == {
      'conv1/weights:0': [5, 5, 1, 32], 'conv1/biases:0': [32],
      'conv2/weights:0': [5, 5, 32, 64], 'conv2/biases:0': [64],
      'fc1/weights:0': [3136, 1024], 'fc1/biases:0': [1024],
      'fc2/weights:0': [1024, 10], 'fc2/biases:0': [10]}
  total = sum(int(np.prod(s)) for s in shapes.values())
  assert total == mnist_deep.NUM_PARAMETERS == 3274634


def test_deepnn_dropout_only_when_keep_prob_is_fed():
  images = np.random.RandomState(0).uniform(size=(4, 784)).astype(np.float32)
  with tf.Graph().as_default():
    tf1.set_random_seed(1)
    x = tf1.placeholder(tf.float32, [None, 784], name='x')
    logits, keep_prob = mnist_deep.deepnn(x)
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      first, second = (sess.run(logits, {x: images}) for _ in range(2))
      dropped = sess.run(logits, {x: images, keep_prob: 0.5})
  np.testing.assert_array_equal(first, second)
  assert not np.allclose(first, dropped)


@pytest.fixture(scope='module')
def deep_session():
  """A session with a randomly initialized deepnn and 103 random images."""
  images = np.random.RandomState(5).uniform(
      size=(N_TEST, 784)).astype(np.float32)
  graph = tf.Graph()
  with graph.as_default():
    tf1.set_random_seed(2)
    x = tf1.placeholder(tf.float32, [None, 784], name='x')
    logits, _ = mnist_deep.deepnn(x)
    sess = tf1.Session(graph=graph)
    sess.run(tf1.global_variables_initializer())
  yield sess, logits, x, images
  sess.close()


@pytest.mark.parametrize('batch_size', [1, 7, 50, N_TEST, 1000])
def test_evaluate_in_batches_equals_one_shot(deep_session, batch_size):
  sess, logits, x, images = deep_session
  predictions = np.argmax(sess.run(logits, {x: images}), 1)
  labels = predictions.copy()
  wrong = [0, 6, 7, 49, 50, 99, 102]  # Around the batch edges.
  labels[wrong] = (labels[wrong] + 1) % 10
  accuracy = mnist_deep.evaluate(sess, logits, x, images, labels,
                                 batch_size=batch_size)
  assert accuracy == (N_TEST - len(wrong)) / N_TEST


def test_evaluate_rejects_bad_arguments(deep_session):
  sess, logits, x, images = deep_session
  labels = np.zeros(N_TEST, np.int64)
  for args in [(images, labels, 0), (images, labels[:5], 10),
               (images[:0], labels[:0], 10)]:
    with pytest.raises(ValueError, match='evaluate needs'):
      mnist_deep.evaluate(sess, logits, x, args[0], args[1],
                          batch_size=args[2])


def test_deep_train_checkpoints_every_n_steps_and_at_the_end(data_sets,
                                                            tmp_path,
                                                            capsys):
  accuracy, checkpoint = mnist_deep.train(
      data_sets, str(tmp_path), max_steps=7, batch_size=5,
      checkpoint_every=3, eval_batch_size=10)
  state = tf.train.get_checkpoint_state(str(tmp_path))
  assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == [
      'model.ckpt-3', 'model.ckpt-6', 'model.ckpt-7']
  assert checkpoint == os.path.join(str(tmp_path), 'model.ckpt-7')
  # The accuracy returned is that of the last checkpoint's predictions.
  with tf.Graph().as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 784])
    logits, _ = mnist_deep.deepnn(x)
    with tf.compat.v1.Session() as sess:
      tf.compat.v1.train.Saver().restore(sess, checkpoint)
      predicted = sess.run(logits, {x: data_sets.test.images})
  assert accuracy == pytest.approx(np.mean(
      np.argmax(predicted, 1) == data_sets.test.labels))
  assert re.fullmatch(r'step 0, training accuracy %s\n' % ACCURACY,
                      capsys.readouterr().out)


def test_deep_program_prints_trains_and_saves_a_restorable_model(data_dir,
                                                                 data_sets,
                                                                 tmp_path):
  log_dir = str(tmp_path / 'deep')
  proc = run_program(['mnist/mnist_deep.py', '--data_dir', data_dir,
                      '--log_dir', log_dir, '--max_steps', '101',
                      '--batch_size', '10'])
  lines = proc.stdout.splitlines()
  checkpoint = os.path.join(log_dir, 'model.ckpt-101')
  assert lines[:4] == extracting_lines(data_dir)
  assert re.fullmatch(r'step 0, training accuracy %s' % ACCURACY, lines[4])
  assert re.fullmatch(r'step 100, training accuracy %s' % ACCURACY, lines[5])
  assert re.fullmatch(r'test accuracy %s' % ACCURACY, lines[6])
  assert lines[7:] == ['Model saved in %s' % checkpoint]
  assert tf.train.latest_checkpoint(log_dir) == checkpoint
  test = data_sets.test

  # A later program restores the model by the documented tensor names...
  with tf.Graph().as_default() as graph, tf1.Session() as sess:
    saver = tf1.train.import_meta_graph(checkpoint + '.meta')
    saver.restore(sess, checkpoint)
    logits = graph.get_tensor_by_name('logits:0')
    x = graph.get_tensor_by_name('x:0')
    assert graph.get_tensor_by_name('keep_prob:0').shape.as_list() == []
    from_meta = sess.run(logits, {x: test.images})
    assert tf1.train.global_step(sess, tf1.train.get_global_step()) == 101
  # ... or by rebuilding it with deepnn.
  with tf.Graph().as_default(), tf1.Session() as sess:
    x = tf1.placeholder(tf.float32, [None, 784], name='x')
    logits, _ = mnist_deep.deepnn(x)
    tf1.train.Saver().restore(sess, checkpoint)
    rebuilt = mnist_deep.evaluate(sess, logits, x, test.images, test.labels,
                                  batch_size=10)
    np.testing.assert_allclose(sess.run(logits, {x: test.images}),
                               from_meta, rtol=1e-5, atol=1e-5)
  # The printed test accuracy is that of the saved weights.
  assert lines[6] == 'test accuracy %g' % rebuilt
  assert rebuilt == numpy_accuracy_of_logits(from_meta, test.labels)
  assert rebuilt > 0.5  # 100 small steps already find the bar.


def numpy_accuracy_of_logits(logits, labels):
  return float(np.mean(np.argmax(logits, 1) == labels))


# Flags and errors, all programs ----------------------------------------------


@pytest.mark.parametrize('program', PROGRAMS)
def test_misspelled_flag_is_an_error_with_a_suggestion(program, capsys):
  with pytest.raises(SystemExit) as exit_info:
    MODULES[program].main(['--max_step=5'])
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert '%s: error: unrecognized arguments: --max_step=5 (did you mean ' \
         '--max_steps?)' % program in err


def test_misspelled_flag_in_a_subprocess():
  proc = run_program(['-m', 'mnist.mnist_deep', '--data-dir=/tmp/x'],
                     check=False)
  assert proc.returncode == 2
  assert proc.stderr.splitlines()[-1] == (
      'mnist_deep: error: unrecognized arguments: --data-dir=/tmp/x (did you '
      'mean --data_dir?)')
  assert proc.stdout == ''


def data_without_test_labels(tmp_path):
  data = str(tmp_path / 'data')
  testdata.make_mnist_dir(data, n_train=5010, n_test=5)
  os.remove(os.path.join(data, 't10k-labels-idx1-ubyte.gz'))
  return data


def test_missing_data_file_is_a_one_line_error(tmp_path):
  data = data_without_test_labels(tmp_path)
  proc = offline_run('mnist_softmax', ['--data_dir', data])
  assert_one_line_error(proc, 'mnist_softmax', 't10k-labels-idx1-ubyte.gz',
                        data)


@pytest.mark.parametrize('program', ['mnist_softmax_xla',
                                     'mnist_with_summaries', 'mnist_deep'])
def test_missing_data_file_exits_in_one_line_in_process(program, tmp_path,
                                                        monkeypatch):
  # As the subprocess test above, without paying for a TensorFlow import.
  data = data_without_test_labels(tmp_path)
  monkeypatch.setattr(input_data, 'read_data_sets', functools.partial(
      input_data.read_data_sets, source_url=testdata.closed_port_url('/')))
  with pytest.raises(SystemExit) as exit_info:
    MODULES[program].main(['--data_dir', data,
                          '--log_dir', str(tmp_path / 'logs')])
  message = str(exit_info.value.code)
  assert message.startswith(program + ': error: ') and '\n' not in message
  assert 't10k-labels-idx1-ubyte.gz' in message and data in message


def test_corrupt_data_file_is_a_one_line_error(tmp_path):
  data = str(tmp_path / 'data')
  testdata.make_mnist_dir(data, n_train=5010, n_test=5)
  testdata.write_idx_images(
      os.path.join(data, 't10k-images-idx3-ubyte.gz'),
      np.zeros((5, 28, 28), np.uint8), magic=1234)
  proc = offline_run('mnist_softmax', ['--data_dir', data])
  assert_one_line_error(proc, 'mnist_softmax', 'Invalid magic number 1234',
                        't10k-images-idx3-ubyte.gz')


@pytest.mark.parametrize('program', ['mnist_softmax_xla',
                                     'mnist_with_summaries', 'mnist_deep'])
def test_unwritable_log_dir_is_a_one_line_error(program, tmp_path):
  blocker = tmp_path / 'a_file'
  blocker.write_text('not a folder')
  log_dir = str(blocker / 'logs')
  with pytest.raises(SystemExit) as exit_info:
    MODULES[program].main(['--log_dir', log_dir, '--data_dir',
                          str(tmp_path / 'unused')])
  message = str(exit_info.value.code)
  assert message.startswith(program + ': error: ')
  assert str(blocker) in message and '\n' not in message
  assert not os.path.exists(str(tmp_path / 'unused'))  # Before any data.


def test_zero_steps_is_a_flag_error(capsys):
  with pytest.raises(SystemExit):
    mnist_deep.main(['--max_steps', '0'])
  assert 'argument --max_steps: must be at least 1, not 0' in (
      capsys.readouterr().err)

