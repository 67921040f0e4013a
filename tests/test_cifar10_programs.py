"""cifar10_train and cifar10_eval run as a user runs them (subprocesses).

Tiny settings on synthetic data in the exact format; the output lines,
checkpoints and event files are checked, as are the failure paths.
"""

import glob
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from tensorboard.backend.event_processing import event_accumulator

from conftest import moments_env, REPO, copy_of, program_env, run_program
from conftest import save_checkpoint, skip_unless_required
from conftest import wait_for_moment
import testdata

LOG_LINE = re.compile(
    r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}: step (\d+), loss = \d+\.\d\d '
    r'\(\d+\.\d examples/sec; \d+\.\d{3} sec/batch\)$', re.M)
PRECISION_LINE = re.compile(
    r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}: precision @ 1 = (\d\.\d{3})$',
    re.M)
LAYERS = ['conv1', 'conv2', 'local3', 'local4', 'softmax_linear']
VARIABLES = [layer + suffix for layer in LAYERS
             for suffix in ('/weights', '/biases')]
LOSSES = ['cross_entropy', 'local3/weight_loss', 'local4/weight_loss',
          'total_loss']


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('cifar'))
  testdata.make_cifar10_dir(root, n=100, n_test=100)
  return root


def _train_args(data_dir, train_dir, steps, *extra):
  return ['--data_dir', data_dir, '--train_dir', train_dir, '--max_steps',
          str(steps), '--batch_size', '16', '--log_frequency', '10',
          '--save_summaries_steps', '10'] + list(extra)


def _eval_args(data_dir, train_dir, eval_dir, *extra):
  return ['--data_dir', data_dir, '--checkpoint_dir', train_dir, '--eval_dir',
          eval_dir, '--run_once', '--batch_size', '32'] + list(extra)


def _train(data_dir, train_dir, steps, *extra, **kwargs):
  return run_program(['-m', 'cifar10.cifar10_train'] +
                     _train_args(data_dir, train_dir, steps, *extra), **kwargs)


def _eval(data_dir, train_dir, eval_dir, *extra, **kwargs):
  return run_program(['-m', 'cifar10.cifar10_eval'] +
                     _eval_args(data_dir, train_dir, eval_dir, *extra),
                     **kwargs)


def _events(folder):
  acc = event_accumulator.EventAccumulator(folder, size_guidance={
      event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0,
      event_accumulator.IMAGES: 0})
  acc.Reload()
  return acc


def _one_line_error(proc, prefix):
  """The program failed with one clear line on stderr, no traceback."""
  assert proc.returncode != 0
  assert 'Traceback' not in proc.stderr
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith(prefix), proc.stderr
  return last


@pytest.fixture(scope='module')
def trained(data_dir, tmp_path_factory):
  """A 20-step run from scratch: (its stdout and stderr, its train_dir).

  One run for the checks of a fresh run and of resuming it, which saves a
  TensorFlow start-up and 30 steps. Read-only: a test that trains on copies
  it (copy_of).
  """
  train_dir = str(tmp_path_factory.mktemp('trained') / 'train')
  proc = _train(data_dir, train_dir, 20)
  return proc, train_dir


