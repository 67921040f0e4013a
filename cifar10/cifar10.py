"""Builds the CIFAR-10 network.

Summary of available functions:

 # Compute input images and labels for training. If you would like to run
 # evaluations, use inputs() instead.
 inputs, labels = distorted_inputs()

 # Compute inference on the model inputs to make a prediction.
 predictions = inference(inputs)

 # Compute the total loss of the prediction with respect to the labels.
 loss = loss(predictions, labels)

 # Create a graph to run one step of training with respect to the loss.
 train_op = train(loss, global_step)

 # Fetch and unpack the data set unless it is already in --data_dir.
 maybe_download_and_extract()

The model follows cuda-convnet's layers-18pct configuration: two 5x5
convolution layers with max pooling and local response normalization, two
fully connected layers and a linear softmax layer; 1,068,298 parameters.
"""

import os
import re

from absl import flags
import tensorflow as tf

from cifar10 import cifar10_download
from cifar10 import cifar10_input

tf1 = tf.compat.v1
FLAGS = flags.FLAGS

# Basic model parameters.
flags.DEFINE_integer('batch_size', 128,
                     'Number of images to process in a batch.')
flags.DEFINE_string('data_dir', '/tmp/cifar10_data',
                    'Path to the CIFAR-10 data directory: it holds (or will '
                    'hold) cifar-10-batches-bin and/or the tarball.')
flags.DEFINE_boolean('use_fp16', False,
                     'Train the model using fp16 (meant for GPUs: on a CPU '
                     'float16 is many times slower than float32).')
flags.DEFINE_enum('input_pipeline', cifar10_input.DEFAULT_PIPELINE,
                  cifar10_input.PIPELINES,
                  'How to feed images: the original queue runners ("queue", '
                  'measured faster end to end) or tf.data ("dataset"). Same '
                  'preprocessing either way.')
flags.DEFINE_string('data_url', cifar10_download.DATA_URL,
                    'Where to download the CIFAR-10 binary tarball from when '
                    'it is not in --data_dir (a mirror, or your own data set).')
flags.DEFINE_string('data_md5', cifar10_download.DATA_MD5,
                    'Expected md5 of the tarball (empty: do not check).')
flags.DEFINE_enum('model', 'cifar10', ['cifar10', 'vgg16'],
                  'The network: the tutorial\'s ("cifar10") or VGG-16 '
                  '("vgg16", much slower). cifar10_eval reads it from the '
                  'checkpoint.')

# Global constants describing the CIFAR-10 data set.
IMAGE_SIZE = cifar10_input.IMAGE_SIZE
NUM_CLASSES = cifar10_input.NUM_CLASSES
NUM_EXAMPLES_PER_EPOCH_FOR_TRAIN = (
    cifar10_input.NUM_EXAMPLES_PER_EPOCH_FOR_TRAIN)
NUM_EXAMPLES_PER_EPOCH_FOR_EVAL = cifar10_input.NUM_EXAMPLES_PER_EPOCH_FOR_EVAL

# Constants describing the training process.
MOVING_AVERAGE_DECAY = 0.9999  # The decay to use for the moving average.
NUM_EPOCHS_PER_DECAY = 350.0  # Epochs after which learning rate decays.
LEARNING_RATE_DECAY_FACTOR = 0.1  # Learning rate decay factor.
INITIAL_LEARNING_RATE = 0.1  # Initial learning rate.

# If a model is trained with multiple GPUs, prefix all Op names with tower_name
# to differentiate the operations. Note that this prefix is removed from the
# names of the summaries when visualizing a model.
TOWER_NAME = 'tower'

DATA_URL = cifar10_download.DATA_URL

NUM_PARAMETERS = 1068298  # Trainable parameters of inference().

# A variable only each model has, to tell from a checkpoint which one it holds.
MODEL_MARKERS = {'cifar10': 'local3/weights', 'vgg16': 'conv5_3/weights'}


