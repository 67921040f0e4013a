"""The MNIST programs as a user starts and stops them.

--help shows the whole docstring and every flag; Ctrl-C or SIGTERM while
TensorFlow loads gives one line (mnist.commands, and each program's own
start for `python prog.py` and `python -m`); and signals at random moments
from start-up to the end of a run always give one line, no traceback, and
checkpoints that restore.
"""

import importlib
import json
import os
import random
import re
import signal
import time

import pytest
import tensorflow as tf
from conftest import REPO, check_interpreter_start, run_program
from conftest import moments_env, wait_for_moment
from test_handwriting_pad import fc_log_dir  # noqa: F401 (a fixture)
from test_mnist_training import CHECKPOINTS
from test_mnist_training import data_dir  # noqa: F401 (a fixture)
from test_mnist_training import Running, check_stop_line, program_args
from test_mnist_training import restore_checkpoint

PROGRAMS = ('fully_connected_feed', 'mnist_softmax', 'mnist_softmax_xla',
            'mnist_with_summaries', 'mnist_deep', 'handwriting_pad')
STARTUP = '%s: stopped by %s during start-up; nothing was written.'
BEFORE_TRAINING = ('%s: stopped by %s before training started; nothing was '
                   'saved.')
LAST_LINE = {  # The last line of a run that was not stopped.
    'fully_connected_feed': r'Trained \d+ steps in .*',
    'mnist_softmax': r'(0|1|0\.\d+)',
    'mnist_softmax_xla': r'XLA ran \d+ compiled cluster\(s\) in the traced '
                         r'step\.|XLA was asked for but ran nothing.*',
    'mnist_with_summaries': r'Summaries are in .*',
    'mnist_deep': r'Model saved in .*',
    'handwriting_pad': r'Stopped\.',
}
RUN_STEPS = {  # Runs of about 10 s here, two thirds of it training.
    'fully_connected_feed': 4000, 'mnist_softmax': 6000,
    'mnist_softmax_xla': 2500, 'mnist_with_summaries': 200,
    'mnist_deep': 150}


def command(program):
  """`python -c` code that starts a program as its console script does."""
  return 'from mnist import commands; commands.%s()' % program


@pytest.mark.parametrize('program', PROGRAMS)
def test_help_tells_everything(program, tmp_path):
  proc = run_program(['-m', 'mnist.' + program, '--help'])
  # Answered before TensorFlow loads (which takes seconds): with a
  # TensorFlow that cannot load, the same help.
  fake = tmp_path / 'tensorflow'
  fake.mkdir()
  (fake / '__init__.py').write_text('raise ImportError("loaded")\n')
  without = run_program(['-m', 'mnist.' + program, '--help'],
                        env={'PYTHONPATH': str(tmp_path)})
  assert without.stdout == proc.stdout
  module = importlib.import_module('mnist.' + program)
  first_paragraph = module.__doc__.split('\n\n')[0]
  assert first_paragraph in proc.stdout
  assert module.__doc__.strip().split('\n')[-1] in proc.stdout  # All of it.
  options = [o for a in module._parser()._actions for o in a.option_strings]
  assert len(options) >= 4
  for option in options:
    assert re.search(r'(^|[\s,\[])%s\b' % re.escape(option), proc.stdout), (
        option)
  assert proc.stdout.startswith('usage: %s ' % program)


@pytest.mark.parametrize('program, args, cwd, name', [
    ('mnist_deep', ['-m', 'mnist.mnist_deep'], REPO, 'SIGINT'),
    ('fully_connected_feed', ['mnist/fully_connected_feed.py'], REPO,
     'SIGTERM'),
    ('mnist_with_summaries', ['mnist_with_summaries.py'],
     os.path.join(REPO, 'mnist'), 'SIGINT'),
    ('mnist_softmax', ['-c', command('mnist_softmax')], REPO, 'SIGTERM'),
    ('mnist_softmax_xla', ['-c', command('mnist_softmax_xla')], REPO,
     'SIGINT'),
    ('handwriting_pad', ['-c', command('handwriting_pad')], REPO, 'SIGTERM'),
])
def test_signal_while_tensorflow_loads(program, args, cwd, name,
                                      data_dir, tmp_path):  # noqa: F811
  # Were the signal late, the program would read the data and train (or,
  # for the pad, find no checkpoint) and say so otherwise. (--help would
  # not do: it is answered before TensorFlow loads.)
  log_dir = str(tmp_path / 'logs')
  if program == 'handwriting_pad':
    flags = ['--model', 'fully_connected_feed', '--log_dir', log_dir]
  else:
    flags = program_args(program, data_dir, log_dir, 100000)
  env, moments = moments_env(tmp_path)
  run = Running(args + flags, cwd=cwd, env=env)
  # As TensorFlow starts to load (which then takes seconds), as announced.
  wait_for_moment(moments, 'tensorflow loading', run.proc)
  run.send(signal.Signals[name])
  status = run.finish()
  assert status == 128 + signal.Signals[name], run.stderr
  assert run.lines == {'stdout': [], 'stderr': [STARTUP % (program, name)]}
  assert not os.path.exists(log_dir)


