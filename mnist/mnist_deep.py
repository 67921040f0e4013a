"""A deep MNIST classifier using convolutional layers (about 99.2%).

The "Deep MNIST for experts" tutorial: two 5x5 convolution + 2x2 max-pool
layers (32 and 64 features), a 1024-unit fully connected layer, dropout and
a linear layer of 10 logits; Adam 1e-4 for 20,000 steps of 50 images. Every
100 steps it prints `step %d, training accuracy %g` (on that step's batch,
without dropout) and at the end `test accuracy %g` over the 10,000 test
images, measured in batches of 1000 (the original fed all 10,000 at once,
which runs out of memory on small machines). On 2 CPU cores a full run
takes tens of minutes; --max_steps shortens it.

Usage:

  python mnist_deep.py [--max_steps=20000] [--batch_size=50]
      [--data_dir=/tmp/tensorflow/mnist/input_data]
      [--log_dir=/tmp/tensorflow/mnist/logs/mnist_deep]

Checkpoints `model.ckpt-<step>` (with their .meta graphs) go to --log_dir
every 1000 steps and at the end, so other programs can reuse the model.
When deepnn is built at the top of a graph, the tensors are named:

  x:0          float32 [None, 784] placeholder, pixels in [0, 1]
  keep_prob:0  float32 scalar, probability of keeping a unit in dropout;
               defaults to 1.0 (no dropout), feed 0.5 to train
  logits:0     float32 [None, 10], unnormalized class scores

Restore either by rebuilding the graph:

  x = tf.compat.v1.placeholder(tf.float32, [None, 784], name='x')
  logits, keep_prob = deepnn(x)
  tf.compat.v1.train.Saver().restore(sess, tf.train.latest_checkpoint(dir))

or from the .meta file with tf.compat.v1.train.import_meta_graph and
graph.get_tensor_by_name('logits:0') (as mnist.trained_models does).

A loss that becomes NaN or infinite stops it with advice. Ctrl-C or SIGTERM
stops training after the current step, saves a checkpoint and says so
(`Stopped by SIGTERM at step N; the checkpoint is in DIR.`, exit status 0);
during the test evaluation it stops at once (the last checkpoint is
written), and before training starts it ends the program with one line.

Summary of available functions:

 logits, keep_prob = deepnn(x)            # the model
 accuracy = evaluate(sess, logits, x, images, labels, batch_size=1000)
 accuracy = train(data_sets, log_dir, max_steps=20000, batch_size=50)
 run(argv)                                # parse flags, read data, train
"""

import os
import sys
import tempfile

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

PROG = 'mnist_deep'  # The name in usage and error lines.
DEFAULT_DATA_DIR = tmp_dir('tensorflow', 'mnist', 'input_data')
DEFAULT_LOG_DIR = tmp_dir('tensorflow', 'mnist', 'logs', 'mnist_deep')


def _parser():
  parser = new_parser(PROG, __doc__)
  parser.add_argument('--data_dir', default=DEFAULT_DATA_DIR,
                      help='Directory for storing input data. Default '
                      '%(default)s.')
  parser.add_argument('--log_dir', default=DEFAULT_LOG_DIR,
                      help='Directory for the model.ckpt-<step> '
                      'checkpoints. Default %(default)s.')
  parser.add_argument('--max_steps', type=int_at_least(1), default=20000,
                      help='Training steps. Default %(default)s.')
  parser.add_argument('--batch_size', type=int_at_least(1), default=50,
                      help='Images per training step. Default %(default)s.')
  return parser


# Before TensorFlow loads: Ctrl-C, --help and bad flags answered at once.
commands.start_program(__name__, PROG, lambda: parse_flags(_parser()))

import numpy as np
import tensorflow as tf

from mnist import input_data
from mnist import training

tf1 = tf.compat.v1

IMAGE_SIZE = 28  # MNIST images are 28x28 pixels, one channel.
IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE  # 784, the width of x.
NUM_CLASSES = 10  # The digits 0-9.
NUM_PARAMETERS = 3274634  # Trainable parameters of deepnn (tested).
LEARNING_RATE = 1e-4  # Adam's step size.
TRAIN_KEEP_PROB = 0.5  # Dropout keeps half the fc1 units while training.
LOG_EVERY = 100  # Steps between `training accuracy` lines.
CHECKPOINT_EVERY = 1000  # Steps between checkpoints.
EVAL_BATCH_SIZE = 1000  # Test images per evaluation batch.


