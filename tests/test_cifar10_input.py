"""cifar10_input: the reader, file checks, preprocessing and both pipelines.

Numbers are checked against NumPy on hand-built files in the exact format.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from cifar10 import cifar10_input
import testdata

tf1 = tf.compat.v1


def _np_standardize(images):
  """tf.image.per_image_standardization in NumPy, for [n, h, w, c]."""
  images = images.astype(np.float64)
  n = images[0].size
  mean = images.mean(axis=(1, 2, 3), keepdims=True)
  std = images.std(axis=(1, 2, 3), keepdims=True)
  return (images - mean) / np.maximum(std, 1.0 / np.sqrt(n))


def _run_all(tensors, num_batches=None, queue=False):
  """Runs tensors batch after batch until OutOfRange (or num_batches)."""
  out = []
  with tf1.Session() as sess:
    sess.run(tf1.local_variables_initializer())
    coord = tf1.train.Coordinator()
    threads = tf1.train.start_queue_runners(sess=sess, coord=coord)
    try:
      while num_batches is None or len(out) < num_batches:
        out.append(sess.run(tensors))
    except tf.errors.OutOfRangeError:
      pass
    finally:
      coord.request_stop()
      coord.join(threads)
  return out


@pytest.fixture
def data(tmp_path):
  return testdata.make_cifar10_dir(str(tmp_path), n=20, n_test=70)


def test_read_cifar10_exact_pixels_labels_and_keys(tmp_path):
  rng = np.random.RandomState(1)
  labels = np.array([3, 0, 9], np.uint8)
  images = rng.randint(0, 256, size=(3, 32, 32, 3)).astype(np.uint8)
  path = testdata.write_cifar10_bin(str(tmp_path / 'a.bin'), labels, images)
  with tf.Graph().as_default():
    queue = tf1.train.string_input_producer([path], shuffle=False,
                                            num_epochs=1)
    record = cifar10_input.read_cifar10(queue)
    assert (record.height, record.width, record.depth) == (32, 32, 3)
    assert record.label.shape.as_list() == [1]
    assert record.label.dtype == tf.int32
    assert record.uint8image.shape.as_list() == [32, 32, 3]
    got = _run_all([record.key, record.label, record.uint8image])
  assert len(got) == 3
  for i, (key, label, image) in enumerate(got):
    assert key.decode() == '%s:%d' % (path, i)
    assert label.tolist() == [labels[i]]
    np.testing.assert_array_equal(image, images[i])


def test_record_layout_is_depth_major():
  # Red plane first: a record whose red bytes are 1, green 2, blue 3.
  record = bytes([7]) + b'\1' * 1024 + b'\2' * 1024 + b'\3' * 1024
  with tf.Graph().as_default():
    labels, images = cifar10_input._decode(tf.constant([record]))
    with tf1.Session() as sess:
      labels, images = sess.run([labels, images])
  assert labels.tolist() == [7]
  assert (images[0, :, :, 0] == 1).all() and (images[0, :, :, 2] == 3).all()


def test_check_files_counts_records(data):
  files = cifar10_input.train_filenames(data['dir'])
  assert cifar10_input.check_files(files) == 100


def test_check_files_missing(tmp_path):
  path = str(tmp_path / 'data_batch_1.bin')
  with pytest.raises(ValueError, match='Failed to find file: ' + path):
    cifar10_input.check_files([path])


def test_check_files_size_not_a_multiple(data):
  path = os.path.join(data['dir'], 'data_batch_2.bin')
  with open(path, 'ab') as f:
    f.write(b'\0' * 100)
  with pytest.raises(ValueError, match='data_batch_2.bin: 61560 bytes is not '
                     'a whole number of 3073-byte records'):
    cifar10_input.check_files(cifar10_input.train_filenames(data['dir']))


def test_check_files_label_out_of_range(data):
  path = os.path.join(data['dir'], 'test_batch.bin')
  raw = bytearray(open(path, 'rb').read())
  raw[5 * 3073] = 10
  open(path, 'wb').write(bytes(raw))
  with pytest.raises(ValueError, match='test_batch.bin: record 5 has label '
                     '10, outside 0..9'):
    cifar10_input.check_files([path])


def test_inputs_missing_training_file_raises(data):
  os.remove(os.path.join(data['dir'], 'data_batch_4.bin'))
  with tf.Graph().as_default(), pytest.raises(ValueError,
                                              match='data_batch_4.bin'):
    cifar10_input.distorted_inputs(data['dir'], 8)


def test_crop_images_matches_numpy():
  rng = np.random.RandomState(2)
  images = rng.randint(0, 256, size=(5, 32, 32, 3)).astype(np.uint8)
  images[1] = 17  # a flat image: std 0, the 1/sqrt(N) floor applies
  with tf.Graph().as_default(), tf1.Session() as sess:
    got = sess.run(cifar10_input.crop_images(tf.constant(images)))
  want = _np_standardize(images[:, 4:28, 4:28, :])
  assert got.shape == (5, 24, 24, 3) and got.dtype == np.float32
  np.testing.assert_allclose(got, want, atol=1e-5)


def _explain(out, candidates):
  """Finds a crop/flip of a candidate image that `out` is an affine map of.

  After brightness (which standardization cancels), contrast f and
  standardization, out = ((crop - m_c) * f + (m_c - mean(m))) / s for the
  crop's channel means m_c. Returns (f, index, top, left, flip) for the
  exact fit, or None.
  """
  for index, image in enumerate(candidates):
    image = image.astype(np.float64)
    for top in range(9):
      for left in range(9):
        crop = image[top:top + 24, left:left + 24]
        for flip in (False, True):
          c = crop[:, ::-1] if flip else crop
          m = c.mean(axis=(0, 1))
          a = (c - m).ravel()
          b = np.broadcast_to(m - m.mean(), c.shape).ravel()
          design = np.stack([a, b], axis=1)
          (p, q), *_ = np.linalg.lstsq(design, out.ravel(), rcond=None)
          if np.abs(design @ [p, q] - out.ravel()).max() < 1e-3 and q > 0:
            return p / q, index, top, left, flip
  return None


@pytest.mark.parametrize('pipeline', ['dataset', 'queue'])
def test_distorted_inputs_are_distorted_records_with_their_labels(
    data, pipeline, capsys):
  with tf.Graph().as_default():
    images, labels = cifar10_input.distorted_inputs(data['dir'], 16, pipeline)
    assert images.shape.as_list() == [16, 24, 24, 3]
    assert labels.shape.as_list() == [16] and labels.dtype == tf.int32
    batches = _run_all([images, labels], num_batches=2)
  out = capsys.readouterr().out
  if pipeline == 'queue':
    assert ('Filling queue with 40 CIFAR images before starting to train. '
            'This will take a few minutes.') in out
  train_labels, train_images = data['train']
  seen = []
  for batch_images, batch_labels in batches:
    for image, label in zip(batch_images, batch_labels, strict=True):
      assert abs(image.mean()) < 1e-4 and abs(image.std() - 1) < 1e-3
      candidates = train_images[train_labels == label]
      found = _explain(image, candidates)
      assert found is not None, 'not a distortion of a record with its label'
      factor, _, top, left, flip = found
      assert 0.2 - 1e-3 <= factor <= 1.8 + 1e-3
      seen.append((top, left, flip))
  # Each image draws its own crop and flip (not one per batch).
  assert len(set(seen)) > 10


def test_distort_images_per_image_randomness():
  images = np.tile(np.arange(32 * 32 * 3, dtype=np.uint8).reshape(
      1, 32, 32, 3), [64, 1, 1, 1])
  with tf.Graph().as_default(), tf1.Session() as sess:
    out = sess.run(cifar10_input.distort_images(tf.constant(images)))
  assert out.shape == (64, 24, 24, 3)
  # Identical inputs, different outputs: offsets, flips and contrast differ.
  assert len({o.tobytes() for o in out}) > 32


@pytest.mark.parametrize('eval_data,count', [(True, 70), (False, 100)])
def test_inputs_yield_each_example_once_in_order_both_pipelines(
    data, eval_data, count):
  results = {}
  for pipeline in ('dataset', 'queue'):
    with tf.Graph().as_default():
      images, labels = cifar10_input.inputs(eval_data, data['dir'], 32,
                                            pipeline, num_epochs=1)
      batches = _run_all([images, labels])
    sizes = [len(b[1]) for b in batches]
    assert sizes == [32] * (count // 32) + [count % 32]
    results[pipeline] = (np.concatenate([b[0] for b in batches]),
                         np.concatenate([b[1] for b in batches]))
  want_labels, want_images = data['test'] if eval_data else data['train']
  for images, labels in results.values():
    np.testing.assert_array_equal(labels, want_labels)
    np.testing.assert_allclose(
        images, _np_standardize(want_images[:, 4:28, 4:28]), atol=1e-5)


@pytest.mark.parametrize('pipeline', ['dataset', 'queue'])
def test_inputs_by_default_come_round_in_full_batches(data, pipeline):
  # As the original's: endless, in file order, every batch full, and the
  # queue version needs no local variables initialized.
  with tf.Graph().as_default():
    images, labels = cifar10_input.inputs(True, data['dir'], 32, pipeline)
    with tf1.Session() as sess:
      coord = tf1.train.Coordinator()
      threads = tf1.train.start_queue_runners(sess=sess, coord=coord)
      got = [sess.run(labels) for _ in range(5)]
      coord.request_stop()
      coord.join(threads)
  assert [len(b) for b in got] == [32] * 5
  want = np.concatenate([data['test'][0]] * 3)[:160]
  np.testing.assert_array_equal(np.concatenate(got), want)


def test_unknown_pipeline(data):
  with tf.Graph().as_default(), pytest.raises(ValueError, match='pipeline'):
    cifar10_input.inputs(True, data['dir'], 8, 'pipes')


def test_min_queue_examples():
  assert cifar10_input.min_queue_examples(50000) == 20000
  assert cifar10_input.min_queue_examples(60000) == 20000
  assert cifar10_input.min_queue_examples(100) == 40
  assert cifar10_input.min_queue_examples(1) == 1
