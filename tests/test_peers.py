"""scripts/peers.py: the Keras 3 peer has the tutorial's layers, and
benchmark_cifar10 times it as it does in a benchmark (PyTorch is not
tested where it is not installed)."""

import json
import math
import os

import tensorflow as tf

from cifar10 import cifar10
from conftest import run_program

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


def test_benchmark_times_the_keras_peer():
  proc = run_program([os.path.join('scripts', 'benchmark_cifar10.py'),
                      '--keras_peer', 'float32', '--steps', '32',
                      '--batch_size', '4'])
  rate = float(proc.stdout.split()[-1])
  assert 0 < rate < 1e6, proc.stdout
