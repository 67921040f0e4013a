"""Where a CIFAR-10 training step's time goes, layer by layer, from
TensorFlow's own trace.

The library behind scripts/benchmark_cifar10.py --profile:

  profile = profile_step(batch_size=128, steps=10)
  print(profile_table(profile))

The step is cifar10_train's (inference, loss, SGD with the loss and weight
moving averages) on an in-memory batch. After warm-up, untimed steps give
the wall time of a step, then steps traced with FULL_TRACE give each op's
time (RunMetadata step_stats: from its start to the end of its work); an
op's time is its median over the traced steps, and the table sums them by
layer and direction (conv1 fwd, conv1 grad, norm1 fwd, ..., SGD, moving
averages). Ops run two at a time on two cores, so the sum can exceed the
wall time; tracing itself costs a few percent.

XLA clusters (the fused LRN) run as one `cluster_N/xla_run` op each: they
are charged to the layer their ops came from, read from the cluster's
function in the partition graphs. The summaries, which cifar10_train writes
every 100th step, are traced separately: their row is their cost on such a
step.
"""

import collections
import re
import statistics
import time

import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1

# The model's layers in graph order: their forward ops are named
# '<layer>/...' (or '<layer>' itself), their gradients
# 'gradients/<layer>/...' or 'gradients/<layer>_grad/...'.
LAYERS = ('conv1', 'pool1', 'norm1', 'conv2', 'norm2', 'pool2', 'local3',
          'local4', 'softmax_linear')
# (group, pattern on the op's name), before the layers; first match wins.
GROUPS = (
    ('input', r'IteratorGetNext|^data_augmentation|batch'),
    ('moving averages of the weights', r'ExponentialMovingAverage'),
    ('weight decay', r'L2Loss|weight_loss'),
    ('moving averages of the losses', r'(^|/)avg(/|$)|^avg'),
    ('SGD update', r'GradientDescent|^global_step|^learning_rate|'
                   r'^ExponentialDecay'),
)
LOSS = r'cross_entropy|total_loss|weight_loss|^gradients(_\d+)?/'


def group_of(name):
  """The table's row of the op called name: 'conv1 fwd', 'SGD update', ..."""
  # Grappler's constants keep the name of what they replace.
  name = re.sub(r'^(tower_\d+/)?(ConstantFolding/)?', '', name)
  for group, pattern in GROUPS:
    if re.search(pattern, name):
      return group
  for layer in LAYERS:
    if re.match(r'gradients(_\d+)?/(.*/)?%s(/|_grad/)' % layer, name):
      return layer + ' grad'
    if re.match(r'%s(/|$)' % layer, name):
      return layer + ' fwd'
  if re.search(LOSS, name):
    return 'loss'
  return 'other'


def _layer(name):
  """'gradients/norm1/IdentityN_grad/mul' -> 'norm1'."""
  return re.sub(r'^(tower_\d+/)?(gradients(_\d+)?/)?', '', name).split('/')[0]


def _xla_inputs(graph):
  """{op name: layer} of the ops whose outputs XLA-compiled ops of a layer
  read from outside their jit scope (the fused LRN's input, for one)."""
  layers = {}
  for op in graph.get_operations():
    scope = op.node_def.attr.get('_XlaScope')
    if scope is None:
      continue
    for tensor in op.inputs:
      if tensor.op.node_def.attr.get('_XlaScope') != scope:
        layers[tensor.op.name] = _layer(op.name)
  return layers


def _cluster_groups(partition_graphs, xla_inputs):
  """{'cluster_1_1': 'norm1 fwd'}: the row of each XLA cluster that ran.

  A cluster runs as one op whose own name says nothing of the ops it was
  compiled from, and the partition graphs do not hold its function; but
  its inputs are named: the layer is that of the XLA ops reading them
  (graph-side, xla_inputs), and reading a gradient or another cluster's
  output makes it a gradient.
  """
  result = {}
  for graph in partition_graphs:
    for node in graph.node:
      if node.op != '_XlaCompile':
        continue
      inputs = [re.sub(r'^\^|:\d+$', '', i) for i in node.input]
      layers = collections.Counter(xla_inputs[i] for i in inputs
                                   if i in xla_inputs)
      if not layers:
        row = 'XLA clusters'
      elif any(re.match(r'(tower_\d+/)?gradients|cluster_', i)
               for i in inputs):
        row = layers.most_common(1)[0][0] + ' grad'
      else:
        row = layers.most_common(1)[0][0] + ' fwd'
      result[node.name.rsplit('/', 1)[0]] = row
  return result


def _summaries_cost(sess, train_op, summary_op, steps):
  """Median extra ms of a step that also writes the summaries."""
  sess.run([train_op, summary_op])  # A new fetch: the session prepares it.
  extra = []
  for _ in range(steps):
    start = time.perf_counter()
    sess.run(train_op)
    middle = time.perf_counter()
    sess.run([train_op, summary_op])
    extra.append((time.perf_counter() - middle) - (middle - start))
  return max(statistics.median(extra) * 1000, 0.0)


