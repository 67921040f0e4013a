"""Shared fixtures: where the project and the real data sets are, and a
runner for the programs as a user starts them (a subprocess)."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.normpath(os.path.join(REPO, '..', 'shared', 'data'))


def program_env(**extra):
  """The environment a program runs in: quiet TensorFlow, nothing else set."""
  env = dict(os.environ)
  env['TF_CPP_MIN_LOG_LEVEL'] = '2'
  env['PYTHONUNBUFFERED'] = '1'
  env.pop('PYTHONPATH', None)
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


@pytest.fixture
def shared_data():
  """../shared/data beside the checkout, or skip the test."""
  if not os.path.isdir(SHARED_DATA):
    pytest.skip('real data sets not found at %s (they sit beside the '
                'checkout as ../shared/data on the project machines)'
                % SHARED_DATA)
  return SHARED_DATA
