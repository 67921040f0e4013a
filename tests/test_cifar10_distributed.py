"""cifar10_distributed_train: the cluster flags, where the worker graph puts
variables and ops, and real clusters of 1 parameter server and 2 workers as
separate processes on 127.0.0.1 (asynchronous and synchronous updates, a
worker killed and restarted); every process must stop by itself and free
its port."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import testdata
from cifar10 import cifar10
from cifar10 import cifar10_distributed_train as dist
from conftest import program_env
from conftest import REPO
from conftest import run_program

tf1 = tf.compat.v1

PROG = os.path.join('cifar10', 'cifar10_distributed_train.py')
EVAL = os.path.join('cifar10', 'cifar10_eval.py')
WORKER_LINE = re.compile(
    r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: worker (\d): step (\d+) '
    r'\(global step (\d+)\), loss = \d+\.\d\d \(\d+\.\d examples/sec; '
    r'\d+\.\d{3} sec/batch\)$', re.M)
FINISHED = re.compile(
    r'^Worker (\d) finished: (\d+) steps here; global step (\d+)\.$', re.M)
TIMEOUT = 300  # Seconds for a whole cluster run on a busy 2-core machine.


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  # Flat images: nothing to learn, so nothing can diverge. With a class
  # signal, two asynchronous workers at the tutorial's learning rate on 40
  # images reached NaN by global step 40 in one run in the full suite.
  root = str(tmp_path_factory.mktemp('cifar10_data'))
  testdata.make_cifar10_dir(root, n=40, n_test=30, flat=True)
  return root


def _free_ports(n):
  """n distinct ports on 127.0.0.1 that were free a moment ago."""
  sockets = [socket.socket() for _ in range(n)]
  try:
    for s in sockets:
      s.bind(('127.0.0.1', 0))
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def _port_is_free(port):
  """Whether a server could listen on port now (as gRPC does, reusing it)."""
  with socket.socket() as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
      s.bind(('127.0.0.1', port))
      s.listen()
    except OSError:
      return False
  return True


class _Cluster(object):
  """Processes of one cluster, each logging to its own file."""

  def __init__(self, root, data_dir, args, num_workers=2):
    self.root = root
    self.ports = _free_ports(1 + num_workers)
    self.train_dir = os.path.join(root, 'train')
    # Batch 16: the tests count steps, stops and ports, never learning, and
    # a step of 64 took four times the CPU (18 CPU-seconds more for this
    # file). The killed worker's restart still joined at global step 12 to
    # 26 of 60 in six runs: far from the end the test must come before.
    self.flags = [
        '--ps_hosts', '127.0.0.1:%d' % self.ports[0], '--worker_hosts',
        ','.join('127.0.0.1:%d' % p for p in self.ports[1:]), '--data_dir',
        data_dir, '--train_dir', self.train_dir, '--batch_size', '16',
        '--log_frequency', '5'] + list(args)
    self.procs = {}

  def start(self, name, job, task=0):
    with open(os.path.join(self.root, name + '.log'), 'w') as log:
      self.procs[name] = subprocess.Popen(
          [sys.executable, PROG, '--job_name', job, '--task_index',
           str(task)] + self.flags, cwd=REPO, env=program_env(), stdout=log,
          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

  def output(self, name):
    with open(os.path.join(self.root, name + '.log')) as f:
      return f.read()

  def wait_for(self, name, pattern, timeout=TIMEOUT):
    """Waits until name's log matches pattern; returns the match."""
    deadline = time.time() + timeout
    while time.time() < deadline:
      found = re.search(pattern, self.output(name), re.M)
      if found:
        return found
      if self.procs[name].poll() is not None:
        break
      time.sleep(0.2)
    pytest.fail('%s: no %r in its log:\n%s' % (name, pattern,
                                                self.output(name)))

  def _fail(self, why):
    pytest.fail('%s; logs:\n%s' % (why, '\n'.join(
        '--- %s\n%s' % (n, self.output(n)) for n in self.procs)))

  def wait_all(self, timeout=TIMEOUT):
    """Waits for every process to exit by itself; fails on a timeout, or
    at once when one fails (the parameter server would wait for ever)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
      codes = {name: proc.poll() for name, proc in self.procs.items()}
      failed = [n for n, c in codes.items()
                if c not in (None, 0, -signal.SIGKILL)]
      if failed:
        self._fail('%s exited with %s' % (failed[0], codes[failed[0]]))
      if None not in codes.values():
        return
      time.sleep(0.2)
    self._fail('not all stopped by themselves within %d s' % timeout)

  def kill_all(self):
    for proc in self.procs.values():
      if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)  # In case a test paused it.
        proc.kill()
        proc.wait()


@pytest.fixture
def make_cluster(tmp_path, data_dir):
  clusters = []

  def make(*args, num_workers=2):
    clusters.append(_Cluster(str(tmp_path), data_dir, args, num_workers))
    return clusters[-1]

  yield make
  for cluster in clusters:  # Nothing may outlive the test, pass or fail.
    cluster.kill_all()


def _start_ps_and_workers(cluster):
  """Starts the ps and worker 1, then the chief once worker 1 waits for it,
  so that both workers train from the start."""
  cluster.start('ps', 'ps')
  cluster.start('w1', 'worker', 1)
  cluster.wait_for('w1', 'waiting for the chief')
  cluster.start('w0', 'worker', 0)


def _finished(cluster, names):
  """{task: (local steps, global step)} from the workers' last lines."""
  result = {}
  for name in names:
    found = FINISHED.findall(cluster.output(name))
    assert len(found) == 1, cluster.output(name)
    task, local, global_step = (int(x) for x in found[0])
    result[task] = (local, global_step)
  return result


