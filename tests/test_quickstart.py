"""scripts/quickstart.py, scripts/run_tests.py and their scripts/setup_env.py.

Fast and offline: pip and the programs are replaced by stubs that record
what would run, so no test installs anything or starts TensorFlow; the
real subprocesses here are Python alone (--help, a refused version, a bad
flag, Ctrl+C reaching a program through run_program).
"""

import ntpath
import os
import posixpath
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, program_env

SCRIPTS = os.path.join(REPO, 'scripts')
sys.path.append(SCRIPTS)
import quickstart  # noqa: E402
import run_tests  # noqa: E402
import setup_env  # noqa: E402

QUICKSTART = os.path.join(SCRIPTS, 'quickstart.py')
RUN_TESTS = os.path.join(SCRIPTS, 'run_tests.py')


def _python(args, **kwargs):
  return subprocess.run([sys.executable] + args, cwd=REPO, env=program_env(),
                        capture_output=True, text=True, timeout=60,
                        stdin=subprocess.DEVNULL, **kwargs)


@pytest.mark.parametrize('script', [QUICKSTART, RUN_TESTS],
                         ids=['quickstart', 'run_tests'])
def test_help_prints_the_docstring(script):
  proc = _python([script, '--help'])
  assert proc.returncode == 0, proc.stderr
  assert proc.stderr == ''
  first = (quickstart if script == QUICKSTART else run_tests).__doc__
  assert first.splitlines()[0] in proc.stdout
  assert '--help' in proc.stdout


# Faked after setup_env is imported: the stdlib it loads sees the real one.
FAKE_VERSION = r'''
import runpy, sys
sys.path.insert(0, sys.argv[1])
import setup_env
sys.version_info = (3, 15, 0, 'final', 0)
script = sys.argv[2]
sys.argv = sys.argv[2:]
runpy.run_path(script, run_name='__main__')
'''


@pytest.mark.parametrize('script', [QUICKSTART, RUN_TESTS],
                         ids=['quickstart', 'run_tests'])
def test_unsupported_python_is_one_line(script):
  proc = _python(['-c', FAKE_VERSION, SCRIPTS, script])
  assert proc.returncode == 1
  assert proc.stdout == ''  # Nothing made, nothing installed.
  name = os.path.basename(script)
  with pytest.raises(setup_env.SetupError) as raised:
    setup_env.check_python('scripts/' + name, (3, 15, 0))
  assert proc.stderr == '%s: error: %s\n' % (name, raised.value)
  assert 'this is Python 3.15.0, and TensorFlow needs Python 3.10-3.14' in (
      proc.stderr)


@pytest.mark.parametrize('version', [(3, 9, 18), (3, 15, 0), (2, 7, 18)])
def test_check_python_refuses_with_a_way_out(version):
  with pytest.raises(setup_env.SetupError) as raised:
    setup_env.check_python('scripts/quickstart.py', version, 'posix', False)
  message = str(raised.value)
  assert '.'.join(map(str, version)) in message
  assert 'needs Python 3.10-3.14' in message
  assert message.endswith('python3.12 scripts/quickstart.py')
  assert '\n' not in message and message.isascii()
  with pytest.raises(setup_env.SetupError) as raised:
    setup_env.check_python('scripts/quickstart.py', version, 'nt', False)
  assert str(raised.value).endswith('py -3.12 scripts\\quickstart.py')
  with pytest.raises(setup_env.SetupError) as raised:
    setup_env.check_python('scripts/run_tests.py', version, 'nt', True)
  assert 'conda create -n tf python=3.12' in str(raised.value)
  assert 'python scripts\\run_tests.py' in str(raised.value)


@pytest.mark.parametrize('version', [(3, 10, 0), (3, 11, 7), (3, 13, 9),
                                     (3, 14, 0)])
def test_check_python_accepts_tensorflows(version):
  setup_env.check_python('scripts/quickstart.py', version, 'posix', False)


