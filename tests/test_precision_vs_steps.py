"""scripts/precision_vs_steps.py: the CSV, the two plots and its errors."""

import csv
import importlib.util
import os
import re
import sys

import pytest

import testdata
from conftest import REPO, run_program

SCRIPT = os.path.join(REPO, 'scripts', 'precision_vs_steps.py')
STEP = re.compile(r'^Step (\d+): loss = (\d+\.\d\d) ')
PRECISION = re.compile(r'Precision @ 1: (\d\.\d{4})$')


def _load_script():
  """The script as a module (its main() and helpers)."""
  spec = importlib.util.spec_from_file_location('precision_vs_steps', SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  """One run of the script on synthetic files, --steps 150 120."""
  root = tmp_path_factory.mktemp('pvs')
  data_dir, out_dir = str(root / 'data'), str(root / 'out')
  testdata.make_mnist_dir(data_dir, n_train=5300, n_test=200)
  proc = run_program([SCRIPT, '--steps', '150', '120', '--input_data_dir',
                      data_dir, '--output_dir', out_dir], timeout=300)
  return proc.stdout, out_dir


def test_csv_holds_each_runs_last_evaluation(run):
  stdout, out_dir = run
  # Per run, the last three precisions printed: train, validation, test.
  blocks = stdout.split('=== fully_connected_feed')[1:]
  assert len(blocks) == 2
  printed = [[m.group(1) for m in map(PRECISION.search, b.splitlines()) if m]
             for b in blocks]
  with open(os.path.join(out_dir, 'precision_vs_steps.csv')) as f:
    rows = list(csv.reader(f))
  assert rows[0] == ['max_steps', 'train_precision', 'validation_precision',
                     'test_precision', 'seconds']
  assert [r[0] for r in rows[1:]] == ['150', '120']
  for row, run_printed in zip(rows[1:], printed, strict=True):
    assert row[1:4] == run_printed[-3:]
    assert float(row[4]) > 0
  assert float(rows[1][3]) >= 0.5  # Learned something in 150 steps.
  assert 'Wrote %s' % os.path.join(out_dir, 'loss.png') in stdout


def test_plots_are_pngs(run):
  image = pytest.importorskip('matplotlib.image')
  _, out_dir = run
  for name in ('precision_vs_steps.png', 'loss.png'):
    pixels = image.imread(os.path.join(out_dir, name))
    assert pixels.shape[:2] == (450, 700)
    assert pixels[..., :3].std() > 0.05  # Not blank.


def test_losses_read_back_from_event_files(run):
  stdout, out_dir = run
  module = _load_script()
  first_run = stdout.split('=== fully_connected_feed')[1]
  printed = [(int(m.group(1)), float(m.group(2)))
             for m in map(STEP.match, first_run.splitlines()) if m]
  assert [s for s, _ in printed] == [0, 100]
  steps, losses = module.read_losses(os.path.join(out_dir, 'logs',
                                                  'steps_150'))
  assert steps == [0, 100]
  for (_, shown), loss in zip(printed, losses, strict=True):
    assert loss == pytest.approx(shown, abs=0.006)


def test_missing_matplotlib_is_a_clear_error(monkeypatch, tmp_path):
  monkeypatch.setitem(sys.modules, 'matplotlib', None)
  monkeypatch.setitem(sys.modules, 'matplotlib.pyplot', None)
  module = _load_script()
  with pytest.raises(SystemExit) as e:
    module.main(['--fake_data', '--output_dir', str(tmp_path)])
  assert e.value.code == (
      "precision_vs_steps: error: the plots need matplotlib: pip install "
      "'classic-tf-tutorials[plot]' (or pip install matplotlib)")
  assert os.listdir(str(tmp_path)) == []  # Nothing trained.


def test_fake_data_in_process(tmp_path, capsys):
  module = _load_script()
  module.main(['--fake_data', '--steps', '3', '--output_dir', str(tmp_path)])
  assert sorted(os.listdir(str(tmp_path))) == [
      'logs', 'loss.png', 'precision_vs_steps.csv', 'precision_vs_steps.png']
  with open(str(tmp_path / 'precision_vs_steps.csv')) as f:
    assert next(csv.DictReader(f))['max_steps'] == '3'
  assert '        3  ' in capsys.readouterr().out


@pytest.mark.parametrize('argv, message', [
    (['--step', '10'], '--step (did you mean --steps?)'),
    (['--steps', '0'], 'argument --steps: must be at least 1, not 0'),
])
def test_bad_flags(argv, message, capsys):
  module = _load_script()
  with pytest.raises(SystemExit) as e:
    module.main(argv)
  assert e.value.code == 2
  assert message in capsys.readouterr().err
