"""scripts/peers.py: the Keras 3 peer has the tutorial's layers, and
benchmark_cifar10 times it as it does in a benchmark; so is the PyTorch peer
timed, where torch is installed (skipped, saying so, where it is not).

The rates are checked against a fake clock (peers._clock) that each
training batch moves on by TICK: the batches after the warm-up, of their
images, in the ticks they took.
"""

import argparse
import json
import math
import os
import sys
from unittest import mock

import pytest
import tensorflow as tf

from cifar10 import cifar10
from conftest import REPO, run_program

sys.path.append(os.path.join(REPO, 'scripts'))
# benchmark_cifar10 quiets TensorFlow's C++ notices as it loads
# (os.environ.setdefault), for the programs it starts: not for those the
# suite's other tests start in this process.
with mock.patch.dict(os.environ):
  import benchmark_cifar10  # noqa: E402
  import peers  # noqa: E402
  import program_runs  # noqa: E402

TICK = 0.25  # Seconds a batch takes on the fake clock (a binary fraction).

# Each weight's shape in the peer's Keras model, as JSON (in a process of its
# own: the peer sets Keras' global policy).
SHAPES = ('import json, sys; sys.path.insert(0, "scripts"); import peers; '
          'model = peers.keras_model("float32"); '
          'print(json.dumps([list(w.shape) for w in model.trainable_weights]))')


def test_keras_peer_has_the_tutorials_layers():
  with tf.Graph().as_default():
    cifar10.inference(tf.compat.v1.placeholder(tf.float32, [None, 24, 24, 3]),
                      'cifar10', False)
    ours = [v.shape.as_list()
            for v in tf.compat.v1.trainable_variables()]
  peer = json.loads(run_program(['-c', SHAPES]).stdout.splitlines()[-1])
  # The same weights and biases in the same order, so the same arithmetic.
  assert peer == ours
  assert sum(math.prod(s) for s in peer) == cifar10.NUM_PARAMETERS


# Runs the program in argv[1] as __main__ with its arguments, peers' clock
# faked: each batch model.fit runs moves it on by TICK as the batch ends,
# before the callbacks see the end.
ON_FAKE_CLOCK = """
import runpy, sys
sys.path.insert(0, %r)
import keras
import peers
now = [0.0]
peers._clock = lambda: now[0]
batch_end = keras.callbacks.CallbackList.on_train_batch_end
def tick(self, batch, logs=None):
  now[0] += %r
  batch_end(self, batch, logs)
keras.callbacks.CallbackList.on_train_batch_end = tick
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
""" % (os.path.join(REPO, 'scripts'), TICK)


def test_benchmark_times_the_keras_peer_after_warm_up(monkeypatch):
  # _peer, which gives the table its (p) rows, runs benchmark_cifar10.py
  # --keras_peer through program_runs.run: here with the clock faked.
  ran = []
  run = program_runs.run

  def run_on_fake_clock(args, env=None):
    ran.append(args)
    return run(['-c', ON_FAKE_CLOCK] + args, env)

  monkeypatch.setattr(program_runs, 'run', run_on_fake_clock)
  monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', '2')  # As under the benchmark.
  rate = benchmark_cifar10._peer(argparse.Namespace(steps=33, batch_size=4),
                                 '--keras_peer', 'float32')
  assert ran == [[os.path.join(REPO, 'scripts', 'benchmark_cifar10.py'),
                  '--keras_peer', 'float32', '--steps', '33',
                  '--batch_size', '4']]
  # Timed from the end of the 30th batch (the warm-up) to the end of
  # training: 3 batches of 4 images in 3 ticks.
  assert benchmark_cifar10.WARMUP == 30
  assert rate == (33 - 30) * 4 / ((33 - 30) * TICK)


def test_torch_peer_times_the_steps_after_warm_up(monkeypatch):
  torch = pytest.importorskip(
      'torch', reason='torch is not installed here (PyTorch is the optional '
      'peer: pip install torch to time it)')
  now = [0.0]
  monkeypatch.setattr(peers, '_clock', lambda: now[0])

  def tick(optimizer, args, kwargs):
    del optimizer, args, kwargs
    now[0] += TICK  # Each training step takes a TICK of the fake clock.

  hook = torch.optim.optimizer.register_optimizer_step_post_hook(tick)
  try:
    rate = peers.torch_rate(batch_size=4, steps=5, warmup=2)
  finally:
    hook.remove()
  # Timed from the start of step 2 (after the warm-up) to the end of step
  # 4: 3 steps of 4 images in 3 ticks.
  assert rate == (5 - 2) * 4 / ((5 - 2) * TICK)