# What the packages' quick import did to TensorFlow's load, as JSON.
QUICK_IMPORT = '''
import gc, json, sys
%s
finders = [type(f).__name__ for f in sys.meta_path]
import tensorflow as tf
tf.constant(1.0)  # It works.
after = [type(f).__name__ for f in sys.meta_path]
print(json.dumps({'finders': finders, 'after': after,
                  'keras': 'keras' in sys.modules,
                  'collecting': gc.isenabled(),
                  'frozen': gc.get_freeze_count()}))
'''


@pytest.mark.parametrize('before, collecting', [
    ('import mnist', True),
    # Both packages' hooks: the first does the work, the other stands by.
    ('import cifar10, mnist\ngc.disable()', False)])
def test_tensorflow_loads_quietly_without_keras_and_frozen(before, collecting):
  proc = run_program(['-c', QUICK_IMPORT % before])
  assert proc.stderr == ''  # TensorFlow's start-up notices kept off.
  found = json.loads(proc.stdout)
  assert found['finders'].count('_QuickTensorFlowImport') == 1
  assert '_QuickTensorFlowImport' not in found['after']  # Its work is done.
  assert not found['keras']
  # The collector as the caller had it, and TensorFlow's objects frozen.
  assert found['collecting'] == collecting
  assert found['frozen'] > 100000, found


@pytest.mark.parametrize('name', ['SIGINT', 'SIGTERM'])
def test_a_signal_before_the_first_line(name, tmp_path):
  # Sent as soon as the interpreter exists, before it has run a line of the
  # program: the system's (or Python's) default, and nothing written.
  log_dir = str(tmp_path / 'logs')
  run = Running(['-c', command('mnist_deep'), '--log_dir', log_dir])
  ours = run.send(signal.Signals[name])
  run.finish()
  assert not ours
  check_interpreter_start(run.proc.returncode, run.stdout, run.stderr,
                          signal.Signals[name])
  assert not os.path.exists(log_dir)


def _outcome(run, program, name, log_dir, ours):
  """Checks a run signalled at some moment; returns what it had reached.

  ours: whether the program's handlers were in place when it was sent.
  """
  signum = signal.Signals[name]
  if not ours and run.proc.returncode in (-signum, 1):
    # The interpreter's first tens of milliseconds: not yet the program's.
    check_interpreter_start(run.proc.returncode, run.stdout, run.stderr,
                            signum)
    assert not os.path.exists(log_dir)
    return 'interpreter start'
  assert 'Traceback' not in run.stderr, run.stderr
  hint = 'Watch training with: tensorboard --logdir %s' % log_dir
  other = [line for line in run.lines['stderr'] if line != hint]
  stdout = run.lines['stdout']
  if other == [STARTUP % (program, name)]:
    assert run.proc.returncode == 128 + signum and stdout == []
    return 'start-up'
  if other == [BEFORE_TRAINING % (program, name)]:
    assert run.proc.returncode == 128 + signum
    assert not any(line.startswith('Stopped') for line in stdout)
    return 'before training'
  assert other == [], run.stderr
  if any(line.startswith('Stopped by') for line in stdout):
    check_stop_line(run, program, name, log_dir)
    return 'training'
  # Too late: the run had done its work. (The pad stops only by signal.)
  assert run.proc.returncode == 0 and re.fullmatch(
      LAST_LINE[program], stdout[-1]), run.stdout
  return 'end'


@pytest.mark.parametrize('program', PROGRAMS)
def test_signals_at_random_moments(program, data_dir, fc_log_dir, tmp_path,  # noqa: F811
                                   request):
  # A run without a signal gives the length of a run; then one signal in
  # each third of it, at a random moment, SIGINT or SIGTERM. The moments
  # come from the test's name (the same each run, printed as they are hit:
  # a failure shows which).
  rng = random.Random(request.node.name)

  def start(log_dir):
    if program == 'handwriting_pad':
      args = ['--model', 'fully_connected_feed', '--log_dir', fc_log_dir,
              '--port', '0']
    else:
      args = program_args(program, data_dir, log_dir, RUN_STEPS[program])
    return Running(['-c', command(program)] + args)

  reference = start(str(tmp_path / 'reference'))
  if program == 'handwriting_pad':
    # It serves until stopped: from start-up to a while of serving.
    reference.wait_for('stdout', 'Serving the handwriting pad')
    reference.send(signal.SIGTERM)
    length = 2.0 * (time.time() - reference.started)
  assert reference.finish() == 0, reference.stderr
  if program != 'handwriting_pad':
    length = time.time() - reference.started
  reached = []
  for third in range(3):
    log_dir = str(tmp_path / ('run%d' % third))
    delay = length * rng.uniform(third / 3.0, (third + 1) / 3.0)
    name = rng.choice(['SIGINT', 'SIGTERM'])
    run = start(log_dir)
    time.sleep(max(0.0, delay - (time.time() - run.started)))
    ours = run.send(signal.Signals[name])
    run.finish()
    print('%s: %s at %.2f s of a %.1f s run' % (program, name, delay, length))
    where = _outcome(run, program, name, log_dir, ours)
    print('  reached: %s' % where)
    reached.append('%s at %.2f s: %s' % (name, delay, where))
    if program in CHECKPOINTS and os.path.isdir(log_dir):
      # Nothing lost: whatever checkpoint is there restores.
      checkpoint = tf.train.latest_checkpoint(log_dir)
      assert (checkpoint is not None) == (where in ('training', 'end'))
      if checkpoint:
        restore_checkpoint(checkpoint)
  print('%s (a run %.1f s): %s' % (program, length, '; '.join(reached)))
