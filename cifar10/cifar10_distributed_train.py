"""A binary to train CIFAR-10 on several machines with TensorFlow's runtime.

Between-graph replication: each process runs a tf.compat.v1.train.Server of
one cluster. Parameter servers (job "ps") hold the variables; each worker
builds its own graph, reads its own images and sends its gradients to them.
Worker 0, the chief, initializes (or restores) the variables and writes the
checkpoints and summaries, which cifar10_eval reads unchanged.

 task = cluster_config.from_flags(...)  # or .from_tf_config(TF_CONFIG)
 serve(server, task.cluster, task.index)         # ps: until workers finish
 steps, global_step = train_worker(server, task.cluster, task.index, ...)
 evaluate_checkpoints()                          # the evaluator

Usage (one machine; on several, use their addresses, one process on each):
  python cifar10_distributed_train.py --job_name ps --task_index 0 \\
      --ps_hosts 127.0.0.1:2222 --worker_hosts 127.0.0.1:2223,127.0.0.1:2224
  python cifar10_distributed_train.py --job_name worker --task_index 0 ...
  python cifar10_distributed_train.py --job_name worker --task_index 1 ...
  python cifar10_eval.py --run_once      # the chief's --train_dir

Without those four flags, the cluster and this process's role come from
TF_CONFIG, as Kubernetes' TFJob (the repository's cifar10/cifar10_tfjob.yaml),
Vertex AI and SageMaker set it: TensorFlow's "chief" is worker 0, its
workers follow; an "evaluator" starts no server but evaluates each new
checkpoint of --train_dir (cifar10_eval's loop) into --eval_dir, and stops
after the one of step --max_steps or later. Given flags win (a note says
TF_CONFIG is ignored); a malformed TF_CONFIG is one line naming the field.

Updates are asynchronous (the global step counts all workers' steps), or
with --sync_replicas aggregated (SyncReplicasOptimizer). Every process stops
by itself: a worker at --max_steps puts its index into a queue on each
parameter server, which returns once all workers have. A killed worker,
started again, trains on from the current global step; a restarted chief
restores its last checkpoint. The server listens on all network interfaces,
without authentication: run a cluster only on a network you trust.
"""

import os
import sys

if __name__ == '__main__' and not __package__:
  # Run as a file in cifar10/ (`python prog.py`, or `%run prog.py` in a
  # kernel), where cifar10.py would shadow the package: the folder above first.
  _HERE = os.path.dirname(os.path.abspath(__file__))
  if sys.path[0] == _HERE:  # Python (and %run) put this folder first.
    del sys.path[0]
  if sys.path[0] != os.path.dirname(_HERE):
    sys.path.insert(0, os.path.dirname(_HERE))
from cifar10 import cifar10_cli
cifar10_cli.start_program(__name__, 'cifar10_distributed_train')

from datetime import datetime
import time

from absl import flags
import tensorflow as tf

from cifar10 import cifar10
from cifar10 import cifar10_input
from cifar10 import cifar10_session
from cifar10 import cluster_config
from cifar10 import evaluation
from cifar10 import mixed_precision as mixed_precision_lib

tf1 = tf.compat.v1
FLAGS = flags.FLAGS

flags.DEFINE_enum('job_name', None, ['ps', 'worker'],
                  'This process\'s job: "ps" (parameter server) or "worker". '
                  'Without it (and the three flags below), TF_CONFIG says.')
flags.DEFINE_integer('task_index', 0,
                     'This process\'s index in its job; worker 0 is the chief.',
                     lower_bound=0)
flags.DEFINE_string('ps_hosts', None,
                    'Comma-separated host:port of the parameter servers.')
flags.DEFINE_string('worker_hosts', None,
                    'Comma-separated host:port of the workers.')
flags.DEFINE_boolean('sync_replicas', False,
                     'Average --replicas_to_aggregate workers\' gradients into '
                     'each update (by default each worker updates alone).')
flags.DEFINE_integer('replicas_to_aggregate', 0,
                     'Gradients per update with --sync_replicas (0: one per '
                     'worker).', lower_bound=0)
