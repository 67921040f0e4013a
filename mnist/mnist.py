"""Builds the MNIST network: two hidden ReLU layers and a linear softmax layer.

Implements the inference/loss/training pattern for model building.

1. inference() - Builds the model as far as required for running the network
   forward to make predictions.
2. loss() - Adds to the inference model the layers required to generate loss.
3. training() - Adds to the loss model the Ops required to generate and
   apply gradients.

 logits = inference(images, hidden1_units, hidden2_units)
 loss = loss(logits, labels)
 train_op = training(loss, learning_rate)
 eval_correct = evaluation(logits, labels)

This file is used by fully_connected_feed.py; it builds tf.compat.v1 graphs
(call it inside `with tf.Graph().as_default():`).
"""

import math

import tensorflow as tf

tf1 = tf.compat.v1

NUM_CLASSES = 10  # The digits 0..9.
IMAGE_SIZE = 28  # MNIST images are 28x28 pixels.
IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE  # 784, the length of a flat image.


def _layer(inputs, fan_in, units, scope, activation=None):
  """A fully connected layer, its variables and ops all named in `scope`."""
  with tf.name_scope(scope):
    # stddev 1/sqrt(fan_in) keeps each unit's initial pre-activation at
    # about unit variance, whatever the layer width; truncating at two
    # standard deviations avoids rare huge weights.
    weights = tf.Variable(
        tf.random.truncated_normal([fan_in, units],
                                   stddev=1.0 / math.sqrt(float(fan_in))),
        name='weights')
    biases = tf.Variable(tf.zeros([units]), name='biases')
    outputs = tf.matmul(inputs, weights) + biases
    return activation(outputs) if activation else outputs


def inference(images, hidden1_units, hidden2_units):
  """Builds the MNIST model up to where it may be used for inference.

  Args:
    images: images placeholder, float32 [batch, IMAGE_PIXELS].
    hidden1_units: size of the first hidden layer.
    hidden2_units: size of the second hidden layer.

  Returns:
    softmax_linear: output tensor with the computed logits, float32
      [batch, NUM_CLASSES].
  """
  hidden1 = _layer(images, IMAGE_PIXELS, hidden1_units, 'hidden1',
                   tf.nn.relu)
  hidden2 = _layer(hidden1, hidden1_units, hidden2_units, 'hidden2',
                   tf.nn.relu)
  # Linear: the softmax itself is folded into the loss, which is more
  # stable numerically than taking the log of a softmax.
  return _layer(hidden2, hidden2_units, NUM_CLASSES, 'softmax_linear')


def loss(logits, labels):
  """Calculates the loss from the logits and the labels.

  Args:
    logits: logits tensor, float32 [batch, NUM_CLASSES].
    labels: labels tensor, int32 [batch], class ids 0..NUM_CLASSES-1.

  Returns:
    loss: scalar tensor, the mean softmax cross entropy over the batch.
  """
  labels = tf.cast(labels, tf.int64)
  cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=labels, logits=logits, name='xentropy')
  return tf.reduce_mean(cross_entropy, name='xentropy_mean')


def training(loss, learning_rate):
  """Sets up the training Ops.

  Creates a summarizer to track the loss over time in TensorBoard, and a
  gradient descent optimizer whose op also increments `global_step`.

  Args:
    loss: loss tensor, from loss().
    learning_rate: the learning rate to use for gradient descent.

  Returns:
    train_op: the Op for training; run it (with a feed) for one step.
  """
  tf1.summary.scalar('loss', loss)
  optimizer = tf1.train.GradientDescentOptimizer(learning_rate)
  # Counts the training steps; the Saver numbers checkpoints with it.
  global_step = tf.Variable(0, name='global_step', trainable=False)
  return optimizer.minimize(loss, global_step=global_step)


def evaluation(logits, labels):
  """Evaluates the quality of the logits at predicting the label.

  Args:
    logits: logits tensor, float32 [batch, NUM_CLASSES].
    labels: labels tensor, int32 [batch], values in [0, NUM_CLASSES).

  Returns:
    A scalar int32 tensor with the number of examples (out of batch) that
    were predicted correctly (the true label is the top logit).
  """
  correct = tf.math.in_top_k(targets=labels, predictions=logits, k=1)
  return tf.reduce_sum(tf.cast(correct, tf.int32))
