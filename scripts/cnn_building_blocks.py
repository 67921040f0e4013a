"""The CNN lab's building blocks, each computed twice: TensorFlow and NumPy.

Before the CIFAR-10 tutorial code, the lab teaches what a convolution
computes, padding and stride, pooling, softmax and one-hot labels. This
program shows each block on a small input: the TensorFlow op (eager mode)
next to a plain NumPy version written with loops, their shapes, and whether
they agree. Summary of the public functions:

 tf_out, np_out = conv2d_block(image, kernel, stride, padding)  # tf.nn.conv2d
 tf_out, np_out = pool_block(x, size, stride, mode)      # max / avg pool
 tf_out, np_out = softmax_block(logits)                  # tf.nn.softmax
 tf_out, np_out = one_hot_block(labels, depth)           # tf.one_hot
 n_out = output_size(n, k, stride, padding)  # VALID ceil((n-k+1)/s),
                                             # SAME ceil(n/s)
 before, after = same_padding(n, k, stride)  # the zeros SAME adds
 numpy_conv2d(...), numpy_pool(...), numpy_softmax(...), numpy_one_hot(...)

Usage (any of these; about 5 s, most of it importing TensorFlow):

  python scripts/cnn_building_blocks.py
  python scripts/cnn_building_blocks.py --only pooling
  python scripts/cnn_building_blocks.py --plot_dir /tmp/cnn_blocks  # PNGs

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
  # Run as `python cnn_building_blocks.py`: start from the repo root like the
  # other programs do (this one imports nothing from the project).
  sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # hide C++ notices

import numpy as np
import tensorflow as tf

PROG = 'cnn_building_blocks'
BLOCKS = ('convolution', 'stride_padding', 'pooling', 'softmax', 'one_hot')

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


def _rows(a):
  """A 2-D array as text lines: integers bare, other numbers to 3 places."""
  a = np.asarray(a)
  if np.allclose(a, np.round(a)):
    cells = [['%d' % round(v) for v in row] for row in a]
  else:
    cells = [['%.3f' % v for v in row] for row in a]
  width = max(len(c) for row in cells for c in row)
  return [' '.join(c.rjust(width) for c in row) for row in cells]


def _print_side_by_side(*columns):
  """Prints (title, array) columns next to each other, indented."""
  texts = [[title] + _rows(a) for title, a in columns]
  widths = [max(len(line) for line in text) + 3 for text in texts]
  for r in range(max(len(text) for text in texts)):
    line = ''.join((text[r] if r < len(text) else '').ljust(width)
                   for text, width in zip(texts, widths, strict=True))
    print('  ' + line.rstrip())


def _compare(tf_result, numpy_result, show=True):
  """Prints both conv results (if show) and whether they agree; returns it."""
  agree = bool(tf_result.shape == numpy_result.shape
               and np.allclose(tf_result, numpy_result, atol=1e-5))
  if show:
    _print_side_by_side(('tf.nn.conv2d %s' % (tf_result.shape,), tf_result),
                        ('numpy loops %s' % (numpy_result.shape,),
                         numpy_result))
  print('  agree (np.allclose): %s' % agree)
  return agree


def _top_left_sum(kernel):
  """'a+b+...= total': the products behind the classic top-left output."""
  k = kernel.shape[0]
  products = (CLASSIC_IMAGE[:k, :k] * kernel).ravel()
  return '%s = %d' % ('+'.join(str(p) for p in products), products.sum())


def _walk_convolution():
  """Prints the block; returns (agreements, figure data)."""
  print('== 1. Convolution: what one output number is ==')
  print('Slide the kernel over the image; at each place multiply the numbers')
  print('under it by the kernel, element by element, and add them up.')
  agreements, outputs = [], {}
  for name, kernel in KERNELS.items():
    print()
    _print_side_by_side(('image %s' % (CLASSIC_IMAGE.shape,), CLASSIC_IMAGE),
                        ("kernel '%s' %s" % (name, kernel.shape), kernel))
    print("top-left window (rows 0-2, columns 0-2) times kernel '%s', "
          'summed:' % name)
    print('top-left output = %s' % _top_left_sum(kernel))
    tf_result, numpy_result = conv2d_block(CLASSIC_IMAGE, kernel, 1, 'VALID')
    print('All 3x3 windows (VALID, stride 1):')
    agreements.append(_compare(tf_result, numpy_result))
    outputs[name] = tf_result
  print()
  print('Several channels and filters: each filter spans all input channels')
  print('and gives one output channel.')
  rng = np.random.default_rng(0)
  image, kernel = rng.normal(size=(8, 8, 3)), rng.normal(size=(3, 3, 3, 4))
  tf_result, numpy_result = conv2d_block(image, kernel, 1, 'SAME')
  print('  image (8, 8, 3), kernel (3, 3, 3, 4) -> tf %s, numpy %s'
        % (tf_result.shape, numpy_result.shape))
  print('  max |tf - numpy| = %.1e (float32 against float64)'
        % np.abs(tf_result - numpy_result).max())
  agreements.append(_compare(tf_result, numpy_result, show=False))
  return agreements, outputs


def _walk_stride_padding():
  """Prints the block; returns (agreements, figure data)."""
  print('== 2. Padding and stride ==')
  print('Output size for an n x n input, k x k kernel and stride s:')
  print('  VALID (no padding):   ceil((n - k + 1) / s)')
  print('  SAME (zero padding):  ceil(n / s), with max((out - 1) * s + k - n, '
        '0) zeros')
  print('  per axis, half before (rounded down) and the rest after.')
  print('    n   k  padding  stride  output  zeros (before, after)')
  for n, k in ((5, 3), (32, 5), (24, 5)):
    for padding in ('VALID', 'SAME'):
      for stride in (1, 2, 3):
        zeros = (same_padding(n, k, stride) if padding == 'SAME' else '-')
        print('  %3d %3d  %-7s  %6d  %6d  %s' % (
            n, k, padding, stride, output_size(n, k, stride, padding), zeros))
  print()
  print('The input and the kernels:')
  _print_side_by_side(('image %s' % (CLASSIC_IMAGE.shape,), CLASSIC_IMAGE),
                      *[("kernel '%s' %s" % (name, kernel.shape), kernel)
                        for name, kernel in KERNELS.items()])
  agreements, outputs = [], {}
  for name, kernel in KERNELS.items():
    for padding in ('VALID', 'SAME'):
      for stride in (1, 2, 3):
        size = output_size(5, 3, stride, padding)
        if padding == 'VALID':
          rule = 'ceil((5 - 3 + 1) / %d) = %d' % (stride, size)
        else:
          before, after = same_padding(5, 3, stride)
          rule = 'ceil(5 / %d) = %d, zeros %d before, %d after' % (
              stride, size, before, after)
        print()
        print("-- kernel '%s', %s, stride %d: %s" % (name, padding, stride,
                                                     rule))
        tf_result, numpy_result = conv2d_block(CLASSIC_IMAGE, kernel, stride,
                                               padding)
        if padding == 'SAME':
          padded = np.pad(CLASSIC_IMAGE, [same_padding(5, 3, stride)] * 2)
          _print_side_by_side(
              ('zero-padded input %s' % (padded.shape,), padded),
              ('tf.nn.conv2d %s' % (tf_result.shape,), tf_result),
              ('numpy loops %s' % (numpy_result.shape,), numpy_result))
          agreements.append(_compare(tf_result, numpy_result, show=False))
        else:
          agreements.append(_compare(tf_result, numpy_result))
        outputs[name, padding, stride] = tf_result
  return agreements, outputs


def _walk_pooling():
  """Prints the block; returns (agreements, figure data)."""
  print('== 3. Pooling: 2x2 windows, stride 2 ==')
  print('Each output is the max (or mean) of one 2x2 window; the windows do')
  print('not overlap, so a 4x4 input gives 2x2 (ceil((4 - 2 + 1) / 2) = 2).')
  window = POOL_INPUT[:2, :2].ravel()
  print('top-left max = max(%s) = %d' % (', '.join(map(str, window)),
                                         window.max()))
  print('top-left mean = (%s) / 4 = %g' % ('+'.join(map(str, window)),
                                          window.mean()))
  agreements, outputs = [], {}
  for mode, op in (('max', 'tf.nn.max_pool2d'), ('mean', 'tf.nn.avg_pool2d')):
    tf_result, numpy_result = pool_block(POOL_INPUT, 2, 2, mode)
    print()
    _print_side_by_side(('input %s' % (POOL_INPUT.shape,), POOL_INPUT),
                        ('%s %s' % (op, tf_result.shape), tf_result),
                        ('numpy %s %s' % (mode, numpy_result.shape),
                         numpy_result))
    agreements.append(_compare(tf_result, numpy_result, show=False))
    outputs[mode] = tf_result
  return agreements, outputs


def _vector(v, fmt='%.3f'):
  """[a b c] with every number in fmt."""
  return '[%s]' % ' '.join(fmt % x for x in v)


def _walk_softmax():
  """Prints the block; returns (agreements, figure data)."""
  print('== 4. Softmax: scores to probabilities ==')
  print('softmax(z)_i = exp(z_i) / sum_j exp(z_j): positive, sums to 1.')
  agreements, results = [], []
  for logits in (SMALL_LOGITS, LARGE_LOGITS):
    tf_result, numpy_result = softmax_block(logits)
    print()
    print('logits %s' % _vector(logits, '%g'))
    if logits is LARGE_LOGITS:
      with np.errstate(over='ignore', invalid='ignore'):
        naive = np.exp(logits) / np.exp(logits).sum()
      print('  naive exp(z) / sum(exp(z)): %s (exp(1000) overflows)' % naive)
      print('  numpy subtracts max(z) first; tf.nn.softmax is stable too.')
    print('  tf.nn.softmax %s  sum %.6f' % (_vector(tf_result),
                                            tf_result.sum()))
    print('  numpy         %s  sum %.6f' % (_vector(numpy_result),
                                            numpy_result.sum()))
    agreements.append(_compare(tf_result, numpy_result, show=False))
    results.append(tf_result)
  return agreements, results[0]


def _walk_one_hot():
  """Prints the block; returns (agreements, figure data)."""
  print('== 5. One-hot labels ==')
  print('Six vehicle classes, like the lab slides (the names here are only')
  print('illustrative). Label i becomes a vector of zeros with a 1 at i.')
  print('  ' + '  '.join('%d %s' % c for c in enumerate(VEHICLE_CLASSES)))
  tf_result, numpy_result = one_hot_block(ONE_HOT_LABELS, len(VEHICLE_CLASSES))
  print('  label  class        tf.one_hot      numpy')
  rows = zip(ONE_HOT_LABELS, tf_result, numpy_result, strict=True)
  for label, t, n in rows:
    print('  %5d  %-11s  %s  %s' % (label, VEHICLE_CLASSES[label],
                                    t.astype(int), n.astype(int)))
  print('  shape: tf %s, numpy %s' % (tf_result.shape, numpy_result.shape))
  return [_compare(tf_result, numpy_result, show=False)], tf_result


def _heatmap(ax, a, title, box=None):
  """Draws a with its numbers in the cells; box=(row, col, size) outlines."""
  a = np.asarray(a, dtype=float)
  low, high = min(a.min(), 0), max(a.max(), 1)  # 0 is always white.
  ax.imshow(a, cmap='Blues', vmin=low, vmax=high)
  for (i, j), v in np.ndenumerate(a):
    text = '%d' % v if v == round(v) else '%.2f' % v
    ax.text(j, i, text, ha='center', va='center', fontsize=9,
            color='white' if v > (low + high) / 2 else 'black')
  if box:
    r, c, s = box
    top, left, bottom, right = r - 0.5, c - 0.5, r + s - 0.5, c + s - 0.5
    ax.plot([left, right, right, left, left],
            [top, top, bottom, bottom, top], color='red', linewidth=2)
  ax.set_title(title, fontsize=9)
  ax.set_xticks([])
  ax.set_yticks([])


def _figure(plt, name, data, path):
  """Draws block `name` from its figure data and writes it to path."""
  if name == 'convolution':
    fig, axes = plt.subplots(2, 3, figsize=(9, 6))
    for row, (kname, kernel) in zip(axes, KERNELS.items(), strict=True):
      _heatmap(row[0], CLASSIC_IMAGE, 'image', (0, 0, 3))
      _heatmap(row[1], kernel, "kernel '%s'" % kname)
      _heatmap(row[2], data[kname], 'VALID output', (0, 0, 1))
  elif name == 'stride_padding':
    fig, axes = plt.subplots(2, 4, figsize=(12, 6))
    _heatmap(axes[0, 0], CLASSIC_IMAGE, 'input (VALID)')
    _heatmap(axes[1, 0], np.pad(CLASSIC_IMAGE, 1), 'zero-padded (SAME, s=1)')
    for r, padding in enumerate(('VALID', 'SAME')):
      for stride in (1, 2, 3):
        _heatmap(axes[r, stride], data['ones', padding, stride],
                 "'ones' %s stride %d" % (padding, stride))
  elif name == 'pooling':
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.4))
    _heatmap(axes[0], POOL_INPUT, 'input', (0, 0, 2))
    _heatmap(axes[1], data['max'], 'max pool 2x2/2', (0, 0, 1))
    _heatmap(axes[2], data['mean'], 'mean pool 2x2/2', (0, 0, 1))
  elif name == 'softmax':
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
    for ax, values, title in ((axes[0], SMALL_LOGITS, 'logits'),
                              (axes[1], data, 'softmax (sums to 1)')):
      bars = ax.bar(['class %d' % i for i in range(len(values))], values)
      ax.bar_label(bars, fmt='%.3f')
      ax.margins(y=0.15)  # Room for the labels above the tallest bar.
      ax.set_title(title)
  else:
    fig, ax = plt.subplots(figsize=(7, 4))
    _heatmap(ax, data, 'tf.one_hot(labels, 6)')
    ax.set_xticks(range(len(VEHICLE_CLASSES)), VEHICLE_CLASSES, rotation=30)
    ax.set_yticks(range(len(ONE_HOT_LABELS)),
                  ['label %d' % label for label in ONE_HOT_LABELS])
  fig.tight_layout()
  try:
    fig.savefig(path, dpi=80)
  except OSError as e:
    sys.exit('%s: error: cannot write %s: %s' % (PROG, path, e.strerror or e))
  plt.close(fig)
  print('wrote %s' % path)


def _pyplot():
  """matplotlib.pyplot on the file-only Agg backend, or exit with a hint."""
  try:
    import matplotlib
    matplotlib.use('Agg')  # No display needed: figures go to files.
    import matplotlib.pyplot as plt
  except ImportError:
    sys.exit("%s: error: --plot_dir needs matplotlib: pip install -e "
             "'.[plot]'" % PROG)
  return plt


def main(argv=None):
  """Parses flags, walks through the blocks; returns the exit status."""
  parser = argparse.ArgumentParser(
      prog=PROG, allow_abbrev=False,  # A misspelled flag is an error.
      description='The CNN lab building blocks in TensorFlow and NumPy.')
  parser.add_argument('--only', choices=BLOCKS,
                      help='Show only this block (default: all).')
  parser.add_argument('--plot_dir',
                      help='Also write one PNG figure per block here '
                           '(needs matplotlib).')
  args = parser.parse_args(argv)
  tf.get_logger().setLevel('ERROR')
  plt = None
  if args.plot_dir:
    plt = _pyplot()
    try:
      os.makedirs(args.plot_dir, exist_ok=True)
    except OSError as e:
      sys.exit('%s: error: cannot create --plot_dir %s: %s'
               % (PROG, args.plot_dir, e.strerror or e))
  walks = {'convolution': _walk_convolution,
           'stride_padding': _walk_stride_padding, 'pooling': _walk_pooling,
           'softmax': _walk_softmax, 'one_hot': _walk_one_hot}
  failed = []
  for name in [args.only] if args.only else BLOCKS:
    agreements, data = walks[name]()
    if not all(agreements):
      failed.append(name)
    if plt:
      _figure(plt, name, data, os.path.join(args.plot_dir, name + '.png'))
    print()
  if failed:
    print('%s: error: TensorFlow and NumPy disagree in: %s'
          % (PROG, ', '.join(failed)), file=sys.stderr)
    return 1
  print('TensorFlow and NumPy agree on every block shown.')
  return 0


if __name__ == '__main__':
  sys.exit(main())
