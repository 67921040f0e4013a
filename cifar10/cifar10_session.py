"""The training session every CIFAR-10 trainer runs its train op in.

cifar10_train, cifar10_multi_gpu_train and cifar10_distributed_train build
different graphs, then train them the same way: here.

Summary of available functions:

 # Lock --train_dir for this trainer (a second one is refused), make sure
 # it can be written (with fresh: empty it first).
 with prepare_train_dir(train_dir, fresh=False): ...

 # Run train_op until the global step reaches max_steps, resuming from the
 # newest checkpoint in train_dir: a MonitoredTrainingSession with the
 # step-limit, NaN, logging and Ctrl-C/SIGTERM hooks, the TensorBoard hint,
 # NaN advice and the final message.
 result = run_training(train_op, loss, train_dir, max_steps, batch_size)
 result.step, result.local_steps, result.signal_name

 # Its hooks, for graphs that train elsewhere (the parameter servers).
 LoggerHook(loss, batch_size, log_frequency), StopOnSignalHook()

The training flags shared by the three trainers are defined here; only the
programs' main() functions read them.
"""

import collections
from datetime import datetime
import os
import signal
import socket
import sys
import tempfile
import threading
import time

from absl import flags
import tensorflow as tf

try:
  import fcntl  # POSIX: flock.
except ImportError:  # Windows: a byte-range lock through the C runtime.
  fcntl = None
  import msvcrt

from cifar10 import checkpoint_files
from cifar10 import cifar10_cli
from cifar10 import mixed_precision as mixed_precision_lib

tf1 = tf.compat.v1

# Where checkpoints and summaries go (\\tmp\\cifar10_train on Windows).
TRAIN_DIR = cifar10_cli.tmp_dir('cifar10_train')
MAX_STEPS = 1000000  # The original's default number of batches to run.
LOG_FREQUENCY = 10  # Steps between log lines.
SAVE_CHECKPOINT_SECS = 600  # Seconds between checkpoints.
SAVE_SUMMARIES_STEPS = 100  # Steps between TensorBoard summaries.
LOCK_FILE = '.trainer.lock'  # Locked by the one trainer of a folder.
# Windows locks a range of bytes, which then no other process may read: the
# lock is on one byte far past the holder's line, which stays readable.
WINDOWS_LOCK_OFFSET = 1 << 30

flags.DEFINE_string('train_dir', TRAIN_DIR,
                    'Directory where to write event logs and checkpoint.')
flags.DEFINE_integer('max_steps', MAX_STEPS, 'Number of batches to run.',
                     lower_bound=0)
flags.DEFINE_boolean('log_device_placement', False,
                     'Whether to log device placement.')
flags.DEFINE_integer('log_frequency', LOG_FREQUENCY,
                     'How often to log results to the console.',
                     lower_bound=1)
flags.DEFINE_boolean('fresh', False,
                     'Delete --train_dir first and start from step 0 (the '
                     'original always did; by default training resumes from '
                     'the last checkpoint).')
flags.DEFINE_integer('save_checkpoint_secs', SAVE_CHECKPOINT_SECS,
                     'Seconds between checkpoints (one is also saved at the '
                     'end and on Ctrl-C/SIGTERM).', lower_bound=1)
flags.DEFINE_integer('save_summaries_steps', SAVE_SUMMARIES_STEPS,
                     'Steps between TensorBoard summaries.', lower_bound=1)

# What run_training returns: the global step reached, the steps this process
# ran, and the signal that stopped training early ('SIGINT', 'SIGTERM') or
# None.
TrainingResult = collections.namedtuple(
    'TrainingResult', ['step', 'local_steps', 'signal_name'])


