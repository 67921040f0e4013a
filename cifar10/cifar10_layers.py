"""The layer helpers both CIFAR-10 models build on, and their summaries.

Summary of available functions:

 # A variable on the CPU (shared by multi-GPU towers), optionally with an
 # L2 weight-decay term in the 'losses' collection.
 var = variable_on_cpu(name, shape, initializer, dtype)
 var = variable_with_weight_decay(name, shape, stddev, wd, dtype)
 dtype = variable_dtype(x)   # x's, but float32 for bfloat16 layers

 # Layers in their own variable scope, with their activation summaries.
 out = conv(x, name, shape, stddev, wd, bias)   # SAME conv, stride 1, ReLU
 out = local(x, name, shape, stddev, wd, bias)  # fully connected (+ ReLU)
 out = lrn(x, name)          # local response normalization, tf.nn.lrn's
 fused_lrn_wanted(x)         # whether lrn runs XLA-fused here (else tf.nn.lrn)

 # Summaries under exactly the given TensorBoard tag.
 scalar_summary(tag, value); histogram_summary(tag, values)
 activation_summary(x)          # '<layer>/activations', '<layer>/sparsity'

cifar10.inference (the tutorial's network) and cifar10_vgg16.inference
(VGG-16) are written with these; neither model module imports the other's
internals, so the two import in one direction only.
"""

import re

import tensorflow as tf

tf1 = tf.compat.v1

# If a model is trained with multiple GPUs, prefix all Op names with tower_name
# to differentiate the operations. Note that this prefix is removed from the
# names of the summaries when visualizing a model.
TOWER_NAME = 'tower'

# Local response normalization as in cuda-convnet's layers-18pct (AlexNet
# section 3.3): x / (bias + alpha * sum of x^2 over 2r + 1 channels)^beta.
LRN_DEPTH_RADIUS = 4  # r: the channel and 4 on either side.
LRN_BIAS = 1.0  # Keeps the denominator at least 1.
LRN_ALPHA = 0.001 / 9.0  # cuda-convnet's scale 0.001, over its 9 channels.
LRN_BETA = 0.75  # The power of the denominator.


def strip_tower(name):
  """Drops the tower: 'tower_1/local3/weight_loss' -> 'local3/weight_loss'."""
  return re.sub('%s_[0-9]*/' % TOWER_NAME, '', name)


def _op_name(tag):
  # Names the summary op after its tag, so the graph reads like TensorBoard
  # ('total_loss (raw)' -> 'total_loss__raw_'); the tag itself is exact.
  return re.sub(r'[^A-Za-z0-9_.\-]', '_', tag)


def scalar_summary(tag, value):
  """A scalar summary tagged exactly `tag`, in the SUMMARIES collection.

  tf.compat.v1.summary.* prefix the current name scope to the tag (so
  'conv1/sparsity' built inside scope conv1 turns into 'conv1/conv1/sparsity'),
  make names unique ('conv1/weights_1') and rewrite 'total_loss (raw)' as
  'total_loss__raw_'. The raw ops keep exactly the tags TensorBoard users of
  the tutorial know.

  Args:
    tag: the TensorBoard tag.
    value: a scalar tensor (cast to float32).
  """
  tf1.add_to_collection(tf1.GraphKeys.SUMMARIES, tf.raw_ops.ScalarSummary(
      tags=tag, values=tf.cast(value, tf.float32), name=_op_name(tag)))


def histogram_summary(tag, values):
  """A histogram summary tagged exactly `tag` (see scalar_summary)."""
  tf1.add_to_collection(tf1.GraphKeys.SUMMARIES, tf.raw_ops.HistogramSummary(
      tag=tag, values=tf.cast(values, tf.float32), name=_op_name(tag)))


def activation_summary(x):
  """Helper to create summaries for activations.

  Creates a summary that provides a histogram of activations and one that
  measures the sparsity (fraction of zeros) of activations, tagged with the
  layer's name: '<layer>/activations' and '<layer>/sparsity'.

  Args:
    x: Tensor, the output of a layer, named '<layer>/<layer>'.
  """
  # Remove 'tower_[0-9]/' from the name in case this is a multi-GPU training
  # session. This helps the clarity of presentation on TensorBoard.
  layer = strip_tower(x.op.name).rsplit('/', 1)[0]
  histogram_summary(layer + '/activations', x)
  scalar_summary(layer + '/sparsity', tf.nn.zero_fraction(x))


