"""scripts/gpu_check.py: what a machine without a GPU (every one here)
can show of it.

Its one line without a GPU and its flag errors, as a user sees them; its
reading of the programs' lines; its table for a machine with one or two
GPUs, the programs faked (no TensorFlow); and the whole script with
--allow_cpu at toy size, checked against the logs of the programs it ran.
"""

import os
import re
import statistics
import subprocess
import sys

import pytest

from conftest import REPO, run_program
import testdata

SCRIPT = os.path.join('scripts', 'gpu_check.py')
sys.path.append(os.path.join(REPO, 'scripts'))
import gpu_check  # noqa: E402
import program_runs  # noqa: E402

# A log line exactly as cifar10_session.LoggerHook prints it.
LINE = ('%s: step %d, loss = %.2f (%.1f examples/sec; %.3f sec/batch)')
STAMP = '2026-12-07 18:50:%02d.%06d'
TABLE_ROW = re.compile(r'^\| (.+?) \| (.+?) \| (.*?) \| (.*?) \| (.*?) \| '
                       r'(\d+) \|$', re.M)


def _log(rates, batch_size=128, every=10):
  """Trainer output whose log lines (from step 0, every `every`) carry the
  given examples/sec, with the lines the programs print around them."""
  lines = ['Filling queue with 20000 CIFAR images before starting to train. '
           'This will take a few minutes.']
  for i, rate in enumerate(rates):
    lines.append(LINE % (STAMP % (i % 60, i * 997), i * every, 2.3 - i / 100,
                         rate, batch_size / rate))
  return '\n'.join(lines) + '\n'


def _rows(out):
  """{configuration label: (command, rate, ratio, precision, seconds)}."""
  return {m[0]: m[1:] for m in TABLE_ROW.findall(out)
          if m[0] != 'configuration'}


def test_log_lines_give_the_median_after_warm_up():
  rates = [5.0, 900.0, 1000.0, 1200.0, 1100.0, 1300.0, 1250.0]
  out = _log(rates)
  # Steps 0..60; from step 30 on: 1200, 1100, 1300, 1250.
  assert gpu_check.examples_per_sec(out, 30) == 1225.0
  # Step 0 is always out: its time includes the start.
  assert gpu_check.examples_per_sec(out, 0) == statistics.median(rates[1:])
  assert gpu_check.examples_per_sec(out, 1000) is None
  assert gpu_check.examples_per_sec('no log lines\n', 0) is None
  # A loss that became nan is still a log line: from step 40 on, 1100,
  # 1300, 1250 and its 700.5.
  nan = LINE.replace('%.2f', 'nan') % (STAMP % (7, 0), 70, 700.5, 0.183)
  assert gpu_check.examples_per_sec(out + nan + '\n', 40) == 1175.0


def test_schedule_logs_every_10_steps_after_30_at_1000():
  assert gpu_check.schedule(1000) == (10, 30)
  assert gpu_check.schedule(200) == (10, 30)
  assert gpu_check.schedule(8) == (1, 4)
  assert gpu_check.schedule(2) == (1, 1)


def test_no_gpu_reason_names_what_to_do():
  found = {'tensorflow': '2.21.0', 'cuda': False, 'cudnn': None, 'gpus': []}
  assert 'built without CUDA' in gpu_check.no_gpu_reason(found, 'posix')
  assert 'WSL2' in gpu_check.no_gpu_reason(found, 'nt')
  found['cuda'] = '12.5.1'
  assert gpu_check.no_gpu_reason(found, 'posix') == (
      'TensorFlow 2.21.0 is built for CUDA 12.5.1 but finds no GPU: does '
      'nvidia-smi show one?')


def test_a_failed_program_gives_its_last_line(tmp_path):
  log = str(tmp_path / 'train.log')
  out, error, _ = gpu_check._run(['-c', 'import sys; print("step 1"); '
                                  'sys.exit("cifar10_train: error: bad")'],
                                 log)
  assert error == 'cifar10_train: error: bad'
  with open(log, encoding='utf-8') as f:
    assert f.read() == 'step 1\ncifar10_train: error: bad\n'
  assert out.rstrip('\n') == 'step 1\ncifar10_train: error: bad'


