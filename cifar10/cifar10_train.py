"""A binary to train CIFAR-10 using a single CPU or GPU.

Accuracy:
cifar10_train.py reaches about 0.86 precision after 100K steps (256 epochs of
data) as judged by cifar10_eval.py.

Speed: With batch_size 128.

System                 | Step Time (sec/batch)  |     Accuracy
------------------------------------------------------------------
1 Tesla K20m           | 0.35-0.60              | ~0.86 at 60K steps  (5 hours)
1 Tesla K40m           | 0.25-0.35              | ~0.86 at 100K steps (4 hours)
(historical, TensorFlow 0.x; README.md has this project's measurements)

Usage:
  python cifar10_train.py --max_steps 1000      # resumes from --train_dir
  python cifar10_train.py --fresh               # starts again from step 0
  tensorboard --logdir /tmp/cifar10_train

Ctrl-C or SIGTERM stops after the current step and saves a checkpoint.
"""

import os
import sys

if __name__ == '__main__' and not __package__:
  # Run as `python cifar10_train.py`: this folder is first on sys.path and its
  # cifar10.py would shadow the cifar10 package, so start from the repo root.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # hide C++ notices

from datetime import datetime
import signal
import tempfile
import threading
import time

from absl import app
from absl import flags
import tensorflow as tf

from cifar10 import cifar10

tf1 = tf.compat.v1
FLAGS = flags.FLAGS

flags.DEFINE_string('train_dir', '/tmp/cifar10_train',
                    'Directory where to write event logs and checkpoint.')
flags.DEFINE_integer('max_steps', 1000000, 'Number of batches to run.')
flags.DEFINE_boolean('log_device_placement', False,
                     'Whether to log device placement.')
flags.DEFINE_integer('log_frequency', 10,
                     'How often to log results to the console.')
flags.DEFINE_boolean('fresh', False,
                     'Delete --train_dir first and start from step 0 (the '
                     'original always did; by default training resumes from '
                     'the last checkpoint).')
flags.DEFINE_integer('save_checkpoint_secs', 600,
                     'Seconds between checkpoints (one is also saved at the '
                     'end and on Ctrl-C/SIGTERM).')
flags.DEFINE_integer('save_summaries_steps', 100,
                     'Steps between TensorBoard summaries.')


class LoggerHook(tf1.train.SessionRunHook):
  """Logs loss and runtime every log_frequency steps."""

  def __init__(self, loss, batch_size, log_frequency):
    self._loss = loss
    self._batch_size = batch_size
    self._log_frequency = log_frequency

  def after_create_session(self, session, coord):
    del coord
    self._step = session.run(tf1.train.get_global_step())
    self._steps_since_log = 0
    self._start_time = time.time()

  def before_run(self, run_context):
    del run_context
    return tf1.train.SessionRunArgs(self._loss)

  def after_run(self, run_context, run_values):
    del run_context
    self._steps_since_log += 1
    if self._step % self._log_frequency == 0:
      current_time = time.time()
      duration = current_time - self._start_time
      # Averaged over the steps since the last line (log_frequency of them,
      # except at the first line).
      examples_per_sec = self._steps_since_log * self._batch_size / duration
      sec_per_batch = duration / self._steps_since_log
      print('%s: step %d, loss = %.2f (%.1f examples/sec; %.3f sec/batch)' % (
          datetime.now(), self._step, run_values.results, examples_per_sec,
          sec_per_batch))
      sys.stdout.flush()
      self._start_time = current_time
      self._steps_since_log = 0
    self._step += 1


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

  def _handle(self, signum, frame):
    del frame
    if self.signal_name and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.signal_name = signal.Signals(signum).name

  def begin(self):
    # Handlers can only be installed from the main thread.
    if threading.current_thread() is threading.main_thread():
      for signum in (signal.SIGINT, signal.SIGTERM):
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


def prepare_train_dir(train_dir, fresh=False):
  """Makes sure train_dir can be written; with fresh, empties it first.

  Args:
    train_dir: where checkpoints and summaries go.
    fresh: delete what is there (only if it looks like a training directory).

  Raises:
    OSError: the directory cannot be created or written.
    ValueError: fresh was asked for a folder that holds no checkpoint or
      event files (refused, so a typo cannot wipe an unrelated folder).
  """
  if fresh and tf1.gfile.Exists(train_dir):
    names = tf1.gfile.ListDirectory(train_dir)
    if names and not any(n == 'checkpoint' or n.startswith('events.out') or
                         n.startswith('model.ckpt') for n in names):
      raise ValueError('--fresh refused: %s holds no checkpoint or event '
                       'files, so it does not look like a training '
                       'directory' % train_dir)
    print('Deleting %s (--fresh).' % train_dir)
    tf1.gfile.DeleteRecursively(train_dir)
  try:
    os.makedirs(train_dir, exist_ok=True)
    with tempfile.TemporaryFile(dir=train_dir):
      pass
  except OSError as e:
    raise OSError('cannot write to --train_dir %s: %s' % (
        train_dir, e.strerror or e)) from e


