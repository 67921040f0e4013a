"""How every CIFAR-10 program starts, shows its help and fails: one way.

Summary of available functions:

 # First thing a program does, before TensorFlow loads: Ctrl-C (Ctrl+Break
 # on Windows) or SIGTERM from now on ends it with one line, not a
 # traceback; every line it prints can be written to the console; with its
 # flags parsed (argparse), --help and bad flags are answered at once.
 start_program(__name__, prog, check_flags=None)  # the programs' one line
 start(prog)                                  # what it does, unconditionally
 SIGNALS                    # the signals that stop a program, here
 quick_tensorflow_import()  # TensorFlow loads quicker, its notices hidden

 # The tutorial's /tmp folders, as this system spells them, and a path as
 # a user types it in a command (for the hints programs print).
 folder = tmp_dir('cifar10_train')  # \\tmp\\cifar10_train on Windows
 text = command_path(folder)

 MODELS  # cifar10_train's --model names, for help given before TensorFlow

 # absl.app.run(main), where --help prints the program's docstring and all
 # of its flags (its own and those of the library modules it adopts), a bad
 # flag is one line, and so is every expected error raised in main.
 run(main, module, prog)
 run_plain(main, prog)      # the same for a main(argv=None) using argparse

 # Jupyter and Colab: `%run prog.py --flags` runs in the kernel's process,
 # as often as asked, before or after `import prog`, from the defaults
 # and its command line as in a terminal; the kernel's Interrupt and the
 # notebook's assigned flags are as before afterwards.
 in_kernel()                # this process is a kernel
 notebook_flags(FLAGS)      # there, FLAGS.x reads (and assigns) at once
 forget_earlier_copy('cifar10')  # a module's flags may be defined again

Every program has the same skeleton: main(argv) is the program (it reads
the flags and does the work), run() its entry point (`python prog.py`,
`python -m`, the installed command): run(main, ...) or run_plain(main,
...).
 line = error_line(prog, error)      # '<prog>: error: <one line>'

 # The installed commands (console scripts): start(prog), then the program.
 cifar10_train(), cifar10_eval(), ..., precision_vs_steps()

Importing this module loads nothing but Python's own modules (absl and
TensorFlow come when a program runs), so start() runs within milliseconds
of Python itself. Before that, in the interpreter's own first tens of
milliseconds, a signal does what it does to any Python program: SIGTERM
ends it silently, SIGINT with Python's KeyboardInterrupt; nothing has been
written.

Windows has no SIGTERM from other processes (a program there is ended
without warning, as by kill -9 elsewhere); Ctrl+C and Ctrl+Break are its
signals.
"""

import contextlib
import gc
import importlib
import importlib.abc
import importlib.util
import os
import re
import shlex
import signal
import sys
import tempfile

# What asks for help, as absl and argparse spell it.
HELP_ARGS = ('-h', '-help', '--help', '--helpshort', '-?')
# Exit status after a signal, as a shell reports a process killed by it.
SIGNAL_EXIT_BASE = 128
# The networks cifar10_train builds (--model): the tutorial's, and VGG-16.
# Here, without TensorFlow, for the programs that name them in their --help.
MODELS = ('cifar10', 'vgg16')
# What stops a program: Ctrl-C, `kill`, and Windows' Ctrl+Break.
SIGNALS = tuple(getattr(signal, name) for name in ('SIGINT', 'SIGTERM',
                                                   'SIGBREAK')
                if hasattr(signal, name))
# What a console or a file redirected from it cannot encode comes out as
# \uXXXX instead of ending the program (a Windows console is cp950 or
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


class Stopped(KeyboardInterrupt):
  """Ctrl-C or SIGTERM arrived while a program ran outside its training loop.

  A KeyboardInterrupt, so code that cleans up after Ctrl-C (finally blocks,
  `except KeyboardInterrupt`) does so for SIGTERM too.
  """

  def __init__(self, signal_name):
    super().__init__(signal_name)
    self.signal_name = signal_name


class _Terminal(object):
  """Where stderr goes while TensorFlow's import borrows descriptor 2."""
  fd = 2


def _quit_at_once(prog):
  def handle(signum, frame):
    del frame
    os.write(_Terminal.fd, (
        '%s: stopped by %s while starting; nothing was written.\n' % (
            prog, signal.Signals(signum).name)).encode())
    # Nothing is open yet, so nothing needs unwinding: and an exception
    # raised inside TensorFlow's import would print a traceback.
    os._exit(SIGNAL_EXIT_BASE + signum)
  return handle


class _Received(object):
  """The Stopped a signal raised, if any (process-wide, as handlers are)."""
  stopped = None