# --help lists the model's and the training session's flags too, and the
# evaluation's, which only an evaluator (TF_CONFIG task) reads.
flags.adopt_module_key_flags(cifar10)
flags.adopt_module_key_flags(cifar10_session)
flags.adopt_module_key_flags(evaluation)

POLL_SECS = 1.0  # How often to look for finished workers, or the chief.
SYNC_STOP_GRACE_SECS = 5  # A closing chief's wait for its sync thread.


def _done_queues(cluster):
  """Per parameter server, a queue (shared by name) for finished workers."""
  queues = []
  for i in range(cluster.num_tasks('ps')):
    with tf.device('/job:ps/task:%d' % i):
      queues.append(tf1.FIFOQueue(-1, tf.int32, shapes=[], name='done_queue',
                                  shared_name='done_queue_%d' % i))
  return queues


def serve(server, cluster, task_index):
  """Serves the variables until every worker has finished.

  Args:
    server: this parameter server's tf.compat.v1.train.Server.
    cluster: the ClusterSpec.
    task_index: this parameter server's index.
  """
  num_workers = cluster.num_tasks('worker')
  with tf.Graph().as_default():
    queue = _done_queues(cluster)[task_index]
    # Polled, never a dequeue that waits: a dequeue cancelled by a timeout
    # (to look at the stop flag) could take a worker's message with it, and
    # the server then waited for ever (seen once when both workers of a
    # sync cluster finished within 0.1 s).
    size = queue.size()
    count = tf1.placeholder(tf.int32, [])
    take = queue.dequeue_many(count)
    # Only this task's devices: the session must not wait for the others.
    config = tf1.ConfigProto(device_filters=['/job:ps/task:%d' % task_index])
    done, stop_on_signal = set(), cifar10_session.StopOnSignalHook()
    stop_on_signal.begin()
    with tf1.Session(server.target, config=config) as sess:
      print('Parameter server %d serving at %s until all %d workers have '
            'finished.' % (task_index, cluster.task_address('ps', task_index),
                           num_workers), flush=True)
      while len(done) < num_workers and not stop_on_signal.signal_name:
        waiting = int(sess.run(size))
        if not waiting:
          time.sleep(POLL_SECS)
          continue
        for worker in sess.run(take, {count: waiting}):
          done.add(int(worker))
          print('%s: parameter server %d: worker %d finished (%d of %d).'
                % (datetime.now(), task_index, worker, len(done),
                   num_workers), flush=True)
    stop_on_signal.end(None)
  if stop_on_signal.signal_name:
    print('Parameter server %d stopped by %s.' % (task_index,
                                                  stop_on_signal.signal_name))
  else:
    print('Parameter server %d: all workers finished; stopping.' % task_index)


class _SyncReplicasOptimizer(tf1.train.SyncReplicasOptimizer):
  """SyncReplicasOptimizer whose chief thread stops without a traceback."""

  def get_chief_queue_runner(self):
    # At the end the chief's thread still waits for gradients no worker
    # sends; closing the session cancels the wait: let that end it quietly.
    runner = super().get_chief_queue_runner()
    return tf1.train.QueueRunner(
        runner.queue, runner.enqueue_ops,
        queue_closed_exception_types=(tf.errors.OutOfRangeError,
                                      tf.errors.CancelledError))


def _wait_for_chief(target, config, task_index):
  """Returns once the chief has set up the variables (TF looks every 30 s)."""
  # Global variables only: the local ones are each worker's own to set up.
  uninitialized = tf1.report_uninitialized_variables(tf1.global_variables())
  with tf1.Session(target, config=config) as sess:
    if sess.run(uninitialized).size:
      print('Worker %d: waiting for the chief (worker 0) to initialize the '
            'variables.' % task_index, flush=True)
      while sess.run(uninitialized).size:
        time.sleep(POLL_SECS)


