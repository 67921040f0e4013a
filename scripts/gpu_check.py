"""Checks CIFAR-10 training on this machine's NVIDIA GPU, in about five
minutes: speed and precision of each arithmetic, and of the towers.

  python scripts/gpu_check.py                  # 1,000 steps of each
  python scripts/gpu_check.py --configs float32,mixed_precision
  python scripts/gpu_check.py --max_steps 200 --data_dir DIR

In Colab: Runtime > Change runtime type > GPU (a T4), then in a cell
`!git clone <this project's address>` and
`!python classic-tf-tutorials/scripts/gpu_check.py` (Colab's TensorFlow).
It runs the project's programs as a user would, each a process, from a
fresh --train_dir in --output_dir/<configuration>, beside train.log and
eval.log (each program's whole output):

  float32          cifar10_train
  mixed_precision  cifar10_train --mixed_precision: float16 arithmetic by
                   graph rewrite, float32 variables, dynamic loss scaling
  use_fp16         cifar10_train --use_fp16: the original's float16
                   variables, no loss scaling (it may diverge: then its row
                   says so)
  towers           cifar10_multi_gpu_train --num_gpus N, one tower on each
                   of the N GPUs TensorFlow sees (with one GPU, one tower:
                   the row then shows the multi-GPU program working and
                   what its machinery costs, not a speed-up)

each for --max_steps steps of --batch_size images (per tower), then
`cifar10_eval --run_once` on its checkpoint. It prints the GPU's name, the
TensorFlow and CUDA it runs with, and a table (Markdown, for the README):
examples/s (the median of cifar10_train's own log lines, each over 10
steps, from step 30 on: the first steps build caches and tune cuDNN), the
ratio to float32 (of the rates as printed), precision @ 1 as cifar10_eval
printed it, and the seconds of both programs. A run that fails shows its
error line in its row, and the others go on. CIFAR-10 (170 MB) is
downloaded into --data_dir first when it is not there, outside the timing.

The budget, assumed and not measured (no GPU has run this yet): every
program's input pipeline (crops, flips, brightness, contrast) runs on the
CPU, and Colab's T4 runtime has 2 cores. Here 2 cores train at 1,565
examples/s end to end against 1,818 for the model alone (README), so the
pipeline costs them about 0.09 ms an example, 11,000 examples/s; Colab's
older cores may give half that, and the T4 is assumed to keep up. A program
starts in about 10 s there (TensorFlow, CUDA, cuDNN) and an evaluation of
the 10,000 test images takes about 15 s with its start, so four
configurations of 1,000 steps of 128 images fit in five minutes if each
trains at 2,700 examples/s or more (at 4,000: about 4 minutes). The script
prints the minutes it took; if more than five, leave out a configuration
with --configs, or lower --max_steps (the precisions are then no longer
1,000-step ones).

Without a GPU it says so in one line, before any download. --allow_cpu
(for tests and checks of this script) runs the same runs on the CPU, towers
on 2 logical CPU devices, and says so above the table: numbers that say
nothing about a GPU. Exit status 0 when every run worked, 1 when one failed
or there is no GPU, 2 for a bad flag.
"""

import argparse
import datetime
import difflib
import json
import os
import platform
import re
import statistics
import sys
import time

# The libraries beside this file and the cifar10 package, however it runs
# (`python scripts/gpu_check.py`, `python -m scripts.gpu_check`, tests).
HERE = os.path.dirname(os.path.abspath(__file__))
for _folder in (HERE, os.path.dirname(HERE)):
  if _folder not in sys.path:
    sys.path.insert(0, _folder)
import program_runs
import setup_env
try:
  # Neither imports TensorFlow: --help and bad flags are answered at once.
  from cifar10 import cifar10_cli
  from cifar10 import cifar10_download
except ImportError as e:  # The package says how to install TensorFlow.
  sys.exit('gpu_check: error: %s' % e)

PROG = 'gpu_check'  # starts the lines it prints
CONFIGS = ('float32', 'mixed_precision', 'use_fp16', 'towers')
MAX_STEPS = 1000  # the lab's training steps
CPU_TOWERS = 2  # logical CPU devices for the towers under --allow_cpu
# A trainer's log line: time, step (program_runs reads those) and rate.
RATE = re.compile(program_runs.LOG_LINE.pattern +
                  r'\S+ \((\d+\.\d+) examples/sec', re.M)
