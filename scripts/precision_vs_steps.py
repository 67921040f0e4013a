"""Does training longer give a better model? The fully_connected_feed lab.

Trains fully_connected_feed from scratch once per step count and plots the
training, validation and test precision against max_steps, and the training
loss of every run (read back from its TensorBoard event files):

  python scripts/precision_vs_steps.py [--steps 1000 2000 5000 10000]
      [--input_data_dir DIR] [--output_dir DIR] [--fake_data]

Writes into --output_dir:
  precision_vs_steps.csv   max_steps, the three precisions, wall seconds
  precision_vs_steps.png   precision @ 1 against max_steps
  loss.png                 training loss against step, one line per run
  logs/steps_<N>/          each run's checkpoints and summaries, for
                           `tensorboard --logdir <output_dir>/logs`

Library use:

 rows = measure(steps, input_data_dir, output_dir)  # trains, returns rows
 write_csv(rows, path); plot_precision(rows, path)
 steps, losses = read_losses(log_dir)               # from the event files
 plot_losses({max_steps: (steps, losses)}, path)

The plots need matplotlib (the project's 'plot' extra).
"""

import argparse
import csv
import glob
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # This script lives beside the packages.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # hide C++ notices

try:
  import matplotlib
  matplotlib.use('Agg')  # Files only: no display needed.
  from matplotlib import pyplot as plt
except ImportError:
  plt = None
import tensorflow as tf

from mnist import fully_connected_feed
from mnist import input_data
from mnist import parse_flags

PROG = 'precision_vs_steps'
DEFAULT_STEPS = (1000, 2000, 5000, 10000)  # The lab's step counts.
SPLITS = ('train', 'validation', 'test')  # The three evaluations.
CSV_FIELDS = ('max_steps', 'train_precision', 'validation_precision',
              'test_precision', 'seconds')
NO_MATPLOTLIB = ("%s: error: the plots need matplotlib: pip install "
                 "'classic-tf-tutorials[plot]' (or pip install matplotlib)"
                 % PROG)


def measure(steps, input_data_dir, output_dir, fake_data=False):
  """Trains fully_connected_feed from scratch once per step count.

  Args:
    steps: the max_steps values, e.g. [1000, 2000, 5000, 10000].
    input_data_dir: folder of the MNIST files (fetched when missing).
    output_dir: each run writes its log_dir in output_dir/logs/steps_<N>.
    fake_data: train on fake data (a quick check of the script only).

  Returns:
    A list of dicts, one per run: max_steps, <split>_precision for the three
    splits, seconds (wall time of the run: data, graph, training, evals)
    and log_dir.
  """
  rows = []
  for max_steps in steps:
    log_dir = os.path.join(output_dir, 'logs', 'steps_%d' % max_steps)
    print('=== fully_connected_feed --max_steps=%d --log_dir=%s'
          % (max_steps, log_dir))
    start = time.time()
    fully_connected_feed.fresh_log_dir(log_dir)
    # Read afresh for every run: each must start from the same first epoch.
    data_sets = input_data.read_data_sets(input_data_dir, fake_data)
    results = fully_connected_feed.run_training(
        input_data_dir, log_dir, max_steps=max_steps, fake_data=fake_data,
        data_sets=data_sets)
    row = {'max_steps': max_steps, 'seconds': time.time() - start,
           'log_dir': log_dir}
    for split in SPLITS:
      row[split + '_precision'] = results[split]
    rows.append(row)
  return rows


def write_csv(rows, path):
  """Writes the rows of measure() as CSV with the CSV_FIELDS columns."""
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(CSV_FIELDS)
    for row in rows:
      writer.writerow([row['max_steps']] +
                      ['%.4f' % row[s + '_precision'] for s in SPLITS] +
                      ['%.1f' % row['seconds']])


def read_losses(log_dir):
  """Reads the `loss` summaries back from the event files in log_dir.

  Args:
    log_dir: a fully_connected_feed --log_dir.

  Returns:
    (steps, losses): two lists in step order.
  """
  losses = {}
  for path in sorted(glob.glob(os.path.join(log_dir, 'events.out.tfevents.*'))):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == 'loss':
          losses[event.step] = value.simple_value
  steps = sorted(losses)
  return steps, [losses[s] for s in steps]


