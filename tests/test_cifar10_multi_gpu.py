"""cifar10_multi_gpu_train: towers, averaged gradients against NumPy and
against one tower on the whole batch, and the program on logical CPU devices
(log lines, placement, checkpoints read by cifar10_eval, resume, SIGTERM)."""

import glob
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import testdata
from cifar10 import cifar10
from cifar10 import cifar10_multi_gpu_train as multi
from cifar10 import cifar10_session
from cifar10 import cifar10_train
from conftest import program_env
from conftest import REPO
from conftest import run_program

tf1 = tf.compat.v1

PROG = os.path.join('cifar10', 'cifar10_multi_gpu_train.py')
EVAL = os.path.join('cifar10', 'cifar10_eval.py')
LOG_LINE = re.compile(
    r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: step (\d+), loss = (\d+\.\d\d) '
    r'\((\d+\.\d) examples/sec; (\d+\.\d{3}) sec/batch\)$', re.M)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('cifar10_data'))
  testdata.make_cifar10_dir(root, n=40, n_test=30)
  return root


def _variable(name):
  return tf1.get_variable(name, [2, 3], initializer=tf1.zeros_initializer())


def test_tower_devices():
  assert multi.tower_devices(2, 'cpu') == ['/cpu:0', '/cpu:1']
  assert multi.tower_devices(3) == ['/gpu:0', '/gpu:1', '/gpu:2']
  with pytest.raises(ValueError, match='at least 1'):
    multi.tower_devices(0)
  with pytest.raises(ValueError, match='tpu'):
    multi.tower_devices(2, 'tpu')


def test_average_gradients_against_numpy():
  rng = np.random.RandomState(1)
  grads = rng.randn(3, 2, 2, 3).astype(np.float32)  # tower, variable, shape
  with tf.Graph().as_default():
    a, b, c = _variable('a'), _variable('b'), _variable('c')
    towers = [[(tf.constant(grads[t, 0]), a), (tf.constant(grads[t, 1]), b),
               (None, c)] for t in range(3)]
    averaged = multi.average_gradients(towers)
    assert [v for _, v in averaged] == [a, b, c]
    assert averaged[2][0] is None  # No tower has a gradient for c.
    with tf1.Session() as sess:
      got = sess.run([g for g, _ in averaged[:2]])
  np.testing.assert_allclose(got[0], grads[:, 0].mean(axis=0), rtol=1e-6)
  np.testing.assert_allclose(got[1], grads[:, 1].mean(axis=0), rtol=1e-6)


def test_average_gradients_rejects_mismatched_towers():
  with tf.Graph().as_default():
    a, b = _variable('a'), _variable('b')
    g = tf.ones([2, 3])
    with pytest.raises(ValueError, match='different variables'):
      multi.average_gradients([[(g, a), (g, b)], [(g, b), (g, a)]])
    with pytest.raises(ValueError, match='some towers only'):
      multi.average_gradients([[(g, a)], [(None, a)]])
    with pytest.raises(ValueError, match='numbers of variables'):
      multi.average_gradients([[(g, a), (g, b)], [(g, a)]])


