r"""Sets up .venv with the test tools and runs the whole test suite, the same
command in cmd, PowerShell, bash and zsh.

  python scripts/run_tests.py [pytest arguments]

(python3 where `python` is not found.) It makes or updates .venv as
scripts/quickstart.py does, with the extras cpu, tensorboard, plot and test
(pytest, pytest-xdist, TensorBoard, matplotlib, ruff, selenium), then runs
with .venv's Python, each command printed first:

  .venv/bin/python -m ruff check cifar10 mnist scripts tests setup.py
  .venv/bin/python -m pytest -n 2 --dist loadfile --durations=25 [arguments]

(.venv\Scripts\python.exe on Windows.) Two processes, a test file each at
a time (its module fixtures are built once), the longest files first
(conftest.SLOW_FILES_FIRST): most of the suite's CPU goes into the programs
it starts, each loading TensorFlow, so on two cores two processes finish
soonest (README's Results say how soon). The 25 slowest tests are listed
at the end.

Every argument goes to pytest unchanged, after those: `-k cifar10 -x` runs
the CIFAR-10 tests up to the first failure; `-n 0 -s` runs them in one
process and shows their output (a later -n overrides the first). Only -h
and --help are this program's; pytest's own help is `python -m pytest
--help` in .venv.

The exit status is pytest's; when ruff finds a style error the tests do not
run, and the status is ruff's. CI runs exactly this command (.ci/run).
"""

import os
import sys

# `python scripts/run_tests.py` puts scripts/ first on sys.path, but
# `python -m scripts.run_tests` (and tests) import this file from the root.
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
  sys.path.insert(0, HERE)
import setup_env

PROG = 'run_tests.py'  # starts the lines it prints
ROOT = os.path.dirname(HERE)  # the repository
EXTRAS = 'cpu,tensorboard,plot,test'  # the suite's tools, in .venv
# What ruff checks: every Python file of the project.
RUFF = ['ruff', 'check', 'cifar10', 'mnist', 'scripts', 'tests', 'setup.py']
# setup_env's pytest command, with the slowest tests listed.
PYTEST = setup_env.PYTEST + ['--durations=25']


def suite_commands(python, pytest_args=()):
  """The style check and the test run, as .venv's Python runs them.

  Args:
    python: .venv's Python.
    pytest_args: arguments for pytest, after its defaults.

  Returns:
    [ruff command, pytest command], each a list of arguments.
  """
  return [[python, '-m'] + RUFF,
          [python, '-m'] + PYTEST + list(pytest_args)]


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  parser = setup_env.ArgumentParser(PROG, __doc__)
  parser.usage = '%(prog)s [-h] [pytest arguments]'
  # argparse sees the help flags alone: everything else is pytest's,
  # passed on unchanged and in order.
  parser.parse_args([a for a in argv if a in ('-h', '--help')])
  setup_env.check_python('scripts/run_tests.py')
  python = setup_env.ensure_venv(ROOT, EXTRAS)
  env = setup_env.program_environ(ROOT)
  ruff, pytest = suite_commands(python, argv)
  code, interrupted = setup_env.run_program(ruff, ROOT, env)
  if code != 0 and not interrupted:
    sys.stderr.write('%s: ruff found style errors (above), so the tests did '
                     'not run.\n' % PROG)
  if code != 0 or interrupted:
    return setup_env.exit_status(code)
  code, _ = setup_env.run_program(pytest, ROOT, env)
  return setup_env.exit_status(code)


if __name__ == '__main__':
  setup_env.run_main(PROG, main)
