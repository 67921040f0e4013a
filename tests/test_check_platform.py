"""scripts/check_platform.py, the check a Windows or Mac user runs, here."""

import subprocess
import sys

from conftest import REPO, program_env


def test_every_check_passes_here():
  proc = subprocess.run(
      [sys.executable, 'scripts/check_platform.py', '--no_venv'], cwd=REPO,
      env=program_env(), capture_output=True, text=True, timeout=600,
      stdin=subprocess.DEVNULL)
  lines = proc.stdout.strip().splitlines()
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert [line[:6] for line in lines[1:-1]] == ['PASS  '] * 5, lines
  assert lines[-1] == 'OK: 0 check(s) failed.'