def _flag(name):
  # Reads a flag's value even when flags were never parsed (tests, notebooks):
  # then it is the default.
  return FLAGS[name].value


def _scalar_summary(tag, value):
  # tf.compat.v1.summary.* prefix the current name scope to the tag (so
  # 'conv1/sparsity' built inside scope conv1 turns into
  # 'conv1/conv1/sparsity'), make names unique ('conv1/weights_1') and
  # rewrite 'total_loss (raw)' as 'total_loss__raw_'. The raw ops keep
  # exactly the tags TensorBoard users of the tutorial know.
  tf1.add_to_collection(tf1.GraphKeys.SUMMARIES, tf.raw_ops.ScalarSummary(
      tags=tag, values=tf.cast(value, tf.float32)))


def _histogram_summary(tag, values):
  tf1.add_to_collection(tf1.GraphKeys.SUMMARIES, tf.raw_ops.HistogramSummary(
      tag=tag, values=tf.cast(values, tf.float32)))


def _activation_summary(x):
  """Helper to create summaries for activations.

  Creates a summary that provides a histogram of activations and one that
  measures the sparsity (fraction of zeros) of activations, tagged with the
  layer's name: '<layer>/activations' and '<layer>/sparsity'.

  Args:
    x: Tensor, the output of a layer, named '<layer>/<layer>'.
  """
  # Remove 'tower_[0-9]/' from the name in case this is a multi-GPU training
  # session. This helps the clarity of presentation on TensorBoard.
  tensor_name = re.sub('%s_[0-9]*/' % TOWER_NAME, '', x.op.name)
  layer = tensor_name.rsplit('/', 1)[0]
  _histogram_summary(layer + '/activations', x)
  _scalar_summary(layer + '/sparsity', tf.nn.zero_fraction(x))


def _variable_on_cpu(name, shape, initializer, dtype):
  """Helper to create a Variable stored on CPU memory.

  Variables live on the CPU so that several GPU towers can share one copy.
  """
  with tf.device('/cpu:0'):
    return tf1.get_variable(name, shape, initializer=initializer, dtype=dtype)


def _variable_with_weight_decay(name, shape, stddev, wd, dtype):
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
  var = _variable_on_cpu(
      name, shape, tf1.truncated_normal_initializer(stddev=stddev), dtype)
  if wd is not None:
    weight_decay = tf.multiply(tf.nn.l2_loss(var), wd, name='weight_loss')
    tf1.add_to_collection('losses', weight_decay)
  return var


def _cast(images, labels, use_fp16):
  if use_fp16:
    images = tf.cast(images, tf.float16)
  return images, labels


def distorted_inputs(data_dir=None, batch_size=None, pipeline=None,
                     use_fp16=None):
  """Constructs distorted input for CIFAR training.

  Args:
    data_dir: the folder holding cifar-10-batches-bin (default --data_dir).
    batch_size: images per batch (default --batch_size).
    pipeline: 'dataset' or 'queue' (default --input_pipeline).
    use_fp16: cast the images to float16 (default --use_fp16).

  Returns:
    images: Images. 4D tensor of [batch_size, IMAGE_SIZE, IMAGE_SIZE, 3] size.
    labels: Labels. 1D tensor of [batch_size] size.

  Raises:
    ValueError: If a training file is missing or malformed.
  """
  data_dir = os.path.join(data_dir or _flag('data_dir'),
                          'cifar-10-batches-bin')
  images, labels = cifar10_input.distorted_inputs(
      data_dir=data_dir, batch_size=batch_size or _flag('batch_size'),
      pipeline=pipeline or _flag('input_pipeline'))
  return _cast(images, labels,
               _flag('use_fp16') if use_fp16 is None else use_fp16)


