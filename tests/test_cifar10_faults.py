"""Nothing lost, nothing cryptic: cifar10_train and cifar10_eval as
subprocesses under faults. Two trainers on one --train_dir, kill -9 of a
trainer and of a second one starting, damaged checkpoint state and files,
and Ctrl-C or SIGTERM at random moments from start-up to the end: one line
each, no traceback, and a rerun always finishes from the newest intact
checkpoint."""

import glob
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from cifar10 import cifar10_train
from cifar10 import train_folder
from conftest import REPO, SIGNAL_INSIDE_TF_ERROR, program_env, run_program
from conftest import build_once, copy_of
from conftest import check_interpreter_start, send_signal
from conftest import moments_env, wait_for_moment
import testdata

tf1 = tf.compat.v1
STEP_LINE = re.compile(r': step (\d+), loss = ')


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  # Flat images: nothing to learn, so these runs cannot diverge (at batch
  # 8 with the tutorial's learning rate, images with a class signal reached
  # NaN at step 135 to 1190, which made the lock test depend on a race).
  root = str(tmp_path_factory.mktemp('cifar_faults'))
  testdata.make_cifar10_dir(root, n=40, n_test=30, flat=True)
  return root


def _args(data_dir, train_dir, steps, *extra):
  return ['-m', 'cifar10.cifar10_train', '--data_dir', data_dir,
          '--train_dir', train_dir, '--max_steps', str(steps),
          '--batch_size', '8', '--log_frequency', '1',
          '--input_pipeline', 'dataset'] + list(extra)


def _start(args, env=None):
  return subprocess.Popen([sys.executable] + args, cwd=REPO,
                          env=program_env(**(env or {})),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)


def _wait_for_step(proc, at_least=1):
  """Reads the trainer's output until it logs a step >= at_least."""
  seen = []
  for line in proc.stdout:
    seen.append(line)
    found = STEP_LINE.search(line)
    if found and int(found.group(1)) >= at_least:
      return ''.join(seen)
  raise AssertionError('no step %d line:\n%s\n%s' % (
      at_least, ''.join(seen), proc.stderr.read()))


def _step(train_dir):
  return int(tf1.train.load_variable(train_dir, 'global_step'))


def _one_line(stderr):
  assert 'Traceback' not in stderr, stderr
  lines = [line for line in stderr.strip().splitlines() if line.strip()]
  assert len(lines) == 1, stderr
  return lines[0]


def test_a_second_trainer_is_refused_and_told_who_trains(data_dir,
                                                         tmp_path):
  train_dir = str(tmp_path / 'train')
  first = _start(_args(data_dir, train_dir, 100000,
                       '--save_checkpoint_secs', '1'))
  try:
    _wait_for_step(first)
    # Paused while the second starts: the lock is held all the same (the
    # kernel's, on the open file), and the first's steps meanwhile cost
    # seconds of CPU that prove nothing here.
    first.send_signal(signal.SIGSTOP)
    second = run_program(_args(data_dir, train_dir, 100000), check=False)
    assert second.returncode == 1
    line = _one_line(second.stderr)
    assert line.startswith(
        'cifar10_train: error: another trainer is using --train_dir %s '
        '(pid %d, ' % (train_dir, first.pid)), line
    assert line.endswith('wait for it to finish or stop it, or use another '
                         '--train_dir')
    assert 'Writing checkpoints' not in second.stdout
  finally:
    first.send_signal(signal.SIGCONT)
    first.send_signal(signal.SIGTERM)
    out, err = first.communicate(timeout=120)
  assert first.returncode == 0, err
  # The first trainer's run is whole: its checkpoint, its events only.
  step = _step(train_dir)
  assert 'Stopped by SIGTERM at step %d' % step in out
  assert len(glob.glob(os.path.join(train_dir, 'events.out.*'))) == 1
  proc = run_program(_args(data_dir, train_dir, step + 2))
  assert 'Resuming from the checkpoint at step %d.' % step in proc.stdout


