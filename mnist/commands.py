"""The installed MNIST commands, clean under Ctrl-C from their first moment.

A program spends its first seconds importing TensorFlow. Ctrl-C then would
print a KeyboardInterrupt traceback, and SIGTERM would end it silently. So
the console scripts start here: each function below first installs
handlers that print one line and exit at once (nothing has been written
yet), and only then imports its program and calls its run(). The programs
call start_program() near their top, which does the same for `python
prog.py` and `python -m`, and answers --help before TensorFlow loads.

Every program has the same skeleton: main(argv=None) is the program (it
parses the flags and does the work), run() its entry point (`python
prog.py`, `python -m`, the installed command): run_and_finish(main).

This module uses only the standard library, so it loads in milliseconds.
Before it does, in the interpreter's own first tens of milliseconds, a
signal does what it does to any Python program: SIGTERM ends it silently,
SIGINT with Python's KeyboardInterrupt; nothing has been written.

Windows has no SIGTERM from other processes (a program there is ended
without warning, as by kill -9 elsewhere); Ctrl+C and Ctrl+Break are its
signals.

 start_program(__name__, 'mnist_deep', check_flags)  # each program's start
 startup('mnist_deep')    # SIGINT/SIGTERM: one line, exit 128 + signum
 run_and_finish(main)     # a program's run(): then a late signal changes
                          # nothing (in a kernel, Interrupt works as before)
 in_kernel()              # this process is a Jupyter or Colab kernel
 mnist_deep()             # the `mnist_deep` command, and one per program
 SIGNALS                  # the signals that stop a program, here
 quick_tensorflow_import()  # TensorFlow loads quicker, its notices hidden
"""

import contextlib
import gc
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


# A test sends a signal at a moment the program announces (TensorFlow
# starting to load), read from the file this variable names, instead of
# after a sleep that guesses how long the start takes.
MOMENTS_FILE_ENV = 'TF_TUTORIALS_MOMENTS'


def announce(moment):
  """Appends moment to the file MOMENTS_FILE_ENV names, if it is set."""
  path = os.environ.get(MOMENTS_FILE_ENV)
  if path:
    with open(path, 'a', encoding='utf-8') as f:
      f.write(moment + '\n')


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


class _QuickTensorFlowImport(importlib.abc.MetaPathFinder):
  """Loads TensorFlow quietly and without Keras, for whoever imports it first.

  TensorFlow's own import loads Keras "eagerly", to register Keras'
  optimizers (0.6 s of a 3 s import here, matplotlib included), which these
  programs never use: while TensorFlow loads, that import is refused, and
  TensorFlow carries on without it. Keras still loads whenever something
  asks for it afterwards (tf.keras, `import keras`).

  Python's garbage collector is off while TensorFlow loads, and what the
  load made is then frozen (gc.freeze: kept, and never scanned again): it
  is hundreds of thousands of objects that live as long as the program,
  and every collection after the import went through all of them again.
  A short cifar10_train run took 15% less CPU (5.2 -> 4.4 s, machine C).
  """

  def __init__(self):
    self._finding = False  # In our own lookup, which asks here again.
    self._loading = False  # TensorFlow's __init__ is running.

  def find_spec(self, fullname, path=None, target=None):
    del path, target
    if self._finding or fullname not in ('tensorflow', 'keras') or (
        fullname == 'keras' and not self._loading):
      return None
    self._finding = True
    try:
      spec = importlib.util.find_spec(fullname)
    finally:
      self._finding = False
    if spec is None or spec.loader is None:
      return spec
    if fullname == 'keras':
      def refuse(module):
        del module
        raise ImportError('Keras is not loaded while TensorFlow loads')
      spec.loader.exec_module = refuse  # Its spec still says where it is.
      return spec
    load = spec.loader.exec_module

    def exec_module(module):
      announce('tensorflow loading')
      self._loading = True
      collecting = gc.isenabled()
      gc.disable()
      try:
        with _notices_kept_off():
          load(module)
      finally:
        self._loading = False
        if collecting:
          gc.enable()
        gc.freeze()
        if self in sys.meta_path:  # Its work is done.
          sys.meta_path.remove(self)
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
  if not in_kernel():
    # In a kernel Interrupt raises KeyboardInterrupt, as in any cell: ending
    # the process would end the kernel.
    for signum in SIGNALS:
      signal.signal(signum, handle)
  quick_tensorflow_import()


def in_kernel():
  """Whether this process is a Jupyter or Colab kernel (ipykernel's).

  There a program runs inside the kernel's own process (`%run prog.py`),
  and leaves the kernel's Ctrl-C (its Interrupt button) as it found it.
  """
  return 'ipykernel' in sys.modules


def quick_tensorflow_import():
  """TensorFlow, when imported next, loads without Keras and quietly.

  See _QuickTensorFlowImport, and TENSORFLOW_IMPORT_NOTICES for what is
  kept off stderr. Nothing happens if TensorFlow is loaded already.
  The package calls this as it is imported, the programs in startup().
  """
  # The cifar10 and mnist packages each have one, and a cifar10 program that
  # reads MNIST imports both: the first in place does the work. Two would
  # nest, and a signal while TensorFlow loads would write its line into the
  # outer one's file of notices, never shown (make_cifar10_dataset printed
  # nothing at all).
  if 'tensorflow' not in sys.modules and not any(
      type(f).__name__ == _QuickTensorFlowImport.__name__
      for f in sys.meta_path):
    sys.meta_path.insert(0, _QuickTensorFlowImport())
  if in_kernel():
    # A kernel shows descriptor 2 in the notebook: C++ notices hidden there
    # as a program hides them in a terminal (they are read as TF loads).
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def run_and_finish(main):
  """Calls main(), then ignores Ctrl-C and SIGTERM while the process exits.

  Once main() is over the program's work is done (or its error printed);
  a signal during the exit would only add a traceback or cut it short. A
  program's run() is this, with its main. In a kernel (`%run prog.py`),
  which goes on, the handlers are put back as they were instead.

  Args:
    main: the program's main function, called without arguments.
  """
  previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
  try:
    main()
  finally:
    for signum in SIGNALS:
      signal.signal(signum,
                    previous[signum] if in_kernel() else signal.SIG_IGN)


class _Launched(object):
  """The module an installed command is starting (see _launch)."""
  module = None


def start_program(module_name, prog, check_flags=None):
  """The start of every program: startup(prog) when it runs as a program.

  Each program calls this as its first line after the imports it needs for
  it, with its own __name__: run as `python prog.py`, `python -m ...` or as
  its installed command, it starts; imported as a library, nothing happens.
  With check_flags (a function that parses the command line with the
  program's parser, which must not need TensorFlow), --help is answered and
  a bad flag refused now, not after seconds of loading TensorFlow.

  Args:
    module_name: the program's __name__.
    prog: the program's name.
    check_flags: None, or a function of no arguments that parses sys.argv
      (and exits on --help or a bad flag).
  """
  if module_name not in ('__main__', _Launched.module):
    return
  startup(prog)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # C++ notices hidden.
  if check_flags is not None:
    check_flags()


def _launch(module):
  startup(module)
  _Launched.module = 'mnist.' + module
  # Imported by name, after the handlers: the programs import this module
  # for their own start, so a static import would be a circle.
  importlib.import_module(_Launched.module).run()


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
