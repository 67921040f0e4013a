"""Trains and evaluates the MNIST network using a feed dictionary.

A two-hidden-layer network (784-128-32-10) trained with plain gradient
descent on batches fed through placeholders. After the default 2000 steps it
reaches about 0.90 test precision (typically 0.900-0.906; here 0.9016 +-
0.0026 over 10 runs).

Speed (scripts/benchmark_mnist.py, median of 3; TensorFlow 2.21 CPU, a
2-core Xeon VM shared with other jobs):

  Machine load     Wall time, 2000 steps + 2 evals   Training steps/sec
  load avg 3.5     9.8 s                             574
  load avg 6.8     29.3 s                            192

Usage:
  python fully_connected_feed.py [--max_steps=10000] [--fake_data]
  tensorboard --logdir /tmp/tensorflow/mnist/logs/fully_connected_feed

Every 100 steps it prints `Step N: loss = L (S sec)` and writes the loss
summary; every 1000 steps and at the end it saves `model.ckpt-<step>` in
--log_dir and prints the precision on the training, validation and test sets.
--log_dir is emptied first (if it holds only this program's files), as the
original did; the `tensorboard --logdir` line to watch it goes to stderr.

Ctrl-C or SIGTERM stops training after the current step, saves a
checkpoint and says so (`Stopped by SIGTERM at step N; the checkpoint is
in DIR.`, exit status 0); before training starts it ends the program with
one line. A loss that becomes NaN or infinite stops the run with advice.

Library use (the program is a thin layer over this):

 images_pl, labels_pl = placeholder_inputs()
 feed_dict = fill_feed_dict(data_set, images_pl, labels_pl, batch_size)
 num_examples, true_count, precision = do_eval(sess, eval_correct, ...)
 results = run_training(input_data_dir, log_dir, max_steps=2000, ...)
"""

import os
import shutil
import sys
import time

if __name__ == '__main__' and not __package__:
  # Run as a file in mnist/ (`python prog.py`, or `%run prog.py` in a
  # kernel), where mnist.py would shadow the package: the folder above first.
  _HERE = os.path.dirname(os.path.abspath(__file__))
  if sys.path[0] == _HERE:  # Python (and %run) put this folder first.
    del sys.path[0]
  if sys.path[0] != os.path.dirname(_HERE):
    sys.path.insert(0, os.path.dirname(_HERE))
from mnist import commands
from mnist import int_at_least
from mnist import new_parser
from mnist import parse_flags
from mnist import tmp_dir

PROG = 'fully_connected_feed'


def _parser():
  parser = new_parser(PROG, __doc__)
  parser.add_argument('--learning_rate', type=float, default=0.01,
                      help='Initial learning rate.')
  parser.add_argument('--max_steps', type=int_at_least(0), default=2000,
                      help='Number of steps to run trainer.')
  parser.add_argument('--hidden1', type=int_at_least(1), default=128,
                      help='Number of units in hidden layer 1.')
  parser.add_argument('--hidden2', type=int_at_least(1), default=32,
                      help='Number of units in hidden layer 2.')
  parser.add_argument('--batch_size', type=int_at_least(1), default=100,
                      help='Batch size (any size: evaluation counts every '
                      'example).')
  parser.add_argument('--input_data_dir', type=str,
                      default=tmp_dir('tensorflow', 'mnist', 'input_data',
                                      root=os.getenv('TEST_TMPDIR')),
                      help='Directory to put the input data.')
  parser.add_argument('--log_dir', type=str,
                      default=tmp_dir('tensorflow', 'mnist', 'logs',
                                      'fully_connected_feed',
                                      root=os.getenv('TEST_TMPDIR')),
                      help='Directory to put the log data (emptied first).')
  parser.add_argument('--fake_data', default=False, action='store_true',
                      help='If true, uses fake data for unit testing.')
  return parser


# Before TensorFlow loads: Ctrl-C, --help and bad flags answered at once.
commands.start_program(__name__, PROG, lambda: parse_flags(_parser()))

import tensorflow as tf

from mnist import input_data
from mnist import mnist
from mnist import training

tf1 = tf.compat.v1

# Examples per session run in do_eval: 3x faster than the training batch of
# 100 here (0.6 s instead of 1.8 s for the 70,000), while memory stays small
# (feeding a whole split at once is what ran out of memory for some users).
EVAL_BATCH_SIZE = 1000
SUMMARY_EVERY = 100  # Steps between a printed loss and a written summary.
CHECKPOINT_EVERY = 1000  # Steps between checkpoints and evaluations.
# What this program writes into --log_dir; anything else there means the
# folder is not a previous log_dir, and it is not deleted.
_OWN_FILES = ('checkpoint', 'model.ckpt-', 'events.out.tfevents.')


