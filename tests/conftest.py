"""Shared fixtures: where the project and the real data sets are, a runner
for the programs as a user starts them (a subprocess), and what the suite
trains once for all its test processes (build_once, real_mnist_deep)."""

import fcntl
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.normpath(os.path.join(REPO, '..', 'shared', 'data'))


# A shell without job control (a script, CI, `cmd &`) starts its background
# commands with SIGINT ignored, and the programs the tests start would
# inherit that: a SIGINT sent before their own handlers were in place would
# vanish. A user's terminal leaves SIGINT at its default; so do the tests.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
  signal.signal(signal.SIGINT, signal.default_int_handler)

# The suite runs in two processes on two cores (run_tests.py's -n 2), and
# nearly every test runs TensorFlow, in the process or in a program it
# starts. With TensorFlow's default of one thread per core for each op,
# the two processes' threads took turns on the same cores; with one each
# (setdefault: the environment may say otherwise), the suite took 7% less
# CPU and 9:29 instead of 10:11 (machine C, one run each). Programs see the
# setting as a user would set it; no test measures speed.
os.environ.setdefault('TF_NUM_INTRAOP_THREADS', '1')


# The test files that take longest, longest first (CPU seconds of the whole
# file with the programs it starts: machine C, 6 Dec 2026, 155 down to 30;
# test_notebooks, test_mixed_precision and test_gpu_check placed by their
# single-process times on 7 Dec, about 70, 45 and 30 s).
# They run before the others: each of the two test processes (run_tests.py's
# -n 2 --dist loadfile) takes the next file when it is done with one, and
# with test_windows_stdlib.py last in name order, one process was left
# running it alone at the end. Files not named follow in their usual order.
SLOW_FILES_FIRST = (
    'test_cifar10_programs.py', 'test_cifar10_faults.py',
    'test_classify_images.py', 'test_notebooks.py', 'test_windows_stdlib.py',
    'test_mnist_commands.py', 'test_cifar10_distributed.py',
    'test_precision_vs_steps.py', 'test_help.py', 'test_course_scripts.py',
    'test_mixed_precision.py', 'test_gpu_check.py',
    'test_benchmark_functions.py', 'test_mnist_training.py',
    'test_mnist_programs.py',
    'test_cifar10_vgg16.py', 'test_cifar10_multi_gpu.py',
    'test_fully_connected_feed.py', 'test_check_platform.py')


def pytest_collection_modifyitems(items):
  """Runs the files of SLOW_FILES_FIRST first, in that order."""
  missing = [name for name in SLOW_FILES_FIRST
             if not os.path.exists(os.path.join(REPO, 'tests', name))]
  if missing:  # Renamed: it would run last again, unnoticed.
    raise pytest.UsageError('conftest.SLOW_FILES_FIRST names missing files: '
                            + ', '.join(missing))

  def rank(item):
    name = os.path.basename(str(item.path))
    if name in SLOW_FILES_FIRST:
      return SLOW_FILES_FIRST.index(name)
    return len(SLOW_FILES_FIRST)
  items.sort(key=rank)  # Stable: each file keeps its tests' order.


def _signal_state():
  return ({signum: signal.getsignal(signum)
           for signum in (signal.SIGINT, signal.SIGTERM)},
          signal.pthread_sigmask(signal.SIG_BLOCK, []))


@pytest.fixture(autouse=True)
def signals_left_as_found():
  """Fails a test that leaves the test process's signal handling changed.

  The programs a test starts inherit ignored and blocked signals: a test
  that left SIGINT ignored made a later test's SIGINT vanish in its child.
  """
  before = _signal_state()
  yield
  after = _signal_state()
  if after != before:
    for signum, handler in before[0].items():
      signal.signal(signum, handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, before[1])
    pytest.fail('signal handling left changed: %r, not %r' % (after, before))


def program_env(**extra):
  """The environment a program runs in: quiet TensorFlow, nothing else set."""
  env = dict(os.environ)
  env['TF_CPP_MIN_LOG_LEVEL'] = '2'
  env['PYTHONUNBUFFERED'] = '1'
  env.pop('PYTHONPATH', None)
  env.pop('TF_CONFIG', None)  # A cluster's, if the suite runs in one.
  env.update(extra)
  return env


