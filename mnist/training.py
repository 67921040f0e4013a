"""What every MNIST trainer does around its training loop.

The five trainers (fully_connected_feed, mnist_softmax, mnist_softmax_xla,
mnist_with_summaries, mnist_deep) keep their own loops, which the course
reads; this module gives them the same behaviour around those loops:

 # A program's run(): expected errors and signals end it in one line.
 with program(PROG):
   tensorboard_hint(log_dir)        # 'Watch training with: ...' (stderr)
   ...

 # A train() function: in the loop, Ctrl-C and SIGTERM only ask to stop.
 with StopOnSignal(kept='the checkpoint is in DIR') as stop:
   for step in range(max_steps):
     ...one step...
     check_loss(loss_value, step, learning_rate)  # NaN/inf: advice
     if stop.requested:
       stop.announce('saving a checkpoint')       # when there is one
       ...save...
       raise stop.stopped(step + 1)
   stop.finished(max_steps)   # now a signal stops at once
   ...evaluate...

Signals, by phase: while TensorFlow loads, mnist.commands ends the process
at once. In program() before the loop, a signal raises Stopped: nothing was
saved, exit status 128 + the signal's number. In the loop it waits for the
end of the current step, where the program saves what it saves (exit
status 0 when it kept something). After the loop (stop.finished()) it
raises Stopped at once, say in the middle of a test evaluation, with what
the loop kept.
"""

import contextlib
import math
import signal
import sys
import threading

import tensorflow as tf

from mnist import command_path
from mnist import commands

SIGNALS = commands.SIGNALS  # Ctrl-C, `kill`, Windows' Ctrl+Break.
DIVERGED = ('the model diverged: loss = %s at step %d; try a smaller %s '
            '(now %g)')  # fully_connected_feed's words, for every trainer.


class Stopped(KeyboardInterrupt):
  """Training stopped by Ctrl-C or SIGTERM; str() is the line to print.

  A KeyboardInterrupt, so code that handles Ctrl-C (a notebook) handles
  this too, and `except Exception` does not swallow it.

  Attributes:
    signal_name: 'SIGINT' or 'SIGTERM'.
    step: training steps done, or None if training had not started.
    kept: what the stop kept, e.g. 'the checkpoint is in DIR', or None.
    exit_status: 0 when something was kept, else 128 + the signal number
      (as a shell reports a process killed by the signal).
  """

  def __init__(self, signal_name, step=None, kept=None):
    if step is None:
      text = 'stopped by %s before training started; nothing was saved.' % (
          signal_name)
    else:
      text = 'Stopped by %s at step %d; %s.' % (signal_name, step,
                                               kept or 'nothing was saved')
    super().__init__(text)
    self.signal_name, self.step, self.kept = signal_name, step, kept
    self.exit_status = 0 if kept else 128 + signal.Signals[signal_name]


class _State(object):
  """Process-wide, as signal handlers are."""
  loop = None  # The StopOnSignal whose loop runs now, if any.
  after = (None, None)  # (steps, what was kept) once a loop is over.
  raised = None  # The Stopped a signal raised, if any.


def _on_signal(signum, frame):
  del frame  # Unused.
  name = signal.Signals(signum).name
  if _State.loop is not None:
    # In the middle of a step: stopping here could leave a checkpoint half
    # written, so only ask the loop to stop at its next check.
    if _State.loop.signal_name is None:
      _State.loop.signal_name = name
    return
  _ignore_signals()  # Unwinding must not be interrupted by a second one.
  _State.raised = Stopped(name, *_State.after)
  raise _State.raised


def _ignore_signals():
  if threading.current_thread() is threading.main_thread():
    for signum in SIGNALS:
      signal.signal(signum, signal.SIG_IGN)


def _install():
  """Handles SIGNALS with _on_signal; returns the previous handlers."""
  # Handlers can only be set from the main thread; elsewhere the caller's
  # own handling stays.
  if threading.current_thread() is not threading.main_thread():
    return {}
  return {signum: signal.signal(signum, _on_signal) for signum in SIGNALS}


def _restore(previous):
  for signum, handler in previous.items():
    signal.signal(signum, handler)


