"""How cifar10/cnn_building_blocks.py shows each block: printed and drawn.

cnn_building_blocks.py computes the blocks (TensorFlow and NumPy) and runs
the program; this module prints the walk-through of each block (what it
computes, both results side by side, whether they agree) and draws its
figure. Summary of the public functions:

 agreements, data = WALKS[name](blocks)  # prints one block, e.g. 'pooling'
 plt = pyplot(prog)                      # matplotlib on Agg, or exit
 draw(plt, name, data, path, blocks)     # that block's figure as a PNG

`blocks` is the cnn_building_blocks module, passed in rather than imported:
it is usually the running program (__main__), and importing it by name would
load a second copy (one that a test's replacement function would not reach).
"""

import sys

import numpy as np


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


def _top_left_sum(image, kernel):
  """'a+b+...= total': the products behind the top-left output."""
  k = kernel.shape[0]
  products = (image[:k, :k] * kernel).ravel()
  return '%s = %d' % ('+'.join(str(p) for p in products), products.sum())


def walk_convolution(blocks):
  """Prints the block; returns (agreements, figure data)."""
  image = blocks.CLASSIC_IMAGE
  print('== 1. Convolution: what one output number is ==')
  print('Slide the kernel over the image; at each place multiply the numbers')
  print('under it by the kernel, element by element, and add them up.')
  agreements, outputs = [], {}
  for name, kernel in blocks.KERNELS.items():
    print()
    _print_side_by_side(('image %s' % (image.shape,), image),
                        ("kernel '%s' %s" % (name, kernel.shape), kernel))
    print("top-left window (rows 0-2, columns 0-2) times kernel '%s', "
          'summed:' % name)
    print('top-left output = %s' % _top_left_sum(image, kernel))
    tf_result, numpy_result = blocks.conv2d_block(image, kernel, 1, 'VALID')
    print('All 3x3 windows (VALID, stride 1):')
    agreements.append(_compare(tf_result, numpy_result))
    outputs[name] = tf_result
  print()
  print('Several channels and filters: each filter spans all input channels')
  print('and gives one output channel.')
  rng = np.random.default_rng(0)
  image, kernel = rng.normal(size=(8, 8, 3)), rng.normal(size=(3, 3, 3, 4))
  tf_result, numpy_result = blocks.conv2d_block(image, kernel, 1, 'SAME')
  print('  image (8, 8, 3), kernel (3, 3, 3, 4) -> tf %s, numpy %s'
        % (tf_result.shape, numpy_result.shape))
  print('  max |tf - numpy| = %.1e (float32 against float64)'
        % np.abs(tf_result - numpy_result).max())
  agreements.append(_compare(tf_result, numpy_result, show=False))
  return agreements, outputs


def walk_stride_padding(blocks):
  """Prints the block; returns (agreements, figure data)."""
  output_size, same_padding = blocks.output_size, blocks.same_padding
  image = blocks.CLASSIC_IMAGE
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
  _print_side_by_side(('image %s' % (image.shape,), image),
                      *[("kernel '%s' %s" % (name, kernel.shape), kernel)
                        for name, kernel in blocks.KERNELS.items()])
  agreements, outputs = [], {}
  for name, kernel in blocks.KERNELS.items():
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
        tf_result, numpy_result = blocks.conv2d_block(image, kernel, stride,
                                                      padding)
        if padding == 'SAME':
          padded = np.pad(image, [same_padding(5, 3, stride)] * 2)
          _print_side_by_side(
              ('zero-padded input %s' % (padded.shape,), padded),
              ('tf.nn.conv2d %s' % (tf_result.shape,), tf_result),
              ('numpy loops %s' % (numpy_result.shape,), numpy_result))
          agreements.append(_compare(tf_result, numpy_result, show=False))
        else:
          agreements.append(_compare(tf_result, numpy_result))
        outputs[name, padding, stride] = tf_result
  return agreements, outputs


def walk_pooling(blocks):
  """Prints the block; returns (agreements, figure data)."""
  pool_input = blocks.POOL_INPUT
  print('== 3. Pooling: 2x2 windows, stride 2 ==')
  print('Each output is the max (or mean) of one 2x2 window; the windows do')
  print('not overlap, so a 4x4 input gives 2x2 (ceil((4 - 2 + 1) / 2) = 2).')
  window = pool_input[:2, :2].ravel()
  print('top-left max = max(%s) = %d' % (', '.join(map(str, window)),
                                         window.max()))
  print('top-left mean = (%s) / 4 = %g' % ('+'.join(map(str, window)),
                                          window.mean()))
  agreements, outputs = [], {}
  for mode, op in (('max', 'tf.nn.max_pool2d'), ('mean', 'tf.nn.avg_pool2d')):
    tf_result, numpy_result = blocks.pool_block(pool_input, 2, 2, mode)
    print()
    _print_side_by_side(('input %s' % (pool_input.shape,), pool_input),
                        ('%s %s' % (op, tf_result.shape), tf_result),
                        ('numpy %s %s' % (mode, numpy_result.shape),
                         numpy_result))
    agreements.append(_compare(tf_result, numpy_result, show=False))
    outputs[mode] = tf_result
  return agreements, outputs