def inputs(eval_data, data_dir=None, batch_size=None, pipeline=None,
           use_fp16=None):
  """Constructs input for CIFAR evaluation: each example once per pass.

  Args:
    eval_data: bool, indicating if one should use the train or eval data set.
    data_dir, batch_size, pipeline, use_fp16: as for distorted_inputs().

  Returns:
    images: Images. 4D tensor of [<=batch_size, IMAGE_SIZE, IMAGE_SIZE, 3].
    labels: Labels. 1D tensor of [<=batch_size] size.

  Raises:
    ValueError: If a data file is missing or malformed.
  """
  data_dir = os.path.join(data_dir or _flag('data_dir'),
                          'cifar-10-batches-bin')
  images, labels = cifar10_input.inputs(
      eval_data=eval_data, data_dir=data_dir,
      batch_size=batch_size or _flag('batch_size'),
      pipeline=pipeline or _flag('input_pipeline'))
  return _cast(images, labels,
               _flag('use_fp16') if use_fp16 is None else use_fp16)


def _conv(images, name, shape, bias):
  """A 5x5 SAME convolution with stride 1, bias and ReLU."""
  dtype = images.dtype
  with tf1.variable_scope(name) as scope:
    kernel = _variable_with_weight_decay('weights', shape=shape, stddev=5e-2,
                                         wd=None, dtype=dtype)
    conv = tf.nn.conv2d(images, kernel, [1, 1, 1, 1], padding='SAME')
    biases = _variable_on_cpu('biases', [shape[-1]],
                              tf1.constant_initializer(bias), dtype)
    out = tf.nn.relu(tf.nn.bias_add(conv, biases), name=scope.name)
  _activation_summary(out)
  return out


def _local(x, name, shape, stddev, wd, bias, relu=True):
  """A fully connected layer: x * weights + biases, then ReLU if relu."""
  dtype = x.dtype
  with tf1.variable_scope(name) as scope:
    weights = _variable_with_weight_decay('weights', shape=shape,
                                          stddev=stddev, wd=wd, dtype=dtype)
    biases = _variable_on_cpu('biases', [shape[-1]],
                              tf1.constant_initializer(bias), dtype)
    if relu:
      out = tf.nn.relu(tf.matmul(x, weights) + biases, name=scope.name)
    else:
      out = tf.add(tf.matmul(x, weights), biases, name=scope.name)
  _activation_summary(out)
  return out


def _lrn(x, name):
  # Local response normalization as in cuda-convnet (AlexNet section 3.3).
  return tf.nn.lrn(x, 4, bias=1.0, alpha=0.001 / 9.0, beta=0.75, name=name)


def inference(images, model=None):
  """Builds the CIFAR-10 model.

  Variables are created with tf.compat.v1.get_variable (not tf.Variable) so
  that multi-GPU towers can share them; their dtype follows the images
  (float16 when the inputs were built with use_fp16).

  Args:
    images: Images returned from distorted_inputs() or inputs().
    model: 'cifar10' (the tutorial's network) or 'vgg16' (default --model).

  Returns:
    Logits [batch, NUM_CLASSES].
  """
  if (model or _flag('model')) == 'vgg16':
    # Imported here: the VGG-16 module builds on this module's helpers.
    from cifar10 import cifar10_vgg16
    return cifar10_vgg16.inference(images)
  conv1 = _conv(images, 'conv1', [5, 5, 3, 64], 0.0)
  pool1 = tf.nn.max_pool2d(conv1, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1],
                           padding='SAME', name='pool1')
  norm1 = _lrn(pool1, 'norm1')
  conv2 = _conv(norm1, 'conv2', [5, 5, 64, 64], 0.1)
  # Layer 2 normalizes before pooling, the reverse of layer 1 (as cuda-convnet).
  norm2 = _lrn(conv2, 'norm2')
  pool2 = tf.nn.max_pool2d(norm2, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1],
                           padding='SAME', name='pool2')
  # Flatten everything but the batch dimension, which may vary at eval time
  # (the last batch of an evaluation pass is smaller).
  dim = 1
  for d in pool2.shape[1:]:
    dim *= tf.compat.dimension_value(d)
  reshape = tf.reshape(pool2, [-1, dim])
  local3 = _local(reshape, 'local3', [dim, 384], 0.04, 0.004, 0.1)
  local4 = _local(local3, 'local4', [384, 192], 0.04, 0.004, 0.1)
  # No softmax here: tf.nn.sparse_softmax_cross_entropy_with_logits takes the
  # unscaled logits and computes the softmax internally, more stably.
  return _local(local4, 'softmax_linear', [192, NUM_CLASSES], 1 / 192.0,
                None, 0.0, relu=False)


