"""Evaluation for CIFAR-10.

Accuracy:
cifar10_train.py achieves 0.830 precision after 100K steps (256 epochs
of data) as judged by cifar10_eval.py (original tutorial; about 0.86 with the
moving averages restored as here; README.md has this project's numbers).

Speed:
On a single Tesla K40, cifar10_train.py processes a single batch of 128 images
in 0.25-0.35 sec (i.e. 350 - 600 images /sec). The model reaches ~0.86
precision after 100K steps in 8 hours of training time (historical).

Usage:
  python cifar10_eval.py                # each new checkpoint, as it appears
  python cifar10_eval.py --run_once     # the latest checkpoint, then exit

The precision is written to --eval_dir as the scalar 'Precision @ 1' at the
checkpoint's global step, for TensorBoard.
"""

import os
import sys

if __name__ == '__main__' and not __package__:
  # Run as `python cifar10_eval.py`: this folder is first on sys.path and its
  # cifar10.py would shadow the cifar10 package, so start from the repo root.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # hide C++ notices

from datetime import datetime

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from cifar10 import cifar10

tf1 = tf.compat.v1
FLAGS = flags.FLAGS

flags.DEFINE_string('eval_dir', '/tmp/cifar10_eval',
                    'Directory where to write event logs.')
flags.DEFINE_enum('eval_data', 'test', ['test', 'train_eval'],
                  "'test' (the 10,000 test images) or 'train_eval' (the "
                  'training images).')
flags.DEFINE_string('checkpoint_dir', '/tmp/cifar10_train',
                    'Directory where to read model checkpoints.')
flags.DEFINE_integer('eval_interval_secs', 300,
                     'At least this many seconds between two evaluations.')
flags.DEFINE_integer('num_examples', 10000, 'Number of examples to run.')
flags.DEFINE_boolean('run_once', False,
                     'Evaluate the latest checkpoint once, then exit.')
flags.DEFINE_integer('timeout_secs', 0,
                     'Stop after waiting this long for a new checkpoint (0: '
                     'wait for ever, as the original did).')


def checkpoint_step(checkpoint_path):
  """The global step saved in a checkpoint."""
  return int(tf1.train.load_variable(checkpoint_path, 'global_step'))


def eval_once(sess, saver, checkpoint_path, top_k_op, summary_op,
              num_examples, local_init_op):
  """Runs one evaluation of a checkpoint.

  Args:
    sess: a fresh Session on the evaluation graph.
    saver: restores the moving averages into the model's variables.
    checkpoint_path: the checkpoint to evaluate.
    top_k_op: bool tensor [batch]: is the top prediction the label?
    summary_op: the graph's merged summaries (run on the first batch).
    num_examples: examples to count; fewer if the data holds fewer.
    local_init_op: initializes local variables (the queue pipeline counts
      its one epoch in one).

  Returns:
    (true_count, count, summary): hits, examples counted and the serialized
    summaries of the first batch.
  """
  saver.restore(sess, checkpoint_path)
  sess.run(local_init_op)
  coord = tf1.train.Coordinator()
  threads = tf1.train.start_queue_runners(sess=sess, coord=coord)
  true_count, count, summary = 0, 0, None
  try:
    while count < num_examples:
      if summary is None:
        correct, summary = sess.run([top_k_op, summary_op])
      else:
        correct = sess.run(top_k_op)
      # Count exactly num_examples: only part of the last batch may be due.
      correct = correct[:num_examples - count]
      true_count += int(np.sum(correct))
      count += len(correct)
  except tf.errors.OutOfRangeError:
    pass  # One pass over the data is done.
  finally:
    coord.request_stop()
    coord.join(threads, stop_grace_period_secs=10)
  return true_count, count, summary


class _EvalGraph(object):
  """The evaluation graph of one model: inputs, model, hits, summaries."""

  def __init__(self, model, use_fp16, eval_dir, data_dir, eval_data,
               batch_size, pipeline):
    self.model, self.use_fp16 = model, use_fp16
    self.graph = tf.Graph()
    with self.graph.as_default():
      images, labels = cifar10.inputs(eval_data == 'test', data_dir,
                                      batch_size, pipeline, use_fp16)
      logits = cifar10.inference(images, model)
      self.top_k_op = tf.nn.in_top_k(predictions=tf.cast(logits, tf.float32),
                                     targets=labels, k=1)
      # Restore the moving average version of the learned variables: they
      # score better than the last, noisier raw values.
      variable_averages = tf1.train.ExponentialMovingAverage(
          cifar10.MOVING_AVERAGE_DECAY)
      self.saver = tf1.train.Saver(variable_averages.variables_to_restore())
      self.summary_op = tf1.summary.merge_all()
      self.local_init_op = tf1.local_variables_initializer()
      self.writer = tf1.summary.FileWriter(eval_dir, self.graph)
    self.graph.finalize()

  def run(self, checkpoint_path, num_examples):
    """Evaluates one checkpoint; returns eval_once's result."""
    with tf1.Session(graph=self.graph) as sess:
      return eval_once(sess, self.saver, checkpoint_path, self.top_k_op,
                       self.summary_op, num_examples, self.local_init_op)


