"""Checks, on your own machine, what the project's tests cannot reach.

The tests run on Linux. What only your system can show (Ctrl+C in a real
cmd or PowerShell window, Windows' file locks on NTFS, Apple's build of
TensorFlow on a Mac), this checks where you run it:

  python scripts/check_platform.py        # about a minute

(python3 where `python` is not found.) Like the quick start, it makes .venv
and installs the project there first if that was not done yet; with
--no_venv the programs run with this Python instead, as in the course's
Anaconda environment (`activate tensorflow`, the project installed there
with pip), whose numpy is the one that brings Intel's Fortran runtime and
its Ctrl+C handler. It trains
the tutorial's network on a tiny made-up data set in a temporary folder
(nothing is downloaded), as the course does, and checks:

  1. cifar10_train starts and trains (its step lines appear);
  2. a second cifar10_train on the same --train_dir is refused in one line
     naming the first: the operating system's file lock;
  3. Ctrl+C saves a checkpoint and ends the trainer with one line, exit
     status 0. On Windows this is the console's own Ctrl+C event, sent to
     this console as the keyboard sends it (this check ignores it itself);
     there, 'forrtl: error (200)' would mean Anaconda's Fortran runtime
     killed the trainer first;
  4. on Windows, Ctrl+Break does the same;
  5. a trainer killed outright (Task Manager, kill -9) leaves no lock: the
     next one resumes from the last checkpoint;
  6. cifar10_eval --run_once evaluates it: `precision @ 1 = ...`.

Each check prints PASS or FAIL with what it saw, and the exit status is the
number of failures. Without a console window (an IDE's run button), the
Ctrl+C check says it cannot run.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# `python scripts/check_platform.py` puts scripts/ first on sys.path, but
# tests import this file from the root.
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
  sys.path.insert(0, HERE)
import setup_env

PROG = 'check_platform.py'  # starts the lines it prints
REPO = os.path.dirname(HERE)
EXTRAS = 'cpu'  # what the checks need installed into .venv
TIMEOUT = 300  # Seconds for any one step, on a slow laptop.
RECORD_BYTES = 1 + 32 * 32 * 3  # A CIFAR-10 record: label, R, G, B planes.
FILES = ['data_batch_%d.bin' % i for i in range(1, 6)] + ['test_batch.bin']


def make_data(folder, per_file=64):
  """A tiny CIFAR-10 set in the binary format: each image one grey level.

  The checks are about locks, signals and lines, not learning. Per-image
  standardization turns a one-level image into zeros, so there is nothing
  to learn and the loss cannot diverge: a trainer that diverged would end
  and let go of its lock before the second one asked for it.
  """
  batches = os.path.join(folder, 'cifar-10-batches-bin')
  os.makedirs(batches)
  for name in FILES:
    with open(os.path.join(batches, name), 'wb') as f:
      for i in range(per_file):
        label = i % 10
        f.write(bytes([label] + [40 + 20 * label] * (RECORD_BYTES - 1)))
  return folder


class Trainer(object):
  """cifar10_train in a process of its own, its output in a file."""

  def __init__(self, python, work, data_dir, train_dir, max_steps, name,
               own_group=False):
    self.log = os.path.join(work, name + '.log')
    flags = {}
    if own_group:
      # The only way to send Ctrl+Break to one process on Windows.
      flags['creationflags'] = subprocess.CREATE_NEW_PROCESS_GROUP
    with open(self.log, 'wb') as out:
      self.proc = subprocess.Popen(
          [python, '-m', 'cifar10.cifar10_train', '--data_dir',
           data_dir, '--train_dir', train_dir, '--max_steps', str(max_steps),
           '--batch_size', '32', '--log_frequency', '5'], cwd=REPO,
          stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
          env=dict(os.environ, PYTHONIOENCODING='utf-8',
                   TF_CPP_MIN_LOG_LEVEL='2'), **flags)

  def output(self):
    with open(self.log, encoding='utf-8', errors='replace') as f:
      return f.read()

  def wait_for(self, text):
    """Waits until the output holds text; False if the trainer ended first."""
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
      if text in self.output():
        return True
      if self.proc.poll() is not None:
        return text in self.output()
      time.sleep(0.2)
    return False

  def finish(self):
    try:
      self.proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
      self.proc.kill()
      self.proc.wait()
    return self.proc.returncode, self.output().strip().splitlines()


def _ctrl_c(trainer):
  """Sends Ctrl+C as the keyboard does; returns why not, or None."""
  if os.name != 'nt':
    trainer.proc.send_signal(signal.SIGINT)
    return None
  previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
  try:
    # The console's event reaches every process on it, this one included.
    os.kill(0, signal.CTRL_C_EVENT)
    time.sleep(1)
  except OSError as e:
    return 'no console to send it to (%s): run this in cmd or PowerShell' % (
        e.strerror or e)
  finally:
    signal.signal(signal.SIGINT, previous)
  return None


def _checkpoint_step(train_dir):
  """The step of the checkpoint train_dir's state file names (0: none)."""
  try:
    with open(os.path.join(train_dir, 'checkpoint'), encoding='utf-8') as f:
      first = f.readline()
  except OSError:
    return 0
  return int(first.rsplit('-', 1)[-1].strip().strip('"') or 0)


