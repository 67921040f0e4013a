"""The CNN lab's building blocks, each computed twice: TensorFlow and NumPy.

Before the CIFAR-10 tutorial code, the lab teaches what a convolution
computes, padding and stride, pooling, softmax and one-hot labels. This
program shows each block on a small input: the TensorFlow op (eager mode)
next to a plain NumPy version written with loops, their shapes, and whether
they agree (the printing and the figures are in cnn_building_blocks_plot.py).
Summary of the public functions:

 tf_out, np_out = conv2d_block(image, kernel, stride, padding)  # tf.nn.conv2d
 tf_out, np_out = pool_block(x, size, stride, mode)      # max / avg pool
 tf_out, np_out = softmax_block(logits)                  # tf.nn.softmax
 tf_out, np_out = one_hot_block(labels, depth)           # tf.one_hot
 n_out = output_size(n, k, stride, padding)  # VALID ceil((n-k+1)/s),
                                             # SAME ceil(n/s)
 before, after = same_padding(n, k, stride)  # the zeros SAME adds
 numpy_conv2d(...), numpy_pool(...), numpy_softmax(...), numpy_one_hot(...)

Usage (any of these; about 5 s, most of it importing TensorFlow):

  cnn_building_blocks                           # the installed command
  cnn_building_blocks --only pooling
  cnn_building_blocks --plot_dir /tmp/cnn_blocks  # also PNG figures
  python cifar10/cnn_building_blocks.py         # from a checkout

Blocks: convolution, stride_padding, pooling, softmax, one_hot. Figures need
matplotlib (`pip install -e '.[plot]'`). The exit status is 1 if TensorFlow
and NumPy ever disagree. Output excerpt:

  top-left window (rows 0-2, columns 0-2) times kernel 'ones', summed:
  top-left output = 1+1+1+0+1+1+0+0+1 = 6
  ...
  -- kernel 'ones', SAME, stride 3: ceil(5 / 3) = 2, zeros 0 before, 1 after
    zero-padded input (6, 6)   tf.nn.conv2d (2, 2)   numpy loops (2, 2)
    1 1 1 0 0 0                6 3                   6 3
    ...
    agree (np.allclose): True
"""

import argparse
import math
import os
import sys

if __name__ == '__main__' and not __package__:
  # Run as a file in cifar10/ (`python prog.py`, or `%run prog.py` in a
  # kernel), where cifar10.py would shadow the package: the folder above first.
  _HERE = os.path.dirname(os.path.abspath(__file__))
  if sys.path[0] == _HERE:  # Python (and %run) put this folder first.
    del sys.path[0]
  if sys.path[0] != os.path.dirname(_HERE):
    sys.path.insert(0, os.path.dirname(_HERE))
from cifar10 import cifar10_cli

PROG = 'cnn_building_blocks'
BLOCKS = ('convolution', 'stride_padding', 'pooling', 'softmax', 'one_hot')


def _parser():
  parser = argparse.ArgumentParser(
      prog=PROG, allow_abbrev=False,  # A misspelled flag is an error.
      description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--only', choices=BLOCKS,
                      help='Show only this block (default: all).')
  parser.add_argument('--plot_dir',
                      help='Also write one PNG figure per block here '
                           '(needs matplotlib).')
  return parser


# Before TensorFlow loads: Ctrl-C, --help and bad flags answered at once.
cifar10_cli.start_program(__name__, PROG, lambda: _parser().parse_args())

import numpy as np
import tensorflow as tf

from cifar10 import cnn_building_blocks_plot as show


# The classic 5x5 example of 0s and 1s that convolution lessons start from.
CLASSIC_IMAGE = np.array([[1, 1, 1, 0, 0],
                          [0, 1, 1, 1, 0],
                          [0, 0, 1, 1, 1],
                          [0, 0, 1, 1, 0],
                          [0, 1, 1, 0, 0]])
KERNELS = {  # The two 3x3 kernels shown on the classic example.
    'ones': np.ones((3, 3), dtype=int),
    'x': np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]]),
}
POOL_INPUT = np.array([[1, 1, 2, 4],  # Hand-made 4x4: each 2x2 window has
                       [5, 6, 7, 8],  # a different maximum and mean.
                       [3, 2, 1, 0],
                       [1, 2, 3, 4]])
SMALL_LOGITS = [2.0, 1.0, 0.1]  # Three class scores.
LARGE_LOGITS = [1000.0, 1001.0, 1002.0]  # exp() of these overflows float64.
# Illustrative only: the lab's slides used six vehicle classes that we do not
# have; these are six vehicle names (four of them CIFAR-10 classes).
VEHICLE_CLASSES = ('airplane', 'automobile', 'ship', 'truck', 'bicycle',
                   'motorcycle')