def _weight_variable(shape):
  # Some noise breaks the symmetry between units; truncated so no weight
  # starts far out in the tails.
  return tf.Variable(tf.random.truncated_normal(shape, stddev=0.1),
                     name='weights')


def _bias_variable(shape):
  # Slightly positive, so the ReLUs start active ("dead neurons" otherwise).
  return tf.Variable(tf.constant(0.1, shape=shape), name='biases')


def _conv2d(x, w):
  # Stride 1 and SAME padding: the output is as large as the input.
  return tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding='SAME')


def _max_pool_2x2(x):
  # Halves height and width.
  return tf.nn.max_pool2d(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1],
                          padding='SAME')


def deepnn(x):
  """Builds the graph of the deep net that classifies digits.

  Args:
    x: float32 [None, 784] images (28x28 pixels in [0, 1]).

  Returns:
    (logits, keep_prob): logits float32 [None, 10], named 'logits', and
    keep_prob, a float32 scalar placeholder named 'keep_prob' with default
    1.0: the probability of keeping a fc1 unit in dropout.
  """
  # Convolutions want [batch, height, width, channels]: one grey channel.
  with tf.name_scope('reshape'):
    x_image = tf.reshape(x, [-1, IMAGE_SIZE, IMAGE_SIZE, 1])

  # First convolutional layer: one grey image to 32 feature maps.
  with tf.name_scope('conv1'):
    w_conv1 = _weight_variable([5, 5, 1, 32])
    b_conv1 = _bias_variable([32])
    h_conv1 = tf.nn.relu(_conv2d(x_image, w_conv1) + b_conv1)
  with tf.name_scope('pool1'):
    h_pool1 = _max_pool_2x2(h_conv1)  # 14x14x32

  # Second convolutional layer: 32 feature maps to 64.
  with tf.name_scope('conv2'):
    w_conv2 = _weight_variable([5, 5, 32, 64])
    b_conv2 = _bias_variable([64])
    h_conv2 = tf.nn.relu(_conv2d(h_pool1, w_conv2) + b_conv2)
  with tf.name_scope('pool2'):
    h_pool2 = _max_pool_2x2(h_conv2)  # 7x7x64

  # After two poolings the 28x28 image is 7x7x64; map it to 1024 features.
  with tf.name_scope('fc1'):
    w_fc1 = _weight_variable([7 * 7 * 64, 1024])
    b_fc1 = _bias_variable([1024])
    h_pool2_flat = tf.reshape(h_pool2, [-1, 7 * 7 * 64])
    h_fc1 = tf.nn.relu(tf.matmul(h_pool2_flat, w_fc1) + b_fc1)

  # Dropout controls the complexity of the model: it keeps each unit with
  # probability keep_prob while training. The default of 1.0 means that
  # evaluation (and any program restoring the model) need not feed it.
  keep_prob = tf1.placeholder_with_default(1.0, shape=[], name='keep_prob')
  with tf.name_scope('dropout'):
    h_fc1_drop = tf.nn.dropout(h_fc1, rate=1.0 - keep_prob)

  # Map the 1024 features to 10 classes, one per digit.
  with tf.name_scope('fc2'):
    w_fc2 = _weight_variable([1024, NUM_CLASSES])
    b_fc2 = _bias_variable([NUM_CLASSES])
    y_conv = tf.matmul(h_fc1_drop, w_fc2) + b_fc2
  return tf.identity(y_conv, name='logits'), keep_prob


def evaluate(sess, logits, x, images, labels, batch_size=EVAL_BATCH_SIZE):
  """Fraction of images whose largest logit is their label, in batches.

  Hits are counted per batch and summed, so the result is exact whatever
  the batch size (the last batch may be smaller) and memory stays bounded
  by one batch.

  Args:
    sess: a session holding the model's variables.
    logits: the [None, 10] logits tensor.
    x: the [None, 784] images placeholder.
    images: float32 array [n, 784].
    labels: integer array [n] of digits.
    batch_size: images per sess.run.

  Returns:
    The accuracy, a Python float (hits / n).

  Raises:
    ValueError: no images, a batch_size below 1, or images and labels of
      different lengths.
  """
  n = len(images)
  if n == 0 or batch_size < 1 or len(labels) != n:
    raise ValueError('evaluate needs images and labels of the same nonzero '
                     'length and batch_size >= 1; got %d images, %d labels, '
                     'batch_size %d' % (n, len(labels), batch_size))
  hits = 0
  for start in range(0, n, batch_size):
    batch_logits = sess.run(logits, {x: images[start:start + batch_size]})
    hits += int(np.sum(np.argmax(batch_logits, axis=1)
                       == np.asarray(labels[start:start + batch_size])))
  return hits / n


