"""The layer helpers both CIFAR-10 models build on, and their summaries.

Summary of available functions:

 # A variable on the CPU (shared by multi-GPU towers), optionally with an
 # L2 weight-decay term in the 'losses' collection.
 var = variable_on_cpu(name, shape, initializer, dtype)
 var = variable_with_weight_decay(name, shape, stddev, wd, dtype)

 # Layers in their own variable scope, with their activation summaries.
 out = conv(x, name, shape, stddev, wd, bias)   # SAME conv, stride 1, ReLU
 out = local(x, name, shape, stddev, wd, bias)  # fully connected (+ ReLU)

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


def conv(x, name, shape, stddev, wd, bias):
  """A SAME convolution with stride 1, bias and ReLU, in variable scope name.

  Args:
    x: [batch, height, width, channels] input; its dtype is the variables'.
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
                                        wd=wd, dtype=x.dtype)
    convolved = tf.nn.conv2d(x, kernel, [1, 1, 1, 1], padding='SAME')
    biases = variable_on_cpu('biases', [shape[-1]],
                             tf1.constant_initializer(bias), x.dtype)
    out = tf.nn.relu(tf.nn.bias_add(convolved, biases), name=scope.name)
  activation_summary(out)
  return out


def local(x, name, shape, stddev, wd, bias, relu=True):
  """A fully connected layer: x * weights + biases, then ReLU if relu.

  Args:
    x: [batch, inputs] input; its dtype is the variables'.
    name: the layer's name (variable scope, output op, summaries).
    shape: the weights [inputs, outputs].
    stddev: the weights' initial truncated-normal spread.
    wd: weight decay factor of the weights, or None.
    bias: the biases' initial value.
    relu: apply ReLU (False for the linear logits layer).

  Returns:
    The layer's output, named '<name>/<name>'.
  """
  with tf1.variable_scope(name) as scope:
    weights = variable_with_weight_decay('weights', shape=shape,
                                         stddev=stddev, wd=wd, dtype=x.dtype)
    biases = variable_on_cpu('biases', [shape[-1]],
                             tf1.constant_initializer(bias), x.dtype)
    if relu:
      out = tf.nn.relu(tf.matmul(x, weights) + biases, name=scope.name)
    else:
      out = tf.add(tf.matmul(x, weights), biases, name=scope.name)
  activation_summary(out)
  return out


def flat_size(x):
  """The number of values per example: all but the batch dimension.

  The batch dimension may be unknown (the last batch of an evaluation pass
  is smaller), so it is left out of the product.
  """
  size = 1
  for d in x.shape[1:]:
    size *= tf.compat.dimension_value(d)
  return size
