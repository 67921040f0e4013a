r"""Runs the tests of TensorFlow's API surface on other TensorFlow versions:
by default the oldest the project admits and the newest on the index.

  python scripts/tensorflow_versions.py [--versions 2.16.2,2.22.0rc0]
                                       [pytest arguments]

(python3 where `python` is not found.) run_tests.py runs the whole suite
with the TensorFlow that setup.py gets today; this runs, for each version in
turn, the test files that use TensorFlow's API (API_TESTS: the input
pipelines, the model and its LRN, the programs, the evaluation, the course's
own scripts, MNIST), each command printed first:

  .venv-tf2.16.2/bin/python -m pip install -e .[cpu,test] \
      tensorflow-cpu==2.16.2
  .venv-tf2.16.2/bin/python -m pytest -n 2 --dist loadfile tests/test_...

(.venv-tf2.16.2\Scripts\python.exe on Windows.) Each version has its own
environment in the repository, made and installed once, again only when
setup.py changes (as .venv). It is tensorflow-cpu where that has wheels
(Linux x86-64, Windows x86-64) and tensorflow elsewhere, as setup.py's cpu
extra picks. CI runs this after the whole suite (.ci/run).

The Python that runs it needs wheels of every version asked for: TensorFlow
2.16 has them for Python 3.9-3.12, 2.22 for 3.10-3.14, so the default pair
needs 3.10-3.12. Arguments other than --versions go to pytest (`-x`).

Exit status: 0 when every version passed; otherwise the status of the first
that failed (pip's or pytest's), after every version was tried, with one
line for each failure at the end.
"""

import os
import platform
import sys

# `python scripts/tensorflow_versions.py` puts scripts/ first on sys.path, but
# tests import this file from the root.
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
  sys.path.insert(0, HERE)
import setup_env

PROG = 'tensorflow_versions.py'  # starts the lines it prints
ROOT = os.path.dirname(HERE)  # the repository
EXTRAS = 'cpu,test'
# setup.py admits TensorFlow 2.16 and later: 2.16's last patch release; and
# the newest release or release candidate on the index (7 Dec 2026). Raise
# NEWEST as TensorFlow releases (check_wheels.py shows what the index has).
OLDEST = '2.16.2'
NEWEST = '2.22.0rc0'
# The files whose tests exercise TensorFlow's API surface: about 230 tests,
# 2:20 on two cores (machine C).
API_TESTS = (
    'test_cifar10_input.py', 'test_cifar10_model.py', 'test_cifar10_lrn.py',
    'test_cifar10_programs.py', 'test_cifar10_eval.py',
    'test_course_scripts.py', 'test_mnist_input_data.py',
    'test_mnist_model.py', 'test_mnist_programs.py', 'test_mnist_training.py',
    'test_fully_connected_feed.py')


def distribution(machine=None, system=None):
  """'tensorflow-cpu' where it has wheels, else 'tensorflow' (setup.py's).

  Args:
    machine, system: platform.machine() and platform.system(), if not these.
  """
  machine = platform.machine() if machine is None else machine
  system = platform.system() if system is None else system
  if (system, machine) in (('Linux', 'x86_64'), ('Windows', 'AMD64')):
    return 'tensorflow-cpu'
  return 'tensorflow'


def pytest_command(python, pytest_args=()):
  """The pytest command that runs API_TESTS with an environment's Python."""
  return ([python, '-m'] + setup_env.PYTEST +
          ['tests/' + name for name in API_TESTS] + list(pytest_args))


def run_version(version, pytest_args=()):
  """Sets up .venv-tf<version> if needed and runs API_TESTS there.

  Returns:
    pytest's exit status.

  Raises:
    setup_env.SetupError: the environment could not be made or installed.
  """
  venv = '.venv-tf' + version
  python = setup_env.ensure_venv(ROOT, EXTRAS, venv,
                                 ['%s==%s' % (distribution(), version)])
  code, _ = setup_env.run_program(pytest_command(python, pytest_args),
                                  ROOT, setup_env.program_environ(ROOT, venv))
  return code


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  parser = setup_env.ArgumentParser(PROG, __doc__)
  parser.add_argument('--versions', default='%s,%s' % (OLDEST, NEWEST),
                      help='Comma-separated TensorFlow versions to test '
                      '(default: %(default)s).')
  flags, pytest_args = parser.parse_known_args(argv)
  versions = [v for v in flags.versions.split(',') if v]
  if not versions:
    parser.error('--versions names no version')
  failures = []
  for version in versions:
    try:
      code = run_version(version, pytest_args)
      why = 'pytest exited with status %d' % code
    except setup_env.SetupError as e:
      code, why = e.status, str(e)
    if code != 0:
      failures.append((version, code, why))
  for version, _, why in failures:
    sys.stderr.write('%s: TensorFlow %s failed: %s\n' % (PROG, version, why))
  if failures:
    return setup_env.exit_status(failures[0][1])
  sys.stdout.write('%s: TensorFlow %s: every API test passed.\n' % (
      PROG, ', '.join(versions)))
  return 0


if __name__ == '__main__':
  setup_env.run_main(PROG, main)