def loss(logits, labels):
  """Adds L2Loss to all the trainable variables.

  Add summary for "Loss" and "Loss/avg".

  Args:
    logits: Logits from inference().
    labels: Labels from distorted_inputs or inputs(). 1-D tensor of shape
      [batch_size].

  Returns:
    Loss tensor of type float: cross entropy plus all weight decay terms.
  """
  labels = tf.cast(labels, tf.int64)
  cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=labels, logits=logits, name='cross_entropy_per_example')
  cross_entropy_mean = tf.reduce_mean(cross_entropy, name='cross_entropy')
  tf1.add_to_collection('losses', cross_entropy_mean)
  # The total loss is the cross entropy plus all of the weight decay terms.
  return tf.add_n(tf1.get_collection('losses'), name='total_loss')


def add_loss_summaries(total_loss):
  """Add summaries for losses in the CIFAR-10 model.

  Generates a moving average for all losses and associated summaries for
  visualizing the performance of the network: the noisy per-batch value as
  '<name> (raw)' and the smoothed one under the loss's own name.

  Args:
    total_loss: Total loss from loss().

  Returns:
    loss_averages_op: op for generating moving averages of losses.
  """
  loss_averages = tf1.train.ExponentialMovingAverage(0.9, name='avg')
  losses = tf1.get_collection('losses') + [total_loss]
  loss_averages_op = loss_averages.apply(losses)
  for each_loss in losses:
    name = re.sub('%s_[0-9]*/' % TOWER_NAME, '', each_loss.op.name)
    _scalar_summary(name + ' (raw)', each_loss)
    _scalar_summary(name, loss_averages.average(each_loss))
  return loss_averages_op


def _model_in_graph():
  """The model whose variables the default graph holds, else --model."""
  names = set(v.op.name for v in tf1.global_variables())
  for model, marker in MODEL_MARKERS.items():
    if marker in names:
      return model
  return _flag('model')


def initial_learning_rate(model):
  """INITIAL_LEARNING_RATE, or VGG-16's own smaller one for 'vgg16'."""
  if model == 'vgg16':
    from cifar10 import cifar10_vgg16
    return cifar10_vgg16.INITIAL_LEARNING_RATE
  return INITIAL_LEARNING_RATE


def learning_rate(global_step, batch_size=None, num_replicas=1, model=None):
  """The learning rate: 0.1, times 0.1 every 350 epochs (staircase).

  VGG-16 starts lower (initial_learning_rate('vgg16'), 0.05): at 0.1 it
  collapses to chance.

  Args:
    global_step: integer Variable (or tensor) counting training steps.
    batch_size: images per step per replica (default --batch_size).
    num_replicas: towers or workers whose images one step consumes; 1 keeps
      the original schedule (which ignored the number of GPUs).
    model: 'cifar10' or 'vgg16'; None: the model built in the default graph
      (inference() comes first), else --model.

  Returns:
    A scalar float32 tensor.
  """
  batch_size = batch_size or _flag('batch_size')
  num_batches_per_epoch = (NUM_EXAMPLES_PER_EPOCH_FOR_TRAIN /
                           (batch_size * num_replicas))
  decay_steps = int(num_batches_per_epoch * NUM_EPOCHS_PER_DECAY)
  return tf1.train.exponential_decay(
      initial_learning_rate(model or _model_in_graph()), global_step,
      decay_steps, LEARNING_RATE_DECAY_FACTOR, staircase=True)