def test_two_towers_average_equals_one_tower_on_the_whole_batch():
  rng = np.random.RandomState(0)
  images = rng.randn(8, 24, 24, 3).astype(np.float32)
  labels = rng.randint(0, 10, 8).astype(np.int32)
  with tf.Graph().as_default():
    opt = tf1.train.GradientDescentOptimizer(0.1)
    with tf1.variable_scope(tf1.get_variable_scope()):
      with tf.name_scope('whole') as scope:
        whole_loss = multi.tower_loss(scope, tf.constant(images),
                                      tf.constant(labels), 'cifar10')
        whole_grads = opt.compute_gradients(whole_loss)
      tf1.get_variable_scope().reuse_variables()
      tower_grads, tower_losses = [], []
      for i in range(2):
        half = slice(4 * i, 4 * i + 4)
        with tf.device('/cpu:%d' % i), tf.name_scope('tower_%d' % i) as scope:
          loss = multi.tower_loss(scope, tf.constant(images[half]),
                                  tf.constant(labels[half]), 'cifar10')
          tower_losses.append(loss)
          tower_grads.append(opt.compute_gradients(loss))
    averaged = multi.average_gradients(tower_grads)
    # Shared variables: the towers created none of their own.
    assert len(tf1.trainable_variables()) == 10
    assert [v for _, v in averaged] == [v for _, v in whole_grads]
    config = tf1.ConfigProto(device_count={'CPU': 2})
    with tf1.Session(config=config) as sess:
      sess.run(tf1.global_variables_initializer())
      whole, towers, avg, each = sess.run(
          [whole_loss, tower_losses, [g for g, _ in averaged],
           [g for g, _ in whole_grads]])
  # Cross entropy is a mean over the batch and the weight decay terms are
  # the same in every tower, so the halves average to the whole.
  np.testing.assert_allclose(np.mean(towers), whole, rtol=1e-5)
  assert abs(towers[0] - towers[1]) > 1e-4  # Different halves, really.
  for got, want in zip(avg, each, strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-4,
                               atol=1e-5 * np.abs(want).max())


def _summary_tags(summary_tensors):
  tags = set()
  for t in summary_tensors:
    tag_op = t.op.inputs[0].op
    tags.add(tag_op.get_attr('value').string_val[0].decode())
  return tags


@pytest.mark.parametrize('model', ['cifar10', 'vgg16'])
def test_same_variables_and_summaries_as_cifar10_train(model):
  with tf.Graph().as_default():
    global_step = tf1.train.get_or_create_global_step()
    loss = cifar10.loss(cifar10.inference(tf.zeros([4, 24, 24, 3]), model),
                        tf.zeros([4], tf.int32))
    cifar10.train(loss, global_step, 4, model)
    single_vars = sorted(v.op.name for v in tf1.global_variables())
    single_tags = _summary_tags(tf1.get_collection(tf1.GraphKeys.SUMMARIES))
  with tf.Graph().as_default():
    global_step = tf1.train.get_or_create_global_step()
    _, loss, summary_op = multi.build_train_op(
        tf.zeros([8, 24, 24, 3]), tf.zeros([8], tf.int32), global_step,
        ['/cpu:0', '/cpu:1'], 4, model=model)
    multi_vars = sorted(v.op.name for v in tf1.global_variables())
    multi_tags = _summary_tags(summary_op.op.inputs)
    assert loss.op.name.startswith('tower_1/')  # The last tower's loss.
    lr, = [s.op.inputs[1] for s in summary_op.op.inputs
           if s.op.name.startswith('learning_rate')]
    with tf1.Session(config=tf1.ConfigProto(device_count={'CPU': 2})) as sess:
      sess.run(global_step.initializer)
      # VGG-16 starts from its own, smaller rate.
      assert sess.run(lr) == pytest.approx(
          cifar10.initial_learning_rate(model))
  # So either program resumes the other's checkpoints, and cifar10_eval
  # reads both; TensorBoard shows the same series.
  assert multi_vars == single_vars
  assert 'total_loss/avg' in multi_vars
  assert multi_tags == single_tags
  assert {'total_loss (raw)', 'cross_entropy', 'learning_rate',
          'softmax_linear/sparsity'} <= multi_tags


