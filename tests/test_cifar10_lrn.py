"""cifar10_layers.lrn: the XLA-fused LRN and tf.nn.lrn, against NumPy.

The reference is written here in float64 with a loop over channels (no
shifted slices, unlike the code under test), and its gradient in closed
form, itself checked by finite differences. Both ways of computing the
layer (fused where XLA is available and no GPU is in use, else tf.nn.lrn)
must match it within float32 rounding, match each other (in float16 too),
build graphs whose checkpoints are interchangeable, and stay as close to
float32 under --mixed_precision's bfloat16 rewrite.
"""

import numpy as np
import pytest
import tensorflow as tf

from cifar10 import cifar10
from cifar10 import cifar10_layers
from cifar10 import mixed_precision

tf1 = tf.compat.v1

R, BIAS, ALPHA, BETA = 4, 1.0, 0.001 / 9.0, 0.75  # The tutorial's LRN.
# Float32's relative rounding unit. Both ways are off by 1-2.5 units of the
# largest value here (the sums and the power are each rounded); 8 leaves
# room for other CPUs' square roots.
EPS32 = np.finfo(np.float32).eps
ULPS = 8


def _np_scale(x):
  """bias + alpha * sum of x^2 over the channel window, float64."""
  depth = x.shape[-1]
  scale = np.empty_like(x)
  for c in range(depth):
    lo, hi = max(0, c - R), min(depth, c + R + 1)
    scale[..., c] = BIAS + ALPHA * np.square(x[..., lo:hi]).sum(axis=-1)
  return scale


def np_lrn(x):
  """LRN's forward pass in float64."""
  x = x.astype(np.float64)
  return x * _np_scale(x) ** -BETA


def np_lrn_gradient(x, dy):
  """d(sum(dy * lrn(x)))/dx in float64, by the closed form.

  y_c = x_c s_c^-b with s_c = k + a sum_{j in W(c)} x_j^2, so
  dy_c/dx_i = [i == c] s_c^-b - 2 a b x_c x_i s_c^(-b-1) [i in W(c)], and
  as i in W(c) exactly when c in W(i):
  dx_i = dy_i s_i^-b - 2 a b x_i sum_{c in W(i)} dy_c y_c / s_c.
  """
  x = x.astype(np.float64)
  dy = dy.astype(np.float64)
  scale = _np_scale(x)
  y = x * scale ** -BETA
  u = dy * y / scale
  depth = x.shape[-1]
  window = np.empty_like(x)
  for i in range(depth):
    window[..., i] = u[..., max(0, i - R):min(depth, i + R + 1)].sum(axis=-1)
  return dy * scale ** -BETA - 2 * ALPHA * BETA * x * window


def _inputs(shape, seed=0, dtype=np.float32):
  # ReLU'd values of tens, as after pool1 and conv2: alpha * sum of squares
  # is then of the order of the bias, so both terms of the gradient count.
  rng = np.random.RandomState(seed)
  x = np.maximum(rng.randn(*shape) * 30, 0).astype(dtype)
  return x, rng.randn(*shape).astype(dtype)


def _run_lrn(x_value, dy_value, use_xla=True, monkeypatch=None):
  """(y, dx, op types the session ran) of cifar10_layers.lrn.

  Fed through placeholders: grappler would fold constant inputs with
  TensorFlow's own kernels, never running the XLA clusters under test.
  """
  if not use_xla:
    monkeypatch.setattr(cifar10_layers, 'xla_available', lambda: False)
  with tf.Graph().as_default():
    x = tf1.placeholder(x_value.dtype, x_value.shape)
    dy = tf1.placeholder(dy_value.dtype, dy_value.shape)
    y = cifar10_layers.lrn(x, 'norm')
    dx, = tf.gradients(y, x, dy)
    assert y.op.name == 'norm'
    metadata = tf1.RunMetadata()
    with tf1.Session() as sess:
      y_value, dx_value = sess.run(
          [y, dx], {x: x_value, dy: dy_value}, run_metadata=metadata,
          options=tf1.RunOptions(output_partition_graphs=True))
  ran = [node.op for graph in metadata.partition_graphs for node in graph.node]
  return y_value, dx_value, ran


