"""Softmax regression on MNIST with XLA's JIT, and a trace of one step.

The same model and training as mnist_softmax (one linear layer, gradient
descent 0.5, 1000 steps of 100, about 0.92 test accuracy), with the session's
global JIT turned on (OptimizerOptions.ON_1) so that XLA fuses the graph into
compiled clusters, and a Chrome trace of the last training step written as
`timeline.ctf.json` (open it in chrome://tracing or https://ui.perfetto.dev;
with XLA the step shows `_XlaRun` clusters instead of single ops).

Usage:

  python mnist_softmax_xla.py [--noxla] [--log_dir=DIR] [--data_dir=DIR]

  --xla / --xla=true (default), --noxla / --xla=false: JIT on or off.
  --log_dir: where timeline.ctf.json goes, default
      /tmp/tensorflow/mnist/logs/mnist_softmax_xla (the original wrote it
      into the current directory; pass --log_dir=. for that).

It prints whether the JIT was asked for, the test accuracy (one number, as
mnist_softmax), where the trace went and how many XLA clusters the traced
step ran. On CPU, TensorFlow only clusters when TF_XLA_FLAGS holds
--tf_xla_cpu_global_jit, so --xla adds it (before the first session of the
process). When XLA cannot be used on a machine the step runs zero clusters;
the program says so and trains without it.

A loss that becomes NaN or infinite stops it with advice. Ctrl-C or SIGTERM
stops it after the current step with one line (`Stopped by SIGINT at step
N; nothing was saved.`, exit status 128 + the signal's number): the trace
is of the last step, which then never runs.

Summary of available functions:

 # Train with or without the JIT; the test accuracy, the trace file and the
 # number of XLA clusters in the traced step.
 accuracy, trace_path, clusters = train(data_sets, log_dir, xla=True, ...)

 run(argv)  # parse flags, read the data, train, print
"""

import argparse
import json
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

PROG = 'mnist_softmax_xla'  # The name in usage and error lines.
DEFAULT_DATA_DIR = tmp_dir('tensorflow', 'mnist', 'input_data')
DEFAULT_LOG_DIR = tmp_dir('tensorflow', 'mnist', 'logs', 'mnist_softmax_xla')
TRACE_FILE = 'timeline.ctf.json'  # The original's name for the trace.
_TRUE = ('1', 'true', 't', 'yes', 'y', 'on')  # --xla's words.
_FALSE = ('0', 'false', 'f', 'no', 'n', 'off')


def _boolean(text):
  if text.lower() in _TRUE:
    return True
  if text.lower() in _FALSE:
    return False
  raise argparse.ArgumentTypeError('invalid boolean value: %r' % text)


def _parser():
  parser = new_parser(PROG, __doc__)
  # The original's absl boolean flag took --xla, --xla=false and --noxla;
  # all three still work.
  parser.add_argument('--xla', type=_boolean, nargs='?', const=True,
                      default=True, metavar='BOOL',
                      help='Turn on the XLA JIT (default true).')
  parser.add_argument('--noxla', dest='xla', action='store_false',
                      help='Same as --xla=false.')
  parser.add_argument('--data_dir', default=DEFAULT_DATA_DIR,
                      help='Directory with (or to download) the four MNIST '
                      '.gz files. Default %(default)s.')
  parser.add_argument('--log_dir', default=DEFAULT_LOG_DIR,
                      help='Directory for %s. Default %%(default)s.'
                      % TRACE_FILE)
  parser.add_argument('--max_steps', type=int_at_least(1), default=1000,
                      help='Training steps. Default %(default)s.')
  parser.add_argument('--batch_size', type=int_at_least(1), default=100,
                      help='Images per training step. Default %(default)s.')
  return parser


# Before TensorFlow loads: Ctrl-C, --help and bad flags answered at once.
commands.start_program(__name__, PROG, lambda: parse_flags(_parser()))

import tensorflow as tf
from tensorflow.python.client import timeline

from mnist import input_data
from mnist import training

tf1 = tf.compat.v1

IMAGE_PIXELS = 784  # 28x28 images, flattened.
NUM_CLASSES = 10  # The digits 0-9.
CPU_JIT_FLAG = '--tf_xla_cpu_global_jit'  # Lets the global JIT work on CPU.


def _enable_cpu_jit():
  """Adds the CPU JIT flag to TF_XLA_FLAGS (read when XLA first starts)."""
  flags = os.environ.get('TF_XLA_FLAGS', '')
  if CPU_JIT_FLAG not in flags.split():
    os.environ['TF_XLA_FLAGS'] = (flags + ' ' + CPU_JIT_FLAG).strip()


