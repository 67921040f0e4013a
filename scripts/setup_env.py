"""Makes the repository's .venv and installs the project into it.

The library of scripts/quickstart.py, run_tests.py and check_platform.py.
Python's own modules only: it runs before anything is installed, under
whatever Python the user typed, in cmd, PowerShell, bash or zsh alike.
Every failure is a SetupError whose message is one line naming what failed.

  parser = ArgumentParser(prog, __doc__)  # --help: the docstring as written
  run_main(prog, main)                    # exits with main's status
  check_python('scripts/quickstart.py')   # SetupError outside 3.10-3.14
  python = ensure_venv(root, 'cpu,tensorboard')   # .venv's python
  code, interrupted = run_program([python, '-m', 'cifar10.cifar10_eval'],
                                  root, program_environ(root))
  sys.exit(exit_status(code))
"""

import argparse
import difflib
import hashlib
import importlib.util
import ntpath
import os
import platform
import posixpath
import shlex
import shutil
import signal
import subprocess
import sys
import venv

# The Pythons some TensorFlow 2.16 or later has wheels for: 3.10-3.12 from
# 2.16, 3.13 from 2.20, 3.14 from 2.22 (a release candidate in December
# 2026, which pip installs there: no final release has a wheel for 3.14).
SUPPORTED = ((3, 10), (3, 14))
SUGGESTED = '3.12'  # the version a refusal suggests (any supported one)
STAMP = '.classic-tf-tutorials-installed'  # in .venv: the last install
# How the test runners start pytest: two processes, a test file each at a
# time (its module fixtures built once).
PYTEST = ['pytest', '-n', '2', '--dist', 'loadfile']
INTERRUPTED = 128 + signal.SIGINT  # exit status after Ctrl+C, as a shell's
# The signals run_program waits through: Ctrl+C, `kill`, and Windows'
# Ctrl+Break, which would otherwise end this process at once (mid-program).
STOP_SIGNALS = tuple(getattr(signal, name) for name in
                     ('SIGINT', 'SIGTERM', 'SIGBREAK') if hasattr(signal, name))
# Characters that make cmd or PowerShell split or reinterpret an argument.
WINDOWS_SPECIAL = ' &()^;,=%!\'`$@{}'


class SetupError(Exception):
  """What failed, in one line; status is the exit status it ends with."""

  def __init__(self, message, status=1):
    super().__init__(message)
    self.status = status


class ArgumentParser(argparse.ArgumentParser):
  """argparse as the programs here use it.

  --help prints the docstring as written; no flag may be abbreviated
  (--max_step is a mistake); an error is one line, suggesting a flag.
  """

  def __init__(self, prog, doc):
    super().__init__(prog=prog, description=doc, allow_abbrev=False,
                     formatter_class=argparse.RawDescriptionHelpFormatter)

  def error(self, message):
    words = message.split()
    hint = ''
    if message.startswith('unrecognized arguments:') and len(words) > 2:
      known = [o for a in self._actions for o in a.option_strings]
      close = difflib.get_close_matches(words[2].split('=')[0], known, n=1)
      if close:
        hint = ', did you mean %s?' % close[0]
    sys.stderr.write('%s: error: %s%s (see --help)\n' % (self.prog, message,
                                                          hint))
    sys.exit(2)


def run_main(prog, main):
  """Runs a program's main() and exits with the status it returns.

  A SetupError ends it with `<prog>: error: <message>`, Ctrl+C outside a
  running program with `<prog>: stopped by Ctrl+C.` (status 130).

  Args:
    prog: the program's name, which starts its lines.
    main: the program's main(), returning an exit status.
  """
  # A Windows console (cp950, cp1252) writes what it cannot as \uXXXX.
  for stream in (sys.stdout, sys.stderr):
    if hasattr(stream, 'reconfigure'):
      stream.reconfigure(errors='backslashreplace')
  try:
    status = main()
  except SetupError as e:
    sys.stderr.write('%s: error: %s\n' % (prog, e))
    status = e.status
  except KeyboardInterrupt:
    sys.stderr.write('%s: stopped by Ctrl+C.\n' % prog)
    status = INTERRUPTED
  sys.exit(status)


def check_python(script, version_info=None, os_name=None, conda=None):
  """Refuses a Python that TensorFlow has no wheels for, saying what to do.

  Args:
    script: the program's path from the repository root, with slashes
      ('scripts/quickstart.py'), for the command the message suggests.
    version_info: the version to check (sys.version_info; tests fake it).
    os_name: 'nt' for Windows, else 'posix' (os.name when None).
    conda: whether this Python is Anaconda's (looked up when None).

  Raises:
    SetupError: outside 3.10-3.14, saying how to run it with another.
  """
  version = tuple(sys.version_info if version_info is None else version_info)
  if SUPPORTED[0] <= version[:2] <= SUPPORTED[1]:
    return
  if conda is None:
    conda = os.path.isdir(os.path.join(sys.prefix, 'conda-meta'))
  windows = (os_name or os.name) == 'nt'
  if windows:
    script = script.replace('/', '\\')
  if conda:
    how = ('in Anaconda: conda create -n tf python=%s, conda activate tf, '
           'then python %s again' % (SUGGESTED, script))
  elif windows:
    how = 'e.g. py -%s %s' % (SUGGESTED, script)
  else:
    how = 'e.g. python%s %s' % (SUGGESTED, script)
  raise SetupError('this is Python %s, and TensorFlow needs Python '
                   '%d.%d-%d.%d: run it with one of those, %s' % (
                       '.'.join(str(part) for part in version[:3]),
                       *SUPPORTED[0], *SUPPORTED[1], how))