class LoggerHook(tf1.train.SessionRunHook):
  """Logs loss and runtime every log_frequency steps.

  One device (or the towers together) counts the global step:
    <time>: step 20, loss = 4.12 (812.3 examples/sec; 0.158 sec/batch)
  A distributed worker (worker=its index) counts its own steps, since the
  others move the global step too:
    <time>: worker 1: step 20 (global step 41), loss = 4.12 (...)
  """

  def __init__(self, loss, batch_size, log_frequency, worker=None):
    self._loss = loss
    self._batch_size = batch_size
    self._log_frequency = log_frequency
    self._worker = worker
    self.local_steps = 0  # Steps this process ran.

  def begin(self):
    self._global_step = tf1.train.get_global_step()

  def after_create_session(self, session, coord):  # Also after a recovery.
    del coord
    if self._worker is None:
      self._step = session.run(self._global_step)
    self._steps_since_log = 0
    self._start_time = time.time()

  def before_run(self, run_context):
    del run_context
    return tf1.train.SessionRunArgs([self._loss, self._global_step])

  def after_run(self, run_context, run_values):
    del run_context
    self._steps_since_log += 1
    step = self.local_steps if self._worker is not None else self._step
    if step % self._log_frequency == 0:
      loss_value, global_step = run_values.results
      current_time = time.time()
      duration = current_time - self._start_time
      # Averaged over the steps since the last line (log_frequency of them,
      # except at the first line).
      examples_per_sec = self._steps_since_log * self._batch_size / duration
      sec_per_batch = duration / self._steps_since_log
      if self._worker is None:
        where = 'step %d' % step
      else:
        where = 'worker %d: step %d (global step %d)' % (self._worker, step,
                                                         global_step)
      print('%s: %s, loss = %.2f (%.1f examples/sec; %.3f sec/batch)' % (
          datetime.now(), where, loss_value, examples_per_sec,
          sec_per_batch))
      sys.stdout.flush()
      self._start_time = current_time
      self._steps_since_log = 0
    self.local_steps += 1
    if self._worker is None:
      self._step += 1

  def step_text(self):
    """The step being run, for messages: 'step 57' or 'worker 1's step 3'."""
    if self._worker is None:
      return 'step %d' % self._step
    return 'worker %d\'s step %d' % (self._worker, self.local_steps)


class StopOnSignalHook(tf1.train.SessionRunHook):
  """Turns Ctrl-C and SIGTERM into a clean stop after the current step.

  MonitoredTrainingSession saves a final checkpoint when it closes normally,
  but not when an exception (KeyboardInterrupt) unwinds it; so the signal only
  sets a flag and the session stops at a step boundary. A second Ctrl-C
  interrupts at once.
  """

  def __init__(self):
    self.signal_name = None
    self._previous = {}

  def _handle(self, signum, frame):  # Ctrl-C, SIGTERM, Ctrl+Break.
    del frame
    if self.signal_name and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.signal_name = signal.Signals(signum).name

  def begin(self):
    # Handlers can only be installed from the main thread.
    if threading.current_thread() is threading.main_thread():
      for signum in cifar10_cli.SIGNALS:
        self._previous[signum] = signal.signal(signum, self._handle)

  def after_run(self, run_context, run_values):
    del run_values
    if self.signal_name:
      print('Received %s: stopping and saving a checkpoint (Ctrl-C again to '
            'quit at once).' % self.signal_name)
      sys.stdout.flush()
      run_context.request_stop()

  def end(self, session):
    del session
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous = {}


def _lock(fd):
  """Locks an open file for this process, or raises OSError if another has.

  An operating-system lock: the system drops it when its process ends,
  however it ends (kill -9, a closed console window, a crash).
  """
  if fcntl:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  else:
    os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def _unlock(fd):
  if fcntl:
    fcntl.flock(fd, fcntl.LOCK_UN)
  else:
    os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


