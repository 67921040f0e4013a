"""cifar10_eval (its functions, in the evaluation library) and cifar10_train
as library functions, in-process."""

import math
import os
import signal

import numpy as np
import pytest
import tensorflow as tf

from cifar10 import cifar10
from cifar10 import cifar10_eval
from cifar10 import cifar10_input
from cifar10 import cifar10_train
from cifar10 import evaluation
from conftest import save_checkpoint
import testdata

tf1 = tf.compat.v1


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('cifar'))
  testdata.make_cifar10_dir(root, n=40, n_test=100)
  return root


@pytest.fixture(scope='module')
def trained(data_dir, tmp_path_factory):
  train_dir = str(tmp_path_factory.mktemp('train'))
  step = cifar10_train.train(train_dir=train_dir, max_steps=12,
                             data_dir=data_dir, batch_size=16, log_frequency=5)
  assert step == 12
  return train_dir


def _checkpoint_values(path):
  reader = tf1.train.load_checkpoint(path)
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()}


def test_eval_restores_exactly_the_shadow_values(data_dir, trained):
  saved = _checkpoint_values(tf1.train.latest_checkpoint(trained))
  graph = evaluation._EvalGraph('cifar10', False, os.path.join(
      trained, 'eval'), data_dir, 'test', 16, 'dataset')
  with tf1.Session(graph=graph.graph) as sess:
    graph.saver.restore(sess, tf1.train.latest_checkpoint(trained))
    with graph.graph.as_default():
      restored = {v.op.name: sess.run(v) for v in tf1.trainable_variables()}
  assert len(restored) == 10
  for name, value in restored.items():
    shadow = saved[name + '/ExponentialMovingAverage']
    np.testing.assert_array_equal(value, shadow)
    # The raw weights differ from their averages, so this tells them apart.
    assert not np.array_equal(saved[name], shadow) or 'biases' in name


def _predictions(data_dir, checkpoint):
  """Top-1 predictions on all 100 test images in one batch, shadow weights."""
  with tf.Graph().as_default():
    images, labels = cifar10_input.inputs(
        True, os.path.join(data_dir, 'cifar-10-batches-bin'), 100,
        'dataset')  # Needs no queue runners started.
    logits = cifar10.inference(images)
    averages = tf1.train.ExponentialMovingAverage(cifar10.MOVING_AVERAGE_DECAY)
    saver = tf1.train.Saver(averages.variables_to_restore())
    with tf1.Session() as sess:
      saver.restore(sess, checkpoint)
      logits, labels = sess.run([logits, labels])
  return np.argmax(logits, axis=1) == labels


@pytest.mark.parametrize('pipeline', [None, 'queue', 'dataset'])
def test_the_original_eval_recipe_works_with_the_default_pipeline(
    data_dir, trained, pipeline):
  """The original cifar10_eval's code, as course notebooks copy it."""
  more = {'pipeline': pipeline} if pipeline else {}  # None: the default.
  correct = _predictions(data_dir, tf1.train.latest_checkpoint(trained))
  batch_size, num_examples = 32, 100
  num_iter = int(math.ceil(num_examples / batch_size))
  with tf.Graph().as_default():
    images, labels = cifar10.inputs(eval_data=True, data_dir=data_dir,
                                    batch_size=batch_size, **more)
    logits = cifar10.inference(images)
    top_k_op = tf.nn.in_top_k(predictions=logits, targets=labels, k=1)
    variable_averages = tf1.train.ExponentialMovingAverage(
        cifar10.MOVING_AVERAGE_DECAY)
    saver = tf1.train.Saver(variable_averages.variables_to_restore())
    with tf1.Session() as sess:
      saver.restore(sess, tf1.train.latest_checkpoint(trained))
      coord = tf1.train.Coordinator()
      threads = []
      for qr in tf1.get_collection(tf1.GraphKeys.QUEUE_RUNNERS):
        threads.extend(qr.create_threads(sess, coord=coord, daemon=True,
                                         start=True))
      true_count = 0
      for _ in range(num_iter):
        predictions = sess.run([top_k_op])
        true_count += np.sum(predictions)
      coord.request_stop()
      coord.join(threads, stop_grace_period_secs=10)
  precision = true_count / (num_iter * batch_size)
  # 128 examples: the 100, then the first 28 again, as the original did.
  want = (correct.sum() + correct[:28].sum()) / 128.0
  assert precision == pytest.approx(want)


