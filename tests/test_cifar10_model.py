"""cifar10: inference shapes and variables, loss, learning rate, train op."""

import numpy as np
import pytest
import tensorflow as tf

from cifar10 import cifar10
from cifar10 import cifar10_cli

tf1 = tf.compat.v1

# (name, shape) of every trainable variable, per the reference's table.
VARIABLES = [
    ('conv1/weights', [5, 5, 3, 64]), ('conv1/biases', [64]),
    ('conv2/weights', [5, 5, 64, 64]), ('conv2/biases', [64]),
    ('local3/weights', [2304, 384]), ('local3/biases', [384]),
    ('local4/weights', [384, 192]), ('local4/biases', [192]),
    ('softmax_linear/weights', [192, 10]), ('softmax_linear/biases', [10]),
]


def _var(name):
  """The variable called name (a resource variable's 'name:0' is a handle)."""
  return [v for v in tf1.global_variables() if v.op.name == name][0]


def _images(batch, seed=0, dtype=np.float32):
  return np.random.RandomState(seed).randn(batch, 24, 24, 3).astype(dtype)


def test_inference_shapes_variables_and_parameter_count():
  with tf.Graph().as_default():
    images = tf1.placeholder(tf.float32, [None, 24, 24, 3])
    logits = cifar10.inference(images)
    assert logits.shape.as_list() == [None, 10]
    got = [(v.op.name, v.shape.as_list()) for v in tf1.trainable_variables()]
    assert got == VARIABLES
    count = sum(int(np.prod(s)) for _, s in VARIABLES)
    assert count == cifar10.NUM_PARAMETERS == 1068298
    for v in tf1.trainable_variables():
      assert v.device.endswith('/device:CPU:0'), v.device
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      # Any batch size works (the last evaluation batch is smaller).
      assert sess.run(logits, {images: _images(3)}).shape == (3, 10)
      biases = sess.run(_var('conv2/biases'))
      weights = sess.run(_var('conv1/weights'))
  np.testing.assert_array_equal(biases, np.float32(0.1))
  # Truncated normal, stddev 5e-2: nothing beyond two standard deviations.
  assert np.abs(weights).max() <= 0.1 and 0.03 < weights.std() < 0.05


def test_inference_layers():
  with tf.Graph().as_default() as g:
    cifar10.inference(tf.constant(_images(2)))

    def shape(name):
      return g.get_tensor_by_name(name + ':0').shape.as_list()

    assert shape('conv1/conv1') == [2, 24, 24, 64]
    assert shape('pool1') == [2, 12, 12, 64]
    assert shape('norm1') == [2, 12, 12, 64]
    assert shape('conv2/conv2') == [2, 12, 12, 64]
    assert shape('pool2') == [2, 6, 6, 64]
    assert shape('local3/local3') == [2, 384]
    assert shape('local4/local4') == [2, 192]
    # Layer 2 normalizes, then pools (the reverse of layer 1). (The LRN's
    # own ops and constants: tests/test_cifar10_lrn.py.)
    assert g.get_operation_by_name('pool2').inputs[0].op.name == 'norm2'
    assert g.get_operation_by_name('conv2/Conv2D').inputs[0].op.name == (
        'norm1')
    assert 'pool1' in [op.name for op in _upstream(
        g.get_operation_by_name('norm1'), 'pool1')]


def _upstream(op, stop):
  """The ops op depends on, up to (and including) those named stop."""
  seen, todo = [], [op]
  while todo:
    op = todo.pop()
    seen.append(op)
    if op.name != stop:
      todo.extend(t.op for t in op.inputs if t.op not in seen)
  return seen


def test_fp16_follows_the_images():
  with tf.Graph().as_default():
    logits = cifar10.inference(tf.constant(_images(2, dtype=np.float16)))
    assert logits.dtype == tf.float16
    assert all(v.dtype.base_dtype == tf.float16
               for v in tf1.trainable_variables())


def _np_loss(logits, labels, weights):
  shifted = logits - logits.max(axis=1, keepdims=True)
  log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
  cross_entropy = -log_softmax[np.arange(len(labels)), labels].mean()
  decay = sum(0.004 * (w ** 2).sum() / 2 for w in weights)
  return cross_entropy, cross_entropy + decay


