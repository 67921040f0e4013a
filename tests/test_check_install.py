"""scripts/check_install.py: what it checks in a wheel, and what it runs.

The whole check (build, fresh environment, install, programs) runs in
.ci/run, where the real data sets are: here its parts.
"""

import os
import re
import sys
import zipfile

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, 'scripts'))
import check_install  # noqa: E402


def test_every_module_of_both_packages_must_be_in_the_wheel(tmp_path):
  modules = check_install.package_modules()
  for package in ('cifar10', 'mnist'):
    on_disk = {'%s/%s' % (package, name)
               for name in os.listdir(os.path.join(REPO, package))
               if name.endswith('.py')}
    assert on_disk and on_disk <= modules
  assert {'cifar10/__init__.py', 'cifar10/cifar10_train.py',
          'mnist/input_data.py'} <= modules
  # A wheel that lost one module (and held other files) is caught, naming it.
  wheel = str(tmp_path / 'classic_tf_tutorials-0-py3-none-any.whl')
  with zipfile.ZipFile(wheel, 'w') as archive:
    for name in sorted(modules - {'cifar10/evaluation.py'}):
      archive.writestr(name, '')
    archive.writestr('classic_tf_tutorials-0.dist-info/METADATA', '')
  assert check_install.missing_from_wheel(wheel) == ['cifar10/evaluation.py']
  with zipfile.ZipFile(wheel, 'a') as archive:
    archive.writestr('cifar10/evaluation.py', '')
  assert check_install.missing_from_wheel(wheel) == []


def test_the_lab_and_mnist_run_as_installed_commands():
  train, evaluate, mnist = check_install.commands(
      os.path.join('V', 'bin'), 'C', 'M', 'W')
  suffix = '.exe' if os.name == 'nt' else ''
  assert [c[0] for c in (train, evaluate, mnist)] == [
      os.path.join('V', 'bin', name + suffix) for name in
      ('cifar10_train', 'cifar10_eval', 'fully_connected_feed')]
  def value(command, flag):
    return command[command.index(flag) + 1]
  # The evaluation reads the checkpoint the training wrote, of the data.
  assert value(train, '--train_dir') == value(evaluate, '--checkpoint_dir') == (
      os.path.join('W', 'train'))
  assert value(train, '--data_dir') == value(evaluate, '--data_dir') == 'C'
  assert '--run_once' in evaluate
  assert value(mnist, '--input_data_dir') == 'M'
  # Every folder written is in the work folder, outside the repository.
  for command in (train, evaluate, mnist):
    for flag in ('--train_dir', '--eval_dir', '--log_dir'):
      if flag in command:
        assert value(command, flag).startswith('W' + os.sep)


def test_ci_runs_the_quick_start_and_the_install_check():
  with open(os.path.join(REPO, '.ci', 'run'), encoding='utf-8') as f:
    ci = f.read()
  quickstart = re.search(r'^"\$python" scripts/quickstart\.py (.*)$', ci,
                         re.M)
  assert quickstart and '--max_steps' in quickstart.group(1)
  assert re.search(r'^"\$python" scripts/check_install\.py --cifar10_data '
                   r'\S+ --mnist_data \S+', ci, re.M)
  # The quick start first, as the README orders its two commands.
  assert ci.index('scripts/quickstart.py') < ci.index('scripts/run_tests.py')
