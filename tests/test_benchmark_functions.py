"""The functions the README's speed and precision numbers come from, at toy
sizes: program_runs.train_rate and train_and_eval; benchmark_cifar10's
model_only_rate, eval_seconds and precision_runs; benchmark_towers'
tower_rate; benchmark_mnist's measure. (The peers: test_peers.py.)

Each number a function reports is recomputed here from what the test can
know, never held against wall time: the programs run for real (a few steps
of tiny synthetic data) under a recorder that keeps each one's output and
moves a fake clock on by a set number of seconds while it runs; the modules
read their wall times from that clock (their _clock). So a rate must equal
the one the test computes from the program's own log lines, and a wall time
the seconds the fake clock was moved on. In-process timing runs on the same
clock, moved on by each session run or evaluation.
"""

import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
from unittest import mock

import pytest
import tensorflow as tf

from cifar10 import evaluation
from conftest import REPO
import testdata

sys.path.append(os.path.join(REPO, 'scripts'))
# The benchmarks quiet TensorFlow's C++ notices as they load
# (os.environ.setdefault), for the programs they start: not for those the
# suite's other tests start in this process (_record sets it for ours).
with mock.patch.dict(os.environ):
  import benchmark_cifar10  # noqa: E402
  import benchmark_mnist  # noqa: E402
  import benchmark_towers  # noqa: E402
  import program_runs  # noqa: E402

BATCH = 4
# From step 0, logged every 10: the lines at 30, 40 and 50 are timed (three,
# so that a median is not a mean).
STEPS = 51
# Seconds a program or a session run takes on the fake clock: binary
# fractions, so that sums and differences of them are exact.
TICK = 0.25
LOG_LINE = re.compile(r'^(\S+ \S+): step (\d+), loss = \S+ \((\S+) '
                      r'examples/sec; (\S+) sec/batch\)$', re.M)
PRECISION_LINE = re.compile(r'^\S+ \S+: precision @ 1 = (\S+)$', re.M)


class FakeClock(object):
  """A clock that stands still until a test moves it on."""

  def __init__(self):
    self.now = 1000.0

  def __call__(self):
    return self.now


class Recorder(object):
  """subprocess.run, recorded: each program's arguments and output, while
  the fake clock moves on by the next of `seconds`."""

  def __init__(self, clock, seconds):
    self.clock, self.seconds, self.ran = clock, list(seconds), []
    self._run = subprocess.run

  def __call__(self, args, **kwargs):
    proc = self._run(args, **kwargs)
    self.clock.now += self.seconds[len(self.ran)]
    self.ran.append((list(args), proc.stdout))
    return proc


def _record(patch, seconds, *modules):
  """Runs the programs under a Recorder, modules on its clock; returns it.

  The programs' environment is the benchmarks' own: TF_CPP_MIN_LOG_LEVEL 2.
  """
  clock = FakeClock()
  recorder = Recorder(clock, seconds)
  patch.setattr(subprocess, 'run', recorder)
  patch.setenv('TF_CPP_MIN_LOG_LEVEL', '2')
  for module in modules:
    patch.setattr(module, '_clock', clock)
  return recorder


def _measured(args):
  """The program's command line, after program_runs' measuring interpreter
  (python -c _MEASURE)."""
  assert args[:3] == [sys.executable, '-c', program_runs._MEASURE]
  return args[3:]


def _precision(out):
  """The precision cifar10_eval printed, once."""
  printed, = PRECISION_LINE.findall(out)
  return printed


@pytest.fixture(scope='module')
def cifar_dir(tmp_path_factory):
  # One grey level per image: nothing to learn, so no run can diverge.
  root = str(tmp_path_factory.mktemp('cifar'))
  testdata.make_cifar10_dir(root, n=16, n_test=20, flat=True)
  return root


@pytest.fixture(scope='module')
def speed_run(cifar_dir, tmp_path_factory):
  """train_rate's run of cifar10_train: its result, the program's command
  line and output, and the checkpoints (for eval_seconds)."""
  train_dir = str(tmp_path_factory.mktemp('speed') / 'train')
  with pytest.MonkeyPatch.context() as patch:
    recorder = _record(patch, [7 * TICK], program_runs)
    result = program_runs.train_rate(cifar_dir, train_dir, 'dataset', BATCH,
                                     STEPS)
  (args, out), = recorder.ran
  return {'result': result, 'args': args, 'out': out, 'train_dir': train_dir}


# --- program_runs --------------------------------------------------------