def train(data_sets, log_dir, xla=True, max_steps=1000, batch_size=100,
          learning_rate=0.5):
  """Trains softmax regression, tracing the last step into log_dir.

  Args:
    data_sets: the result of input_data.read_data_sets (integer labels).
    log_dir: existing directory for timeline.ctf.json.
    xla: turn on the session's global JIT (OptimizerOptions.ON_1).
    max_steps: number of gradient descent steps.
    batch_size: training images per step.
    learning_rate: gradient descent step size.

  Returns:
    (accuracy, trace_path, clusters): the test accuracy (float), the path of
    the trace written, and how many XLA clusters ran in the traced step (0
    without XLA).

  Raises:
    OSError: if the trace cannot be written.
    FloatingPointError: the loss became NaN or infinite.
    training.Stopped: Ctrl-C or SIGTERM stopped training after a step.
  """
  config = tf1.ConfigProto()
  if xla:
    _enable_cpu_jit()
    config.graph_options.optimizer_options.global_jit_level = (
        tf1.OptimizerOptions.ON_1)
  with tf.Graph().as_default():
    # The model of mnist_softmax, written out as the original did here: one
    # linear layer from zeros (the loss is convex: no symmetry to break).
    x = tf1.placeholder(tf.float32, [None, IMAGE_PIXELS], name='x')
    weights = tf.Variable(tf.zeros([IMAGE_PIXELS, NUM_CLASSES]),
                          name='weights')
    biases = tf.Variable(tf.zeros([NUM_CLASSES]), name='biases')
    logits = tf.add(tf.matmul(x, weights), biases, name='logits')
    labels = tf1.placeholder(tf.int64, [None], name='labels')
    # The fused op works on the logits: -sum(y log softmax) turns into NaN
    # once a probability rounds to zero.
    cross_entropy = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                       logits=logits),
        name='cross_entropy')
    train_step = tf1.train.GradientDescentOptimizer(learning_rate).minimize(
        cross_entropy)
    correct = tf.equal(tf.argmax(logits, 1), labels)
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32), name='accuracy')
    with training.StopOnSignal() as stop, tf1.Session(config=config) as sess:
      sess.run(tf1.global_variables_initializer())
      for step in range(max_steps):
        batch_xs, batch_ys = data_sets.train.next_batch(batch_size)
        feed = {x: batch_xs, labels: batch_ys}
        if step < max_steps - 1:
          _, loss_value = sess.run([train_step, cross_entropy], feed)
        else:
          # Only the last step is traced: by then XLA has compiled its
          # clusters, so the trace shows the steady state, not compilation.
          run_metadata = tf1.RunMetadata()
          _, loss_value = sess.run(
              [train_step, cross_entropy], feed,
              options=tf1.RunOptions(trace_level=tf1.RunOptions.FULL_TRACE),
              run_metadata=run_metadata)
        training.check_loss(loss_value, step, learning_rate,
                            flag='learning rate')
        if stop.requested:
          raise stop.stopped(step + 1)
      stop.finished(max_steps)
      test = data_sets.test
      value = sess.run(accuracy, {x: test.images, labels: test.labels})
  trace = timeline.Timeline(run_metadata.step_stats)
  text = trace.generate_chrome_trace_format()
  # An XLA cluster runs as one _XlaRun op in place of the ops it fused.
  clusters = sum(1 for event in json.loads(text)['traceEvents']
                 if event.get('args', {}).get('op') == '_XlaRun')
  trace_path = os.path.join(log_dir, TRACE_FILE)
  # Whole or not at all: Ctrl-C now stops at once, maybe mid-write.
  part = os.path.join(log_dir, '.%s.part' % TRACE_FILE)
  try:
    with open(part, 'w', encoding='utf-8') as f:
      f.write(text)
    os.replace(part, trace_path)
  except OSError as e:
    raise OSError(e.errno, e.strerror, trace_path) from None
  finally:
    if os.path.exists(part):
      os.remove(part)
  return float(value), trace_path, clusters


def main(argv=None):
  """Parses flags, reads MNIST, trains, prints accuracy, trace and XLA use.

  Args:
    argv: command-line arguments without the program name (default
      sys.argv[1:]).
  """
  flags = parse_flags(_parser(), argv)
  with training.program(PROG):
    tf.get_logger().setLevel('ERROR')
    try:
      os.makedirs(flags.log_dir, exist_ok=True)
    except OSError as e:
      sys.exit('%s: error: cannot create --log_dir %s: %s'
               % (PROG, flags.log_dir, e.strerror))
    data_sets = input_data.read_data_sets_or_exit(PROG, flags.data_dir)
    print('XLA JIT: %s' % ('on (global_jit_level ON_1)' if flags.xla
                           else 'off'))
    try:
      accuracy, trace_path, clusters = train(
          data_sets, flags.log_dir, xla=flags.xla, max_steps=flags.max_steps,
          batch_size=flags.batch_size)
    except OSError as e:
      sys.exit('%s: error: cannot write %s: %s'
               % (PROG, e.filename, e.strerror))
    print('%g' % accuracy)
    print('Wrote a Chrome trace of the last step to %s' % trace_path)
    if not flags.xla:
      return
    if clusters:
      print('XLA ran %d compiled cluster(s) in the traced step.' % clusters)
    else:
      print('XLA was asked for but ran nothing on this machine; trained '
            'without it.')


def run():
  """Entry point of the mnist_softmax_xla command and of the file."""
  commands.run_and_finish(main)


if __name__ == '__main__':
  run()
