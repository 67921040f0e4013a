"""The code is written for Windows and macOS as well as Linux.

Checked here by reading it, on Linux: no module of the project uses a
module or name that only POSIX systems have outside a platform branch
(found by parsing every module); every source file is ASCII, so every line
the programs print of their own can be written to a cp950 or cp1252 Windows
console; every text file is opened with an explicit encoding (Windows'
default is the console's code page); and the path logic that differs on
Windows, run with ntpath. tests/test_windows_stdlib.py runs the programs
as Windows' Python would have its standard library.
"""

import ast
import io
import ntpath
import os
import posixpath
import signal
import subprocess
import sys

import pytest
from conftest import REPO

from windows_stdlib import windows_names

PACKAGES = ('cifar10', 'mnist', 'scripts')
# An `if` on one of these takes a platform branch.
PLATFORM_TESTS = ('os.name', 'sys.platform', 'platform.system')
GUARD_ERRORS = ('ImportError', 'ModuleNotFoundError')


def _project_modules():
  """Every Python file of the project (its packages, scripts, setup.py)."""
  found = [os.path.join(REPO, 'setup.py')]
  for folder in PACKAGES:
    for name in sorted(os.listdir(os.path.join(REPO, folder))):
      if name.endswith('.py'):
        found.append(os.path.join(REPO, folder, name))
  return found


def _guarded_imports(tree):
  """Names bound by imports inside `try: ... except ImportError`."""
  names = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Try) and _catches_import_error(node):
      for inner in node.body:
        if isinstance(inner, (ast.Import, ast.ImportFrom)):
          names.update((a.asname or a.name).split('.')[0]
                       for a in inner.names)
  return names


def _catches_import_error(node):
  for handler in node.handlers:
    caught = ast.unparse(handler.type) if handler.type else ''
    if any(error in caught for error in GUARD_ERRORS):
      return True
  return False


def _is_platform_test(test, available):
  """Whether an if's test asks which system this is, or what it offers."""
  text = ast.unparse(test)
  if any(probe in text for probe in PLATFORM_TESTS):
    return True
  if isinstance(test, ast.Call) and ast.unparse(test.func) in (
      'hasattr', 'getattr'):
    return True
  # `if fcntl:`, `if not msvcrt:`: what a guarded import made available.
  return any(isinstance(n, ast.Name) and n.id in available
             for n in ast.walk(test))


def _finding(node):
  """What POSIX-only module or name this node uses, or None."""
  if isinstance(node, ast.Import):
    for alias in node.names:
      if alias.name.split('.')[0] in windows_names.POSIX_ONLY_MODULES:
        return 'import %s' % alias.name
  if isinstance(node, ast.ImportFrom) and node.module:
    top = node.module.split('.')[0]
    if top in windows_names.POSIX_ONLY_MODULES:
      return 'from %s import ...' % node.module
    for alias in node.names:
      if _posix_only_name(top, alias.name):
        return 'from %s import %s' % (top, alias.name)
  if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
    if _posix_only_name(node.value.id, node.attr):
      return '%s.%s' % (node.value.id, node.attr)
  if isinstance(node, ast.keyword) and (
      node.arg in windows_names.POSIX_ONLY_KEYWORDS):
    return '%s=' % node.arg
  return None


def _posix_only_name(module, name):
  if module == 'signal' and name.startswith('SIG') and (
      name not in windows_names.WINDOWS_SIGNALS):
    return True
  return name in windows_names.POSIX_ONLY_NAMES.get(module, ())


def posix_only_uses(source):
  """The uses of POSIX-only modules and names outside a platform branch.

  A platform branch is the body of `try: ... except ImportError`, or either
  side of an `if` (or `x if ... else y`) whose test asks os.name,
  sys.platform, platform.system(), hasattr/getattr, or a name that a
  guarded import binds.

  Args:
    source: a module's text.

  Returns:
    [(line, what)], e.g. [(3, 'import fcntl'), (9, 'signal.SIGKILL')].
  """
  tree = ast.parse(source)
  available = _guarded_imports(tree)
  found = []

  def visit(node, guarded):
    if isinstance(node, (ast.If, ast.IfExp)) and _is_platform_test(
        node.test, available):
      visit(node.test, guarded)
      branches = ([node.body, node.orelse] if isinstance(node, ast.IfExp)
                  else node.body + node.orelse)
      for child in branches:
        visit(child, True)
      return
    if isinstance(node, ast.Try) and _catches_import_error(node):
      for child in node.body:
        visit(child, True)
      for child in node.handlers + node.orelse + node.finalbody:
        visit(child, guarded)
      return
    what = None if guarded else _finding(node)
    if what:
      found.append((node.lineno if hasattr(node, 'lineno') else
                    node.value.lineno, what))
    for child in ast.iter_child_nodes(node):
      visit(child, guarded)

  visit(tree, False)
  return found