def test_train_rate_is_the_log_lines_rate_after_warm_up(speed_run,
                                                        cifar_dir):
  rate, seconds, rss = speed_run['result']
  train_dir = speed_run['train_dir']
  assert _measured(speed_run['args']) == [
      sys.executable, '-m', 'cifar10.cifar10_train', '--data_dir', cifar_dir,
      '--train_dir', train_dir, '--fresh', '--max_steps', str(STEPS),
      '--batch_size', str(BATCH), '--input_pipeline', 'dataset',
      '--log_frequency', '10', '--model', 'cifar10']
  out = speed_run['out']
  stamps = {int(step): datetime.datetime.fromisoformat(stamp)
            for stamp, step, _, _ in LOG_LINE.findall(out)}
  assert sorted(stamps) == [0, 10, 20, 30, 40, 50]
  # From the warm-up's end (step 30) to the last line: 20 steps of BATCH
  # images, at the program's own times.
  assert rate == (50 - 30) * BATCH / (stamps[50] - stamps[30]).total_seconds()
  assert seconds == 7 * TICK  # The program's time, on the fake clock.
  # The measuring interpreter's last line: the program's peak RSS in KiB.
  peak_kib = int(out.rstrip('\n').rpartition('\n')[2])
  assert peak_kib > 0 and rss == peak_kib / 1024.0
  assert os.path.exists(os.path.join(train_dir, 'model.ckpt-%d.index'
                                     % STEPS))


def test_mode_flags():
  assert program_runs.mode_flags('float32') == []
  assert program_runs.mode_flags('mixed') == ['--mixed_precision']


# --- benchmark_cifar10 ---------------------------------------------------

@pytest.mark.parametrize('mode', ['float32', 'mixed'])
def test_model_only_rate_times_the_steps_after_warm_up(monkeypatch, mode):
  clock = FakeClock()
  monkeypatch.setattr(benchmark_cifar10, '_clock', clock)
  fetched = []
  session_run = tf.compat.v1.Session.run

  def run(self, fetches, *args, **kwargs):
    # Each session run takes a TICK of the fake clock.
    result = session_run(self, fetches, *args, **kwargs)
    fetched.append(fetches)
    clock.now += TICK
    return result

  monkeypatch.setattr(tf.compat.v1.Session, 'run', run)
  rate = benchmark_cifar10.model_only_rate(BATCH, 6, mode=mode, warmup=2)
  # The initializers, then 6 runs of one train op: 2 of warm-up, 4 timed.
  assert len(fetched) == 1 + 6
  train_op = fetched[1]
  assert isinstance(train_op, tf.Operation)
  assert all(f is train_op for f in fetched[1:])
  assert rate == (6 - 2) * BATCH / ((6 - 2) * TICK)


def test_eval_seconds_times_evaluate_and_the_whole_program(
    speed_run, cifar_dir, tmp_path, monkeypatch):
  recorder = _record(monkeypatch, [9 * TICK], program_runs,
                     benchmark_cifar10)
  evaluated = []
  evaluate = evaluation.evaluate

  def timed_evaluate(*args, **kwargs):
    # The evaluation in the process takes 3 TICKs of the fake clock.
    evaluated.append(evaluate(*args, **kwargs))
    recorder.clock.now += 3 * TICK
    return evaluated[-1]

  monkeypatch.setattr(evaluation, 'evaluate', timed_evaluate)
  train_dir, eval_dir = speed_run['train_dir'], str(tmp_path / 'eval')
  in_process, whole, precision = benchmark_cifar10.eval_seconds(
      cifar_dir, train_dir, eval_dir, 20)
  assert (in_process, whole) == (3 * TICK, 9 * TICK)
  # The precision is the evaluation's, of the newest checkpoint.
  assert evaluated == [[(STEPS, precision)]]
  (args, out), = recorder.ran
  assert _measured(args) == [
      sys.executable, '-m', 'cifar10.cifar10_eval', '--data_dir', cifar_dir,
      '--checkpoint_dir', train_dir, '--eval_dir', eval_dir, '--run_once',
      '--num_examples', '20']
  # The program, on the same checkpoint and images, printed the same.
  assert _precision(out) == '%.3f' % precision


