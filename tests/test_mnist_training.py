"""mnist.training: what the five MNIST trainers do around their loops.

In this process: the messages, the exit statuses, one-line TensorFlow
errors, and a signal in the middle of a library train(). As subprocesses,
per program, on tiny synthetic data: a diverging loss (one line with
advice), Ctrl-C and SIGTERM once training has printed its first step (a
restorable checkpoint at that step where the program saves checkpoints,
one line, no traceback), a signal while the data is read or downloaded,
the TensorBoard hint, and a checkpoint folder that vanishes mid-run.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, SIGNAL_INSIDE_TF_ERROR, program_env, run_program
from conftest import send_signal

import testdata
from mnist import mnist_deep, mnist_softmax, training

tf1 = tf.compat.v1

TRAINERS = ('fully_connected_feed', 'mnist_softmax', 'mnist_softmax_xla',
            'mnist_with_summaries', 'mnist_deep')
DATA_FLAG = {'fully_connected_feed': '--input_data_dir'}  # Else --data_dir.
CHECKPOINTS = ('fully_connected_feed', 'mnist_deep')  # Programs that save.
SUMMARIES = ('fully_connected_feed', 'mnist_with_summaries')  # Event files.
KEEPING = CHECKPOINTS + ('mnist_with_summaries',)  # Exit 0 when stopped.
STEP_LINES = {  # The first line a program prints once training runs.
    'fully_connected_feed': 'Step 0: loss',
    'mnist_with_summaries': 'Accuracy at step 0:',
    'mnist_deep': 'step 0, training accuracy',
}
DIVERGED = (r'^%s: error: the model diverged: loss = (nan|inf) at step \d+; '
            r'try a smaller (--learning_rate|learning rate) \(now 1e\+38\)$')


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  """The four MNIST files: 100 training images after the 5000 validation."""
  root = str(tmp_path_factory.mktemp('mnist_data'))
  testdata.make_mnist_dir(root, n_train=5100, n_test=20)
  return root


def wrapper(program, before='', start=True):
  """`python -c` code that runs a program as its command does.

  Args:
    program: the module in mnist.
    before: code run after the start-up handlers, before run(); it may
      patch the program's modules (imported as `program`, `input_data`).
    start: install the start-up handlers first, as mnist.commands does.

  Returns:
    The code; sys.argv[1:] are the program's flags.
  """
  return ('import os, signal, sys\n'
          'from mnist import commands\n'
          + ('commands.startup(%r)\n' % program if start else '') +
          'from mnist import input_data\n'
          'from mnist import %s as program\n' % program + before +
          'commands.run_and_finish(lambda: program.main(sys.argv[1:]))\n')


# After the third batch is drawn: training runs. For the programs that
# print no line while they train.
MARK_TRAINING = '''
next_batch = input_data.DataSet.next_batch
def marked(self, *args, **kwargs):
  marked.calls += 1
  if marked.calls == 3:
    print('TRAINING', file=sys.stderr, flush=True)
  return next_batch(self, *args, **kwargs)
marked.calls = 0
input_data.DataSet.next_batch = marked
'''


class Running(object):
  """A program started as a subprocess, its lines read as they come."""

  def __init__(self, args, cwd=REPO, env=None):
    self.proc = subprocess.Popen(
        [sys.executable] + list(args), cwd=cwd, env=program_env(**(env or {})),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    self.started = time.time()
    self.lines = {'stdout': [], 'stderr': []}
    self._readers = [threading.Thread(target=self._read, args=(name,),
                                      daemon=True)
                     for name in self.lines]
    for reader in self._readers:
      reader.start()

  def _read(self, name):
    for line in getattr(self.proc, name):
      self.lines[name].append(line.rstrip('\n'))

  def wait_for(self, name, text, timeout=300):
    """Waits until a line of stream `name` starts with text."""
    deadline = time.time() + timeout
    while not any(line.startswith(text) for line in self.lines[name]):
      if self.proc.poll() is not None or time.time() > deadline:
        self.finish()
        pytest.fail('no %r line in %s; exit %s\n--- stdout\n%s\n--- '
                    'stderr\n%s' % (text, name, self.proc.returncode,
                                    self.stdout, self.stderr))
      time.sleep(0.02)

  def send(self, signum):
    """Sends a signal; returns whether the program's handlers had it."""
    return send_signal(self.proc, signum)

  def finish(self, timeout=300):
    """Waits for the end; returns the exit status."""
    try:
      self.proc.wait(timeout=timeout)
    finally:
      if self.proc.poll() is None:
        self.proc.kill()
        self.proc.wait()
    for reader in self._readers:
      reader.join(timeout=10)
    return self.proc.returncode

  @property
  def stdout(self):
    return '\n'.join(self.lines['stdout'])

  @property
  def stderr(self):
    return '\n'.join(self.lines['stderr'])


