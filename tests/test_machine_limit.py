"""scripts/machine_limit.py and step_profile.py: the FLOPs of a training
step counted from the graph against a hand count, the limit's arithmetic, a
tiny rate measurement, and the profile's rows (the fused LRN's XLA clusters
charged to their layers)."""

import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO

sys.path.append(os.path.join(REPO, 'scripts'))
import machine_limit  # noqa: E402
import step_profile  # noqa: E402

tf1 = tf.compat.v1

# By hand, per example: a SAME convolution of stride 1 is 2 * H * W * kh *
# kw * C_in * C_out; a dense layer 2 * K * M. Each part of a training step
# costs as much as the forward pass; the first layer has no input gradient.
CONV1 = 2 * 24 * 24 * 5 * 5 * 3 * 64  # 5,529,600
CONV2 = 2 * 12 * 12 * 5 * 5 * 64 * 64  # 29,491,200
LOCAL3 = 2 * (6 * 6 * 64) * 384  # 1,769,472
LOCAL4 = 2 * 384 * 192
SOFTMAX = 2 * 192 * 10
HAND = [('conv1', 'forward', 'conv1 forward', CONV1),
        ('conv1', 'filter gradient', 'conv1 filter gradient', CONV1)]
HAND += [('conv2', part, 'conv2 ' + part, CONV2)
         for part in ('forward', 'input gradient', 'filter gradient')]
HAND += [(layer, part, machine_limit.MATMUL, flops)
         for layer, flops in (('local3', LOCAL3), ('local4', LOCAL4),
                              ('softmax_linear', SOFTMAX))
         for part in ('forward', 'input gradient', 'weight gradient')]


def test_model_flops_are_the_hand_count():
  parts = machine_limit.model_parts()
  assert [(p.layer, p.part, p.kind, p.flops) for p in parts] == HAND
  total = sum(p.flops for p in parts)
  assert total == 2 * CONV1 + 3 * (CONV2 + LOCAL3 + LOCAL4 + SOFTMAX)
  assert total == 105295104  # The "about 105 MFLOP per example".
  conv2 = parts[2]
  assert conv2.input_shape == [12, 12, 64] and conv2.filter_shape == [
      5, 5, 64, 64]


def test_a_graph_is_counted_from_its_shapes():
  with tf.Graph().as_default() as g:
    x = tf1.placeholder(tf.float32, [None, 4, 5, 2])
    with tf1.variable_scope('first'):
      y = tf.nn.conv2d(x, tf.ones([3, 3, 2, 7]), 1, 'SAME')
    with tf1.variable_scope('dense'):
      tf.matmul(tf.reshape(y, [-1, 140]), tf.ones([140, 3]))
    parts = machine_limit.graph_parts(g)
  assert [(p.layer, p.part, p.flops) for p in parts] == [
      ('first', 'forward', 2 * 4 * 5 * 3 * 3 * 2 * 7),
      ('first', 'filter gradient', 2 * 4 * 5 * 3 * 3 * 2 * 7),
      ('dense', 'forward', 2 * 140 * 3),
      ('dense', 'input gradient', 2 * 140 * 3),
      ('dense', 'weight gradient', 2 * 140 * 3)]
  with tf.Graph().as_default() as g:
    tf.nn.conv2d(tf1.placeholder(tf.float32, [1, 8, 8, 1]),
                 tf.ones([3, 3, 1, 1]), 2, 'VALID')
    with pytest.raises(ValueError, match='SAME convolutions of stride 1'):
      machine_limit.graph_parts(g)


def test_the_limit_is_the_arithmetic_time_inverted():
  parts = machine_limit.model_parts()
  rates = {kind: 100.0 for kind in {p.kind for p in parts}}
  rates['conv1 forward'] = 25.0  # GFLOP/s
  seconds = (105295104 - CONV1) / 100e9 + CONV1 / 25e9
  assert machine_limit.machine_limit(parts, rates) == pytest.approx(
      1 / seconds)
  table = machine_limit.parts_table(parts, rates)
  assert '| conv2 | 88.47 | 84.0% |' in table
  assert '| all | 105.30 |' in table