def run_program(args, cwd=REPO, timeout=600, env=None, check=True):
  """Runs `python ARGS...` and returns the CompletedProcess (text output).

  Args:
    args: what follows `python`, e.g. ['-m', 'cifar10.cifar10_eval', ...].
    cwd: working directory (the repo root by default).
    timeout: seconds before the test fails.
    env: extra environment variables.
    check: fail the test, showing both streams, unless the exit code is 0.
  """
  proc = subprocess.run([sys.executable] + list(args), cwd=cwd,
                        env=program_env(**(env or {})), capture_output=True,
                        text=True, timeout=timeout, stdin=subprocess.DEVNULL)
  if check and proc.returncode != 0:
    pytest.fail('%s exited %d\n--- stdout\n%s\n--- stderr\n%s' % (
        ' '.join(args), proc.returncode, proc.stdout, proc.stderr))
  return proc


# The file a program started with moments_env() announces its moments in
# (cifar10_cli.announce): 'tensorflow loading' as TensorFlow starts to load.
MOMENTS_FILE_ENV = 'TF_TUTORIALS_MOMENTS'


def moments_env(tmp_path):
  """(extra environment, file): a program run with it announces moments."""
  path = os.path.join(str(tmp_path), 'moments.txt')
  return {MOMENTS_FILE_ENV: path}, path


def wait_for_moment(path, moment, proc, timeout=120):
  """Returns once the program has announced moment in path; fails if it
  ends first or never does."""
  deadline = time.time() + timeout
  while time.time() < deadline:
    if os.path.exists(path):
      with open(path, encoding='utf-8') as f:
        if moment in f.read().splitlines():
          return
    if proc.poll() is not None:
      pytest.fail('the program ended (%s) before %r' % (proc.returncode,
                                                        moment))
    time.sleep(0.005)
  pytest.fail('no %r within %d s' % (moment, timeout))


def send_signal(proc, signum):
  """Sends a signal to a program; returns whether its handlers were in place.

  The programs install their SIGINT and SIGTERM handlers together, as their
  first line. Before that, in the interpreter's own first tens of
  milliseconds, SIGTERM has the system's default (killed, silently) and
  SIGINT Python's (KeyboardInterrupt); so whether SIGTERM was caught or
  ignored at the moment of sending says whose the signal was (Linux's
  /proc/<pid>/status; the process is not reaped before its wait).

  Args:
    proc: a subprocess.Popen of a program.
    signum: the signal to send.
  """
  with open('/proc/%d/status' % proc.pid) as status:
    fields = dict(line.split(':', 1) for line in status if ':' in line)
  bit = 1 << (signal.SIGTERM - 1)
  handled = (int(fields['SigCgt'], 16) | int(fields['SigIgn'], 16)) & bit
  proc.send_signal(signum)
  return bool(handled)


def check_interpreter_start(returncode, stdout, stderr, signum):
  """Checks the end of a program signalled before its handlers were in place.

  SIGTERM: killed by it, nothing printed. SIGINT: Python's KeyboardInterrupt
  (a traceback, or killed by SIGINT when it reaches the top), nothing on
  stdout. The caller checks that nothing was written.
  """
  assert stdout == '', stdout
  if signum == signal.SIGTERM:
    assert returncode == -signum and stderr == '', (returncode, stderr)
  else:
    assert returncode in (-signum, 1), (returncode, stderr)
    assert stderr == '' or stderr.rstrip('\n').endswith(
        'KeyboardInterrupt'), stderr


# .ci/run sets it: there a missing browser, data folder or test tool fails
# the test instead of skipping it (a public forge's runners have neither
# Chromium nor the data, and keep skipping with the reason).
REQUIRE_ALL_ENV = 'TF_TUTORIALS_REQUIRE_ALL'


def skip_unless_required(reason):
  """Skips the test with reason; fails it instead where REQUIRE_ALL_ENV is
  set."""
  if os.environ.get(REQUIRE_ALL_ENV):
    pytest.fail('%s (%s is set: this test must run here)' % (
        reason, REQUIRE_ALL_ENV), pytrace=False)
  pytest.skip(reason)


def import_or_skip(module, reason):
  """pytest.importorskip, failing instead where REQUIRE_ALL_ENV is set."""
  try:
    return importlib.import_module(module)
  except ImportError:
    skip_unless_required(reason)


@pytest.fixture
def shared_data():
  """../shared/data beside the checkout, or skip the test."""
  if not os.path.isdir(SHARED_DATA):
    skip_unless_required('real data sets not found at %s (they sit beside '
                         'the checkout as ../shared/data on the project '
                         'machines)' % SHARED_DATA)
  return SHARED_DATA


