"""The installed MNIST commands, clean under Ctrl-C from their first moment.

A program spends its first seconds importing TensorFlow. Ctrl-C then would
print a KeyboardInterrupt traceback, and SIGTERM would end it silently. So
the console scripts start here: each function below first installs
handlers that print one line and exit at once (nothing has been written
yet), and only then imports its program and calls its run(). The programs
call startup() at their top for `python prog.py` and `python -m`.

This module uses only the standard library, so it loads in milliseconds.
Before it does, in the interpreter's own first tens of milliseconds, a
signal does what it does to any Python program: SIGTERM ends it silently,
SIGINT with Python's KeyboardInterrupt; nothing has been written.

Windows has no SIGTERM from other processes (a program there is ended
without warning, as by kill -9 elsewhere); Ctrl+C and Ctrl+Break are its
signals.

 startup('mnist_deep')    # SIGINT/SIGTERM: one line, exit 128 + signum
 run_and_finish(run)      # then a late signal changes nothing
 mnist_deep()             # the `mnist_deep` command, and one per program
 SIGNALS                  # the signals that stop a program, here
 quiet_tensorflow_import()  # TensorFlow's start-up notices off stderr
"""

import contextlib
import importlib
import importlib.abc
import importlib.util
import os
import re
import signal
import sys
import tempfile

# What stops a program: Ctrl-C, `kill`, and Windows' Ctrl+Break.
SIGNALS = tuple(getattr(signal, name) for name in ('SIGINT', 'SIGTERM',
                                                   'SIGBREAK')
                if hasattr(signal, name))
# What a console or a file redirected from it cannot encode comes out as
# \\uXXXX instead of ending the program (a Windows console is cp950 or
# cp1252, and a path may hold any character).
CONSOLE_ERRORS = 'backslashreplace'
# What TensorFlow writes to stderr while it loads, before its logging is
# set up and whatever TF_CPP_MIN_LOG_LEVEL says: absl's notice that it is
# not, and INFO lines ('oneDNN custom operations are on'). Kept off the
# terminal; its warnings and errors are not.
TENSORFLOW_IMPORT_NOTICES = re.compile(
    rb'WARNING: All log messages before absl::InitializeLog\(\) is called '
    rb'are written to STDERR$|I\d{4} [\d:.]+ +\d+ \S+:\d+\] ')


class _Terminal(object):
  """Where stderr goes while TensorFlow's import borrows descriptor 2."""
  fd = 2


@contextlib.contextmanager
def _notices_kept_off():
  """Keeps TENSORFLOW_IMPORT_NOTICES off stderr in the with-block.

  They come from TensorFlow's C++ code, so descriptor 2 itself goes to a
  file meanwhile; then every other line is passed on.
  """
  sys.stderr.flush()
  try:
    saved = os.dup(2)
    log = tempfile.TemporaryFile()
  except OSError:
    yield
    return
  os.dup2(log.fileno(), 2)
  _Terminal.fd = saved
  try:
    yield
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    _Terminal.fd = 2
    os.close(saved)
    log.seek(0)
    kept = [line for line in log.read().splitlines(True)
            if not TENSORFLOW_IMPORT_NOTICES.match(line.rstrip(b'\r\n'))]
    log.close()
    if kept:
      os.write(2, b''.join(kept))


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
  """Finds tensorflow for whoever imports it first, and loads it quietly."""

  def __init__(self):
    self._finding = False

  def find_spec(self, fullname, path=None, target=None):
    del path, target
    if fullname != 'tensorflow' or self._finding:
      return None
    self._finding = True  # The lookup below asks here again.
    try:
      spec = importlib.util.find_spec(fullname)
    finally:
      self._finding = False
    if spec is not None and spec.loader is not None:
      load = spec.loader.exec_module

      def exec_module(module):
        if self in sys.meta_path:  # Once loading, its work is done.
          sys.meta_path.remove(self)
        with _notices_kept_off():
          load(module)
      spec.loader.exec_module = exec_module
    return spec


def startup(prog):
  """Makes Ctrl-C and SIGTERM end the process at once, with one line.

  For the start-up only: os._exit skips cleanup, which is right while
  nothing has been written, and works in the middle of any import. The
  program's run() replaces these handlers before it writes anything.
  Also makes every line printable on this console (see CONSOLE_ERRORS), and
  keeps the notices TensorFlow prints while it loads off the terminal
  (TENSORFLOW_IMPORT_NOTICES).

  Args:
    prog: the program's name, which starts the line.
  """
  for stream in (sys.stdout, sys.stderr):
    if hasattr(stream, 'reconfigure'):  # Not when a caller replaced it.
      stream.reconfigure(errors=CONSOLE_ERRORS)
  def handle(signum, frame):
    del frame  # Unused.
    line = '%s: stopped by %s during start-up; nothing was written.\n' % (
        prog, signal.Signals(signum).name)
    # No Python buffers: safe in a handler.
    os.write(_Terminal.fd, line.encode())
    os._exit(128 + signum)
  for signum in SIGNALS:
    signal.signal(signum, handle)
  quiet_tensorflow_import()


def quiet_tensorflow_import():
  """Keeps TENSORFLOW_IMPORT_NOTICES off stderr when TensorFlow loads.

  For whoever imports it next; nothing happens if it is loaded already.
  The package calls this as it is imported, the programs in startup().
  """
  if 'tensorflow' not in sys.modules and not any(
      isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietTensorFlowImport())


def run_and_finish(run):
  """Calls run(), then ignores Ctrl-C and SIGTERM while the process exits.

  Once run() is over the program's work is done (or its error printed);
  a signal during the exit would only add a traceback or cut it short.

  Args:
    run: the program's run function, called without arguments.
  """
  try:
    run()
  finally:
    for signum in SIGNALS:
      signal.signal(signum, signal.SIG_IGN)


def _launch(module):
  startup(module)
  # Imported by name, after the handlers: the programs import this module
  # for their own start, so a static import would be a circle.
  run_and_finish(importlib.import_module('mnist.' + module).run)


def fully_connected_feed():
  """The fully_connected_feed command."""
  _launch('fully_connected_feed')


def mnist_softmax():
  """The mnist_softmax command."""
  _launch('mnist_softmax')


def mnist_softmax_xla():
  """The mnist_softmax_xla command."""
  _launch('mnist_softmax_xla')


def mnist_with_summaries():
  """The mnist_with_summaries command."""
  _launch('mnist_with_summaries')


def mnist_deep():
  """The mnist_deep command."""
  _launch('mnist_deep')


def handwriting_pad():
  """The handwriting_pad command."""
  _launch('handwriting_pad')
