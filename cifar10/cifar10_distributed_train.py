"""A binary to train CIFAR-10 on several machines with TensorFlow's runtime.

Between-graph replication: each process runs a tf.compat.v1.train.Server of
one cluster. Parameter servers (job "ps") hold the variables; each worker
builds its own graph, reads its own images and sends its gradients to them.
Worker 0, the chief, initializes (or restores) the variables and writes the
checkpoints and summaries, which cifar10_eval reads unchanged.

 cluster = cluster_spec(ps_hosts, worker_hosts)   # from the flags
 serve(server, cluster, task_index)               # ps: until workers finish
 steps, global_step = train_worker(server, cluster, task_index, ...)

Usage (one machine; on several, use their addresses, one process on each):
  python cifar10_distributed_train.py --job_name ps --task_index 0 \\
      --ps_hosts 127.0.0.1:2222 --worker_hosts 127.0.0.1:2223,127.0.0.1:2224
  python cifar10_distributed_train.py --job_name worker --task_index 0 ...
  python cifar10_distributed_train.py --job_name worker --task_index 1 ...
  python cifar10_eval.py --run_once      # the chief's --train_dir

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
  # Run as `python cifar10_distributed_train.py`: this folder is first on
  # sys.path and its cifar10.py would shadow the cifar10 package, so start
  # from the repo root.
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # hide C++ notices

from datetime import datetime
import time

from absl import app
from absl import flags
import tensorflow as tf

from cifar10 import cifar10
# The training flags (--train_dir, --max_steps, --log_frequency, --fresh, ...)
# and hooks are cifar10_train's: an absl flag can be defined only once.
from cifar10 import cifar10_train

tf1 = tf.compat.v1
FLAGS = flags.FLAGS

flags.DEFINE_enum('job_name', None, ['ps', 'worker'],
                  'This process\'s job: "ps" (parameter server) or "worker".')
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

POLL_SECS = 1.0  # How often to look for finished workers, or the chief.
SYNC_STOP_GRACE_SECS = 5  # A closing chief's wait for its sync thread.


def cluster_spec(ps_hosts, worker_hosts):
  """The cluster: one "ps" and one "worker" job.

  Args:
    ps_hosts: comma-separated host:port of the parameter servers.
    worker_hosts: comma-separated host:port of the workers.

  Returns:
    A tf.compat.v1.train.ClusterSpec.

  Raises:
    ValueError: a list is empty or malformed, or two tasks share an address.
  """
  jobs = {}
  for job, text, flag in (('ps', ps_hosts, '--ps_hosts'),
                          ('worker', worker_hosts, '--worker_hosts')):
    jobs[job] = [h.strip() for h in (text or '').split(',') if h.strip()]
    if not jobs[job]:
      raise ValueError('%s is required: comma-separated host:port' % flag)
    for host in jobs[job]:
      name, _, port = host.rpartition(':')
      if not name or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError('%s: %r is not host:port' % (flag, host))
    if len(set(jobs[job])) < len(jobs[job]):
      raise ValueError('%s lists an address twice' % flag)
  both = sorted(set(jobs['ps']) & set(jobs['worker']))
  if both:
    raise ValueError('%s is both a parameter server and a worker' % both[0])
  return tf1.train.ClusterSpec(jobs)


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
    dequeue = _done_queues(cluster)[task_index].dequeue()
    # Only this task's devices: the session must not wait for the others.
    config = tf1.ConfigProto(device_filters=['/job:ps/task:%d' % task_index])
    # Dequeue with a timeout, to see a stop signal (a flag) within a second.
    options = tf1.RunOptions(timeout_in_ms=int(POLL_SECS * 1000))
    done, stop_on_signal = set(), cifar10_train.StopOnSignalHook()
    stop_on_signal.begin()
    with tf1.Session(server.target, config=config) as sess:
      print('Parameter server %d serving at %s until all %d workers have '
            'finished.' % (task_index, cluster.task_address('ps', task_index),
                           num_workers), flush=True)
      while len(done) < num_workers and not stop_on_signal.signal_name:
        try:
          worker = sess.run(dequeue, options=options)
        except tf.errors.DeadlineExceededError:
          continue
        done.add(int(worker))
        print('%s: parameter server %d: worker %d finished (%d of %d).'
              % (datetime.now(), task_index, worker, len(done), num_workers),
              flush=True)
    stop_on_signal.end(None)
  if stop_on_signal.signal_name:
    print('Parameter server %d stopped by %s.' % (task_index,
                                                  stop_on_signal.signal_name))
  else:
    print('Parameter server %d: all workers finished; stopping.' % task_index)


class WorkerLoggerHook(tf1.train.SessionRunHook):
  """Logs this worker's steps (local_steps), the global step, loss, speed."""

  def __init__(self, task_index, loss, global_step, batch_size,
               log_frequency):
    self._task_index = task_index
    self._fetches = [loss, global_step]
    self._batch_size = batch_size
    self._log_frequency = log_frequency
    self.local_steps = 0

  def after_create_session(self, session, coord):  # Also after a recovery.
    del session, coord
    self._steps_since_log = 0
    self._start_time = time.time()

  def before_run(self, run_context):
    del run_context
    return tf1.train.SessionRunArgs(self._fetches)

  def after_run(self, run_context, run_values):
    del run_context
    self._steps_since_log += 1
    if self.local_steps % self._log_frequency == 0:
      loss, global_step = run_values.results
      duration = time.time() - self._start_time
      print('%s: worker %d: step %d (global step %d), loss = %.2f (%.1f '
            'examples/sec; %.3f sec/batch)' % (
                datetime.now(), self._task_index, self.local_steps,
                global_step, loss, self._steps_since_log * self._batch_size /
                duration, duration / self._steps_since_log), flush=True)
      self._start_time += duration
      self._steps_since_log = 0
    self.local_steps += 1


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
                       replicas_to_aggregate=0, data_dir=None,
                       batch_size=None, pipeline=None, use_fp16=None,
                       model=None):
  """Builds one worker's graph, cifar10.train's, in the default graph.

  Variables go to the parameter servers (round robin), the rest to this
  worker, the input pipeline to its CPU.

  Args:
    cluster: the ClusterSpec.
    task_index: this worker's index; 0 is the chief.
    sync_replicas: aggregate gradients with SyncReplicasOptimizer.
    replicas_to_aggregate: gradients per update (0: one per worker).
    data_dir, batch_size, pipeline, use_fp16: see cifar10.distorted_inputs.
    model: 'cifar10' or 'vgg16' (None: --model).

  Returns:
    (global_step, loss, train_op, hooks), hooks: the sync optimizer's, if any.

  Raises:
    ValueError: the data is missing or malformed.
  """
  worker_device = '/job:worker/task:%d' % task_index
  num_workers = cluster.num_tasks('worker')
  with tf1.device(tf1.train.replica_device_setter(
      worker_device=worker_device, cluster=cluster)):
    global_step = tf1.train.get_or_create_global_step()
    with tf.device(worker_device + '/cpu:0'):
      images, labels = cifar10.distorted_inputs(data_dir, batch_size,
                                                pipeline, use_fp16)
    loss = cifar10.loss(cifar10.inference(images, model), labels)
    lr = cifar10.learning_rate(global_step, batch_size, model=model)
    tf1.summary.scalar('learning_rate', lr)
    loss_averages_op = cifar10.add_loss_summaries(loss)
    opt = tf1.train.GradientDescentOptimizer(lr)
    if sync_replicas:
      # The chief updates the moving averages once per aggregated update
      # (the same shadow variables as cifar10.average_variables makes).
      opt = _SyncReplicasOptimizer(
          opt, replicas_to_aggregate=replicas_to_aggregate or num_workers,
          total_num_replicas=num_workers,
          variable_averages=tf1.train.ExponentialMovingAverage(
              cifar10.MOVING_AVERAGE_DECAY, global_step),
          variables_to_average=tf1.trainable_variables())
    with tf.control_dependencies([loss_averages_op]):
      grads = opt.compute_gradients(loss)
    train_op = opt.apply_gradients(grads, global_step=global_step)
    cifar10.add_histogram_summaries(grads)
    if sync_replicas:
      return global_step, loss, train_op, [
          opt.make_session_run_hook(task_index == 0)]
    train_op = cifar10.average_variables(train_op, global_step)
  return global_step, loss, train_op, []