def variable_on_cpu(name, shape, initializer, dtype):
  """Helper to create a Variable stored on CPU memory.

  Variables live on the CPU so that several GPU towers can share one copy.
  tf.compat.v1.get_variable (not tf.Variable) lets the towers reuse them.

  Args:
    name: name of the variable.
    shape: list of ints.
    initializer: initializer for Variable.
    dtype: tf.float32 or tf.float16.

  Returns:
    Variable Tensor.
  """
  with tf.device('/cpu:0'):
    return tf1.get_variable(name, shape, initializer=initializer, dtype=dtype)


def variable_with_weight_decay(name, shape, stddev, wd, dtype):
  """Helper to create an initialized Variable with weight decay.

  The Variable is initialized with a truncated normal distribution. A weight
  decay term wd * l2_loss(var), named weight_loss, joins the 'losses'
  collection when wd is not None.

  Args:
    name: name of the variable.
    shape: list of ints.
    stddev: standard deviation of a truncated Gaussian.
    wd: add L2Loss weight decay multiplied by this float. If None, weight
        decay is not added for this Variable.
    dtype: tf.float32 or tf.float16.

  Returns:
    Variable Tensor.
  """
  var = variable_on_cpu(
      name, shape, tf1.truncated_normal_initializer(stddev=stddev), dtype)
  if wd is not None:
    weight_decay = tf.multiply(tf.nn.l2_loss(var), wd, name='weight_loss')
    tf1.add_to_collection('losses', weight_decay)
  return var


def variable_dtype(x):
  """The dtype of a layer's variables for input x: x's own (float32, or
  float16 with --use_fp16), except bfloat16, whose layers keep float32
  variables and compute in bfloat16 (--mixed_precision on such a CPU)."""
  return tf.float32 if x.dtype == tf.bfloat16 else x.dtype


def _as(variable, x):
  # The variable in x's dtype for the arithmetic (a no-op unless bfloat16).
  return tf.cast(variable, x.dtype)


def conv(x, name, shape, stddev, wd, bias):
  """A SAME convolution with stride 1, bias and ReLU, in variable scope name.

  Args:
    x: [batch, height, width, channels] input; its dtype is the variables'
      and the arithmetic's (bfloat16: float32 variables, see
      variable_dtype).
    name: the layer's name (variable scope, output op, summaries).
    shape: the kernel [height, width, in_channels, out_channels].
    stddev: the kernel's initial truncated-normal spread.
    wd: weight decay factor of the kernel, or None.
    bias: the biases' initial value.

  Returns:
    The layer's output, named '<name>/<name>'.
  """
  with tf1.variable_scope(name) as scope:
    kernel = variable_with_weight_decay('weights', shape=shape, stddev=stddev,
                                        wd=wd, dtype=variable_dtype(x))
    convolved = tf.nn.conv2d(x, _as(kernel, x), [1, 1, 1, 1], padding='SAME')
    biases = variable_on_cpu('biases', [shape[-1]],
                             tf1.constant_initializer(bias), variable_dtype(x))
    out = tf.nn.relu(tf.nn.bias_add(convolved, _as(biases, x)),
                     name=scope.name)
  activation_summary(out)
  return out


def local(x, name, shape, stddev, wd, bias, relu=True):
  """A fully connected layer: x * weights + biases, then ReLU if relu.

  Args:
    x: [batch, inputs] input; its dtype is the variables' and the
      arithmetic's (bfloat16: float32 variables, see variable_dtype).
    name: the layer's name (variable scope, output op, summaries).
    shape: the weights [inputs, outputs].
    stddev: the weights' initial truncated-normal spread.
    wd: weight decay factor of the weights, or None.
    bias: the biases' initial value.
    relu: apply ReLU (False for the linear logits layer, whose output is
      float32 when x is bfloat16).

  Returns:
    The layer's output, named '<name>/<name>'.
  """
  with tf1.variable_scope(name) as scope:
    weights = variable_with_weight_decay('weights', shape=shape,
                                         stddev=stddev, wd=wd,
                                         dtype=variable_dtype(x))
    biases = variable_on_cpu('biases', [shape[-1]],
                             tf1.constant_initializer(bias), variable_dtype(x))
    if relu:
      out = tf.nn.relu(tf.matmul(x, _as(weights, x)) + _as(biases, x),
                       name=scope.name)
    else:
      # The logits: from bfloat16 arithmetic they are computed and leave in
      # float32, where the softmax, the loss and evaluation's comparisons
      # run. The product is tiny (192x10 a step), and in bfloat16 its
      # weights' gradient was 0.4-0.6% off float32, against the rewrite's
      # 0.3-0.5% (which kept it in float32).
      out = tf.add(tf.matmul(tf.cast(x, weights.dtype), weights), biases,
                   name=scope.name)
  activation_summary(out)
  return out