@pytest.mark.parametrize('flags, error', [
    (['--bogus'], 'unrecognized arguments: --bogus (see --help)'),
    (['--max_step', '5'], 'unrecognized arguments: --max_step 5, did you '
     'mean --max_steps? (see --help)'),
    (['--max_steps', '0'], "argument --max_steps: not a positive integer: "
     "'0' (see --help)"),
    (['--data_dir'], 'argument --data_dir: expected one argument'),
])
def test_bad_flag_is_one_line(flags, error):
  proc = _python([QUICKSTART] + flags)
  assert proc.returncode == 2
  assert proc.stdout == ''
  assert proc.stderr.startswith('quickstart.py: error: ' + error)
  assert proc.stderr.count('\n') == 1, proc.stderr


def test_venv_python_on_windows_and_posix():
  assert setup_env.venv_python(r'C:\Users\Ann Lee\lab\.venv', 'nt') == (
      r'C:\Users\Ann Lee\lab\.venv\Scripts\python.exe')
  assert setup_env.venv_python('/home/ann/lab/.venv', 'posix') == (
      '/home/ann/lab/.venv/bin/python')
  assert setup_env.venv_python('.venv') == os.path.join(
      '.venv', *(('Scripts', 'python.exe') if os.name == 'nt'
                 else ('bin', 'python')))


def test_command_line_as_typed():
  windows = setup_env.command_line(
      [ntpath.join('C:\\lab', '.venv', 'Scripts', 'python.exe'), '-m',
       'cifar10.cifar10_train', '--data_dir', 'D:\\My Data', '--max_steps',
       '1000'], 'C:\\lab', 'nt')
  assert windows == ('.venv\\Scripts\\python.exe -m cifar10.cifar10_train '
                     '--data_dir "D:\\My Data" --max_steps 1000')
  # Elsewhere on another drive: the whole path.
  assert setup_env.command_line(['D:\\env\\python.exe', '-V'], 'C:\\lab',
                                'nt') == 'D:\\env\\python.exe -V'
  posix = setup_env.command_line(
      [posixpath.join('/lab', '.venv', 'bin', 'python'), '-m', 'pytest',
       '-k', 'not slow'], '/lab', 'posix')
  assert posix == ".venv/bin/python -m pytest -k 'not slow'"
  assert setup_env.command_line(['/usr/bin/python3', '-V'], '/lab',
                                'posix') == '/usr/bin/python3 -V'


@pytest.mark.parametrize('code, status', [
    (0, 0), (1, 1), (-signal.SIGINT, 130), (-signal.SIGTERM, 143),
    (0xC000013A, 0xC000013A - 2 ** 32)])
def test_exit_status(code, status):
  assert setup_env.exit_status(code) == status


class FakeVenv(object):
  """make_venv and pip replaced: records what would have run."""

  def __init__(self, monkeypatch, root, pip_code=0, pip_interrupted=False):
    self.made = 0
    self.commands = []
    self.pip_code = pip_code
    self.pip_interrupted = pip_interrupted
    monkeypatch.setattr(setup_env, 'make_venv', self._make)
    monkeypatch.setattr(setup_env, 'run_program', self._run)
    self.python = setup_env.venv_python(os.path.join(root, '.venv'))

  def _make(self, venv_dir):
    self.made += 1
    os.makedirs(os.path.dirname(self.python))
    with open(self.python, 'w') as f:
      f.write('not a real interpreter\n')

  def _run(self, args, cwd, env):
    assert env['TF_CPP_MIN_LOG_LEVEL']
    self.commands.append(args)
    if args[1:4] == ['-m', 'pip', 'install']:
      return self.pip_code, self.pip_interrupted
    return 0, False

  def installs(self):
    """The extras of each pip install so far."""
    return [args[-1] for args in self.commands
            if args[1:4] == ['-m', 'pip', 'install']]


@pytest.fixture
def project(tmp_path):
  setup_py = tmp_path / 'setup.py'
  setup_py.write_text("import setuptools\nsetuptools.setup(name='x')\n")
  return tmp_path