PRECISION = re.compile(r': precision @ 1 = (\d\.\d+)$', re.M)
MIXED_MODE = re.compile(r'mixed precision: (\w+) arithmetic')
# Run in a child process: this one then holds no CUDA state while the
# programs run, and answers --help without TensorFlow. `import cifar10`
# first makes TensorFlow load quietly and without Keras, as the programs do.
PROBE = '''
import json
import cifar10
import tensorflow as tf
gpus = []
for gpu in tf.config.list_physical_devices('GPU'):
  details = tf.config.experimental.get_device_details(gpu)
  gpus.append([details.get('device_name', gpu.name),
               details.get('compute_capability')])
build = tf.sysconfig.get_build_info()
print('PROBE ' + json.dumps({
    'tensorflow': tf.__version__, 'cuda': build.get('is_cuda_build') and
    build.get('cuda_version'), 'cudnn': build.get('cudnn_version'),
    'gpus': gpus}))
'''


def _at_least_two(text):
  """--max_steps, --batch_size: an integer of at least 2 (a rate needs a
  log line after the first)."""
  try:
    value = int(text)
  except ValueError:
    value = 0
  if value < 2:
    raise argparse.ArgumentTypeError('not an integer of at least 2: %r'
                                     % text)
  return value


def _configs(text):
  """--configs: names from CONFIGS, comma-separated, kept in CONFIGS' order."""
  names = [name.strip() for name in text.split(',') if name.strip()]
  for name in names or ['']:
    if name not in CONFIGS:
      close = difflib.get_close_matches(name, CONFIGS, n=1)
      raise argparse.ArgumentTypeError('no configuration %r%s; they are %s' % (
          name, ' (did you mean %s?)' % close[0] if close else '',
          ', '.join(CONFIGS)))
  return [name for name in CONFIGS if name in names]


def _last_line(text):
  lines = [line.strip() for line in text.splitlines() if line.strip()]
  return lines[-1] if lines else 'failed, printing nothing'


def _run(args, log_path):
  """Runs a program, its output into log_path: (output, error line, s)."""
  start = time.time()
  try:
    out, seconds, _ = program_runs.run(args)
    error = None
  except SystemExit as e:
    # program_runs ends this process on a failed program, with a first line
    # naming it and then its output; here the other runs go on.
    out, seconds = str(e.code).partition('\n')[2], time.time() - start
    error = _last_line(out)
  with open(log_path, 'w', encoding='utf-8') as f:
    f.write(out.rstrip('\n') + '\n')
  return out, error, seconds


def _label(config, towers, tower_device, train_output):
  """A configuration's name in the table, with what it ran in."""
  if config == 'mixed_precision':
    # The arithmetic the program chose is the finding: float16 on a GPU.
    chosen = MIXED_MODE.search(train_output)
    if not chosen:
      return 'mixed_precision (float32: no 16-bit arithmetic here)'
    return 'mixed_precision (%s arithmetic%s)' % (
        chosen.group(1), ', loss scaling' if chosen.group(1) == 'float16'
        else '')
  if config == 'use_fp16':
    return 'use_fp16 (float16 variables, no loss scaling)'
  if config == 'towers':
    where = 'GPU' if tower_device == 'gpu' else 'logical CPU device'
    if towers == 1:
      return 'towers (1 on 1 %s: this machine has one)' % where
    return 'towers (%d on %d %ss)' % (towers, towers, where)
  return config


def _rate_text(rate):
  return '%.0f' % rate if rate is not None else 'n/a'