def restore_checkpoint(checkpoint):
  """Restores every variable of a checkpoint through its .meta graph."""
  with tf.Graph().as_default(), tf1.Session() as sess:
    saver = tf1.train.import_meta_graph(checkpoint + '.meta',
                                        clear_devices=True)
    saver.restore(sess, checkpoint)
  return int(tf.train.load_variable(checkpoint, 'global_step'))


def program_args(program, data_dir, log_dir, max_steps):
  args = [DATA_FLAG.get(program, '--data_dir'), data_dir,
          '--max_steps', str(max_steps)]
  if program != 'mnist_softmax':
    args += ['--log_dir', log_dir]
  if program in ('mnist_deep', 'fully_connected_feed'):
    args += ['--batch_size', '5']
  return args


def check_stop_line(run, program, name, log_dir):
  """Asserts the one line of a stop at a step; returns the step."""
  assert 'Traceback' not in run.stderr, run.stderr
  stops = [line for line in run.lines['stdout']
           if line.startswith('Stopped by')]
  assert len(stops) == 1 and run.lines['stdout'][-1] == stops[0], run.stdout
  kept = {'fully_connected_feed': 'the checkpoint is in %s' % log_dir,
          'mnist_deep': 'the checkpoint is in %s' % log_dir,
          'mnist_with_summaries': 'the summaries are in %s' % log_dir}.get(
              program, 'nothing was saved')
  match = re.fullmatch(r'Stopped by %s at step (\d+); %s\.' % (
      name, re.escape(kept)), stops[0])
  assert match, stops[0]
  step = int(match.group(1))
  assert run.proc.returncode == (0 if program in KEEPING
                                 else 128 + signal.Signals[name])
  received = 'Received %s: stopping and saving a checkpoint.' % name
  if program in CHECKPOINTS:
    # Only the last line may follow it; it is missing when the stop came
    # at a checkpoint the program saved anyway.
    assert run.lines['stdout'].count(received) <= 1
    checkpoint = os.path.join(log_dir, 'model.ckpt-%d' % step)
    assert tf.train.latest_checkpoint(log_dir) == checkpoint
    assert restore_checkpoint(checkpoint) == step
  else:
    assert received not in run.lines['stdout']
  return step


# In this process ------------------------------------------------------------


def test_diverged_and_check_loss():
  training.check_loss(2.5, 3, 0.1)
  for value in (float('nan'), float('inf')):
    with pytest.raises(FloatingPointError) as e:
      training.check_loss(value, 7, 1e6)
    assert str(e.value) == ('the model diverged: loss = %s at step 7; try a '
                            'smaller --learning_rate (now 1e+06)' % value)
  assert str(training.diverged(float('nan'), 0, 1e-4, 'learning rate')) == (
      'the model diverged: loss = nan at step 0; try a smaller learning '
      'rate (now 0.0001)')


