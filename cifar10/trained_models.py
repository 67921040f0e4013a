"""Restores trained MNIST and CIFAR-10 checkpoints for classifying images.

The MNIST models, and the parts any model uses (Model, latest_checkpoint,
restore), are mnist.trained_models; this adds the CIFAR-10 models, read
from a checkpoint's variables as the MNIST ones are:

  mnist_deep, fully_connected_feed   mnist.trained_models
  cifar10, vgg16                     cifar10.describe_checkpoint (with
                                     their float type)

 checkpoint = latest_checkpoint(log_dir)    # newest model.ckpt-<step>
 name = model_in(checkpoint)                # 'mnist_deep', ..., 'vgg16'
 model = load_model(log_dir, model=None)    # any of them
 probabilities = model.predict(inputs)      # float32 [n, 10]
 model.close()

CIFAR-10 models take uint8 [n, 32, 32, 3] images and centre-crop and
standardize them in the graph (cifar10_input.crop_images, as cifar10_eval
does), with the moving averages of the weights restored.
"""

import tensorflow as tf

from cifar10 import cifar10
from cifar10 import cifar10_cli
from cifar10 import cifar10_input
from cifar10 import mixed_precision
from mnist import trained_models as mnist_models
from mnist.trained_models import latest_checkpoint
from mnist.trained_models import Model  # noqa: F401 (part of this API)
from mnist.trained_models import restore

tf1 = tf.compat.v1

MNIST_MODELS = mnist_models.MNIST_MODELS  # 28x28 grey digits.
CIFAR10_MODELS = cifar10_cli.MODELS  # 32x32 colour images.
MODELS = MNIST_MODELS + CIFAR10_MODELS
DEFAULT_DIRS = dict(mnist_models.DEFAULT_DIRS,  # Where each trainer writes.
                    cifar10=cifar10_cli.tmp_dir('cifar10_train'),
                    vgg16=cifar10_cli.tmp_dir('cifar10_train'))


def model_in(checkpoint):
  """Which model a checkpoint holds.

  Args:
    checkpoint: a checkpoint path prefix.

  Returns:
    One of MODELS.

  Raises:
    ValueError: the checkpoint cannot be read or holds none of them.
  """
  found = mnist_models.mnist_model(mnist_models.checkpoint_shapes(checkpoint))
  if found:
    return found
  try:
    return cifar10.describe_checkpoint(checkpoint)[0]
  except ValueError:
    raise ValueError('%s holds none of the models %s' % (
        checkpoint, ', '.join(MODELS))) from None


def _cifar10_graph(name, use_fp16, mode):
  """A build() for restore(): a CIFAR-10 model on uint8 32x32 images."""

  def build():
    images = tf1.placeholder(tf.uint8, [None, 32, 32, 3], name='images')
    crops = cifar10_input.crop_images(images)
    if use_fp16:
      crops = tf.cast(crops, tf.float16)
    crops = mixed_precision.model_images(crops, mode)
    return images, cifar10.inference(crops, name)

  def averages():
    # cifar10_eval's choice: the moving averages score better than the
    # last, noisier raw weights.
    return cifar10.variable_averages().variables_to_restore()
  return build, averages


def load_model(path, model=None, mode='float32'):
  """Restores the newest checkpoint of a folder for inference.

  Args:
    path: a trainer's log or train dir, or a checkpoint path prefix.
    model: one of MODELS to insist on, or None for whichever it holds
      ('cifar10' and 'vgg16' are told apart too).
    mode: the arithmetic, as mixed_precision.choose() gives it ('float32',
      'bfloat16' or 'float16').

  Returns:
    A Model (see the module docstring for its inputs).

  Raises:
    ValueError: no checkpoint, an unknown one, another model than `model`,
      or one that cannot be restored.
  """
  checkpoint = latest_checkpoint(path)
  found = model_in(checkpoint)
  mnist_models.check_model(checkpoint, found, model)
  if found in MNIST_MODELS:  # mnist's graphs: bfloat16 by the rewrite.
    return mnist_models.load_model(checkpoint, found,
                                   mixed_precision.session_config(
                                       mode, written=False))
  use_fp16 = cifar10.describe_checkpoint(checkpoint)[1]
  build, averages = _cifar10_graph(found, use_fp16, mode)
  return restore(build, found, checkpoint, averages,
                 mixed_precision.session_config(mode))
