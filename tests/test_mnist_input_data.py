"""mnist.input_data: the idx parser, DataSet batches and the three splits."""

import gzip
import io
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import testdata
from conftest import REPO, program_env
from mnist import input_data


def _images(n, rows=3, cols=2, seed=0):
  return np.random.RandomState(seed).randint(
      0, 256, size=(n, rows, cols)).astype(np.uint8)


def _open(path):
  return open(path, 'rb')


# --- The idx parser ----------------------------------------------------------

@pytest.mark.parametrize('gz', [True, False])
def test_extract_images_exact_pixels(tmp_path, gz):
  images = _images(5, rows=4, cols=3)
  path = testdata.write_idx_images(str(tmp_path / 'img'), images, gz=gz)
  with _open(path) as f:
    got = input_data.extract_images(f)
  assert got.dtype == np.uint8 and got.shape == (5, 4, 3, 1)
  np.testing.assert_array_equal(got[..., 0], images)


@pytest.mark.parametrize('gz', [True, False])
def test_extract_labels_dense_and_one_hot(tmp_path, gz):
  labels = np.array([3, 0, 9, 1, 1], np.uint8)
  path = testdata.write_idx_labels(str(tmp_path / 'lab'), labels, gz=gz)
  with _open(path) as f:
    dense = input_data.extract_labels(f)
  assert dense.dtype == np.uint8
  np.testing.assert_array_equal(dense, labels)
  with _open(path) as f:
    one_hot = input_data.extract_labels(f, one_hot=True)
  assert one_hot.shape == (5, 10)
  np.testing.assert_array_equal(one_hot, np.eye(10)[labels])


def test_extract_prints_file_name(tmp_path, capsys):
  path = testdata.write_idx_labels(str(tmp_path / 'lab.gz'), [1, 2])
  with _open(path) as f:
    input_data.extract_labels(f)
  assert capsys.readouterr().out == 'Extracting %s\n' % path


def test_extract_from_a_gzip_file_object(tmp_path):
  # The original handed the parser an open GzipFile; that still works.
  images = _images(2)
  path = testdata.write_idx_images(str(tmp_path / 'img.gz'), images)
  with gzip.open(path, 'rb') as f:
    np.testing.assert_array_equal(input_data.extract_images(f)[..., 0],
                                  images)


def test_bad_magic_names_the_file(tmp_path):
  path = testdata.write_idx_images(str(tmp_path / 'img.gz'), _images(2),
                                   magic=2049)
  with _open(path) as f, pytest.raises(ValueError) as e:
    input_data.extract_images(f)
  assert str(e.value) == ('Invalid magic number 2049 in MNIST image file: %s'
                          % path)
  path = testdata.write_idx_labels(str(tmp_path / 'lab.gz'), [1], magic=2051)
  with _open(path) as f, pytest.raises(ValueError,
                                       match='Invalid magic number 2051'):
    input_data.extract_labels(f)


@pytest.mark.parametrize('gz', [True, False])
def test_truncated_data_names_the_file(tmp_path, gz):
  path = str(tmp_path / 'img')
  testdata.write_idx_images(path, _images(4), gz=False)
  raw = open(path, 'rb').read()[:-5]
  with open(path, 'wb') as f:
    f.write(gzip.compress(raw) if gz else raw)
  with _open(path) as f, pytest.raises(ValueError) as e:
    input_data.extract_images(f)
  assert path in str(e.value) and 'truncated' in str(e.value)