def test_stopped_lines_and_exit_statuses():
  stop = training.Stopped('SIGTERM', 12, 'the checkpoint is in /x')
  assert isinstance(stop, KeyboardInterrupt)
  assert str(stop) == 'Stopped by SIGTERM at step 12; the checkpoint is in /x.'
  assert stop.exit_status == 0
  stop = training.Stopped('SIGINT', 3)
  assert str(stop) == 'Stopped by SIGINT at step 3; nothing was saved.'
  assert stop.exit_status == 130
  stop = training.Stopped('SIGTERM')
  assert str(stop) == ('stopped by SIGTERM before training started; '
                       'nothing was saved.')
  assert stop.exit_status == 143


def _exit_of(error, capsys):
  """Raises error inside program('p'): (exit code, stdout, stderr)."""
  with pytest.raises(SystemExit) as e:
    with training.program('p'):
      raise error
  out, err = capsys.readouterr()
  return e.value.code, out, err


def test_program_ends_in_one_line(capsys):
  before = signal.getsignal(signal.SIGINT)
  assert _exit_of(FloatingPointError('diverged'), capsys) == (
      'p: error: diverged', '', '')
  # TensorFlow's message: a traceback of where the op was built; the
  # reason is the line after `Node:`.
  error = tf.errors.InvalidArgumentError(None, None, (
      "Graph execution error:\n\nDetected at node 'save/x' defined at (most "
      "recent call last):\n  File \"a.py\", line 1, in <module>\n\nNode: "
      "'save/x'\nParent directory of /gone doesn't exist\n\t [[{{node "
      "save/x}}]]\n\nOriginal stack trace for 'save/x':\n  File..."))
  assert _exit_of(error, capsys)[0] == (
      "p: error: Parent directory of /gone doesn't exist")
  assert _exit_of(OSError(28, 'No space left on device'), capsys)[0] == (
      'p: error: [Errno 28] No space left on device')
  assert _exit_of(training.Stopped('SIGINT'), capsys) == (
      130, '', 'p: stopped by SIGINT before training started; nothing was '
      'saved.\n')
  assert _exit_of(training.Stopped('SIGTERM', 4, 'the checkpoint is in /c'),
                  capsys) == (
      0, 'Stopped by SIGTERM at step 4; the checkpoint is in /c.\n', '')
  assert signal.getsignal(signal.SIGINT) is before


def _signalling_data(signum, at_call, n=40):
  """A data set whose next_batch sends signum to this process once."""
  rng = np.random.RandomState(0)
  images = rng.uniform(size=(n, 784)).astype(np.float32)
  labels = rng.randint(0, 10, size=n)
  calls = []

  def next_batch(batch_size):
    calls.append(batch_size)
    if len(calls) == at_call:
      os.kill(os.getpid(), signum)
    return images[:batch_size], labels[:batch_size]

  return types.SimpleNamespace(
      train=types.SimpleNamespace(next_batch=next_batch),
      test=types.SimpleNamespace(images=images, labels=labels)), calls


def test_library_train_stops_after_the_step(capsys):
  # Called as a notebook would: Ctrl-C is a request to stop after a step,
  # the stop a KeyboardInterrupt, and the caller's handler comes back.
  before = signal.getsignal(signal.SIGINT)
  data_sets, calls = _signalling_data(signal.SIGINT, 5)
  with pytest.raises(KeyboardInterrupt) as e:
    mnist_softmax.train(data_sets, max_steps=100, batch_size=8)
  assert str(e.value) == 'Stopped by SIGINT at step 5; nothing was saved.'
  assert len(calls) == 5
  assert signal.getsignal(signal.SIGINT) is before
  assert capsys.readouterr().out == ''


def test_after_the_loop_a_signal_stops_at_once(tmp_path):
  # mnist_deep's test evaluation takes seconds: it is cut short, the last
  # checkpoint kept.
  data_sets, _ = _signalling_data(signal.SIGINT, 0)
  test = data_sets.test

  class SignallingTest(object):
    labels = test.labels

    @property
    def images(self):
      os.kill(os.getpid(), signal.SIGINT)
      return test.images

  data_sets.test = SignallingTest()
  with pytest.raises(training.Stopped) as e:
    mnist_deep.train(data_sets, str(tmp_path), max_steps=2, batch_size=4)
  assert str(e.value) == ('Stopped by SIGINT at step 2; the checkpoint is '
                          'in %s.' % tmp_path)
  assert restore_checkpoint(str(tmp_path / 'model.ckpt-2')) == 2
  # A signal between the loop's last check and its end stops it there.
  with training.StopOnSignal('kept') as stop:
    stop.signal_name = 'SIGTERM'
    with pytest.raises(training.Stopped) as e:
      stop.finished(7)
  assert str(e.value) == 'Stopped by SIGTERM at step 7; kept.'