ONE_HOT_LABELS = [3, 0, 5, 1, 4, 2]  # A batch of six example labels.


def _as_hwc(image):
  """[H, W] or [H, W, C] -> float64 [H, W, C]."""
  x = np.asarray(image, dtype=np.float64)
  if x.ndim == 2:
    x = x[:, :, np.newaxis]
  if x.ndim != 3:
    raise ValueError('image must be [H, W] or [H, W, C], got shape %s'
                     % (x.shape,))
  return x


def _as_filters(kernel, channels):
  """[k, k] or [k, k, C_in, C_out] -> float64 [k, k, C_in, C_out]."""
  w = np.asarray(kernel, dtype=np.float64)
  if w.ndim == 2:
    w = w[:, :, np.newaxis, np.newaxis]
  if w.ndim != 4 or w.shape[2] != channels:
    raise ValueError('kernel must be [k, k] or [k, k, %d, filters], got '
                     'shape %s' % (channels, w.shape))
  return w


def output_size(n, k, stride, padding):
  """Output length along one axis of a convolution or pooling window.

  Args:
    n: input length (height or width).
    k: window (kernel) length.
    stride: step between windows, >= 1.
    padding: 'VALID' (no padding) or 'SAME' (zero padding).

  Returns:
    ceil((n - k + 1) / stride) for VALID, ceil(n / stride) for SAME.

  Raises:
    ValueError: unknown padding, stride < 1, or a VALID window longer than n.
  """
  if stride < 1:
    raise ValueError('stride must be >= 1, got %r' % (stride,))
  if padding == 'VALID':
    if k > n:
      raise ValueError('VALID window %d is longer than the input %d' % (k, n))
    return math.ceil((n - k + 1) / stride)
  if padding == 'SAME':
    return math.ceil(n / stride)
  raise ValueError("padding must be 'VALID' or 'SAME', got %r" % (padding,))


def same_padding(n, k, stride):
  """Zeros that SAME padding adds before and after one axis.

  Args:
    n: input length. k: window length. stride: step between windows.

  Returns:
    (before, after): the total is just enough for ceil(n / stride) windows;
    TensorFlow puts the odd zero after (bottom / right).
  """
  total = max((output_size(n, k, stride, 'SAME') - 1) * stride + k - n, 0)
  return total // 2, total - total // 2


def numpy_conv2d(image, kernel, stride, padding):
  """A convolution by hand: slide the kernel, multiply, sum.

  Like tf.nn.conv2d (and the lab) this does not flip the kernel, i.e. it is
  what mathematicians call cross-correlation.

  Args:
    image: [H, W] or [H, W, C_in].
    kernel: [k, k] (with a 2-D image) or [k, k, C_in, C_out].
    stride: the same step along rows and columns.
    padding: 'VALID' or 'SAME'.

  Returns:
    float64 [H', W'] for a 2-D image and kernel, else [H', W', C_out].

  Raises:
    ValueError: bad shapes, stride or padding.
  """
  x = _as_hwc(image)
  w = _as_filters(kernel, x.shape[2])
  kh, kw = w.shape[0], w.shape[1]
  out_h = output_size(x.shape[0], kh, stride, padding)
  out_w = output_size(x.shape[1], kw, stride, padding)
  if padding == 'SAME':
    x = np.pad(x, [same_padding(x.shape[0], kh, stride),
                   same_padding(x.shape[1], kw, stride), (0, 0)])
  out = np.zeros((out_h, out_w, w.shape[3]))
  for i in range(out_h):
    for j in range(out_w):
      window = x[i * stride:i * stride + kh, j * stride:j * stride + kw, :]
      for f in range(w.shape[3]):
        # One number: every channel of the window times filter f, summed.
        out[i, j, f] = np.sum(window * w[:, :, :, f])
  return out[:, :, 0] if np.ndim(kernel) == 2 else out


def conv2d_block(image, kernel, stride, padding):
  """tf.nn.conv2d and numpy_conv2d on the same input (arguments as there).

  Returns:
    (tf_result, numpy_result), NumPy arrays of the same shape.
  """
  x = _as_hwc(image)
  w = _as_filters(kernel, x.shape[2])
  y = tf.nn.conv2d(x[np.newaxis].astype(np.float32), w.astype(np.float32),
                   strides=stride, padding=padding).numpy()[0]
  tf_result = y[:, :, 0] if np.ndim(kernel) == 2 else y
  return tf_result, numpy_conv2d(image, kernel, stride, padding)