def plot_precision(rows, path):
  """Plots the three precisions against max_steps into a PNG file."""
  steps = [row['max_steps'] for row in rows]
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for split, marker in zip(SPLITS, 'os^', strict=True):
    values = [row[split + '_precision'] for row in rows]
    ax.plot(steps, values, marker=marker, label=split)
  for row in rows:  # The number the lab asks about, on the plot.
    ax.annotate('%.4f' % row['test_precision'],
                (row['max_steps'], row['test_precision']),
                textcoords='offset points', xytext=(0, -16), ha='center',
                fontsize=8, bbox=dict(boxstyle='round,pad=0.15', fc='white',
                                      ec='none', alpha=0.8))
  ax.set_xlabel('max_steps (batches of 100)')
  ax.set_ylabel('precision @ 1')
  ax.set_title('fully_connected_feed: does more steps give more accuracy?')
  ax.set_xticks(steps)
  ax.grid(True, alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def plot_losses(curves, path):
  """Plots {max_steps: (steps, losses)} training-loss curves into a PNG."""
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for max_steps in sorted(curves, reverse=True):  # Longest run underneath.
    steps, losses = curves[max_steps]
    ax.plot(steps, losses, label='max_steps=%d' % max_steps)
  ax.set_xlabel('step')
  ax.set_ylabel('loss (cross entropy, one batch)')
  ax.set_title('fully_connected_feed: training loss (from the event files)')
  ax.grid(True, alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def _steps(text):
  value = int(text)
  if value < 1:
    raise argparse.ArgumentTypeError('must be at least 1, not %d' % value)
  return value


def main(argv=None):
  """The script: parses flags, trains, writes the CSV and the two plots."""
  parser = argparse.ArgumentParser(
      description=__doc__.split('\n')[0], allow_abbrev=False,
      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  parser.add_argument('--steps', type=_steps, nargs='+',
                      default=list(DEFAULT_STEPS),
                      help='The max_steps of each run.')
  parser.add_argument('--input_data_dir', default=os.path.join(
      os.getenv('TEST_TMPDIR', '/tmp'), 'tensorflow/mnist/input_data'),
                      help='Directory of the MNIST files.')
  parser.add_argument('--output_dir', default=os.path.join(
      os.getenv('TEST_TMPDIR', '/tmp'),
      'tensorflow/mnist/precision_vs_steps'),
                      help='Where the CSV, the plots and the logs go.')
  parser.add_argument('--fake_data', action='store_true',
                      help='Use fake data (checks the script, no files).')
  flags = parse_flags(parser, argv)
  if plt is None:  # Say so now, not after an hour of training.
    sys.exit(NO_MATPLOTLIB)
  tf.get_logger().setLevel('ERROR')
  try:
    os.makedirs(flags.output_dir, exist_ok=True)
    rows = measure(flags.steps, flags.input_data_dir, flags.output_dir,
                   flags.fake_data)
  except (OSError, ValueError) as e:
    sys.exit('%s: error: %s' % (PROG, e))

  csv_path = os.path.join(flags.output_dir, 'precision_vs_steps.csv')
  precision_png = os.path.join(flags.output_dir, 'precision_vs_steps.png')
  loss_png = os.path.join(flags.output_dir, 'loss.png')
  write_csv(rows, csv_path)
  plot_precision(rows, precision_png)
  plot_losses({row['max_steps']: read_losses(row['log_dir']) for row in rows},
              loss_png)

  print('\nmax_steps  train   validation  test    seconds')
  for row in rows:
    print('%9d  %.4f  %.4f      %.4f  %7.1f' % (
        row['max_steps'], row['train_precision'],
        row['validation_precision'], row['test_precision'], row['seconds']))
  for path in (csv_path, precision_png, loss_png):
    print('Wrote', path)


if __name__ == '__main__':
  main()