def test_library_deep_train_saves_the_step(tmp_path, capsys):
  data_sets, _ = _signalling_data(signal.SIGTERM, 3)
  previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
  try:
    with pytest.raises(training.Stopped) as e:
      mnist_deep.train(data_sets, str(tmp_path), max_steps=100,
                       batch_size=4, checkpoint_every=50)
  finally:
    signal.signal(signal.SIGTERM, previous)
  assert (e.value.signal_name, e.value.step) == ('SIGTERM', 3)
  assert str(e.value) == ('Stopped by SIGTERM at step 3; the checkpoint is '
                          'in %s.' % tmp_path)
  checkpoint = str(tmp_path / 'model.ckpt-3')
  assert tf.train.latest_checkpoint(str(tmp_path)) == checkpoint
  assert restore_checkpoint(checkpoint) == 3
  assert capsys.readouterr().out.splitlines()[-1] == (
      'Received SIGTERM: stopping and saving a checkpoint.')


# The programs as subprocesses ------------------------------------------------


@pytest.mark.parametrize('program', TRAINERS)
def test_divergence_is_one_line_with_advice(program, data_dir, tmp_path):
  log_dir = str(tmp_path / 'logs')
  args = program_args(program, data_dir, log_dir, 50)
  if program in ('mnist_softmax_xla', 'mnist_deep'):
    # No --learning_rate flag: the library's keyword argument.
    patch = ('import functools\nprogram.train = functools.partial('
             'program.train, learning_rate=1e38)\n')
    proc = run_program(['-c', wrapper(program, patch)] + args, check=False)
  else:
    proc = run_program(['-m', 'mnist.' + program, '--learning_rate', '1e38']
                       + args, check=False)
  assert proc.returncode == 1 and 'Traceback' not in proc.stderr, (
      proc.stderr)
  errors = [line for line in proc.stderr.splitlines()
            if line.startswith(program + ': ')]
  assert len(errors) == 1 and re.match(DIVERGED % program, errors[0]), (
      proc.stderr)


@pytest.mark.parametrize('program, name', [
    ('fully_connected_feed', 'SIGTERM'), ('fully_connected_feed', 'SIGINT'),
    ('mnist_softmax', 'SIGINT'), ('mnist_softmax_xla', 'SIGTERM'),
    ('mnist_with_summaries', 'SIGINT'), ('mnist_deep', 'SIGTERM')])
def test_signal_during_training(program, name, data_dir, tmp_path):
  log_dir = str(tmp_path / 'logs')
  # Enough steps that the signal comes long before the end.
  args = program_args(program, data_dir, log_dir, 100000)
  if program in STEP_LINES:
    run = Running(['-m', 'mnist.' + program] + args)
    run.wait_for('stdout', STEP_LINES[program])
  else:
    run = Running(['-c', wrapper(program, MARK_TRAINING)] + args)
    run.wait_for('stderr', 'TRAINING')
  run.send(signal.Signals[name])
  run.finish()
  step = check_stop_line(run, program, name, log_dir)
  assert step >= 1
  hint = 'Watch training with: tensorboard --logdir %s' % log_dir
  assert (hint in run.lines['stderr']) == (program in SUMMARIES)
  if program == 'mnist_with_summaries':
    events = os.listdir(os.path.join(log_dir, 'train'))
    assert len(events) == 1 and events[0].startswith('events.out.tfevents.')