def build_worker_graph(cluster, task_index, sync_replicas=False,
                       replicas_to_aggregate=0, data_dir=cifar10.DATA_DIR,
                       batch_size=cifar10.BATCH_SIZE,
                       pipeline=cifar10_input.DEFAULT_PIPELINE, use_fp16=False,
                       model='cifar10', mode='float32'):
  """Builds one worker's graph, cifar10.train's, in the default graph.

  Variables go to the parameter servers (round robin), the rest to this
  worker, the input pipeline to its CPU.

  Args:
    cluster: the ClusterSpec.
    task_index: this worker's index; 0 is the chief.
    sync_replicas: aggregate gradients with SyncReplicasOptimizer.
    replicas_to_aggregate: gradients per update (0: one per worker).
    data_dir, batch_size, pipeline, use_fp16: see cifar10.distorted_inputs.
    model: 'cifar10' or 'vgg16'.
    mode: the arithmetic (mixed_precision.choose); 'float16' adds loss
      scaling.

  Returns:
    (global_step, loss, train_op, hooks), hooks: the sync optimizer's, if any.

  Raises:
    ValueError: the data is missing or malformed.
  """
  worker_device = '/job:worker/task:%d' % task_index
  num_workers = cluster.num_tasks('worker')
  hooks = []

  def wrap(opt):
    if mode == 'float16':
      opt = mixed_precision_lib.loss_scale_optimizer(opt)
    if not sync_replicas:
      return opt
    # The chief updates the moving averages once per aggregated update
    # (the same shadow variables as cifar10.average_variables makes).
    opt = _SyncReplicasOptimizer(
        opt, replicas_to_aggregate=replicas_to_aggregate or num_workers,
        total_num_replicas=num_workers,
        variable_averages=cifar10.variable_averages(global_step),
        variables_to_average=tf1.trainable_variables())
    hooks.append(opt.make_session_run_hook(task_index == 0))
    return opt

  with tf1.device(tf1.train.replica_device_setter(
      worker_device=worker_device, cluster=cluster)):
    global_step = tf1.train.get_or_create_global_step()
    with tf.device(worker_device + '/cpu:0'):
      images, labels = cifar10.distorted_inputs(data_dir, batch_size,
                                                pipeline, use_fp16)
    images = mixed_precision_lib.model_images(images, mode)
    loss = cifar10.loss(cifar10.inference(images, model), labels)
    train_op = cifar10.train(loss, global_step, batch_size, model,
                             wrap_optimizer=wrap)
  return global_step, loss, train_op, hooks


def train_worker(server, cluster, task_index, *, sync_replicas=False,
                 replicas_to_aggregate=0, data_dir=cifar10.DATA_DIR,
                 batch_size=cifar10.BATCH_SIZE,
                 pipeline=cifar10_input.DEFAULT_PIPELINE, use_fp16=False,
                 model='cifar10', mixed_precision=False, **session):
  """Trains as one worker until the global step reaches max_steps.

  Args:
    server: this worker's tf.compat.v1.train.Server.
    cluster: the ClusterSpec.
    task_index: this worker's index; 0 is the chief, which alone writes
      (and locks) train_dir.
    sync_replicas, replicas_to_aggregate, data_dir, batch_size, pipeline,
      use_fp16, model: see build_worker_graph.
    mixed_precision: 16-bit arithmetic where it is faster (see
      mixed_precision.choose).
    **session: the training session's settings, passed on to
      cifar10_session.run_training (train_dir, max_steps, log_frequency:
      this worker's steps between log lines, ...).

  Returns:
    (local_steps, global_step): this process's steps, the final global step.

  Raises:
    OSError: (chief) train_dir cannot be written.
    ValueError: the data is missing or malformed, (chief) another trainer
      holds train_dir or its checkpoints are damaged beyond use, or the loss
      became NaN.
  """
  is_chief = task_index == 0
  mode = mixed_precision_lib.choose(mixed_precision,
                                    'cifar10_distributed_train',
                                    use_fp16=use_fp16)
  with tf.Graph().as_default():
    global_step, loss, train_op, hooks = build_worker_graph(
        cluster, task_index, sync_replicas, replicas_to_aggregate, data_dir,
        batch_size, pipeline, use_fp16, model, mode)
    done_ops = [q.enqueue(task_index) for q in _done_queues(cluster)]
    # Only the ps and this worker: a worker that is down must not hold us up.
    config = tf1.ConfigProto(
        device_filters=['/job:ps', '/job:worker/task:%d' % task_index])
    if not is_chief:
      _wait_for_chief(server.target, config, task_index)
    result = cifar10_session.run_training(
        train_op, loss, batch_size, mode=mode, config=config, hooks=hooks,
        master=server.target, is_chief=is_chief, worker=task_index,
        stop_grace_period_secs=SYNC_STOP_GRACE_SECS if sync_replicas
        else 120, **session)
    return _report(server, config, global_step, done_ops, task_index,
                   result)