@pytest.mark.parametrize('source, expected', [
    ('import fcntl\n', [(1, 'import fcntl')]),
    ('import os, resource\n', [(1, 'import resource')]),
    ('from pwd import getpwnam\n', [(1, 'from pwd import ...')]),
    ('from signal import SIGHUP, SIGINT\n', [(1, 'from signal import SIGHUP')]),
    ('import signal\nsignal.signal(signal.SIGKILL, h)\n',
     [(2, 'signal.SIGKILL')]),
    ('import signal\nsignal.alarm(3)\n', [(2, 'signal.alarm')]),
    ('import os\nos.killpg(1, 2)\n', [(2, 'os.killpg')]),
    ('subprocess.Popen(a, preexec_fn=f)\n', [(1, 'preexec_fn=')]),
    ('def f():\n  import grp\n', [(2, 'import grp')]),
    # Platform branches.
    ('try:\n  import fcntl\nexcept ImportError:\n  fcntl = None\n', []),
    ('try:\n  import fcntl\nexcept ImportError:\n  import msvcrt\n'
     'if fcntl:\n  fcntl.flock(1, fcntl.LOCK_EX)\n', []),
    ('import os\nif os.name != "nt":\n  os.killpg(1, 2)\n', []),
    ('import sys\nif sys.platform == "win32":\n  pass\nelse:\n'
     '  import termios\n', []),
    ('import signal\nx = signal.SIGHUP if hasattr(signal, "SIGHUP") else 0\n',
     []),
    ('import signal\nsignal.signal(signal.SIGTERM, h)\n'
     'signal.signal(signal.SIG_IGN, h)\n', []),
    # A try that catches something else is no platform branch.
    ('try:\n  import fcntl\nexcept OSError:\n  pass\n',
     [(2, 'import fcntl')]),
])
def test_posix_only_uses_finds_what_windows_lacks(source, expected):
  assert posix_only_uses(source) == expected


def test_no_module_uses_a_posix_only_name_outside_a_platform_branch():
  modules = _project_modules()
  assert len(modules) > 40  # Every module: the packages have about 50.
  found = []
  for path in modules:
    with open(path, encoding='utf-8') as f:
      for line, what in posix_only_uses(f.read()):
        found.append('%s:%d: %s' % (os.path.relpath(path, REPO), line, what))
  assert not found, '\n'.join(found)


def test_every_source_file_is_ascii():
  # What the programs print of their own, --help's docstrings included,
  # then fits any Windows console's code page (cp950, cp1252, ...).
  found = []
  for path in _project_modules():
    with open(path, 'rb') as f:
      for number, line in enumerate(f, 1):
        if not line.isascii():
          found.append('%s:%d' % (os.path.relpath(path, REPO), number))
  assert not found, found


def _text_opens_without_encoding(source):
  """Lines that open a file in text mode without naming its encoding."""
  found = []
  for node in ast.walk(ast.parse(source)):
    if not isinstance(node, ast.Call):
      continue
    name = ast.unparse(node.func)
    if name not in ('open', 'io.open', 'os.fdopen'):
      continue
    mode = node.args[1] if len(node.args) > 1 else None
    for keyword in node.keywords:
      if keyword.arg == 'mode':
        mode = keyword.value
    binary = isinstance(mode, ast.Constant) and 'b' in str(mode.value)
    if not binary and not any(k.arg == 'encoding' for k in node.keywords):
      found.append(node.lineno)
  return found