def _assert_ps_stopped_and_ports_free(cluster, names):
  for name in names:
    assert cluster.procs[name].returncode == 0, cluster.output(name)
  ps = cluster.output('ps')
  assert re.search(r'worker 0 finished \(\d of 2\)', ps)
  assert re.search(r'worker 1 finished \(\d of 2\)', ps)
  assert 'Parameter server 0: all workers finished; stopping.' in ps
  for port in cluster.ports:
    assert _port_is_free(port), port


def test_cluster_spec():
  cluster = dist.cluster_spec('127.0.0.1:2222',
                              '127.0.0.1:2223, 127.0.0.1:2224')
  assert cluster.as_dict() == {'ps': ['127.0.0.1:2222'],
                               'worker': ['127.0.0.1:2223', '127.0.0.1:2224']}
  for ps, workers, message in [
      ('', '127.0.0.1:1', '--ps_hosts is required'),
      ('127.0.0.1:1', None, '--worker_hosts is required'),
      ('127.0.0.1', '127.0.0.1:2', "'127.0.0.1' is not host:port"),
      ('127.0.0.1:1', '127.0.0.1:70000', 'is not host:port'),
      ('127.0.0.1:1', '127.0.0.1:2,127.0.0.1:2', 'lists an address twice'),
      ('127.0.0.1:1', '127.0.0.1:1', 'both a parameter server and a worker')]:
    with pytest.raises(ValueError, match=re.escape(message)):
      dist.cluster_spec(ps, workers)


