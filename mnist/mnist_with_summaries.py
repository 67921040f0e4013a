"""A simple MNIST classifier which displays summaries in TensorBoard.

An unimpressive model, 784-500-10 with dropout, trained by Adam (0.001) for
1000 steps of 100 images; about 0.97 test accuracy. What it shows is how to
instrument a graph for TensorBoard: name scopes that tidy the graph view,
mean/stddev/max/min/histogram summaries of every variable, activation
histograms, the input images, scalars for cross entropy, dropout keep
probability and accuracy, and full-trace run metadata (compute time and
memory per op) in the graph view.

Usage:

  python mnist_with_summaries.py [--max_steps=1000] [--learning_rate=0.001]
      [--dropout=0.9] [--fake_data] [--data_dir=DIR] [--log_dir=DIR]
  tensorboard --logdir=/tmp/tensorflow/mnist/logs/mnist_with_summaries

Every 10 steps it measures the whole test set (`Accuracy at step %s: %s`)
and writes those summaries to <log_dir>/test; every other step writes the
training batch's summaries to <log_dir>/train, and steps 99, 199, ... also
a full trace (`Adding run metadata for %s`, tag `step%03d`).

Like the original it starts with empty summaries, so TensorBoard does not
mix two runs, but it only removes what it writes itself, <log_dir>/train
and <log_dir>/test, and says so. The `tensorboard --logdir` line to watch
them goes to stderr at the start.

A loss that becomes NaN or infinite (a far too large --learning_rate) stops
it with advice. Ctrl-C or SIGTERM stops it after the current step, with
the summaries written so far kept (`Stopped by SIGINT at step N; the
summaries are in DIR.`, exit status 0).

Summary of available functions:

 variable_summaries(var)                  # mean, stddev, max, min, histogram
 activations = nn_layer(x, 784, 500, 'layer1')
 prepare_log_dir(log_dir)                 # fresh train/ and test/
 accuracy = train(data_sets, log_dir, max_steps=1000, ...)
 run(argv)                                # parse flags, read data, train
"""

import argparse
import math
import os
import shutil
import sys

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

PROG = 'mnist_with_summaries'  # The name in usage and error lines.
DEFAULT_DATA_DIR = tmp_dir('tensorflow', 'mnist', 'input_data')
DEFAULT_LOG_DIR = tmp_dir('tensorflow', 'mnist', 'logs', 'mnist_with_summaries')


def _keep_probability(text):
  try:
    value = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(
        'invalid float value: %r' % text) from None
  if not 0.0 < value <= 1.0:
    raise argparse.ArgumentTypeError(
        'is the probability of keeping a unit, in (0, 1], not %s' % text)
  return value


def _parser():
  parser = new_parser(PROG, __doc__)
  parser.add_argument('--fake_data', action='store_true',
                      help='Use fake data (images of ones, label 0) for '
                      'unit testing; no files needed.')
  parser.add_argument('--max_steps', type=int_at_least(1), default=1000,
                      help='Number of steps to run trainer. Default '
                      '%(default)s.')
  parser.add_argument('--learning_rate', type=float, default=0.001,
                      help='Initial learning rate. Default %(default)s.')
  parser.add_argument('--dropout', type=_keep_probability, default=0.9,
                      help='Keep probability for training dropout. Default '
                      '%(default)s.')
  parser.add_argument('--data_dir', default=DEFAULT_DATA_DIR,
                      help='Directory for storing input data. Default '
                      '%(default)s.')
  parser.add_argument('--log_dir', default=DEFAULT_LOG_DIR,
                      help='Summaries log directory; its train/ and test/ '
                      'are replaced. Default %(default)s.')
  return parser


# Before TensorFlow loads: Ctrl-C, --help and bad flags answered at once.
commands.start_program(__name__, PROG, lambda: parse_flags(_parser()))

import tensorflow as tf

from mnist import input_data
from mnist import command_path
from mnist import training

tf1 = tf.compat.v1

IMAGE_PIXELS = 784  # 28x28 images, flattened.
NUM_CLASSES = 10  # The digits 0-9.
HIDDEN_UNITS = 500  # Width of the hidden layer.
BATCH_SIZE = 100  # Training images per step.
TEST_EVERY = 10  # Steps between test-set accuracy measurements.
TRACE_EVERY = 100  # Steps between full traces (at 99, 199, ...).


def _weight_variable(shape):
  # Small random weights break the symmetry between units; truncated so no
  # weight starts far out in the tails.
  return tf.Variable(tf.random.truncated_normal(shape, stddev=0.1),
                     name='weights')


def _bias_variable(shape):
  # A slightly positive bias keeps ReLUs alive at the start.
  return tf.Variable(tf.constant(0.1, shape=shape), name='biases')