def test_text_files_are_opened_with_an_encoding():
  # Windows' default is the code page (cp950, cp1252): a file written there
  # and read on Linux, or holding a class name in Chinese, would differ.
  assert _text_opens_without_encoding(
      'open(p)\nopen(p, "w")\nopen(p, "rb")\nopen(p, encoding="utf-8")\n'
      'open(p, mode="wb")\n') == [1, 2]
  found = []
  for path in _project_modules():
    with open(path, encoding='utf-8') as f:
      found += ['%s:%d' % (os.path.relpath(path, REPO), line)
                for line in _text_opens_without_encoding(f.read())]
  assert not found, found


# The path logic of ours that differs on Windows, with Windows' own path
# module (ntpath) beside POSIX's.

def test_tmp_folders_are_the_originals_on_each_system():
  from cifar10 import cifar10_cli
  import mnist
  assert cifar10_cli.tmp_dir('cifar10_train', path=posixpath) == (
      '/tmp/cifar10_train')
  assert cifar10_cli.tmp_dir('cifar10_train', path=ntpath) == (
      '\\tmp\\cifar10_train')
  # On the current drive: C:\tmp\... for a student working in C:\.
  assert ntpath.join('C:\\', cifar10_cli.tmp_dir(
      'cifar10_data', path=ntpath)) == 'C:\\tmp\\cifar10_data'
  assert ntpath.join('D:\\course', cifar10_cli.tmp_dir(
      'cifar10_eval', path=ntpath)) == 'D:\\tmp\\cifar10_eval'
  assert mnist.tmp_dir('tensorflow', 'mnist', 'input_data',
                       path=ntpath) == '\\tmp\\tensorflow\\mnist\\input_data'
  assert mnist.tmp_dir('tensorflow', 'mnist', 'logs', path=posixpath) == (
      '/tmp/tensorflow/mnist/logs')
  assert mnist.tmp_dir('logs', root='C:\\t', path=ntpath) == 'C:\\t\\logs'
  assert mnist.tmp_dir('logs', root=None, path=ntpath) == '\\tmp\\logs'


@pytest.mark.parametrize('folder, windows, posix', [
    ('/tmp/cifar10_train', '\\tmp\\cifar10_train', '/tmp/cifar10_train'),
    ('C:/tmp/cifar10_train/', 'C:\\tmp\\cifar10_train',
     'C:/tmp/cifar10_train'),
    ('C:\\Users\\Wang Xiao\\logs', '"C:\\Users\\Wang Xiao\\logs"',
     "'C:\\Users\\Wang Xiao\\logs'"),
    ('/tmp/a b/../c', '\\tmp\\c', '/tmp/c'),
    ('/tmp/it\'s', '\\tmp\\it\'s', '\'/tmp/it\'"\'"\'s\''),
    ('logs', 'logs', 'logs'),
])
def test_paths_in_commands_as_each_system_types_them(folder, windows, posix):
  from cifar10 import cifar10_cli
  import mnist
  for module in (cifar10_cli, mnist):
    assert module.command_path(folder, path=ntpath) == windows
    assert module.command_path(folder, path=posixpath) == posix


def test_defaults_are_the_tmp_folders_of_this_system():
  from cifar10 import cifar10, cifar10_cli, cifar10_session, evaluation
  from mnist import mnist_deep, trained_models
  assert cifar10.DATA_DIR == cifar10_cli.tmp_dir('cifar10_data')
  assert cifar10_session.TRAIN_DIR == cifar10_cli.tmp_dir('cifar10_train')
  assert evaluation.CHECKPOINT_DIR == cifar10_session.TRAIN_DIR
  assert evaluation.EVAL_DIR == cifar10_cli.tmp_dir('cifar10_eval')
  assert mnist_deep.DEFAULT_LOG_DIR == os.path.join(
      os.sep, 'tmp', 'tensorflow', 'mnist', 'logs', 'mnist_deep')
  assert trained_models.DEFAULT_DIRS['mnist_deep'] == (
      mnist_deep.DEFAULT_LOG_DIR)