def add_histogram_summaries(grads):
  """Histograms of every trainable variable and of its gradient."""
  for var in tf1.trainable_variables():
    _histogram_summary(var.op.name, var)
  for grad, var in grads:
    if grad is not None:
      _histogram_summary(var.op.name + '/gradients', grad)


def train(total_loss, global_step, batch_size=None, model=None):
  """Train CIFAR-10 model.

  Create an optimizer and apply to all trainable variables. Add moving
  average for all trainable variables.

  Args:
    total_loss: Total loss from loss().
    global_step: Integer Variable counting the number of training steps
      processed.
    batch_size: images per step, for the decay schedule (default
      --batch_size).
    model: picks the initial learning rate; see learning_rate().

  Returns:
    train_op: op for training: one gradient step, then the loss and variable
      moving averages.
  """
  lr = learning_rate(global_step, batch_size, model=model)
  _scalar_summary('learning_rate', lr)

  # Generate moving averages of all losses and associated summaries.
  loss_averages_op = add_loss_summaries(total_loss)

  # Compute gradients.
  with tf.control_dependencies([loss_averages_op]):
    opt = tf1.train.GradientDescentOptimizer(lr)
    grads = opt.compute_gradients(total_loss)

  # Apply gradients.
  apply_gradient_op = opt.apply_gradients(grads, global_step=global_step)
  add_histogram_summaries(grads)
  return average_variables(apply_gradient_op, global_step)


def average_variables(apply_gradient_op, global_step):
  """After apply_gradient_op, updates the variables' moving averages.

  Evaluation restores these averages (the shadow values), which score better
  than the raw, noisier weights.

  Args:
    apply_gradient_op: the op that updates the variables.
    global_step: the step counter; early steps average over fewer updates.

  Returns:
    The op that does both.
  """
  variable_averages = tf1.train.ExponentialMovingAverage(
      MOVING_AVERAGE_DECAY, global_step)
  with tf.control_dependencies([apply_gradient_op]):
    return variable_averages.apply(tf1.trainable_variables())


def describe_checkpoint(checkpoint_path):
  """Tells which model, and in which float type, a checkpoint holds.

  Args:
    checkpoint_path: a checkpoint file prefix or a directory.

  Returns:
    (model, use_fp16): a key of MODEL_MARKERS, and whether the weights are
    float16.

  Raises:
    ValueError: the checkpoint holds neither model.
  """
  names = dict(tf1.train.list_variables(checkpoint_path))
  for model, marker in MODEL_MARKERS.items():
    if marker in names:
      dtype = tf1.train.load_variable(checkpoint_path,
                                      'softmax_linear/biases').dtype
      return model, dtype == 'float16'
  raise ValueError('%s holds no CIFAR-10 model this project knows (neither '
                   'of the variables %s)' % (
                       checkpoint_path, ', '.join(MODEL_MARKERS.values())))


def error_line(program, error):
  """The one line a program exits with when it meets an expected error.

  Args:
    program: the program's name, which starts the line.
    error: an OSError or ValueError (a missing or malformed file, a bad
      flag), or a tf.errors.OpError raised while the graph ran.

  Returns:
    '<program>: error: <message>'; an OpError keeps only its first line,
    as the rest is the graph's traceback.
  """
  if isinstance(error, tf.errors.OpError):
    return '%s: error: %s' % (program, error.message.split('\n')[0])
  return '%s: error: %s' % (program, error)


def maybe_download_and_extract(data_dir=None, url=None, md5=None):
  """Download and extract the tarball unless the data is already there.

  Args:
    data_dir: default --data_dir.
    url: default --data_url.
    md5: default --data_md5 ('' skips the check).

  Returns:
    The path of cifar-10-batches-bin.

  Raises:
    IOError: the data is missing and could not be downloaded.
    ValueError: the tarball is unsafe or malformed.
  """
  return cifar10_download.maybe_download_and_extract(
      data_dir or _flag('data_dir'), url or _flag('data_url'),
      _flag('data_md5') if md5 is None else md5)
