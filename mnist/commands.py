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

 startup('mnist_deep')    # SIGINT/SIGTERM: one line, exit 128 + signum
 run_and_finish(run)      # then a late signal changes nothing
 mnist_deep()             # the `mnist_deep` command, and one per program
"""

import importlib
import os
import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C and `kill`.


def startup(prog):
  """Makes Ctrl-C and SIGTERM end the process at once, with one line.

  For the start-up only: os._exit skips cleanup, which is right while
  nothing has been written, and works in the middle of any import. The
  program's run() replaces these handlers before it writes anything.

  Args:
    prog: the program's name, which starts the line.
  """
  def handle(signum, frame):
    del frame  # Unused.
    line = '%s: stopped by %s during start-up; nothing was written.\n' % (
        prog, signal.Signals(signum).name)
    os.write(2, line.encode())  # No Python buffers: safe in a handler.
    os._exit(128 + signum)
  for signum in SIGNALS:
    signal.signal(signum, handle)


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