def xla_available():
  """Whether this TensorFlow was built with XLA (the fused LRN needs it)."""
  return tf.test.is_built_with_xla()


def _gpu_visible():
  return bool(tf.config.list_physical_devices('GPU'))


def fused_lrn_wanted(x):
  """Whether lrn(x) is computed XLA-fused rather than by tf.nn.lrn.

  The one place the choice is made. Fused where TensorFlow has XLA and x is
  not on a GPU: on this project's 2-core AMD EPYC VM (AVX-512, TensorFlow
  2.21) the model's two LRN layers, forward and gradient, took 46 ms of a
  177 ms training step with tf.nn.lrn and 9 ms fused, so a step ran 1.31x
  as fast (1.28x with oneDNN held to AVX2) and cifar10_train 1.29x end to
  end, at the same precision after 1,000 steps (0.609 either way); float16
  (--use_fp16) gains more (tf.nn.lrn's float16 kernel is 4x slower than its
  float32 one); --mixed_precision's bfloat16 rewrite reaches into the fused
  ops, and a step stays as close to float32 as with tf.nn.lrn. On a GPU
  tf.nn.lrn is cuDNN's kernel, which stays (no GPU has run this project).
  Without XLA it is tf.nn.lrn, the original's graph (the same ops unfused
  were still 2x faster than tf.nn.lrn here, but no build of TensorFlow
  without XLA has been measured end to end). Both ways compute the same
  values within float32 rounding, so the choice never shows in the results.

  Args:
    x: the LRN's input; its device, if one was set, says where it runs
      (otherwise: on a GPU if there is one).

  Returns:
    True for the fused LRN, False for tf.nn.lrn.
  """
  if not xla_available():
    return False
  device = x.device.upper()
  if 'GPU' in device:
    return False
  return 'CPU' in device or not _gpu_visible()


def _channel_window_sum(x, depth_radius):
  """Sums x over channels c - depth_radius .. c + depth_radius (zero outside).

  Shifted slices of a zero-padded copy, added: inside an XLA cluster they
  fuse with the elementwise work around them into one pass over x, where
  tf.nn.lrn's band-matrix product is a pass of its own.
  """
  depth = x.shape[-1]
  padded = tf.pad(x, [[0, 0]] * (x.shape.rank - 1) +
                  [[depth_radius, depth_radius]])
  return tf.add_n([padded[..., i:i + depth]
                   for i in range(2 * depth_radius + 1)])


def _inverse_power(x, beta):
  """x ** -beta, in a form XLA's CPU backend vectorizes.

  XLA turns tf.pow with a non-integer exponent into a library call per value
  (three times the time of the whole fused LRN); square roots vectorize and
  are exact to float32 rounding. The model's beta is 0.75.
  """
  if beta == 0.75:
    root = tf.math.rsqrt(x)
    return root * tf.sqrt(root)
  if beta == 0.5:
    return tf.math.rsqrt(x)
  return tf.exp(tf.math.log(x) * -beta)


def _lrn_scale(x, depth_radius, bias, alpha):
  """The LRN's denominator before the power: bias + alpha * window sum x^2."""
  return bias + alpha * _channel_window_sum(tf.square(x), depth_radius)


def _normalized(x, depth_radius, bias, alpha, beta):
  """The LRN's output, x * scale^-beta (inside the caller's jit scope)."""
  return x * _inverse_power(_lrn_scale(x, depth_radius, bias, alpha), beta)