# Sends the signal from inside read_data_sets: the data is being read.
SIGNAL_WHILE_READING = '''
read_data_sets = input_data.read_data_sets
def reading(*args, **kwargs):
  os.kill(os.getpid(), signal.SIGTERM)
  return read_data_sets(*args, **kwargs)
input_data.read_data_sets = reading
'''


@pytest.mark.parametrize('program', ['fully_connected_feed', 'mnist_deep'])
def test_signal_while_reading_data(program, data_dir, tmp_path):
  log_dir = str(tmp_path / 'logs')
  proc = run_program(['-c', wrapper(program, SIGNAL_WHILE_READING)] +
                     program_args(program, data_dir, log_dir, 10),
                     check=False)
  assert proc.returncode == 143 and 'Traceback' not in proc.stderr
  assert proc.stderr.splitlines()[-1] == (
      '%s: stopped by SIGTERM before training started; nothing was saved.'
      % program)
  assert 'Extracting' not in proc.stdout
  assert not [n for n in os.listdir(log_dir) if n.startswith('model.ckpt')]


# Sends SIGINT once the first file is downloaded, before it is renamed.
SIGNAL_WHILE_DOWNLOADING = '''
from mnist import mnist_download
URL = sys.argv.pop()
copy = mnist_download._copy
def copying(*args):
  size = copy(*args)
  os.kill(os.getpid(), signal.SIGINT)
  return size
mnist_download._copy = copying
read_data_sets = input_data.read_data_sets
def offline_md5s(*args, **kwargs):
  return read_data_sets(*args, md5s=None, source_url=URL, **kwargs)
input_data.read_data_sets = offline_md5s
'''


def test_signal_while_downloading_leaves_no_partial_file(data_dir, tmp_path):
  blobs = {'/' + n: open(os.path.join(data_dir, n), 'rb').read()
           for n in testdata.MNIST_FILES}
  dest = tmp_path / 'data'
  with testdata.serve(blobs) as server:
    proc = run_program(['-c', wrapper('mnist_softmax',
                                      SIGNAL_WHILE_DOWNLOADING),
                        '--data_dir', str(dest), server.url + '/'],
                       check=False)
  assert proc.returncode == 130 and 'Traceback' not in proc.stderr
  assert proc.stderr.splitlines()[-1] == (
      'mnist_softmax: stopped by SIGINT before training started; nothing '
      'was saved.')
  assert os.listdir(str(dest)) == []  # No .part file, no half a file.


# Replaces the checkpoint folder by a file after the first step.
LOG_DIR_VANISHES = '''
import shutil
next_batch = input_data.DataSet.next_batch
def vanishing(self, *args, **kwargs):
  vanishing.calls += 1
  if vanishing.calls == 2:
    shutil.rmtree(LOG_DIR)
    open(LOG_DIR, 'w').close()
  return next_batch(self, *args, **kwargs)
vanishing.calls = 0
input_data.DataSet.next_batch = vanishing
'''


def test_checkpoint_that_cannot_be_written_is_one_line(data_dir, tmp_path):
  log_dir = str(tmp_path / 'logs')
  patch = 'LOG_DIR = %r\n' % log_dir + LOG_DIR_VANISHES
  proc = run_program(['-c', wrapper('mnist_deep', patch)] +
                     program_args('mnist_deep', data_dir, log_dir, 3),
                     check=False)
  assert proc.returncode == 1 and 'Traceback' not in proc.stderr
  errors = [line for line in proc.stderr.splitlines()
            if line.startswith('mnist_deep: error: ')]
  assert len(errors) == 1 and log_dir in errors[0], proc.stderr
  assert 'Graph execution error' not in errors[0]


def test_a_signal_inside_tensorflows_own_error_is_still_a_stop():
  script = ('from mnist import training\n' + SIGNAL_INSIDE_TF_ERROR +
            "with training.program('demo'):\n  main()\n")
  proc = run_program(['-c', script], check=False)
  assert proc.stderr == ('demo: stopped by SIGTERM before training started; '
                         'nothing was saved.\n'), proc.stderr
  assert proc.returncode == 128 + signal.SIGTERM