def placeholder_inputs(batch_size=None):
  """Generates placeholder variables to represent the input tensors.

  These placeholders are used as inputs by the rest of the model building
  code and are fed from the downloaded data in .run() calls below.

  Args:
    batch_size: the batch dimension; None (the default) accepts any batch,
      so the evaluation can feed a last, smaller batch.

  Returns:
    images_placeholder: float32 [batch_size, 784].
    labels_placeholder: int32 [batch_size].
  """
  images_placeholder = tf1.placeholder(
      tf.float32, shape=(batch_size, mnist.IMAGE_PIXELS), name='images')
  labels_placeholder = tf1.placeholder(tf.int32, shape=(batch_size,),
                                       name='labels')
  return images_placeholder, labels_placeholder


def fill_feed_dict(data_set, images_pl, labels_pl, batch_size,
                   fake_data=False):
  """Fills the feed_dict for one training step with the next batch.

  Args:
    data_set: the DataSet to draw from (its next_batch advances it).
    images_pl: the images placeholder, from placeholder_inputs().
    labels_pl: the labels placeholder, from placeholder_inputs().
    batch_size: examples in the batch.
    fake_data: feed fake examples instead.

  Returns:
    feed_dict: the feed dictionary mapping from placeholders to values.
  """
  images_feed, labels_feed = data_set.next_batch(batch_size, fake_data)
  return {images_pl: images_feed, labels_pl: labels_feed}


def do_eval(sess, eval_correct, images_placeholder, labels_placeholder,
            data_set, batch_size=EVAL_BATCH_SIZE):
  """Runs one evaluation against the full epoch of data and prints it.

  The examples are read from data_set.images/labels in order, not through
  next_batch, so evaluating the training set leaves its batch order alone;
  every example is counted once, the last smaller batch included.

  Args:
    sess: the session in which the model has been trained.
    eval_correct: the tensor that returns the number of correct predictions.
    images_placeholder: the images placeholder.
    labels_placeholder: the labels placeholder.
    data_set: the DataSet of images and labels to evaluate.
    batch_size: examples per session run.

  Returns:
    (num_examples, true_count, precision).
  """
  images, labels = data_set.images, data_set.labels
  num_examples = data_set.num_examples
  true_count = 0  # Counts the number of correct predictions.
  for start in range(0, num_examples, batch_size):
    end = start + batch_size
    true_count += int(sess.run(eval_correct, feed_dict={
        images_placeholder: images[start:end],
        labels_placeholder: labels[start:end]}))
  precision = float(true_count) / num_examples if num_examples else 0.0
  print('  Num examples: %d  Num correct: %d  Precision @ 1: %0.04f' %
        (num_examples, true_count, precision))
  return num_examples, true_count, precision