def _raise_stopped(signum, frame):
  del frame
  _Received.stopped = Stopped(signal.Signals(signum).name)
  raise _Received.stopped


def _install(handler):
  for signum in SIGNALS:
    signal.signal(signum, handler)


def in_kernel():
  """Whether this process is a Jupyter or Colab kernel (ipykernel's).

  There a program runs inside the kernel's own process (`%run prog.py`),
  so it leaves as it found them what outlives it: Ctrl-C (the kernel's
  Interrupt button), and the flags the notebook assigned. The kernel's own
  arguments (`-f kernel.json`) are no command line.
  """
  return 'ipykernel' in sys.modules


def notebook_flags(flag_values):
  """In a kernel, flags read as their defaults, or as assigned, at once.

  absl raises UnparsedFlagAccessError on reading a flag before parsing, and
  tf.compat.v1.flags.FLAGS parses sys.argv on its first use, where the
  kernel's `-f kernel.json` is an unknown flag. The walk-throughs assign
  flags in a notebook (`FLAGS.data_dir = ...`) and read them back: so in a
  kernel the flags count as parsed from the start. Elsewhere (a script
  that parses its command line later) nothing changes.

  Args:
    flag_values: absl's FLAGS.
  """
  if in_kernel() and not flag_values.is_parsed():
    flag_values.mark_as_parsed()


def _file_of(module_name):
  """The file a module name stands for: its name, without folder or .py.

  absl names a flag's module by __name__ ('cifar10.cifar10_eval', or
  'cifar10_eval' imported beside it) or, for __main__, by sys.argv[0] (the
  script's path).
  """
  if module_name.endswith('.py'):
    return os.path.basename(module_name)[:-len('.py')]
  return module_name.rsplit('.', 1)[-1]


def forget_earlier_copy(name):
  """Drops the flags an earlier copy of module `name` defined, if any.

  In a kernel one file can run again, under its name or another: `%run
  cifar10_eval.py` after `import cifar10_eval`, a second %run (which reuses
  the first one's module), importlib.reload(cifar10) after editing it. absl
  would refuse its flags as defined twice (DuplicateFlagError); the copy
  now running defines them afresh. Each module that defines flags calls
  this first (the programs through start_program).

  Args:
    name: the module's file name without .py, e.g. 'cifar10_eval'.
  """
  flags_module = sys.modules.get('absl.flags')
  if flags_module is None:  # No flags yet: this is the first copy.
    return
  flag_values = flags_module.FLAGS
  for module_name, defined in list(
      flag_values.flags_by_module_dict().items()):
    if _file_of(module_name) == name:
      for flag in list(defined):
        if flag.name in flag_values and flag_values[flag.name] is flag:
          delattr(flag_values, flag.name)


def _flag_state(flag_values):
  """What the flags hold now, for _restore_flags."""
  return flag_values.is_parsed(), {
      name: (flag_values[name].value, flag_values[name].present,
             flag_values[name].using_default_value)
      for name in flag_values}


def _restore_flags(flag_values, state):
  """Puts the flags back as _flag_state found them."""
  parsed, values = state
  flag_values.unparse_flags()
  for name, (value, present, using_default) in values.items():
    if name in flag_values:
      flag = flag_values[name]
      flag.value, flag.present = value, present
      flag.using_default_value = using_default
  if parsed:
    flag_values.mark_as_parsed()


def console_safe():
  """Makes stdout and stderr replace what their encoding cannot write."""
  for stream in (sys.stdout, sys.stderr):
    if hasattr(stream, 'reconfigure'):  # Not when a caller replaced it.
      stream.reconfigure(errors=CONSOLE_ERRORS)


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


def start(prog):
  """Makes Ctrl-C and SIGTERM end the program with one line from now on.

  Call it before importing TensorFlow (which takes seconds): until run()
  begins the program, a signal exits at once with status 128 + signal.
  Also makes every line printable (see console_safe), and keeps the
  notices TensorFlow prints while it loads off the terminal
  (TENSORFLOW_IMPORT_NOTICES).

  Args:
    prog: the program's name, which starts the line.
  """
  console_safe()
  if not in_kernel():
    # In a kernel Interrupt raises KeyboardInterrupt, as in any cell: ending
    # the process would end the kernel.
    _install(_quit_at_once(prog))
  quick_tensorflow_import()
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # C++ notices hidden.


