"""mnist.mnist: shapes, names, initial weights and numerics against NumPy."""

import math

import numpy as np
import pytest
import tensorflow as tf

from mnist import mnist

tf1 = tf.compat.v1


def _graph():
  graph = tf.Graph()
  with graph.as_default():
    images = tf1.placeholder(tf.float32, (None, mnist.IMAGE_PIXELS))
    labels = tf1.placeholder(tf.int32, (None,))
    logits = mnist.inference(images, 64, 16)
  return graph, images, labels, logits


def _var(name):
  """The variable named name in the default graph."""
  return [v for v in tf1.global_variables() if v.op.name == name][0]


def test_constants():
  assert (mnist.NUM_CLASSES, mnist.IMAGE_SIZE, mnist.IMAGE_PIXELS) == (
      10, 28, 784)


def test_inference_shapes_and_variable_names():
  graph, images, _, logits = _graph()
  with graph.as_default():
    variables = {v.name: v.shape.as_list() for v in tf1.global_variables()}
  assert variables == {
      'hidden1/weights:0': [784, 64], 'hidden1/biases:0': [64],
      'hidden2/weights:0': [64, 16], 'hidden2/biases:0': [16],
      'softmax_linear/weights:0': [16, 10], 'softmax_linear/biases:0': [10],
  }
  # 784*64 + 64 + 64*16 + 16 + 16*10 + 10 parameters.
  assert sum(np.prod(s) for s in variables.values()) == 51450
  with tf1.Session(graph=graph) as sess:
    sess.run(tf1.global_variables_initializer())
    out = sess.run(logits, {images: np.zeros((3, 784), np.float32)})
  assert out.shape == (3, 10)
  np.testing.assert_array_equal(out, 0)  # Zero input, zero biases.


def test_initial_weights_truncated_with_stddev_one_over_sqrt_fan_in():
  graph = tf.Graph()
  with graph.as_default():
    tf1.set_random_seed(0)
    mnist.inference(tf1.placeholder(tf.float32, (None, 784)), 1000, 400)
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      values = {v.op.name: sess.run(v) for v in tf1.global_variables()}
  for scope, fan_in in (('hidden1', 784), ('hidden2', 1000),
                        ('softmax_linear', 400)):
    weights = values[scope + '/weights']
    stddev = 1.0 / math.sqrt(fan_in)
    # Truncated at two standard deviations...
    assert np.abs(weights).max() <= 2 * stddev
    # ...which leaves a standard deviation of 0.88 of the parameter.
    assert weights.std() == pytest.approx(0.88 * stddev, rel=0.05)
    assert abs(weights.mean()) < 0.05 * stddev
    np.testing.assert_array_equal(values[scope + '/biases'], 0)


def _numpy_cross_entropy(logits, labels):
  shifted = logits - logits.max(axis=1, keepdims=True)
  log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
  return -log_softmax[np.arange(len(labels)), labels].mean()


def test_loss_matches_numpy():
  rng = np.random.RandomState(0)
  logits_value = rng.normal(scale=3.0, size=(7, 10)).astype(np.float32)
  labels_value = rng.randint(0, 10, size=7).astype(np.int32)
  with tf.Graph().as_default():
    logits = tf1.placeholder(tf.float32, (None, 10))
    labels = tf1.placeholder(tf.int32, (None,))
    loss = mnist.loss(logits, labels)
    with tf1.Session() as sess:
      got = sess.run(loss, {logits: logits_value, labels: labels_value})
  assert loss.shape == ()
  assert got == pytest.approx(_numpy_cross_entropy(logits_value,
                                                   labels_value), rel=1e-5)


def test_evaluation_counts_top1_hits():
  logits_value = np.eye(10, dtype=np.float32)[[3, 1, 4, 1, 5]]
  with tf.Graph().as_default():
    logits = tf1.placeholder(tf.float32, (None, 10))
    labels = tf1.placeholder(tf.int32, (None,))
    correct = mnist.evaluation(logits, labels)
    with tf1.Session() as sess:
      assert sess.run(correct, {logits: logits_value,
                                labels: [3, 1, 4, 1, 5]}) == 5
      assert sess.run(correct, {logits: logits_value,
                                labels: [3, 0, 4, 2, 9]}) == 2
      assert sess.run(correct, {logits: logits_value[:0],
                                labels: []}) == 0


def test_training_step_descends_and_counts_steps():
  rng = np.random.RandomState(1)
  images_value = rng.uniform(size=(20, 784)).astype(np.float32)
  labels_value = rng.randint(0, 10, size=20)
  graph, images, labels, logits = _graph()
  with graph.as_default():
    loss = mnist.loss(logits, labels)
    train_op = mnist.training(loss, 0.1)
    summaries = [op.op.name for op in
                 graph.get_collection(tf1.GraphKeys.SUMMARIES)]
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      feed = {images: images_value, labels: labels_value}
      before = sess.run(loss, feed)
      for _ in range(5):
        sess.run(train_op, feed)
      after = sess.run(loss, feed)
      step = _var('global_step')
      assert sess.run(step) == 5
      assert step not in tf1.trainable_variables()
  assert summaries == ['loss']
  assert after < before


def test_one_gradient_step_matches_numpy_for_the_last_layer():
  # The softmax layer's update: W <- W - lr * h^T (softmax(z) - y) / batch.
  rng = np.random.RandomState(2)
  images_value = rng.uniform(size=(4, 784)).astype(np.float32)
  labels_value = np.array([0, 3, 3, 9])
  graph, images, labels, logits = _graph()
  with graph.as_default():
    loss = mnist.loss(logits, labels)
    train_op = mnist.training(loss, 0.5)
    hidden2 = graph.get_tensor_by_name('hidden2/Relu:0')
    weights = _var('softmax_linear/weights')
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      feed = {images: images_value, labels: labels_value}
      h, z, w = sess.run([hidden2, logits, weights], feed)
      sess.run(train_op, feed)
      w_after = sess.run(weights)
  p = np.exp(z - z.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  expected = w - 0.5 * h.T @ (p - np.eye(10)[labels_value]) / 4
  np.testing.assert_allclose(w_after, expected, atol=1e-5)