def run_training(input_data_dir, log_dir, learning_rate=0.01, max_steps=2000,
                 hidden1=128, hidden2=32, batch_size=100, fake_data=False,
                 data_sets=None):
  """Trains MNIST for a number of steps, with checkpoints and evaluations.

  Args:
    input_data_dir: folder of the four MNIST files (fetched when missing).
    log_dir: where summaries and checkpoints go (created if needed).
    learning_rate: initial learning rate of gradient descent.
    max_steps: number of steps to run the trainer.
    hidden1: number of units in hidden layer 1.
    hidden2: number of units in hidden layer 2.
    batch_size: training batch size.
    fake_data: train on fake data, for unit testing.
    data_sets: already read Datasets (as from input_data.read_data_sets),
      instead of reading input_data_dir. Their training set is advanced.

  Returns:
    dict with 'train', 'validation' and 'test' (the last precisions),
    'loss' (the last step's loss) and 'seconds' (time spent training,
    evaluations excluded).

  Raises:
    IOError, ValueError: the data files are missing and cannot be fetched,
      or are corrupt.
    FloatingPointError: the loss became NaN or infinite.
    training.Stopped: Ctrl-C or SIGTERM stopped training after a step; a
      checkpoint of that step was saved first.
  """
  # Get the sets of images and labels for training, validation, and test.
  if data_sets is None:
    data_sets = input_data.read_data_sets(input_data_dir, fake_data)
  results = {}

  # Tell TensorFlow that the model will be built into the default Graph.
  with tf.Graph().as_default():
    images_placeholder, labels_placeholder = placeholder_inputs()
    logits = mnist.inference(images_placeholder, hidden1, hidden2)
    loss = mnist.loss(logits, labels_placeholder)
    train_op = mnist.training(loss, learning_rate)
    eval_correct = mnist.evaluation(logits, labels_placeholder)
    summary = tf1.summary.merge_all()
    init = tf1.global_variables_initializer()
    saver = tf1.train.Saver()

    saved = 0  # The step of the last checkpoint.
    with training.StopOnSignal('the checkpoint is in %s' % log_dir) as stop, \
         tf1.Session() as sess:
      # The FileWriter also writes the graph, for TensorBoard's Graphs tab.
      summary_writer = tf1.summary.FileWriter(log_dir, sess.graph)
      sess.run(init)
      train_seconds = 0.0
      checkpoint_file = os.path.join(log_dir, 'model.ckpt')
      for step in range(max_steps):
        start_time = time.time()
        feed_dict = fill_feed_dict(data_sets.train, images_placeholder,
                                   labels_placeholder, batch_size, fake_data)
        if step % SUMMARY_EVERY == 0:
          # The summary comes from the same run as the update: no second
          # forward pass, and the logged loss is the printed one.
          _, loss_value, summary_str = sess.run([train_op, loss, summary],
                                                feed_dict=feed_dict)
        else:
          _, loss_value = sess.run([train_op, loss], feed_dict=feed_dict)
        duration = time.time() - start_time
        train_seconds += duration
        steps_done = step + 1
        training.check_loss(loss_value, step, learning_rate)

        if step % SUMMARY_EVERY == 0:
          print('Step %d: loss = %.2f (%.3f sec)' % (step, loss_value,
                                                     duration))
          summary_writer.add_summary(summary_str, step)
          summary_writer.flush()

        # Save a checkpoint and evaluate the model periodically.
        if steps_done % CHECKPOINT_EVERY == 0 or steps_done == max_steps:
          # Numbered by steps done (the original used the 0-based step,
          # giving model.ckpt-999 after 1000 steps).
          saver.save(sess, checkpoint_file, global_step=steps_done)
          saved = steps_done
          for name, title in (('train', 'Training'),
                              ('validation', 'Validation'),
                              ('test', 'Test')):
            print('%s Data Eval:' % title)
            results[name] = do_eval(sess, eval_correct, images_placeholder,
                                    labels_placeholder,
                                    getattr(data_sets, name))[2]
        if stop.requested:
          # Ctrl-C or SIGTERM: keep this step's model, skip the rest.
          if saved != steps_done:
            stop.announce('saving a checkpoint')
            saver.save(sess, checkpoint_file, global_step=steps_done)
          summary_writer.close()
          raise stop.stopped(steps_done)
      summary_writer.close()
      stop.finished(max_steps)
  if max_steps:
    print('Trained %d steps in %.1f sec (%.0f steps/sec), evaluations '
          'excluded.' % (max_steps, train_seconds,
                         max_steps / max(train_seconds, 1e-9)))
    results['loss'] = float(loss_value)
  results['seconds'] = train_seconds
  return results


def fresh_log_dir(log_dir):
  """Empties log_dir, as the original did, so each run starts from scratch.

  Only a folder holding nothing but this program's own files (checkpoints,
  event files) is removed, so a mistyped --log_dir cannot wipe real work.

  Args:
    log_dir: the folder for summaries and checkpoints.

  Raises:
    ValueError: log_dir holds files this program does not write.
    OSError: log_dir cannot be removed or created.
  """
  if os.path.isdir(log_dir):
    foreign = [n for n in sorted(os.listdir(log_dir))
               if not n.startswith(_OWN_FILES)]
    if foreign:
      raise ValueError(
          'refusing to empty --log_dir %s: it holds %s, which this program '
          'did not write; choose a new or empty folder' % (log_dir,
                                                          foreign[0]))
    print('Removing the previous run in %s' % log_dir)
    shutil.rmtree(log_dir)
  os.makedirs(log_dir)


def main(argv=None):
  """The program: parses flags, empties --log_dir and trains.

  Expected errors (bad data, an unwritable --log_dir, divergence) and
  Ctrl-C/SIGTERM end it with one line; see training.program.

  Args:
    argv: arguments without the program name; default sys.argv[1:].
  """
  flags = parse_flags(_parser(), argv)
  with training.program(PROG):
    tf.get_logger().setLevel('ERROR')
    try:
      fresh_log_dir(flags.log_dir)
    except (OSError, ValueError) as e:
      sys.exit('%s: error: %s' % (PROG, e))
    training.tensorboard_hint(flags.log_dir)
    data_sets = input_data.read_data_sets_or_exit(
        PROG, flags.input_data_dir, fake_data=flags.fake_data)
    run_training(flags.input_data_dir, flags.log_dir,
                 learning_rate=flags.learning_rate, max_steps=flags.max_steps,
                 hidden1=flags.hidden1, hidden2=flags.hidden2,
                 batch_size=flags.batch_size, fake_data=flags.fake_data,
                 data_sets=data_sets)


def run():
  """Entry point of the fully_connected_feed command and of the file."""
  commands.run_and_finish(main)


if __name__ == '__main__':
  run()
