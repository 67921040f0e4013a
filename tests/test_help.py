"""--help of every program, started every way a user starts it.

Every module with an `if __name__ == '__main__':` block in cifar10/, mnist/
and scripts/ is a program. Each must print its whole docstring and every
flag it accepts, wherever that flag is defined, and no flag of absl's or
TensorFlow's own. The accepted flags are found independently of the help
text, in the `python -m` run (PROBE): the absl flags our modules and the
program define, or the options of the argparse parsers the program builds.
An argparse program answers before TensorFlow loads: with a TensorFlow that
cannot load, its help is the same.
"""

import ast
import concurrent.futures
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO, program_env

PACKAGES = ('cifar10', 'mnist')
NO_TENSORFLOW = 'python -m, TensorFlow unloadable'

# `python -m MODULE --help`, run as the interpreter runs it (runpy's
# _run_module_as_main is what -m calls), that also writes the flags the
# program accepts, as JSON, to a file once --help has exited: for an argparse
# program, the options of every parser that parsed; for an absl program, the
# flags that our modules and the program defined. In the same run, because
# each run that loads TensorFlow costs seconds.
PROBE = r'''
import argparse, json, runpy, sys
_probe_module, _probe_report, _probe_kind = sys.argv[1:4]
_probe_options = set()
_probe_parse = argparse.ArgumentParser.parse_known_args

def _probe_noted(self, *args, **kwargs):
  _probe_options.update(o for a in self._actions for o in a.option_strings
                        if o.startswith('--'))
  return _probe_parse(self, *args, **kwargs)

argparse.ArgumentParser.parse_known_args = _probe_noted
sys.argv = [_probe_module, '--help']
try:
  runpy._run_module_as_main(_probe_module)  # It shares these globals.
finally:
  if _probe_kind == 'absl':
    from absl import flags
    # absl files the program's own flags under its path (sys.argv[0]).
    _probe_options = {'--' + f.name for m, fl in
                      flags.FLAGS.flags_by_module_dict().items()
                      if m.split('.')[0] in ('cifar10', 'mnist') or
                      m == sys.argv[0] for f in fl}
  with open(_probe_report, 'w', encoding='utf-8') as f:
    json.dump(sorted(_probe_options), f)
'''


def _programs():
  """(module, file) of every program in the packages and scripts/."""
  found = []
  for folder in PACKAGES + ('scripts',):
    for name in sorted(os.listdir(os.path.join(REPO, folder))):
      if not name.endswith('.py'):
        continue
      path = os.path.join(REPO, folder, name)
      with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
      if any(isinstance(node, ast.If) and '__main__' in ast.dump(node.test)
             for node in tree.body):
        found.append(('%s.%s' % (folder, name[:-3]), path, tree))
  return found


def _kind(tree):
  """'absl' for a program whose flags are absl's, else 'argparse'."""
  return 'absl' if 'absl' in ast.dump(tree) else 'argparse'


def _commands():
  """The installed commands' names, from setup.py's console_scripts."""
  with open(os.path.join(REPO, 'setup.py'), encoding='utf-8') as f:
    text = re.sub(r"'\s*\n\s*'", '', f.read())  # Join split literals.
  return set(re.findall(r"'(\w+) = [\w.]+:\w+'", text))


PROGRAMS = _programs()
COMMANDS = _commands()


def _run(args, cwd=REPO, env=None):
  try:
    return subprocess.run(args, cwd=cwd, env=program_env(**(env or {})),
                          text=True, capture_output=True, timeout=300,
                          stdin=subprocess.DEVNULL)
  except FileNotFoundError:
    return subprocess.CompletedProcess(args, 127, '', '%s: not installed '
                                       '(pip install -e .)' % args[0])


def _ways(module, path):
  """The ways to start a program: (description, argv, cwd)."""
  folder = os.path.dirname(path)
  ways = [('python -m', [sys.executable, '-m', module], REPO),
          ('python path from the root', [sys.executable, path], REPO)]
  if not module.startswith('scripts.'):
    ways.append(('python file inside its folder',
                 [sys.executable, os.path.basename(path)], folder))
    command = os.path.join(os.path.dirname(sys.executable),
                           module.split('.')[-1])
    ways.append(('installed command', [command], REPO))
  return ways