def schedule(max_steps):
  """(log_frequency, warm-up steps) of a run: (10, 30) at 1,000 steps as in
  the benchmarks; a short run (a test) logs more often, skips half."""
  return (max(1, min(program_runs.WINDOW, max_steps // 10)),
          min(program_runs.WARMUP, max_steps // 2))


def examples_per_sec(output, warmup):
  """The median examples/sec of a trainer's log lines from step warmup on.

  Args:
    output: what cifar10_train (or cifar10_multi_gpu_train) printed.
    warmup: log lines of earlier steps are left out (step 0 always: its
      time includes the start).

  Returns:
    The median, or None when no line is left.
  """
  rates = [float(rate) for _, step, rate in RATE.findall(output)
           if int(step) >= max(warmup, 1)]
  return statistics.median(rates) if rates else None


def probe():
  """The TensorFlow here and the GPUs it sees, from a child process.

  Returns:
    {'tensorflow': version, 'cuda': CUDA version or false, 'cudnn': ...,
    'gpus': [[name, [major, minor] or None], ...]}.

  Raises:
    SetupError: TensorFlow does not load (its last line).
  """
  try:
    out, _, _ = program_runs.run(['-c', PROBE])
  except SystemExit as e:  # program_runs ends with the output: keep a line.
    raise setup_env.SetupError('TensorFlow does not load in %s: %s' % (
        sys.executable, _last_line(str(e.code)))) from None
  return json.loads(out[out.index('PROBE ') + len('PROBE '):].split('\n')[0])


def no_gpu_reason(found, os_name=None):
  """Why TensorFlow sees no GPU, in a few words, for the one line.

  Args:
    found: what probe() returned.
    os_name: 'nt' for Windows, else 'posix' (os.name when None).

  Returns:
    The reason, with what to do about it.
  """
  if (os_name or os.name) == 'nt':
    return ('TensorFlow %s has no GPU build for native Windows since 2.11: '
            'use WSL2' % found['tensorflow'])
  if not found['cuda']:
    return ('TensorFlow %s here is built without CUDA; on Linux: pip install '
            '".[gpu]"' % found['tensorflow'])
  return ('TensorFlow %s is built for CUDA %s but finds no GPU: does '
          'nvidia-smi show one?' % (found['tensorflow'], found['cuda']))


def commands(config, towers, tower_device):
  """The trainer of a configuration.

  Args:
    config: one of CONFIGS.
    towers: the number of towers (the towers configuration).
    tower_device: 'gpu', or 'cpu' for logical CPU devices.

  Returns:
    (the program's module, its flags for the configuration).
  """
  if config == 'towers':
    return 'cifar10.cifar10_multi_gpu_train', ['--num_gpus', str(towers)] + (
        ['--tower_device', 'cpu'] if tower_device == 'cpu' else [])
  return 'cifar10.cifar10_train', [] if config == 'float32' else ['--' + config]


def measure(config, data_dir, output_dir, max_steps, batch_size, towers=1,
            tower_device='gpu'):
  """Trains one configuration from a fresh start, then evaluates it.

  Args:
    config: one of CONFIGS.
    data_dir: the folder holding cifar-10-batches-bin.
    output_dir: the configuration's folder goes in here.
    max_steps, batch_size: the trainer's flags.
    towers, tower_device: see commands().

  Returns:
    Its row: 'config', 'label', 'command', 'rate' (examples/s or None),
    'precision' (as printed, or None), 'error' (a failed program's last
    line, or None), 'seconds' (of both programs).
  """
  module, flags = commands(config, towers, tower_device)
  folder = os.path.join(output_dir, config)
  os.makedirs(folder, exist_ok=True)
  train_dir = os.path.join(folder, 'train')
  log_frequency, warmup = schedule(max_steps)
  command = ' '.join([module.split('.')[1]] + flags)
  print('%s: %s: %s --max_steps %d, then cifar10_eval --run_once ...' % (
      PROG, config, command, max_steps))
  sys.stdout.flush()
  # --fresh: a folder left by an earlier check would resume and log nothing.
  out, error, seconds = _run(
      ['-m', module, '--data_dir', data_dir, '--train_dir', train_dir,
       '--fresh', '--max_steps', str(max_steps), '--batch_size',
       str(batch_size), '--log_frequency', str(log_frequency)] + flags,
      os.path.join(folder, 'train.log'))
  row = {'config': config, 'command': command, 'error': error,
         'label': _label(config, towers, tower_device, out),
         'rate': examples_per_sec(out, warmup), 'precision': None}
  if not error:
    out, row['error'], eval_seconds = _run(
        ['-m', 'cifar10.cifar10_eval', '--data_dir', data_dir,
         '--checkpoint_dir', train_dir, '--eval_dir',
         os.path.join(folder, 'eval'), '--run_once'],
        os.path.join(folder, 'eval.log'))
    seconds += eval_seconds
    found = PRECISION.findall(out)
    row['precision'] = found[-1] if found else None
    if not (found or row['error']):
      row['error'] = 'cifar10_eval printed no precision (see its eval.log)'
  row['seconds'] = seconds
  print('%s: %s: %s in %.0f s' % (PROG, config, row['error'] or '%s '
        'examples/s, precision @ 1 = %s' % (_rate_text(row['rate']),
                                            row['precision']), seconds))
  sys.stdout.flush()
  return row


def table(rows):
  """The Markdown table of measure()'s rows.

  Args:
    rows: the rows, float32's first if it ran.

  Returns:
    The table's lines, joined; each ratio is of the rates as printed.
  """
  base = {row['config']: _rate_text(row['rate']) for row in rows
          if not row['error']}.get('float32', 'n/a')
  lines = ['| configuration | command | examples/s | ratio to float32 | '
           'precision @ 1 | seconds |', '|---|---|---|---|---|---|']
  for row in rows:
    rate = _rate_text(row['rate'])
    ratio = ''
    if row['error']:
      # A Markdown cell cannot hold a bare |.
      rate = 'failed: ' + row['error'].replace('|', '\\|')
    elif rate != 'n/a' and base not in ('n/a', '0'):
      ratio = '%.2f' % (float(rate) / float(base))
    lines.append('| %s | %s | %s | %s | %s | %.0f |' % (
        row['label'], row['command'], rate, ratio, row['precision'] or '',
        row['seconds']))
  return '\n'.join(lines)


def main(argv=None):
  parser = setup_env.ArgumentParser(PROG, __doc__)
  parser.add_argument('--data_dir', default=cifar10_cli.tmp_dir('cifar10_data'),
                      metavar='DIR', help='CIFAR-10 is read from (or '
                      'downloaded into) DIR (default %(default)s)')
  parser.add_argument('--output_dir', default=cifar10_cli.tmp_dir('gpu_check'),
                      metavar='DIR', help="each run's folder, logs and "
                      'checkpoints (default %(default)s)')
  parser.add_argument('--max_steps', type=_at_least_two, default=MAX_STEPS,
                      metavar='N', help='training steps of each run (default '
                      '%(default)s)')
  parser.add_argument('--batch_size', type=_at_least_two, default=128,
                      metavar='N', help='images per step and tower '
                      '(default %(default)s)')
  parser.add_argument('--configs', type=_configs, default=list(CONFIGS),
                      metavar='A,B', help='the configurations to run (default '
                      + ','.join(CONFIGS) + ')')
  parser.add_argument('--allow_cpu', action='store_true',
                      help='for tests and checks of this script: without a '
                      'GPU, run on the CPU')
  args = parser.parse_args(argv)
  args.data_dir = os.path.abspath(args.data_dir)  # The programs run elsewhere.
  args.output_dir = os.path.abspath(args.output_dir)

  found = probe()
  gpus = found['gpus']
  if not gpus and not args.allow_cpu:
    sys.stderr.write('%s: no GPU: TensorFlow sees none (%s); in Colab: '
                     'Runtime > Change runtime type > GPU.\n' % (
                         PROG, no_gpu_reason(found)))
    return 1
  try:
    cifar10_download.maybe_download_and_extract(args.data_dir)
  except (IOError, ValueError) as e:
    raise setup_env.SetupError(str(e)) from None
  started = time.time()
  towers, tower_device = (len(gpus), 'gpu') if gpus else (CPU_TOWERS, 'cpu')
  rows = [measure(config, args.data_dir, args.output_dir, args.max_steps,
                  args.batch_size, towers, tower_device)
          for config in args.configs]

  print()
  for i, (name, capability) in enumerate(gpus):
    print('GPU %d: %s%s' % (i, name, ' (compute capability %s)' % '.'.join(
        str(part) for part in capability) if capability else ''))
  if not gpus:
    print('No GPU: these runs are on the CPU (--allow_cpu, for tests and '
          'checks); their numbers say nothing about a GPU.')
  print('TensorFlow %s%s, Python %s, %s; %d steps of %d images (per tower), '
        'CIFAR-10 in %s; %.1f minutes in all' % (
            found['tensorflow'], ' (CUDA %s, cuDNN %s)' % (
                found['cuda'], found['cudnn']) if found['cuda'] else '',
            platform.python_version(), datetime.date.today(), args.max_steps,
            args.batch_size, args.data_dir, (time.time() - started) / 60))
  print(table(rows))
  return 1 if any(row['error'] for row in rows) else 0


if __name__ == '__main__':
  setup_env.run_main(PROG, main)