def train_worker(server, cluster, task_index, train_dir, max_steps,
                 sync_replicas=False, replicas_to_aggregate=0, data_dir=None,
                 batch_size=None, log_frequency=10, log_device_placement=False,
                 pipeline=None, use_fp16=None, save_checkpoint_secs=600,
                 save_summaries_steps=100, fresh=False, model=None):
  """Trains as one worker until the global step reaches max_steps.

  Args:
    server: this worker's tf.compat.v1.train.Server.
    cluster: the ClusterSpec.
    task_index: this worker's index; 0 is the chief.
    train_dir: where the chief writes checkpoints and summaries.
    max_steps: the global step to stop at.
    sync_replicas, replicas_to_aggregate, data_dir, batch_size, pipeline,
      use_fp16, model: see build_worker_graph (None: the flag's value).
    log_frequency: this worker's steps between log lines.
    log_device_placement: log the device of every op.
    save_checkpoint_secs, save_summaries_steps: the chief's checkpoint and
      summary intervals.
    fresh: (chief) delete train_dir first and start from step 0.

  Returns:
    (local_steps, global_step): this process's steps, the final global step.

  Raises:
    OSError: (chief) train_dir cannot be written.
    ValueError: the data is missing or malformed, or the loss became NaN.
  """
  is_chief = task_index == 0
  batch_size = batch_size or FLAGS['batch_size'].value
  if is_chief:
    cifar10_train.prepare_train_dir(train_dir, fresh)
  with tf.Graph().as_default():
    global_step, loss, train_op, hooks = build_worker_graph(
        cluster, task_index, sync_replicas, replicas_to_aggregate, data_dir,
        batch_size, pipeline, use_fp16, model)
    done_ops = [q.enqueue(task_index) for q in _done_queues(cluster)]
    logger = WorkerLoggerHook(task_index, loss, global_step, batch_size,
                              log_frequency)
    stop_on_signal = cifar10_train.StopOnSignalHook()
    hooks += [tf1.train.StopAtStepHook(last_step=max_steps),
              tf1.train.NanTensorHook(loss), logger, stop_on_signal]
    # Only the ps and this worker: a worker that is down must not hold us up.
    config = tf1.ConfigProto(
        device_filters=['/job:ps', '/job:worker/task:%d' % task_index],
        log_device_placement=log_device_placement)
    if is_chief:
      print('Worker 0 (chief) of %d: writing checkpoints and summaries to %s'
            % (cluster.num_tasks('worker'), train_dir), flush=True)
    else:
      _wait_for_chief(server.target, config, task_index)
    try:
      with tf1.train.MonitoredTrainingSession(
          master=server.target, is_chief=is_chief,
          checkpoint_dir=train_dir if is_chief else None, hooks=hooks,
          config=config, save_checkpoint_secs=save_checkpoint_secs,
          save_summaries_steps=save_summaries_steps,
          log_step_count_steps=save_summaries_steps,
          stop_grace_period_secs=SYNC_STOP_GRACE_SECS if sync_replicas
          else 120) as mon_sess:
        step = mon_sess.run_step_fn(
            lambda step_context: step_context.session.run(global_step))
        print('Worker %d: training from global step %d to --max_steps %d.'
              % (task_index, step, max_steps), flush=True)
        while step < max_steps and not mon_sess.should_stop():
          mon_sess.run(train_op)
    except tf1.train.NanLossDuringTrainingError as e:
      raise ValueError('the loss became NaN (training diverged). Try a '
                       'smaller learning rate or batch size, or restart the '
                       'chief to resume from the last checkpoint in %s.'
                       % train_dir) from e
    with tf1.Session(server.target, config=config) as sess:
      step = int(sess.run(global_step))
      if stop_on_signal.signal_name:
        print('Worker %d stopped by %s after %d steps; global step %d. The '
              'parameter servers serve on: start it again to go on.' % (
                  task_index, stop_on_signal.signal_name, logger.local_steps,
                  step))
      else:
        # Tell the parameter servers this worker is done.
        sess.run(done_ops)
        print('Worker %d finished: %d steps here; global step %d.' % (
            task_index, logger.local_steps, step))
  return logger.local_steps, step


