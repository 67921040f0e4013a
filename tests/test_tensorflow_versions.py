"""scripts/tensorflow_versions.py: its environments, commands and endings.

The runs on other TensorFlows themselves are what CI does with it (.ci/run);
here pip and pytest are replaced, so these tests take no time.
"""

import os
import subprocess
import sys

import pytest

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, 'scripts'))
import setup_env  # noqa: E402
import tensorflow_versions as tv  # noqa: E402


def test_api_tests_exist_and_use_tensorflow():
  for name in tv.API_TESTS:
    with open(os.path.join(REPO, 'tests', name), encoding='utf-8') as f:
      text = f.read()
    assert 'tensorflow' in text or 'run_program' in text, name
  command = tv.pytest_command('py', ['-x'])
  assert command[:6] == ['py', '-m', 'pytest', '-n', '2', '--dist']
  assert command[-1] == '-x'
  assert command[7:-1] == ['tests/' + name for name in tv.API_TESTS]


def test_the_distribution_is_the_cpu_extras():
  # setup.py's markers: tensorflow-cpu where it has wheels.
  assert tv.distribution('x86_64', 'Linux') == 'tensorflow-cpu'
  assert tv.distribution('AMD64', 'Windows') == 'tensorflow-cpu'
  for machine, system in (('aarch64', 'Linux'), ('arm64', 'Darwin'),
                          ('ARM64', 'Windows')):
    assert tv.distribution(machine, system) == 'tensorflow'


def test_the_default_versions_are_setup_pys_floor_and_newer():
  with open(os.path.join(REPO, 'setup.py'), encoding='utf-8') as f:
    setup_py = f.read()
  floor = tv.OLDEST.rsplit('.', 1)[0]  # 2.16.2 -> 2.16
  assert "_TF = '>=%s,<3'" % floor in setup_py
  newest = tuple(int(p) for p in tv.NEWEST.split('rc')[0].split('.'))
  assert newest > tuple(int(p) for p in tv.OLDEST.split('.'))


class FakeRuns(object):
  """setup_env's venv making and programs replaced: records what ran."""

  def __init__(self, monkeypatch, root, pytest_codes=None, pip_codes=None):
    self.commands = []
    self.pytest_codes = pytest_codes or {}
    self.pip_codes = pip_codes or {}
    monkeypatch.setattr(tv, 'ROOT', root)
    monkeypatch.setattr(setup_env, 'make_venv', self._make)
    monkeypatch.setattr(setup_env, 'run_program', self._run)

  def _make(self, venv_dir):
    python = setup_env.venv_python(venv_dir)
    os.makedirs(os.path.dirname(python))
    with open(python, 'w') as f:
      f.write('not a real interpreter\n')

  def _run(self, args, cwd, env):
    venv = os.path.basename(env['VIRTUAL_ENV'])
    assert args[0] == setup_env.venv_python(env['VIRTUAL_ENV'])
    self.commands.append((venv, args[1:4], args))
    version = venv[len('.venv-tf'):]
    if args[1:4] == ['-m', 'pip', 'install']:
      return self.pip_codes.get(version, 0), False
    return self.pytest_codes.get(version, 0), False


@pytest.fixture
def project(tmp_path):
  (tmp_path / 'setup.py').write_text(
      "import setuptools\nsetuptools.setup(name='x')\n")
  return str(tmp_path)


def test_each_version_in_its_own_environment(monkeypatch, project, capsys):
  fake = FakeRuns(monkeypatch, project)
  assert tv.main(['-x']) == 0
  dist = tv.distribution()
  assert [(venv, what) for venv, what, _ in fake.commands] == [
      ('.venv-tf' + tv.OLDEST, ['-m', 'pip', 'install']),
      ('.venv-tf' + tv.OLDEST, ['-m', 'pytest', '-n']),
      ('.venv-tf' + tv.NEWEST, ['-m', 'pip', 'install']),
      ('.venv-tf' + tv.NEWEST, ['-m', 'pytest', '-n'])]
  pip = fake.commands[0][2]
  assert pip[-2:] == ['.[cpu,test]', '%s==%s' % (dist, tv.OLDEST)]
  assert fake.commands[2][2][-1] == '%s==%s' % (dist, tv.NEWEST)
  assert fake.commands[1][2][-1] == '-x'  # pytest's arguments, passed on.
  out = capsys.readouterr().out
  assert out.endswith('tensorflow_versions.py: TensorFlow %s, %s: every API '
                      'test passed.\n' % (tv.OLDEST, tv.NEWEST))
  # Installed once: the second run only tests.
  fake.commands.clear()
  assert tv.main(['--versions', tv.OLDEST]) == 0
  assert [what for _, what, _ in fake.commands] == [['-m', 'pytest', '-n']]


def test_failures_are_one_line_each_after_every_version(monkeypatch, project,
                                                        capsys):
  FakeRuns(monkeypatch, project, pytest_codes={'2.19.1': 1},
           pip_codes={'2.20.0': 1})
  status = tv.main(['--versions', '2.19.1,2.20.0,2.21.0'])
  assert status == 1
  err = capsys.readouterr().err.splitlines()
  assert err == [
      'tensorflow_versions.py: TensorFlow 2.19.1 failed: pytest exited with '
      'status 1',
      'tensorflow_versions.py: TensorFlow 2.20.0 failed: installing into '
      '.venv-tf2.20.0 failed: pip exited with status 1 (its messages are '
      'above; deleting .venv-tf2.20.0 and running again starts afresh)']


def test_help_and_bad_flags(tmp_path):
  script = os.path.join(REPO, 'scripts', 'tensorflow_versions.py')
  proc = subprocess.run([sys.executable, script, '--versions', ''],
                        cwd=str(tmp_path), capture_output=True, text=True,
                        timeout=60)
  assert proc.returncode == 2
  assert proc.stderr == ('tensorflow_versions.py: error: --versions names no '
                         'version (see --help)\n')
