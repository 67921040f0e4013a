"""The forge's workflow (.github/workflows/tests.yml), which never runs here:
valid against the published GitHub Actions schema (check-jsonschema's copy,
offline), and running what the README says on the systems it names."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import import_or_skip, REPO, REQUIRE_ALL_ENV
from conftest import skip_unless_required

WORKFLOW = os.path.join(REPO, '.github', 'workflows', 'tests.yml')


def _check_jsonschema():
  path = shutil.which('check-jsonschema',
                      path=os.path.dirname(sys.executable))
  if path is None:
    skip_unless_required("check-jsonschema is missing: pip install "
                         "check-jsonschema (in the project's test extra)")
  return path


def _validate(path):
  return subprocess.run(
      [_check_jsonschema(), '--builtin-schema', 'vendor.github-workflows',
       path], capture_output=True, text=True, timeout=120)


def _workflow():
  yaml = import_or_skip('ruamel.yaml', 'ruamel.yaml comes with '
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


def test_what_is_missing_skips_here_and_fails_under_ci_run(monkeypatch):
  # A forge's runners have no Chromium or data: those tests skip there.
  monkeypatch.delenv(REQUIRE_ALL_ENV, raising=False)
  with pytest.raises(pytest.skip.Exception, match='^chromium is missing$'):
    skip_unless_required('chromium is missing')
  with pytest.raises(pytest.skip.Exception, match='^no such module$'):
    import_or_skip('no_such_module_here', 'no such module')
  # .ci/run asks for every test: there the same is a failure.
  with open(os.path.join(REPO, '.ci', 'run'), encoding='utf-8') as f:
    assert re.search(r'^export %s=1$' % REQUIRE_ALL_ENV, f.read(), re.M)
  monkeypatch.setenv(REQUIRE_ALL_ENV, '1')
  with pytest.raises(pytest.fail.Exception, match=re.escape(
      'chromium is missing (TF_TUTORIALS_REQUIRE_ALL is set: this test must '
      'run here)')):
    skip_unless_required('chromium is missing')
