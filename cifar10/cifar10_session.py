"""The training session every CIFAR-10 trainer runs its train op in.

cifar10_train, cifar10_multi_gpu_train and cifar10_distributed_train build
different graphs, then train them the same way: here.

Summary of available functions:

 # Run train_op until the global step reaches max_steps: train_dir locked
 # for this trainer (train_folder), resumed from its newest intact
 # checkpoint, a MonitoredTrainingSession with the step-limit, NaN, logging
 # and Ctrl-C/SIGTERM hooks, the TensorBoard hint, advice on divergence and
 # the final message. The session's settings come as one piece:
 settings = session_settings(FLAGS)    # {'train_dir': ..., ...}
 result = run_training(train_op, loss, batch_size, mode=mode, **settings)
 result.step, result.local_steps, result.signal_name

 # Its hooks, for graphs that train elsewhere (the parameter servers).
 LoggerHook(loss, batch_size, log_frequency), StopOnSignalHook()

The training session's flags, shared by the three trainers, are defined
here; the programs' main() functions read them (session_settings).
"""

import collections
import contextlib
from datetime import datetime
import signal
import sys
import threading
import time

from absl import flags
import numpy as np
import tensorflow as tf

from cifar10 import checkpoint_files
from cifar10 import cifar10_cli
from cifar10 import mixed_precision as mixed_precision_lib
from cifar10 import train_folder

tf1 = tf.compat.v1
FLAGS = flags.FLAGS

# Where checkpoints and summaries go (\\tmp\\cifar10_train on Windows).
TRAIN_DIR = cifar10_cli.tmp_dir('cifar10_train')
MAX_STEPS = 1000000  # The original's default number of batches to run.
LOG_FREQUENCY = 10  # Steps between log lines.
SAVE_CHECKPOINT_SECS = 600  # Seconds between checkpoints.
SAVE_SUMMARIES_STEPS = 100  # Steps between TensorBoard summaries.

# A kernel may run this file again (importlib.reload): its flags anew.
cifar10_cli.forget_earlier_copy('cifar10_session')
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
    self.restore()

  def restore(self):
    """Puts back the handlers begin() replaced (again: does nothing).

    The session calls end() only when it closes normally; after an error
    (a NaN loss, a damaged file) the caller's finally calls this, so that
    a library caller's process keeps its own Ctrl-C handling.
    """
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous = {}


class NonFiniteLossHook(tf1.train.SessionRunHook):
  """Stops training when the loss becomes NaN or infinite, quietly.

  TensorFlow's NanTensorHook also logs 'Model diverged with loss = NaN.',
  twice (its logger and absl's), before the trainer's own line; this raises
  LossDiverged and leaves the telling to run_training. It checks infinity
  too, a step before the NaN that follows it.
  """

  def __init__(self, loss):
    self._loss = loss

  def before_run(self, run_context):
    del run_context
    return tf1.train.SessionRunArgs(self._loss)

  def after_run(self, run_context, run_values):
    del run_context
    if not np.isfinite(run_values.results):
      raise LossDiverged(float(run_values.results))


class LossDiverged(Exception):
  """The loss became NaN or infinite; value is what it became."""

  def __init__(self, value):
    super().__init__(value)
    self.value = value


def session_settings(flag_values=FLAGS):
  """The session's settings from the parsed flags defined in this module.

  What a trainer passes on whole to run_training (train_dir, max_steps,
  log_frequency, log_device_placement, fresh, save_checkpoint_secs,
  save_summaries_steps): a flag defined here reaches it with no other
  change.

  Args:
    flag_values: parsed absl flags.

  Returns:
    {flag name: value}.
  """
  return {f.name: f.value for f in flag_values.get_flags_for_module(
      sys.modules[__name__])}


