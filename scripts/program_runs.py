"""The CIFAR-10 programs run as a user runs them, timed: the library of
scripts/benchmark_cifar10.py for everything it measures in a subprocess.

  out, seconds, peak_mib = run(['-m', 'cifar10.cifar10_eval', ...])
  rate, seconds, peak_mib = train_rate(data_dir, train_dir, 'dataset', 128,
                                       200)      # examples/s from its log
  precision, seconds = train_and_eval(data_dir, train_dir, eval_dir, 1000)
  mode_flags('mixed')                            # ['--mixed_precision']

A program that fails ends this process with its output (sys.exit).
"""

import datetime
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WARMUP = 30  # steps left out of every rate: graph optimisation, caches
WINDOW = 10  # cifar10_train logs every WINDOW steps here
LOG_LINE = re.compile(r'^(\S+ \S+): step (\d+), loss = ', re.M)
# The clock every wall time here is read from: a test puts a fake one in its
# place, to check the seconds and rates reported against known times.
_clock = time.time


# A small interpreter starts each program and prints its peak RSS last (in
# KiB; -1 on Windows, which has no resource module). Measured from here
# directly, the figure would include this process (which imports
# TensorFlow): Linux keeps the peak of the image a process replaced at exec,
# and subprocess starts children with vfork, which shares ours.
_MEASURE = (
    'import subprocess, sys\n'
    'try:\n'
    '  import resource\n'
    'except ImportError:\n'
    '  resource = None\n'
    'status = subprocess.call(sys.argv[1:])\n'
    'peak = -1\n'
    'if resource:\n'
    '  peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n'
    '  if sys.platform == "darwin":\n'
    '    peak //= 1024  # bytes there\n'
    'print("\\n%d" % peak)\n'
    'sys.exit(status)\n')


def run(args, env=None):
  """Runs a program; returns (stdout, seconds, peak RSS in MiB)."""
  start = _clock()
  proc = subprocess.run([sys.executable, '-c', _MEASURE, sys.executable] + args,
                        cwd=REPO, env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True, check=False)
  out, _, peak = proc.stdout.rstrip('\n').rpartition('\n')
  if proc.returncode:
    sys.exit('%s failed:\n%s' % (' '.join(args), out))
  return out, _clock() - start, max(int(peak), 0) / 1024.0


def mode_flags(mode):
  """The flags of arithmetic mode (float32, mixed) for the programs."""
  return ['--mixed_precision'] if mode == 'mixed' else []


def train_rate(data_dir, train_dir, pipeline, batch_size, steps,
               model='cifar10', mode='float32'):
  """Examples/sec of cifar10_train from its log lines' times after warm-up.

  Returns:
    (examples/sec, wall seconds of the whole process, peak RSS in MiB).
  """
  out, seconds, rss = run([
      '-m', 'cifar10.cifar10_train', '--data_dir', data_dir,
      '--train_dir', train_dir, '--fresh', '--max_steps', str(steps),
      '--batch_size', str(batch_size), '--input_pipeline', pipeline,
      '--log_frequency', str(WINDOW), '--model', model] + mode_flags(mode))
  times = [(int(step), datetime.datetime.fromisoformat(stamp))
           for stamp, step in LOG_LINE.findall(out) if int(step) >= WARMUP]
  if len(times) < 2:
    sys.exit('too few log lines in cifar10_train output:\n' + out)
  (first, start), (last, end) = times[0], times[-1]
  return ((last - first) * batch_size / (end - start).total_seconds(),
          seconds, rss)


def train_and_eval(data_dir, train_dir, eval_dir, steps, train_flags=(),
                   eval_flags=()):
  """cifar10_train to steps (resuming), then cifar10_eval: (precision, s)."""
  start = _clock()
  run(['-m', 'cifar10.cifar10_train', '--data_dir', data_dir,
       '--train_dir', train_dir, '--max_steps', str(steps),
       '--log_frequency', '1000'] + list(train_flags))
  trained = _clock() - start
  out, _, _ = run(['-m', 'cifar10.cifar10_eval', '--data_dir', data_dir,
                   '--checkpoint_dir', train_dir, '--run_once',
                   '--eval_dir', eval_dir] + list(eval_flags))
  return float(re.search(r'precision @ 1 = ([\d.]+)', out).group(1)), trained