def quick_tensorflow_import():
  """TensorFlow, when imported next, loads without Keras and quietly.

  See _QuickTensorFlowImport, and TENSORFLOW_IMPORT_NOTICES for what is
  kept off stderr. Nothing happens if TensorFlow is loaded already.
  The package calls this as it is imported, the programs in start().
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


class _Launched(object):
  """The module an installed command is starting (see _launch)."""
  module = None


def start_program(module_name, prog, check_flags=None):
  """The start of every program: start(prog) when it runs as a program.

  Each program calls this as its first line after the imports it needs for
  it, with its own __name__: run as `python prog.py`, `python -m ...` or as
  its installed command, it starts; imported as a library, nothing happens.
  With check_flags (a function that parses the command line with the
  program's argparse parser, which must not need TensorFlow), --help is
  answered and a bad flag refused now, not after seconds of loading
  TensorFlow.

  Args:
    module_name: the program's __name__.
    prog: the program's name.
    check_flags: None, or a function of no arguments that parses sys.argv
      (and exits on --help or a bad flag).
  """
  forget_earlier_copy(prog)
  if module_name not in ('__main__', _Launched.module):
    return
  start(prog)
  if check_flags is not None:
    check_flags()


def tmp_dir(*parts, path=os.path):
  """A folder under the tutorial's /tmp, spelled for this system.

  The original's defaults were '/tmp/cifar10_train' and the like. On
  Windows such a path means \\tmp\\cifar10_train on the current drive
  (C:\\tmp\\cifar10_train when working in C:, as the course's lab does after
  `mkdir tmp`): the same folder, written the way that system writes it.

  Args:
    *parts: the folders below /tmp.
    path: the path module (os.path; ntpath or posixpath in tests).

  Returns:
    The path, e.g. '/tmp/cifar10_train' or '\\tmp\\cifar10_train'.
  """
  return path.join(path.sep, 'tmp', *parts)


def command_path(folder, path=os.path):
  """A path as a user types it in a command on this system.

  Separators are the system's own, and a path with spaces (or other
  characters the shell would split on) is quoted: "..." for Windows' cmd
  and PowerShell, '...' for a POSIX shell.

  Args:
    folder: a path.
    path: the path module (os.path; ntpath or posixpath in tests).

  Returns:
    The text to type.
  """
  text = path.normpath(folder) if folder else folder
  if path.sep == '\\':
    return '"%s"' % text if any(c in text for c in ' &()^;,=') else text
  return shlex.quote(text)


def error_line(prog, error):
  """The one line a program exits with when it meets an expected error.

  Args:
    prog: the program's name, which starts the line.
    error: an OSError or ValueError (a missing or malformed file, a bad
      flag), or a tf.errors.OpError raised while the graph ran.

  Returns:
    '<prog>: error: <message>', one line. An OpError keeps only its reason:
    TensorFlow starts the message with `Graph execution error:` and a
    traceback of where the op was built, and the reason is the line after
    `Node: '...'`; older messages have it on their first line. Other
    messages have their lines joined.
  """
  if hasattr(error, 'message') and hasattr(error, 'error_code'):  # OpError
    lines = [line.strip() for line in error.message.split('\n')
             if line.strip()] or [type(error).__name__]
    reason = lines[0]
    if reason.startswith('Graph execution error'):
      for before, line in zip(lines, lines[1:], strict=False):
        if before.startswith('Node: '):
          reason = line
    return '%s: error: %s' % (prog, reason)
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  return '%s: error: %s' % (prog, ' '.join(lines))


def _help(module, prog):
  """The program's docstring and every flag it accepts, as --help prints."""
  from absl import flags
  doc = (module.__doc__ or '').strip()
  listed = flags.FLAGS.module_help(module).split('\n', 1)
  # module_help starts with the module's name: say whose flags they are.
  body = listed[1] if len(listed) > 1 else '  (none)'
  return '%s\n\nflags of %s:\n%s\n' % (doc, prog, body)


def _parse(argv, module, prog):
  """absl's flag parsing, with our --help and one-line flag errors."""
  from absl import flags
  args = argv[1:]
  if '--' in args:
    args = args[:args.index('--')]
  if any(a in HELP_ARGS for a in args):
    sys.stdout.write(_help(module, prog))
    sys.exit(0)
  if flags.FLAGS.is_parsed():
    # Parsed before in this process (a kernel's earlier %run, or its
    # notebook_flags): this run starts from the defaults, as a new process.
    flags.FLAGS.unparse_flags()
  try:
    rest = flags.FLAGS(argv)
  except flags.Error as e:
    sys.exit('%s: error: %s (see %s --help)' % (
        prog, str(e).strip().split('\n')[0], prog))
  if len(rest) > 1:
    # absl hands leftovers to main, where they would be silently ignored.
    sys.exit('%s: error: unexpected argument %r: every setting is a flag '
             '(see %s --help)' % (prog, rest[1], prog))
  return rest