def _scalar(name, tensor):
  """A scalar summary tagged <current name scope>/name, exactly.

  tf.compat.v1.summary.scalar takes its tag from a fresh op name, so a
  summary named like an existing op or scope ('Mean', the 'accuracy' scope)
  showed up as 'mean_1' or 'accuracy_1' in TensorBoard.
  """
  scope = tf1.get_default_graph().get_name_scope()
  tag = scope + '/' + name if scope else name
  summary = tf.raw_ops.ScalarSummary(tags=tag, values=tensor,
                                     name=name + '_summary')
  tf1.add_to_collection(tf1.GraphKeys.SUMMARIES, summary)
  return summary


def variable_summaries(var):
  """Attaches mean, stddev, max, min and histogram summaries to a tensor.

  They go in a 'summaries' name scope under the variable's own scope, so
  the tags read e.g. layer1/weights/summaries/mean.

  Args:
    var: a tensor (usually a variable).
  """
  with tf.name_scope('summaries'):
    mean = tf.reduce_mean(var)
    _scalar('mean', mean)
    with tf.name_scope('stddev'):
      stddev = tf.sqrt(tf.reduce_mean(tf.square(var - mean)))
    _scalar('stddev', stddev)
    _scalar('max', tf.reduce_max(var))
    _scalar('min', tf.reduce_min(var))
    tf1.summary.histogram('histogram', var)


def nn_layer(input_tensor, input_dim, output_dim, layer_name, act=tf.nn.relu):
  """A fully connected layer act(x W + b), with summaries of everything.

  Name scopes make the graph view readable: each layer is one box that
  opens into weights, biases, Wx_plus_b.

  Args:
    input_tensor: float32 [batch, input_dim].
    input_dim: width of the input.
    output_dim: number of units.
    layer_name: name scope of the layer (e.g. 'layer1').
    act: activation function (tf.identity for logits).

  Returns:
    float32 [batch, output_dim], the activations.
  """
  with tf.name_scope(layer_name):
    with tf.name_scope('weights'):
      weights = _weight_variable([input_dim, output_dim])
      variable_summaries(weights)
    with tf.name_scope('biases'):
      biases = _bias_variable([output_dim])
      variable_summaries(biases)
    with tf.name_scope('Wx_plus_b'):
      preactivate = tf.matmul(input_tensor, weights) + biases
      tf1.summary.histogram('pre_activations', preactivate)
    activations = act(preactivate, name='activation')
    tf1.summary.histogram('activations', activations)
    return activations


def prepare_log_dir(log_dir):
  """Makes log_dir with empty train/ and test/, removing old ones.

  Only these two folders are removed (the original deleted all of log_dir):
  a mistyped --log_dir=$HOME must not cost the user anything.

  Args:
    log_dir: the summaries directory.

  Returns:
    (train_dir, test_dir).

  Raises:
    OSError: a folder cannot be removed or created.
  """
  folders = [os.path.join(log_dir, 'train'), os.path.join(log_dir, 'test')]
  old = [f for f in folders if os.path.isdir(f)]
  if old:
    print('Removing the summaries of the previous run: %s' % ' and '.join(old))
  for folder in old:
    shutil.rmtree(folder)
  for folder in folders:
    os.makedirs(folder)
  return tuple(folders)


