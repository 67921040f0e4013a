"""A distributed trainer's cluster and role, from its flags or from TF_CONFIG.

On the command line each process is told the host lists and its own job;
Kubernetes' TFJob, Vertex AI and SageMaker instead set TF_CONFIG in each
replica's environment, a JSON object:

  {"cluster": {"chief": ["host:port"], "worker": ["host:port", ...],
               "ps": ["host:port", ...]},
   "task": {"type": "worker", "index": 0}}

TensorFlow's roles map onto the tutorial's two jobs: the chief ("master" in
older tools) is worker 0, the one that writes checkpoints and summaries,
and TF_CONFIG's worker i is worker i + 1 (worker i when there is no chief);
"ps" is the same; an "evaluator" is no part of the cluster: it evaluates
the chief's checkpoints as they appear.

 task = from_flags(job_name, task_index, ps_hosts, worker_hosts)
 task = from_tf_config(os.environ['TF_CONFIG'])
 task.cluster, task.job, task.index   # ClusterSpec (None for an evaluator)
 cluster = cluster_spec(ps_hosts, worker_hosts)

Every problem is a ValueError of one line naming the flag or the TF_CONFIG
field at fault.
"""

import collections
import json

import tensorflow as tf

tf1 = tf.compat.v1

EVALUATOR = 'evaluator'
# TF_CONFIG's job names; "master" is the chief's older name.
TF_CONFIG_JOBS = ('chief', 'master', 'worker', 'ps', EVALUATOR)


class Task(collections.namedtuple('Task', 'cluster job index origin')):
  """This process's role.

  Attributes:
    cluster: a tf.compat.v1.train.ClusterSpec of jobs "ps" and "worker"
      (None for the evaluator).
    job: 'ps', 'worker' (index 0 is the chief) or 'evaluator'.
    index: the index in that job.
    origin: where it came from, as a line says it (empty for the flags).
  """


def _check_hosts(hosts, field, indexed=False):
  """Raises ValueError unless hosts are distinct host:port strings."""
  for i, host in enumerate(hosts):
    name, _, port = (host if isinstance(host, str) else '').rpartition(':')
    if not name or not port.isdigit() or not 0 < int(port) < 65536:
      raise ValueError('%s%s: %r is not host:port' % (
          field, '[%d]' % i if indexed else '', host))
  if len(set(hosts)) < len(hosts):
    raise ValueError('%s lists an address twice' % field)


def _shared_address(jobs):
  """(address, job, later job) for the first address two jobs both list,
  in sorted order of jobs and addresses; None if there is none."""
  seen = {}
  for job, hosts in sorted(jobs.items()):
    for host in sorted(hosts):
      if host in seen:
        return host, seen[host], job
      seen[host] = job
  return None


def cluster_spec(ps_hosts, worker_hosts):
  """The cluster from the flags: one "ps" and one "worker" job.

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
    _check_hosts(jobs[job], flag)
  shared = _shared_address(jobs)
  if shared:
    raise ValueError('%s is both a parameter server and a worker' %
                     shared[0])
  return tf1.train.ClusterSpec(jobs)


def from_flags(job_name, task_index, ps_hosts, worker_hosts):
  """This process's role as the four flags give it.

  Raises:
    ValueError: --job_name is missing, a host list is wrong (see
      cluster_spec), or --task_index is beyond its job.
  """
  if not job_name:
    raise ValueError('--job_name is required: ps or worker (or set '
                     'TF_CONFIG, as a cluster manager does)')
  cluster = cluster_spec(ps_hosts, worker_hosts)
  if task_index >= cluster.num_tasks(job_name):
    raise ValueError('--task_index %d, but the %s job has %d task(s)' % (
        task_index, job_name, cluster.num_tasks(job_name)))
  return Task(cluster, job_name, task_index, '')


def _field(config, name, kind, what):
  """config[name], which must be a `kind`; ValueError naming the field."""
  if name not in config:
    raise ValueError('TF_CONFIG has no %s field' % what)
  value = config[name]
  if not isinstance(value, kind) or isinstance(value, bool):
    raise ValueError('TF_CONFIG %s: %s is not %s' % (
        what, json.dumps(value), {dict: 'an object', str: 'a string',
                                  int: 'a whole number'}[kind]))
  return value


def _tf_config_jobs(cluster):
  """TF_CONFIG's cluster object checked: {job: [host:port, ...]}."""
  jobs = {}
  for job, hosts in cluster.items():
    field = 'cluster.%s' % job
    if job not in TF_CONFIG_JOBS:
      raise ValueError('TF_CONFIG %s: unknown job %r (chief, worker, ps or '
                       'evaluator)' % (field, job))
    if not isinstance(hosts, list) or not hosts:
      raise ValueError('TF_CONFIG %s: %s is not a list of host:port' % (
          field, json.dumps(hosts)))
    _check_hosts(hosts, 'TF_CONFIG ' + field, indexed=True)
    jobs[job] = hosts
  if 'chief' in jobs and 'master' in jobs:
    raise ValueError('TF_CONFIG cluster: both a chief and a master (the '
                     'same role): keep one')
  return jobs