def _trace(sess, fetch, steps):
  """{op name: [ms per traced step]} and {cluster: row} of steps traces."""
  per_op = collections.defaultdict(list)
  clusters = {}
  xla_inputs = _xla_inputs(sess.graph)
  for _ in range(steps):
    metadata = tf1.RunMetadata()
    sess.run(fetch, options=tf1.RunOptions(
        trace_level=tf1.RunOptions.FULL_TRACE, output_partition_graphs=True),
             run_metadata=metadata)
    clusters.update(_cluster_groups(metadata.partition_graphs,
                                     xla_inputs))
    seen = collections.Counter()
    for device in metadata.step_stats.dev_stats:
      for node in device.node_stats:
        seen[node.node_name] += node.all_end_rel_micros / 1000.0
    for name, ms in seen.items():
      per_op[name].append(ms)
  return per_op, clusters


def profile_step(batch_size=128, steps=10, warmup=10, model='cifar10',
                 mode='float32'):
  """Times a training step, whole and op by op.

  Args:
    batch_size: images per step.
    steps: untimed, then traced, steps measured.
    warmup: steps run first (XLA compiles, oneDNN picks its kernels).
    model: 'cifar10' (the tutorial's) or 'vgg16' (its ops go to 'other').
    mode: the arithmetic, as mixed_precision.choose() names it: 'float32',
      or 'bfloat16' (the graph --mixed_precision builds; its casts are
      charged to the layer they serve).

  Returns:
    {'wall_ms': median of untraced steps, 'groups': {row: ms/step} by
    median op times, 'summaries_ms': a summary step's extra ms,
    'summaries_every': cifar10_train's steps between them, 'ops': [(ms,
    name)] slowest first}.
  """
  # pylint: disable=g-import-not-at-top
  from cifar10 import cifar10
  from cifar10 import cifar10_session
  from cifar10 import mixed_precision
  with tf.Graph().as_default():
    rng = np.random.RandomState(0)
    # Fed by default, never constant: grappler would fold what it can.
    images = tf1.placeholder_with_default(
        rng.randn(batch_size, 24, 24, 3).astype(np.float32),
        [batch_size, 24, 24, 3])
    labels = tf.constant(rng.randint(0, 10, batch_size).astype(np.int32))
    global_step = tf1.train.get_or_create_global_step()
    loss = cifar10.loss(cifar10.inference(
        mixed_precision.model_images(images, mode), model, False), labels)
    train_op = cifar10.train(loss, global_step, batch_size, model)
    summary_op = tf1.summary.merge_all()
    with tf1.Session(config=mixed_precision.session_config(mode)) as sess:
      sess.run(tf1.global_variables_initializer())
      for _ in range(warmup):
        sess.run(train_op)
      wall = []
      for _ in range(steps):
        start = time.perf_counter()
        sess.run(train_op)
        wall.append((time.perf_counter() - start) * 1000)
      per_op, clusters = _trace(sess, train_op, steps)
      summaries = _summaries_cost(sess, train_op, summary_op, 3)
  groups = collections.Counter()
  ops = []
  for name, times in per_op.items():
    ms = statistics.median(times)
    ops.append((ms, name))
    prefix = name.rsplit('/', 1)[0]
    groups[clusters[prefix] if prefix in clusters else group_of(name)] += ms
  return {'wall_ms': statistics.median(wall), 'groups': dict(groups),
          'summaries_ms': summaries,
          'summaries_every': cifar10_session.SAVE_SUMMARIES_STEPS,
          'ops': sorted(ops, reverse=True)}


def profile_table(profile, top=10):
  """The profile as Markdown: rows by time, then the slowest ops."""
  total = sum(profile['groups'].values())
  lines = ['Training step: %.1f ms wall (untraced); sum of op times %.1f ms '
           '(two cores overlap ops)' % (profile['wall_ms'], total),
           '', '| layer, direction | ms/step | share of op time |',
           '|---|---|---|']
  for group, ms in sorted(profile['groups'].items(), key=lambda kv: -kv[1]):
    lines.append('| %s | %.2f | %.1f%% |' % (group, ms, 100 * ms / total))
  every = profile['summaries_every']
  lines.append('| summaries, on a step that writes them (every %dth): extra '
               'wall time | %.2f | %.2f per step on average |' % (
                   every, profile['summaries_ms'],
                   profile['summaries_ms'] / every))
  lines += ['', '| slowest ops | ms/step |', '|---|---|']
  lines += ['| %s | %.2f |' % (name, ms) for ms, name in profile['ops'][:top]]
  return '\n'.join(lines)