def test_train_then_eval(data_dir, trained, tmp_path):
  proc, train_dir = trained
  eval_dir = str(tmp_path / 'eval')
  out = proc.stdout
  assert [int(s) for s in LOG_LINE.findall(out)] == [0, 10]
  header = ('Writing checkpoints and summaries to %s\n'
            'Watch training with: tensorboard --logdir %s\n'
            % (train_dir, train_dir))
  assert header in out and out.index(header) < out.index(': step 0,')
  # The default pipeline is tf.data (measured faster; the original's queue
  # runners are --input_pipeline queue).
  assert ('Shuffling CIFAR images in a buffer of 200 before starting to '
          'train.') in out
  assert 'Traceback' not in proc.stderr

  # Checkpoint at the last step, readable.
  assert os.path.exists(os.path.join(train_dir, 'checkpoint'))
  for suffix in ('.index', '.meta'):
    assert os.path.exists(os.path.join(train_dir, 'model.ckpt-20' + suffix))
  assert glob.glob(os.path.join(train_dir, 'model.ckpt-20.data-*'))

  # Every tag of the reference's TensorBoard inventory, and the graph.
  acc = _events(train_dir)
  tags = acc.Tags()
  scalars = set(tags['scalars'])
  for loss in LOSSES:
    assert {loss, loss + ' (raw)'} <= scalars
  assert {'learning_rate', 'global_step/sec'} <= scalars
  assert {layer + '/sparsity' for layer in LAYERS} <= scalars
  histograms = set(tags['histograms'])
  assert {layer + '/activations' for layer in LAYERS} <= histograms
  assert set(VARIABLES) <= histograms
  assert {v + '/gradients' for v in VARIABLES} <= histograms
  # An image summary's tags are '<name>/image/<i>', one per image shown.
  assert tags['images'] == ['images/image/%d' % i for i in range(3)]
  assert tags['graph']
  assert [e.step for e in acc.Scalars('learning_rate')][-1] >= 10
  assert acc.Scalars('learning_rate')[-1].value == pytest.approx(0.1)

  proc = _eval(data_dir, train_dir, eval_dir, '--num_examples', '50')
  assert len(PRECISION_LINE.findall(proc.stdout)) == 1
  precision = float(PRECISION_LINE.search(proc.stdout).group(1))
  acc = _events(eval_dir)
  (event,) = acc.Scalars('Precision @ 1')
  assert event.step == 20
  assert event.value == pytest.approx(precision, abs=5e-4)
  # 50 examples counted exactly: the precision is a multiple of 1/50.
  assert round(event.value * 50, 4) == round(event.value * 50)
  assert 'images/image/0' in acc.Tags()['images']
  assert 'conv1/activations' in acc.Tags()['histograms']
  assert acc.Tags()['graph']


def test_the_original_queue_pipeline_end_to_end(data_dir, tmp_path):
  train_dir = str(tmp_path / 'train')
  out = _train(data_dir, train_dir, 4, '--input_pipeline', 'queue').stdout
  assert ('Filling queue with 200 CIFAR images before starting to train. '
          'This will take a few minutes.') in out
  assert [int(s) for s in LOG_LINE.findall(out)] == [0]
  proc = _eval(data_dir, train_dir, str(tmp_path / 'eval'),
               '--input_pipeline', 'queue', '--num_examples', '50')
  assert len(PRECISION_LINE.findall(proc.stdout)) == 1


def test_learning_far_above_chance(data_dir, tmp_path):
  # The shared data (class signal 0.6) at the tutorial's batch of 128. At
  # batch 32 the tutorial's learning rate of 0.1, tuned for 128, made
  # training unstable on these 100 images: in 1 of 6 runs the cross entropy
  # reached 0.00 by step 120, sprang back to 2.18 (chance) at 150 with most
  # units of conv2 and local4 dead (sparsity 0.85-0.94), and the run ended
  # at 0.58; at batch 128 every run (6 of 6) reached 1.000 after 150 steps,
  # and 4 of 4 after 90 (after 60, one run of four was at 0.71).
  # Summaries and step lines only at the start (the later flag wins): the
  # test reads neither, and summaries every 10 steps cost 15% of the run's
  # CPU. They change nothing the training computes.
  train_dir = str(tmp_path / 'train')
  _train(data_dir, train_dir, 90, '--batch_size', '128',
         '--save_summaries_steps', '1000', '--log_frequency', '90')
  proc = _eval(data_dir, train_dir, str(tmp_path / 'eval'))
  precision = float(PRECISION_LINE.search(proc.stdout).group(1))
  assert precision > 0.5  # chance is 0.1


def _console_script(name):
  path = os.path.join(os.path.dirname(sys.executable), name)
  if not os.path.exists(path):
    skip_unless_required('console script %s not installed (pip install -e '
                         '.)' % name)
  return path