class TrainDirLock(object):
  """The one trainer of a train_dir holds this: a lock on a file in it.

  An operating-system lock (flock on POSIX, a byte-range lock on Windows),
  which the system drops when its process ends, however it ends: a dead
  trainer never leaves a stale lock behind. The file says who holds it,
  for the refusal message. A context manager; release() unlocks.
  """

  def __init__(self, train_dir):
    self.path = os.path.join(train_dir, LOCK_FILE)
    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
      _lock(self._fd)
    except OSError:
      os.close(self._fd)
      self._fd = None
      try:
        with open(self.path, encoding='utf-8', errors='replace') as f:
          holder = f.read(200).strip()
      except OSError:
        holder = ''
      raise ValueError(
          'another trainer is using --train_dir %s (%s): wait for it to '
          'finish or stop it, or use another --train_dir' % (
              train_dir, holder or 'another process')) from None
    os.ftruncate(self._fd, 0)
    os.lseek(self._fd, 0, os.SEEK_SET)
    os.write(self._fd, ('pid %d, %s on %s, since %s' % (
        os.getpid(), os.path.basename(sys.argv[0] or 'python'),
        socket.gethostname(), datetime.now().strftime('%Y-%m-%d %H:%M:%S'))
                        ).encode('utf-8'))

  def release(self):
    if self._fd is not None:
      fd, self._fd = self._fd, None
      try:
        _unlock(fd)
      finally:
        os.close(fd)

  def __enter__(self):
    return self

  def __exit__(self, *unused):
    self.release()


def prepare_train_dir(train_dir, fresh=False):
  """Locks train_dir for this trainer and makes sure it can be written.

  With fresh, what was there is deleted first (the folder and its lock
  stay, so no other trainer can slip in between).

  Args:
    train_dir: where checkpoints and summaries go.
    fresh: delete what is there (only if it looks like a training directory).

  Returns:
    The TrainDirLock; hold it while training (a `with` block).

  Raises:
    OSError: the directory cannot be created or written.
    ValueError: another trainer holds the folder; or fresh was asked for a
      folder that holds no checkpoint or event files (refused, so a typo
      cannot wipe an unrelated folder).
  """
  try:
    os.makedirs(train_dir, exist_ok=True)
    with tempfile.TemporaryFile(dir=train_dir):
      pass
    lock = TrainDirLock(train_dir)
  except OSError as e:
    raise OSError('cannot write to --train_dir %s: %s' % (
        train_dir, e.strerror or e)) from e
  if fresh:
    names = [n for n in os.listdir(train_dir) if n != LOCK_FILE]
    if names and not any(n.startswith(('checkpoint', 'events.out',
                                       'model.ckpt')) for n in names):
      lock.release()
      raise ValueError('--fresh refused: %s holds no checkpoint or event '
                       'files, so it does not look like a training '
                       'directory' % train_dir)
    if names:
      print('Deleting %s (--fresh).' % train_dir)
    for name in names:
      path = os.path.join(train_dir, name)
      if os.path.isdir(path) and not os.path.islink(path):
        tf1.gfile.DeleteRecursively(path)
      else:
        os.remove(path)
  return lock


def _nan_advice(train_dir, where):
  # NanTensorHook's own message gives no hint of what to try.
  return ('the loss became NaN (training diverged) at %s. Try a smaller '
          'learning rate or batch size, check the input data, or resume '
          'from the last checkpoint in %s (saved before the NaN).'
          % (where, train_dir))