def main(argv):
  del argv  # Unused.
  tf.get_logger().setLevel('ERROR')
  try:
    if not FLAGS.job_name:
      raise ValueError('--job_name is required: ps or worker')
    cluster = cluster_spec(FLAGS.ps_hosts, FLAGS.worker_hosts)
    if FLAGS.task_index >= cluster.num_tasks(FLAGS.job_name):
      raise ValueError('--task_index %d, but the %s job has %d task(s)' % (
          FLAGS.task_index, FLAGS.job_name, cluster.num_tasks(FLAGS.job_name)))
    if FLAGS.job_name == 'worker':
      cifar10.maybe_download_and_extract()  # Each worker reads its own copy.
    job, task = FLAGS.job_name, FLAGS.task_index
    try:
      server = tf1.train.Server(cluster, job_name=job, task_index=task)
    except tf.errors.OpError as e:
      raise OSError('cannot start the %s %d server at %s (%s); is the port '
                    'in use, or the address not this machine\'s?' % (
                        job, task, cluster.task_address(job, task),
                        e.message)) from e
    if FLAGS.job_name == 'ps':
      serve(server, cluster, FLAGS.task_index)
    else:
      train_worker(
          server, cluster, FLAGS.task_index, FLAGS.train_dir, FLAGS.max_steps,
          FLAGS.sync_replicas, FLAGS.replicas_to_aggregate, FLAGS.data_dir,
          FLAGS.batch_size, FLAGS.log_frequency, FLAGS.log_device_placement,
          FLAGS.input_pipeline, FLAGS.use_fp16, FLAGS.save_checkpoint_secs,
          FLAGS.save_summaries_steps, FLAGS.fresh, FLAGS.model)
  except (OSError, ValueError, tf.errors.OpError) as e:
    sys.exit(cifar10.error_line('cifar10_distributed_train', e))
  except KeyboardInterrupt:
    print('Stopped.')


def run():
  """Entry point of the cifar10_distributed_train console script."""
  app.run(main)


if __name__ == '__main__':
  run()
