"""Every program, run as Windows' Python would have its standard library.

tests/windows_stdlib/sitecustomize.py takes away from the project's code
what Windows lacks (the POSIX-only modules, the signal names Windows has
not), gives it msvcrt's locking, plays Ctrl+Break with a signal a test can
send, and the consoles here are cp950 (Traditional Chinese Windows) or
cp1252 (Western). Each program runs once, as a student runs it, with tiny
settings: it must end as it does on Linux, print nothing the console
cannot take, and load numpy only after FOR_DISABLE_CONSOLE_CTRL_HANDLER=1.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from conftest import REPO, program_env

import testdata

SHIM = os.path.join(REPO, 'tests', 'windows_stdlib')
SIGBREAK = 21  # What the shim's signal.SIGBREAK is (Ctrl+Break).
NUMPY_TOO_EARLY = 'numpy was imported before FOR_DISABLE_CONSOLE_CTRL_HANDLER'
TIMEOUT = 300


def windows_env(encoding='cp950'):
  env = program_env(PYTHONPATH=SHIM, PYTHONIOENCODING=encoding)
  env.pop('FOR_DISABLE_CONSOLE_CTRL_HANDLER', None)
  return env


def _decoded(data, encoding):
  """A program's output as its console shows it; fails on what it lacks."""
  text = data.decode(encoding)  # strict: a byte the console lacks fails
  assert NUMPY_TOO_EARLY not in text
  assert 'Traceback' not in text, text
  return text


def run_as_windows(args, encoding='cp950', check=True, cwd=REPO):
  """Runs `python ARGS` as on Windows; returns (returncode, stdout, stderr)."""
  proc = subprocess.run([sys.executable] + list(args), cwd=cwd,
                        env=windows_env(encoding), capture_output=True,
                        timeout=TIMEOUT, stdin=subprocess.DEVNULL)
  out = _decoded(proc.stdout, encoding)
  err = _decoded(proc.stderr, encoding)
  if check:
    assert proc.returncode == 0, '%s\n--- stdout\n%s\n--- stderr\n%s' % (
        args, out, err)
  return proc.returncode, out, err


