"""How fast this machine could train the CIFAR-10 model if only arithmetic
took time: the "machine's limit" that benchmark_cifar10.py compares with.

The library of scripts/benchmark_cifar10.py. The model's arithmetic per
training example is counted from the graph cifar10.inference builds, and
the rate of each kind of op is measured here, in the same run:

  parts = model_parts()              # FLOPs per example, layer by layer
  rates = measure_rates(rate_cases(parts))   # GFLOP/s of each kind of op
  limit = machine_limit(parts, rates)        # examples/s, arithmetic alone
  print(rates_table(rates)); print(parts_table(parts, rates))

A SAME convolution with stride 1 costs 2 * H * W * kh * kw * C_in * C_out
FLOPs per example (a multiply and an add per weight and output value,
padding included, as a convolution kernel computes them); so do its input
gradient and its filter gradient. A fully connected layer [K] -> [M] costs
2 * K * M, and each of its gradients as much. A training step computes each
layer's forward pass and both gradients, except the first layer's input
gradient (nothing needs the images' gradient): for the tutorial's network,
about 105 MFLOPs per example, 84% of them in conv2.

The rates: float32, timed in a tf.compat.v1 session after warm-up, the
median of several rounds (the cases run in turn in each round, so a shared
machine's drift hits them alike): a 2048 x 2048 matrix product (the rate
the fully connected layers are charged at: the best this machine does), and
each convolution part at the model's own shapes (conv1: 24x24x3 -> 64,
forward and filter gradient; conv2: 12x12x64 -> 64, forward and both
gradients), so that a kernel's known weakness at a shape (conv1's three
input channels) is part of the limit, not of the distance to it.

The limit is 1 / (sum over the parts of FLOPs / rate of its kind): the time
the arithmetic alone takes at the measured rates, with nothing else (no
pooling, LRN, ReLU, loss, SGD update, moving averages, input) and no two
ops overlapping. A program at 0.8 of it spends a fifth of its time outside
the multiplications.
"""

import collections
import statistics
import time

import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1

MATMUL_SIZE = 2048  # n of the n x n x n product the dense layers are rated at
MATMUL = 'matmul %dx%d' % (MATMUL_SIZE, MATMUL_SIZE)  # its kind's name
IMAGE_SHAPE = (24, 24, 3)  # the model's input: distorted_inputs' crops
WARMUP = 3  # untimed runs of each case: allocation, oneDNN's kernel choice
ROUNDS = 5  # timed rounds; a rate is the median over them
# A case's runs per round: enough for 0.1-0.5 s of work on a 2-core CPU
# (the 2048 product is 17 GFLOPs; the convolutions 0.7-3.8 GFLOPs).
ITERATIONS = 2

# One part of a training step's arithmetic, per example. kind: the rate it is
# charged at (MATMUL, or '<layer> <part>' for a convolution's own); shapes:
# for a convolution, the input [H, W, C_in] and the kernel.
Part = collections.namedtuple(
    'Part', 'layer part kind flops input_shape filter_shape')
# What measure_rates times: kind, FLOPs of one run, and for convolutions the
# part, the input [N, H, W, C_in] and the kernel.
Case = collections.namedtuple('Case', 'kind flops part input_shape '
                              'filter_shape')

PARTS = ('forward', 'input gradient', 'filter gradient')


def _shape(tensor):
  return [tf.compat.dimension_value(d) for d in tensor.shape]


def graph_parts(graph):
  """The arithmetic parts of training the model built in graph.

  Every Conv2D (SAME, stride 1) and MatMul of the forward pass is a layer,
  named by its outermost name scope ('conv1', 'local3'); the first one in
  the graph gets no input gradient.

  Args:
    graph: a graph holding the forward pass only (no gradients yet).

  Returns:
    [Part], FLOPs per example, in graph order.

  Raises:
    ValueError: a convolution with strides or VALID padding.
  """
  parts = []
  for op in graph.get_operations():
    if op.type not in ('Conv2D', 'MatMul'):
      continue
    layer = op.name.split('/')[0]
    if op.type == 'Conv2D':
      if (op.get_attr('padding') != b'SAME' or
          list(op.get_attr('strides')) != [1, 1, 1, 1]):
        raise ValueError('%s: only SAME convolutions of stride 1 are counted'
                         % op.name)
      input_shape = _shape(op.inputs[0])[1:]
      filter_shape = _shape(op.inputs[1])
      height, width = _shape(op.outputs[0])[1:3]
      flops = 2 * height * width * int(np.prod(filter_shape))
    else:
      input_shape, filter_shape = None, None
      flops = 2 * int(np.prod(_shape(op.inputs[1])))
    first = not parts
    for part in PARTS:
      if part == 'input gradient' and first:
        continue  # Nothing needs the images' gradient.
      if op.type == 'Conv2D':
        kind = '%s %s' % (layer, part)
      else:
        kind, part = MATMUL, part.replace('filter', 'weight')
      parts.append(Part(layer, part, kind, flops, input_shape, filter_shape))
  return parts


