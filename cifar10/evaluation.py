"""The evaluation loop: each new checkpoint of a train folder, evaluated once.

cifar10_eval runs it from the command line; cifar10_distributed_train runs
it as a cluster's evaluator replica, beside the training, on the shared
train folder. A library, so that both programs share it (a program never
imports another: its flags would become the other's).

 evaluate(checkpoint_dir, eval_dir, ...)  # -> [(global step, precision)]
 eval_once(sess, saver, checkpoint_path, top_k_op, summary_op, ...)
 checkpoint_step(checkpoint_path)         # the global step saved in it

It defines the two flags both programs take, --eval_dir and
--eval_interval_secs (a flag can be defined once per process).
"""

from datetime import datetime
import os
import sys
import time

from absl import flags
import numpy as np
import tensorflow as tf

from cifar10 import checkpoint_files
from cifar10 import cifar10
from cifar10 import cifar10_cli
from cifar10 import cifar10_input
from cifar10 import mixed_precision as mixed_precision_lib

tf1 = tf.compat.v1

# Where the precision summaries go (\\tmp\\cifar10_eval on Windows).
EVAL_DIR = cifar10_cli.tmp_dir('cifar10_eval')
CHECKPOINT_DIR = cifar10_cli.tmp_dir('cifar10_train')  # --train_dir's.
NUM_EXAMPLES = 10000  # The whole test set.
EVAL_INTERVAL_SECS = 300  # At least this long between two evaluations.
POLL_SECS = 1.0  # How often to look for a new checkpoint.


# The two programs that evaluate (cifar10_eval, and cifar10_distributed_train
# as an evaluator) take these; defined here once, as a flag can be.
flags.DEFINE_string('eval_dir', EVAL_DIR,
                    'Directory where to write event logs.')
flags.DEFINE_integer('eval_interval_secs', EVAL_INTERVAL_SECS,
                     'At least this many seconds between two evaluations.',
                     lower_bound=0)


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


def _new_checkpoints(folder, min_interval_secs, timeout_secs=None):
  """Yields each new checkpoint the folder's state file names, once.

  Polls every POLL_SECS; yields at most every min_interval_secs; returns
  after timeout_secs without a new one (None: waits for ever).

  Raises:
    ValueError: the state file is damaged (naming it).
  """
  last = None
  while True:
    waiting_since = time.time()
    while True:
      named, problem = checkpoint_files.read_state(folder)
      if problem:
        raise ValueError('%s: stop the trainer and mend or delete it' %
                         problem)
      if named and named != last:
        break
      if timeout_secs and time.time() - waiting_since >= timeout_secs:
        print('No new checkpoint in %s for %g s (--timeout_secs): done.' % (
            folder, timeout_secs))
        return
      time.sleep(POLL_SECS)
    last, yielded_at = named, time.time()
    yield named
    time.sleep(max(0.0, min_interval_secs - (time.time() - yielded_at)))


def _intact(path):
  """Checks a new checkpoint before its evaluation.

  A trainer deletes its old checkpoints (it keeps five): one gone while
  it was being read is skipped with a note; one that is there but damaged
  stops the evaluation (ValueError naming the file).
  """
  try:
    checkpoint_files.check_checkpoint(path)
    return True
  except ValueError:
    if os.path.exists(path + '.index'):
      raise
    print('Note: %s was deleted (the trainer keeps its newest five) before '
          'it could be evaluated; waiting for the next one.' % path)
    return False


class _EvalGraph(object):
  """The evaluation graph of one model: inputs, model, hits, summaries."""

  def __init__(self, model, use_fp16, eval_dir, data_dir, eval_data,
               batch_size, pipeline, mode='float32'):
    self.model, self.use_fp16 = model, use_fp16
    self.config = mixed_precision_lib.session_config(mode)
    self.graph = tf.Graph()
    with self.graph.as_default():
      # One pass: each example counted exactly once.
      images, labels = cifar10.inputs(eval_data == 'test', data_dir,
                                      batch_size, pipeline, use_fp16,
                                      num_epochs=1)
      logits = cifar10.inference(
          mixed_precision_lib.model_images(images, mode), model)
      self.top_k_op = tf.nn.in_top_k(predictions=tf.cast(logits, tf.float32),
                                     targets=labels, k=1)
      # Restore the moving average version of the learned variables: they
      # score better than the last, noisier raw values.
      restored = cifar10.variable_averages().variables_to_restore()
      self.restored_names = set(restored)  # As the checkpoint names them.
      self.saver = tf1.train.Saver(restored)
      self.summary_op = tf1.summary.merge_all()
      self.local_init_op = tf1.local_variables_initializer()
      self.writer = tf1.summary.FileWriter(eval_dir, self.graph)
    self.graph.finalize()

  def run(self, checkpoint_path, num_examples):
    """Evaluates one checkpoint; returns eval_once's result.

    Raises:
      ValueError: the checkpoint's weights are NaN or infinite, or make the
        activations so (a run that diverged), naming the checkpoint.
    """
    diverged = checkpoint_files.nonfinite_variables(checkpoint_path,
                                                    self.restored_names)
    if diverged:
      raise ValueError(
          '%s holds NaN or infinite weights (%s): they diverged in training; '
          'evaluate an earlier checkpoint' % (checkpoint_path,
                                              ', '.join(diverged)))
    with tf1.Session(graph=self.graph, config=self.config) as sess:
      try:
        return eval_once(sess, self.saver, checkpoint_path, self.top_k_op,
                         self.summary_op, num_examples, self.local_init_op)
      except tf.errors.InvalidArgumentError as e:
        # The activation histograms are the first ops to refuse a NaN or
        # an infinity.
        if ('Nan in summary histogram' not in e.message and
            'Infinity in Histogram' not in e.message):
          raise
        raise ValueError(
            '%s gives NaN or infinite activations: its weights diverged in '
            'training; evaluate an earlier checkpoint' % checkpoint_path
        ) from None


