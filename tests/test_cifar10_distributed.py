"""cifar10_distributed_train: the cluster from flags or TF_CONFIG, where the
worker graph puts variables and ops, the TFJob manifest beside it, and real
clusters on 127.0.0.1 as separate processes: 1 parameter server and 2
workers from flags (synchronous updates, a worker killed and restarted),
and the manifest's chief, worker, parameter server and evaluator from
TF_CONFIG alone; every process must stop by itself and free its port."""

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from kubeflow import training as kubeflow
import yaml

import testdata
from cifar10 import cifar10
from cifar10 import cifar10_distributed_train as dist
from cifar10 import cluster_config
from conftest import program_env
from conftest import REPO
from conftest import run_program

tf1 = tf.compat.v1

PROG = os.path.join('cifar10', 'cifar10_distributed_train.py')
MANIFEST = os.path.join(REPO, 'cifar10', 'cifar10_tfjob.yaml')
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
  """Processes of one cluster, each logging to its own file.

  From flags (start), or as a TFJob starts it (start_replica): TF_CONFIG
  alone says each process's role; replicas {type: count}.
  """

  def __init__(self, root, data_dir, args, num_workers=2, replicas=None):
    self.root = root
    self.replicas = replicas or {'ps': 1, 'worker': num_workers}
    self.ports = _free_ports(sum(n for job, n in self.replicas.items()
                                 if job != 'evaluator'))
    self.train_dir = os.path.join(root, 'train')
    self.eval_dir = os.path.join(root, 'eval')
    # Batch 16: the tests count steps, stops and ports, never learning, and
    # a step of 64 took four times the CPU (18 CPU-seconds more for this
    # file). The killed worker's restart still joined at global step 12 to
    # 26 of 60 in six runs: far from the end the test must come before.
    self.flags = ['--data_dir', data_dir, '--train_dir', self.train_dir,
                  '--eval_dir', self.eval_dir, '--batch_size', '16',
                  '--log_frequency', '5'] + list(args)
    addresses = iter('127.0.0.1:%d' % port for port in self.ports)
    self.tf_cluster = {job: [next(addresses) for _ in range(n)]
                       for job, n in self.replicas.items()
                       if job != 'evaluator'}
    self.procs = {}

  def _popen(self, name, args, env):
    with open(os.path.join(self.root, name + '.log'), 'w') as log:
      self.procs[name] = subprocess.Popen(
          [sys.executable, PROG] + args, cwd=REPO, env=program_env(**env),
          stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

  def start(self, name, job, task=0):
    """Starts a process whose flags give the cluster and its job."""
    self._popen(name, [
        '--job_name', job, '--task_index', str(task), '--ps_hosts',
        ','.join(self.tf_cluster['ps']), '--worker_hosts',
        ','.join(self.tf_cluster['worker'])] + self.flags, {})

  def start_replica(self, name, task_type, index, args):
    """Starts a process as the TFJob operator would: TF_CONFIG, args."""
    tf_config = {'cluster': self.tf_cluster,
                 'task': {'type': task_type, 'index': index}}
    self._popen(name, list(args) + self.flags,
                {'TF_CONFIG': json.dumps(tf_config)})

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

  def make(*args, num_workers=2, replicas=None):
    clusters.append(_Cluster(str(tmp_path), data_dir, args, num_workers,
                             replicas))
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
  cluster = cluster_config.cluster_spec('127.0.0.1:2222',
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
      cluster_config.cluster_spec(ps, workers)


TF_CLUSTER = {'chief': ['a:1'], 'worker': ['b:2', 'c:3'], 'ps': ['d:4']}


@pytest.mark.parametrize('cluster, task, want', [
    # The chief is worker 0; TF_CONFIG's worker i is worker i + 1.
    (TF_CLUSTER, {'type': 'chief', 'index': 0}, ('worker', 0)),
    (TF_CLUSTER, {'type': 'worker', 'index': 0}, ('worker', 1)),
    (TF_CLUSTER, {'type': 'worker', 'index': 1}, ('worker', 2)),
    (TF_CLUSTER, {'type': 'ps'}, ('ps', 0)),  # No index: 0, as TF reads it.
    # No chief: worker 0 is the chief, as in TensorFlow; "master" is one.
    ({'worker': ['b:2', 'c:3'], 'ps': ['d:4']}, {'type': 'worker',
                                               'index': 1}, ('worker', 1)),
    ({'master': ['a:1'], 'worker': ['b:2'], 'ps': ['d:4']},
     {'type': 'worker', 'index': 0}, ('worker', 1)),
])
def test_tf_config_roles(cluster, task, want):
  got = cluster_config.from_tf_config(json.dumps({'cluster': cluster,
                                                  'task': task}))
  assert (got.job, got.index) == want
  workers = (cluster.get('chief') or cluster.get('master') or []) + cluster[
      'worker']
  assert got.cluster.as_dict() == {'ps': ['d:4'], 'worker': workers}
  assert got.origin == 'TF_CONFIG: %s %d' % (task['type'],
                                             task.get('index', 0))


def test_tf_config_evaluator_is_outside_the_cluster():
  for config in ({'task': {'type': 'evaluator', 'index': 0}},
                 {'cluster': TF_CLUSTER, 'task': {'type': 'evaluator'}},
                 {'cluster': dict(TF_CLUSTER, evaluator=['e:5']),
                  'task': {'type': 'evaluator', 'index': 0}}):
    assert cluster_config.from_tf_config(json.dumps(config)) == (
        None, 'evaluator', 0, 'TF_CONFIG: evaluator 0')


@pytest.mark.parametrize('config, message', [
    ('{"cluster": ', 'TF_CONFIG is not JSON (Expecting value: line 1 column '
     '13 (char 12))'),
    ('[1]', 'TF_CONFIG: [1] is not an object'),
    ({'cluster': TF_CLUSTER}, 'TF_CONFIG has no task field'),
    ({'cluster': TF_CLUSTER, 'task': 'chief'},
     'TF_CONFIG task: "chief" is not an object'),
    ({'cluster': TF_CLUSTER, 'task': {'index': 0}},
     'TF_CONFIG has no task.type field'),
    ({'cluster': TF_CLUSTER, 'task': {'type': 'worker', 'index': '1'}},
     'TF_CONFIG task.index: "1" is not a whole number'),
    ({'cluster': TF_CLUSTER, 'task': {'type': 'worker', 'index': True}},
     'TF_CONFIG task.index: true is not a whole number'),
    ({'cluster': TF_CLUSTER, 'task': {'type': 'worker', 'index': -1}},
     'TF_CONFIG task.index: -1 is negative'),
    ({'cluster': TF_CLUSTER, 'task': {'type': 'boss', 'index': 0}},
     "TF_CONFIG task.type: unknown role 'boss' (chief, worker, ps or "
     'evaluator)'),
    ({'task': {'type': 'ps', 'index': 0}}, 'TF_CONFIG has no cluster field'),
    ({'cluster': ['a:1'], 'task': {'type': 'ps'}},
     'TF_CONFIG cluster: ["a:1"] is not an object'),
    ({'cluster': dict(TF_CLUSTER, boss=['e:5']), 'task': {'type': 'ps'}},
     "TF_CONFIG cluster.boss: unknown job 'boss' (chief, worker, ps or "
     'evaluator)'),
    ({'cluster': dict(TF_CLUSTER, ps='d:4'), 'task': {'type': 'ps'}},
     'TF_CONFIG cluster.ps: "d:4" is not a list of host:port'),
    ({'cluster': dict(TF_CLUSTER, worker=['b:2', 'c']),
      'task': {'type': 'ps'}},
     "TF_CONFIG cluster.worker[1]: 'c' is not host:port"),
    ({'cluster': dict(TF_CLUSTER, worker=['b:2', 'b:2']),
      'task': {'type': 'ps'}},
     'TF_CONFIG cluster.worker lists an address twice'),
    ({'cluster': dict(TF_CLUSTER, worker=['b:2', 'd:4']),
      'task': {'type': 'ps'}},
     'TF_CONFIG cluster.worker: d:4 is also in cluster.ps'),
    ({'cluster': TF_CLUSTER, 'task': {'type': 'worker', 'index': 2}},
     'TF_CONFIG task: worker 2, but cluster.worker lists 2 task(s)'),
    ({'cluster': {'worker': ['b:2'], 'ps': ['d:4']},
      'task': {'type': 'chief', 'index': 0}},
     'TF_CONFIG task: chief 0, but cluster.chief lists 0 task(s)'),
    ({'cluster': dict(TF_CLUSTER, chief=['a:1', 'e:5']),
      'task': {'type': 'ps'}},
     'TF_CONFIG cluster.chief: 2 chiefs; a cluster has one'),
    ({'cluster': dict(TF_CLUSTER, master=['e:5']), 'task': {'type': 'ps'}},
     'TF_CONFIG cluster: both a chief and a master (the same role): keep '
     'one'),
    ({'cluster': {'ps': ['d:4']}, 'task': {'type': 'ps'}},
     'TF_CONFIG cluster: no chief and no worker'),
    ({'cluster': {'chief': ['a:1'], 'worker': ['b:2']},
      'task': {'type': 'chief'}},
     'TF_CONFIG cluster.ps: missing: this trainer keeps its variables on '
     'parameter servers; list at least one'),
])
def test_tf_config_errors_name_the_field(config, message):
  text = config if isinstance(config, str) else json.dumps(config)
  with pytest.raises(ValueError) as raised:
    cluster_config.from_tf_config(text)
  assert str(raised.value) == message


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


def test_flags_assigned_in_a_notebook_win_over_tf_config(capsys):
  # A kernel's habit: flags assigned on FLAGS, never on a command line.
  from absl import flags
  from absl.testing import flagsaver
  tf_config = json.dumps({'cluster': TF_CLUSTER,
                          'task': {'type': 'chief', 'index': 0}})
  # As a kernel's FLAGS are (cifar10_cli.notebook_flags); unparsed after,
  # as every other test expects them.
  assert not flags.FLAGS.is_parsed()
  flags.FLAGS.mark_as_parsed()
  try:
    with flagsaver.flagsaver():
      flags.FLAGS.job_name = 'ps'
      flags.FLAGS.ps_hosts = '127.0.0.1:1'
      flags.FLAGS.worker_hosts = '127.0.0.1:2'
      task = dist._task({'TF_CONFIG': tf_config})
      assert (task.job, task.index, task.origin) == ('ps', 0, '')
      assert capsys.readouterr().out == (
          'cifar10_distributed_train: note: TF_CONFIG is set, but the flags '
          'give the cluster: TF_CONFIG is ignored.\n')
    with flagsaver.flagsaver():  # None given: TF_CONFIG says.
      task = dist._task({'TF_CONFIG': tf_config})
      assert (task.job, task.index) == ('worker', 0)
  finally:
    flags.FLAGS.unparse_flags()


def test_bad_flags_and_busy_port_give_one_line_errors(data_dir):
  proc = run_program([PROG, '--ps_hosts', '127.0.0.1:1', '--worker_hosts',
                      '127.0.0.1:2'], check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1] == (
      'cifar10_distributed_train: error: --job_name is required: ps or '
      'worker (or set TF_CONFIG, as a cluster manager does)')
  # The flags win over TF_CONFIG (said aloud); TF_CONFIG alone is read, and
  # a contradictory one is one line naming its field.
  tf_config = json.dumps({'cluster': {'worker': ['127.0.0.1:2'], 'ps': [
      '127.0.0.1:1']}, 'task': {'type': 'chief', 'index': 0}})
  proc = run_program([PROG, '--ps_hosts', '127.0.0.1:1', '--worker_hosts',
                      '127.0.0.1:2'], check=False,
                     env={'TF_CONFIG': tf_config})
  assert proc.stdout == ('cifar10_distributed_train: note: TF_CONFIG is set, '
                         'but the flags give the cluster: TF_CONFIG is '
                         'ignored.\n')
  assert proc.stderr.strip().splitlines()[-1].endswith(
      'error: --job_name is required: ps or worker (or set TF_CONFIG, as a '
      'cluster manager does)')
  proc = run_program([PROG], check=False, env={'TF_CONFIG': tf_config})
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines() == [
      'cifar10_distributed_train: error: TF_CONFIG task: chief 0, but '
      'cluster.chief lists 0 task(s)']
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


def _manifest():
  with open(MANIFEST) as f:
    return yaml.safe_load(f)


def _trainer_args(replica):
  """What a replica's container runs after installing: the trainer's flags."""
  container, = replica['template']['spec']['containers']
  command = ' '.join(container['command'] + container['args'])
  install, _, trainer = command.partition(' && exec ')
  args = shlex.split(trainer)
  assert args[0] == 'cifar10_distributed_train', command
  return install, args[1:]


def test_tfjob_manifest_is_what_the_training_operator_reads():
  manifest = _manifest()

  class Response(object):  # What the SDK's client deserializes.
    data = json.dumps(manifest)

  client = kubeflow.ApiClient()
  job = client.deserialize(Response(), 'KubeflowOrgV1TFJob')
  # Every field is one the operator's models know: a misspelled one would
  # be dropped on the way, and the manifest would not come back whole.
  assert client.sanitize_for_serialization(job) == manifest
  constants = kubeflow.constants
  assert (job.api_version, job.kind) == (constants.API_VERSION,
                                        constants.TFJOB_KIND)
  replicas = job.spec.tf_replica_specs
  assert set(replicas) == {'Chief', 'Worker', 'PS', 'Evaluator'}
  assert {name.lower() for name in replicas} - {'evaluator'} == set(
      constants.TFJOB_REPLICA_TYPES)
  assert replicas['Chief'].replicas == replicas['Evaluator'].replicas == 1
  assert job.spec.run_policy.clean_pod_policy in ('None', 'Running', 'All')
  for replica in manifest['spec']['tfReplicaSpecs'].values():
    assert replica['restartPolicy'] in ('Always', 'OnFailure', 'Never',
                                        'ExitCode')
    container, = replica['template']['spec']['containers']
    assert container['name'] == constants.TFJOB_CONTAINER
    # TensorFlow's published image, of a version the project admits.
    image, _, version = container['image'].partition(':')
    assert image == 'tensorflow/tensorflow'
    assert (2, 16) <= tuple(int(x) for x in version.split('.')[:2]) < (3, 0)
    install, args = _trainer_args(replica)
    assert install.split()[-1] == ('https://github.com/OWNER/classic-tf-'
                                   'tutorials/archive/refs/heads/main.zip')
    # No cluster flags: each replica's role comes from its TF_CONFIG.
    assert not set(args) & {'--' + f for f in dist.CLUSTER_FLAGS}
    # The folders the chief and the evaluator share, on the shared volume.
    shared = container['volumeMounts'][0]['mountPath'] + '/'
    for flag in ('--train_dir', '--eval_dir'):
      assert args[args.index(flag) + 1].startswith(shared), flag


def test_tf_config_cluster_as_the_tfjob_starts_it(make_cluster, data_dir):
  # The manifest's replicas, each started with its TF_CONFIG and the
  # manifest's flags (then the tests' small settings): the chief and the
  # worker train, the parameter server serves, the evaluator evaluates
  # the chief's checkpoints; all stop by themselves.
  manifest = _manifest()['spec']['tfReplicaSpecs']
  counts = {name.lower(): r['replicas'] for name, r in manifest.items()}
  assert counts == {'chief': 1, 'worker': 1, 'ps': 1, 'evaluator': 1}
  max_steps = 60
  cluster = make_cluster('--max_steps', str(max_steps),
                         '--eval_interval_secs', '0', replicas=counts)
  args = {name.lower(): _trainer_args(r)[1] for name, r in manifest.items()}
  cluster.start_replica('ps', 'ps', 0, args['ps'])
  cluster.start_replica('evaluator', 'evaluator', 0, args['evaluator'])
  cluster.start_replica('w1', 'worker', 0, args['worker'])
  cluster.wait_for('w1', 'waiting for the chief')
  cluster.start_replica('w0', 'chief', 0, args['chief'])
  ps_address = cluster.tf_cluster['ps'][0]
  cluster.wait_for('ps', 'serving at %s' % ps_address)
  assert not _port_is_free(int(ps_address.split(':')[1]))  # Can fail below.
  cluster.wait_all()
  _assert_ps_stopped_and_ports_free(cluster, ['ps', 'w0', 'w1', 'evaluator'])
  for name, role in (('ps', 'ps 0; this process is ps 0.'),
                     ('w0', 'chief 0; this process is worker 0 (the chief).'),
                     ('w1', 'worker 0; this process is worker 1.'),
                     ('evaluator', 'evaluator 0; this process is evaluator '
                      '0.')):
    assert cluster.output(name).startswith('TF_CONFIG: ' + role + '\n')

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
  # The chief's final checkpoint, evaluated by the evaluator, which then
  # stopped; its summaries in --eval_dir, for TensorBoard.
  checkpoint = tf1.train.latest_checkpoint(cluster.train_dir)
  step = int(tf1.train.load_variable(checkpoint, 'global_step'))
  assert max_steps <= step <= sum(local)
  evaluator = cluster.output('evaluator')
  precisions = re.findall(r'^.*: precision @ 1 = ([01]\.\d{3})$', evaluator,
                          re.M)
  done = re.search(r'^Evaluator finished: (\d+) checkpoint\(s\) evaluated, '
                   r'the last at global step (\d+); summaries in (.*)\.$',
                   evaluator, re.M)
  assert done, evaluator
  assert int(done.group(1)) == len(precisions) >= 1
  assert int(done.group(2)) == step
  assert done.group(3) == cluster.eval_dir
  written = {}
  for path in tf1.gfile.Glob(os.path.join(done.group(3), 'events.*')):
    for event in tf1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == 'Precision @ 1':
          written[event.step] = value.simple_value
  assert max(written) == step
  assert len(written) == len(precisions)
  assert '%.3f' % written[step] == precisions[-1]


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