def test_reference_gradient_is_the_finite_difference():
  x, dy = _inputs([1, 2, 2, 12], seed=1)
  x = x.astype(np.float64) + 1.0  # Away from ReLU's zeros: smooth there.
  want = np_lrn_gradient(x, dy)
  got = np.zeros_like(x)
  h = 1e-5
  for index in np.ndindex(*x.shape):
    step = np.zeros_like(x)
    step[index] = h
    got[index] = ((np_lrn(x + step) - np_lrn(x - step)) * dy).sum() / (2 * h)
  np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
  # Both terms matter at these values (else the test would not see one).
  assert np.abs(want - dy * _np_scale(x) ** -BETA).max() > 0.1 * np.abs(
      want).max()


@pytest.mark.parametrize('use_xla', [True, False], ids=['fused', 'tf.nn.lrn'])
def test_lrn_is_the_float64_reference_within_float32_rounding(use_xla,
                                                               monkeypatch):
  x, dy = _inputs([4, 6, 6, 64])
  y, dx, ran = _run_lrn(x, dy, use_xla, monkeypatch)
  # Fused: one XLA cluster forward, one for the gradient, no LRN op.
  assert ran.count('_XlaRun') == (2 if use_xla else 0), sorted(ran)
  assert ('LRN' in ran) != use_xla, sorted(ran)
  want_y, want_dx = np_lrn(x), np_lrn_gradient(x, dy)
  np.testing.assert_allclose(y, want_y, rtol=ULPS * EPS32,
                             atol=ULPS * EPS32 * np.abs(want_y).max())
  np.testing.assert_allclose(dx, want_dx, rtol=0,
                             atol=ULPS * EPS32 * np.abs(want_dx).max())


@pytest.mark.parametrize('dtype, tolerance', [(np.float32, 4 * EPS32),
                                              (np.float16, 4e-3)])
def test_fused_lrn_equals_tf_nn_lrn(dtype, tolerance, monkeypatch):
  # Float16 too (--use_fp16): both ways compute in float16 there.
  x, dy = _inputs([4, 6, 6, 64], seed=2, dtype=dtype)
  y, dx, _ = _run_lrn(x, dy)
  want_y, want_dx, _ = _run_lrn(x, dy, False, monkeypatch)
  assert y.dtype == dx.dtype == dtype
  np.testing.assert_allclose(y, want_y, rtol=0,
                             atol=tolerance * np.abs(want_y).max())
  np.testing.assert_allclose(dx, want_dx, rtol=0,
                             atol=tolerance * np.abs(want_dx).max())


def test_the_choice_follows_xla_and_the_device(monkeypatch):
  with tf.Graph().as_default():
    x = tf.zeros([1, 2, 2, 8])
    with tf.device('/gpu:0'):
      on_gpu = tf.zeros([1, 2, 2, 8])
    with tf.device('/cpu:0'):
      on_cpu = tf.zeros([1, 2, 2, 8])
    monkeypatch.setattr(cifar10_layers, '_gpu_visible', lambda: False)
    assert cifar10_layers.xla_available()  # This build has XLA.
    assert cifar10_layers.fused_lrn_wanted(x)
    assert cifar10_layers.fused_lrn_wanted(on_cpu)
    # On a GPU, tf.nn.lrn is cuDNN's: placed there, or unplaced with a GPU.
    assert not cifar10_layers.fused_lrn_wanted(on_gpu)
    monkeypatch.setattr(cifar10_layers, '_gpu_visible', lambda: True)
    assert not cifar10_layers.fused_lrn_wanted(x)
    assert cifar10_layers.fused_lrn_wanted(on_cpu)
    monkeypatch.setattr(cifar10_layers, 'xla_available', lambda: False)
    assert not cifar10_layers.fused_lrn_wanted(on_cpu)
    # Without XLA the graph is the original's: tf.nn.lrn's op, its constants.
    op = cifar10_layers.lrn(on_cpu, 'norm1').op
    assert (op.type, op.name) == ('LRN', 'norm1')
    assert op.get_attr('depth_radius') == 4
    assert op.get_attr('bias') == pytest.approx(1.0)
    assert op.get_attr('alpha') == pytest.approx(0.001 / 9.0)
    assert op.get_attr('beta') == pytest.approx(0.75)


