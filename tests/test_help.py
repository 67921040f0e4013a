"""--help of every program, started every way a user starts it.

Every module with an `if __name__ == '__main__':` block in cifar10/, mnist/
and scripts/ is a program. Each must print its whole docstring and every
flag it accepts, wherever that flag is defined, and no flag of absl's or
TensorFlow's own. The accepted flags are found independently of --help: the
absl flags our modules define once the program is imported, or the options
of the argparse parser the program builds.
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

# Reports the flags a program accepts as JSON: for an argparse program, the
# options of the parser it builds (caught when it parses: it runs as the
# program, so one that parses before TensorFlow loads is quick); for an absl
# program (imported only), the flags that our modules defined.
PROBE = r'''
import argparse, json, os, runpy, sys
module_name, kind = sys.argv[1], sys.argv[2]

def report(self, args=None, namespace=None):
  print(json.dumps(sorted(o for a in self._actions for o in a.option_strings
                          if o.startswith('--'))))
  sys.stdout.flush()
  os._exit(0)

if kind == 'absl':
  import importlib
  module = importlib.import_module(module_name)
  from absl import flags
  ours = [f for m, fl in flags.FLAGS.flags_by_module_dict().items()
          if m.split('.')[0] in ('cifar10', 'mnist') for f in fl]
  print(json.dumps(sorted(set('--' + f.name for f in ours))))
  sys.exit(0)
argparse.ArgumentParser.parse_known_args = report
sys.argv = [module_name]
runpy.run_module(module_name, run_name='__main__', alter_sys=True)
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


def _run(args, cwd=REPO):
  try:
    return subprocess.run(args, cwd=cwd, env=program_env(), text=True,
                          capture_output=True, timeout=300,
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
def helps():
  """Every program's accepted flags and its --help every way, in parallel."""
  jobs = {}
  with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
    for module, path, tree in PROGRAMS:
      jobs[(module, 'probe')] = pool.submit(
          _run, [sys.executable, '-c', PROBE, module, _kind(tree)])
      for way, argv, cwd in _ways(module, path):
        jobs[(module, way)] = pool.submit(_run, argv + ['--help'], cwd)
    return {key: job.result() for key, job in jobs.items()}


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
  probe = helps[(module, 'probe')]
  assert probe.returncode == 0, probe.stderr
  accepted = json.loads(probe.stdout.strip().splitlines()[-1])
  assert accepted, module
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


def test_eval_help_says_precision_is_the_accuracy(helps):
  # A question users of the original asked: what is "precision @ 1"?
  out = _normal(helps[('cifar10.cifar10_eval', 'python -m')].stdout)
  assert ('"precision @ 1" is the fraction of the test images whose top '
          'prediction (the class with the highest logit) is the right one: '
          'the accuracy.') in out, out