def model_parts(model='cifar10'):
  """graph_parts of cifar10.inference(model) on IMAGE_SHAPE images."""
  from cifar10 import cifar10  # pylint: disable=g-import-not-at-top
  with tf.Graph().as_default() as graph:
    cifar10.inference(tf1.placeholder(tf.float32, (None,) + IMAGE_SHAPE),
                      model, False)
    return graph_parts(graph)


def rate_cases(parts, batch_size=128, matmul_size=MATMUL_SIZE):
  """What measure_rates times for parts: each convolution part at its
  layer's shapes and batch_size, and one matmul_size square product."""
  cases = [Case(MATMUL, 2 * matmul_size ** 3, None, [matmul_size] * 2, None)]
  for p in parts:
    if p.kind != MATMUL:
      cases.append(Case(p.kind, p.flops * batch_size, p.part,
                        [batch_size] + list(p.input_shape), p.filter_shape))
  return cases


def _random(shape, seed):
  # A variable, so that grappler cannot fold the op into a constant.
  values = np.random.RandomState(seed).randn(*shape).astype(np.float32)
  return tf1.get_variable('v%d' % seed, initializer=values)


def _case_op(case, seed):
  """The op of one case, on random variables."""
  if case.part is None:
    n = case.input_shape[0]
    return tf.matmul(_random([n, n], seed), _random([n, n], seed + 1))
  x = _random(case.input_shape, seed)
  kernel = _random(case.filter_shape, seed + 1)
  output_shape = case.input_shape[:3] + [case.filter_shape[3]]
  strides = [1, 1, 1, 1]
  if case.part == 'forward':
    return tf.nn.conv2d(x, kernel, strides, 'SAME')
  dy = _random(output_shape, seed + 2)
  if case.part == 'input gradient':
    return tf.raw_ops.Conv2DBackpropInput(
        input_sizes=case.input_shape, filter=kernel, out_backprop=dy,
        strides=strides, padding='SAME')
  return tf.raw_ops.Conv2DBackpropFilter(
      input=x, filter_sizes=case.filter_shape, out_backprop=dy,
      strides=strides, padding='SAME')


def measure_rates(cases, warmup=WARMUP, rounds=ROUNDS, iterations=ITERATIONS):
  """The float32 rate of each case, timed in one session.

  Each case runs warmup times untimed, then in each of rounds rounds every
  case runs iterations times in turn; a case's time is its median over the
  rounds. The op is run as a target: nothing is copied out, and a fetch's
  reduction would add its own pass.

  Args:
    cases: [Case], e.g. rate_cases(model_parts()).
    warmup, rounds, iterations: see above.

  Returns:
    {kind: GFLOP/s}.
  """
  with tf.Graph().as_default():
    ops = [(case, _case_op(case, 3 * i).op) for i, case in enumerate(cases)]
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      for _, op in ops:
        for _ in range(warmup):
          sess.run(op)
      seconds = collections.defaultdict(list)
      for _ in range(rounds):
        for case, op in ops:
          start = time.perf_counter()
          for _ in range(iterations):
            sess.run(op)
          seconds[case.kind].append((time.perf_counter() - start) / iterations)
  return {case.kind: case.flops / statistics.median(seconds[case.kind]) / 1e9
          for case in cases}


def machine_limit(parts, rates):
  """Examples/s if a step took only its arithmetic's time at rates.

  Args:
    parts: [Part] of one example (model_parts()).
    rates: {kind: GFLOP/s} (measure_rates()).

  Returns:
    1 / sum over parts of flops / rate.
  """
  return 1.0 / sum(p.flops / (rates[p.kind] * 1e9) for p in parts)


def rates_table(rates):
  """The measured rates as a Markdown table."""
  lines = ['| op (float32) | GFLOP/s |', '|---|---|']
  lines += ['| %s | %.1f |' % (kind, rate) for kind, rate in rates.items()]
  return '\n'.join(lines)


def parts_table(parts, rates):
  """MFLOPs per example and arithmetic time per example, layer by layer."""
  layers = collections.OrderedDict()
  for p in parts:
    flops, seconds = layers.get(p.layer, (0, 0.0))
    layers[p.layer] = (flops + p.flops,
                       seconds + p.flops / (rates[p.kind] * 1e9))
  total_flops = sum(f for f, _ in layers.values())
  total_seconds = sum(s for _, s in layers.values())
  lines = ['| layer (forward + gradients) | MFLOP/example | share | '
           'us/example at the rates | share |', '|---|---|---|---|---|']
  for layer, (flops, seconds) in layers.items():
    lines.append('| %s | %.2f | %.1f%% | %.1f | %.1f%% |' % (
        layer, flops / 1e6, 100.0 * flops / total_flops, seconds * 1e6,
        100.0 * seconds / total_seconds))
  lines.append('| all | %.2f | | %.1f | |' % (total_flops / 1e6,
                                             total_seconds * 1e6))
  return '\n'.join(lines)
