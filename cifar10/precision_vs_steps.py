"""Does training longer give a better model? The labs' question, plotted.

Both labs end by asking whether more max_steps means more precision. This
program answers it for either tutorial, running its programs as a student
would (each as its own process) and plotting what they print:

  precision_vs_steps                         # MNIST: fully_connected_feed
  precision_vs_steps --tutorial cifar10 --data_dir /tmp/cifar10_data
  precision_vs_steps --tutorial cifar10 --steps 1000 2000 5000 10000
  precision_vs_steps --tutorial cifar10 --mixed_precision   # bfloat16 CPUs

MNIST (--tutorial mnist, the default): fully_connected_feed runs from
scratch once per step count (its learning rate is constant, so a longer run
is a different run). Written into --output_dir:
  precision_vs_steps.csv   max_steps, train/validation/test precision, seconds
  precision_vs_steps.png   the three precisions against max_steps
  loss.png                 training loss against step, one line per run
  logs/steps_<N>/          each run's checkpoints and summaries

CIFAR-10 (--tutorial cifar10): cifar10_train trains once, in --train_dir,
resuming up to each step count in turn; after each, cifar10_eval evaluates
that checkpoint (moving averages, the 10,000 test images). A copy of each
evaluated checkpoint is kept, so any point can be evaluated again. Stopped
(Ctrl-C, SIGTERM, a killed process or a restarted machine), the same command
goes on from the last checkpoint and keeps the rows already measured.
Written into --output_dir:
  precision_vs_steps.csv   steps, precision, wall seconds (training so far,
                           start-ups included), examples/sec (the median of
                           cifar10_train's own log lines in that stretch)
  precision_vs_steps.png   precision against steps, published points marked
  precision_vs_time.png    precision against training wall-clock minutes
  checkpoints/step_<N>/    the checkpoint evaluated for each row
  train/                   --train_dir, unless given
  eval/                    cifar10_eval's summaries (TensorBoard)

The plots need matplotlib (the project's 'plot' extra).

Library use (the plots are precision_plots'):
 rows = measure(steps, input_data_dir, output_dir)        # MNIST
 rows = measure_cifar10(steps, data_dir, output_dir)      # CIFAR-10
 write_csv(rows, path, fields); rows = read_cifar10_csv(path)
"""

import csv
import glob
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

if __name__ == '__main__' and not __package__:
  # Run as a file in cifar10/ (`python prog.py`, or `%run prog.py` in a
  # kernel), where cifar10.py would shadow the package: the folder above first.
  _HERE = os.path.dirname(os.path.abspath(__file__))
  if sys.path[0] == _HERE:  # Python (and %run) put this folder first.
    del sys.path[0]
  if sys.path[0] != os.path.dirname(_HERE):
    sys.path.insert(0, os.path.dirname(_HERE))
from cifar10 import cifar10_cli
cifar10_cli.start_program(__name__, 'precision_vs_steps')

from cifar10 import precision_plots
from mnist import int_at_least
from mnist import new_parser
from mnist import parse_flags
from mnist import tmp_dir

PROG = 'precision_vs_steps'
TUTORIALS = ('mnist', 'cifar10')
DEFAULT_STEPS = {  # The labs' step counts.
    'mnist': (1000, 2000, 5000, 10000),
    'cifar10': (1000, 2000, 5000, 10000, 20000, 50000, 100000)}
# Under /tmp (\\tmp on the current drive on Windows), or $TEST_TMPDIR as
# fully_connected_feed's original.
TMP = os.getenv('TEST_TMPDIR')
DEFAULT_OUTPUT_DIRS = {
    'mnist': tmp_dir('tensorflow', 'mnist', 'precision_vs_steps', root=TMP),
    'cifar10': tmp_dir('cifar10_precision_vs_steps', root=TMP)}
MNIST_DATA_DIR = tmp_dir('tensorflow', 'mnist', 'input_data', root=TMP)
CIFAR10_DATA_DIR = cifar10_cli.tmp_dir('cifar10_data')  # cifar10_train's.
SPLITS = precision_plots.SPLITS  # fully_connected_feed's evaluations.
MNIST_FIELDS = ('max_steps', 'train_precision', 'validation_precision',
                'test_precision', 'seconds')