def run(main, module, prog):
  """Runs a program's main(argv) under absl, with its flags parsed.

  Ctrl-C and SIGTERM raise Stopped from now on (a training loop turns them
  into a clean stop with a checkpoint instead); one that reaches here ends
  the program with one line and status 128 + signal. OSError, ValueError
  and TensorFlow's OpError end it with error_line() and status 1.

  Args:
    main: the program's main(argv).
    module: the program's module, whose docstring and key flags --help shows.
    prog: the program's name.
  """
  previous = _begin()
  from absl import app
  from absl import flags
  import tensorflow as tf  # The programs have loaded it already.
  # In a kernel the notebook's flags outlive the run: they come back after.
  notebook = _flag_state(flags.FLAGS) if in_kernel() else None
  try:
    app.run(main, flags_parser=lambda argv: _parse(argv, module, prog))
  except KeyboardInterrupt as e:
    _stopped(prog, e)
  except Exception as e:  # Perhaps a signal's Stopped, replaced.
    _stopped_if_signalled(prog)
    if not isinstance(e, (OSError, ValueError, tf.errors.OpError)):
      raise
    sys.exit(error_line(prog, e))
  finally:
    _finish(previous)
    if notebook is not None:
      _restore_flags(flags.FLAGS, notebook)


def run_plain(main, prog):
  """Runs a program whose main(argv=None) parses its own flags (argparse).

  Signals as in run(); OSError and ValueError end the program with
  error_line() and status 1. An int that main returns is the exit status;
  anything else (what a program returns to its library callers) means 0.

  Args:
    main: the program's main(argv=None).
    prog: the program's name.
  """
  previous = _begin()
  try:
    status = main()
  except KeyboardInterrupt as e:
    _stopped(prog, e)
  except Exception as e:  # Perhaps a signal's Stopped, replaced.
    _stopped_if_signalled(prog)
    if not isinstance(e, (OSError, ValueError)):
      raise
    sys.exit(error_line(prog, e))
  finally:
    _finish(previous)
  sys.exit(status if isinstance(status, int) else 0)


def _begin():
  """From now on Ctrl-C and SIGTERM raise Stopped; returns the old handlers."""
  _Received.stopped = None  # A new run (in a kernel, not the first).
  previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
  _install(_raise_stopped)
  return previous


def _finish(previous):
  """After a program's main: what becomes of Ctrl-C and SIGTERM."""
  if in_kernel():
    # The kernel goes on: its Interrupt button works as before the run.
    for signum, handler in previous.items():
      signal.signal(signum, handler)
    return
  # The work is done or its end reported: a signal while the interpreter
  # exits (joining TensorFlow's threads) would only turn a clean exit into
  # a death by that signal.
  _install(signal.SIG_IGN)


def _stopped_if_signalled(prog):
  """Ends the program as _stopped() does if a signal raised Stopped.

  The handler raises Stopped wherever the program is, and inside native
  code the exception can come out as another one: pybind11, meeting it
  while TensorFlow raised and caught an error of its own, turns it into a
  RuntimeError ('MISMATCH of original and normalized active exception
  types'). Whatever it became, the signal is what ended the program.
  """
  if _Received.stopped is not None:
    _stopped(prog, _Received.stopped)


def _stopped(prog, interrupt):
  """Ends the program after Ctrl-C or SIGTERM, with one line."""
  name = getattr(interrupt, 'signal_name', 'SIGINT')
  sys.stderr.write('%s: stopped by %s.\n' % (prog, name))
  sys.exit(SIGNAL_EXIT_BASE + signal.Signals[name])


def _launch(prog):
  """An installed command: start(prog), then load and run the program."""
  start(prog)
  _Launched.module = 'cifar10.' + prog
  importlib.import_module(_Launched.module).run()


def cifar10_train():
  """The cifar10_train command."""
  _launch('cifar10_train')


def cifar10_eval():
  """The cifar10_eval command."""
  _launch('cifar10_eval')


def cifar10_multi_gpu_train():
  """The cifar10_multi_gpu_train command."""
  _launch('cifar10_multi_gpu_train')


def cifar10_distributed_train():
  """The cifar10_distributed_train command."""
  _launch('cifar10_distributed_train')


def cnn_building_blocks():
  """The cnn_building_blocks command."""
  _launch('cnn_building_blocks')


def make_cifar10_dataset():
  """The make_cifar10_dataset command."""
  _launch('make_cifar10_dataset')


def precision_vs_steps():
  """The precision_vs_steps command."""
  _launch('precision_vs_steps')


def classify_images():
  """The classify_images command."""
  _launch('classify_images')
