"""Restores trained MNIST and CIFAR-10 checkpoints for classifying images.

The trainers save only variables; this module rebuilds each model's graph
for inference (one input placeholder, softmax probabilities out) and
restores the newest checkpoint into it. Which model a checkpoint holds is
read from its variables, so users need not say it:

  mnist_deep            conv1/weights [5, 5, 1, 32] and fc2/weights
  fully_connected_feed  hidden1/weights [784, H1] and hidden2/weights
  cifar10, vgg16        cifar10.describe_checkpoint (with their float type)

Library use (scripts/handwriting_pad.py and scripts/classify_images.py):

 checkpoint = latest_checkpoint(log_dir)    # newest model.ckpt-<step>
 name = model_in(checkpoint)                # 'mnist_deep', ..., 'vgg16'
 model = load_model(log_dir, model=None)    # any of them
 probabilities = model.predict(inputs)      # float32 [n, 10]
 model.close()

MNIST models take float32 [n, 784] pixels in [0, 1]; CIFAR-10 models take
uint8 [n, 32, 32, 3] images and centre-crop and standardize them in the
graph (cifar10_input.crop_images, as cifar10_eval does), with the moving
averages of the weights restored.
"""

import os

import tensorflow as tf

from mnist import mnist
from mnist import mnist_deep

tf1 = tf.compat.v1

MNIST_MODELS = ('mnist_deep', 'fully_connected_feed')  # 28x28 grey digits.
CIFAR10_MODELS = ('cifar10', 'vgg16')  # 32x32 colour images.
MODELS = MNIST_MODELS + CIFAR10_MODELS
DEFAULT_DIRS = {  # Where each trainer writes by default.
    'mnist_deep': mnist_deep.DEFAULT_LOG_DIR,
    'fully_connected_feed': os.path.join(
        os.getenv('TEST_TMPDIR', '/tmp'),
        'tensorflow/mnist/logs/fully_connected_feed'),
    'cifar10': '/tmp/cifar10_train',
    'vgg16': '/tmp/cifar10_train',
}


class Model(object):
  """A restored classifier: a graph, its session, an input and an output.

  Attributes:
    name: the model, one of MODELS.
    checkpoint: the checkpoint path prefix it was restored from.
    step: the global step saved in the checkpoint (None if absent).
  """

  def __init__(self, session, inputs, probabilities, name, checkpoint):
    self.session, self.inputs = session, inputs
    self.probabilities = probabilities
    self.name, self.checkpoint = name, checkpoint
    try:
      self.step = int(tf1.train.load_variable(checkpoint, 'global_step'))
    except (ValueError, tf.errors.OpError):
      self.step = None

  def predict(self, inputs):
    """Class probabilities, float32 [n, 10], of a batch of inputs."""
    # Session.run is thread-safe: the pad's server threads share it.
    return self.session.run(self.probabilities, {self.inputs: inputs})

  def close(self):
    """Frees the session."""
    self.session.close()


def latest_checkpoint(path):
  """The newest checkpoint in a folder, or path itself if it is a prefix.

  Args:
    path: a trainer's log or train dir, or a checkpoint path prefix
      (say /tmp/x/model.ckpt-2000).

  Returns:
    The checkpoint path prefix.

  Raises:
    ValueError: there is none.
  """
  if os.path.isdir(path):
    found = tf1.train.latest_checkpoint(path)
    if found:
      return found
  elif os.path.exists(path + '.index'):
    return path
  raise ValueError('no checkpoint in %s' % path)


def _fully_connected_sizes(shapes):
  """(hidden1, hidden2) of a fully_connected_feed checkpoint, else None."""
  first, second = shapes.get('hidden1/weights'), shapes.get('hidden2/weights')
  if first and second and first[0] == mnist.IMAGE_PIXELS:
    return first[1], second[1]
  return None