class StopOnSignal(object):
  """Ctrl-C and SIGTERM, inside the with-block, ask to stop after a step.

  The loop checks `requested` after each step and stops cleanly, so a
  program saves a whole checkpoint at a step boundary instead of dying in
  the middle of one. Further signals are ignored until the loop is done
  (MNIST steps take milliseconds). After finished(), a signal raises
  Stopped at once. Outside a program() (a notebook, a test), the previous
  handlers come back at the end of the block.

  Attributes:
    kept: what a stop after some steps keeps ('the checkpoint is in DIR'),
      or None.
    signal_name: None, or the name of the first signal received.
  """

  def __init__(self, kept=None):
    self.kept = kept
    self.signal_name = None
    self._previous = {}

  @property
  def requested(self):
    """Whether a signal asked to stop."""
    return self.signal_name is not None

  def stopped(self, step):
    """The Stopped to raise after `step` steps (nothing is kept at 0)."""
    return Stopped(self.signal_name, step, self.kept if step else None)

  def finished(self, step):
    """Ends the loop: from now on a signal raises Stopped at once.

    Args:
      step: the steps done.

    Raises:
      Stopped: a signal came after the loop's last check.
    """
    _State.loop = None
    _State.after = (step, self.kept if step else None)
    if self.requested:
      raise self.stopped(step)

  def announce(self, action):
    """Prints 'Received SIGTERM: stopping and <action>.' at once."""
    print('Received %s: stopping and %s.' % (self.signal_name, action),
          flush=True)

  def __enter__(self):
    _State.loop, _State.after = self, (None, None)
    self._previous = _install()
    return self

  def __exit__(self, *exc_info):
    # _State.after stays: in a program() the rest of run() is after the
    # loop too.
    _State.loop = None
    _restore(self._previous)
    return False


def diverged(loss_value, step, learning_rate, flag='--learning_rate'):
  """The error that says a run diverged, with advice.

  Args:
    loss_value: the step's loss (NaN or infinite).
    step: the step (counted from 0).
    learning_rate: the learning rate, for the advice.
    flag: the flag that sets it, or words for a program without one.

  Returns:
    A FloatingPointError to raise.
  """
  return FloatingPointError(DIVERGED % (loss_value, step, flag,
                                        learning_rate))


def check_loss(loss_value, step, learning_rate, flag='--learning_rate'):
  """Stops a diverged run at once: every later step would be NaN too.

  Args:
    loss_value: the step's loss.
    step, learning_rate, flag: see diverged().

  Raises:
    FloatingPointError: the loss is NaN or infinite.
  """
  if not math.isfinite(loss_value):
    raise diverged(loss_value, step, learning_rate, flag)


def tensorboard_hint(log_dir):
  """Prints how to watch the event files in log_dir, on stderr.

  stderr, so the program's output stays the original tutorial's, line for
  line.
  """
  print('Watch training with: tensorboard --logdir %s'
        % command_path(log_dir),
        file=sys.stderr, flush=True)


def error_reason(error):
  """One line out of an error's message.

  TensorFlow's messages start `Graph execution error:` and a traceback of
  where the failing op was built; the reason is the line after its
  `Node: '...'` line.
  """
  text = getattr(error, 'message', None) or str(error)
  lines = [line.strip() for line in text.split('\n') if line.strip()]
  if not lines:
    return type(error).__name__
  for before, line in zip(lines, lines[1:], strict=False):
    if lines[0].startswith('Graph execution error') and before.startswith(
        'Node: '):
      return line
  return lines[0]


@contextlib.contextmanager
def program(prog):
  """Runs the body of a program's run(): one line for what may go wrong.

  Inside the with-block a signal raises Stopped (see StopOnSignal for the
  loops). Stopped prints its line (stdout after a loop, else stderr as
  `PROG: stopped by ...`) and exits with its exit_status; a diverged loss,
  an OSError, a ValueError or a TensorFlow error (a checkpoint that cannot
  be written, say) exits with `PROG: error: message` and status 1.

  Args:
    prog: the program's name, which starts its error lines.

  Yields:
    Nothing.
  """
  previous = _install()
  _State.loop, _State.after, _State.raised = None, (None, None), None
  try:
    yield
  except Stopped as e:
    _exit_stopped(prog, e)
  except Exception as e:  # Perhaps a signal's Stopped, replaced.
    # The handler raises Stopped wherever the program is, and inside native
    # code it can come out as another exception: pybind11, meeting it while
    # TensorFlow raised and caught an error of its own, turns it into a
    # RuntimeError ('MISMATCH of original and normalized active exception
    # types'). Whatever it became, the signal is what ended the program.
    if _State.raised is not None:
      _exit_stopped(prog, _State.raised)
    if not isinstance(e, (FloatingPointError, OSError, ValueError,
                          tf.errors.OpError)):
      raise
    sys.exit('%s: error: %s' % (prog, error_reason(e)))
  finally:
    _State.loop, _State.after, _State.raised = None, (None, None), None
    _restore(previous)


def _exit_stopped(prog, stopped):
  """Prints a Stopped's line and exits with its status."""
  _ignore_signals()
  if stopped.step is None:
    print('%s: %s' % (prog, stopped), file=sys.stderr)
  else:
    print(stopped)
  sys.exit(stopped.exit_status)