def _vector(v, fmt='%.3f'):
  """[a b c] with every number in fmt."""
  return '[%s]' % ' '.join(fmt % x for x in v)


def walk_softmax(blocks):
  """Prints the block; returns (agreements, figure data)."""
  print('== 4. Softmax: scores to probabilities ==')
  print('softmax(z)_i = exp(z_i) / sum_j exp(z_j): positive, sums to 1.')
  agreements, results = [], []
  for logits in (blocks.SMALL_LOGITS, blocks.LARGE_LOGITS):
    tf_result, numpy_result = blocks.softmax_block(logits)
    print()
    print('logits %s' % _vector(logits, '%g'))
    if logits is blocks.LARGE_LOGITS:
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


def walk_one_hot(blocks):
  """Prints the block; returns (agreements, figure data)."""
  classes, labels = blocks.VEHICLE_CLASSES, blocks.ONE_HOT_LABELS
  print('== 5. One-hot labels ==')
  print('Six vehicle classes, like the lab slides (the names here are only')
  print('illustrative). Label i becomes a vector of zeros with a 1 at i.')
  print('  ' + '  '.join('%d %s' % c for c in enumerate(classes)))
  tf_result, numpy_result = blocks.one_hot_block(labels, len(classes))
  print('  label  class        tf.one_hot      numpy')
  for label, t, n in zip(labels, tf_result, numpy_result, strict=True):
    print('  %5d  %-11s  %s  %s' % (label, classes[label], t.astype(int),
                                    n.astype(int)))
  print('  shape: tf %s, numpy %s' % (tf_result.shape, numpy_result.shape))
  return [_compare(tf_result, numpy_result, show=False)], tf_result


WALKS = {'convolution': walk_convolution,  # Block name -> its walk-through.
         'stride_padding': walk_stride_padding, 'pooling': walk_pooling,
         'softmax': walk_softmax, 'one_hot': walk_one_hot}


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


def draw(plt, name, data, path, blocks):
  """Draws block `name` from its walk's figure data and writes it to path.

  Args:
    plt: matplotlib.pyplot (see pyplot()).
    name: a key of WALKS.
    data: the figure data that block's walk returned.
    path: the PNG to write.
    blocks: the cnn_building_blocks module (its example inputs).
  """
  image = blocks.CLASSIC_IMAGE
  if name == 'convolution':
    fig, axes = plt.subplots(2, 3, figsize=(9, 6))
    for row, (kname, kernel) in zip(axes, blocks.KERNELS.items(),
                                     strict=True):
      _heatmap(row[0], image, 'image', (0, 0, 3))
      _heatmap(row[1], kernel, "kernel '%s'" % kname)
      _heatmap(row[2], data[kname], 'VALID output', (0, 0, 1))
  elif name == 'stride_padding':
    fig, axes = plt.subplots(2, 4, figsize=(12, 6))
    _heatmap(axes[0, 0], image, 'input (VALID)')
    _heatmap(axes[1, 0], np.pad(image, 1), 'zero-padded (SAME, s=1)')
    for r, padding in enumerate(('VALID', 'SAME')):
      for stride in (1, 2, 3):
        _heatmap(axes[r, stride], data['ones', padding, stride],
                 "'ones' %s stride %d" % (padding, stride))
  elif name == 'pooling':
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.4))
    _heatmap(axes[0], blocks.POOL_INPUT, 'input', (0, 0, 2))
    _heatmap(axes[1], data['max'], 'max pool 2x2/2', (0, 0, 1))
    _heatmap(axes[2], data['mean'], 'mean pool 2x2/2', (0, 0, 1))
  elif name == 'softmax':
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
    for ax, values, title in ((axes[0], blocks.SMALL_LOGITS, 'logits'),
                              (axes[1], data, 'softmax (sums to 1)')):
      bars = ax.bar(['class %d' % i for i in range(len(values))], values)
      ax.bar_label(bars, fmt='%.3f')
      ax.margins(y=0.15)  # Room for the labels above the tallest bar.
      ax.set_title(title)
  else:
    fig, ax = plt.subplots(figsize=(7, 4))
    _heatmap(ax, data, 'tf.one_hot(labels, 6)')
    ax.set_xticks(range(len(blocks.VEHICLE_CLASSES)), blocks.VEHICLE_CLASSES,
                  rotation=30)
    ax.set_yticks(range(len(blocks.ONE_HOT_LABELS)),
                  ['label %d' % label for label in blocks.ONE_HOT_LABELS])
  fig.tight_layout()
  try:
    fig.savefig(path, dpi=80)
  except OSError as e:
    sys.exit('%s: error: cannot write %s: %s' % (blocks.PROG, path,
                                                 e.strerror or e))
  plt.close(fig)
  print('wrote %s' % path)


def pyplot(prog):
  """matplotlib.pyplot on the file-only Agg backend, or exit with a hint.

  Args:
    prog: the program's name, for the error message.
  """
  try:
    import matplotlib
    matplotlib.use('Agg')  # No display needed: figures go to files.
    import matplotlib.pyplot as plt
  except ImportError:
    sys.exit("%s: error: --plot_dir needs matplotlib: pip install -e "
             "'.[plot]'" % prog)
  return plt