def _lrn_gradient(x, y, dy, depth_radius, bias, alpha, beta):
  """The gradient of y = x * scale^-beta with respect to x, XLA-fused.

  With scale_c = bias + alpha * (sum over the window of c of x^2), and the
  window symmetric:
    dx_c = dy_c * scale_c^-beta
           - 2 alpha beta x_c * (sum over the window of c of dy * y / scale).
  TensorFlow's CPU LRNGrad loops over values one by one (a pow and nine
  divisions each); here it is a couple of vectorized passes. The scale is
  recomputed rather than kept from the forward pass: reading x once more
  costs less than writing and reading another tensor. bfloat16 x and dy
  are computed in float32 (y None: recomputed from x, at float32's
  precision), dx cast back, the casts inside the cluster.
  """
  with tf.xla.experimental.jit_scope():
    dtype = x.dtype
    if dtype == tf.bfloat16:
      x, dy = tf.cast(x, tf.float32), tf.cast(dy, tf.float32)
    scale = _lrn_scale(x, depth_radius, bias, alpha)
    power = _inverse_power(scale, beta)
    if y is None:
      y = x * power
    window = _channel_window_sum(dy * y / scale, depth_radius)
    return tf.cast(dy * power - (2.0 * alpha * beta) * x * window, dtype)


def _fused_lrn(x, name, depth_radius, bias, alpha, beta):
  """tf.nn.lrn's function, forward and gradient each one XLA cluster.

  bfloat16 x is computed in float32 (ops under '<name>/float32/'), cast in
  and out inside the clusters: as separate ops around them the four casts
  of each LRN cost about 1.2 ms of a 57 ms bfloat16 step (machine C).
  """
  dtype = x.dtype

  @tf.custom_gradient
  def normalize(x):
    with tf.xla.experimental.jit_scope():
      if dtype == tf.bfloat16:
        with tf1.name_scope('float32'):
          y = _normalized(tf.cast(x, tf.float32), depth_radius, bias, alpha,
                          beta)
        y = tf.cast(y, dtype)
      else:
        y = _normalized(x, depth_radius, bias, alpha, beta)

    def gradient(dy):
      # bfloat16: y is recomputed in float32 rather than read rounded.
      return _lrn_gradient(x, None if dtype == tf.bfloat16 else y, dy,
                           depth_radius, bias, alpha, beta)
    return y, gradient

  # The ops go under the layer's name in TensorBoard, and the output is
  # named exactly `name` (a scope's 'norm1/' names the op 'norm1').
  with tf1.name_scope(name) as scope:
    return tf.identity(normalize(x), name=scope)


def lrn(x, name, depth_radius=LRN_DEPTH_RADIUS, bias=LRN_BIAS,
        alpha=LRN_ALPHA, beta=LRN_BETA):
  """Local response normalization across channels, as tf.nn.lrn.

  y = x / (bias + alpha * sum of x^2 over channels c - depth_radius ..
  c + depth_radius)^beta. Where fused_lrn_wanted(x), forward and gradient
  are each one XLA cluster (compiled once per graph and batch shape, about
  0.1-0.2 s at the first step); elsewhere this is tf.nn.lrn itself. The two
  agree within float32 rounding, and neither has variables, so checkpoints
  of either graph restore in the other.

  Args:
    x: [batch, height, width, channels], float32, float16 or bfloat16
      (computed in float32, the output cast back).
    name: the output's name (the layer's: 'norm1').
    depth_radius, bias, alpha, beta: as tf.nn.lrn; the defaults are the
      tutorial's.

  Returns:
    x normalized, of x's shape and dtype, named `name`.
  """
  # bfloat16 x is computed in float32, cast back: XLA's CPU backend runs the
  # fused LRN's bfloat16 arithmetic about 4x slower than its float32 (40
  # against 9 ms a step, machine C), and tf.nn.lrn has no bfloat16 kernel on
  # CPUs.
  if fused_lrn_wanted(x):
    return _fused_lrn(x, name, depth_radius, bias, alpha, beta)
  if x.dtype == tf.bfloat16:
    with tf1.name_scope(name) as scope:  # Its output is named `name`.
      y = lrn(tf.cast(x, tf.float32), 'float32', depth_radius, bias, alpha,
              beta)
      return tf.cast(y, tf.bfloat16, name=scope)
  return tf.nn.lrn(x, depth_radius, bias=bias, alpha=alpha, beta=beta,
                   name=name)


def flat_size(x):
  """The number of values per example: all but the batch dimension.

  The batch dimension may be unknown (the last batch of an evaluation pass
  is smaller), so it is left out of the product.
  """
  size = 1
  for d in x.shape[1:]:
    size *= tf.compat.dimension_value(d)
  return size