def test_precision_runs_report_train_and_eval_of_fresh_runs(
    cifar_dir, tmp_path, monkeypatch, capsys):
  # One run of the real train_and_eval: cifar10_train (5 TICKs on the
  # fake clock), then cifar10_eval (2 TICKs).
  recorder = _record(monkeypatch, [5 * TICK, 2 * TICK], program_runs)
  returned = []
  train_and_eval = program_runs.train_and_eval

  def recorded_train_and_eval(*args):
    returned.append(train_and_eval(*args))
    return returned[-1]

  monkeypatch.setattr(program_runs, 'train_and_eval', recorded_train_and_eval)
  benchmark_cifar10.precision_runs(argparse.Namespace(
      modes='float32', precision_runs=1, precision_steps=3,
      work_dir=str(tmp_path), data_dir=cifar_dir))
  folder = os.path.join(str(tmp_path), 'precision_float32_0')
  (train_args, _), (eval_args, eval_out) = recorder.ran
  assert _measured(train_args) == [
      sys.executable, '-m', 'cifar10.cifar10_train', '--data_dir', cifar_dir,
      '--train_dir', folder + '_train', '--max_steps', '3',
      '--log_frequency', '1000', '--fresh']
  assert _measured(eval_args) == [
      sys.executable, '-m', 'cifar10.cifar10_eval', '--data_dir', cifar_dir,
      '--checkpoint_dir', folder + '_train', '--run_once', '--eval_dir',
      folder + '_eval']
  assert os.path.exists(folder + '_train/model.ckpt-3.index')
  # train_and_eval: the precision cifar10_eval printed, and the training
  # program's time alone.
  (precision, trained), = returned
  assert precision == float(_precision(eval_out))
  assert trained == 5 * TICK
  assert capsys.readouterr().out.splitlines() == [
      '| mode | runs | steps | precision @ 1: mean | stdev | range |',
      '|---|---|---|---|---|---|',
      '| float32 | 1 | 3 | %.4f | 0.0000 | %.3f-%.3f |' % (
          precision, precision, precision)]


def test_precision_runs_give_mean_stdev_and_range_per_mode(
    tmp_path, monkeypatch, capsys):
  # train_and_eval faked (it runs for real above): three runs a mode.
  precisions = {'float32': [0.61, 0.60, 0.62], 'mixed': [0.55, 0.59, 0.57]}
  calls = []

  def train_and_eval(data_dir, train_dir, eval_dir, steps, train_flags,
                     eval_flags):
    calls.append((data_dir, train_dir, eval_dir, steps, train_flags,
                  eval_flags))
    mode = 'mixed' if '--mixed_precision' in eval_flags else 'float32'
    return precisions[mode].pop(0), 99.0

  monkeypatch.setattr(program_runs, 'train_and_eval', train_and_eval)
  work = str(tmp_path)
  benchmark_cifar10.precision_runs(argparse.Namespace(
      modes='float32,mixed', precision_runs=3, precision_steps=7,
      work_dir=work, data_dir='DATA'))
  # By hand: float32 0.60-0.62 around 0.61, deviations 0, -0.01, +0.01:
  # sample stdev sqrt(0.0002 / 2) = 0.01; mixed 0.55-0.59 around 0.57: 0.02.
  assert capsys.readouterr().out.splitlines()[2:] == [
      '| float32 | 3 | 7 | 0.6100 | 0.0100 | 0.600-0.620 |',
      '| mixed | 3 | 7 | 0.5700 | 0.0200 | 0.550-0.590 |']
  # Each run fresh in a folder of its own; mixed runs train and evaluate
  # with --mixed_precision.
  folder = os.path.join(work, 'precision_%s_%d')
  assert calls == [
      ('DATA', folder % (mode, i) + '_train', folder % (mode, i) + '_eval', 7,
       ['--fresh'] + flags, flags)
      for mode, flags in (('float32', []), ('mixed', ['--mixed_precision']))
      for i in range(3)]


# --- benchmark_towers ----------------------------------------------------