@pytest.mark.parametrize('way', ['inside', 'root', 'console'])
def test_every_way_of_starting(data_dir, tmp_path, way):
  train_dir, eval_dir = str(tmp_path / 'train'), str(tmp_path / 'eval')
  train_args = _train_args(data_dir, train_dir, 2)
  eval_args = _eval_args(data_dir, train_dir, eval_dir)
  env = program_env()
  if way == 'inside':  # the course's way: cifar10/cifar10.py shadows cifar10
    cwd, train, evaluate = (os.path.join(REPO, 'cifar10'),
                            [sys.executable, 'cifar10_train.py'],
                            [sys.executable, 'cifar10_eval.py'])
  elif way == 'root':
    cwd, train, evaluate = (REPO, [sys.executable, 'cifar10/cifar10_train.py'],
                            [sys.executable, 'cifar10/cifar10_eval.py'])
  else:
    cwd, train, evaluate = (str(tmp_path), [_console_script('cifar10_train')],
                            [_console_script('cifar10_eval')])
  for command in (train + train_args, evaluate + eval_args):
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
  assert os.path.exists(os.path.join(train_dir, 'model.ckpt-2.index'))
  assert PRECISION_LINE.search(proc.stdout)


def test_misspelled_flag_is_an_error_with_a_suggestion(tmp_path):
  proc = run_program(['-m', 'cifar10.cifar10_train', '--max_step=10',
                      '--train_dir', str(tmp_path)], check=False)
  assert proc.returncode != 0
  assert "Unknown command line flag 'max_step'" in proc.stderr
  assert 'max_steps' in proc.stderr.split("'max_step'")[1]
  assert not os.listdir(tmp_path)
  proc = run_program(['-m', 'cifar10.cifar10_eval', '--run-once'],
                     check=False)
  assert proc.returncode != 0 and 'run_once' in proc.stderr


def test_resume_nothing_to_do_and_fresh(data_dir, trained, tmp_path):
  train_dir = copy_of(trained[1], tmp_path, 'train')  # At step 20.
  out = _train(data_dir, train_dir, 40).stdout
  assert 'Resuming from the checkpoint at step 20.' in out
  assert [int(s) for s in LOG_LINE.findall(out)] == [20, 30]
  assert os.path.exists(os.path.join(train_dir, 'model.ckpt-40.index'))

  out = _train(data_dir, train_dir, 40).stdout
  assert 'is at step 40, which reaches --max_steps 40: nothing to train' in out
  assert not LOG_LINE.findall(out)
  assert not glob.glob(os.path.join(train_dir, 'model.ckpt-41*'))

  out = _train(data_dir, train_dir, 10, '--fresh').stdout
  assert 'Deleting %s (--fresh).' % train_dir in out
  assert [int(s) for s in LOG_LINE.findall(out)] == [0]
  assert not glob.glob(os.path.join(train_dir, 'model.ckpt-40*'))


def test_fresh_refuses_a_folder_that_is_not_a_train_dir(data_dir, tmp_path):
  precious = tmp_path / 'thesis'
  precious.mkdir()
  (precious / 'chapter1.tex').write_text('...')
  proc = _train(data_dir, str(precious), 5, '--fresh', check=False)
  _one_line_error(proc, 'cifar10_train: error: --fresh refused')
  assert (precious / 'chapter1.tex').read_text() == '...'