class Report(object):
  """Prints each check's result; counts the failures."""

  def __init__(self):
    self.failures = 0

  def check(self, ok, what, seen=''):
    print('%s  %s%s' % ('PASS' if ok else 'FAIL', what,
                        '' if ok or not seen else '\n      saw: ' + seen))
    sys.stdout.flush()
    self.failures += not ok


def _stop_check(report, trainer, how):
  code, lines = trainer.finish()
  last = lines[-1] if lines else '(nothing)'
  report.check(code == 0 and last.startswith('Stopped by ') and
               'the checkpoint is in' in last and
               not any('forrtl' in line or 'Traceback' in line
                       for line in lines),
               '%s: checkpoint saved, one line, exit status 0' % how,
               '%s (exit status %s)' % (last, code))
  return code == 0


def run_checks(work, python=sys.executable):
  """Runs the checks in the folder work; returns the number of failures.

  Args:
    work: an empty folder for the data, the training and the logs.
    python: the Python with the project installed, which runs the programs.
  """
  report = Report()
  data_dir = make_data(os.path.join(work, 'data'))
  train_dir = os.path.join(work, 'train')
  first = Trainer(python, work, data_dir, train_dir, 1000000, 'first')
  started = first.wait_for(', loss = ')
  report.check(started, 'cifar10_train trains', first.output()[-300:])
  if not started:
    first.proc.kill()
    return report.failures
  second = Trainer(python, work, data_dir, train_dir, 10, 'second')
  code, lines = second.finish()
  report.check(code == 1 and lines and 'another trainer is using' in lines[-1]
               and 'pid %d' % first.proc.pid in lines[-1],
               'a second trainer on the folder is refused, naming the first',
               lines[-1] if lines else '(nothing)')
  why_not = _ctrl_c(first)
  if why_not:
    report.check(False, 'Ctrl+C: ' + why_not)
    first.proc.kill()
  else:
    _stop_check(report, first, 'Ctrl+C')
  if os.name == 'nt':
    breaking = Trainer(python, work, data_dir, train_dir, 1000000, 'break',
                       own_group=True)
    if breaking.wait_for(', loss = '):
      breaking.proc.send_signal(signal.CTRL_BREAK_EVENT)
    _stop_check(report, breaking, 'Ctrl+Break')
  killed = Trainer(python, work, data_dir, train_dir, 1000000, 'killed')
  killed.wait_for(', loss = ')
  killed.proc.kill()  # TerminateProcess on Windows, SIGKILL elsewhere.
  killed.proc.wait()
  after = Trainer(python, work, data_dir, train_dir,
                  _checkpoint_step(train_dir) + 5, 'after')
  code, lines = after.finish()
  report.check(code == 0 and any(line.startswith('Resuming from the '
                                                 'checkpoint at step')
                                 for line in lines),
               'after a trainer is killed, the next one resumes (no stale '
               'lock)', lines[-1] if lines else '(nothing)')
  proc = subprocess.run(
      [python, '-m', 'cifar10.cifar10_eval', '--run_once',
       '--data_dir', data_dir, '--checkpoint_dir', train_dir, '--eval_dir',
       os.path.join(work, 'eval'), '--num_examples', '64', '--batch_size',
       '32'], cwd=REPO, capture_output=True, encoding='utf-8',
      errors='replace', timeout=TIMEOUT, stdin=subprocess.DEVNULL,
      env=dict(os.environ, PYTHONIOENCODING='utf-8', TF_CPP_MIN_LOG_LEVEL='2'))
  lines = proc.stdout.strip().splitlines()
  report.check(proc.returncode == 0 and lines and
               ': precision @ 1 = ' in lines[-1],
               'cifar10_eval --run_once evaluates the checkpoint',
               (lines or proc.stderr.strip().splitlines() or ['?'])[-1])
  return report.failures


def main(argv=None):
  parser = setup_env.ArgumentParser(PROG, __doc__)
  parser.add_argument('--keep', action='store_true',
                      help='Keep the temporary folder (its logs) at the end.')
  parser.add_argument('--no_venv', action='store_true',
                      help='Run the programs with this Python (an Anaconda '
                      'environment, say) instead of .venv\'s.')
  flags = parser.parse_args(argv)
  setup_env.check_python('scripts/check_platform.py')
  if flags.no_venv:
    python = sys.executable
  else:
    python = setup_env.ensure_venv(REPO, EXTRAS)
  print('Checking on %s, Python %s, in %s ...' % (
      sys.platform, sys.version.split()[0], REPO))
  sys.stdout.flush()
  work = tempfile.mkdtemp(prefix='check_platform_')
  try:
    failures = run_checks(work, python)
  finally:
    if flags.keep:
      print('Logs are in %s' % work)
    else:
      shutil.rmtree(work, ignore_errors=True)
  print('%s: %d check(s) failed.' % ('FAIL' if failures else 'OK', failures))
  return failures


if __name__ == '__main__':
  setup_env.run_main(PROG, main)
