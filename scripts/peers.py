"""The tutorial's network in the frameworks a user would pick instead, for
scripts/benchmark_cifar10.py to time against: Keras 3 (installed with
TensorFlow) and, where it is installed, PyTorch.

  rate = keras_rate('float32', batch_size=128, steps=200, warmup=30)
  model = keras_model('float32')   # the compiled Keras model it times
  rate = torch_rate(batch_size=128, steps=200, warmup=30)  # needs torch
  have_torch()                     # without importing it

The same layers as cifar10.inference: 5x5 convolutions of 64 channels with
ReLU, 3x3 max pooling of stride 2, LRN (depth radius 4, bias 1, alpha
0.001 / 9, beta 0.75), fully connected 384 and 192 with ReLU and weight
decay 0.004, 10 logits; cross entropy, SGD at 0.1, on random images in
memory (no input pipeline), timed after warmup steps (the benchmark's
WARMUP). Each runs in a process of its own (Keras sets its policy
globally; torch has its own thread pools).
"""

import importlib.util
import time

import numpy as np

IMAGE_SHAPE = (24, 24, 3)
WEIGHT_DECAY = 0.004  # local3 and local4: wd * l2_loss = wd * sum(w^2) / 2
# The clock every wall time here is read from: a test puts a fake one in its
# place, to check the seconds and rates reported against known times.
_clock = time.time


def _data(batch_size, steps):
  rng = np.random.RandomState(0)
  images = rng.randn(steps * batch_size, *IMAGE_SHAPE).astype(np.float32)
  return images, rng.randint(0, 10, steps * batch_size)


def keras_model(policy):
  """The layers in Keras 3 with policy (float32, mixed_bfloat16), compiled
  with SGD 0.1 and the cross entropy; sets Keras' global policy."""
  # pylint: disable=g-import-not-at-top
  import keras
  import tensorflow as tf
  keras.mixed_precision.set_global_policy(policy)
  layers = keras.layers

  def lrn(x):
    # No bfloat16 kernel for LRN on the CPU: cast around it, as the graph
    # rewrite does.
    out = tf.nn.lrn(tf.cast(x, tf.float32), 4, bias=1.0, alpha=0.001 / 9.0,
                    beta=0.75)
    return tf.cast(out, x.dtype)

  decay = keras.regularizers.L2(WEIGHT_DECAY / 2)
  inputs = keras.Input(IMAGE_SHAPE)
  x = layers.Conv2D(64, 5, padding='same', activation='relu')(inputs)
  x = layers.MaxPool2D(3, 2, padding='same')(x)
  x = layers.Lambda(lrn, output_shape=lambda s: s)(x)
  x = layers.Conv2D(64, 5, padding='same', activation='relu',
                    bias_initializer=keras.initializers.Constant(0.1))(x)
  x = layers.Lambda(lrn, output_shape=lambda s: s)(x)
  x = layers.MaxPool2D(3, 2, padding='same')(x)
  x = layers.Flatten()(x)
  x = layers.Dense(384, activation='relu', kernel_regularizer=decay)(x)
  x = layers.Dense(192, activation='relu', kernel_regularizer=decay)(x)
  outputs = layers.Dense(10, dtype='float32')(x)
  model = keras.Model(inputs, outputs)
  model.compile(optimizer=keras.optimizers.SGD(0.1),
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  return model


def keras_rate(policy, batch_size, steps, warmup):
  """Examples/s of keras_model(policy) in one model.fit (tf.function) of
  `steps` batches, timed by a callback from the end of the warmup-th batch
  to the end of training: a second fit would pay its own set-up (a 60-step
  one read 749 examples/s where this clock read 1,300-1,476)."""
  import keras  # pylint: disable=g-import-not-at-top
  model = keras_model(policy)
  images, labels = _data(batch_size, steps)
  clock = {}

  class Clock(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
      if batch + 1 == warmup:
        clock['start'] = _clock()

    def on_train_end(self, logs=None):
      clock['end'] = _clock()

  model.fit(images, labels, batch_size=batch_size, epochs=1, verbose=0,
            shuffle=False, callbacks=[Clock()])
  return (steps - warmup) * batch_size / (clock['end'] - clock['start'])


def have_torch():
  """Whether `import torch` would find PyTorch (without importing it)."""
  return importlib.util.find_spec('torch') is not None


def torch_rate(batch_size, steps, warmup):
  """Examples/s of the layers in PyTorch, float32, eager, NCHW.

  PyTorch's LocalResponseNorm divides alpha by its window (size 9), so its
  alpha 0.001 is TensorFlow's 0.001 / 9. Its max pooling pads a row and a
  column on each side where TensorFlow's SAME pads one after: the same
  shapes and arithmetic, slightly different windows.

  Raises:
    ImportError: no PyTorch.
  """
  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top
  torch.manual_seed(0)
  local3, local4 = nn.Linear(64 * 6 * 6, 384), nn.Linear(384, 192)
  model = nn.Sequential(
      nn.Conv2d(3, 64, 5, padding=2), nn.ReLU(),
      nn.MaxPool2d(3, 2, padding=1),
      nn.LocalResponseNorm(9, alpha=0.001, beta=0.75, k=1.0),
      nn.Conv2d(64, 64, 5, padding=2), nn.ReLU(),
      nn.LocalResponseNorm(9, alpha=0.001, beta=0.75, k=1.0),
      nn.MaxPool2d(3, 2, padding=1), nn.Flatten(),
      local3, nn.ReLU(), local4, nn.ReLU(), nn.Linear(192, 10))
  decayed = {id(p) for p in (local3.weight, local4.weight)}
  optimizer = torch.optim.SGD([
      {'params': [p for p in model.parameters() if id(p) in decayed],
       'weight_decay': WEIGHT_DECAY},  # Adds wd * w: l2_loss's gradient.
      {'params': [p for p in model.parameters() if id(p) not in decayed]}],
                              lr=0.1)
  loss_fn = nn.CrossEntropyLoss()
  images, labels = _data(batch_size, steps)
  images = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
  labels = torch.from_numpy(labels)
  start = None
  for step in range(steps):
    if step == warmup:
      start = _clock()
    batch = slice(step * batch_size, (step + 1) * batch_size)
    optimizer.zero_grad()
    loss_fn(model(images[batch]), labels[batch]).backward()
    optimizer.step()
  return (steps - warmup) * batch_size / (_clock() - start)