def model_in(checkpoint):
  """Which model a checkpoint holds.

  Args:
    checkpoint: a checkpoint path prefix.

  Returns:
    One of MODELS.

  Raises:
    ValueError: the checkpoint cannot be read or holds none of them.
  """
  try:
    shapes = dict(tf1.train.list_variables(checkpoint))
  except (tf.errors.OpError, ValueError) as e:
    raise ValueError('cannot read checkpoint %s: %s' % (
        checkpoint, _first_line(e))) from None
  if (shapes.get('conv1/weights') == [5, 5, 1, 32]
      and shapes.get('fc2/weights') == [1024, mnist.NUM_CLASSES]):
    return 'mnist_deep'
  if _fully_connected_sizes(shapes):
    return 'fully_connected_feed'
  from cifar10 import cifar10  # Defines absl flags: only when needed.
  try:
    return cifar10.describe_checkpoint(checkpoint)[0]
  except ValueError:
    raise ValueError('%s holds none of the models %s' % (
        checkpoint, ', '.join(MODELS))) from None


def _first_line(error):
  message = getattr(error, 'message', None) or str(error)
  return message.strip().split('\n')[0]


def restore(build, name, checkpoint, saver_vars=None):
  """Builds a graph with build() and restores its variables.

  Args:
    build: function returning (inputs placeholder, logits), called inside
      the new graph.
    name: the model's name, for Model.name.
    checkpoint: the checkpoint path prefix.
    saver_vars: function returning what to restore (see
      tf.compat.v1.train.Saver), called in the graph; default all variables.

  Returns:
    A Model.

  Raises:
    ValueError: the checkpoint cannot be read or does not fit the graph.
  """
  graph = tf.Graph()
  # Saver.restore, too, must run inside the graph: outside it, TensorFlow 2
  # is executing eagerly, and the Saver takes the variables for eager ones.
  with graph.as_default():
    inputs, logits = build()
    probabilities = tf.nn.softmax(tf.cast(logits, tf.float32))
    saver = tf1.train.Saver(saver_vars() if saver_vars else None)
    graph.finalize()
    session = tf1.Session(graph=graph)
    try:
      saver.restore(session, checkpoint)
    except (tf.errors.OpError, ValueError) as e:
      session.close()
      raise ValueError('cannot restore %s: %s' % (
          checkpoint, _first_line(e))) from None
  return Model(session, inputs, probabilities, name, checkpoint)


def _mnist_graph(name, hidden):
  """A build() for restore(): an MNIST model on [n, 784] pixels."""
  def build():
    if name == 'mnist_deep':
      # Named as mnist_deep documents: x:0 in, logits:0 out.
      x = tf1.placeholder(tf.float32, [None, mnist.IMAGE_PIXELS], name='x')
      return x, mnist_deep.deepnn(x)[0]
    images = tf1.placeholder(tf.float32, [None, mnist.IMAGE_PIXELS],
                             name='images')
    return images, mnist.inference(images, hidden[0], hidden[1])
  return build


def _cifar10_graph(name, use_fp16):
  """A build() for restore(): a CIFAR-10 model on uint8 32x32 images."""
  from cifar10 import cifar10
  from cifar10 import cifar10_input

  def build():
    images = tf1.placeholder(tf.uint8, [None, 32, 32, 3], name='images')
    crops = cifar10_input.crop_images(images)
    if use_fp16:
      crops = tf.cast(crops, tf.float16)
    return images, cifar10.inference(crops, name)

  def averages():
    # cifar10_eval's choice: the moving averages score better than the
    # last, noisier raw weights.
    return tf1.train.ExponentialMovingAverage(
        cifar10.MOVING_AVERAGE_DECAY).variables_to_restore()
  return build, averages


def load_model(path, model=None):
  """Restores the newest checkpoint of a folder for inference.

  Args:
    path: a trainer's log or train dir, or a checkpoint path prefix.
    model: one of MODELS to insist on, or None for whichever it holds
      ('cifar10' and 'vgg16' are told apart too).

  Returns:
    A Model (see the module docstring for its inputs).

  Raises:
    ValueError: no checkpoint, an unknown one, another model than `model`,
      or one that cannot be restored.
  """
  checkpoint = latest_checkpoint(path)
  found = model_in(checkpoint)
  if model and found != model:
    raise ValueError('%s holds a %s model, not %s' % (checkpoint, found,
                                                      model))
  if found in MNIST_MODELS:
    hidden = _fully_connected_sizes(dict(
        tf1.train.list_variables(checkpoint)))
    return restore(_mnist_graph(found, hidden), found, checkpoint)
  from cifar10 import cifar10
  use_fp16 = cifar10.describe_checkpoint(checkpoint)[1]
  build, averages = _cifar10_graph(found, use_fp16)
  return restore(build, found, checkpoint, averages)