@pytest.mark.parametrize('program, flags, name', [
    ('cifar10_train', ['--train_dir', 'OUT', '--data_dir', 'DATA'], 'SIGINT'),
    ('cifar10_eval', ['--eval_dir', 'OUT', '--checkpoint_dir', 'NONE',
                      '--data_dir', 'DATA', '--run_once'], 'SIGTERM'),
    ('cifar10_multi_gpu_train', ['--train_dir', 'OUT', '--data_dir', 'DATA'],
     'SIGTERM'),
    ('classify_images', ['--checkpoint_dir', 'NONE', 'OUT'], 'SIGINT'),
    ('make_cifar10_dataset', ['--image_dir', 'DATA', '--output_dir', 'OUT'],
     'SIGTERM'),
    ('cnn_building_blocks', ['--plot_dir', 'OUT'], 'SIGINT'),
])
def test_signal_while_tensorflow_loads(program, flags, name, data_dir,
                                      tmp_path):
  # One line and nothing written, in every program that loads TensorFlow.
  # Were the signal late, the program would have trained, failed on the
  # missing checkpoint or folder, or drawn, and said so otherwise.
  out = str(tmp_path / 'out')
  where = {'OUT': out, 'DATA': data_dir, 'NONE': str(tmp_path / 'none')}
  env, moments = moments_env(tmp_path)
  proc = subprocess.Popen(
      [sys.executable, '-m', 'cifar10.' + program] +
      [where.get(flag, flag) for flag in flags], cwd=REPO,
      env=program_env(**env), stdin=subprocess.DEVNULL,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  # As TensorFlow starts to load (which then takes seconds), as announced.
  wait_for_moment(moments, 'tensorflow loading', proc)
  proc.send_signal(signal.Signals[name])
  stdout, stderr = proc.communicate(timeout=120)
  assert proc.returncode == 128 + signal.Signals[name], stderr
  assert (stdout, stderr) == ('', '%s: stopped by %s while starting; '
                              'nothing was written.\n' % (program, name))
  assert not os.path.exists(out)


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_a_checkpoint(data_dir, tmp_path, signum):
  train_dir = str(tmp_path / 'train')
  proc = subprocess.Popen(
      [sys.executable, '-m', 'cifar10.cifar10_train'] +
      _train_args(data_dir, train_dir, 100000, '--log_frequency', '1'),
      cwd=REPO, env=program_env(), stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True)
  try:
    lines = []
    deadline = time.time() + 240
    while time.time() < deadline:
      line = proc.stdout.readline()
      lines.append(line)
      if ': step 5,' in line:
        break
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  out = ''.join(lines) + out
  assert proc.returncode == 0, err
  assert 'Traceback' not in err
  name = signal.Signals(signum).name
  assert 'Received %s: stopping and saving a checkpoint' % name in out
  match = re.search(r'Stopped by %s at step (\d+); the checkpoint is in ' %
                    name, out)
  step = int(match.group(1))
  assert step >= 6
  # The last logged step ran, and the checkpoint holds the step reached.
  assert max(int(s) for s in LOG_LINE.findall(out)) == step - 1
  assert os.path.exists(os.path.join(train_dir,
                                     'model.ckpt-%d.index' % step))


def _break(data_dir, name, how):
  path = os.path.join(data_dir, 'cifar-10-batches-bin', name)
  raw = bytearray(open(path, 'rb').read())
  if how == 'truncate':
    raw = raw[:-10]
  else:
    raw[3073 * 7] = 12
  open(path, 'wb').write(bytes(raw))
  return path


@pytest.mark.parametrize('how,message', [
    ('truncate', 'is not a whole number of 3073-byte records'),
    ('label', 'record 7 has label 12, outside 0..9')])
def test_bad_data_file_is_a_one_line_error(trained, tmp_path, how, message):
  root = str(tmp_path / 'data')
  testdata.make_cifar10_dir(root, n=20)
  path = _break(root, 'data_batch_3.bin', how)
  proc = _train(root, str(tmp_path / 'train'), 5, check=False)
  last = _one_line_error(proc, 'cifar10_train: error: Bad CIFAR-10 file ')
  assert path in last and message in last
  # The evaluator's own line: a good checkpoint (the module's run), a bad
  # test file.
  path = _break(root, 'test_batch.bin', how)
  proc = _eval(root, trained[1], str(tmp_path / 'eval'), check=False)
  last = _one_line_error(proc, 'cifar10_eval: error: Bad CIFAR-10 file ')
  assert path in last and message in last
  assert not PRECISION_LINE.search(proc.stdout)


def _save_as_step(train_dir, step):
  """Saves train_dir's latest checkpoint again as global step `step`, naming
  it last in the state file, as a trainer's next checkpoint would be."""
  import numpy as np
  import tensorflow as tf
  tf1 = tf.compat.v1
  reader = tf1.train.load_checkpoint(tf1.train.latest_checkpoint(train_dir))
  values = {name: reader.get_tensor(name)
            for name in reader.get_variable_to_shape_map()}
  values['global_step'] = np.int64(step)
  save_checkpoint(values, train_dir, step)


def test_eval_waits_and_evaluates_each_arriving_checkpoint_once(
    data_dir, trained, tmp_path):
  # The lab's way: cifar10_eval waits beside a trainer. Checkpoints 25 and
  # 30 arrive while it waits, each once the one before has been evaluated
  # (its precision line printed); then nothing comes and --timeout_secs
  # ends it with its line.
  train_dir = copy_of(trained[1], tmp_path)
  eval_dir = str(tmp_path / 'eval')
  log_path = str(tmp_path / 'eval.log')
  args = _eval_args(data_dir, train_dir, eval_dir, '--eval_interval_secs',
                    '0', '--timeout_secs', '8', '--num_examples', '100')
  args.remove('--run_once')
  with open(log_path, 'w') as log:
    proc = subprocess.Popen(
        [sys.executable, '-m', 'cifar10.cifar10_eval'] + args, cwd=REPO,
        env=program_env(), stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL)
  try:
    for evaluated, step in enumerate((25, 30), 1):
      deadline = time.time() + 300
      while len(PRECISION_LINE.findall(open(log_path).read())) < evaluated:
        assert proc.poll() is None and time.time() < deadline, open(
            log_path).read()
        time.sleep(0.1)
      _save_as_step(train_dir, step)
    assert proc.wait(timeout=300) == 0
  finally:
    proc.kill()
  out = open(log_path).read()
  assert len(PRECISION_LINE.findall(out)) == 3, out
  assert out.rstrip().endswith(
      '\nNo new checkpoint in %s for 8 s (--timeout_secs): done.' % train_dir)
  # Each checkpoint once, in the order they came.
  assert [event.step for event in _events(eval_dir).Scalars(
      'Precision @ 1')] == [20, 25, 30]
  assert 'Traceback' not in out


def test_unwritable_train_dir(data_dir, tmp_path):
  blocker = tmp_path / 'file'
  blocker.write_text('not a folder')
  train_dir = str(blocker / 'train')
  proc = _train(data_dir, train_dir, 5, check=False)
  last = _one_line_error(proc, 'cifar10_train: error: cannot write to '
                         '--train_dir %s' % train_dir)
  assert 'Not a directory' in last


def test_eval_without_checkpoint(data_dir, tmp_path):
  proc = _eval(data_dir, str(tmp_path / 'none'), str(tmp_path / 'eval'),
               check=False)
  assert proc.stdout.splitlines() == ['No checkpoint file found']
  _one_line_error(proc, 'cifar10_eval: error: no checkpoint in ')


def test_offline_without_data_names_url_dir_and_flag(tmp_path):
  url = testdata.closed_port_url('/cifar-10-binary.tar.gz')
  data_dir = str(tmp_path / 'empty')
  proc = _train(data_dir, str(tmp_path / 'train'), 5, '--data_url', url,
                check=False)
  last = _one_line_error(proc, 'cifar10_train: error: ')
  assert url in last and data_dir in last and '--data_dir' in last
  assert not glob.glob(os.path.join(data_dir, '*.tar.gz*'))


def test_real_data_short_run(shared_data, tmp_path):
  data_dir = os.path.join(shared_data, 'cifar10')
  train_dir = str(tmp_path / 'train')
  _train(data_dir, train_dir, 10, '--batch_size', '32')
  proc = _eval(data_dir, train_dir, str(tmp_path / 'eval'),
               '--num_examples', '1000', '--batch_size', '1000')
  precision, = PRECISION_LINE.findall(proc.stdout)
  assert 'Note: the data holds only' not in proc.stdout
  # The precision printed is that of the checkpoint's own predictions on
  # the first 1,000 test images (the same batch, so the same arithmetic),
  # their labels read from the file as bytes.
  import numpy as np
  import tensorflow as tf
  from cifar10 import cifar10
  tf1 = tf.compat.v1
  with tf.Graph().as_default():
    images, _ = cifar10.inputs(True, data_dir, 1000, 'dataset')
    logits = cifar10.inference(images)
    saver = tf1.train.Saver(cifar10.variable_averages().variables_to_restore())
    with tf1.Session() as sess:
      saver.restore(sess, tf1.train.latest_checkpoint(train_dir))
      predicted = np.argmax(sess.run(logits), axis=1)
  with open(os.path.join(data_dir, 'cifar-10-batches-bin', 'test_batch.bin'),
            'rb') as f:
    labels = np.frombuffer(f.read(), np.uint8).reshape(10000, 3073)[:1000, 0]
  assert precision == '%.3f' % np.mean(predicted == labels)
