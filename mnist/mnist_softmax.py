"""A very simple MNIST classifier: softmax regression, one linear layer.

The "MNIST for ML beginners" tutorial: logits = x W + b over the 784 pixels,
trained by gradient descent (learning rate 0.5) for 1000 steps of 100
images, then the accuracy on the 10,000 test images is printed (about 0.92).

Usage:

  python mnist_softmax.py [--data_dir=/tmp/tensorflow/mnist/input_data]

It prints the `Extracting <file>` lines of input_data and then one number,
the test accuracy, as the original did. A loss that becomes NaN or infinite
(a far too large --learning_rate) stops it with advice. Ctrl-C or SIGTERM
stops it after the current step with one line (`Stopped by SIGINT at step
N; nothing was saved.`, exit status 128 + the signal's number).

Summary of available functions:

 # The model: logits [batch, 10] of images [batch, 784].
 logits = inference(x)

 # Train on a read_data_sets() result; the test accuracy and the weights.
 accuracy, weights, biases = train(data_sets, max_steps=1000, ...)

 # What the program does: parse flags, read the data, train, print.
 run(argv)
"""

import os
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

PROG = 'mnist_softmax'  # The name in usage and error lines, however started.
DEFAULT_DATA_DIR = tmp_dir('tensorflow', 'mnist', 'input_data')


def _parser():
  parser = new_parser(PROG, __doc__)
  parser.add_argument('--data_dir', default=DEFAULT_DATA_DIR,
                      help='Directory with (or to download) the four MNIST '
                      '.gz files. Default %(default)s.')
  parser.add_argument('--max_steps', type=int_at_least(1), default=1000,
                      help='Training steps. Default %(default)s.')
  parser.add_argument('--batch_size', type=int_at_least(1), default=100,
                      help='Images per training step. Default %(default)s.')
  parser.add_argument('--learning_rate', type=float, default=0.5,
                      help='Gradient descent step size. Default %(default)s.')
  return parser


# Before TensorFlow loads: Ctrl-C, --help and bad flags answered at once.
commands.start_program(__name__, PROG, lambda: parse_flags(_parser()))

import tensorflow as tf

from mnist import input_data
from mnist import training

tf1 = tf.compat.v1

IMAGE_PIXELS = 784  # 28x28 images, flattened.
NUM_CLASSES = 10  # The digits 0-9.


def inference(x):
  """Builds the model: one linear layer, the logits of a softmax.

  Zeros are a fine start here: the loss is convex in W and b, so there is
  no symmetry to break.

  Args:
    x: float32 images [batch, 784].

  Returns:
    logits: float32 [batch, 10], named 'logits'.
  """
  weights = tf.Variable(tf.zeros([IMAGE_PIXELS, NUM_CLASSES]), name='weights')
  biases = tf.Variable(tf.zeros([NUM_CLASSES]), name='biases')
  return tf.add(tf.matmul(x, weights), biases, name='logits')


def loss(logits, labels):
  """Mean cross entropy of the softmax of logits against integer labels.

  The original wrote -sum(y_ * log(softmax(y))), which turns into NaN once
  a probability rounds to zero; the fused op works on the logits instead.

  Args:
    logits: float32 [batch, 10].
    labels: int64 [batch], the digits.

  Returns:
    A float32 scalar.
  """
  return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=labels, logits=logits), name='cross_entropy')


def accuracy_op(logits, labels):
  """Fraction of rows whose largest logit is the label (float32 scalar)."""
  correct = tf.equal(tf.argmax(logits, 1), labels)
  return tf.reduce_mean(tf.cast(correct, tf.float32), name='accuracy')


def train(data_sets, max_steps=1000, batch_size=100, learning_rate=0.5):
  """Trains softmax regression and measures it on the test set.

  Args:
    data_sets: the result of input_data.read_data_sets (integer labels).
    max_steps: number of gradient descent steps.
    batch_size: training images per step.
    learning_rate: gradient descent step size.

  Returns:
    (accuracy, weights, biases): the test accuracy as a Python float and the
    trained parameters as NumPy arrays [784, 10] and [10].

  Raises:
    FloatingPointError: the loss became NaN or infinite.
    training.Stopped: Ctrl-C or SIGTERM stopped training after a step.
  """
  with tf.Graph().as_default():
    x = tf1.placeholder(tf.float32, [None, IMAGE_PIXELS], name='x')
    labels = tf1.placeholder(tf.int64, [None], name='labels')
    logits = inference(x)
    cross_entropy = loss(logits, labels)
    train_step = tf1.train.GradientDescentOptimizer(learning_rate).minimize(
        cross_entropy)
    accuracy = accuracy_op(logits, labels)
    weights, biases = tf1.trainable_variables()
    with training.StopOnSignal() as stop, tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      for step in range(max_steps):
        batch_xs, batch_ys = data_sets.train.next_batch(batch_size)
        _, loss_value = sess.run([train_step, cross_entropy],
                                 {x: batch_xs, labels: batch_ys})
        training.check_loss(loss_value, step, learning_rate)
        if stop.requested:
          raise stop.stopped(step + 1)
      stop.finished(max_steps)
      test = data_sets.test
      value = sess.run(accuracy, {x: test.images, labels: test.labels})
      return float(value), sess.run(weights), sess.run(biases)


def main(argv=None):
  """Parses flags, reads MNIST, trains and prints the test accuracy.

  Args:
    argv: command-line arguments without the program name (default
      sys.argv[1:]).
  """
  flags = parse_flags(_parser(), argv)
  with training.program(PROG):
    tf.get_logger().setLevel('ERROR')
    data_sets = input_data.read_data_sets_or_exit(PROG, flags.data_dir)
    accuracy, _, _ = train(data_sets, max_steps=flags.max_steps,
                           batch_size=flags.batch_size,
                           learning_rate=flags.learning_rate)
    print('%g' % accuracy)


def run():
  """Entry point of the mnist_softmax command and of the file."""
  commands.run_and_finish(main)


if __name__ == '__main__':
  run()