def train(data_sets, log_dir, max_steps=20000, batch_size=50,
          learning_rate=LEARNING_RATE, checkpoint_every=CHECKPOINT_EVERY,
          eval_batch_size=EVAL_BATCH_SIZE):
  """Trains deepnn, printing progress, and checkpoints it into log_dir.

  Args:
    data_sets: the result of input_data.read_data_sets (integer labels).
    log_dir: existing directory for model.ckpt-<step>.
    max_steps: training steps.
    batch_size: training images per step.
    learning_rate: Adam's step size.
    checkpoint_every: steps between checkpoints (one is also saved at the
      end).
    eval_batch_size: test images per evaluation batch.

  Returns:
    (accuracy, checkpoint): the test accuracy (float) and the path prefix
    of the last checkpoint.

  Raises:
    FloatingPointError: the loss became NaN or infinite.
    training.Stopped: Ctrl-C or SIGTERM stopped training after a step; a
      checkpoint of that step was saved first.
  """
  with tf.Graph().as_default():
    x = tf1.placeholder(tf.float32, [None, IMAGE_PIXELS], name='x')
    labels = tf1.placeholder(tf.int64, [None], name='labels')
    logits, keep_prob = deepnn(x)
    with tf.name_scope('loss'):
      # Fused softmax and cross entropy: stable where log(softmax) is not.
      cross_entropy = tf.reduce_mean(
          tf.nn.sparse_softmax_cross_entropy_with_logits(
              labels=labels, logits=logits))
    global_step = tf1.train.get_or_create_global_step()
    with tf.name_scope('adam_optimizer'):
      train_step = tf1.train.AdamOptimizer(learning_rate).minimize(
          cross_entropy, global_step=global_step)
    saver = tf1.train.Saver()
    prefix = os.path.join(log_dir, 'model.ckpt')
    checkpoint = None
    with training.StopOnSignal('the checkpoint is in %s' % log_dir) as stop, \
         tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      for i in range(max_steps):
        batch_xs, batch_ys = data_sets.train.next_batch(batch_size)
        if i % LOG_EVERY == 0:
          train_accuracy = evaluate(sess, logits, x, batch_xs, batch_ys)
          print('step %d, training accuracy %g' % (i, train_accuracy))
        _, loss_value = sess.run([train_step, cross_entropy], {
            x: batch_xs, labels: batch_ys, keep_prob: TRAIN_KEEP_PROB})
        training.check_loss(loss_value, i, learning_rate,
                            flag='learning rate')
        if (i + 1) % checkpoint_every == 0 or i + 1 == max_steps:
          checkpoint = saver.save(sess, prefix, global_step=global_step)
        elif stop.requested:
          stop.announce('saving a checkpoint')
          checkpoint = saver.save(sess, prefix, global_step=global_step)
        if stop.requested:
          raise stop.stopped(i + 1)  # The model of this step is saved.
      # The last checkpoint is written: a signal during the evaluation
      # (seconds) now stops at once.
      stop.finished(max_steps)
      test = data_sets.test
      accuracy = evaluate(sess, logits, x, test.images, test.labels,
                          batch_size=eval_batch_size)
  return accuracy, checkpoint


def main(argv=None):
  """Parses flags, reads MNIST, trains, prints the test accuracy.

  Args:
    argv: command-line arguments without the program name (default
      sys.argv[1:]).
  """
  flags = parse_flags(_parser(), argv)
  with training.program(PROG):
    tf.get_logger().setLevel('ERROR')
    try:
      os.makedirs(flags.log_dir, exist_ok=True)
      # Fail now, not after an hour of training, if checkpoints cannot go
      # there (os.access alone is not enough: it ignores read-only mounts).
      tempfile.TemporaryFile(dir=flags.log_dir).close()
    except OSError as e:
      sys.exit('%s: error: cannot write checkpoints into --log_dir %s: %s'
               % (PROG, flags.log_dir, e.strerror or e))
    data_sets = input_data.read_data_sets_or_exit(PROG, flags.data_dir)
    accuracy, checkpoint = train(data_sets, flags.log_dir,
                                 max_steps=flags.max_steps,
                                 batch_size=flags.batch_size)
    print('test accuracy %g' % accuracy)
    print('Model saved in %s' % checkpoint)


def run():
  """Entry point of the mnist_deep command and of the file."""
  commands.run_and_finish(main)


if __name__ == '__main__':
  run()