def run_training(train_op, loss, batch_size, *, mode='float32', config=None,
                 hooks=(), scaffold=None, master='', is_chief=True,
                 worker=None, stop_grace_period_secs=120,
                 train_dir=TRAIN_DIR, max_steps=MAX_STEPS,
                 log_frequency=LOG_FREQUENCY, log_device_placement=False,
                 fresh=False, save_checkpoint_secs=SAVE_CHECKPOINT_SECS,
                 save_summaries_steps=SAVE_SUMMARIES_STEPS):
  """Runs train_op until the global step reaches max_steps.

  The chief first takes train_dir for itself (train_folder.prepare_train_dir:
  a second trainer is refused) and resumes from its newest intact
  checkpoint. It saves a checkpoint every save_checkpoint_secs, when
  training ends and when Ctrl-C or SIGTERM stops it (after the current
  step), and writes the summaries every save_summaries_steps.

  Args:
    train_op: one training step.
    loss: the loss to log and to check for NaN or infinity.
    batch_size: images per step (all towers'), for examples/sec.
    mode: the arithmetic, from mixed_precision.choose(): 'float32',
      'bfloat16' or 'float16' (whose train op was built with
      mixed_precision.loss_scale_optimizer).
    config: the session's tf.compat.v1.ConfigProto.
    hooks: more SessionRunHooks (a SyncReplicasOptimizer's).
    scaffold: a tf.compat.v1.train.Scaffold (e.g. with a summary_op).
    master: the server to run on ('' in this process).
    is_chief: this process locks train_dir, initializes, restores, saves.
    worker: a distributed worker's index: its log lines name it and count
      its own steps.
    stop_grace_period_secs: how long closing waits for the session's
      threads.
    train_dir, max_steps, log_frequency, log_device_placement, fresh,
      save_checkpoint_secs, save_summaries_steps: the session's settings,
      as their flags (session_settings) describe them.

  Returns:
    TrainingResult(step, local_steps, signal_name): the global step of the
    chief's final checkpoint (None in other workers), the steps run here, and
    the signal that stopped training early, if any.

  Raises:
    OSError: (chief) train_dir cannot be written.
    ValueError: (chief) another trainer holds train_dir, or its checkpoints
      are damaged beyond use (see checkpoint_files.latest_intact); or the
      loss became NaN or infinite (with advice what to try).
  """
  config = mixed_precision_lib.session_config(mode, config)
  config.log_device_placement |= log_device_placement
  if mode == 'float16':
    mixed_precision_lib.keep_loss_scale_out_of_checkpoints()
  stop_on_signal = StopOnSignalHook()
  logger = LoggerHook(loss, batch_size, log_frequency, worker)
  all_hooks = list(hooks) + [tf1.train.StopAtStepHook(last_step=max_steps),
                             NonFiniteLossHook(loss), logger, stop_on_signal]
  folder = (train_folder.prepare_train_dir(train_dir, fresh) if is_chief
            else contextlib.nullcontext())
  with folder:
    if is_chief:
      _announce(train_dir)
    try:
      with tf1.train.MonitoredTrainingSession(
          master=master, is_chief=is_chief,
          checkpoint_dir=train_dir if is_chief else None, scaffold=scaffold,
          hooks=all_hooks, config=config,
          save_checkpoint_secs=save_checkpoint_secs,
          save_summaries_steps=save_summaries_steps,
          log_step_count_steps=save_summaries_steps,
          stop_grace_period_secs=stop_grace_period_secs) as mon_sess:
        _train(mon_sess, train_op, train_dir, max_steps, worker)
    except LossDiverged as e:
      raise ValueError(_divergence_advice(e.value, train_dir,
                                          logger.step_text())) from None
    finally:
      stop_on_signal.restore()
  if not is_chief:
    return TrainingResult(None, logger.local_steps,
                          stop_on_signal.signal_name)
  # The session saved a final checkpoint as it closed.
  step = int(tf1.train.load_variable(train_dir, 'global_step'))
  if stop_on_signal.signal_name:
    print('Stopped by %s at step %d; the checkpoint is in %s.' % (
        stop_on_signal.signal_name, step, train_dir))
  return TrainingResult(step, logger.local_steps, stop_on_signal.signal_name)


def _announce(train_dir):
  """Checks train_dir's checkpoints first, then says where training writes."""
  # TensorFlow would take a damaged checkpoint file for "no checkpoint" and
  # start again from step 0: look first.
  checkpoint_files.latest_intact(train_dir)
  print('Writing checkpoints and summaries to %s' % train_dir)
  print('Watch training with: tensorboard --logdir %s'
        % cifar10_cli.command_path(train_dir))
  sys.stdout.flush()


def _train(mon_sess, train_op, train_dir, max_steps, worker):
  """Says where training starts from, then runs train_op to max_steps."""
  step = mon_sess.run_step_fn(lambda step_context: step_context.session.run(
      tf1.train.get_global_step()))
  if step >= max_steps:
    print('The checkpoint in %s is at step %d, which reaches --max_steps %d: '
          'nothing to train. Raise --max_steps to go on, or pass --fresh to '
          'start again.' % (train_dir, step, max_steps))
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


def _divergence_advice(value, train_dir, where):
  return ('the loss became %s (training diverged) at %s. Try a smaller '
          'learning rate or batch size, check the input data, or resume '
          'from the last checkpoint in %s (saved before the %s).' % (
              'NaN' if np.isnan(value) else 'infinite', where, train_dir,
              'NaN' if np.isnan(value) else 'overflow'))
