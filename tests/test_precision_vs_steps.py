"""cifar10/precision_vs_steps.py: the CSVs, the plots, resuming, its errors."""

import csv
import importlib.util
import os
import re
import signal
import subprocess
import sys

import pytest
import tensorflow as tf

import testdata
from cifar10 import precision_plots
from conftest import REPO, program_env, run_program

SCRIPT = os.path.join(REPO, 'cifar10', 'precision_vs_steps.py')
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
  first_run = stdout.split('=== fully_connected_feed')[1]
  printed = [(int(m.group(1)), float(m.group(2)))
             for m in map(STEP.match, first_run.splitlines()) if m]
  assert [s for s, _ in printed] == [0, 100]
  steps, losses = precision_plots.read_losses(os.path.join(out_dir, 'logs',
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


# CIFAR-10: one training run, evaluated at each step count, resumable.

CIFAR_ROW = re.compile(r'^ +(\d+)  (\d\.\d{3}) +(\d+\.\d) +(\d+\.\d)$', re.M)
EVAL_PRECISION = re.compile(r': precision @ 1 = (\d\.\d{3})$', re.M)


def _cifar_args(data_dir, out_dir, *steps):
  return [SCRIPT, '--tutorial', 'cifar10', '--data_dir', data_dir,
          '--output_dir', out_dir, '--batch_size', '8', '--steps'] + [
              str(s) for s in steps]


def _csv_rows(out_dir):
  with open(os.path.join(out_dir, 'precision_vs_steps.csv')) as f:
    return list(csv.reader(f))


@pytest.fixture(scope='module')
def cifar_data(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('pvs_cifar'))
  testdata.make_cifar10_dir(root, n=40, n_test=30)
  return root


@pytest.fixture(scope='module')
def cifar_run(cifar_data, tmp_path_factory):
  """The curve to 4 and 8 steps, then resumed to 12 with 8 asked again."""
  out_dir = str(tmp_path_factory.mktemp('pvs_cifar_out'))
  first = run_program(_cifar_args(cifar_data, out_dir, 8, 4), timeout=300)
  after_first = _csv_rows(out_dir)
  second = run_program(_cifar_args(cifar_data, out_dir, 4, 8, 12),
                       timeout=300)
  return first.stdout, after_first, second.stdout, out_dir


def test_cifar10_curve_rows_are_the_evaluations_printed(cifar_run):
  first, after_first, _, out_dir = cifar_run
  assert after_first[0] == ['steps', 'precision', 'wall_seconds',
                            'examples_per_sec']
  # Rising order whatever the order asked, each row cifar10_eval's line.
  assert [r[0] for r in after_first[1:]] == ['4', '8']
  printed = EVAL_PRECISION.findall(first)
  assert [r[1] for r in after_first[1:]] == [p + '0' for p in printed]
  seconds = [float(r[2]) for r in after_first[1:]]
  assert 0 < seconds[0] < seconds[1]
  # One training run: the second stretch resumed from the first's end.
  assert 'Resuming from the checkpoint at step 4.' in first
  assert first.count('=== cifar10_train') == 2
  # The evaluated checkpoints are kept, one folder each.
  for step in (4, 8):
    kept = os.path.join(out_dir, 'checkpoints', 'step_%d' % step)
    assert os.path.exists(os.path.join(kept, 'model.ckpt-%d.index' % step))
  # The table printed at the end is the CSV.
  table = [(int(s), p) for s, p, _, _ in CIFAR_ROW.findall(first)]
  assert table == [(4, printed[0]), (8, printed[1])]


def test_cifar10_resume_keeps_rows_and_trains_on(cifar_run):
  _, after_first, second, out_dir = cifar_run
  rows = _csv_rows(out_dir)
  assert rows[:3] == after_first  # Measured rows are kept as they were.
  assert [r[0] for r in rows[1:]] == ['4', '8', '12']
  assert second.count('=== cifar10_train') == 1
  assert 'Resuming from the checkpoint at step 8.' in second
  assert float(rows[3][2]) > float(rows[2][2])  # Wall time goes on.
  assert float(rows[3][3]) >= 0


def test_cifar10_plots_are_pngs(cifar_run):
  image = pytest.importorskip('matplotlib.image')
  _, _, second, out_dir = cifar_run
  for name in ('precision_vs_steps.png', 'precision_vs_time.png'):
    path = os.path.join(out_dir, name)
    assert 'Wrote %s' % path in second
    pixels = image.imread(path)
    assert pixels.shape[:2] == (450, 700)
    assert pixels[..., :3].std() > 0.05


def test_cifar10_stopped_by_sigterm_goes_on_where_it_left_off(cifar_data,
                                                              tmp_path):
  out_dir = str(tmp_path / 'out')
  args = _cifar_args(cifar_data, out_dir, 3000)
  proc = subprocess.Popen([sys.executable] + args, cwd=REPO,
                          env=program_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  # Once training runs, stop the tool: the trainer saves and ends too.
  for line in proc.stdout:
    if ': step 10, loss' in line:
      proc.send_signal(signal.SIGTERM)
      break
  out, err = proc.communicate(timeout=120)
  assert proc.returncode == 128 + signal.SIGTERM
  assert err.strip() == 'precision_vs_steps: stopped by SIGTERM.'
  assert 'Received SIGTERM: stopping and saving a checkpoint' in out
  train_dir = os.path.join(out_dir, 'train')
  step = int(tf.train.load_variable(train_dir, 'global_step'))
  assert 10 <= step < 3000
  assert not os.path.exists(os.path.join(out_dir,
                                         'precision_vs_steps.csv'))
  # The same command, asking for fewer steps now, goes on from there.
  proc = run_program(_cifar_args(cifar_data, out_dir, step + 4),
                     timeout=300)
  assert 'Resuming from the checkpoint at step %d.' % step in proc.stdout
  rows = _csv_rows(out_dir)
  assert [r[0] for r in rows[1:]] == [str(step + 4)]
  assert float(rows[1][2]) > 0


def test_cifar10_flags_of_the_other_tutorial_are_errors(capsys):
  module = _load_script()
  for argv, message in (
      (['--fake_data', '--tutorial', 'cifar10'],
       '--fake_data applies to --tutorial mnist only'),
      (['--data_dir', 'x'], '--data_dir applies to --tutorial cifar10 only'),
      (['--mixed_precision'],
       '--mixed_precision applies to --tutorial cifar10 only')):
    with pytest.raises(SystemExit) as e:
      module.main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_cifar10_csv_of_another_run_is_refused(cifar_data, tmp_path):
  out_dir = str(tmp_path)
  with open(os.path.join(out_dir, 'precision_vs_steps.csv'), 'w') as f:
    f.write('steps,precision,wall_seconds,examples_per_sec\n'
            '1000,0.6100,300.0,500.0\n')
  proc = run_program(_cifar_args(cifar_data, out_dir, 2000), check=False)
  assert proc.returncode == 1 and 'Traceback' not in proc.stderr
  assert proc.stderr.strip() == (
      'precision_vs_steps: error: %s has rows up to step 1000 but %s holds '
      'no checkpoint beyond step 0: point --train_dir at that run, or use a '
      'new --output_dir' % (os.path.join(out_dir, 'precision_vs_steps.csv'),
                            os.path.join(out_dir, 'train')))


def test_cifar10_mixed_precision_reaches_both_programs(tmp_path,
                                                       monkeypatch):
  module = _load_script()
  calls = []

  def fake_run(program, args, log=None):
    calls.append((program, args))
    if program == 'cifar10.cifar10_train':
      train_dir = args[args.index('--train_dir') + 1]
      step = int(args[args.index('--max_steps') + 1])
      os.makedirs(train_dir, exist_ok=True)
      open(os.path.join(train_dir, 'model.ckpt-%d.index' % step), 'w').close()
      with open(os.path.join(train_dir, 'checkpoint'), 'w') as f:
        f.write('model_checkpoint_path: "model.ckpt-%d"\n' % step)
      return ''
    return '2026-11-30 12:00:00.000000: precision @ 1 = 0.500\n'

  monkeypatch.setattr(module, '_run', fake_run)
  module.main(['--tutorial', 'cifar10', '--mixed_precision', '--steps', '3',
               '--data_dir', str(tmp_path / 'data'), '--output_dir',
               str(tmp_path / 'out')])
  assert [p for p, _ in calls] == ['cifar10.cifar10_train',
                                   'cifar10.cifar10_eval']
  assert all('--mixed_precision' in args for _, args in calls)