def test_tower_rate_is_the_median_of_the_log_lines_after_warm_up(
    cifar_dir, tmp_path, monkeypatch):
  recorder = _record(monkeypatch, [11 * TICK], benchmark_towers)
  train_dir = str(tmp_path / 'towers')
  rate, sec_per_batch, seconds = benchmark_towers.tower_rate(
      cifar_dir, train_dir, 2, 'cpu', BATCH, STEPS)
  (args, out), = recorder.ran
  assert args == [
      sys.executable, '-m', 'cifar10.cifar10_multi_gpu_train', '--num_gpus',
      '2', '--tower_device', 'cpu', '--data_dir', cifar_dir, '--train_dir',
      train_dir, '--fresh', '--max_steps', str(STEPS), '--batch_size',
      str(BATCH), '--log_frequency', '10', '--save_summaries_steps',
      str(STEPS)]
  lines = {int(step): (float(examples), float(sec))
           for _, step, examples, sec in LOG_LINE.findall(out)}
  assert sorted(lines) == [0, 10, 20, 30, 40, 50]
  # The middle of the three lines from the warm-up (step 30) on.
  assert rate == sorted(lines[s][0] for s in (30, 40, 50))[1]
  assert sec_per_batch == sorted(lines[s][1] for s in (30, 40, 50))[1]
  assert seconds == 11 * TICK
  assert os.path.exists(os.path.join(train_dir, 'model.ckpt-%d.index'
                                     % STEPS))


# --- benchmark_mnist -----------------------------------------------------

def test_mnist_row_is_the_programs_own_lines(tmp_path, monkeypatch):
  data_dir, work_dir = str(tmp_path / 'mnist'), str(tmp_path / 'work')
  os.mkdir(work_dir)
  # 100 training examples after the 5,000 the program keeps for validation.
  testdata.make_mnist_dir(data_dir, n_train=5100, n_test=100)
  name, module, flags, _, precision_re, rate_re, published = (
      benchmark_mnist.PROGRAMS[0])
  # The README's row at toy size: 20 steps of 10 images, not 2,000 of 100.
  flags = [f for f in flags if not f.startswith('--max_steps=')] + [
      '--max_steps=20', '--batch_size=10']
  recorder = _record(monkeypatch, [14 * TICK, 26 * TICK], benchmark_mnist)
  row = benchmark_mnist.measure(
      (name, module, flags, 20, precision_re, rate_re, published), data_dir,
      work_dir, repeats=2)
  log_dirs = []
  precisions, rates = [], []
  for args, out in recorder.ran:
    assert args[:3] == [sys.executable, '-m', 'mnist.fully_connected_feed']
    assert args[3] == '--input_data_dir=' + data_dir
    assert args[5:] == ['--max_steps=20', '--batch_size=10']
    log_dirs.append(args[4].partition('=')[2])
    # The test set's precision (evaluated last) and the training speed.
    precisions.append(float(re.search(
        r'^Test Data Eval:\n  Num examples: 100  Num correct: \d+  '
        r'Precision @ 1: (\S+)$', out, re.M).group(1)))
    rates.append(float(re.search(
        r'^Trained 20 steps in \S+ sec \((\S+) steps/sec\), evaluations '
        r'excluded\.$', out, re.M).group(1)))
  # A fresh --log_dir in work_dir for each run.
  assert len(set(log_dirs)) == 2
  assert all(os.path.dirname(d) == work_dir for d in log_dirs)
  # Medians with their ranges; the wall times 3.5 and 6.5 s of the clock.
  assert row == ('| fully_connected_feed | 20 | %.4f (%.4f-%.4f) | %s | '
                 '5.0 (3.5-6.5) | %.0f (%.0f-%.0f) |' % (
                     statistics.median(precisions), min(precisions),
                     max(precisions), published, statistics.median(rates),
                     min(rates), max(rates)))


def test_mnist_row_without_a_rate_line_divides_steps_by_wall_time(
    monkeypatch):
  # The programs faked (run_program runs for real above): what they print
  # and their wall times.
  runs = [('0.9012\n', 4.0), ('0.9100\n0.9150\n', 5.0), ('0.9200\n', 8.0)]
  ran = []

  def run_program(module, flags, data_dir, work_dir):
    ran.append((module, flags, data_dir, work_dir))
    return runs[len(ran) - 1]

  monkeypatch.setattr(benchmark_mnist, 'run_program', run_program)
  row = ('mnist_softmax', 'mnist.mnist_softmax', ['--data_dir={data_dir}'],
         1000, r'^(\d\.\d+)$', None, 'about 0.92')
  # By hand: precisions 0.9012, 0.9150 (the last printed), 0.9200; rates
  # 1000 steps in 4, 5 and 8 s: 250, 200 and 125 steps/sec.
  assert benchmark_mnist.measure(row, 'DATA', 'WORK', repeats=3) == (
      '| mnist_softmax | 1000 | 0.9150 (0.9012-0.9200) | about 0.92 | '
      '5.0 (4.0-8.0) | 200 (125-250) |')
  assert ran == [('mnist.mnist_softmax', ['--data_dir={data_dir}'], 'DATA',
                  'WORK')] * 3
