"""Measures the cost of towers: cifar10_multi_gpu_train on 1, 2, ... devices.

Not a test: it reports numbers, for the README's table.

  python scripts/benchmark_towers.py                   # 1 and 2 CPU towers
  python scripts/benchmark_towers.py --towers 1,2,4 --steps 200
  python scripts/benchmark_towers.py --tower_device gpu --towers 1,2

Each run is the program end to end as a subprocess, --fresh, with the towers
on logical CPU devices (--tower_device cpu) by default. Logical CPU devices
share the machine's cores, so N of them cannot be faster than one: the
ratio of examples/sec to the one-tower run is the price of splitting the
batch, running N copies of the model and averaging N sets of gradients; on
real GPUs the same split is what buys the speed-up. Examples/sec is the
median of the program's own log lines (all towers' images) from step 30 on,
after the input pipeline has warmed up.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.normpath(os.path.join(REPO, '..', 'shared', 'data',
                                             'cifar10'))
LOG_LINE = re.compile(r'step (\d+), loss = [\d.]+ \(([\d.]+) examples/sec; '
                      r'([\d.]+) sec/batch\)')
WARMUP_STEPS = 30  # Log lines before this step are left out.
# The clock every wall time here is read from: a test puts a fake one in its
# place, to check the seconds and rates reported against known times.
_clock = time.time


def tower_rate(data_dir, train_dir, towers, tower_device, batch_size, steps):
  """Runs the program once; returns (examples/sec, sec/batch, wall seconds).

  Args:
    data_dir: folder holding cifar-10-batches-bin.
    train_dir: scratch folder for checkpoints (emptied with --fresh).
    towers: --num_gpus.
    tower_device: 'cpu' (logical CPU devices) or 'gpu'.
    batch_size: images per tower and step.
    steps: training steps.

  Returns:
    Medians over the log lines from WARMUP_STEPS on, and the whole run's
    wall time.
  """
  # Summaries only at the first step, before the timed lines: the program
  # has refused --save_summaries_steps 0 (none at all) since its flags were
  # checked, and so refused the whole run.
  args = [sys.executable, '-m', 'cifar10.cifar10_multi_gpu_train',
          '--num_gpus', str(towers), '--tower_device', tower_device,
          '--data_dir', data_dir, '--train_dir', train_dir, '--fresh',
          '--max_steps', str(steps), '--batch_size', str(batch_size),
          '--log_frequency', '10', '--save_summaries_steps', str(steps)]
  start = _clock()
  proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
  seconds = _clock() - start
  if proc.returncode:
    sys.exit('%s failed:\n%s%s' % (' '.join(args[1:]), proc.stdout,
                                   proc.stderr))
  lines = [(float(rate), float(sec)) for step, rate, sec in
           LOG_LINE.findall(proc.stdout) if int(step) >= WARMUP_STEPS]
  if not lines:
    sys.exit('no log lines from step %d on (raise --steps):\n%s' % (
        WARMUP_STEPS, proc.stdout))
  return (statistics.median(r for r, _ in lines),
          statistics.median(s for _, s in lines), seconds)


def main():
  parser = argparse.ArgumentParser(
      description=__doc__, allow_abbrev=False,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--data_dir', default=DEFAULT_DATA,
                      help='Folder holding cifar-10-batches-bin.')
  parser.add_argument('--work_dir', default='/tmp/cifar10_benchmark_towers',
                      help='Scratch folder for the runs\' checkpoints.')
  parser.add_argument('--towers', default='1,2',
                      help='Comma-separated tower counts to measure.')
  parser.add_argument('--tower_device', default='cpu', choices=['cpu', 'gpu'])
  parser.add_argument('--batch_size', type=int, default=128,
                      help='Images per tower and step.')
  parser.add_argument('--steps', type=int, default=100,
                      help='Training steps per run.')
  args = parser.parse_args()
  if not os.path.isdir(os.path.join(args.data_dir, 'cifar-10-batches-bin')):
    sys.exit('error: no cifar-10-batches-bin in %s (--data_dir)'
             % args.data_dir)
  try:
    counts = [int(n) for n in args.towers.split(',')]
  except ValueError:
    sys.exit('error: --towers must be comma-separated integers, not %r'
             % args.towers)

  import tensorflow as tf
  # The load average says how much other work shared the cores.
  print('TensorFlow %s, Python %s, %d CPU cores, load average %s at the '
        'start' % (tf.__version__, sys.version.split()[0], os.cpu_count(),
                   os.getloadavg()[0] if hasattr(os, 'getloadavg') else
                   'n/a'))
  rows = []
  for n in counts:
    rows.append((n,) + tower_rate(
        args.data_dir, os.path.join(args.work_dir, 'towers_%d' % n), n,
        args.tower_device, args.batch_size, args.steps))
  base = {n: rate for n, rate, _, _ in rows}.get(1)
  print('| towers | devices | images/step | examples/sec | sec/batch | '
        'ratio to 1 tower | wall s |')
  print('|---|---|---|---|---|---|---|')
  for n, rate, sec_per_batch, seconds in rows:
    devices = ', '.join('%s:%d' % (args.tower_device, i) for i in range(n))
    print('| %d | %s | %d | %.0f | %.3f | %s | %.0f |' % (
        n, devices, n * args.batch_size, rate, sec_per_batch,
        '%.2f' % (rate / base) if base else '', seconds))


if __name__ == '__main__':
  main()