# A program whose signal arrives while TensorFlow raises (and would catch) an
# error of its own: the handler's Stopped comes out of pybind11 as a
# RuntimeError ('MISMATCH of original and normalized active exception
# types'), as seen once in a random-moment signal test. Deterministic here:
# the signal is sent from inside the error's constructor. The program's
# runner follows this text; its main(argv=None) is defined here.
SIGNAL_INSIDE_TF_ERROR = '''
import os, signal
import tensorflow as tf
from tensorflow.python.framework import errors_impl
original = errors_impl.InvalidArgumentError.__init__
def init(self, *args, **kwargs):
  os.kill(os.getpid(), signal.SIGTERM)
  original(self, *args, **kwargs)
errors_impl.InvalidArgumentError.__init__ = init
def main(argv=None):
  with tf.Graph().as_default():
    op = tf.constant(1.0).op
  op.get_attr('no_such_attr')  # InvalidArgumentError, in native code.
'''


@pytest.fixture(scope='session')
def shared_dir(tmp_path_factory):
  """A folder every process of this test run shares (pytest-xdist's too)."""
  base = tmp_path_factory.getbasetemp()
  # Under xdist each worker has its own base, in the run's one folder.
  root = base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base
  path = root / 'built_once'
  path.mkdir(exist_ok=True)
  return str(path)


def build_once(shared_dir, name, build):
  """A folder built once per test run, whichever process asks first.

  The others wait for it under a lock (flock: tests run on Linux). Treat it
  as read-only: a test that changes files copies it first (copy_of).

  Args:
    shared_dir: the shared_dir fixture.
    name: the folder's name.
    build: a function(folder) that fills the folder; it is built in place
      (checkpoints may name their folder), and a marker says it is whole.

  Returns:
    The folder's path.
  """
  folder = os.path.join(shared_dir, name)
  done = folder + '.done'
  with open(folder + '.lock', 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not os.path.exists(done):
      shutil.rmtree(folder, ignore_errors=True)  # A build that died.
      os.makedirs(folder)
      build(folder)
      open(done, 'w').close()
  return folder


def save_checkpoint(values, folder, step):
  """Saves {variable name: value} as folder/model.ckpt-<step>, the state
  file naming it last, as a trainer would; returns its path."""
  import tensorflow as tf
  tf1 = tf.compat.v1
  with tf.Graph().as_default():
    saved = {name: tf1.Variable(value, name='v%d' % i)
             for i, (name, value) in enumerate(sorted(values.items()))}
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      return tf1.train.Saver(saved).save(
          sess, os.path.join(folder, 'model.ckpt'), global_step=step)


def copy_of(folder, tmp_path, name='copy'):
  """A copy of a folder built once, for a test that changes it.

  TensorFlow's `checkpoint` state file names checkpoints by absolute path:
  the copy's names the copy's.
  """
  target = os.path.join(str(tmp_path), name)
  shutil.copytree(folder, target)
  state = os.path.join(target, 'checkpoint')
  if os.path.exists(state):
    with open(state, encoding='utf-8') as f:
      text = f.read()
    with open(state, 'w', encoding='utf-8') as f:
      f.write(text.replace(folder, target))
  return target


DEEP_STEPS, DEEP_LEARNING_RATE = 1500, 1e-3  # real_mnist_deep's training.


@pytest.fixture(scope='session')
def real_mnist_deep(shared_dir):
  """mnist_deep trained on the real MNIST, once for the whole run.

  Returns:
    {'log_dir': its checkpoints, 'accuracy': its test accuracy, 'test': the
    real MNIST test set}. Skips as shared_data does (which is per test, so
    a session fixture cannot use it).
  """
  if not os.path.isdir(SHARED_DATA):
    skip_unless_required('real data sets not found at %s' % SHARED_DATA)
  from mnist import input_data
  from mnist import mnist_deep
  data_sets = input_data.read_data_sets(os.path.join(SHARED_DATA, 'mnist'))

  def train(log_dir):
    start = time.time()
    accuracy, _ = mnist_deep.train(data_sets, log_dir, max_steps=DEEP_STEPS,
                                   learning_rate=DEEP_LEARNING_RATE)
    print('mnist_deep: %d steps, test accuracy %.4f, %.0f s' % (
        DEEP_STEPS, accuracy, time.time() - start))
    with open(os.path.join(log_dir, 'accuracy.json'), 'w',
              encoding='utf-8') as f:
      json.dump(accuracy, f)

  log_dir = build_once(shared_dir, 'real_mnist_deep', train)
  with open(os.path.join(log_dir, 'accuracy.json'), encoding='utf-8') as f:
    accuracy = json.load(f)
  return {'log_dir': log_dir, 'accuracy': accuracy, 'test': data_sets.test}