@pytest.mark.parametrize('sync_replicas', [False, True])
def test_worker_graph_placement_and_variable_names(data_dir, sync_replicas):
  cluster = tf1.train.ClusterSpec({
      'ps': ['127.0.0.1:1', '127.0.0.1:2'],
      'worker': ['127.0.0.1:3', '127.0.0.1:4']})
  with tf.Graph().as_default():
    _, _, _, hooks = dist.build_worker_graph(
        cluster, 1, sync_replicas, data_dir=data_dir, batch_size=4,
        pipeline='dataset', use_fp16=False, model='cifar10')
    assert len(hooks) == int(sync_replicas)  # SyncReplicasOptimizer's hook.
    if sync_replicas:
      # The hook runs this check in a session; touch it here instead, or
      # TensorFlow logs "Object was never used" when the graph goes away.
      assert hooks[0]._sync_optimizer.ready_for_local_init_op.name
    graph = tf1.get_default_graph()
    devices = {v.op.name: v.device for v in tf1.global_variables()}
    names = sorted(devices)
    conv = graph.get_operation_by_name('conv1/Conv2D').device
    reader = [op.device for op in graph.get_operations()
              if op.type == 'IteratorGetNext']
  # Variables spread over both parameter servers, with their moving
  # averages beside them; the model and the input run on worker 1.
  tasks = {re.match(r'/job:ps/task:(\d)(/device:CPU:0)?$', d).group(1)
           for d in devices.values()}
  assert tasks == {'0', '1'}, devices
  assert (devices['conv1/weights'] ==
          devices['conv1/weights/ExponentialMovingAverage'])
  assert conv == '/job:worker/task:1'
  assert reader == ['/job:worker/task:1/device:CPU:0']
  # The checkpoint holds cifar10_train's variables: cifar10_eval reads it.
  with tf.Graph().as_default():
    global_step = tf1.train.get_or_create_global_step()
    loss = cifar10.loss(cifar10.inference(tf.zeros([4, 24, 24, 3]),
                                          'cifar10'), tf.zeros([4], tf.int32))
    cifar10.train(loss, global_step, 4)
    assert names == sorted(v.op.name for v in tf1.global_variables())


def test_bad_flags_and_busy_port_give_one_line_errors(data_dir):
  proc = run_program([PROG, '--ps_hosts', '127.0.0.1:1', '--worker_hosts',
                      '127.0.0.1:2'], check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1] == (
      'cifar10_distributed_train: error: --job_name is required: ps or '
      'worker')
  with socket.socket() as busy:
    busy.bind(('127.0.0.1', 0))
    busy.listen()
    port = busy.getsockname()[1]
    proc = run_program([PROG, '--job_name', 'ps', '--ps_hosts',
                        '127.0.0.1:%d' % port, '--worker_hosts',
                        '127.0.0.1:%d' % _free_ports(1)[0]], check=False)
  assert proc.returncode == 1
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith('cifar10_distributed_train: error: cannot start the '
                         'ps 0 server at 127.0.0.1:%d' % port), proc.stderr
  assert 'is the port in use' in last
  assert 'Traceback' not in proc.stderr


def test_async_cluster_counts_both_workers_and_stops(make_cluster, tmp_path,
                                                     data_dir):
  max_steps = 60
  cluster = make_cluster('--max_steps', str(max_steps))
  _start_ps_and_workers(cluster)
  cluster.wait_for('ps', 'serving at 127.0.0.1:%d' % cluster.ports[0])
  assert not _port_is_free(cluster.ports[0])  # The check below can fail.
  cluster.wait_all()
  _assert_ps_stopped_and_ports_free(cluster, ['ps', 'w0', 'w1'])

  finished = _finished(cluster, ['w0', 'w1'])
  local = [finished[0][0], finished[1][0]]
  assert min(local) > 0, finished  # Both workers trained...
  # ... and every step of each counted once in the global step: the worker
  # that read it last saw all of them.
  assert max(g for _, g in finished.values()) == sum(local)
  for name in ('w0', 'w1'):
    lines = WORKER_LINE.findall(cluster.output(name))
    assert [int(step) for _, step, _ in lines] == list(
        range(0, finished[int(name[1])][0], 5))
  # The chief's final checkpoint, evaluated as any cifar10_train one.
  checkpoint = tf1.train.latest_checkpoint(cluster.train_dir)
  step = int(tf1.train.load_variable(checkpoint, 'global_step'))
  assert max_steps <= step <= sum(local)
  proc = run_program([EVAL, '--checkpoint_dir', cluster.train_dir,
                      '--eval_dir', str(tmp_path / 'eval'), '--data_dir',
                      data_dir, '--run_once', '--num_examples', '30',
                      '--batch_size', '10'])
  assert re.search(r': precision @ 1 = [01]\.\d{3}$', proc.stdout, re.M)


