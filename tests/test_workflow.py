"""The forge's workflow (.github/workflows/tests.yml), which never runs here:
valid against the published GitHub Actions schema (check-jsonschema's copy,
offline), and running what the README says on the systems it names."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

WORKFLOW = os.path.join(REPO, '.github', 'workflows', 'tests.yml')


def _check_jsonschema():
  path = shutil.which('check-jsonschema',
                      path=os.path.dirname(sys.executable))
  if path is None:
    pytest.skip("check-jsonschema is missing: pip install check-jsonschema "
                "(in the project's test extra)")
  return path


def _validate(path):
  return subprocess.run(
      [_check_jsonschema(), '--builtin-schema', 'vendor.github-workflows',
       path], capture_output=True, text=True, timeout=120)


def _workflow():
  yaml = pytest.importorskip('ruamel.yaml', reason='ruamel.yaml comes with '
                             'check-jsonschema (the test extra)')
  with open(WORKFLOW, encoding='utf-8') as f:
    return yaml.YAML(typ='safe').load(f)


def test_the_workflow_fits_the_schema_and_a_broken_one_does_not(tmp_path):
  proc = _validate(WORKFLOW)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  # The check bites: a job without runs-on, and a misspelt key.
  with open(WORKFLOW, encoding='utf-8') as f:
    text = f.read()
  for broken in (text.replace('    runs-on: ${{ matrix.os }}\n', '', 1),
                 text.replace('timeout-minutes', 'timeout-minute', 1)):
    assert broken != text
    path = tmp_path / 'broken.yml'
    path.write_text(broken, encoding='utf-8')
    assert _validate(str(path)).returncode != 0


def test_it_runs_the_readme_commands_where_it_says():
  jobs = _workflow()['jobs']
  runs = {name: [step['run'] for step in job['steps'] if 'run' in step]
          for name, job in jobs.items()}
  assert runs == {'suite': ['python scripts/run_tests.py'],
                  'platform': ['python scripts/check_platform.py']}
  with open(os.path.join(REPO, 'README.md'), encoding='utf-8') as f:
    assert 'python scripts/run_tests.py' in f.read()
  # Windows x86-64, macOS arm64 (macos-14 is Apple silicon), Linux x86-64;
  # the oldest and newest Python that setup.py admits.
  with open(os.path.join(REPO, 'setup.py'), encoding='utf-8') as f:
    low, high = re.search(r"python_requires='>=3\.(\d+),<3\.(\d+)'",
                          f.read()).groups()
  pythons = ['3.%s' % low, '3.%d' % (int(high) - 1)]
  matrix = jobs['platform']['strategy']['matrix']
  assert set(matrix['os']) == {'windows-2022', 'macos-14', 'ubuntu-24.04'}
  assert matrix['python'] == pythons
  assert jobs['suite']['strategy']['matrix']['python'] == pythons
