"""Runs the four classic MNIST programs on the real data and tabulates them.

Each program runs as a user would start it (a subprocess, default flags
except for the data and log folders) and its printed test accuracy and wall
time go into a Markdown table next to the published value:

  nice -n 10 .venv/bin/python scripts/benchmark_mnist_programs.py
  ... --programs mnist_deep --deep_max_steps 2000   # a shorter deep run

mnist_softmax_xla runs twice, with the XLA JIT (its default) and with
--noxla, so the table shows what the JIT buys on this machine. Every
program's full output is kept in --work_dir (<program>.out), so a long
mnist_deep run can be followed with `tail -f`.
"""

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA_DIR = os.path.normpath(
    os.path.join(REPO, '..', 'shared', 'data', 'mnist'))

# (row name, module, extra flags, steps, pattern of the accuracy line,
#  published test accuracy of the original tutorial)
RUNS = [
    ('mnist_softmax', 'mnist_softmax', [], 1000, r'^(\d\S*)$', 'about 0.92'),
    ('mnist_softmax_xla', 'mnist_softmax_xla', [], 1000, r'^(\d\S*)$',
     'about 0.92'),
    ('mnist_softmax_xla --noxla', 'mnist_softmax_xla', ['--noxla'], 1000,
     r'^(\d\S*)$', 'about 0.92'),
    ('mnist_with_summaries', 'mnist_with_summaries', [], 1000,
     r'^Accuracy at step \d+: (\S+)$', 'about 0.97'),
    ('mnist_deep', 'mnist_deep', [], 20000, r'^test accuracy (\S+)$',
     'about 0.992'),
]
PROGRAMS = sorted({run[1] for run in RUNS})


def _load():
  """The load averages as text ('n/a' on Windows, which has none)."""
  if hasattr(os, 'getloadavg'):
    return ' '.join('%.2f' % x for x in os.getloadavg())
  return 'n/a'


def _cpu_model():
  try:
    with open('/proc/cpuinfo', encoding='utf-8') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or 'unknown CPU'


def _tf_version():
  out = subprocess.run(
      [sys.executable, '-c', 'import tensorflow as tf; print(tf.__version__)'],
      capture_output=True, text=True,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
  return out.stdout.strip() or 'unknown'


def run_one(name, module, extra, data_dir, work_dir):
  """Runs one program, its output into work_dir; returns (output, seconds).

  Raises:
    RuntimeError: the program exited with an error.
  """
  slug = re.sub(r'\W+', '_', name).strip('_')
  log_dir = os.path.join(work_dir, slug)
  args = [sys.executable, '-m', 'mnist.' + module, '--data_dir', data_dir]
  if module != 'mnist_softmax':
    args += ['--log_dir', log_dir]
  args += extra
  out_path = os.path.join(work_dir, slug + '.out')
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONUNBUFFERED='1',
             PYTHONIOENCODING='utf-8')
  print('running %s (output in %s)' % (' '.join(args[1:]), out_path),
        file=sys.stderr, flush=True)
  start = time.time()
  with open(out_path, 'w', encoding='utf-8') as out:
    code = subprocess.call(args, cwd=REPO, stdout=out,
                           stderr=subprocess.STDOUT, env=env)
  seconds = time.time() - start
  with open(out_path, encoding='utf-8') as f:
    text = f.read()
  if code != 0:
    raise RuntimeError('%s exited %d; see %s' % (name, code, out_path))
  return text, seconds


def _minutes(seconds):
  if seconds < 120:
    return '%.0f s' % seconds
  return '%.1f min' % (seconds / 60)


def main(argv=None):
  parser = argparse.ArgumentParser(
      allow_abbrev=False, description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--data_dir', default=DEFAULT_DATA_DIR,
                      help='Folder of the four MNIST .gz files. Default '
                      '%(default)s.')
  parser.add_argument('--programs', nargs='+', choices=PROGRAMS,
                      default=PROGRAMS, help='Which programs to run.')
  parser.add_argument('--deep_max_steps', type=int, default=20000,
                      help='--max_steps for mnist_deep (20000 as published; '
                      'fewer for a quick look, labelled in the table).')
  parser.add_argument('--work_dir', default=None,
                      help='Where logs, checkpoints and outputs go. Default '
                      'a new folder under /tmp.')
  flags = parser.parse_args(argv)
  if not os.path.isdir(flags.data_dir):
    parser.error('no MNIST data in --data_dir %s' % flags.data_dir)
  work_dir = flags.work_dir or tempfile.mkdtemp(prefix='mnist_benchmark_')
  os.makedirs(work_dir, exist_ok=True)

  rows = []
  for name, module, extra, steps, pattern, published in RUNS:
    if module not in flags.programs:
      continue
    if module == 'mnist_deep':
      steps = flags.deep_max_steps
      extra = extra + ['--max_steps', str(steps)]
    text, seconds = run_one(name, module, extra, flags.data_dir, work_dir)
    found = re.findall(pattern, text, flags=re.MULTILINE)
    if not found:
      raise RuntimeError('%s printed no accuracy; see %s' % (name, work_dir))
    accuracy = found[-1]
    if module == 'mnist_with_summaries':
      # Its last test measurement is at step 990 of 1000, as in the original.
      last = re.findall(r'^Accuracy at step (\d+):', text, flags=re.MULTILINE)
      accuracy += ' (at step %s)' % last[-1]
    if module == 'mnist_softmax_xla' and '--noxla' not in extra:
      clusters = re.search(r'XLA ran (\d+) compiled', text)
      name += ' (%s XLA clusters)' % (clusters.group(1) if clusters else 'no')
    rows.append((name, steps, accuracy, _minutes(seconds), published))
    print('  %s: %s in %s' % (name, accuracy, _minutes(seconds)),
          file=sys.stderr, flush=True)

  print('Machine: %s, %d cores, no GPU; Python %s, TensorFlow %s; load '
        'average at the end %s.' % (
            _cpu_model(), os.cpu_count(), platform.python_version(),
            _tf_version(), _load()))
  print('Data: %s. Outputs: %s.' % (flags.data_dir, work_dir))
  print()
  print('| program | steps | test accuracy | wall time | published |')
  print('|---|---|---|---|---|')
  for row in rows:
    print('| %s | %d | %s | %s | %s |' % row)


if __name__ == '__main__':
  main()