def test_killed_worker_restarts_and_training_goes_on(make_cluster):
  max_steps = 60
  cluster = make_cluster('--max_steps', str(max_steps))
  _start_ps_and_workers(cluster)
  cluster.wait_for('w1', r': worker 1: step 10 ')
  # Pause the chief, so that the worker's restart is sure to come before
  # the end and the global step can only move by the restarted worker.
  cluster.procs['w0'].send_signal(signal.SIGSTOP)
  cluster.procs['w1'].kill()  # SIGKILL: no chance to clean up.
  assert cluster.procs['w1'].wait(timeout=60) == -signal.SIGKILL
  killed_at = max(int(g) for _, _, g in
                  WORKER_LINE.findall(cluster.output('w1')))
  cluster.start('w1_again', 'worker', 1)
  joined = int(cluster.wait_for(
      'w1_again', r'Worker 1: training from global step (\d+) ').group(1))
  # It found the variables on the parameter server, not a fresh start.
  assert killed_at <= joined < max_steps
  progress = cluster.wait_for('w1_again',
                              r': worker 1: step 5 \(global step (\d+)\)')
  assert int(progress.group(1)) >= joined + 5
  cluster.procs['w0'].send_signal(signal.SIGCONT)
  cluster.wait_all()
  _assert_ps_stopped_and_ports_free(cluster, ['ps', 'w0', 'w1_again'])
  finished = _finished(cluster, ['w0', 'w1_again'])
  assert finished[1][0] >= 6
  step = int(tf1.train.load_variable(cluster.train_dir, 'global_step'))
  assert step >= max_steps


def test_sync_replicas_cluster_aggregates_and_stops(make_cluster):
  max_steps = 30
  cluster = make_cluster('--max_steps', str(max_steps), '--sync_replicas')
  _start_ps_and_workers(cluster)
  cluster.wait_all()
  _assert_ps_stopped_and_ports_free(cluster, ['ps', 'w0', 'w1'])
  finished = _finished(cluster, ['w0', 'w1'])
  assert 'Traceback' not in cluster.output('w0')
  local = [finished[0][0], finished[1][0]]
  assert min(local) > 0, finished
  # Each update took 2 gradients: twice as many worker steps as updates.
  assert {g for _, g in finished.values()} == {max_steps}
  assert sum(local) >= 2 * max_steps
  # The chief updated the moving averages once per update: local3's biases
  # started at 0.1 and their average has moved away from it.
  shadow = tf1.train.load_variable(
      cluster.train_dir, 'local3/biases/ExponentialMovingAverage')
  assert np.abs(shadow - 0.1).max() > 1e-4


def test_stopped_worker_is_not_finished_and_ctrl_c_stops_the_ps(
    make_cluster):
  cluster = make_cluster('--max_steps', '100000', num_workers=1)
  cluster.start('ps', 'ps')
  cluster.start('w0', 'worker', 0)
  cluster.wait_for('w0', r': worker 0: step 5 ')
  cluster.procs['w0'].send_signal(signal.SIGTERM)
  assert cluster.procs['w0'].wait(timeout=TIMEOUT) == 0
  stopped = cluster.wait_for(
      'w0', r'^Worker 0 stopped by SIGTERM after (\d+) steps; global step '
      r'(\d+)\. The parameter servers serve on: start it again to go on\.$')
  # The chief saved a checkpoint at the step it stopped at.
  assert (int(tf1.train.load_variable(cluster.train_dir, 'global_step')) ==
          int(stopped.group(2)) >= 5)
  # Not finished, so the parameter server serves on, until Ctrl-C.
  time.sleep(3)
  assert cluster.procs['ps'].poll() is None
  assert 'worker 0 finished' not in cluster.output('ps')
  cluster.procs['ps'].send_signal(signal.SIGINT)
  assert cluster.procs['ps'].wait(timeout=30) == 0
  assert cluster.output('ps').rstrip().endswith(
      'Parameter server 0 stopped by SIGINT.')
  for port in cluster.ports:
    assert _port_is_free(port), port
