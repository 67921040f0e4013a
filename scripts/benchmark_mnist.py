"""Times the MNIST programs end to end on the real data, for the README.

Not a test: it reports numbers. Each program runs as a user starts it (a
subprocess, so the wall time includes Python and TensorFlow start-up) with a
fresh --log_dir, and each row of the printed Markdown table gives its test
precision next to the published one, the wall time and the training speed:

  nice -n 10 .venv/bin/python scripts/benchmark_mnist.py
  .venv/bin/python scripts/benchmark_mnist.py --data_dir DIR --repeats 3

--data_dir defaults to ../shared/data/mnist beside the checkout.
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # For mnist.parse_flags.
DEFAULT_DATA_DIR = os.path.normpath(os.path.join(REPO, '..', 'shared', 'data',
                                                 'mnist'))
# The clock every wall time here is read from: a test puts a fake one in its
# place, to check the seconds and rates reported against known times.
_clock = time.time

# One row per program: (name, module, flags, steps, precision pattern,
# steps/sec pattern or None, published precision). In the flags, {data_dir}
# and {log_dir} are filled in. The precision pattern's last match in the
# output is taken; without a steps/sec pattern the rate is steps / wall time.
PROGRAMS = [
    ('fully_connected_feed', 'mnist.fully_connected_feed',
     ['--input_data_dir={data_dir}', '--log_dir={log_dir}',
      '--max_steps=2000'], 2000,
     r'^  Num examples: \d+  Num correct: \d+  Precision @ 1: (\S+)$',
     r'^Trained \d+ steps in \S+ sec \((\S+) steps/sec', '0.90 '
     '(typical 0.900-0.906)'),
    # --- Other MNIST programs go here, e.g. --------------------------------
    # ('mnist_softmax', 'mnist.mnist_softmax', ['--data_dir={data_dir}'],
    #  1000, r'^(\d\.\d+)$', None, 'about 0.92'),
    # ------------------------------------------------------------------------
]
HEADER = ('| program | steps | test precision | published | wall s '
          '(incl. start-up) | steps/sec (training) |\n'
          '|---|---|---|---|---|---|')


def _load():
  """The load averages as text ('n/a' on Windows, which has none)."""
  if hasattr(os, 'getloadavg'):
    return ' '.join('%.2f' % x for x in os.getloadavg())
  return 'n/a'


def _machine():
  """'N cores, <CPU model>' of this machine."""
  model = platform.processor() or 'unknown CPU'
  try:
    with open('/proc/cpuinfo', encoding='utf-8') as f:
      for line in f:
        if line.startswith('model name'):
          model = line.split(':', 1)[1].strip()
          break
  except OSError:
    pass
  return '%d cores, %s' % (os.cpu_count() or 0, model)


def _tf_version():
  proc = subprocess.run([sys.executable, '-c',
                         'import tensorflow as tf; print(tf.__version__)'],
                        capture_output=True, text=True,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
  return proc.stdout.strip() or 'unknown'


def run_program(module, flags, data_dir, work_dir):
  """Runs `python -m module flags...`; returns (stdout, wall seconds).

  Raises:
    RuntimeError: the program failed; the message holds its output.
  """
  log_dir = tempfile.mkdtemp(prefix='logs_', dir=work_dir)
  os.rmdir(log_dir)  # The programs create their own log_dir.
  args = [sys.executable, '-m', module] + [
      f.format(data_dir=data_dir, log_dir=log_dir) for f in flags]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONUNBUFFERED='1')
  start = _clock()
  proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True,
                        text=True)
  seconds = _clock() - start
  if proc.returncode:
    raise RuntimeError('%s exited %d:\n%s%s' % (' '.join(args[1:]),
                                                proc.returncode, proc.stdout,
                                                proc.stderr))
  return proc.stdout, seconds


def _last(pattern, text):
  matches = re.findall(pattern, text, flags=re.MULTILINE)
  return float(matches[-1]) if matches else None


def measure(row, data_dir, work_dir, repeats=1):
  """Runs one PROGRAMS row `repeats` times; returns the Markdown row."""
  name, module, flags, steps, precision_re, rate_re, published = row
  precisions, walls, rates = [], [], []
  for _ in range(repeats):
    out, seconds = run_program(module, flags, data_dir, work_dir)
    precisions.append(_last(precision_re, out))
    walls.append(seconds)
    rate = _last(rate_re, out) if rate_re else None
    rates.append(rate if rate is not None else steps / seconds)

  def show(values, fmt):
    if len(values) == 1:
      return fmt % values[0]
    return (fmt + ' (%s-%s)') % (statistics.median(values),
                                 fmt % min(values), fmt % max(values))

  return '| %s | %d | %s | %s | %s | %s |' % (
      name, steps, show(precisions, '%.4f'), published, show(walls, '%.1f'),
      show(rates, '%.0f'))


def main(argv=None):
  from mnist import parse_flags
  parser = argparse.ArgumentParser(
      description=__doc__, allow_abbrev=False,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--data_dir', default=DEFAULT_DATA_DIR,
                      help='Folder of the four MNIST files.')
  parser.add_argument('--programs', nargs='+',
                      choices=[row[0] for row in PROGRAMS],
                      default=[row[0] for row in PROGRAMS],
                      help='Which programs to run.')
  parser.add_argument('--repeats', type=int, default=1,
                      help='Runs per program; the median is shown.')
  flags = parse_flags(parser, argv)
  if not os.path.isdir(flags.data_dir):
    sys.exit('benchmark_mnist: error: no MNIST folder at %s; pass --data_dir'
             % flags.data_dir)
  print('Machine: %s; TensorFlow %s; Python %s; load average before: %s'
        % (_machine(), _tf_version(), platform.python_version(),
           _load()))
  print(HEADER)
  with tempfile.TemporaryDirectory(prefix='benchmark_mnist_') as work_dir:
    for row in PROGRAMS:
      if row[0] in flags.programs:
        try:
          print(measure(row, flags.data_dir, work_dir, flags.repeats),
                flush=True)
        except RuntimeError as e:
          sys.exit('benchmark_mnist: error: %s' % e)
  print('Load average after: %s' % _load())


if __name__ == '__main__':
  main()