CIFAR10_FIELDS = ('steps', 'precision', 'wall_seconds', 'examples_per_sec')
CSV_NAME = 'precision_vs_steps.csv'
PROGRESS_NAME = 'progress.json'  # Training seconds so far, for resuming.
PRECISION_LINE = re.compile(r'precision @ 1 = (\d\.\d+)')
MNIST_PRECISION = re.compile(r'Precision @ 1: (\d\.\d+)$', re.M)
RATE = re.compile(r': step (\d+), loss = \S+ \((\d+\.\d) examples/sec')
NO_MATPLOTLIB = '%s: error: %s' % (PROG, precision_plots.NO_MATPLOTLIB)


def _end_with_parent():
  # On Linux, a trainer whose parent is killed (kill -9) gets SIGTERM, so
  # it saves a checkpoint and stops instead of training on unseen. (macOS
  # and Windows have no such thing: there it trains on, and a rerun is
  # refused by its --train_dir lock, naming it, until it ends.)
  try:
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
  except (OSError, AttributeError):
    pass


def _start_options():
  """How to start a program so that a stop passed on stops it cleanly."""
  if os.name == 'nt':
    # Windows ends a process told to stop by another (TerminateProcess)
    # without warning; what it can pass on is a console Ctrl+Break event,
    # to a process group. So the program gets a group of its own (where
    # the console's Ctrl+C does not reach it: this process passes it on).
    return {'creationflags': subprocess.CREATE_NEW_PROCESS_GROUP}
  return {'preexec_fn': _end_with_parent}


def _ask_to_stop(proc):
  """Passes a stop on: the program saves a checkpoint and ends."""
  if os.name == 'nt':
    proc.send_signal(signal.CTRL_BREAK_EVENT)
  else:
    proc.send_signal(signal.SIGTERM)


def _run(module, args, log=None):
  """Runs `python -m module args`, echoing its output; returns the output.

  Ctrl-C or SIGTERM (Ctrl+Break on Windows) while it runs is passed on to
  it (a trainer then saves a checkpoint), and raised here once it has ended.
  """
  # Its output comes through a pipe in UTF-8 whatever the console's code
  # page, and goes out through this process's console-safe stdout.
  env = dict(os.environ, PYTHONIOENCODING='utf-8')
  proc = subprocess.Popen([sys.executable, '-m', module] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          encoding='utf-8', errors='replace', bufsize=1,
                          env=env, **_start_options())
  lines, stopped = [], None
  while True:
    try:
      for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)
        if log:
          log(line)
      break
    except KeyboardInterrupt as e:
      # Pass it on, then keep echoing while the program saves and ends.
      stopped = stopped or e
      if proc.poll() is None:
        _ask_to_stop(proc)
  proc.wait()
  if stopped:
    raise stopped
  if proc.returncode:
    last = ([x for x in lines if x.strip()] or ['(no output)'])[-1].strip()
    raise ValueError('%s exited with status %d: %s' % (
        module.split('.')[-1], proc.returncode, last))
  return ''.join(lines)


def measure(steps, input_data_dir, output_dir, fake_data=False):
  """Runs fully_connected_feed from scratch once per step count.

  Args:
    steps: the max_steps values, e.g. [1000, 2000, 5000, 10000].
    input_data_dir: folder of the MNIST files (fetched when missing).
    output_dir: each run writes its log_dir in output_dir/logs/steps_<N>.
    fake_data: train on fake data (a quick check of the program only).

  Returns:
    A list of dicts, one per run: max_steps, <split>_precision for the three
    splits, seconds (wall time of the run: start-up, data, training, evals)
    and log_dir.

  Raises:
    ValueError: a run failed (its last line says why).
  """
  rows = []
  for max_steps in steps:
    log_dir = os.path.join(output_dir, 'logs', 'steps_%d' % max_steps)
    print('=== fully_connected_feed --max_steps=%d --log_dir=%s'
          % (max_steps, cifar10_cli.command_path(log_dir)))
    sys.stdout.flush()
    start = time.time()
    out = _run('mnist.fully_connected_feed', [
        '--max_steps', str(max_steps), '--input_data_dir', input_data_dir,
        '--log_dir', log_dir] + (['--fake_data'] if fake_data else []))
    # The last evaluation's three lines: training, validation, test.
    precisions = [float(p) for p in MNIST_PRECISION.findall(out)[-3:]]
    if len(precisions) < 3:
      raise ValueError('fully_connected_feed printed no evaluation for '
                       '--max_steps %d' % max_steps)
    row = {'max_steps': max_steps, 'seconds': time.time() - start,
           'log_dir': log_dir}
    for split, precision in zip(SPLITS, precisions, strict=True):
      row[split + '_precision'] = precision
    rows.append(row)
  return rows