def _report(server, config, global_step, done_ops, task_index, result):
  """Tells the parameter servers this worker is done, unless it was stopped.

  Returns:
    (local_steps, global_step).
  """
  with tf1.Session(server.target, config=config) as sess:
    step = int(sess.run(global_step))
    if result.signal_name:
      print('Worker %d stopped by %s after %d steps; global step %d. The '
            'parameter servers serve on: start it again to go on.' % (
                task_index, result.signal_name, result.local_steps, step))
    else:
      sess.run(done_ops)
      print('Worker %d finished: %d steps here; global step %d.' % (
          task_index, result.local_steps, step))
  return result.local_steps, step


CLUSTER_FLAGS = ('job_name', 'task_index', 'ps_hosts', 'worker_hosts')


def _task(environ):
  """This process's role: from the flags if any is given, else TF_CONFIG."""
  tf_config = environ.get('TF_CONFIG', '').strip()
  # Given on the command line, or assigned in a notebook (FLAGS.ps_hosts =
  # ...), which leaves `present` unset.
  given = any(FLAGS[name].present or FLAGS[name].value != FLAGS[name].default
              for name in CLUSTER_FLAGS)
  if tf_config and not given:
    task = cluster_config.from_tf_config(tf_config)
    print('%s; this process is %s %d%s.' % (
        task.origin, task.job, task.index,
        ' (the chief)' if task.job == 'worker' and task.index == 0 else ''),
        flush=True)
    return task
  if tf_config:
    print('cifar10_distributed_train: note: TF_CONFIG is set, but the flags '
          'give the cluster: TF_CONFIG is ignored.')
  return cluster_config.from_flags(FLAGS.job_name, FLAGS.task_index,
                                   FLAGS.ps_hosts, FLAGS.worker_hosts)


def evaluate_checkpoints():
  """The evaluator: each new checkpoint of --train_dir, until --max_steps."""
  results = evaluation.evaluate(
      checkpoint_dir=FLAGS.train_dir, eval_dir=FLAGS.eval_dir,
      data_dir=FLAGS.data_dir, batch_size=FLAGS.batch_size,
      pipeline=FLAGS.input_pipeline, run_once=False,
      eval_interval_secs=FLAGS.eval_interval_secs,
      model=FLAGS.model if FLAGS['model'].present else None,
      mixed_precision=FLAGS.mixed_precision, stop_at_step=FLAGS.max_steps,
      prog='cifar10_distributed_train')
  print('Evaluator finished: %d checkpoint(s) evaluated, the last at global '
        'step %d; summaries in %s.' % (len(results), results[-1][0],
                                       FLAGS.eval_dir))


def main(argv):
  del argv  # Unused.
  tf.get_logger().setLevel('ERROR')
  task = _task(os.environ)
  if task.job != 'ps':
    # Each worker (and the evaluator) reads its own copy of the data.
    cifar10.maybe_download_and_extract(FLAGS.data_dir, FLAGS.data_url,
                                       FLAGS.data_md5)
  if task.job == cluster_config.EVALUATOR:
    evaluate_checkpoints()
    return
  cluster, job, index = task.cluster, task.job, task.index
  try:
    server = tf1.train.Server(cluster, job_name=job, task_index=index)
  except tf.errors.OpError as e:
    raise OSError('cannot start the %s %d server at %s (%s); is the port '
                  'in use, or the address not this machine\'s?' % (
                      job, index, cluster.task_address(job, index),
                      e.message)) from e
  if job == 'ps':
    serve(server, cluster, index)
    return
  train_worker(server, cluster, index, sync_replicas=FLAGS.sync_replicas,
               replicas_to_aggregate=FLAGS.replicas_to_aggregate,
               **cifar10.model_settings(FLAGS),
               **cifar10_session.session_settings(FLAGS))


def run():
  """Entry point of the cifar10_distributed_train console script."""
  cifar10_cli.run(main, sys.modules[__name__], 'cifar10_distributed_train')


if __name__ == '__main__':
  run()