def _checkpoints_to_evaluate(checkpoint_dir, run_once, eval_interval_secs,
                             timeout_secs):
  """The checkpoints evaluate() works through: the latest, or each new one.

  Raises:
    ValueError: (run_once) there is no checkpoint, or the state file is
      damaged.
  """
  if run_once:
    latest = checkpoint_files.latest_for_eval(checkpoint_dir)
    if not latest:
      print('No checkpoint file found')
      raise ValueError('no checkpoint in %s: train first (cifar10_train '
                       '--train_dir %s) or point --checkpoint_dir at one'
                       % (checkpoint_dir,
                          cifar10_cli.command_path(checkpoint_dir)))
    return [latest]
  if not checkpoint_files.read_state(checkpoint_dir)[0]:
    print('No checkpoint file found')
    print('Waiting for checkpoints in %s ...' % checkpoint_dir)
  return _new_checkpoints(checkpoint_dir, eval_interval_secs, timeout_secs)


def _report(writer, step, precision, summary_str):
  """Prints the precision and writes it, with the graph's summaries."""
  print('%s: precision @ 1 = %.3f' % (datetime.now(), precision))
  sys.stdout.flush()
  summary = tf1.Summary()
  summary.ParseFromString(summary_str)
  summary.value.add(tag='Precision @ 1', simple_value=precision)
  writer.add_summary(summary, step)
  writer.flush()


def evaluate(checkpoint_dir=CHECKPOINT_DIR, eval_dir=EVAL_DIR,
             data_dir=cifar10.DATA_DIR, eval_data='test',
             num_examples=NUM_EXAMPLES, batch_size=cifar10.BATCH_SIZE,
             run_once=True, eval_interval_secs=EVAL_INTERVAL_SECS,
             timeout_secs=None, pipeline=cifar10_input.DEFAULT_PIPELINE,
             model=None, mixed_precision=False, stop_at_step=None,
             prog='cifar10_eval'):
  """Eval CIFAR-10: every new checkpoint once (or the latest, if run_once).

  The model (and whether it is float16) is read from each checkpoint, so a
  VGG-16 or --use_fp16 run needs no extra flag here.

  Args:
    checkpoint_dir: where cifar10_train writes its checkpoints.
    eval_dir: where the summaries go.
    data_dir, batch_size, pipeline: see cifar10.inputs.
    eval_data: 'test' or 'train_eval'.
    num_examples: how many examples to count.
    run_once: evaluate the latest checkpoint and return.
    eval_interval_secs: minimum seconds between two evaluations.
    timeout_secs: give up waiting for a new checkpoint after this long
      (None: wait for ever).
    model: the model the checkpoints must hold ('cifar10' or 'vgg16');
      None: read it from each checkpoint.
    mixed_precision: 16-bit arithmetic where it is faster (see
      mixed_precision.choose); the checkpoint may come from either mode.
    stop_at_step: return once a checkpoint of this global step or later
      has been evaluated (a cluster's evaluator stops with its trainers);
      None: wait for the next one.
    prog: the program, as notes name it.

  Returns:
    A list of (global_step, precision) pairs, one per checkpoint evaluated.

  Raises:
    ValueError: the data is missing or malformed, (run_once) there is no
      checkpoint, the state file or a checkpoint is damaged (naming the
      file), a checkpoint holds another model than `model`, or its weights
      diverged (NaN or infinite activations).
  """
  checkpoints = _checkpoints_to_evaluate(checkpoint_dir, run_once,
                                        eval_interval_secs, timeout_secs)
  mode = mixed_precision_lib.choose(mixed_precision, prog, training=False)
  results, graph = [], None
  for path in checkpoints:
    if not run_once and not _intact(path):
      continue
    found, use_fp16 = cifar10.describe_checkpoint(path)
    if model and found != model:
      raise ValueError('%s holds a %s model, not --model %s: evaluate it '
                       'without --model, or point --checkpoint_dir at a %s '
                       'run' % (path, found, model, model))
    if graph is None or (graph.model, graph.use_fp16) != (found, use_fp16):
      if graph:
        graph.writer.close()
      graph = _EvalGraph(found, use_fp16, eval_dir, data_dir, eval_data,
                         batch_size, pipeline, mode)
    step = checkpoint_step(path)
    true_count, count, summary_str = graph.run(path, num_examples)
    if count < num_examples:
      print('Note: the data holds only %d examples; evaluated all of them.'
            % count)
    precision = true_count / float(count)
    _report(graph.writer, step, precision, summary_str)
    results.append((step, precision))
    if stop_at_step is not None and step >= stop_at_step:
      break
  if graph:
    graph.writer.close()
  return results