def _logits(images, path, save):
  """The model's logits for images, its weights saved to or restored from
  path; the graph's variables; whether its norm2 is tf.nn.lrn's op."""
  with tf.Graph().as_default() as g:
    feed = tf1.placeholder(tf.float32, images.shape)  # Not folded (_run_lrn).
    logits = cifar10.inference(feed, 'cifar10', False)
    variables = [(v.op.name, v.shape.as_list(), v.dtype.base_dtype.name)
                 for v in tf1.global_variables()]
    with tf1.Session() as sess:
      if save:
        sess.run(tf1.global_variables_initializer())
        tf1.train.Saver().save(sess, path)
      else:
        tf1.train.Saver().restore(sess, path)
      return (sess.run(logits, {feed: images}), variables,
              g.get_operation_by_name('norm2').type == 'LRN')


def test_checkpoint_of_the_tf_nn_lrn_graph_restores_in_the_fused_one(
    tmp_path, monkeypatch):
  images = np.random.RandomState(3).rand(16, 24, 24, 3).astype(np.float32) * 4
  path = str(tmp_path / 'model.ckpt')
  with monkeypatch.context() as patch:
    patch.setattr(cifar10_layers, 'xla_available', lambda: False)
    want, old_variables, old_is_lrn = _logits(images, path, save=True)
  got, variables, is_lrn = _logits(images, path, save=False)
  assert old_is_lrn and not is_lrn
  # LRN has no variables: the two graphs hold the same ones.
  assert variables == old_variables and len(variables) == 10
  np.testing.assert_allclose(got, want, rtol=0,
                             atol=1e-5 * np.abs(want).max())


def _loss_and_gradients(images, labels, weights, config, mode='float32'):
  """The model's loss and gradients at weights, in a session of config,
  the graph built for mode's arithmetic."""
  with tf.Graph().as_default() as graph:
    # Seeded weights: with fresh ones each run, bfloat16's flips of units
    # across ReLU's zero made a gradient's error 1.2x the rewrite's (0.09
    # against 0.075) in about one run of sixteen.
    tf1.set_random_seed(4)
    feed = tf1.placeholder(tf.float32, images.shape)
    loss = cifar10.loss(cifar10.inference(
        mixed_precision.model_images(feed, mode), 'cifar10', False),
                        tf.constant(labels))
    # The float types the LRN's own ops (not the casts around it) compute.
    _loss_and_gradients.lrn_dtypes = {
        t.dtype for op in graph.get_operations()
        if op.name.startswith(('norm1/float32/', 'norm2/float32/'))
        for t in op.outputs if t.dtype.is_floating}
    variables = tf1.trainable_variables()
    gradients = tf.gradients(loss, variables)
    with tf1.Session(config=config) as sess:
      sess.run(tf1.global_variables_initializer())
      if weights is not None:
        for v, value in zip(variables, weights, strict=True):
          v.load(value, sess)
      return sess.run([loss, gradients, variables], {feed: images})


def test_bfloat16_graph_runs_the_lrn_in_float32_and_stays_close():
  # --mixed_precision on a bfloat16 CPU writes bfloat16 into the graph
  # (mixed_precision.model_images) with the LRN in float32 between casts,
  # where oneDNN's rewrite took the fused LRN into slow bfloat16 too. A step
  # must be no further from float32 arithmetic than the rewrite's was.
  if not mixed_precision.cpu_has_bfloat16():
    pytest.skip('no bfloat16 arithmetic on this CPU: no bfloat16 graph')
  rng = np.random.RandomState(4)
  images = rng.randn(32, 24, 24, 3).astype(np.float32)
  labels = rng.randint(0, 10, 32).astype(np.int32)
  _, exact, weights = _loss_and_gradients(images, labels, None, None)
  _, written, _ = _loss_and_gradients(
      images, labels, weights, mixed_precision.session_config('bfloat16'),
      'bfloat16')
  assert _loss_and_gradients.lrn_dtypes == {tf.float32}
  _, rewritten, _ = _loss_and_gradients(
      images, labels, weights,
      mixed_precision.session_config('bfloat16', written=False))
  for want, got, theirs in zip(exact, written, rewritten, strict=True):
    scale = np.abs(want).max()
    error = np.abs(got - want).max() / scale
    assert 0 < error <= 1.2 * np.abs(theirs - want).max() / scale + 1e-3