def _learning_rates(scale_lr_schedule, steps):
  """The learning rate build_train_op uses (2 towers of 128) at each step."""
  with tf.Graph().as_default():
    global_step = tf1.train.get_or_create_global_step()
    multi.build_train_op(tf.zeros([8, 24, 24, 3]), tf.zeros([8], tf.int32),
                         global_step, ['/cpu:0', '/cpu:1'], 128,
                         scale_lr_schedule=scale_lr_schedule, model='cifar10')
    lr, = [s.op.inputs[1] for s in tf1.get_collection(
        tf1.GraphKeys.SUMMARIES) if s.op.name.startswith('learning_rate')]
    step = tf1.placeholder(tf.int64, [])
    assign = global_step.assign(step)
    with tf1.Session(config=tf1.ConfigProto(device_count={'CPU': 2})) as sess:
      rates = []
      for value in steps:
        sess.run(assign, {step: value})
        rates.append(sess.run(lr))
  return rates


def test_learning_rate_schedule():
  # By default the towers do not count, as in the original: the decay comes
  # after int(50000 / 128 * 350) = 136,718 steps, as with one device.
  np.testing.assert_allclose(_learning_rates(False, [68359, 136717, 136718]),
                             [0.1, 0.1, 0.01], rtol=1e-6)
  # --scale_lr_schedule: 350 epochs of 2 x 128 images a step.
  np.testing.assert_allclose(_learning_rates(True, [68358, 68359]),
                             [0.1, 0.01], rtol=1e-6)


def _events(folder):
  tags = {}
  for path in glob.glob(os.path.join(folder, 'events.out.tfevents.*')):
    for event in tf1.train.summary_iterator(path):
      for value in event.summary.value:
        tags.setdefault(value.tag, []).append(event.step)
  return tags


def test_logged_rate_is_examples_over_the_time(monkeypatch, capsys):
  # LoggerHook with a clock the test sets: steps of 8 examples (two towers
  # of 4) ending 0.25 s, then 0.5 s and 1.0 s apart; a line every 2 steps.
  now = [10.0]
  monkeypatch.setattr(cifar10_session.time, 'time', lambda: now[0])
  with tf.Graph().as_default():
    tf1.train.get_or_create_global_step()
    hook = cifar10_session.LoggerHook(tf.constant(2.5), 8, log_frequency=2)
    hook.begin()
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      hook.after_create_session(sess, None)
      for now[0] in (10.25, 10.75, 11.75):
        hook.after_run(None, tf1.train.SessionRunValues(
            results=[2.5, 0], options=None, run_metadata=None))
  lines = capsys.readouterr().out.splitlines()
  # Step 0: 8 examples in 0.25 s; step 2: 16 examples in 1.5 s (the two
  # steps since the last line).
  assert [LOG_LINE.match(line).groups() for line in lines] == [
      ('0', '2.50', '32.0', '0.250'), ('2', '2.50', '10.7', '0.750')]


def test_two_towers_on_logical_cpus_train_then_eval(tmp_path, data_dir):
  train_dir, eval_dir = str(tmp_path / 'train'), str(tmp_path / 'eval')
  proc = run_program([
      PROG, '--num_gpus', '2', '--tower_device', 'cpu', '--data_dir',
      data_dir, '--train_dir', train_dir, '--max_steps', '6',
      '--batch_size', '4', '--log_frequency', '2', '--save_summaries_steps',
      '5', '--log_device_placement'])
  assert ('Training 2 tower(s) on /cpu:0, /cpu:1: 4 images each, 8 per '
          'step.') in proc.stdout
  lines = LOG_LINE.findall(proc.stdout)
  assert [int(step) for step, _, _, _ in lines] == [0, 2, 4]
  for _, loss, examples_per_sec, sec_per_batch in lines[1:]:
    assert 0 < float(loss) < 20
    # Examples over both towers: 8 per step, not 4 (LoggerHook's arithmetic
    # is checked exactly in test_logged_rate_is_examples_over_the_time).
    # Both numbers are printed rounded (%.1f and %.3f), so 8 must lie within
    # the product's rounding interval: a step of 0.010 s is already 5% off
    # once rounded.
    rate, secs = float(examples_per_sec), float(sec_per_batch)
    assert (rate - 0.05) * (secs - 0.0005) <= 8 <= (rate + 0.05) * (
        secs + 0.0005)
  # Each tower's convolution ran on its own logical CPU device.
  placed = proc.stdout + proc.stderr
  assert re.search(r'tower_0/conv1/Conv2D\S*: \(Conv2D\): \S*CPU:0', placed)
  assert re.search(r'tower_1/conv1/Conv2D\S*: \(Conv2D\): \S*CPU:1', placed)
  assert tf1.train.latest_checkpoint(train_dir).endswith('model.ckpt-6')
  tags = _events(train_dir)
  assert {'total_loss (raw)', 'total_loss', 'learning_rate',
          'conv1/activations', 'images/image/0'} <= set(tags)

  proc = run_program([EVAL, '--checkpoint_dir', train_dir, '--eval_dir',
                      eval_dir, '--data_dir', data_dir, '--run_once',
                      '--num_examples', '30', '--batch_size', '8'])
  assert re.search(r': precision @ 1 = [01]\.\d{3}$', proc.stdout, re.M)
  assert _events(eval_dir)['Precision @ 1'] == [6]