@pytest.mark.parametrize('gpus', [1, 2])
def test_on_a_gpu_machine_each_row_and_a_failure(monkeypatch, tmp_path,
                                                 capsys, gpus):
  # The programs faked as program_runs.run would run them, on a machine
  # with Tesla T4s: the CPU-side logic of a GPU run.
  ran = []
  rates = {'float32': 4000.0, 'mixed_precision': 6000.0, 'towers': 7000.0}

  def fake_run(args, env=None):
    del env
    ran.append(args)
    if args[0] == '-c':
      return ('notice\nPROBE {"tensorflow": "2.21.0", "cuda": "12.5.1", '
              '"cudnn": "9", "gpus": %s}\n' % (
                  [['Tesla T4', [7, 5]]] * gpus)).replace("'", '"'), 9.0, 0
    if args[1] == 'cifar10.cifar10_eval':
      return 'x: precision @ 1 = 0.6%02d\n' % len(ran), 5.0, 0
    config = os.path.basename(os.path.dirname(args[args.index(
        '--train_dir') + 1]))
    if config == 'use_fp16':
      sys.exit('%s failed:\n%scifar10_train: error: loss is NaN | x' % (
          ' '.join(args), _log([100.0] * 3)))
    out = _log([1.0] * 3 + [rates[config]] * 8)
    if config == 'mixed_precision':
      out = ('cifar10_train: mixed precision: float16 arithmetic, float32 '
             'variables and checkpoints.\n' + out)
    return out, 40.0, 0

  monkeypatch.setattr(program_runs, 'run', fake_run)
  monkeypatch.setattr(gpu_check.cifar10_download,
                      'maybe_download_and_extract', lambda folder: folder)
  status = gpu_check.main(['--output_dir', str(tmp_path), '--max_steps',
                           '100', '--data_dir', str(tmp_path / 'data')])
  out = capsys.readouterr().out
  assert status == 1  # A run failed.
  assert 'GPU 0: Tesla T4 (compute capability 7.5)\n' in out
  assert ('GPU 1: Tesla T4' in out) == (gpus == 2)
  assert 'TensorFlow 2.21.0 (CUDA 12.5.1, cuDNN 9)' in out
  towers = ('towers (1 on 1 GPU: this machine has one)' if gpus == 1 else
            'towers (2 on 2 GPUs)')
  assert _rows(out) == {
      'float32': ('cifar10_train', '4000', '1.00', '0.603', '45'),
      'mixed_precision (float16 arithmetic, loss scaling)': (
          'cifar10_train --mixed_precision', '6000', '1.50', '0.605', '45'),
      'use_fp16 (float16 variables, no loss scaling)': (
          'cifar10_train --use_fp16',
          r'failed: cifar10_train: error: loss is NaN \| x', '', '', '0'),
      towers: ('cifar10_multi_gpu_train --num_gpus %d' % gpus, '7000',
               '1.75', '0.608', '45')}
  # The failed run was not evaluated; the others went on.
  programs = [args[1] for args in ran[1:]]
  assert programs == ['cifar10.cifar10_train', 'cifar10.cifar10_eval'] * 2 + [
      'cifar10.cifar10_train', 'cifar10.cifar10_multi_gpu_train',
      'cifar10.cifar10_eval']
  assert ran[5][-1] == '--use_fp16' and ran[3][-1] == '--mixed_precision'
  assert '--tower_device' not in ran[-2]
  assert ['--fresh', '--max_steps', '100', '--batch_size', '128',
          '--log_frequency', '10'] == ran[1][6:13]


def _script(args):
  return subprocess.run([sys.executable, SCRIPT] + args, cwd=REPO,
                        capture_output=True, text=True, timeout=60,
                        stdin=subprocess.DEVNULL)


@pytest.mark.parametrize('args, message', [
    (['--max_step', '10'], 'unrecognized arguments: --max_step 10, did you '
     'mean --max_steps?'),
    (['--max_steps', '1'], "argument --max_steps: not an integer of at least "
     "2: '1'"),
    (['--configs', 'float23'], "argument --configs: no configuration "
     "'float23' (did you mean float32?); they are float32, mixed_precision, "
     'use_fp16, towers'),
    (['towers'], 'unrecognized arguments: towers'),
])
def test_a_bad_flag_is_one_line(args, message):
  proc = _script(args)
  assert proc.returncode == 2
  assert proc.stdout == ''
  assert proc.stderr == 'gpu_check: error: %s (see --help)\n' % message


