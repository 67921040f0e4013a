r"""What a user's `pip install ".[cpu]"` gives, checked from a built wheel.

  python scripts/check_install.py --cifar10_data DIR --mnist_data DIR

The suite runs on an editable install with the test tools, so a module
left out of the wheel, or a dependency only a test tool brings in, would
pass it and break a user's install. This builds the wheel (pip wheel, as
`pip install .` does), checks that it holds every module of both packages,
makes a fresh virtual environment in a temporary folder, installs the wheel
with the extra cpu alone, and runs from a folder outside the repository,
each command printed first:

  cifar10_train --max_steps 5 ...; cifar10_eval --run_once ...  (the lab)
  fully_connected_feed --max_steps 20 ...                        (MNIST)

--cifar10_data holds cifar-10-batches-bin, --mnist_data MNIST's four gzip
files (nothing is downloaded). The first failure ends the check with one
line; the temporary folder is removed either way. .ci/run runs it.
"""

import argparse
import glob
import os
import shutil
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
  sys.path.insert(0, HERE)
import setup_env

PROG = 'check_install.py'
ROOT = os.path.dirname(HERE)
PACKAGES = ('cifar10', 'mnist')
EXTRAS = 'cpu'  # What the README's `pip install ".[cpu]"` asks for.


def package_modules(root=ROOT):
  """The modules a wheel must hold: every .py of the packages, as paths."""
  found = set()
  for package in PACKAGES:
    for path in glob.glob(os.path.join(root, package, '*.py')):
      found.add('%s/%s' % (package, os.path.basename(path)))
  return found


def missing_from_wheel(wheel, root=ROOT):
  """The package modules the wheel lacks, sorted (none: an empty list)."""
  with zipfile.ZipFile(wheel) as archive:
    return sorted(package_modules(root) - set(archive.namelist()))


def commands(bin_dir, cifar10_data, mnist_data, work_dir):
  """The programs to run from the installed wheel, as argument lists.

  Args:
    bin_dir: the environment's folder of commands (bin, or Scripts).
    cifar10_data: the folder holding cifar-10-batches-bin.
    mnist_data: the folder holding MNIST's gzip files.
    work_dir: where they write (train, eval and mnist folders in it).
  """
  def command(name):
    return os.path.join(bin_dir, name + ('.exe' if os.name == 'nt' else ''))
  train_dir = os.path.join(work_dir, 'train')
  return [
      [command('cifar10_train'), '--data_dir', cifar10_data, '--train_dir',
       train_dir, '--max_steps', '5', '--batch_size', '16'],
      [command('cifar10_eval'), '--data_dir', cifar10_data,
       '--checkpoint_dir', train_dir, '--eval_dir',
       os.path.join(work_dir, 'eval'), '--run_once', '--num_examples',
       '200'],
      [command('fully_connected_feed'), '--input_data_dir', mnist_data,
       '--log_dir', os.path.join(work_dir, 'mnist'), '--max_steps', '20']]


def _run(args, cwd, env, what):
  code, interrupted = setup_env.run_program(args, cwd, env)
  if code != 0 or interrupted:
    raise setup_env.SetupError('%s failed (exit status %s)' % (what, code),
                               setup_env.exit_status(code))


def check(cifar10_data, mnist_data, work_dir):
  """Builds, installs and runs as the module docstring says, in work_dir."""
  dist = os.path.join(work_dir, 'dist')
  _run([sys.executable, '-m', 'pip', 'wheel', '--quiet',
        '--disable-pip-version-check', '--no-deps', '--wheel-dir', dist,
        ROOT], work_dir, dict(os.environ), 'building the wheel')
  wheel, = glob.glob(os.path.join(dist, '*.whl'))
  missing = missing_from_wheel(wheel)
  if missing:
    raise setup_env.SetupError('%s lacks %s' % (os.path.basename(wheel),
                                                ', '.join(missing)))
  print('%s holds all %d modules of %s.' % (
      os.path.basename(wheel), len(package_modules()), ' and '.join(
          PACKAGES)))
  venv_dir = os.path.join(work_dir, 'venv')
  setup_env.make_venv(venv_dir)
  python = setup_env.venv_python(venv_dir)
  env = setup_env.program_environ(work_dir, 'venv')
  env.pop('PYTHONPATH', None)  # Nothing of the checkout may leak in.
  _run([python, '-m', 'pip', 'install', '--quiet',
        '--disable-pip-version-check', '%s[%s]' % (wheel, EXTRAS)],
       work_dir, env, 'installing the wheel')
  runs = os.path.join(work_dir, 'runs')
  os.makedirs(runs)
  for args in commands(os.path.dirname(python), cifar10_data, mnist_data,
                       runs):
    _run(args, runs, env, os.path.basename(args[0]))


def _folder(text):
  if not os.path.isdir(text):
    raise argparse.ArgumentTypeError('%s is not a folder' % text)
  return os.path.abspath(text)


def main(argv=None):
  parser = setup_env.ArgumentParser(PROG, __doc__)
  parser.add_argument('--cifar10_data', type=_folder, required=True,
                      metavar='DIR', help='holds cifar-10-batches-bin')
  parser.add_argument('--mnist_data', type=_folder, required=True,
                      metavar='DIR', help="holds MNIST's four gzip files")
  args = parser.parse_args(argv)
  work_dir = tempfile.mkdtemp(prefix='check_install_')
  try:
    check(args.cifar10_data, args.mnist_data, work_dir)
  finally:
    shutil.rmtree(work_dir, ignore_errors=True)
  print('%s: the wheel installs with [%s] alone and its programs run.' % (
      PROG, EXTRAS))
  return 0


if __name__ == '__main__':
  setup_env.run_main(PROG, main)