def test_loss_is_cross_entropy_plus_weight_decay():
  labels = np.array([0, 3, 9, 3, 5], np.int32)
  with tf.Graph().as_default() as g:
    logits = cifar10.inference(tf.constant(_images(5)))
    total = cifar10.loss(logits, tf.constant(labels))
    assert total.op.name == 'total_loss'
    names = sorted(t.op.name for t in tf1.get_collection('losses'))
    assert names == ['cross_entropy', 'local3/weight_loss',
                     'local4/weight_loss']
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      got_logits, got_ce, got_total, w3, w4 = sess.run([
          logits, g.get_tensor_by_name('cross_entropy:0'), total,
          _var('local3/weights'), _var('local4/weights')])
  want_ce, want_total = _np_loss(got_logits.astype(np.float64), labels,
                                 [w3.astype(np.float64), w4.astype(np.float64)])
  assert got_ce == pytest.approx(want_ce, rel=1e-5)
  assert got_total == pytest.approx(want_total, rel=1e-5)


@pytest.mark.parametrize('batch_size,step,want', [
    (128, 0, 0.1), (128, 100000, 0.1), (128, 136717, 0.1),
    (128, 136718, 0.01), (128, 2 * 136718, 0.001), (64, 136718, 0.1),
    (64, 273436, 0.1), (64, 273437, 0.01)])
def test_learning_rate_staircase(batch_size, step, want):
  # decay_steps = int(50000 / batch_size * 350): 136718 at 128, 273437 at 64.
  with tf.Graph().as_default():
    lr = cifar10.learning_rate(tf.constant(step, tf.int64), batch_size)
    with tf1.Session() as sess:
      assert sess.run(lr) == pytest.approx(want)


def test_learning_rate_scaled_by_replicas():
  with tf.Graph().as_default():
    lr = cifar10.learning_rate(tf.constant(68359, tf.int64), 128,
                               num_replicas=2)
    with tf1.Session() as sess:
      assert sess.run(lr) == pytest.approx(0.01)


def test_train_op_steps_averages_and_summaries():
  with tf.Graph().as_default() as g:
    global_step = tf1.train.get_or_create_global_step()
    logits = cifar10.inference(tf.constant(_images(8)))
    total = cifar10.loss(logits, tf.constant(np.arange(8) % 10, tf.int32))
    train_op = cifar10.train(total, global_step, batch_size=8)
    shadow = [v for v in tf1.global_variables()
              if v.op.name == 'conv1/weights/ExponentialMovingAverage']
    assert len(shadow) == 1
    tags = {tf.compat.as_str(tf.get_static_value(op.inputs[0]).item())
            for op in g.get_operations()
            if op.type in ('ScalarSummary', 'HistogramSummary')}
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      before = sess.run(_var('conv1/weights'))
      sess.run(train_op)
      after, averaged, step = sess.run([_var('conv1/weights'), shadow[0],
                                        global_step])
  assert step == 1
  assert not np.allclose(before, after)
  # num_updates=1: decay min(0.9999, 2/11), so the shadow moves most of the
  # way from the initial value towards the new weights.
  decay = 2.0 / 11.0
  np.testing.assert_allclose(averaged, decay * before + (1 - decay) * after,
                             rtol=1e-5, atol=1e-7)
  for name in ['cross_entropy', 'total_loss', 'local3/weight_loss',
               'local4/weight_loss']:
    assert name + ' (raw)' in tags and name in tags
  assert 'learning_rate' in tags
  for layer in ['conv1', 'conv2', 'local3', 'local4', 'softmax_linear']:
    assert layer + '/sparsity' in tags and layer + '/activations' in tags
  for name, _ in VARIABLES:
    assert name in tags and name + '/gradients' in tags


def test_error_line_keeps_a_graph_errors_reason():
  op_error = tf.errors.NotFoundError(
      None, None, 'data_batch_1.bin; No such file\n\t [[{{node ReadFile}}]]')
  assert (cifar10_cli.error_line('cifar10_train', op_error) ==
          'cifar10_train: error: data_batch_1.bin; No such file')
  # As TensorFlow 2 raises it from a session: the reason, not the header
  # nor the traceback of where the op was built.
  with tf.Graph().as_default():
    value = tf.compat.v1.placeholder(tf.float32)
    checked = tf.debugging.check_numerics(value, 'logits')
    with tf.compat.v1.Session() as sess:
      with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        sess.run(checked, {value: float('nan')})
  assert raised.value.message.startswith('Graph execution error')
  assert (cifar10_cli.error_line('cifar10_eval', raised.value) ==
          'cifar10_eval: error: logits : Tensor had NaN values')
  # Other errors are ours and already one line: kept whole.
  assert (cifar10_cli.error_line('cifar10_eval', ValueError('bad: x.bin')) ==
          'cifar10_eval: error: bad: x.bin')
  # A library's message on several lines keeps them all, on one line.
  assert (cifar10_cli.error_line('p', ValueError('cannot:\n- a\n- b\n')) ==
          'p: error: cannot: - a - b')