def test_without_a_gpu_one_line_and_nothing_downloaded(tmp_path):
  data_dir = tmp_path / 'data'
  proc = run_program([SCRIPT, '--data_dir', str(data_dir)], check=False)
  assert proc.returncode == 1
  assert proc.stdout == ''
  assert re.fullmatch(
      r'gpu_check: no GPU: TensorFlow sees none \(TensorFlow \S+ here is '
      r'built without CUDA; on Linux: pip install "\.\[gpu\]"\); in Colab: '
      r'Runtime > Change runtime type > GPU\.\n', proc.stderr), proc.stderr
  assert not data_dir.exists()


def test_a_tensorflow_that_does_not_load_is_one_line(tmp_path):
  fake = tmp_path / 'fake' / 'tensorflow'
  fake.mkdir(parents=True)
  (fake / '__init__.py').write_text('raise ImportError("no libcudart")\n')
  proc = run_program([SCRIPT], env={'PYTHONPATH': str(fake.parent)},
                     check=False)
  assert proc.returncode == 1
  assert proc.stderr == ('gpu_check: error: TensorFlow does not load in %s: '
                         'ImportError: no libcudart\n' % sys.executable)


def test_data_that_cannot_be_fetched_is_one_line(monkeypatch, tmp_path):
  def fake_run(args, env=None):
    del args, env
    return 'PROBE {"tensorflow": "2.21.0", "cuda": false, "gpus": []}', 2, 0

  def no_network(folder):
    raise IOError('Cannot download %s into %s (--data_dir)' % ('x', folder))

  monkeypatch.setattr(program_runs, 'run', fake_run)
  monkeypatch.setattr(gpu_check.cifar10_download,
                      'maybe_download_and_extract', no_network)
  with pytest.raises(gpu_check.setup_env.SetupError,
                     match=r'^Cannot download x into .*data \(--data_dir\)$'):
    gpu_check.main(['--allow_cpu', '--data_dir', str(tmp_path / 'data'),
                    '--output_dir', str(tmp_path)])


def test_whole_script_on_the_cpu_at_toy_size(tmp_path):
  # One grey level per image: nothing to learn, so no run can diverge,
  # whatever the random start. Each configuration starts TensorFlow twice
  # (about 5 s of the suite's time): --use_fp16, only a flag passed on
  # here (above), is left out.
  data_dir, output_dir = str(tmp_path / 'data'), tmp_path / 'out'
  testdata.make_cifar10_dir(data_dir, n=8, n_test=16, flat=True)
  # --mixed_precision, like --use_fp16, is a flag passed on (checked with
  # the programs faked); its bfloat16 path runs in test_mixed_precision.
  configs = ['float32', 'towers']
  proc = run_program([SCRIPT, '--allow_cpu', '--data_dir', data_dir,
                      '--output_dir', str(output_dir), '--max_steps', '8',
                      '--batch_size', '4', '--configs', ','.join(configs)])
  out = proc.stdout
  assert ('No GPU: these runs are on the CPU (--allow_cpu, for tests and '
          'checks); their numbers say nothing about a GPU.') in out
  assert '8 steps of 4 images (per tower)' in out
  rows = _rows(out)
  labels = list(rows)
  assert labels == ['float32', 'towers (2 on 2 logical CPU devices)']
  base = float(rows['float32'][1])
  log_frequency, warmup = gpu_check.schedule(8)
  for label, config in zip(labels, configs, strict=True):
    command, rate, ratio, precision, _ = rows[label]
    folder = output_dir / config
    train_log = (folder / 'train.log').read_text(encoding='utf-8')
    eval_log = (folder / 'eval.log').read_text(encoding='utf-8')
    # The precision as cifar10_eval printed it.
    assert re.findall(r': precision @ 1 = (\S+)$', eval_log, re.M) == [
        precision]
    # The rate: the median of the trainer's lines from the warm-up on.
    found = [(int(step), float(value)) for step, value in re.findall(
        r'^\S+ \S+: step (\d+), loss = \S+ \((\S+) examples/sec; \S+ '
        r'sec/batch\)$', train_log, re.M)]
    assert [step for step, _ in found] == list(range(0, 8, log_frequency))
    assert rate == '%.0f' % statistics.median(
        value for step, value in found if step >= warmup)
    # The ratio, from the rates as printed.
    assert ratio == '%.2f' % (float(rate) / base)
    assert command.startswith('cifar10_multi_gpu_train --num_gpus 2 '
                              '--tower_device cpu' if config == 'towers' else
                              'cifar10_train')
    assert (folder / 'train' / 'model.ckpt-8.index').exists()