def train(data_sets, log_dir, max_steps=1000, learning_rate=0.001,
          dropout=0.9, fake_data=False, batch_size=BATCH_SIZE):
  """Trains the 784-500-10 network, writing summaries under log_dir.

  Args:
    data_sets: the result of input_data.read_data_sets (integer labels).
    log_dir: summaries directory, made ready by prepare_log_dir.
    max_steps: number of steps; every TEST_EVERY-th is a test measurement
      instead of a training step, as in the original.
    learning_rate: Adam's learning rate.
    dropout: probability of keeping a hidden unit while training.
    fake_data: feed fake batches (ones, label 0) for test steps too.
    batch_size: training images per step.

  Returns:
    The last test accuracy printed (float), or None if max_steps is 0.

  Raises:
    FloatingPointError: the loss became NaN or infinite.
    training.Stopped: Ctrl-C or SIGTERM stopped training after a step; the
      summaries so far were written.
  """
  with tf.Graph().as_default():
    with tf.name_scope('input'):
      x = tf1.placeholder(tf.float32, [None, IMAGE_PIXELS], name='x-input')
      labels = tf1.placeholder(tf.int64, [None], name='y-input')
    with tf.name_scope('input_reshape'):
      image_shaped_input = tf.reshape(x, [-1, 28, 28, 1])
      tf1.summary.image('input', image_shaped_input, 10)

    hidden1 = nn_layer(x, IMAGE_PIXELS, HIDDEN_UNITS, 'layer1')
    with tf.name_scope('dropout'):
      keep_prob = tf1.placeholder(tf.float32, name='keep_prob')
      _scalar('dropout_keep_probability', keep_prob)
      dropped = tf.nn.dropout(hidden1, rate=1.0 - keep_prob)
    # No softmax here: the loss below applies it to the raw logits.
    logits = nn_layer(dropped, HIDDEN_UNITS, NUM_CLASSES, 'layer2',
                      act=tf.identity)

    with tf.name_scope('cross_entropy'):
      # Fused softmax + cross entropy: the textbook -sum(y log softmax)
      # is numerically unstable once a probability rounds to zero.
      cross_entropy = tf.reduce_mean(
          tf.nn.sparse_softmax_cross_entropy_with_logits(
              labels=labels, logits=logits))
    _scalar('cross_entropy', cross_entropy)

    with tf.name_scope('train'):
      train_step = tf1.train.AdamOptimizer(learning_rate).minimize(
          cross_entropy)

    with tf.name_scope('accuracy'):
      correct_prediction = tf.equal(tf.argmax(logits, 1), labels)
      accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
    _scalar('accuracy', accuracy)

    merged = tf1.summary.merge_all()

    def feed_dict(training):
      """A training batch with dropout, or the test set without it."""
      if training or fake_data:
        xs, ys = data_sets.train.next_batch(batch_size, fake_data=fake_data)
        k = dropout if training else 1.0
      else:
        xs, ys = data_sets.test.images, data_sets.test.labels
        k = 1.0
      return {x: xs, labels: ys, keep_prob: k}

    last_accuracy = None
    with training.StopOnSignal('the summaries are in %s' % log_dir) as stop, \
         tf1.Session() as sess:
      train_writer = tf1.summary.FileWriter(os.path.join(log_dir, 'train'),
                                            sess.graph)
      test_writer = tf1.summary.FileWriter(os.path.join(log_dir, 'test'))
      sess.run(tf1.global_variables_initializer())
      try:
        for i in range(max_steps):
          if i % TEST_EVERY == 0:
            summary, acc = sess.run([merged, accuracy], feed_dict(False))
            test_writer.add_summary(summary, i)
            print('Accuracy at step %s: %s' % (i, acc))
            last_accuracy = float(acc)
          elif i % TRACE_EVERY == TRACE_EVERY - 1:
            # A full trace shows compute time and memory per op in
            # TensorBoard's graph view; too costly for every step.
            run_metadata = tf1.RunMetadata()
            summary, _, loss_value = sess.run(
                [merged, train_step, cross_entropy], feed_dict(True),
                options=tf1.RunOptions(
                    trace_level=tf1.RunOptions.FULL_TRACE),
                run_metadata=run_metadata)
            train_writer.add_run_metadata(run_metadata, 'step%03d' % i)
            train_writer.add_summary(summary, i)
            print('Adding run metadata for', i)
          else:
            summary, _, loss_value = sess.run(
                [merged, train_step, cross_entropy], feed_dict(True))
            train_writer.add_summary(summary, i)
          if i % TEST_EVERY:  # A training step.
            training.check_loss(loss_value, i, learning_rate)
          if stop.requested:
            raise stop.stopped(i + 1)
      except tf.errors.InvalidArgumentError as e:
        # NaN or infinite weights stop the histogram summaries before the
        # loss can be looked at ('Nan in summary histogram for: ...',
        # 'Infinity in Histogram for: ...').
        if 'Nan in summary histogram' in e.message:
          raise training.diverged(math.nan, i, learning_rate) from None
        if 'Infinity in Histogram' in e.message:
          raise training.diverged(math.inf, i, learning_rate) from None
        raise
      finally:
        # Written out whatever ends the loop: a stopped or diverged run's
        # summaries are what shows what happened.
        train_writer.close()
        test_writer.close()
      stop.finished(max_steps)
  return last_accuracy


def main(argv=None):
  """Parses flags, prepares log_dir, reads MNIST and trains.

  Args:
    argv: command-line arguments without the program name (default
      sys.argv[1:]).
  """
  flags = parse_flags(_parser(), argv)
  with training.program(PROG):
    tf.get_logger().setLevel('ERROR')
    try:
      prepare_log_dir(flags.log_dir)
    except OSError as e:
      sys.exit('%s: error: cannot prepare --log_dir %s: %s'
               % (PROG, e.filename or flags.log_dir, e.strerror or e))
    training.tensorboard_hint(flags.log_dir)
    data_sets = input_data.read_data_sets_or_exit(
        PROG, flags.data_dir, fake_data=flags.fake_data)
    train(data_sets, flags.log_dir, max_steps=flags.max_steps,
          learning_rate=flags.learning_rate, dropout=flags.dropout,
          fake_data=flags.fake_data)
    print('Summaries are in %s; view them with: tensorboard --logdir=%s'
          % (flags.log_dir, command_path(flags.log_dir)))


def run():
  """Entry point of the mnist_with_summaries command and of the file."""
  commands.run_and_finish(main)


if __name__ == '__main__':
  run()