def test_install_only_when_setup_py_or_extras_change(monkeypatch, project):
  fake = FakeVenv(monkeypatch, str(project))
  root = str(project)
  assert setup_env.ensure_venv(root, 'cpu,tensorboard') == fake.python
  assert fake.made == 1
  assert fake.installs() == ['.[cpu,tensorboard]']
  assert fake.commands[0][:3] == [fake.python, '-m', 'pip']
  # Unchanged: nothing runs.
  setup_env.ensure_venv(root, 'cpu,tensorboard')
  assert fake.made == 1 and len(fake.installs()) == 1
  # More extras: installed; fewer (quickstart after run_tests): not.
  setup_env.ensure_venv(root, 'cpu,tensorboard,plot,test')
  setup_env.ensure_venv(root, 'cpu,tensorboard')
  setup_env.ensure_venv(root, 'tensorboard,cpu')
  assert fake.installs()[1:] == ['.[cpu,tensorboard,plot,test]']
  # setup.py changed: installed again, with the extras asked for now.
  with open(os.path.join(root, 'setup.py'), 'a') as f:
    f.write('# a new requirement\n')
  setup_env.ensure_venv(root, 'cpu,tensorboard')
  setup_env.ensure_venv(root, 'cpu,tensorboard')
  assert fake.installs()[2:] == ['.[cpu,tensorboard]']
  setup_env.ensure_venv(root, 'cpu,tensorboard,plot,test')
  assert len(fake.installs()) == 4
  assert fake.made == 1


@pytest.mark.parametrize('code, interrupted, status, says', [
    (1, False, 1, 'installing into .venv failed: pip exited with status 1'),
    (1, True, 130, 'installing into .venv was stopped by Ctrl+C'),
])
def test_failed_install_leaves_no_stamp(monkeypatch, project, code,
                                        interrupted, status, says):
  root = str(project)
  fake = FakeVenv(monkeypatch, root, code, interrupted)
  with pytest.raises(setup_env.SetupError) as raised:
    setup_env.ensure_venv(root, 'cpu')
  assert raised.value.status == status
  assert str(raised.value).startswith(says)
  fake.pip_code, fake.pip_interrupted = 0, False
  setup_env.ensure_venv(root, 'cpu')
  setup_env.ensure_venv(root, 'cpu')
  assert fake.installs() == ['.[cpu]', '.[cpu]']


def test_make_venv_for_real_without_pip(tmp_path):
  venv_dir = str(tmp_path / '.venv')
  setup_env.make_venv(venv_dir, with_pip=False)
  python = setup_env.venv_python(venv_dir)
  proc = subprocess.run([python, '-c', 'import sys; print(sys.prefix)'],
                        capture_output=True, text=True, timeout=60)
  assert os.path.samefile(proc.stdout.strip(), venv_dir)


def test_make_venv_without_ensurepip_says_so(monkeypatch, tmp_path):
  real = setup_env.importlib.util.find_spec
  monkeypatch.setattr(setup_env.importlib.util, 'find_spec', lambda name, *a:
                      None if name == 'ensurepip' else real(name, *a))
  with pytest.raises(setup_env.SetupError) as raised:
    setup_env.make_venv(str(tmp_path / '.venv'))
  assert 'ensurepip is missing' in str(raised.value)
  assert not (tmp_path / '.venv').exists()


@pytest.fixture
def programs(monkeypatch):
  """quickstart's and run_tests' setup stubbed: the commands they run."""
  ran = []
  codes = []
  python = os.path.join('/repo', '.venv', 'bin', 'python')
  monkeypatch.setattr(setup_env, 'check_python', lambda script: None)
  monkeypatch.setattr(setup_env, 'ensure_venv', lambda root, extras: python)

  def run(args, cwd, env):
    assert cwd == REPO
    ran.append(args[1:])
    return codes.pop(0) if codes else (0, False)

  monkeypatch.setattr(setup_env, 'run_program', run)
  return ran, codes


