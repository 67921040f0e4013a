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

Flags and arguments. As in the original, these functions read the flags
defined here when their caller leaves a setting out: --data_dir,
--batch_size and --use_fp16 (and --input_pipeline, --model, --data_url,
--data_md5). An argument given wins over its flag; a flag not parsed from
a command line holds what was assigned to it, else the tutorial's default.
So a script written as the course's walk-throughs write it (flags parsed by
absl.app.run, tf.compat.v1.app.run or tf.compat.v1.flags.FLAGS(argv), then
cifar10.distorted_inputs(), cifar10.inference(images), ...) trains on
--data_dir at --batch_size, and so does a notebook that assigns them
(`cifar10.FLAGS.data_dir = ...`: in a Jupyter or Colab kernel the flags
read and take assignments at once); the project's own programs read the
flags in main() and pass every setting.

`import cifar10` works as in the original from a script beside this file
(which then also stands for its package); elsewhere, `from cifar10 import
cifar10`.
"""

import os
import sys

if not __package__:
  # `import cifar10` from a script in this folder, as the course's own
  # cifar10_train.py is written: this file, loaded as a top-level module,
  # also stands for its package, so that its imports below find their
  # neighbours here and `from cifar10 import cifar10` finds it.
  os.environ.setdefault('FOR_DISABLE_CONSOLE_CTRL_HANDLER', '1')  # See
  __path__ = [os.path.dirname(os.path.abspath(__file__))]  # __init__.py.
  sys.modules['cifar10.cifar10'] = cifar10 = sys.modules[__name__]
  from cifar10 import cifar10_cli
  cifar10_cli.quick_tensorflow_import()  # As the package's __init__ does.

from absl import flags
import tensorflow as tf

from cifar10 import cifar10_cli
from cifar10 import cifar10_download
from cifar10 import cifar10_input
from cifar10 import cifar10_layers
from cifar10 import cifar10_vgg16

tf1 = tf.compat.v1

# Global constants describing the CIFAR-10 data set.
IMAGE_SIZE = cifar10_input.IMAGE_SIZE
NUM_CLASSES = cifar10_input.NUM_CLASSES
NUM_EXAMPLES_PER_EPOCH_FOR_TRAIN = (
    cifar10_input.NUM_EXAMPLES_PER_EPOCH_FOR_TRAIN)
NUM_EXAMPLES_PER_EPOCH_FOR_EVAL = cifar10_input.NUM_EXAMPLES_PER_EPOCH_FOR_EVAL

# Basic model parameters: the defaults of the functions below and of the
# flags that the programs pass to them.
BATCH_SIZE = 128  # Number of images to process in a batch.
# Holds cifar-10-batches-bin or the tarball: /tmp/cifar10_data, which is
# \\tmp\\cifar10_data on the current drive on Windows.
DATA_DIR = cifar10_cli.tmp_dir('cifar10_data')
MODELS = cifar10_cli.MODELS  # The tutorial's network, and VGG-16.

# Constants describing the training process.
MOVING_AVERAGE_DECAY = 0.9999  # The decay to use for the moving average.
NUM_EPOCHS_PER_DECAY = 350.0  # Epochs after which learning rate decays.
LEARNING_RATE_DECAY_FACTOR = 0.1  # Learning rate decay factor.
INITIAL_LEARNING_RATE = 0.1  # Initial learning rate.

# If a model is trained with multiple GPUs, prefix all Op names with tower_name
# to differentiate the operations (cifar10_layers strips it from summaries).
TOWER_NAME = cifar10_layers.TOWER_NAME

DATA_URL = cifar10_download.DATA_URL

NUM_PARAMETERS = 1068298  # Trainable parameters of inference().

# A variable only each model has, to tell from a checkpoint which one it holds.
MODEL_MARKERS = {'cifar10': 'local3/weights', 'vgg16': 'conv5_3/weights'}

# A kernel may run this file again (importlib.reload): its flags anew.
cifar10_cli.forget_earlier_copy('cifar10')
# The flags of every CIFAR-10 program (the original defined its first three
# here too). The programs' main() functions read them; the functions below
# read them only for a setting their caller leaves out (see _setting).
flags.DEFINE_integer('batch_size', BATCH_SIZE,
                     'Number of images to process in a batch.',
                     lower_bound=1)
flags.DEFINE_string('data_dir', DATA_DIR,
                    'Path to the CIFAR-10 data directory: it holds (or will '
                    'hold) cifar-10-batches-bin and/or the tarball.')
flags.DEFINE_boolean('use_fp16', False,
                     'Train the model using fp16: float16 variables, no loss '
                     'scaling, as the original (meant for GPUs: on a CPU '
                     'float16 is many times slower than float32).')
flags.DEFINE_boolean('mixed_precision', False,
                     'Run the arithmetic in 16 bits where that is faster: '
                     'bfloat16 on CPUs with AVX-512 BF16 or AMX, float16 '
                     'with loss scaling on GPUs (elsewhere it says why and '
                     'stays float32). Variables and checkpoints stay '
                     'float32, so runs resume and evaluate in either mode. '
                     'Off: float32, as the published results.')
flags.DEFINE_enum('input_pipeline', cifar10_input.DEFAULT_PIPELINE,
                  cifar10_input.PIPELINES,
                  'How to feed images: tf.data ("dataset", measured faster '
                  'end to end) or the original queue runners ("queue"). Same '
                  'preprocessing either way.')
flags.DEFINE_string('data_url', cifar10_download.DATA_URL,
                    'Where to download the CIFAR-10 binary tarball from when '
                    'it is not in --data_dir (a mirror, or your own data set).')
flags.DEFINE_string('data_md5', cifar10_download.DATA_MD5,
                    'Expected md5 of the tarball (empty: do not check).')
flags.DEFINE_enum('model', 'cifar10', list(MODELS),
                  'The network: the tutorial\'s ("cifar10") or VGG-16 '
                  '("vgg16", much slower). cifar10_eval reads it from the '
                  'checkpoint.')


FLAGS = flags.FLAGS
# In a Jupyter or Colab kernel, FLAGS.data_dir reads (and takes assignments)
# at once: the kernel's own arguments are not parsed as flags.
cifar10_cli.notebook_flags(FLAGS)


def _setting(flag, value):
  """A setting of the functions below: given, else --flag, else the default.

  The original's functions read --data_dir, --batch_size and --use_fp16
  themselves; so do these, for a setting their caller leaves out (None).

  Args:
    flag: the flag's name, e.g. 'batch_size'.
    value: what the caller passed, or None.

  Returns:
    value if given; else the flag's value: as parsed (absl.app.run,
    tf.compat.v1.app.run, FLAGS(argv)) or assigned (`FLAGS.data_dir = ...`,
    as notebooks do), else its default, the tutorial's.
  """
  if value is not None:
    return value
  return FLAGS[flag].value  # Its default until parsed or assigned.


def model_settings(flag_values=FLAGS):
  """The model's settings from the parsed flags, as the trainers take them.

  Args:
    flag_values: parsed absl flags.

  Returns:
    {'data_dir', 'batch_size', 'pipeline', 'use_fp16', 'model',
    'mixed_precision'}: --input_pipeline as `pipeline`, the others by
    their flags' names.
  """
  return {'data_dir': flag_values.data_dir,
          'batch_size': flag_values.batch_size,
          'pipeline': flag_values.input_pipeline,
          'use_fp16': flag_values.use_fp16, 'model': flag_values.model,
          'mixed_precision': flag_values.mixed_precision}


def _cast(images, labels, use_fp16):
  if use_fp16:
    images = tf.cast(images, tf.float16)
  return images, labels


def distorted_inputs(data_dir=None, batch_size=None, pipeline=None,
                     use_fp16=None):
  """Constructs distorted input for CIFAR training.

  Args:
    data_dir: the folder holding cifar-10-batches-bin (None: --data_dir).
    batch_size: images per batch (None: --batch_size).
    pipeline: 'queue' (queue runners, which the session must start, as
      MonitoredTrainingSession does) or 'dataset' (tf.data); None:
      --input_pipeline.
    use_fp16: cast the images to float16 (the model's variables follow);
      None: --use_fp16.

  Returns:
    images: Images. 4D tensor of [batch_size, IMAGE_SIZE, IMAGE_SIZE, 3] size.
    labels: Labels. 1D tensor of [batch_size] size.

  Raises:
    ValueError: If a training file is missing or malformed.
  """
  images, labels = cifar10_input.distorted_inputs(
      data_dir=os.path.join(_setting('data_dir', data_dir),
                            cifar10_download.BATCHES_DIR),
      batch_size=_setting('batch_size', batch_size),
      pipeline=_setting('input_pipeline', pipeline))
  return _cast(images, labels, _setting('use_fp16', use_fp16))


def inputs(eval_data, data_dir=None, batch_size=None, pipeline=None,
           use_fp16=None, num_epochs=None):
  """Constructs input for CIFAR evaluation.

  Args:
    eval_data: bool, indicating if one should use the train or eval data set.
    data_dir, batch_size, pipeline, use_fp16: as for distorted_inputs().
    num_epochs: None (the original's endless stream of full batches) or 1
      (each example exactly once; see cifar10_input.inputs).

  Returns:
    images: Images. 4D tensor of [<=batch_size, IMAGE_SIZE, IMAGE_SIZE, 3].
    labels: Labels. 1D tensor of [<=batch_size] size.

  Raises:
    ValueError: If a data file is missing or malformed.
  """
  images, labels = cifar10_input.inputs(
      eval_data=eval_data,
      data_dir=os.path.join(_setting('data_dir', data_dir),
                            cifar10_download.BATCHES_DIR),
      batch_size=_setting('batch_size', batch_size),
      pipeline=_setting('input_pipeline', pipeline), num_epochs=num_epochs)
  return _cast(images, labels, _setting('use_fp16', use_fp16))


def _variable_dtype(use_fp16):
  return tf.float16 if _setting('use_fp16', use_fp16) else tf.float32


def _variable_on_cpu(name, shape, initializer, use_fp16=None):
  """The original's helper: a variable on the CPU, float16 with --use_fp16.

  See cifar10_layers.variable_on_cpu, which the models use.
  """
  return cifar10_layers.variable_on_cpu(name, shape, initializer,
                                        _variable_dtype(use_fp16))


def _variable_with_weight_decay(name, shape, stddev, wd, use_fp16=None):
  """The original's helper: an initialized variable with weight decay.

  Float16 with --use_fp16; see cifar10_layers.variable_with_weight_decay,
  which the models use.
  """
  return cifar10_layers.variable_with_weight_decay(
      name, shape, stddev, wd, _variable_dtype(use_fp16))


def _lrn(x, name):
  # Local response normalization as in cuda-convnet (AlexNet section 3.3):
  # tf.nn.lrn(x, 4, bias=1.0, alpha=0.001 / 9.0, beta=0.75), XLA-fused where
  # that is faster (see cifar10_layers.fused_lrn_wanted).
  return cifar10_layers.lrn(x, name)


def inference(images, model=None, use_fp16=None):
  """Builds the CIFAR-10 model.

  Variables are created with tf.compat.v1.get_variable (not tf.Variable) so
  that multi-GPU towers can share them; their dtype follows the images
  (float16 when the inputs were built with use_fp16).

  Args:
    images: Images returned from distorted_inputs() or inputs().
    model: 'cifar10' (the tutorial's network) or 'vgg16'
      (cifar10_vgg16.inference); None: --model.
    use_fp16: float16 variables and arithmetic (float32 images are cast);
      None: --use_fp16, or float16 images. bfloat16 images (from
      mixed_precision.model_images) make bfloat16 arithmetic with float32
      variables, and float32 logits.

  Returns:
    Logits [batch, NUM_CLASSES].

  Raises:
    ValueError: an unknown model.
  """
  model = _setting('model', model)
  if _setting('use_fp16', use_fp16) and images.dtype != tf.float16:
    images = tf.cast(images, tf.float16)
  if model == 'vgg16':
    return cifar10_vgg16.inference(images)
  if model != 'cifar10':
    raise ValueError('unknown model %r: use one of %s' % (model,
                                                         ', '.join(MODELS)))
  conv1 = cifar10_layers.conv(images, 'conv1', [5, 5, 3, 64], stddev=5e-2,
                              wd=None, bias=0.0)
  pool1 = tf.nn.max_pool2d(conv1, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1],
                           padding='SAME', name='pool1')
  norm1 = _lrn(pool1, 'norm1')
  conv2 = cifar10_layers.conv(norm1, 'conv2', [5, 5, 64, 64], stddev=5e-2,
                              wd=None, bias=0.1)
  # Layer 2 normalizes before pooling, the reverse of layer 1 (as cuda-convnet).
  norm2 = _lrn(conv2, 'norm2')
  pool2 = tf.nn.max_pool2d(norm2, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1],
                           padding='SAME', name='pool2')
  # Flatten everything but the batch dimension, which may vary at eval time
  # (the last batch of an evaluation pass is smaller).
  dim = cifar10_layers.flat_size(pool2)
  reshape = tf.reshape(pool2, [-1, dim])
  local3 = cifar10_layers.local(reshape, 'local3', [dim, 384], stddev=0.04,
                                wd=0.004, bias=0.1)
  local4 = cifar10_layers.local(local3, 'local4', [384, 192], stddev=0.04,
                                wd=0.004, bias=0.1)
  # No softmax here: tf.nn.sparse_softmax_cross_entropy_with_logits takes the
  # unscaled logits and computes the softmax internally, more stably.
  return cifar10_layers.local(local4, 'softmax_linear', [192, NUM_CLASSES],
                              stddev=1 / 192.0, wd=None, bias=0.0, relu=False)


def loss(logits, labels, scope=None):
  """Adds L2Loss to all the trainable variables.

  Add summary for "Loss" and "Loss/avg".

  Args:
    logits: Logits from inference().
    labels: Labels from distorted_inputs or inputs(). 1-D tensor of shape
      [batch_size].
    scope: sum only the loss terms built in this name scope (a multi-GPU
      tower's, e.g. 'tower_1/'); None: all of them.

  Returns:
    Loss tensor of type float: cross entropy plus all weight decay terms.
  """
  labels = tf.cast(labels, tf.int64)
  cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=labels, logits=logits, name='cross_entropy_per_example')
  cross_entropy_mean = tf.reduce_mean(cross_entropy, name='cross_entropy')
  tf1.add_to_collection('losses', cross_entropy_mean)
  # The total loss is the cross entropy plus all of the weight decay terms.
  return tf.add_n(tf1.get_collection('losses', scope), name='total_loss')


def add_loss_summaries(total_loss):
  """Add summaries for losses in the CIFAR-10 model.

  Generates a moving average for all losses and associated summaries for
  visualizing the performance of the network: the noisy per-batch value as
  '<name> (raw)' and the smoothed one under the loss's own name.

  Args:
    total_loss: Total loss from loss(). Its terms are the 'losses' built in
      its own name scope: all of them, or a multi-GPU tower's.

  Returns:
    loss_averages_op: op for generating moving averages of losses.
  """
  scope = total_loss.op.name.rpartition('/')[0]
  losses = tf1.get_collection('losses', scope and scope + '/')
  named = []
  for each_loss in losses + [total_loss]:
    # A tower's losses ('tower_1/cross_entropy') get the names of one
    # device's, so the moving averages ('cross_entropy/avg') and the tags
    # are cifar10_train's and either trainer resumes the other's checkpoints.
    name = cifar10_layers.strip_tower(each_loss.op.name)
    if name != each_loss.op.name:
      each_loss = tf.identity(each_loss, name=name)
    named.append(each_loss)
  loss_averages = tf1.train.ExponentialMovingAverage(0.9, name='avg')
  loss_averages_op = loss_averages.apply(named)
  for each_loss in named:
    cifar10_layers.scalar_summary(each_loss.op.name + ' (raw)', each_loss)
    cifar10_layers.scalar_summary(each_loss.op.name,
                                  loss_averages.average(each_loss))
  return loss_averages_op


def initial_learning_rate(model='cifar10'):
  """INITIAL_LEARNING_RATE, or VGG-16's own smaller one for 'vgg16'."""
  if model == 'vgg16':
    return cifar10_vgg16.INITIAL_LEARNING_RATE
  return INITIAL_LEARNING_RATE


def learning_rate(global_step, batch_size=None, num_replicas=1, model=None):
  """The learning rate: 0.1, times 0.1 every 350 epochs (staircase).

  VGG-16 starts lower (initial_learning_rate('vgg16'), 0.05): at 0.1 it
  collapses to chance.

  Args:
    global_step: integer Variable (or tensor) counting training steps.
    batch_size: images per step per replica; None: --batch_size.
    num_replicas: towers or workers whose images one step consumes; 1 keeps
      the original schedule (which ignored the number of GPUs).
    model: 'cifar10' or 'vgg16', the model being trained (say it: the
      models start at different rates); None: --model.

  Returns:
    A scalar float32 tensor.
  """
  num_batches_per_epoch = (NUM_EXAMPLES_PER_EPOCH_FOR_TRAIN /
                           (_setting('batch_size', batch_size) * num_replicas))
  decay_steps = int(num_batches_per_epoch * NUM_EPOCHS_PER_DECAY)
  return tf1.train.exponential_decay(
      initial_learning_rate(_setting('model', model)), global_step,
      decay_steps, LEARNING_RATE_DECAY_FACTOR, staircase=True)


def add_histogram_summaries(grads):
  """Histograms of every trainable variable and of its gradient."""
  for var in tf1.trainable_variables():
    cifar10_layers.histogram_summary(var.op.name, var)
  for grad, var in grads:
    if grad is not None:
      cifar10_layers.histogram_summary(var.op.name + '/gradients', grad)


def train(total_loss, global_step, batch_size=None, model=None,
          num_replicas=1, gradients=None, wrap_optimizer=None):
  """Train CIFAR-10 model.

  Create an optimizer and apply to all trainable variables. Add moving
  average for all trainable variables. Every trainer builds its train op
  here: the multi-GPU towers pass `gradients`, the distributed workers and
  mixed precision `wrap_optimizer`.

  Args:
    total_loss: Total loss from loss().
    global_step: Integer Variable counting the number of training steps
      processed.
    batch_size: images per step (per tower or worker), for the decay
      schedule; None: --batch_size.
    model: picks the initial learning rate; see learning_rate().
    num_replicas: see learning_rate().
    gradients: a function(optimizer) -> [(gradient, variable)] to apply
      instead of optimizer.compute_gradients(total_loss), such as the
      average of the towers' gradients.
    wrap_optimizer: a function(optimizer) -> optimizer to use in its place,
      such as loss scaling or a tf.compat.v1.train.SyncReplicasOptimizer
      (which then updates the variables' moving averages itself).

  Returns:
    train_op: op for training: one gradient step, then the loss and variable
      moving averages.
  """
  lr = learning_rate(global_step, batch_size, num_replicas, model)
  cifar10_layers.scalar_summary('learning_rate', lr)

  # Generate moving averages of all losses and associated summaries.
  loss_averages_op = add_loss_summaries(total_loss)

  # Compute gradients.
  opt = tf1.train.GradientDescentOptimizer(lr)
  if wrap_optimizer:
    opt = wrap_optimizer(opt)
  with tf.control_dependencies([loss_averages_op]):
    if gradients:
      grads = gradients(opt)
    else:
      grads = opt.compute_gradients(total_loss)

  # Apply gradients.
  apply_gradient_op = opt.apply_gradients(grads, global_step=global_step)
  add_histogram_summaries(grads)
  if isinstance(opt, tf1.train.SyncReplicasOptimizer):
    return apply_gradient_op
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
  with tf.control_dependencies([apply_gradient_op]):
    return variable_averages(global_step).apply(tf1.trainable_variables())


def variable_averages(global_step=None):
  """The moving averages of the weights: MOVING_AVERAGE_DECAY, by step.

  Training updates them (average_variables); evaluation restores them in
  place of the weights (variable_averages().variables_to_restore()).
  """
  return tf1.train.ExponentialMovingAverage(MOVING_AVERAGE_DECAY, global_step)


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


def maybe_download_and_extract(data_dir=None, url=None, md5=None):
  """Download and extract the tarball unless the data is already there.

  Args:
    data_dir: the folder for the tarball and cifar-10-batches-bin; None:
      --data_dir.
    url: where to download the tarball from; None: --data_url.
    md5: its expected md5 ('' skips the check); None: --data_md5.

  Returns:
    The path of cifar-10-batches-bin.

  Raises:
    IOError: the data is missing and could not be downloaded.
    ValueError: the tarball is unsafe or malformed.
  """
  return cifar10_download.maybe_download_and_extract(
      _setting('data_dir', data_dir), _setting('data_url', url),
      _setting('data_md5', md5))