def venv_python(venv_dir, os_name=None):
  """The interpreter of a virtual environment.

  Args:
    venv_dir: the environment's folder.
    os_name: 'nt' for Windows, else 'posix' (os.name when None); the path
      has that system's separators.

  Returns:
    venv_dir/Scripts/python.exe on Windows, else venv_dir/bin/python.
  """
  if (os_name or os.name) == 'nt':
    return ntpath.join(venv_dir, 'Scripts', 'python.exe')
  return posixpath.join(venv_dir, 'bin', 'python')


def make_venv(venv_dir, with_pip=True):
  """Makes a virtual environment with the running Python (module venv).

  Args:
    venv_dir: the folder to make it in.
    with_pip: whether to install pip into it (tests make it without).

  Raises:
    SetupError: it could not be made (on Debian, it names python3-venv) or
      Ctrl+C stopped it; a folder this call made is then removed.
  """
  sys.stdout.write('Making %s with Python %s ...\n' % (
      venv_dir, platform.python_version()))
  sys.stdout.flush()
  debian = ''
  if sys.base_prefix == '/usr' and os.path.exists('/etc/debian_version'):
    debian = ('; on Debian or Ubuntu, install python3-venv first: '
              'sudo apt install python%d.%d-venv' % sys.version_info[:2])
  # Debian ships ensurepip (pip for a new environment) apart, in python3-venv;
  # without it, venv prints a page of advice and exits mid-program.
  if with_pip and importlib.util.find_spec('ensurepip') is None:
    raise SetupError('this Python cannot make a virtual environment with pip '
                     '(its module ensurepip is missing)' + debian)
  existed = os.path.isdir(venv_dir)
  # Symlinks to the interpreter as `python -m venv` makes; Windows copies.
  builder = venv.EnvBuilder(with_pip=with_pip, symlinks=os.name != 'nt')
  try:
    builder.create(venv_dir)
  except KeyboardInterrupt:
    _remove_new(venv_dir, existed)
    raise SetupError('making %s was stopped by Ctrl+C' % venv_dir,
                     INTERRUPTED) from None
  except subprocess.CalledProcessError as e:
    _remove_new(venv_dir, existed)
    text = (e.output or b'').decode('ascii', 'backslashreplace')
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    raise SetupError('making %s failed: %s exited with status %d%s%s' % (
        venv_dir, ' '.join(e.cmd[1:]), e.returncode,
        ' (%s)' % lines[-1] if lines else '', debian)) from None
  except (OSError, SystemExit) as e:  # Debian's venv may exit by itself.
    _remove_new(venv_dir, existed)
    raise SetupError('making %s failed: %s%s' % (venv_dir, e, debian)) from None


def _remove_new(folder, existed):
  """Removes a folder that did not exist before this program made it."""
  if not existed:
    shutil.rmtree(folder, ignore_errors=True)


def _digest(path):
  """The SHA-256 of a file's bytes, in hex."""
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def _read_stamp(path):
  """(setup.py digest, set of extras) of the last install, or (None, ())."""
  try:
    with open(path, encoding='ascii') as f:
      lines = f.read().split('\n')
  except (OSError, ValueError):
    return None, frozenset()
  if len(lines) < 2:
    return None, frozenset()
  return lines[0], frozenset(e for e in lines[1].split(',') if e)


def needs_install(venv_dir, setup_py, extras):
  """Whether pip must run: the stamp says what the last install was.

  Args:
    venv_dir: the environment's folder.
    setup_py: the project's setup.py.
    extras: the extras wanted, comma-separated ('cpu,tensorboard').

  Returns:
    (whether to install, the stamp's text to write after it succeeded).
  """
  digest = _digest(setup_py)
  wanted = frozenset(e for e in extras.split(',') if e)
  installed_digest, installed = _read_stamp(os.path.join(venv_dir, STAMP))
  if installed_digest == digest:
    if wanted <= installed:
      return False, None
    # The extras installed before are still there (pip removes none).
    wanted |= installed
  return True, '%s\n%s\n' % (digest, ','.join(sorted(wanted)))