def _read_progress(output_dir):
  """What the last runs left: training seconds so far, a stretch to evaluate.

  Returns:
    {'train_seconds': float, 'pending': None or the row (without its
    precision) of a stretch trained but not yet evaluated}.
  """
  path = os.path.join(output_dir, PROGRESS_NAME)
  if not os.path.exists(path):
    return {'train_seconds': 0.0, 'pending': None}
  try:
    with open(path, encoding='utf-8') as f:
      progress = json.load(f)
    return {'train_seconds': float(progress['train_seconds']),
            'pending': progress.get('pending')}
  except (ValueError, KeyError, TypeError) as e:
    raise ValueError('%s is damaged (%s): delete it to count the training '
                     'time from zero' % (path, e)) from None


def _write_progress(output_dir, progress):
  # Written whole under another name, then renamed: never half a file.
  path = os.path.join(output_dir, PROGRESS_NAME)
  with open(path + '.tmp', 'w', encoding='utf-8') as f:
    json.dump(progress, f)
  os.replace(path + '.tmp', path)


def read_cifar10_csv(path):
  """The rows of a CIFAR-10 curve's CSV ([] if there is none yet).

  Raises:
    ValueError: the file is not such a CSV (names the file).
  """
  if not os.path.exists(path):
    return []
  with open(path, newline='', encoding='utf-8') as f:
    reader = csv.DictReader(f)
    if tuple(reader.fieldnames or ()) != CIFAR10_FIELDS:
      raise ValueError('%s is not a CIFAR-10 precision_vs_steps CSV (its '
                       'columns should be %s)' % (path,
                                                  ', '.join(CIFAR10_FIELDS)))
    try:
      return [{'steps': int(r['steps']), 'precision': float(r['precision']),
               'wall_seconds': float(r['wall_seconds']),
               'examples_per_sec': float(r['examples_per_sec'])}
              for r in reader]
    except (TypeError, ValueError) as e:
      raise ValueError('%s holds a damaged row (%s)' % (path, e)) from None


def write_csv(rows, path, fields):
  """Writes rows (dicts) as CSV with the given columns, atomically."""
  with open(path + '.tmp', 'w', newline='', encoding='utf-8') as f:
    writer = csv.writer(f)
    writer.writerow(fields)
    for row in rows:
      writer.writerow([('%.4f' % row[k]) if isinstance(row[k], float)
                       and 'precision' in k else
                       ('%.1f' % row[k]) if isinstance(row[k], float)
                       else row[k] for k in fields])
  os.replace(path + '.tmp', path)


def _keep_checkpoint(train_dir, step, folder):
  """Copies model.ckpt-<step> into folder, with a `checkpoint` file."""
  files = glob.glob(os.path.join(train_dir, 'model.ckpt-%d.*' % step))
  if not any(f.endswith('.index') for f in files):
    raise ValueError('%s holds no checkpoint of step %d to evaluate' % (
        train_dir, step))
  tmp = folder + '.tmp'
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  for f in files:
    shutil.copy2(f, tmp)
  with open(os.path.join(tmp, 'checkpoint'), 'w', encoding='utf-8') as f:
    f.write('model_checkpoint_path: "model.ckpt-%d"\n' % step)
  shutil.rmtree(folder, ignore_errors=True)
  os.replace(tmp, folder)


def _checkpoint_step(train_dir):
  """The global step of train_dir's latest checkpoint, or 0."""
  path = os.path.join(train_dir, 'checkpoint')
  if not os.path.exists(path):
    return 0
  with open(path, encoding='utf-8', errors='replace') as f:
    found = re.search(r'^model_checkpoint_path: ".*model\.ckpt-(\d+)"',
                      f.read(), re.M)
  return int(found.group(1)) if found else 0