def test_rates_measured_on_small_shapes():
  parts = machine_limit.model_parts()
  cases = machine_limit.rate_cases(parts, batch_size=128)
  assert [c.kind for c in cases] == [machine_limit.MATMUL] + [
      p.kind for p in parts[:5]]
  assert cases[0].flops == 2 * 2048 ** 3
  assert cases[3].input_shape == [128, 12, 12, 64]
  assert cases[3].flops == 128 * CONV2
  # The same cases, tiny: every kind of op runs and gets a rate.
  small = [p._replace(input_shape=[6, 6, 3] if p.layer == 'conv1' else
                      [3, 3, 4], filter_shape=[3, 3, 3, 4] if p.layer ==
                      'conv1' else [3, 3, 4, 4]) for p in parts]
  cases = machine_limit.rate_cases(small, batch_size=2, matmul_size=16)
  rates = machine_limit.measure_rates(cases, warmup=1, rounds=2,
                                      iterations=1)
  assert sorted(rates) == sorted(c.kind for c in cases)
  assert all(np.isfinite(r) and r > 0 for r in rates.values()), rates
  assert '| conv2 filter gradient |' in machine_limit.rates_table(rates)


def test_the_cases_compute_what_they_are_named():
  # The gradients timed are those tf.gradients takes of the convolution (a
  # case's variables come from its seed: x, then the kernel, then dy).
  case = machine_limit.Case('c', 0, 'forward', [2, 5, 5, 3], [3, 3, 3, 4])
  dy = np.random.RandomState(2).randn(2, 5, 5, 4).astype(np.float32)
  with tf.Graph().as_default():
    ops = {}
    for part in machine_limit.PARTS:
      with tf1.variable_scope(part.replace(' ', '_')):
        ops[part] = machine_limit._case_op(case._replace(part=part), 0)
    x, kernel = tf1.global_variables()[:2]  # The forward case's.
    want = tf.gradients(ops['forward'], [x, kernel], dy)
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      got = sess.run([ops['input gradient'], ops['filter gradient']])
      want = sess.run(want)
  assert ops['forward'].shape.as_list() == [2, 5, 5, 4]
  for g, w in zip(got, want, strict=True):
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('name, row', [
    ('conv1/conv1', 'conv1 fwd'), ('conv2/Conv2D', 'conv2 fwd'),
    ('gradients/conv2/Conv2D_grad/Conv2DBackpropFilter', 'conv2 grad'),
    ('tower_1/gradients/pool1_grad/MaxPoolGrad', 'pool1 grad'),
    ('gradients/norm1/IdentityN_grad/mul', 'norm1 grad'),
    ('norm2', 'norm2 fwd'), ('norm2/Pad', 'norm2 fwd'),
    ('local3/L2Loss', 'weight decay'),
    ('ExponentialMovingAverage/AssignMovingAvg', 'moving averages of the '
     'weights'),
    ('avg/AssignMovingAvg', 'moving averages of the losses'),
    ('GradientDescent/update_conv1/weights/ResourceApplyGradientDescent',
     'SGD update'),
    ('cross_entropy', 'loss'), ('_SOURCE', 'other')])
def test_profile_rows(name, row):
  assert step_profile.group_of(name) == row


def test_profile_of_a_small_step():
  profile = step_profile.profile_step(batch_size=8, steps=2, warmup=2)
  groups = profile['groups']
  for layer in ('conv1', 'conv2', 'local3', 'norm1', 'norm2'):
    assert layer + ' fwd' in groups and layer + ' grad' in groups, groups
  # The fused LRN's clusters are charged to their layers.
  assert 'XLA clusters' not in groups
  assert all(ms >= 0 for ms in groups.values())
  assert profile['wall_ms'] > 0 and profile['summaries_every'] == 100
  table = step_profile.profile_table(profile)
  assert '| norm1 grad |' in table and 'summaries, on a step' in table