@pytest.mark.parametrize('num_examples', [70, 64, 1])
def test_eval_counts_exactly_num_examples(data_dir, trained, tmp_path,
                                          num_examples):
  hits = _predictions(data_dir, tf1.train.latest_checkpoint(trained))
  (step, precision), = cifar10_eval.evaluate(
      trained, str(tmp_path), data_dir, num_examples=num_examples,
      batch_size=32)
  assert step == 12
  assert precision == pytest.approx(hits[:num_examples].mean())


def test_eval_counts_what_there_is(data_dir, trained, tmp_path, capsys):
  hits = _predictions(data_dir, tf1.train.latest_checkpoint(trained))
  for pipeline in ('dataset', 'queue'):
    (_, precision), = cifar10_eval.evaluate(
        trained, str(tmp_path), data_dir, num_examples=10000, batch_size=32,
        pipeline=pipeline)
    assert precision == pytest.approx(hits.mean())
  assert capsys.readouterr().out.count(
      'Note: the data holds only 100 examples; evaluated all of them.') == 2


def test_eval_rejects_another_model(trained, data_dir, tmp_path):
  with pytest.raises(ValueError, match='holds a cifar10 model, not --model '
                     'vgg16'):
    cifar10_eval.evaluate(trained, str(tmp_path), data_dir, model='vgg16')


def test_describe_checkpoint(trained, tmp_path):
  assert cifar10.describe_checkpoint(trained) == ('cifar10', False)
  with tf.Graph().as_default():
    tf1.get_variable('other', [2])
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      path = tf1.train.Saver().save(sess, str(tmp_path / 'model.ckpt'))
  with pytest.raises(ValueError, match='holds no CIFAR-10 model'):
    cifar10.describe_checkpoint(path)


def test_nan_loss_stops_with_advice_and_keeps_the_last_checkpoint(
    data_dir, tmp_path, monkeypatch):
  # An absurd learning rate makes the loss diverge within a few steps.
  monkeypatch.setattr(cifar10, 'INITIAL_LEARNING_RATE', 1e12)
  train_dir = str(tmp_path)
  handlers = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
  with pytest.raises(ValueError, match='the loss became (NaN|infinite)'):
    cifar10_train.train(train_dir=train_dir, max_steps=200,
                        data_dir=data_dir, batch_size=16)
  # The caller's Ctrl-C handling is back, though the session failed.
  assert [signal.getsignal(s)
          for s in (signal.SIGINT, signal.SIGTERM)] == handlers
  saved = _checkpoint_values(tf1.train.latest_checkpoint(train_dir))
  assert all(np.isfinite(v).all() for v in saved.values()
             if np.issubdtype(np.asarray(v).dtype, np.floating))


@pytest.mark.parametrize('value', [np.nan, np.inf])
def test_diverged_weights_stop_with_one_clear_error(data_dir, trained,
                                                    tmp_path, value):
  # Weights from a run that blew up: local3's averages are NaN or infinite.
  values = _checkpoint_values(tf1.train.latest_checkpoint(trained))
  values['local3/weights/ExponentialMovingAverage'][:] = value
  folder = str(tmp_path / ('diverged_%s' % value))
  path = save_checkpoint(values, folder, 12)
  with pytest.raises(ValueError) as raised:
    cifar10_eval.evaluate(folder, str(tmp_path / 'eval'), data_dir,
                          batch_size=16)
  assert str(raised.value) == (
      '%s holds NaN or infinite weights (local3/weights/'
      'ExponentialMovingAverage): they diverged in training; evaluate an '
      'earlier checkpoint' % path)