def test_truncated_header_and_gzip_stream(tmp_path):
  path = str(tmp_path / 'lab')
  with open(path, 'wb') as f:
    f.write(struct.pack('>I', 2049) + b'\0')  # 5 of the 8 header bytes.
  with _open(path) as f, pytest.raises(ValueError, match='truncated') as e:
    input_data.extract_labels(f)
  assert path in str(e.value)
  # A download cut short: the gzip stream itself ends early.
  gz = gzip.compress(struct.pack('>II', 2049, 100) + bytes(100))
  with open(path, 'wb') as f:
    f.write(gz[:len(gz) // 2])
  with _open(path) as f, pytest.raises(ValueError, match='gzip') as e:
    input_data.extract_labels(f)
  assert path in str(e.value)


def test_count_disagreeing_with_length_names_the_file(tmp_path):
  # The header claims fewer images than the file holds.
  path = testdata.write_idx_images(str(tmp_path / 'img.gz'), _images(4),
                                   count=3)
  with _open(path) as f, pytest.raises(ValueError) as e:
    input_data.extract_images(f)
  assert path in str(e.value) and 'header' in str(e.value)
  # And more labels than there are.
  path = testdata.write_idx_labels(str(tmp_path / 'lab.gz'), [1, 2], count=5)
  with _open(path) as f, pytest.raises(ValueError, match='truncated') as e:
    input_data.extract_labels(f)
  assert path in str(e.value)


def test_label_out_of_range(tmp_path):
  path = testdata.write_idx_labels(str(tmp_path / 'lab.gz'), [1, 10])
  with _open(path) as f, pytest.raises(ValueError, match='label 10') as e:
    input_data.extract_labels(f)
  assert path in str(e.value)


def test_stream_without_name():
  data = struct.pack('>II', 2049, 2) + bytes([4, 5])
  np.testing.assert_array_equal(
      input_data.extract_labels(io.BytesIO(data)), [4, 5])


# --- DataSet -----------------------------------------------------------------

def _dataset(n, **kwargs):
  images = np.arange(n * 4, dtype=np.uint8).reshape(n, 2, 2, 1)
  labels = (np.arange(n) % 10).astype(np.uint8)
  return input_data.DataSet(images, labels, **kwargs)


def _ids(ds, images):
  """Example ids of a float32 batch of _dataset images (first pixel / 4)."""
  return np.round(images[:, 0] * 255 / 4).astype(int)


@pytest.mark.parametrize('batch_size', [10, 7, 3, 30])
def test_next_batch_every_example_once_per_epoch(batch_size):
  n = 30
  ds = _dataset(n, seed=1)
  seen = []
  for _ in range(4 * n // batch_size + 1):
    images, labels = ds.next_batch(batch_size)
    assert images.shape == (batch_size, 4) and labels.shape == (batch_size,)
    ids = _ids(ds, images)
    np.testing.assert_array_equal(labels, ids % 10)  # Pairs stay together.
    seen.extend(ids)
  for epoch in range(4):
    assert sorted(seen[epoch * n:(epoch + 1) * n]) == list(range(n))
  # Shuffled, and differently in each epoch.
  assert seen[:n] != list(range(n)) and seen[:n] != seen[n:2 * n]


def test_epoch_boundary_joins_tail_and_head():
  ds = _dataset(10, seed=3)
  first = _ids(ds, ds.next_batch(7)[0])
  assert ds.epochs_completed == 0
  crossing = _ids(ds, ds.next_batch(7)[0])
  assert ds.epochs_completed == 1
  tail, head = crossing[:3], crossing[3:]
  # The tail completes epoch 1; the head starts a new permutation.
  assert sorted(np.concatenate([first, tail])) == list(range(10))
  rest = _ids(ds, ds.next_batch(6)[0])
  assert sorted(np.concatenate([head, rest])) == list(range(10))


def test_epochs_completed_counts_when_next_epoch_starts():
  ds = _dataset(10)
  ds.next_batch(10)
  assert ds.epochs_completed == 0  # As the original: counted lazily.
  ds.next_batch(1)
  assert ds.epochs_completed == 1


def test_no_shuffle_keeps_file_order():
  ds = _dataset(5)
  ids = [_ids(ds, ds.next_batch(3, shuffle=False)[0]) for _ in range(3)]
  np.testing.assert_array_equal(np.concatenate(ids),
                                [0, 1, 2, 3, 4, 0, 1, 2, 3])


def test_seed_repeats_and_global_random_state_untouched():
  np.random.seed(1234)
  before = np.random.get_state()
  a, b = _dataset(20, seed=7), _dataset(20, seed=7)
  for _ in range(5):
    np.testing.assert_array_equal(a.next_batch(6)[0], b.next_batch(6)[0])
  input_data.read_data_sets('', fake_data=True, seed=None)
  _dataset(20).next_batch(25)
  after = np.random.get_state()
  assert before[0] == after[0]
  np.testing.assert_array_equal(before[1], after[1])
  assert before[2:] == after[2:]


def test_images_property_stays_in_file_order():
  ds = _dataset(6)
  before = ds.images.copy()
  ds.next_batch(10)
  np.testing.assert_array_equal(ds.images, before)


def test_float32_scaled_and_uint8_kept():
  images = np.array([0, 51, 255, 128], np.uint8).reshape(1, 2, 2, 1)
  ds = input_data.DataSet(images, np.array([3], np.uint8))
  assert ds.images.dtype == np.float32 and ds.images.shape == (1, 4)
  np.testing.assert_allclose(ds.images, [[0, 0.2, 1, 128 / 255]], rtol=1e-6)
  ds = input_data.DataSet(images, [3], dtype=np.uint8, reshape=False)
  assert ds.images.dtype == np.uint8 and ds.images.shape == (1, 2, 2, 1)
  np.testing.assert_array_equal(ds.images, images)


def test_tensorflow_dtypes_accepted():
  tf = pytest.importorskip('tensorflow')
  images = np.full((1, 2, 2, 1), 255, np.uint8)
  ds = input_data.DataSet(images, [0], dtype=tf.float32)
  assert ds.images.dtype == np.float32 and ds.images.max() == 1.0
  ds = input_data.DataSet(images, [0], dtype=tf.uint8)
  assert ds.images.dtype == np.uint8 and ds.images.max() == 255


@pytest.mark.parametrize('dtype', [np.float64, np.int32, 'float16'])
def test_other_dtypes_are_type_errors(dtype):
  with pytest.raises(TypeError, match='Invalid image dtype'):
    input_data.DataSet(np.zeros((1, 2, 2, 1), np.uint8), [0], dtype=dtype)


def test_mismatched_counts():
  with pytest.raises(ValueError, match='labels.shape'):
    input_data.DataSet(np.zeros((3, 2, 2, 1), np.uint8), [0, 1])


# --- Fake data ---------------------------------------------------------------

def test_fake_data():
  sets = input_data.read_data_sets('/nonexistent', fake_data=True)
  for ds in sets:
    assert ds.num_examples == 10000
    assert ds.images.shape == (10000, 784) and ds.images.dtype == np.float32
    assert (ds.images == 1).all() and (ds.labels == 0).all()
  images, labels = sets.train.next_batch(3, fake_data=True)
  np.testing.assert_array_equal(images, np.ones((3, 784)))
  np.testing.assert_array_equal(labels, [0, 0, 0])
  sets = input_data.read_data_sets('', fake_data=True, one_hot=True,
                                   dtype=np.uint8, reshape=False)
  images, labels = sets.test.next_batch(2)
  assert images.shape == (2, 28, 28, 1) and images.dtype == np.uint8
  np.testing.assert_array_equal(labels, [[1] + [0] * 9] * 2)
  assert sets.test.labels.shape == (10000, 10)


def test_fake_batch_from_a_real_set():
  ds = _dataset(4)
  images, labels = ds.next_batch(5, fake_data=True)
  np.testing.assert_array_equal(images, np.ones((5, 4)))
  np.testing.assert_array_equal(labels, np.zeros(5))
  assert ds.next_batch(4, shuffle=False)[1].tolist() == [0, 1, 2, 3]


# --- read_data_sets ----------------------------------------------------------

def test_read_data_sets_splits(tmp_path, capsys):
  data = testdata.make_mnist_dir(str(tmp_path), n_train=60, n_test=20)
  sets = input_data.read_data_sets(str(tmp_path), validation_size=15)
  train_images, train_labels = data['train']
  assert sets.validation.num_examples == 15
  assert sets.train.num_examples == 45 and sets.test.num_examples == 20
  np.testing.assert_allclose(sets.validation.images,
                             train_images[:15].reshape(15, 784) / 255.0,
                             rtol=1e-6)
  np.testing.assert_array_equal(sets.train.labels, train_labels[15:])
  np.testing.assert_array_equal(sets.test.labels, data['test'][1])
  out = capsys.readouterr().out.splitlines()
  assert out == ['Extracting %s' % os.path.join(str(tmp_path), name)
                 for name in testdata.MNIST_FILES]


def test_read_data_sets_one_hot_uint8(tmp_path):
  data = testdata.make_mnist_dir(str(tmp_path), n_train=12, n_test=5)
  sets = input_data.read_data_sets(str(tmp_path), one_hot=True,
                                   dtype=np.uint8, reshape=False,
                                   validation_size=2)
  np.testing.assert_array_equal(sets.test.labels, np.eye(10)[data['test'][1]])
  np.testing.assert_array_equal(sets.train.images[..., 0],
                                data['train'][0][2:])


def test_validation_size_zero_and_all(tmp_path):
  testdata.make_mnist_dir(str(tmp_path), n_train=12, n_test=5)
  sets = input_data.read_data_sets(str(tmp_path), validation_size=0)
  assert sets.validation.images.shape == (0, 784)
  assert sets.train.num_examples == 12
  sets = input_data.read_data_sets(str(tmp_path), validation_size=12)
  assert sets.train.images.shape == (0, 784)
  with pytest.raises(ValueError, match='empty'):
    sets.train.next_batch(1)


@pytest.mark.parametrize('size', [-1, 61])
def test_bad_validation_size(tmp_path, size):
  testdata.make_mnist_dir(str(tmp_path), n_train=60, n_test=5)
  with pytest.raises(ValueError, match='Validation size'):
    input_data.read_data_sets(str(tmp_path), validation_size=size)


def test_real_mnist_splits(shared_data):
  sets = input_data.read_data_sets(os.path.join(shared_data, 'mnist'))
  assert [s.num_examples for s in sets] == [55000, 5000, 10000]
  assert sets.train.images.shape == (55000, 784)
  assert 0.0 <= sets.test.images.min() and sets.test.images.max() == 1.0
  # The label counts of the official test set.
  assert np.bincount(sets.test.labels).tolist() == [
      980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_import_is_cheap():
  # Programs that only read data must not pay for TensorFlow.
  code = ('import sys; from mnist import input_data; '
          'print("tensorflow" in sys.modules)')
  out = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                       env=program_env(), capture_output=True, text=True,
                       check=True).stdout
  assert out.strip() == 'False'


def test_image_and_label_files_of_different_lengths(tmp_path):
  testdata.make_mnist_dir(str(tmp_path), n_train=20, n_test=5)
  labels = str(tmp_path / 't10k-labels-idx1-ubyte.gz')
  testdata.write_idx_labels(labels, [1, 2, 3])
  with pytest.raises(ValueError) as e:
    input_data.read_data_sets(str(tmp_path), validation_size=2)
  assert str(e.value) == '%s holds 5 images but %s holds 3 labels' % (
      tmp_path / 't10k-images-idx3-ubyte.gz', labels)
