r"""The course's CIFAR-10 lab in one command, the same in cmd, PowerShell,
bash and zsh: sets up .venv (TensorFlow for the CPU and TensorBoard),
trains 1000 steps, then evaluates the checkpoint.

  python scripts/quickstart.py [--data_dir DIR] [--train_dir DIR]
                               [--eval_dir DIR] [--max_steps N]

(python3 where `python` is not found.) The Python that runs it, 3.10-3.14
as TensorFlow needs (3.14 gets TensorFlow 2.22, whose release candidate
pip takes there while no final release has wheels for it), makes .venv in
the repository, and the project is installed into it with the extras cpu
and tensorboard. Then .venv's Python
runs the two programs, each command printed first:

  .venv/bin/python -m cifar10.cifar10_train --max_steps 1000
  .venv/bin/python -m cifar10.cifar10_eval --run_once

(.venv\Scripts\python.exe on Windows). A folder flag given here is passed
on (--train_dir to cifar10_eval as --checkpoint_dir); one not given is not,
so the programs' defaults apply: /tmp/cifar10_data, /tmp/cifar10_train and
/tmp/cifar10_eval (on Windows \tmp\... on the current drive). --data_dir
holds cifar-10-batches-bin (or the tarball); when neither is there, CIFAR-10
(170 MB) is downloaded into it.

Running it again is quick: the install is skipped when setup.py is
unchanged, and training resumes from its checkpoint (nothing to do once it
reached --max_steps). Ctrl+C stops the running program in its own way
(training saves a checkpoint); nothing runs after it, and the exit status
is the program's.
"""

import argparse
import os
import sys

# `python scripts/quickstart.py` puts scripts/ first on sys.path, but
# `python -m scripts.quickstart` (and tests) import this file from the root.
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
  sys.path.insert(0, HERE)
import setup_env

PROG = 'quickstart.py'  # starts the lines it prints
ROOT = os.path.dirname(HERE)  # the repository
EXTRAS = 'cpu,tensorboard'  # what the lab needs installed into .venv
MAX_STEPS = 1000  # the lab's training steps


def _steps(text):
  """--max_steps: a positive integer."""
  try:
    value = int(text)
  except ValueError:
    value = 0
  if value < 1:
    raise argparse.ArgumentTypeError('not a positive integer: %r' % text)
  return value


def _folder(text):
  """A folder flag: absolute, as the programs run in the repository."""
  return os.path.abspath(os.path.expanduser(text))


def lab_commands(python, data_dir=None, train_dir=None, eval_dir=None,
                 max_steps=MAX_STEPS):
  """The lab's two commands, with the folders given and no others.

  Args:
    python: the Python to run them with (.venv's).
    data_dir: --data_dir of both programs, or None for their default.
    train_dir: cifar10_train's --train_dir and cifar10_eval's
      --checkpoint_dir, or None.
    eval_dir: cifar10_eval's --eval_dir, or None.
    max_steps: cifar10_train's --max_steps.

  Returns:
    [train command, eval command], each a list of arguments.
  """
  data = ['--data_dir', data_dir] if data_dir else []
  train = [python, '-m', 'cifar10.cifar10_train'] + data
  evaluate = [python, '-m', 'cifar10.cifar10_eval'] + data
  if train_dir:
    train += ['--train_dir', train_dir]
    evaluate += ['--checkpoint_dir', train_dir]
  if eval_dir:
    evaluate += ['--eval_dir', eval_dir]
  return [train + ['--max_steps', str(max_steps)], evaluate + ['--run_once']]


def main(argv=None):
  parser = setup_env.ArgumentParser(PROG, __doc__)
  parser.add_argument('--data_dir', type=_folder, metavar='DIR',
                      help='CIFAR-10 is read from (or downloaded into) DIR')
  parser.add_argument('--train_dir', type=_folder, metavar='DIR',
                      help='checkpoints and summaries of training')
  parser.add_argument('--eval_dir', type=_folder, metavar='DIR',
                      help="the evaluation's summaries")
  parser.add_argument('--max_steps', type=_steps, default=MAX_STEPS,
                      metavar='N', help='training steps (default %(default)s)')
  args = parser.parse_args(argv)
  setup_env.check_python('scripts/quickstart.py')
  python = setup_env.ensure_venv(ROOT, EXTRAS)
  env = setup_env.program_environ(ROOT)
  for command in lab_commands(python, args.data_dir, args.train_dir,
                              args.eval_dir, args.max_steps):
    code, interrupted = setup_env.run_program(command, ROOT, env)
    if code != 0 or interrupted:
      return setup_env.exit_status(code)
  return 0


if __name__ == '__main__':
  setup_env.run_main(PROG, main)
