"""Makes this Python's standard library look like Windows' to a program.

Put this folder on PYTHONPATH (and PYTHONIOENCODING=cp950 in the
environment, for a Traditional Chinese console) and the program runs as
Windows' Python would have it, as far as that can be shown on Linux:

- the modules only POSIX systems have cannot be imported (fcntl, resource,
  termios, pwd, grp, ...) by the project's own code, as on Windows;
- the signal module has only the names Windows' has (SIGINT, SIGTERM,
  SIGBREAK, SIGABRT, SIGFPE, SIGILL, SIGSEGV), SIGBREAK (Ctrl+Break) being
  played by Linux's signal 21 so that a test can send it;
- msvcrt.locking exists, with Windows' semantics (a byte-range lock of
  this process, dropped when it ends), played by POSIX record locks;
- numpy loaded before FOR_DISABLE_CONSOLE_CTRL_HANDLER=1 is in the
  environment (where Anaconda's Fortran runtime would turn Ctrl+C into
  'forrtl: error (200)') prints NUMPY_TOO_EARLY on stderr.

Libraries other than the project's (TensorFlow, numpy, absl) keep their
POSIX modules: on Windows they take their own Windows branches, which
cannot run here. os.name and sys.platform stay 'posix' and 'linux', so a
branch taken by os.name still takes its POSIX side here; a branch taken by
what can be imported takes the Windows side.
"""

import enum
import importlib.abc
import importlib.util
import os
import signal
import sys
import types

from windows_names import POSIX_ONLY_MODULES
from windows_names import POSIX_ONLY_NAMES
from windows_names import WINDOWS_SIGNALS

SIGBREAK = 21  # Linux's SIGTTIN plays Windows' Ctrl+Break here.
NUMPY_TOO_EARLY = ('windows_stdlib: numpy was imported before '
                   'FOR_DISABLE_CONSOLE_CTRL_HANDLER=1 was set')
PROJECT_PACKAGES = ('cifar10', 'mnist', 'scripts', '__main__')


def _importer_is_project():
  """Whether the import being made comes from the project's own code."""
  frame = sys._getframe(2)
  while frame is not None:
    name = frame.f_globals.get('__name__', '')
    if not name.startswith(('importlib', '_frozen_importlib')) and (
        name != __name__):
      return name.split('.')[0] in PROJECT_PACKAGES
    frame = frame.f_back
  return False


class _AsOnWindows(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """To the project's code: no POSIX-only modules, and an msvcrt.

  Only to the project's: the standard library itself decides whether it
  runs on Windows by importing msvcrt (subprocess does), and must go on
  taking its POSIX branches, the only ones that work here.
  """

  def __init__(self, fcntl):
    self._fcntl = fcntl

  def find_spec(self, fullname, path=None, target=None):
    del path, target
    # Whoever imported them holds them: out of sys.modules, the POSIX-only
    # modules a library imported stay hidden from the project's next
    # import, and the project's msvcrt from the standard library's.
    _hide_cached_modules()
    if fullname == 'numpy' and os.environ.get(
        'FOR_DISABLE_CONSOLE_CTRL_HANDLER') != '1':
      sys.stderr.write(NUMPY_TOO_EARLY + '\n')
    if not _importer_is_project():
      return None
    if fullname in POSIX_ONLY_MODULES:
      raise ModuleNotFoundError('No module named %r (as on Windows)'
                                % fullname, name=fullname)
    if fullname == 'msvcrt':
      return importlib.util.spec_from_loader(fullname, self)
    return None

  def create_module(self, spec):
    return _msvcrt(self._fcntl)

  def exec_module(self, module):
    del module


def _hide_cached_modules():
  for name in POSIX_ONLY_MODULES:
    if name in sys.modules and name != 'posix':
      sys.modules.pop(name)
  if getattr(sys.modules.get('msvcrt'), 'emulated', False):
    del sys.modules['msvcrt']


def _windows_signals():
  """Leaves the signal module with Windows' names only."""
  kept = {name: getattr(signal, name) for name in WINDOWS_SIGNALS
          if name.startswith('SIG') and not name.startswith('SIG_') and
          hasattr(signal, name)}
  kept['SIGBREAK'] = SIGBREAK
  for name in list(vars(signal)):
    if name.startswith('SIG') and not name.startswith('SIG_') and (
        name not in kept):
      delattr(signal, name)
  for name in POSIX_ONLY_NAMES['signal']:
    if hasattr(signal, name):
      delattr(signal, name)
  signal.SIGBREAK = SIGBREAK
  signal.Signals = enum.IntEnum('Signals', kept)


def _msvcrt(fcntl):
  """A module with msvcrt.locking, from POSIX record locks."""
  module = types.ModuleType('msvcrt')
  module.emulated = True
  module.LK_UNLCK, module.LK_LOCK, module.LK_NBLCK = 0, 1, 2
  module.LK_RLCK, module.LK_NBRLCK = 3, 4

  def locking(fd, mode, nbytes):
    # Windows locks nbytes from the file's current position.
    start = os.lseek(fd, 0, os.SEEK_CUR)
    if mode == module.LK_UNLCK:
      fcntl.lockf(fd, fcntl.LOCK_UN, nbytes, start)
    else:
      flags = fcntl.LOCK_EX
      if mode in (module.LK_NBLCK, module.LK_NBRLCK):
        flags |= fcntl.LOCK_NB
      try:
        fcntl.lockf(fd, flags, nbytes, start)
      except OSError as e:
        raise PermissionError(13, 'Permission denied') from e
  module.locking = locking
  return module


def _install():
  import fcntl  # Ours, before it is hidden.
  _hide_cached_modules()
  sys.meta_path.insert(0, _AsOnWindows(fcntl))
  _windows_signals()


_install()