def _wait_for(proc, pattern, log, timeout=120):
  """Reads proc's stdout lines into log until one matches pattern."""
  deadline = time.time() + timeout
  while time.time() < deadline:
    line = proc.stdout.readline()
    if not line:
      break
    log.append(line)
    if re.search(pattern, line):
      return
  pytest.fail('no line matching %r; got:\n%s' % (pattern, ''.join(log)))


def test_resumes_cifar10_train_checkpoint_and_stops_on_sigterm(tmp_path,
                                                               data_dir):
  train_dir = str(tmp_path / 'train')
  common = ['--data_dir', data_dir, '--train_dir', train_dir,
            '--batch_size', '4', '--log_frequency', '2']
  # cifar10_train's own training, in this process: its checkpoint, without
  # a TensorFlow start-up of its own (the program is run in other tests).
  assert cifar10_train.train(data_dir=data_dir, batch_size=4,
                             train_dir=train_dir, max_steps=2,
                             log_frequency=2) == 2
  proc = subprocess.Popen(
      [sys.executable, '-m', 'cifar10.cifar10_multi_gpu_train', '--num_gpus',
       '2', '--tower_device', 'cpu', '--max_steps', '100000'] + common,
      cwd=REPO, env=program_env(), stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
  log = []
  try:
    _wait_for(proc, LOG_LINE.pattern.strip('^$'), log)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  out = ''.join(log) + out
  assert proc.returncode == 0, out
  assert 'Resuming from the checkpoint at step 2.' in out
  assert re.search(r'^\S+ \S+: step 2, loss', out, re.M)
  stopped = re.search(r'Stopped by SIGTERM at step (\d+);', out)
  assert stopped, out
  step = int(stopped.group(1))
  assert step > 2
  assert tf1.train.latest_checkpoint(train_dir).endswith('-%d' % step)


def test_bad_input_gives_one_line_errors(tmp_path, data_dir):
  bad = str(tmp_path / 'bad')
  folder = testdata.make_cifar10_dir(bad, n=10)['dir']
  with open(os.path.join(folder, 'data_batch_3.bin'), 'r+b') as f:
    f.truncate(3073 * 5 + 7)
  proc = run_program([PROG, '--num_gpus', '2', '--tower_device', 'cpu',
                      '--data_dir', bad, '--train_dir', str(tmp_path / 't'),
                      '--max_steps', '2'], check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1].startswith(
      'cifar10_multi_gpu_train: error: Bad CIFAR-10 file ')
  assert 'data_batch_3.bin' in proc.stderr
  assert 'Traceback' not in proc.stderr

  proc = run_program([PROG, '--num_gpus', '0', '--data_dir', data_dir],
                     check=False)
  assert proc.returncode != 0
  assert 'num_gpus' in proc.stderr and 'Traceback' not in proc.stderr