def numpy_pool(x, size, stride, mode):
  """Pooling by hand (no padding): the max or mean of each window.

  Args:
    x: [H, W] or [H, W, C]; each channel is pooled on its own.
    size: window length. stride: step between windows.
    mode: 'max' or 'mean'.

  Returns:
    float64 [H', W'] or [H', W', C].

  Raises:
    ValueError: unknown mode or a window larger than x.
  """
  if mode not in ('max', 'mean'):
    raise ValueError("mode must be 'max' or 'mean', got %r" % (mode,))
  a = _as_hwc(x)
  out_h = output_size(a.shape[0], size, stride, 'VALID')
  out_w = output_size(a.shape[1], size, stride, 'VALID')
  out = np.zeros((out_h, out_w, a.shape[2]))
  for i in range(out_h):
    for j in range(out_w):
      window = a[i * stride:i * stride + size, j * stride:j * stride + size]
      if mode == 'max':
        out[i, j] = window.max(axis=(0, 1))
      else:
        out[i, j] = window.mean(axis=(0, 1))
  return out[:, :, 0] if np.ndim(x) == 2 else out


def pool_block(x, size=2, stride=2, mode='max'):
  """tf.nn.max_pool2d / avg_pool2d and numpy_pool (arguments as there).

  Returns:
    (tf_result, numpy_result).
  """
  numpy_result = numpy_pool(x, size, stride, mode)
  op = tf.nn.max_pool2d if mode == 'max' else tf.nn.avg_pool2d
  y = op(_as_hwc(x)[np.newaxis].astype(np.float32), ksize=size,
         strides=stride, padding='VALID').numpy()[0]
  return (y[:, :, 0] if np.ndim(x) == 2 else y), numpy_result


def numpy_softmax(logits):
  """exp(z_i) / sum_j exp(z_j) along the last axis, without overflow.

  Subtracting max(z) first changes nothing mathematically (the factor
  exp(-max) cancels) but keeps exp() <= 1, so logits like 1000 work.

  Args:
    logits: [..., classes] scores.

  Returns:
    float64 probabilities of the same shape; each row sums to 1.
  """
  z = np.asarray(logits, dtype=np.float64)
  e = np.exp(z - z.max(axis=-1, keepdims=True))
  return e / e.sum(axis=-1, keepdims=True)


def softmax_block(logits):
  """tf.nn.softmax and numpy_softmax. Returns (tf_result, numpy_result)."""
  tf_result = tf.nn.softmax(np.asarray(logits, dtype=np.float32)).numpy()
  return tf_result, numpy_softmax(logits)


def numpy_one_hot(labels, depth):
  """A row of zeros with a 1 at each label's index.

  Args:
    labels: integer class indices.
    depth: number of classes. As in tf.one_hot, a label outside
      [0, depth) gives an all-zero row.

  Returns:
    float64 [len(labels), depth].
  """
  out = np.zeros((len(labels), depth))
  for row, label in enumerate(labels):
    if 0 <= label < depth:
      out[row, label] = 1.0
  return out


def one_hot_block(labels, depth):
  """tf.one_hot and numpy_one_hot. Returns (tf_result, numpy_result)."""
  return (tf.one_hot(labels, depth).numpy(),
          numpy_one_hot(list(labels), depth))


def main(argv=None):
  """Parses flags, walks through the blocks; returns the exit status."""
  parser = _parser()
  args = parser.parse_args(argv)
  tf.get_logger().setLevel('ERROR')
  plt = None
  if args.plot_dir:
    plt = show.pyplot(PROG)
    try:
      os.makedirs(args.plot_dir, exist_ok=True)
    except OSError as e:
      sys.exit('%s: error: cannot create --plot_dir %s: %s'
               % (PROG, args.plot_dir, e.strerror or e))
  # The walks compute with this very module (see cnn_building_blocks_plot).
  this = sys.modules[__name__]
  failed = []
  for name in [args.only] if args.only else BLOCKS:
    agreements, data = show.WALKS[name](this)
    if not all(agreements):
      failed.append(name)
    if plt:
      show.draw(plt, name, data, os.path.join(args.plot_dir, name + '.png'),
                this)
    print()
  if failed:
    print('%s: error: TensorFlow and NumPy disagree in: %s'
          % (PROG, ', '.join(failed)), file=sys.stderr)
    return 1
  print('TensorFlow and NumPy agree on every block shown.')
  return 0


def run():
  """Entry point of the cnn_building_blocks console script."""
  cifar10_cli.run_plain(main, PROG)


if __name__ == '__main__':
  run()