def test_kill_9_leaves_no_lock_behind(data_dir, tmp_path):
  train_dir = str(tmp_path / 'train')
  first = _start(_args(data_dir, train_dir, 100000,
                       '--save_checkpoint_secs', '1'))
  _wait_for_step(first, 5)
  # At least one checkpoint after the first one (step 0), as its state file
  # names it.
  deadline = time.time() + 120
  while _step_or_none(train_dir) in (None, 0) and time.time() < deadline:
    time.sleep(0.05)
  assert _step_or_none(train_dir) not in (None, 0)
  first.kill()
  first.communicate(timeout=60)
  step = _step(train_dir)
  # At once: the kernel dropped the dead trainer's lock.
  proc = run_program(_args(data_dir, train_dir, step + 3))
  assert 'Resuming from the checkpoint at step %d.' % step in proc.stdout
  assert _step(train_dir) == step + 3


def test_kill_9_of_a_second_trainer_starting_harms_nothing(data_dir,
                                                           tmp_path):
  train_dir = str(tmp_path / 'train')
  first = _start(_args(data_dir, train_dir, 60))
  _wait_for_step(first)
  # As Python starts, then as TensorFlow starts to load (as announced).
  for moment in (None, 'tensorflow loading'):
    env, moments = moments_env(tmp_path)
    second = _start(_args(data_dir, train_dir, 60), env=env)
    if moment:
      wait_for_moment(moments, moment, second)
    second.kill()
    second.communicate(timeout=60)
  out, err = first.communicate(timeout=300)
  assert first.returncode == 0, err
  assert _step(train_dir) == 60
  assert 'Traceback' not in err


@pytest.fixture
def two_checkpoints(data_dir, shared_dir, tmp_path):
  """A train_dir with model.ckpt-0, -4 and -8, the state naming 8.

  Trained once for the whole run; each test gets a copy it may damage.
  cifar10_train's own training in this process, as the program runs it
  with _args: its checkpoints, without two TensorFlow start-ups.
  """
  def train(train_dir):
    for steps in (4, 8):
      assert cifar10_train.train(
          data_dir=data_dir, batch_size=8, pipeline='dataset',
          train_dir=train_dir, max_steps=steps, log_frequency=1) == steps
  train_dir = copy_of(build_once(shared_dir, 'two_checkpoints', train),
                      tmp_path, 'train')
  assert [os.path.basename(p) for p in sorted(
      glob.glob(os.path.join(train_dir, 'model.ckpt-*.index')))] == [
          'model.ckpt-0.index', 'model.ckpt-4.index', 'model.ckpt-8.index']
  return train_dir


def _resume(data_dir, train_dir, steps=10):
  proc = run_program(_args(data_dir, train_dir, steps))
  assert 'Traceback' not in proc.stderr
  assert "Couldn't match files" not in proc.stderr
  return proc.stdout


@pytest.mark.parametrize('garbage', [b'model_checkpoint_path: \x00broken',
                                     b'\xff\xfe\x00\x01binary',
                                     b''])
def test_damaged_state_file_resumes_from_the_newest_intact(
    data_dir, two_checkpoints, garbage):
  state = os.path.join(two_checkpoints, 'checkpoint')
  with open(state, 'wb') as f:
    f.write(garbage)
  out = _resume(data_dir, two_checkpoints)
  assert re.search(r'^%s (is damaged \(.+\)|names no checkpoint): resuming '
                   r'from the newest intact checkpoint, %s\.$' % (
                       re.escape(state),
                       re.escape(os.path.join(two_checkpoints,
                                              'model.ckpt-8'))),
                   out, re.M), out
  assert 'Resuming from the checkpoint at step 8.' in out
  assert _step(two_checkpoints) == 10
  # The damaged file is kept, not lost.
  kept, = glob.glob(state + '.damaged-*')
  with open(kept, 'rb') as f:
    assert f.read() == garbage


def test_state_naming_a_missing_checkpoint(data_dir, two_checkpoints):
  state = os.path.join(two_checkpoints, 'checkpoint')
  with open(state, 'w') as f:
    f.write('model_checkpoint_path: "model.ckpt-99"\n')
  out = _resume(data_dir, two_checkpoints)
  assert ('Checkpoint %s is missing: there is no %s.index: resuming from the '
          'newest intact checkpoint' % (
              os.path.join(two_checkpoints, 'model.ckpt-99'),
              os.path.join(two_checkpoints, 'model.ckpt-99'))) in out
  assert 'Resuming from the checkpoint at step 8.' in out


