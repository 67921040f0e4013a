"""The plots of precision_vs_steps, and the event files they read.

Summary of available functions:

 plt = pyplot()                           # matplotlib on Agg, or None
 steps, values = read_losses(log_dir)     # a scalar from the event files
 plot_precision(rows, path)               # MNIST: three precisions
 plot_losses({max_steps: (steps, losses)}, path)
 plot_cifar10(rows, steps_png, time_png)  # CIFAR-10, published points too
"""

import glob
import os

SPLITS = ('train', 'validation', 'test')  # fully_connected_feed's evals.
# Where the original tutorial and the course lab put precision @ 1
# (historical: TensorFlow 0.x on GPUs, and the lab's 1000-step run).
PUBLISHED = ((1000, 0.610, 'course lab'), (100000, 0.86, 'tutorial, K40m'))
PUBLISHED_HOURS = ((4.0, 0.86, '100K steps, K40m'),
                   (5.0, 0.86, '60K steps, K20m'))
NO_MATPLOTLIB = ("the plots need matplotlib: pip install "
                 "'classic-tf-tutorials[plot]' (or pip install matplotlib)")


def pyplot():
  """matplotlib's pyplot drawing into files, or None if not installed."""
  try:
    import matplotlib
    matplotlib.use('Agg')  # Files only: no display needed.
    from matplotlib import pyplot as plt
  except ImportError:
    return None
  return plt


def read_losses(log_dir, tag='loss'):
  """Reads a scalar's summaries back from the event files in log_dir.

  Args:
    log_dir: a --log_dir or --train_dir.
    tag: the scalar ('loss' for fully_connected_feed).

  Returns:
    (steps, values): two lists in step order.
  """
  from tensorflow.compat.v1.train import summary_iterator
  values = {}
  for path in sorted(glob.glob(os.path.join(log_dir, 'events.out.tfevents.*'))):
    for event in summary_iterator(path):
      for value in event.summary.value:
        if value.tag == tag:
          values[event.step] = value.simple_value
  steps = sorted(values)
  return steps, [values[s] for s in steps]


def _figure(plt, title, xlabel):
  fig, ax = plt.subplots(figsize=(7, 4.5))
  ax.set_title(title)
  ax.set_xlabel(xlabel)
  ax.set_ylabel('precision @ 1')
  ax.grid(True, alpha=0.3)
  return fig, ax


def _save(plt, fig, ax, path):
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def _label_points(ax, xs, ys):
  for x, y in zip(xs, ys, strict=True):
    ax.annotate('%.3f' % y, (x, y), textcoords='offset points',
                xytext=(0, -16), ha='center', fontsize=8,
                bbox=dict(boxstyle='round,pad=0.15', fc='white', ec='none',
                          alpha=0.8))


def plot_precision(rows, path):
  """Plots MNIST's three precisions against max_steps into a PNG file."""
  plt = pyplot()
  steps = [row['max_steps'] for row in rows]
  fig, ax = _figure(plt, 'fully_connected_feed: does more steps give more '
                    'accuracy?', 'max_steps (batches of 100)')
  for split, marker in zip(SPLITS, 'os^', strict=True):
    ax.plot(steps, [row[split + '_precision'] for row in rows],
            marker=marker, label=split)
  _label_points(ax, steps, [row['test_precision'] for row in rows])
  ax.set_xticks(steps)
  _save(plt, fig, ax, path)


def plot_losses(curves, path):
  """Plots {max_steps: (steps, losses)} training-loss curves into a PNG."""
  plt = pyplot()
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for max_steps in sorted(curves, reverse=True):  # Longest run underneath.
    steps, losses = curves[max_steps]
    ax.plot(steps, losses, label='max_steps=%d' % max_steps)
  ax.set_xlabel('step')
  ax.set_ylabel('loss (cross entropy, one batch)')
  ax.set_title('fully_connected_feed: training loss (from the event files)')
  ax.grid(True, alpha=0.3)
  _save(plt, fig, ax, path)


def plot_cifar10(rows, steps_path, time_path):
  """Plots a CIFAR-10 curve against steps and against wall-clock minutes.

  The published points (PUBLISHED, PUBLISHED_HOURS) are marked on both.
  """
  plt = pyplot()
  steps = [row['steps'] for row in rows]
  precisions = [row['precision'] for row in rows]
  fig, ax = _figure(plt, 'cifar10_train: does more max_steps give more '
                    'precision?', 'steps (batches of 128; log scale)')
  ax.plot(steps, precisions, marker='o', label='this run (cifar10_eval)')
  _label_points(ax, steps, precisions)
  for x, y, name in PUBLISHED:
    ax.plot([x], [y], marker='*', markersize=12, linestyle='none',
            label='published: %s' % name)
  ax.set_xscale('log')
  _save(plt, fig, ax, steps_path)
  minutes = [row['wall_seconds'] / 60.0 for row in rows]
  fig, ax = _figure(plt, 'cifar10_train: precision against training time',
                    'training wall-clock minutes')
  ax.plot(minutes, precisions, marker='o', label='this run')
  _label_points(ax, minutes, precisions)
  for hours, y, name in PUBLISHED_HOURS:
    ax.plot([hours * 60], [y], marker='*', markersize=12, linestyle='none',
            label='published: %s (historical)' % name)
  _save(plt, fig, ax, time_path)
