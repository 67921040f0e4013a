"""Shared fixtures: where the project and the real data sets are, and a
runner for the programs as a user starts them (a subprocess)."""

import os
import signal
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


@pytest.fixture
def shared_data():
  """../shared/data beside the checkout, or skip the test."""
  if not os.path.isdir(SHARED_DATA):
    pytest.skip('real data sets not found at %s (they sit beside the '
                'checkout as ../shared/data on the project machines)'
                % SHARED_DATA)
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