def from_tf_config(text):
  """This process's role as TF_CONFIG gives it (see the module docstring).

  Args:
    text: the value of TF_CONFIG.

  Returns:
    A Task: job "ps" or "worker" in the tutorial's cluster, or
    "evaluator" (cluster None).

  Raises:
    ValueError: TF_CONFIG is not JSON, lacks a field, or contradicts itself
      (a task the cluster does not list, two chiefs, no parameter server,
      an address twice), naming the field.
  """
  try:
    config = json.loads(text)
  except ValueError as e:
    raise ValueError('TF_CONFIG is not JSON (%s)' % e) from None
  if not isinstance(config, dict):
    raise ValueError('TF_CONFIG: %s is not an object' % json.dumps(config))
  task = _field(config, 'task', dict, 'task')
  job = _field(task, 'type', str, 'task.type')
  index = _field(task, 'index', int, 'task.index') if 'index' in task else 0
  if job not in TF_CONFIG_JOBS:
    raise ValueError('TF_CONFIG task.type: unknown role %r (chief, worker, '
                     'ps or evaluator)' % job)
  if index < 0:
    raise ValueError('TF_CONFIG task.index: %d is negative' % index)
  # An evaluator is outside the cluster: TF_CONFIG may list it or not.
  jobs = _tf_config_jobs(
      _field(config, 'cluster', dict, 'cluster')
      if job != EVALUATOR or 'cluster' in config else {})
  origin = 'TF_CONFIG: %s %d' % (job, index)
  if job == EVALUATOR:
    return Task(None, EVALUATOR, index, origin)
  if len(jobs.get(job, [])) <= index:
    raise ValueError('TF_CONFIG task: %s %d, but cluster.%s lists %d '
                     'task(s)' % (job, index, job, len(jobs.get(job, []))))
  chief = jobs.get('chief') or jobs.get('master') or []
  if len(chief) > 1:
    raise ValueError('TF_CONFIG cluster.%s: %d chiefs; a cluster has one' % (
        'chief' if 'chief' in jobs else 'master', len(chief)))
  workers = chief + jobs.get('worker', [])
  if not workers:
    raise ValueError('TF_CONFIG cluster: no chief and no worker')
  if not jobs.get('ps'):
    raise ValueError('TF_CONFIG cluster.ps: missing: this trainer keeps its '
                     'variables on parameter servers; list at least one')
  training = {'ps': jobs['ps'], 'worker': workers}
  shared = _shared_address(jobs)
  if shared:
    raise ValueError('TF_CONFIG cluster.%s: %s is also in cluster.%s' % (
        shared[2], shared[0], shared[1]))
  if job == 'ps':
    ours = 'ps', index
  elif job == 'worker':
    ours = 'worker', index + len(chief)
  else:
    ours = 'worker', 0
  return Task(tf1.train.ClusterSpec(training), ours[0], ours[1], origin)