def run_training(train_op, loss, train_dir, max_steps, batch_size,
                 log_frequency=LOG_FREQUENCY, hooks=(), scaffold=None,
                 config=None, save_checkpoint_secs=SAVE_CHECKPOINT_SECS,
                 save_summaries_steps=SAVE_SUMMARIES_STEPS, master='',
                 is_chief=True, worker=None, stop_grace_period_secs=120,
                 mode='float32'):
  """Runs train_op until the global step reaches max_steps.

  Resumes from the newest checkpoint in train_dir. The chief saves a
  checkpoint every save_checkpoint_secs, when training ends and when
  Ctrl-C or SIGTERM stops it (after the current step), and writes the
  summaries every save_summaries_steps.

  Args:
    train_op: one training step.
    loss: the loss to log and to check for NaN.
    train_dir: where the chief writes checkpoints and summaries.
    max_steps: the global step to stop at.
    batch_size: images per step (all towers'), for examples/sec.
    log_frequency: steps between log lines.
    hooks: more SessionRunHooks (a SyncReplicasOptimizer's).
    scaffold: a tf.compat.v1.train.Scaffold (e.g. with a summary_op).
    config: the session's tf.compat.v1.ConfigProto.
    save_checkpoint_secs, save_summaries_steps: the chief's intervals.
    master: the server to run on ('' in this process).
    is_chief: this process initializes, restores and saves.
    worker: a distributed worker's index: its log lines name it and count
      its own steps.
    stop_grace_period_secs: how long closing waits for the session's
      threads.
    mode: the arithmetic, from mixed_precision.choose(): 'float32',
      'bfloat16' or 'float16' (whose train op was built with
      mixed_precision.loss_scale_optimizer).

  Returns:
    TrainingResult(step, local_steps, signal_name): the global step of the
    chief's final checkpoint (None in other workers), the steps run here, and
    the signal that stopped training early, if any.

  Raises:
    ValueError: the loss became NaN (with advice what to try), or the
      checkpoints in train_dir are damaged beyond use (see
      checkpoint_files.latest_intact).
  """
  global_step = tf1.train.get_global_step()
  config = mixed_precision_lib.session_config(mode, config)
  if mode == 'float16':
    mixed_precision_lib.keep_loss_scale_out_of_checkpoints()
  stop_on_signal = StopOnSignalHook()
  logger = LoggerHook(loss, batch_size, log_frequency, worker)
  all_hooks = list(hooks) + [
      tf1.train.StopAtStepHook(last_step=max_steps),
      tf1.train.NanTensorHook(loss),
      logger, stop_on_signal]
  if is_chief:
    # TensorFlow would take a damaged checkpoint file for "no checkpoint"
    # and start again from step 0: look first.
    checkpoint_files.latest_intact(train_dir)
    print('Writing checkpoints and summaries to %s' % train_dir)
    print('Watch training with: tensorboard --logdir %s'
          % cifar10_cli.command_path(train_dir))
    sys.stdout.flush()
  try:
    with tf1.train.MonitoredTrainingSession(
        master=master, is_chief=is_chief,
        checkpoint_dir=train_dir if is_chief else None, scaffold=scaffold,
        hooks=all_hooks, config=config,
        save_checkpoint_secs=save_checkpoint_secs,
        save_summaries_steps=save_summaries_steps,
        log_step_count_steps=save_summaries_steps,
        stop_grace_period_secs=stop_grace_period_secs) as mon_sess:
      step = mon_sess.run_step_fn(
          lambda step_context: step_context.session.run(global_step))
      if step >= max_steps:
        print('The checkpoint in %s is at step %d, which reaches '
              '--max_steps %d: nothing to train. Raise --max_steps to go '
              'on, or pass --fresh to start again.'
              % (train_dir, step, max_steps))
      elif worker is not None:
        print('Worker %d: training from global step %d to --max_steps %d.'
              % (worker, step, max_steps))
      elif step:
        print('Resuming from the checkpoint at step %d.' % step)
      sys.stdout.flush()
      # StopAtStepHook only checks after a step, so a session resumed at
      # max_steps would otherwise run one step too many.
      while step < max_steps and not mon_sess.should_stop():
        mon_sess.run(train_op)
  except tf1.train.NanLossDuringTrainingError as e:
    raise ValueError(_nan_advice(train_dir, logger.step_text())) from e
  if not is_chief:
    return TrainingResult(None, logger.local_steps,
                          stop_on_signal.signal_name)
  # The session saved a final checkpoint as it closed.
  step = int(tf1.train.load_variable(train_dir, 'global_step'))
  if stop_on_signal.signal_name:
    print('Stopped by %s at step %d; the checkpoint is in %s.' % (
        stop_on_signal.signal_name, step, train_dir))
  return TrainingResult(step, logger.local_steps, stop_on_signal.signal_name)