def test_quickstart_runs_the_lab_with_the_programs_defaults(programs):
  ran, _ = programs
  assert quickstart.main([]) == 0
  assert ran == [['-m', 'cifar10.cifar10_train', '--max_steps', '1000'],
                 ['-m', 'cifar10.cifar10_eval', '--run_once']]


def test_quickstart_passes_the_folders_given(programs, tmp_path,
                                             monkeypatch):
  ran, _ = programs
  monkeypatch.chdir(tmp_path)
  assert quickstart.main(['--data_dir', 'data', '--train_dir=/t/train',
                          '--eval_dir', '/t/eval', '--max_steps', '30']) == 0
  data = os.path.join(str(tmp_path), 'data')  # As typed, made absolute.
  assert ran == [
      ['-m', 'cifar10.cifar10_train', '--data_dir', data, '--train_dir',
       os.path.abspath('/t/train'), '--max_steps', '30'],
      ['-m', 'cifar10.cifar10_eval', '--data_dir', data, '--checkpoint_dir',
       os.path.abspath('/t/train'), '--eval_dir', os.path.abspath('/t/eval'),
       '--run_once']]


@pytest.mark.parametrize('code, interrupted, status', [
    (1, False, 1),            # Training failed: no evaluation.
    (0, True, 0),             # Ctrl+C: a checkpoint saved, nothing after it.
    (-signal.SIGINT, True, 130),
])
def test_quickstart_stops_after_a_failure_or_ctrl_c(programs, code,
                                                    interrupted, status):
  ran, codes = programs
  codes.append((code, interrupted))
  assert quickstart.main(['--max_steps', '5']) == status
  assert len(ran) == 1


def test_run_tests_passes_every_argument_to_pytest(programs):
  ran, _ = programs
  assert run_tests.main(['-k', 'cifar10', '-x', '-n', '0', '-s']) == 0
  assert ran == [
      ['-m', 'ruff', 'check', 'cifar10', 'mnist', 'scripts', 'tests',
       'setup.py'],
      ['-m', 'pytest', '-n', '2', '--dist', 'loadfile', '--durations=25',
       '-k', 'cifar10', '-x', '-n', '0', '-s']]


def test_run_tests_status_is_pytests_or_ruffs(programs, capsys):
  ran, codes = programs
  codes.extend([(0, False), (5, False)])
  assert run_tests.main([]) == 5
  codes.append((1, False))
  assert run_tests.main(['-x']) == 1
  assert len(ran) == 3  # ruff found errors: no pytest.
  assert 'ruff found style errors' in capsys.readouterr().err


# Runs run_program on a child that waits for Ctrl+C, then stops with a line
# of its own and status 7, as the programs do.
CTRL_C = r'''
import sys
sys.path.insert(0, sys.argv[1])
import setup_env
child = ("import signal, sys, time; signal.signal(signal.SIGINT, "
         "lambda s, f: (sys.stderr.write('child: stopped\\n'), sys.exit(7)));"
         " print('ready', flush=True); time.sleep(30)")
setup_env.run_main('wrapper', lambda: setup_env.exit_status(
    setup_env.run_program([sys.executable, '-c', child], '.', None)[0]))
'''


@pytest.mark.skipif(os.name == 'nt', reason='a process group and killpg')
def test_ctrl_c_reaches_the_program_and_the_wrapper_waits():
  proc = subprocess.Popen(
      [sys.executable, '-c', CTRL_C, SCRIPTS], cwd=REPO, env=program_env(),
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      start_new_session=True)  # A console's foreground group, as Ctrl+C hits.
  try:
    proc.stdout.readline()  # The command line.
    assert proc.stdout.readline() == 'ready\n'
    time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
  finally:
    if proc.poll() is None:
      os.killpg(proc.pid, signal.SIGKILL)
  assert proc.returncode == 7, err
  assert err == 'child: stopped\n' and out == '', (out, err)