def ensure_venv(root, extras, venv='.venv', requirements=()):
  """Makes root/.venv if needed and installs the project into it if needed.

  `pip install -e .[extras]` runs only when needs_install says so: setup.py
  changed, or an extra is new.

  Args:
    root: the repository (holding setup.py).
    extras: the extras to install, comma-separated ('cpu,tensorboard').
    venv: the environment's folder in root, .venv unless another
      (tensorflow_versions.py's, one per TensorFlow version).
    requirements: more for pip to install with the project (a TensorFlow
      version); the folder's name should say which, as the stamp does not.

  Returns:
    The path of .venv's Python.

  Raises:
    SetupError: .venv could not be made, or pip failed or was stopped.
  """
  venv_dir = os.path.join(root, venv)
  python = venv_python(venv_dir)
  if not os.path.isfile(python):
    make_venv(venv_dir)
  install, stamp = needs_install(venv_dir, os.path.join(root, 'setup.py'),
                                 extras)
  if not install:
    sys.stdout.write('%s is up to date (setup.py and the extras %s are as '
                     'installed).\n' % (venv, extras))
    sys.stdout.flush()
    return python
  # The stamp goes first: an install that fails or is stopped leaves none.
  stamp_path = os.path.join(venv_dir, STAMP)
  if os.path.exists(stamp_path):
    os.remove(stamp_path)
  sys.stdout.write('Installing the project with the extras %s into %s '
                   '(the first time, TensorFlow is a 270 MB download and '
                   '1.6 GB on disk) ...\n' % (extras, venv))
  code, interrupted = run_program(
      [python, '-m', 'pip', 'install', '--quiet',
       '--disable-pip-version-check', '-e', '.[%s]' % extras]
      + list(requirements), root, program_environ(root, venv))
  if interrupted:
    raise SetupError('installing into %s was stopped by Ctrl+C; run it '
                     'again to install' % venv, INTERRUPTED)
  if code != 0:
    raise SetupError('installing into %s failed: pip exited with status '
                     '%d (its messages are above; deleting %s and running '
                     'again starts afresh)' % (venv, code, venv))
  with open(stamp_path, 'w', encoding='ascii') as f:
    f.write(stamp)
  return python


def program_environ(root, venv='.venv'):
  """The environment .venv's programs run in, as if .venv were activated.

  Args:
    root: the repository (holding .venv).
    venv: the environment's folder in root, if not .venv.

  Returns:
    A copy of os.environ with VIRTUAL_ENV and PATH set, and
    TF_CPP_MIN_LOG_LEVEL 2 (quiet C++ notices) unless it is set.
  """
  env = dict(os.environ)
  venv_dir = os.path.join(root, venv)
  env['VIRTUAL_ENV'] = venv_dir
  env['PATH'] = os.path.dirname(venv_python(venv_dir)) + os.pathsep + (
      env.get('PATH', ''))
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  return env


def command_line(args, cwd, os_name=None):
  """A command as a user would type it in cwd, in this system's shells.

  Args:
    args: the program and its arguments.
    cwd: the folder the command runs in.
    os_name: 'nt' for Windows, else 'posix' (os.name when None).

  Returns:
    Its text: the program relative to cwd if inside it, words quoted as
    cmd and PowerShell ("...") or a POSIX shell ('...') need.
  """
  windows = (os_name or os.name) == 'nt'
  path = ntpath if windows else posixpath
  program = args[0]
  try:
    relative = path.relpath(program, cwd)
    if not relative.startswith('..'):
      program = relative
  except ValueError:  # On another Windows drive.
    pass
  words = [program] + list(args[1:])
  if windows:
    return ' '.join('"%s"' % w if not w or any(c in WINDOWS_SPECIAL for c in w)
                    else w for w in words)
  return ' '.join(shlex.quote(w) for w in words)


def run_program(args, cwd, env):
  """Runs a program in this console, printing its command first.

  Ctrl+C and Ctrl+Break reach it too (it shares the console): this process
  waits while it stops in its own way. SIGTERM is passed on to it.

  Args:
    args: the program and its arguments.
    cwd: the folder it runs in.
    env: its environment.

  Returns:
    (its exit status as Popen gives it, whether a stop signal came).

  Raises:
    SetupError: the program could not be started.
  """
  sys.stdout.write(command_line(args, cwd) + '\n')
  sys.stdout.flush()
  received, children = [], []

  def note(signum, frame):
    del frame
    received.append(signum)
    if signum == getattr(signal, 'SIGTERM', None):
      for child in children:
        child.send_signal(signum)

  previous = {}
  try:
    for signum in STOP_SIGNALS:
      previous[signum] = signal.signal(signum, note)
    try:
      children.append(subprocess.Popen(args, cwd=cwd, env=env))
    except OSError as e:
      raise SetupError('cannot run %s: %s (deleting .venv and running again '
                       'makes it afresh)' % (args[0], e.strerror or e)
                       ) from None
    code = children[0].wait()
  finally:
    for signum, handler in previous.items():
      # None: a handler not set from Python; the default is what it did.
      signal.signal(signum, signal.SIG_DFL if handler is None else handler)
  return code, bool(received)


def exit_status(code):
  """The status to exit with after a program ended with Popen's code.

  Args:
    code: Popen.returncode: -N when POSIX signal N killed the program, an
      unsigned 32-bit value such as 0xC000013A (Ctrl+C) on Windows.

  Returns:
    The code, with -N made 128 + N as shells report it, and a Windows
    status made the signed number that sys.exit passes on intact.
  """
  if code < 0:
    return 128 - code
  if code >= 2 ** 31:
    return code - 2 ** 32
  return code