def train(train_dir, max_steps, data_dir=None, batch_size=None,
          log_frequency=10, log_device_placement=False, pipeline=None,
          use_fp16=None, save_checkpoint_secs=600, save_summaries_steps=100,
          fresh=False, model=None):
  """Train CIFAR-10 for a number of steps, resuming from train_dir.

  Args:
    train_dir: where checkpoints, summaries and the graph are written.
    max_steps: the global step to stop at.
    data_dir, batch_size, pipeline, use_fp16: see cifar10.distorted_inputs
      (None: the flag's value).
    log_frequency: steps between log lines.
    log_device_placement: log the device of every op.
    save_checkpoint_secs: seconds between checkpoints.
    save_summaries_steps: steps between summaries.
    fresh: delete train_dir first and start from step 0.
    model: 'cifar10' or 'vgg16' (None: --model).

  Returns:
    The global step reached.

  Raises:
    OSError: train_dir cannot be written.
    ValueError: the data is missing or malformed.
  """
  prepare_train_dir(train_dir, fresh)
  batch_size = batch_size or FLAGS['batch_size'].value
  with tf.Graph().as_default():
    global_step = tf1.train.get_or_create_global_step()

    # Force input pipeline to CPU:0 to avoid operations sometimes ending up on
    # GPU and resulting in a slow down.
    with tf.device('/cpu:0'):
      images, labels = cifar10.distorted_inputs(data_dir, batch_size,
                                                pipeline, use_fp16)

    # Build a Graph that computes the logits predictions from the
    # inference model.
    logits = cifar10.inference(images, model)
    loss = cifar10.loss(logits, labels)
    train_op = cifar10.train(loss, global_step, batch_size)

    stop_on_signal = StopOnSignalHook()
    hooks = [tf1.train.StopAtStepHook(last_step=max_steps),
             tf1.train.NanTensorHook(loss),
             LoggerHook(loss, batch_size, log_frequency),
             stop_on_signal]
    print('Writing checkpoints and summaries to %s' % train_dir)
    print('Watch training with: tensorboard --logdir %s' % train_dir)
    sys.stdout.flush()
    config = tf1.ConfigProto(log_device_placement=log_device_placement)
    try:
      with tf1.train.MonitoredTrainingSession(
          checkpoint_dir=train_dir, hooks=hooks, config=config,
          save_checkpoint_secs=save_checkpoint_secs,
          save_summaries_steps=save_summaries_steps,
          log_step_count_steps=save_summaries_steps) as mon_sess:
        step = mon_sess.run_step_fn(
            lambda step_context: step_context.session.run(global_step))
        if step >= max_steps:
          print('The checkpoint in %s is at step %d, which reaches '
                '--max_steps %d: nothing to train. Raise --max_steps to go '
                'on, or pass --fresh to start again.'
                % (train_dir, step, max_steps))
        elif step:
          print('Resuming from the checkpoint at step %d.' % step)
        # StopAtStepHook only checks after a step, so a session resumed at
        # max_steps would otherwise run one step too many.
        while step < max_steps and not mon_sess.should_stop():
          mon_sess.run(train_op)
    except tf1.train.NanLossDuringTrainingError as e:
      # NanTensorHook's own message gives no hint of what to try.
      raise ValueError('the loss became NaN (training diverged) after step '
                       '%d. Try a smaller learning rate or batch size, check '
                       'the input data, or resume from the last checkpoint '
                       'in %s (saved before the NaN).' % (
                           tf1.train.load_variable(train_dir, 'global_step'),
                           train_dir)) from e
  # The session saved a final checkpoint as it closed.
  step = tf1.train.load_variable(train_dir, 'global_step')
  if stop_on_signal.signal_name:
    print('Stopped by %s at step %d; the checkpoint is in %s.' % (
        stop_on_signal.signal_name, step, train_dir))
  return step


def main(argv):
  del argv  # Unused.
  tf.get_logger().setLevel('ERROR')
  try:
    cifar10.maybe_download_and_extract()
    train(FLAGS.train_dir, FLAGS.max_steps, FLAGS.data_dir, FLAGS.batch_size,
          FLAGS.log_frequency, FLAGS.log_device_placement,
          FLAGS.input_pipeline, FLAGS.use_fp16, FLAGS.save_checkpoint_secs,
          FLAGS.save_summaries_steps, FLAGS.fresh, FLAGS.model)
  except (OSError, ValueError, tf.errors.OpError) as e:
    sys.exit(cifar10.error_line('cifar10_train', e))


def run():
  """Entry point of the cifar10_train console script."""
  app.run(main)


if __name__ == '__main__':
  run()
