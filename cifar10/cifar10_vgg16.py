"""VGG-16 for CIFAR-10: the CNN lab's "typical CNN" on the tutorial programs.

Summary of available functions:

 # The logits of VGG-16 (configuration D of Simonyan and Zisserman, 2014)
 # for the tutorial's 24x24 crops; cifar10.inference(images, 'vgg16') and
 # the programs' --model vgg16 call it.
 logits = inference(images)

 # Everything else is the tutorial's own: cifar10.distorted_inputs(),
 # cifar10.loss(), cifar10.train(), the checkpoints and the summaries.
 python cifar10_train.py --model vgg16 --max_steps 2000
 python cifar10_eval.py --run_once       # reads the model from the checkpoint

Five stacks of 3x3 SAME convolutions with ReLU, each followed by 2x2 max
pooling with stride 2 (SAME, so an odd side rounds up: 24 -> 12 -> 6 -> 3 ->
2 -> 1), then a fully connected head. Variable scopes carry the layer names
(conv1_1 .. conv5_3, fc6, fc7, softmax_linear), as in the VGG papers and in
TensorBoard.

 stage           layers               output      parameters
 conv1 + pool1   2 x 3x3 conv, 64     12x12x64        38,720
 conv2 + pool2   2 x 3x3 conv, 128    6x6x128        221,440
 conv3 + pool3   3 x 3x3 conv, 256    3x3x256      1,475,328
 conv4 + pool4   3 x 3x3 conv, 512    2x2x512      5,899,776
 conv5 + pool5   3 x 3x3 conv, 512    1x1x512      7,079,424
 fc6             512 -> 512, ReLU     512            262,656
 fc7             512 -> 512, ReLU     512            262,656
 softmax_linear  512 -> 10, linear    10               5,130
 total                                            15,245,130

The head is 512-512-10, as in the common CIFAR variants of VGG: after five
poolings a 24x24 crop is a single 1x1x512 position, and ImageNet's
4096-4096-1000 head on 7x7x512 would alone hold 124M of VGG-16's 138M
parameters for ten classes. Forward, one image costs 0.19 G multiply-adds
(the tutorial's model: 0.02 G), so VGG-16 trains about ten times slower.

Differences from the ImageNet recipe, and why:
- He initialization (stddev sqrt(2 / fan_in)) instead of the paper's
  staged training from shallower nets: with it the 16 layers train from
  scratch without batch normalization.
- No dropout: inference() has no training switch (cifar10_eval builds the
  same function), and the tutorial's model has none either; the random
  crops, flips and colour distortions and the weight decay regularize.
- Weight decay 5e-4 on every weight matrix (as in the paper), none on the
  biases; the tutorial's model decays only its fully connected layers.
- Plain gradient descent, as in cifar10.train(), starting at
  INITIAL_LEARNING_RATE = 0.05 instead of 0.1: at 0.1 the net collapsed to
  chance (cross entropy stuck at ln 10 = 2.30) within 20 steps on CIFAR-10.
  0.05 is also the paper's effective step (0.01 with momentum 0.9 at batch
  256) scaled to batch 128. The decay schedule is the tutorial's.
"""

import math

import tensorflow as tf

from cifar10 import cifar10_input
from cifar10 import cifar10_layers

# (filters, convolution layers) of each stack; pooling follows each stack.
STACKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
FC_UNITS = 512  # Units in fc6 and fc7.
WEIGHT_DECAY = 5e-4  # L2 factor on every weight matrix (VGG paper).
INITIAL_LEARNING_RATE = 0.05  # cifar10.learning_rate()'s start for VGG-16.
NUM_PARAMETERS = 15245130  # Trainable parameters of inference().

# tf.compat.v1.truncated_normal_initializer cuts at two standard deviations,
# which leaves only 0.88 of the asked-for spread; dividing by this restores
# He's variance, which matters when 15 ReLU layers multiply the shortfall.
_TRUNCATED_STD = 0.87962566103423978


def _he_stddev(fan_in):
  """The stddev to ask for so the weights' variance is 2 / fan_in."""
  return math.sqrt(2.0 / fan_in) / _TRUNCATED_STD


def _conv3x3(x, name, filters):
  """A 3x3 SAME convolution with stride 1, bias and ReLU, in scope name."""
  channels = tf.compat.dimension_value(x.shape[-1])
  return cifar10_layers.conv(x, name, [3, 3, channels, filters],
                             stddev=_he_stddev(9 * channels),
                             wd=WEIGHT_DECAY, bias=0.0)


def inference(images):
  """Builds VGG-16 for CIFAR-10.

  Variables come from cifar10_layers (tf.compat.v1.get_variable on the
  CPU), so multi-GPU towers share them and the dtype follows the images
  (float16 with --use_fp16).

  Args:
    images: [batch, height, width, 3] images from cifar10.distorted_inputs()
      or cifar10.inputs() (24x24; any size whose pooled result is known
      when the graph is built works).

  Returns:
    Logits [batch, NUM_CLASSES] (unscaled: the loss applies the softmax).
  """
  x = images
  for stack, (filters, layers) in enumerate(STACKS, start=1):
    for layer in range(1, layers + 1):
      x = _conv3x3(x, 'conv%d_%d' % (stack, layer), filters)
    # SAME pooling keeps the odd row and column (3 -> 2 -> 1): VALID would
    # drop them and leave nothing after the fifth pooling.
    x = tf.nn.max_pool2d(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1],
                         padding='SAME', name='pool%d' % stack)
  # Flatten all but the batch dimension, which is smaller in the last
  # batch of an evaluation pass.
  dim = cifar10_layers.flat_size(x)
  x = tf.reshape(x, [-1, dim])
  x = cifar10_layers.local(x, 'fc6', [dim, FC_UNITS], _he_stddev(dim),
                           WEIGHT_DECAY, 0.0)
  x = cifar10_layers.local(x, 'fc7', [FC_UNITS, FC_UNITS],
                           _he_stddev(FC_UNITS), WEIGHT_DECAY, 0.0)
  # Variance 1 / fan_in, not the tutorial's tiny 1 / fan_in stddev: the
  # gradient reaching the 15 layers below passes through these weights, and
  # near-zero ones leave the deep net stuck at chance for hundreds of steps.
  return cifar10_layers.local(
      x, 'softmax_linear', [FC_UNITS, cifar10_input.NUM_CLASSES],
      math.sqrt(1.0 / FC_UNITS) / _TRUNCATED_STD, WEIGHT_DECAY, 0.0,
      relu=False)