def start_as_windows(args, log_path):
  log = open(log_path, 'wb')
  try:
    return subprocess.Popen([sys.executable] + list(args), cwd=REPO,
                            env=windows_env(), stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
  finally:
    log.close()


def wait_for_line(path, text, proc, timeout=TIMEOUT):
  deadline = time.time() + timeout
  while time.time() < deadline:
    with open(path, 'rb') as f:
      out = _decoded(f.read(), 'cp950')
    if text in out:
      return out
    assert proc.poll() is None, out
    time.sleep(0.1)
  pytest.fail('no %r within %d s:\n%s' % (text, timeout, out))


@pytest.fixture(scope='module')
def cifar_data(tmp_path_factory):
  # Flat images: these tests check locks, signals, consoles and lines, never
  # learning, and with a class signal the lab's trainer (batch 32, learning
  # rate 0.1) once diverged at step 76, letting go of its lock before the
  # second trainer asked for it.
  root = str(tmp_path_factory.mktemp('cifar10_data'))
  testdata.make_cifar10_dir(root, n=100, n_test=30, flat=True)
  return root


@pytest.fixture(scope='module')
def mnist_data(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('mnist_data'))
  testdata.make_mnist_dir(root, n_train=5300, n_test=40)
  return root


def test_the_shim_is_windows_standard_library():
  code = ('import signal, subprocess, sys\n'
          'try:\n  import fcntl\nexcept ImportError as e:\n  print(e)\n'
          'print(hasattr(signal, "SIGKILL"), hasattr(signal, "SIGHUP"), '
          'signal.SIGBREAK, signal.Signals(21).name)\n'
          'import msvcrt\nprint(sys.stdout.encoding)\n'
          'print(subprocess.run([sys.executable, "-c", "print(2)"], '
          'capture_output=True, text=True).stdout.strip())\n')
  _, out, _ = run_as_windows(['-c', code])
  assert out.splitlines() == [
      "No module named 'fcntl' (as on Windows)", 'False False 21 SIGBREAK',
      'cp950', '2']


def test_cifar10_lab_as_on_windows(cifar_data, tmp_path):
  train = str(tmp_path / 'train')
  flags = ['--data_dir', cifar_data, '--train_dir', train, '--batch_size',
           '32']
  # Trains until Ctrl+Break (a checkpoint is saved), while a second trainer
  # on the same folder is refused, naming the first.
  log = str(tmp_path / 'train.log')
  first = start_as_windows(['-m', 'cifar10.cifar10_train', '--max_steps',
                            '100000'] + flags, log)
  try:
    wait_for_line(log, ': step 10, loss = ', first)
    # Paused while the second starts: the lock is held all the same, and
    # the first's steps meanwhile cost seconds of CPU that prove nothing.
    first.send_signal(signal.SIGSTOP)
    code, _, err = run_as_windows(['cifar10/cifar10_train.py', '--max_steps',
                                   '5'] + flags, check=False)
    assert code == 1
    assert err.splitlines()[-1].startswith(
        'cifar10_train: error: another trainer is using --train_dir %s (pid '
        '%d, ' % (train, first.pid)), err
    first.send_signal(signal.SIGCONT)
    first.send_signal(SIGBREAK)
    first.wait(timeout=TIMEOUT)
  finally:
    first.kill()
  with open(log, 'rb') as f:
    lines = _decoded(f.read(), 'cp950').splitlines()
  assert first.returncode == 0
  assert lines[-2].startswith('Received SIGBREAK: stopping and saving a '
                              'checkpoint'), lines
  assert lines[-1].startswith('Stopped by SIGBREAK at step '), lines
  stopped_at = int(lines[-1].split('at step ')[1].split(';')[0])
  # The lock went with its holder; the student's commands, as typed.
  _, out, _ = run_as_windows(['cifar10_train.py', '--max_steps',
                              str(stopped_at + 10)] + flags,
                             cwd=os.path.join(REPO, 'cifar10'))
  assert 'Resuming from the checkpoint at step %d.' % stopped_at in out
  _, out, _ = run_as_windows(['cifar10_eval.py', '--run_once', '--data_dir',
                              cifar_data, '--checkpoint_dir', train,
                              '--eval_dir', str(tmp_path / 'eval'),
                              '--num_examples', '30', '--batch_size', '10'],
                             cwd=os.path.join(REPO, 'cifar10'))
  assert ': precision @ 1 = ' in out.splitlines()[-1]


def test_a_holder_killed_leaves_no_lock(cifar_data, tmp_path):
  train = str(tmp_path / 'train')
  flags = ['--data_dir', cifar_data, '--train_dir', train, '--batch_size',
           '32']
  log = str(tmp_path / 'train.log')
  first = start_as_windows(['-m', 'cifar10.cifar10_train', '--max_steps',
                            '100000'] + flags, log)
  try:
    wait_for_line(log, ': step 0, loss = ', first)
  finally:
    first.kill()  # TerminateProcess, on Windows.
    first.wait()
  _, out, _ = run_as_windows(['-m', 'cifar10.cifar10_train', '--max_steps',
                              '3'] + flags)
  assert ': step 0, loss = ' in out or 'Resuming' in out


def test_non_ascii_folders_on_a_western_console(cifar_data, tmp_path):
  # A student's folder in Chinese, on a cp1252 console: no crash, the
  # characters the console lacks are written as \\uXXXX.
  train = str(tmp_path / '\u8a13\u7df4')
  _, out, _ = run_as_windows(
      ['-m', 'cifar10.cifar10_train', '--data_dir', cifar_data,
       '--train_dir', train, '--max_steps', '3', '--batch_size', '8'],
      encoding='cp1252')
  assert 'Writing checkpoints and summaries to %s' % (
      train.replace('\u8a13\u7df4', '\\u8a13\\u7df4')) in out
  assert os.path.exists(os.path.join(train, 'checkpoint'))


def test_cifar10_tools_as_on_windows(cifar_data, mnist_data, tmp_path):
  _, out, _ = run_as_windows(
      ['-m', 'cifar10.cifar10_multi_gpu_train', '--num_gpus', '2',
       '--tower_device', 'cpu', '--data_dir', cifar_data, '--train_dir',
       str(tmp_path / 'towers'), '--max_steps', '3', '--batch_size', '8'])
  assert ': step 0, loss = ' in out
  _, out, _ = run_as_windows(['-m', 'cifar10.cnn_building_blocks', '--only',
                              'convolution'])
  assert out.startswith('== 1.')
  made = str(tmp_path / 'made')
  _, out, _ = run_as_windows(['-m', 'cifar10.make_cifar10_dataset',
                              '--mnist_dir', mnist_data, '--output_dir', made])
  assert os.path.isfile(os.path.join(made, 'cifar-10-batches-bin',
                                     'test_batch.bin'))
  _, out, _ = run_as_windows(
      ['-m', 'cifar10.precision_vs_steps', '--fake_data', '--steps', '10',
       '20', '--output_dir', str(tmp_path / 'curve')])
  with open(str(tmp_path / 'curve' / 'precision_vs_steps.csv'),
            encoding='utf-8') as f:
    assert len(f.read().splitlines()) == 3


def test_cifar10_distributed_as_on_windows(cifar_data, tmp_path):
  import socket
  ports = []
  for _ in range(2):
    with socket.socket() as s:
      s.bind(('127.0.0.1', 0))
      ports.append(s.getsockname()[1])
  flags = ['--ps_hosts', '127.0.0.1:%d' % ports[0], '--worker_hosts',
           '127.0.0.1:%d' % ports[1], '--data_dir', cifar_data,
           '--train_dir', str(tmp_path / 'train'), '--batch_size', '16',
           '--max_steps', '4']
  ps = start_as_windows(['-m', 'cifar10.cifar10_distributed_train',
                         '--job_name', 'ps'] + flags, str(tmp_path / 'ps'))
  try:
    _, out, _ = run_as_windows(['-m', 'cifar10.cifar10_distributed_train',
                                '--job_name', 'worker'] + flags)
    assert 'Worker 0 finished: ' in out
    ps.wait(timeout=TIMEOUT)
    assert ps.returncode == 0
  finally:
    ps.kill()


@pytest.fixture(scope='module')
def fc_log_dir(tmp_path_factory, mnist_data):
  log_dir = str(tmp_path_factory.mktemp('fc'))
  _, out, err = run_as_windows(['-m', 'mnist.fully_connected_feed',
                                '--input_data_dir', mnist_data, '--log_dir',
                                log_dir, '--max_steps', '200'])
  assert out.splitlines()[-2].startswith('  Num examples: 40  Num correct: ')
  assert err.splitlines()[-1] == (
      'Watch training with: tensorboard --logdir %s' % log_dir)
  return log_dir


@pytest.mark.parametrize('program, flags, last', [
    ('mnist_softmax', ['--max_steps', '20'], r'(0|1|0\.\d+)'),
    ('mnist_softmax_xla', ['--max_steps', '20'],
     r'XLA ran \d+ compiled cluster\(s\) in the traced step\.'),
    ('mnist_with_summaries', ['--max_steps', '20'],
     r'Summaries are in .*; view them with: tensorboard --logdir=.*'),
    ('mnist_deep', ['--max_steps', '20', '--batch_size', '10'],
     r'Model saved in .*model\.ckpt-20'),
])
def test_mnist_programs_as_on_windows(program, flags, last, mnist_data,
                                      tmp_path):
  args = ['-m', 'mnist.' + program, '--data_dir', mnist_data] + flags
  if program != 'mnist_softmax':
    args += ['--log_dir', str(tmp_path / 'logs')]
  _, out, _ = run_as_windows(args)
  assert re.fullmatch(last, out.splitlines()[-1]), out


def test_images_classified_as_on_windows(fc_log_dir, tmp_path):
  import tensorflow as tf
  pixels = np.zeros([28, 28, 1], np.uint8)
  pixels[4:24, 12:16] = 255
  (tmp_path / 'one.png').write_bytes(tf.io.encode_png(pixels).numpy())
  # cmd leaves the pattern to the program.
  _, out, _ = run_as_windows(['-m', 'cifar10.classify_images',
                              '--checkpoint_dir', fc_log_dir,
                              str(tmp_path / '*.png')])
  assert out.startswith(str(tmp_path / 'one.png') + ': ')


def test_handwriting_pad_as_on_windows(fc_log_dir, tmp_path):
  log = str(tmp_path / 'pad.log')
  pad = start_as_windows(['-m', 'mnist.handwriting_pad', '--model',
                          'fully_connected_feed', '--log_dir', fc_log_dir,
                          '--port', '0'], log)
  try:
    out = wait_for_line(log, 'Ctrl-C to stop.', pad)
    port = int(out.split('http://127.0.0.1:')[1].split('/')[0])
    request = urllib.request.Request(
        'http://127.0.0.1:%d/predict' % port, method='POST',
        data=json.dumps({'pixels': [[0, 9, 0]] * 5}).encode())
    with urllib.request.urlopen(request, timeout=60) as answer:
      assert len(json.load(answer)['probabilities']) == 10
    pad.send_signal(SIGBREAK)  # Ctrl+Break, as Ctrl+C.
    pad.wait(timeout=60)
  finally:
    pad.kill()
  with open(log, 'rb') as f:
    assert _decoded(f.read(), 'cp950').splitlines()[-1] == 'Stopped.'
  assert pad.returncode == 0


def _handles(pid, signum):
  """Whether a process has a handler for signum (Linux's /proc)."""
  with open('/proc/%d/status' % pid, encoding='utf-8') as status:
    fields = dict(line.split(':', 1) for line in status if ':' in line)
  return bool(int(fields['SigCgt'], 16) & (1 << (signum - 1)))


def test_start_up_signal_as_on_windows(tmp_path):
  # Ctrl+Break while TensorFlow loads: one line, nothing written.
  log = str(tmp_path / 'log')
  proc = start_as_windows(['-m', 'cifar10.cifar10_train', '--train_dir',
                           str(tmp_path / 'train')], log)
  # Sent once the program's first line has set its handlers (before, the
  # interpreter's own default would act, as for any Python program).
  deadline = time.time() + 60
  while not _handles(proc.pid, SIGBREAK) and time.time() < deadline:
    time.sleep(0.005)
  proc.send_signal(SIGBREAK)
  proc.wait(timeout=60)
  with open(log, 'rb') as f:
    out = _decoded(f.read(), 'cp950')
  assert proc.returncode == 128 + SIGBREAK, out
  assert out.splitlines()[-1] == ('cifar10_train: stopped by SIGBREAK while '
                                  'starting; nothing was written.')
  assert not os.path.exists(str(tmp_path / 'train'))