def measure_cifar10(steps, data_dir, output_dir, train_dir=None,
                    batch_size=128, mode_flags=()):
  """Trains CIFAR-10 once, evaluating the checkpoint at each step count.

  Resumes: rows already in output_dir's CSV are kept, and training goes on
  from train_dir's last checkpoint. After each step count the CSV is
  rewritten, so a stop loses at most the current stretch's evaluation.

  Args:
    steps: step counts, e.g. [1000, 2000, 5000]; evaluated in rising order.
    data_dir: cifar10_train's --data_dir.
    output_dir: where the CSV, the checkpoints kept and eval/ go.
    train_dir: cifar10_train's --train_dir (default output_dir/train).
    batch_size: cifar10_train's --batch_size.
    mode_flags: flags for both programs, e.g. ['--mixed_precision'].

  Returns:
    All rows of the curve (dicts with CIFAR10_FIELDS), in step order.

  Raises:
    ValueError: a program failed, or the CSV or train_dir do not belong
      together (the message says what to do).
  """
  train_dir = train_dir or os.path.join(output_dir, 'train')
  csv_path = os.path.join(output_dir, CSV_NAME)
  rows = read_cifar10_csv(csv_path)
  done = {row['steps'] for row in rows}
  reached = _checkpoint_step(train_dir)
  if rows and max(done) > reached:
    raise ValueError('%s has rows up to step %d but %s holds no checkpoint '
                     'beyond step %d: point --train_dir at that run, or use '
                     'a new --output_dir' % (csv_path, max(done), train_dir,
                                             reached))
  progress = _read_progress(output_dir)
  for target in sorted(set(steps) - done):
    kept = os.path.join(output_dir, 'checkpoints', 'step_%d' % target)
    pending = progress['pending']
    if not (pending and pending['steps'] == target and os.path.isdir(kept)):
      if target < reached:
        print('=== skipping %d steps: %s is already at step %d' % (
            target, train_dir, reached))
        continue
      reached = _train_stretch(target, data_dir, train_dir, batch_size,
                               mode_flags, output_dir, progress)
      _keep_checkpoint(train_dir, target, kept)
    print('=== cifar10_eval --run_once --checkpoint_dir %s'
          % cifar10_cli.command_path(kept))
    sys.stdout.flush()
    out = _run('cifar10.cifar10_eval', [
        '--data_dir', data_dir, '--checkpoint_dir', kept, '--eval_dir',
        os.path.join(output_dir, 'eval'), '--run_once'] + list(mode_flags))
    row = dict(progress['pending'])
    row['precision'] = float(PRECISION_LINE.findall(out)[-1])
    rows.append(row)
    rows.sort(key=lambda row: row['steps'])
    write_csv(rows, csv_path, CIFAR10_FIELDS)
    progress['pending'] = None
    _write_progress(output_dir, progress)
  return rows


def _train_stretch(target, data_dir, train_dir, batch_size, mode_flags,
                   output_dir, progress):
  """cifar10_train up to step target; the stretch's row goes in progress."""
  print('=== cifar10_train --max_steps %d --train_dir %s' % (
      target, cifar10_cli.command_path(train_dir)))
  sys.stdout.flush()
  rates = []

  def collect(line):
    found = RATE.search(line)
    if found and int(found.group(1)) > 0:  # Step 0 includes start-up.
      rates.append(float(found.group(2)))

  start = time.time()
  try:
    _run('cifar10.cifar10_train', [
        '--data_dir', data_dir, '--train_dir', train_dir, '--max_steps',
        str(target), '--batch_size', str(batch_size)] + list(mode_flags),
         log=collect)
  finally:
    # Time spent counts even when the stretch was interrupted.
    progress['train_seconds'] += time.time() - start
    _write_progress(output_dir, progress)
  reached = _checkpoint_step(train_dir)
  if reached != target:
    raise ValueError('cifar10_train stopped at step %d, not %d' % (
        reached, target))
  progress['pending'] = {
      'steps': target, 'wall_seconds': progress['train_seconds'],
      'examples_per_sec': statistics.median(rates) if rates else 0.0}
  _write_progress(output_dir, progress)
  return reached


