"""Restores trained MNIST checkpoints for inference.

The trainers save checkpoints for training; this module rebuilds a model's
graph for inference (one input placeholder, softmax probabilities out) and
restores the newest checkpoint into it. Which model a checkpoint holds is
read from its variables, so users need not say it:

  mnist_deep            conv1/weights [5, 5, 1, 32] and fc2/weights; the
                        graph comes from the checkpoint's .meta file, by
                        the tensor names mnist_deep documents (x:0,
                        logits:0; keep_prob:0 defaults to 1)
  fully_connected_feed  hidden1/weights [784, H1] and hidden2/weights; the
                        graph is mnist.inference with those sizes

Both take float32 [n, 784] pixels in [0, 1]. Model, latest_checkpoint,
checkpoint_shapes and restore know nothing of MNIST: other models (the
CIFAR-10 ones, say) restore through them with their own build function.

 checkpoint = latest_checkpoint(log_dir)    # newest model.ckpt-<step>
 name = model_in(checkpoint)                # 'mnist_deep' or ...
 model = load_model(log_dir, model=None)    # either of them
 probabilities = model.predict(inputs)      # float32 [n, 10]
 model.close()
 model = restore(build, name, checkpoint)   # any graph build() makes
"""

import os

import tensorflow as tf

from mnist import mnist
from mnist import MODEL_DIRS

tf1 = tf.compat.v1

MNIST_MODELS = tuple(MODEL_DIRS)  # 28x28 grey digits.
DEFAULT_DIRS = MODEL_DIRS  # Where each trainer writes by default.


class Model(object):
  """A restored classifier: a graph, its session, an input and an output.

  Attributes:
    name: the model's name, e.g. 'mnist_deep'.
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
    """Class probabilities, float32 [n, 10], of a batch of inputs.

    Safe from several threads at once (the pad's server threads share
    one model): Session.run is thread-safe, and the graph is finalized.
    """
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


def _first_line(error):
  message = getattr(error, 'message', None) or str(error)
  return message.strip().split('\n')[0]


def checkpoint_shapes(checkpoint):
  """{variable name: shape} of a checkpoint.

  Raises:
    ValueError: the checkpoint cannot be read; the message names it.
  """
  try:
    return dict(tf1.train.list_variables(checkpoint))
  except (tf.errors.OpError, ValueError) as e:
    raise ValueError('cannot read checkpoint %s: %s' % (
        checkpoint, _first_line(e))) from None


def _fully_connected_sizes(shapes):
  """(hidden1, hidden2) of a fully_connected_feed checkpoint, else None."""
  first, second = shapes.get('hidden1/weights'), shapes.get('hidden2/weights')
  if first and second and first[0] == mnist.IMAGE_PIXELS:
    return first[1], second[1]
  return None


def mnist_model(shapes):
  """The MNIST model whose variables these are, or None.

  Args:
    shapes: {variable name: shape}, from checkpoint_shapes().

  Returns:
    'mnist_deep', 'fully_connected_feed' or None.
  """
  if (shapes.get('conv1/weights') == [5, 5, 1, 32]
      and shapes.get('fc2/weights') == [1024, mnist.NUM_CLASSES]):
    return 'mnist_deep'
  if _fully_connected_sizes(shapes):
    return 'fully_connected_feed'
  return None


def model_in(checkpoint):
  """Which MNIST model a checkpoint holds.

  Args:
    checkpoint: a checkpoint path prefix.

  Returns:
    One of MNIST_MODELS.

  Raises:
    ValueError: the checkpoint cannot be read or holds neither.
  """
  found = mnist_model(checkpoint_shapes(checkpoint))
  if not found:
    raise ValueError('%s holds none of the models %s' % (
        checkpoint, ', '.join(MNIST_MODELS)))
  return found


def check_model(checkpoint, found, wanted):
  """Raises ValueError('<checkpoint> holds a <found> model, not <wanted>').

  Nothing happens when wanted is None or found.
  """
  if wanted and found != wanted:
    raise ValueError('%s holds a %s model, not %s' % (checkpoint, found,
                                                      wanted))


def restore(build, name, checkpoint, saver_vars=None, config=None):
  """Builds a graph with build() and restores its variables.

  Args:
    build: function returning (inputs placeholder, logits), called inside
      the new graph.
    name: the model's name, for Model.name.
    checkpoint: the checkpoint path prefix.
    saver_vars: function returning what to restore (see
      tf.compat.v1.train.Saver), called in the graph; default all variables.
    config: the session's tf.compat.v1.ConfigProto (e.g. a graph rewrite).

  Returns:
    A Model.

  Raises:
    ValueError: the checkpoint cannot be read or does not fit the graph.
  """
  graph = tf.Graph()
  # Saver.restore, too, must run inside the graph: outside it, TensorFlow 2
  # is executing eagerly, and the Saver takes the variables for eager ones.
  with graph.as_default():
    try:
      inputs, logits = build()
    except (OSError, tf.errors.OpError) as e:  # No or a broken .meta file.
      raise ValueError('cannot restore %s: %s' % (
          checkpoint, _first_line(e))) from None
    probabilities = tf.nn.softmax(tf.cast(logits, tf.float32))
    saver = tf1.train.Saver(saver_vars() if saver_vars else None)
    graph.finalize()
    session = tf1.Session(graph=graph, config=config)
    try:
      saver.restore(session, checkpoint)
    except (tf.errors.OpError, ValueError) as e:
      session.close()
      raise ValueError('cannot restore %s: %s' % (
          checkpoint, _first_line(e))) from None
  return Model(session, inputs, probabilities, name, checkpoint)


def _mnist_graph(name, checkpoint, hidden):
  """A build() for restore(): an MNIST model on [n, 784] pixels."""
  def build():
    if name == 'mnist_deep':
      # mnist_deep's own graph, as saved beside the checkpoint, without
      # the devices of the machine that trained it.
      tf1.train.import_meta_graph(checkpoint + '.meta', clear_devices=True)
      graph = tf1.get_default_graph()
      return (graph.get_tensor_by_name('x:0'),
              graph.get_tensor_by_name('logits:0'))
    images = tf1.placeholder(tf.float32, [None, mnist.IMAGE_PIXELS],
                             name='images')
    return images, mnist.inference(images, hidden[0], hidden[1])
  return build


def load_model(path, model=None, config=None):
  """Restores the newest MNIST checkpoint of a folder for inference.

  Args:
    path: a trainer's log dir, or a checkpoint path prefix.
    model: one of MNIST_MODELS to insist on, or None for whichever it
      holds.
    config: the session's tf.compat.v1.ConfigProto.

  Returns:
    A Model of float32 [n, 784] pixels in [0, 1].

  Raises:
    ValueError: no checkpoint, an unknown one, another model than `model`,
      or one that cannot be restored.
  """
  checkpoint = latest_checkpoint(path)
  found = model_in(checkpoint)
  check_model(checkpoint, found, model)
  hidden = _fully_connected_sizes(checkpoint_shapes(checkpoint))
  return restore(_mnist_graph(found, checkpoint, hidden), found, checkpoint,
                 config=config)