@pytest.mark.parametrize('part', ['data', 'index'])
def test_damaged_checkpoint_is_skipped_for_the_one_before(
    data_dir, two_checkpoints, part):
  files = sorted(glob.glob(os.path.join(two_checkpoints, 'model.ckpt-8.%s*'
                                       % part)))
  damaged = max(files, key=os.path.getsize)  # The data may be in shards.
  size = os.path.getsize(damaged)
  with open(damaged, 'r+b') as f:
    f.truncate(size // 2)
  out = _resume(data_dir, two_checkpoints)
  assert re.search(r'^Skipping a damaged checkpoint: checkpoint %s is '
                   r'damaged: %s cannot be read \(.+\)\.$' % (
                       re.escape(os.path.join(two_checkpoints,
                                              'model.ckpt-8')),
                       re.escape(', '.join(files))), out, re.M), out
  assert 'Resuming from the checkpoint at step 4.' in out
  assert os.path.getsize(damaged) == size // 2  # Nothing deleted.


def test_nothing_intact_stops_with_one_line(data_dir, two_checkpoints):
  for path in glob.glob(os.path.join(two_checkpoints, 'model.ckpt-*.data*')):
    with open(path, 'r+b') as f:
      f.truncate(10)
  before = sorted(os.listdir(two_checkpoints))
  proc = run_program(_args(data_dir, two_checkpoints, 10), check=False)
  assert proc.returncode == 1
  line = _one_line(proc.stderr)
  assert line.startswith('cifar10_train: error: checkpoint %s is damaged: '
                         % os.path.join(two_checkpoints, 'model.ckpt-8'))
  assert 'no intact checkpoint is left in %s' % two_checkpoints in line
  assert line.endswith('move the damaged files away to train from step 0, '
                       'or use --fresh or another --train_dir')
  assert sorted(os.listdir(two_checkpoints)) == before


def _eval(data_dir, train_dir, eval_dir):
  return run_program(['-m', 'cifar10.cifar10_eval', '--data_dir', data_dir,
                      '--checkpoint_dir', train_dir, '--eval_dir', eval_dir,
                      '--run_once', '--input_pipeline', 'dataset'],
                     check=False)


def test_eval_of_damaged_files_is_one_line(data_dir, two_checkpoints,
                                           tmp_path):
  data = sorted(glob.glob(os.path.join(two_checkpoints,
                                      'model.ckpt-8.data*')))
  with open(max(data, key=os.path.getsize), 'r+b') as f:
    f.truncate(100)
  proc = _eval(data_dir, two_checkpoints, str(tmp_path / 'eval'))
  assert proc.returncode == 1
  assert _one_line(proc.stderr).startswith(
      'cifar10_eval: error: checkpoint %s is damaged: %s cannot be read ('
      % (os.path.join(two_checkpoints, 'model.ckpt-8'), ', '.join(data)))
  state = os.path.join(two_checkpoints, 'checkpoint')
  with open(state, 'wb') as f:
    f.write(b'\xff\xfe')
  proc = _eval(data_dir, two_checkpoints, str(tmp_path / 'eval'))
  assert proc.returncode == 1
  assert _one_line(proc.stderr).startswith(
      'cifar10_eval: error: %s is damaged (' % state)


def test_lock_in_process(tmp_path):
  train_dir = str(tmp_path)
  with train_folder.prepare_train_dir(train_dir):
    with pytest.raises(ValueError, match=r'another trainer is using '
                       r'--train_dir .* \(pid %d, ' % os.getpid()):
      train_folder.prepare_train_dir(train_dir)
  # Released with the block; --fresh keeps the folder (and lock) itself.
  (tmp_path / 'model.ckpt-1.index').write_bytes(b'x')
  with train_folder.prepare_train_dir(train_dir, fresh=True):
    assert os.listdir(train_dir) == [train_folder.LOCK_FILE]


EXPECTED_ENDS = (
    # While Python and TensorFlow load: nothing was written.
    re.compile(r'^cifar10_train: stopped by (SIGINT|SIGTERM) while starting; '
               r'nothing was written\.$'),
    # While the data is checked and the graph built.
    re.compile(r'^cifar10_train: stopped by (SIGINT|SIGTERM)\.$'))


def test_signals_at_random_moments_lose_nothing(data_dir, tmp_path, request):
  """Ctrl-C or SIGTERM anywhere from start-up to the end of training.

  The moments come from the test's name (the same each run) and are printed
  as they are hit, with what each reached: a failure shows which.
  """
  rng = random.Random(request.node.name)
  train_dir = str(tmp_path / 'train')
  max_steps = 40
  started = time.time()
  run_program(_args(data_dir, str(tmp_path / 'timing'), max_steps))
  whole = time.time() - started  # One whole run here, start-up included.
  outcomes = []
  for signum in (signal.SIGINT, signal.SIGTERM) * 4:
    before = _listing(train_dir)
    proc = _start(_args(data_dir, train_dir, max_steps,
                        '--save_checkpoint_secs', '1'))
    # From the interpreter's start to after the end of training (`whole`).
    moment = rng.uniform(0.0, whole)
    time.sleep(moment)
    ours = send_signal(proc, signum)
    out, err = proc.communicate(timeout=300)
    name = signal.Signals(signum).name
    print('%s at %.2f s of a %.1f s run (exit %d)' % (name, moment, whole,
                                                     proc.returncode))
    if not ours and proc.returncode in (-signum, 1):
      # Before the interpreter ran a line of ours (its first tens of
      # milliseconds) the system's default applies, or Python's for SIGINT:
      # nothing written.
      check_interpreter_start(proc.returncode, out, err, signum)
      assert _listing(train_dir) == before
      outcomes.append('interpreter start')
      continue
    assert 'Traceback' not in err, err
    if proc.returncode == 0:
      # Training ran: it stopped at a step with a checkpoint, or finished.
      step = _step(train_dir)
      assert ('Stopped by %s at step %d' % (name, step) in out or
              step == max_steps), out
      outcomes.append('trained')
    else:
      assert proc.returncode == 128 + signum, (proc.returncode, err)
      line = _one_line(err)
      assert any(p.match(line) for p in EXPECTED_ENDS), line
      assert name in line
      outcomes.append('start-up')
    # Nothing lost: the folder always resumes (or starts) and finishes.
    if _step_or_none(train_dir) == max_steps:
      shutil.rmtree(train_dir)
  proc = run_program(_args(data_dir, train_dir, max_steps))
  assert _step(train_dir) == max_steps
  assert 'Traceback' not in proc.stderr
  print('reached: %s' % ', '.join(outcomes))
  assert len(outcomes) == 8


def _listing(folder):
  return sorted(os.listdir(folder)) if os.path.isdir(folder) else None


def _step_or_none(train_dir):
  try:
    return _step(train_dir)
  except (ValueError, tf.errors.OpError):
    return None


@pytest.mark.parametrize('runner', [
    "cifar10_cli.run_plain(main, 'demo')",
    "cifar10_cli.run(main, sys.modules[__name__], 'demo')"])
def test_a_signal_inside_tensorflows_own_error_is_still_a_stop(runner):
  script = ('import sys\nfrom cifar10 import cifar10_cli\n'
            "cifar10_cli.start('demo')\n" + SIGNAL_INSIDE_TF_ERROR + runner)
  proc = run_program(['-c', script], check=False)
  assert proc.stderr == 'demo: stopped by SIGTERM.\n', proc.stderr
  assert proc.returncode == 128 + signal.SIGTERM


def test_divergence_ends_with_one_line(data_dir, tmp_path):
  # An absurd learning rate: the loss overflows within a few steps. Only the
  # trainer's line, not TensorFlow's 'Model diverged' and its absl twin.
  train_dir = str(tmp_path / 'train')
  script = ('from cifar10 import cifar10_cli\n'
            "cifar10_cli.start('cifar10_train')\n"
            'from cifar10 import cifar10, cifar10_train\n'
            'cifar10.INITIAL_LEARNING_RATE = 1e12\n'
            'cifar10_train.run()\n')
  proc = run_program(['-c', script] + _args(data_dir, train_dir, 200)[2:],
                     check=False)
  assert proc.returncode == 1
  line = _one_line(proc.stderr)
  assert re.match(r'^cifar10_train: error: the loss became (NaN|infinite) '
                  r'\(training diverged\) at step \d+\. Try a smaller '
                  r'learning rate or batch size', line), line
  assert line.endswith('resume from the last checkpoint in %s (saved before '
                       'the %s).' % (train_dir, 'NaN' if 'NaN' in line
                                     else 'overflow'))