def test_image_patterns_are_expanded_as_cmd_does_not(tmp_path):
  from cifar10 import image_files
  for name in ('b.png', 'a.png', 'c.jpg', 'notes.txt'):
    (tmp_path / name).write_bytes(b'x')
  pattern = str(tmp_path / '*.png')
  assert image_files.find_images([pattern]) == [
      str(tmp_path / 'a.png'), str(tmp_path / 'b.png')]
  with pytest.raises(ValueError, match=r'no file matches .*\*\.gif'):
    image_files.find_images([str(tmp_path / '*.gif')])
  # A file whose name holds a wildcard character is taken as it is.
  odd = tmp_path / '[1].png'
  odd.write_bytes(b'x')
  assert image_files.find_images([str(odd)]) == [str(odd)]


def test_mixed_precision_where_the_cpu_cannot_be_read(monkeypatch, capsys):
  from cifar10 import mixed_precision
  monkeypatch.setattr(mixed_precision, '_cpuinfo', lambda: '')
  monkeypatch.setattr(mixed_precision, '_have_gpu', lambda: False)
  assert mixed_precision.cpu_has_bfloat16() is None
  assert mixed_precision.choose(False, 'cifar10_train') == 'float32'
  assert capsys.readouterr().out == ''  # No tip without knowing.
  assert mixed_precision.choose(True, 'cifar10_train') == 'float32'
  assert capsys.readouterr().out == (
      'cifar10_train: --mixed_precision: this system does not tell whether '
      'its CPU has bfloat16 arithmetic (only Linux does, in /proc/cpuinfo) '
      'and there is no GPU; this runs in float32.\n')


def test_a_stop_is_passed_on_as_each_system_allows(monkeypatch):
  from cifar10 import precision_vs_steps

  class Proc(object):
    sent = []

    def send_signal(self, signum):
      self.sent.append(signum)

  options = precision_vs_steps._start_options()
  assert options == {'preexec_fn': precision_vs_steps._end_with_parent}
  precision_vs_steps._ask_to_stop(Proc())
  assert Proc.sent == [signal.SIGTERM]
  # Windows: a process group of its own, and Ctrl+Break to it.
  monkeypatch.setattr(os, 'name', 'nt')
  monkeypatch.setattr(subprocess, 'CREATE_NEW_PROCESS_GROUP', 0x200,
                      raising=False)
  monkeypatch.setattr(signal, 'CTRL_BREAK_EVENT', 1, raising=False)
  options = precision_vs_steps._start_options()
  precision_vs_steps._ask_to_stop(Proc())
  monkeypatch.undo()
  assert options == {'creationflags': 0x200}
  assert Proc.sent == [signal.SIGTERM, 1]


def test_packages_set_the_fortran_ctrl_c_variable_before_numpy():
  # Anaconda's numpy loads Intel's Fortran runtime, which kills the process
  # on Ctrl+C unless this is set before it loads.
  for package in ('cifar10', 'mnist'):
    code = ('import sys, os\nimport %s\n'
            'print(os.environ.get("FOR_DISABLE_CONSOLE_CTRL_HANDLER"), '
            '"numpy" in sys.modules)\n' % package)
    env = dict(os.environ)
    env.pop('FOR_DISABLE_CONSOLE_CTRL_HANDLER', None)
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out == '1 False\n', (package, out)


def test_console_safe_replaces_what_the_code_page_lacks():
  from cifar10 import cifar10_cli
  from mnist import commands
  for module, call in ((cifar10_cli, 'cifar10_cli.start("p")'),
                       (commands, 'commands.startup("p")')):
    code = ('import sys\nfrom %s import %s\n%s\n'
            'print("C:\\\\Users\\\\\\u738b\\u5c0f\\u660e caf\\xe9")\n'
            % (module.__name__.rsplit('.', 1)[0],
               module.__name__.rsplit('.', 1)[1], call))
    for encoding, expected in (
        ('cp950', 'C:\\Users\\\u738b\u5c0f\u660e caf\\xe9\n'),
        ('cp1252', 'C:\\Users\\\\u738b\\u5c0f\\u660e caf\xe9\n')):
      proc = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                            env=dict(os.environ, PYTHONIOENCODING=encoding),
                            capture_output=True)
      assert proc.returncode == 0, proc.stderr
      assert io.TextIOWrapper(io.BytesIO(proc.stdout), encoding=encoding,
                              newline='').read() == expected