def evaluate(checkpoint_dir, eval_dir, data_dir=None, eval_data='test',
             num_examples=10000, batch_size=None, run_once=True,
             eval_interval_secs=300, timeout_secs=None, pipeline=None,
             model=None):
  """Eval CIFAR-10: every new checkpoint once (or the latest, if run_once).

  The model (and whether it is float16) is read from each checkpoint, so a
  VGG-16 or --use_fp16 run needs no extra flag here.

  Args:
    checkpoint_dir: where cifar10_train writes its checkpoints.
    eval_dir: where the summaries go.
    data_dir, batch_size, pipeline: see cifar10.inputs (None: the flag's
      value).
    eval_data: 'test' or 'train_eval'.
    num_examples: how many examples to count.
    run_once: evaluate the latest checkpoint and return.
    eval_interval_secs: minimum seconds between two evaluations.
    timeout_secs: give up waiting for a new checkpoint after this long
      (None: wait for ever).
    model: the model the checkpoints must hold, or None to accept either.

  Returns:
    A list of (global_step, precision) pairs, one per checkpoint evaluated.

  Raises:
    ValueError: the data is missing or malformed, (run_once) there is no
      checkpoint, or a checkpoint holds another model than `model`.
  """
  if run_once:
    latest = tf1.train.latest_checkpoint(checkpoint_dir)
    if not latest:
      print('No checkpoint file found')
      raise ValueError('no checkpoint in %s: train first (cifar10_train '
                       '--train_dir %s) or point --checkpoint_dir at one'
                       % (checkpoint_dir, checkpoint_dir))
    checkpoints = [latest]
  else:
    if not tf1.train.latest_checkpoint(checkpoint_dir):
      print('No checkpoint file found')
      print('Waiting for checkpoints in %s ...' % checkpoint_dir)
    # Yields each new checkpoint once, as soon as it appears.
    checkpoints = tf1.train.checkpoints_iterator(
        checkpoint_dir, min_interval_secs=eval_interval_secs,
        timeout=timeout_secs or None)

  results, graph = [], None
  for path in checkpoints:
    found, use_fp16 = cifar10.describe_checkpoint(path)
    if model and found != model:
      raise ValueError('%s holds a %s model, not --model %s: evaluate it '
                       'without --model, or point --checkpoint_dir at a %s '
                       'run' % (path, found, model, model))
    if graph is None or (graph.model, graph.use_fp16) != (found, use_fp16):
      if graph:
        graph.writer.close()
      graph = _EvalGraph(found, use_fp16, eval_dir, data_dir, eval_data,
                         batch_size, pipeline)
    step = checkpoint_step(path)
    true_count, count, summary_str = graph.run(path, num_examples)
    if count < num_examples:
      print('Note: the data holds only %d examples; evaluated all of them.'
            % count)
    precision = true_count / float(count)
    print('%s: precision @ 1 = %.3f' % (datetime.now(), precision))
    sys.stdout.flush()

    summary = tf1.Summary()
    summary.ParseFromString(summary_str)
    summary.value.add(tag='Precision @ 1', simple_value=precision)
    graph.writer.add_summary(summary, step)
    graph.writer.flush()
    results.append((step, precision))
  if graph:
    graph.writer.close()
  return results


def main(argv):
  del argv  # Unused.
  tf.get_logger().setLevel('ERROR')
  try:
    cifar10.maybe_download_and_extract()
    evaluate(FLAGS.checkpoint_dir, FLAGS.eval_dir, FLAGS.data_dir,
             FLAGS.eval_data, FLAGS.num_examples, FLAGS.batch_size,
             FLAGS.run_once, FLAGS.eval_interval_secs, FLAGS.timeout_secs,
             FLAGS.input_pipeline,
             FLAGS.model if FLAGS['model'].present else None)
  except (OSError, ValueError, tf.errors.OpError) as e:
    sys.exit(cifar10.error_line('cifar10_eval', e))
  except KeyboardInterrupt:
    print('Stopped.')


def run():
  """Entry point of the cifar10_eval console script."""
  app.run(main)


if __name__ == '__main__':
  run()