def _parser():
  parser = new_parser(PROG, __doc__)
  parser.add_argument('--tutorial', choices=TUTORIALS, default='mnist',
                      help='Which lab: MNIST (fully_connected_feed) or '
                      'CIFAR-10 (cifar10_train and cifar10_eval).')
  parser.add_argument('--steps', type=int_at_least(1), nargs='+',
                      help='The step counts (default: %s for MNIST, %s for '
                      'CIFAR-10).' % tuple(
                          ' '.join(map(str, DEFAULT_STEPS[t]))
                          for t in TUTORIALS))
  parser.add_argument('--output_dir', help='Where the CSV, the plots and '
                      'the runs go (default: %s or %s).' % tuple(
                          DEFAULT_OUTPUT_DIRS[t] for t in TUTORIALS))
  parser.add_argument('--input_data_dir', help='MNIST: directory of the '
                      'MNIST files (default: %s).' % MNIST_DATA_DIR)
  parser.add_argument('--fake_data', action='store_true',
                      help='MNIST: use fake data (checks the program, no '
                      'files).')
  parser.add_argument('--data_dir', help='CIFAR-10: cifar10_train\'s '
                      '--data_dir (default: %s).' % CIFAR10_DATA_DIR)
  parser.add_argument('--train_dir', help='CIFAR-10: cifar10_train\'s '
                      '--train_dir (default: <output_dir>/train).')
  parser.add_argument('--batch_size', type=int_at_least(1), help='CIFAR-10: '
                      'cifar10_train\'s --batch_size (default: 128).')
  parser.add_argument('--mixed_precision', action='store_true',
                      help='CIFAR-10: train and evaluate with '
                      '--mixed_precision (faster where the CPU has bfloat16 '
                      'arithmetic or there is a GPU).')
  return parser


def main(argv=None):
  """The program: parses flags, trains, writes the CSV and the plots."""
  parser = _parser()
  flags = parse_flags(parser, argv)
  mnist_only = ('--input_data_dir', flags.input_data_dir), (
      '--fake_data', flags.fake_data or None)
  cifar10_only = (('--data_dir', flags.data_dir),
                  ('--train_dir', flags.train_dir),
                  ('--batch_size', flags.batch_size),
                  ('--mixed_precision', flags.mixed_precision or None))
  for name, value in (cifar10_only if flags.tutorial == 'mnist'
                      else mnist_only):
    if value is not None:
      parser.error('%s applies to --tutorial %s only' % (
          name, 'cifar10' if flags.tutorial == 'mnist' else 'mnist'))
  if precision_plots.pyplot() is None:  # Now, not after hours of training.
    sys.exit(NO_MATPLOTLIB)
  steps = flags.steps or list(DEFAULT_STEPS[flags.tutorial])
  output_dir = flags.output_dir or DEFAULT_OUTPUT_DIRS[flags.tutorial]
  try:
    os.makedirs(output_dir, exist_ok=True)
    if flags.tutorial == 'mnist':
      _main_mnist(flags, steps, output_dir)
    else:
      _main_cifar10(flags, steps, output_dir)
  except (OSError, ValueError) as e:
    sys.exit(cifar10_cli.error_line(PROG, e))


def _main_mnist(flags, steps, output_dir):
  rows = measure(steps, flags.input_data_dir or MNIST_DATA_DIR, output_dir,
                 flags.fake_data)
  paths = [os.path.join(output_dir, n) for n in (
      CSV_NAME, 'precision_vs_steps.png', 'loss.png')]
  write_csv(rows, paths[0], MNIST_FIELDS)
  precision_plots.plot_precision(rows, paths[1])
  precision_plots.plot_losses(
      {row['max_steps']: precision_plots.read_losses(row['log_dir'])
       for row in rows}, paths[2])
  print('\nmax_steps  train   validation  test    seconds')
  for row in rows:
    print('%9d  %.4f  %.4f      %.4f  %7.1f' % (
        row['max_steps'], row['train_precision'],
        row['validation_precision'], row['test_precision'], row['seconds']))
  for path in paths:
    print('Wrote', path)


def _main_cifar10(flags, steps, output_dir):
  rows = measure_cifar10(
      steps, flags.data_dir or CIFAR10_DATA_DIR, output_dir, flags.train_dir,
      flags.batch_size or 128,
      ['--mixed_precision'] if flags.mixed_precision else [])
  paths = [os.path.join(output_dir, n) for n in (
      CSV_NAME, 'precision_vs_steps.png', 'precision_vs_time.png')]
  precision_plots.plot_cifar10(rows, paths[1], paths[2])
  print('\n    steps  precision  wall minutes  examples/sec')
  for row in rows:
    print('%9d  %.3f      %12.1f  %12.1f' % (
        row['steps'], row['precision'], row['wall_seconds'] / 60.0,
        row['examples_per_sec']))
  for path in paths:
    print('Wrote', path)


def run():
  """Entry point of the precision_vs_steps console script."""
  cifar10_cli.run_plain(main, PROG)


if __name__ == '__main__':
  run()