@pytest.fixture(scope='module')
def helps(tmp_path_factory):
  """Every program's --help every way, in parallel, and its accepted flags
  (reported by the `python -m` way, PROBE), under (module, 'flags'); and an
  argparse program's --help with a TensorFlow that cannot load, under
  (module, NO_TENSORFLOW)."""
  folder = tmp_path_factory.mktemp('flags')
  fake = folder / 'fake' / 'tensorflow'
  fake.mkdir(parents=True)
  (fake / '__init__.py').write_text('raise ImportError("TensorFlow loaded")\n')
  jobs, reports = {}, {}
  with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
    for module, path, tree in PROGRAMS:
      reports[module] = str(folder / (module + '.json'))
      for way, argv, cwd in _ways(module, path):
        if way == 'python -m':
          argv = [sys.executable, '-c', PROBE, module, reports[module],
                  _kind(tree)]
        jobs[(module, way)] = pool.submit(_run, argv + ['--help'], cwd)
      if _kind(tree) == 'argparse':
        jobs[(module, NO_TENSORFLOW)] = pool.submit(
            _run, [sys.executable, '-m', module, '--help'], REPO,
            {'PYTHONPATH': str(fake.parent)})
    found = {key: job.result() for key, job in jobs.items()}
  for module, report in reports.items():
    if os.path.exists(report):
      with open(report, encoding='utf-8') as f:
        found[(module, 'flags')] = json.load(f)
  return found


def test_every_program_is_found_and_installed():
  modules = [m for m, _, _ in PROGRAMS]
  assert len(modules) >= 14
  # Every program in the packages is an installed command of its own name.
  for module in modules:
    if not module.startswith('scripts.'):
      name = module.split('.')[-1]
      assert name in COMMANDS, '%s is not an installed command' % module
  for name in COMMANDS:
    assert any(m.endswith('.' + name) for m in modules), name


def _normal(text):
  return ' '.join(text.split())


@pytest.mark.parametrize('module, path, tree', PROGRAMS,
                         ids=[m for m, _, _ in PROGRAMS])
def test_help_shows_docstring_and_every_flag(helps, module, path, tree):
  accepted = helps.get((module, 'flags'))
  assert accepted, (module, helps[(module, 'python -m')].stderr)
  doc = _normal(ast.get_docstring(tree, clean=True))
  for way, _, _ in _ways(module, path):
    proc = helps[(module, way)]
    where = '%s (%s)' % (module, way)
    assert proc.returncode == 0, (where, proc.stderr)
    assert 'Traceback' not in proc.stderr, where
    out = proc.stdout
    # The whole docstring (argparse may rewrap nothing: it is raw text).
    assert doc in _normal(out.replace('%%', '%')), where
    for flag in accepted:
      if flag in ('--help',):
        continue
      negated = '--[no]' + flag[2:]
      assert re.search(r'(^|[\s,\[])(%s|%s)\b' % (
          re.escape(flag), re.escape(negated)), out, re.M), (where, flag)
    # Nothing of absl's or TensorFlow's own flags.
    for foreign in ('--verbosity', '--logtostderr', '--helpfull',
                    '--only_check_args', '--pdb'):
      assert foreign not in out, (where, foreign)


@pytest.mark.parametrize('module', [m for m, _, tree in PROGRAMS
                                    if _kind(tree) == 'argparse'])
def test_help_comes_before_tensorflow_loads(helps, module):
  # It takes seconds to load. (The absl programs cannot answer before: their
  # flags are defined in the course's cifar10.py, which imports it first.)
  proc = helps[(module, NO_TENSORFLOW)]
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout == helps[(module, 'python path from the root')].stdout


def test_eval_help_says_precision_is_the_accuracy(helps):
  # A question users of the original asked: what is "precision @ 1"?
  out = _normal(helps[('cifar10.cifar10_eval', 'python -m')].stdout)
  assert ('"precision @ 1" is the fraction of the test images whose top '
          'prediction (the class with the highest logit) is the right one: '
          'the accuracy.') in out, out
