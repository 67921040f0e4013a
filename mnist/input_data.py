"""Functions for downloading and reading MNIST data.

Summary of available functions:

 # The three splits (55,000 / 5,000 / 10,000), fetching missing files.
 data_sets = read_data_sets(train_dir, one_hot=False, validation_size=5000)
 images, labels = data_sets.train.next_batch(batch_size)

 # The idx files, gzip-compressed or not, as numpy arrays.
 images = extract_images(f)               # uint8 [n, rows, cols, 1]
 labels = extract_labels(f)               # uint8 [n] (or one-hot [n, 10])

 # For programs: the data sets, or a one-line error and exit status 1.
 data_sets = read_data_sets_or_exit(prog, train_dir, ...)

This module needs only numpy; downloads go through mnist_download, which
needs only the standard library. As in the original tutorials, a script
beside this file may `import input_data` (then it loads mnist_download
from beside it too).
"""

import collections
import gzip
import os
import struct
import sys
import zlib

if __package__:
  from mnist import mnist_download
else:
  # Loaded as a top-level module by a script in this folder. The package's
  # __init__ did not run: its setting for Windows' Ctrl+C is made here.
  os.environ.setdefault('FOR_DISABLE_CONSOLE_CTRL_HANDLER', '1')
  import mnist_download

import numpy as np

# Mirrors of the four files, tried in order: the original site at
# yann.lecun.com now refuses downloads.
DEFAULT_SOURCE_URLS = (
    'https://storage.googleapis.com/cvdf-datasets/mnist/',
    'https://ossci-datasets.s3.amazonaws.com/mnist/',
)
TRAIN_IMAGES = 'train-images-idx3-ubyte.gz'  # 60,000 28x28 images.
TRAIN_LABELS = 'train-labels-idx1-ubyte.gz'  # Their labels, 0..9.
TEST_IMAGES = 't10k-images-idx3-ubyte.gz'  # 10,000 28x28 images.
TEST_LABELS = 't10k-labels-idx1-ubyte.gz'  # Their labels, 0..9.
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
MD5S = {  # Of the official files; a download that differs is rejected.
    TRAIN_IMAGES: 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
    TRAIN_LABELS: 'd53e105ee54ea40749a09fcbcd1e9432',
    TEST_IMAGES: '9fb629c4189551a2d022fa330f9573f3',
    TEST_LABELS: 'ec29112dd5afa0611ce80d1b7f02629c',
}
IMAGE_MAGIC = 2051  # First four bytes of an idx3 (images) file.
LABEL_MAGIC = 2049  # First four bytes of an idx1 (labels) file.
FAKE_EXAMPLES = 10000  # Examples in each split of the fake data sets.
DATA_DIR_HINT = ('Or point --input_data_dir (--data_dir for the other '
                 'programs) at a folder that holds the four MNIST files.')

Datasets = collections.namedtuple('Datasets', ['train', 'validation', 'test'])


def _read_idx(f, magic, kind, header_ints):
  """Reads an idx file: returns (name, header ints after the magic, body)."""
  name = getattr(f, 'name', '<stream>')
  data = f.read()
  # Accept both the .gz files and already uncompressed ones (some mirrors
  # and browsers unpack them); gzip's CRC also catches corrupted downloads.
  if data[:2] == b'\x1f\x8b':
    try:
      data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
      raise ValueError('Corrupt gzip data in MNIST %s file %s: %s'
                       % (kind, name, e)) from None
  header_bytes = 4 * (1 + header_ints)
  if len(data) < header_bytes:
    raise ValueError('MNIST %s file %s is truncated: %d bytes, less than '
                     'its %d-byte header' % (kind, name, len(data),
                                             header_bytes))
  header = struct.unpack('>%dI' % (1 + header_ints), data[:header_bytes])
  if header[0] != magic:
    raise ValueError('Invalid magic number %d in MNIST %s file: %s'
                     % (header[0], kind, name))
  return name, header[1:], memoryview(data)[header_bytes:]


def _check_length(name, kind, body, expected, what):
  """Raises ValueError when the data after the header is not `expected`."""
  if len(body) < expected:
    raise ValueError('MNIST %s file %s is truncated: its header announces %s '
                     '(%d bytes) but only %d bytes follow'
                     % (kind, name, what, expected, len(body)))
  if len(body) > expected:
    raise ValueError('MNIST %s file %s holds %d bytes of data but its header '
                     'announces %s (%d bytes): wrong count in the header'
                     % (kind, name, len(body), what, expected))


def extract_images(f):
  """Extracts the images into a 4D uint8 numpy array [index, y, x, depth].

  Args:
    f: a binary file object of an idx3 file, gzip-compressed or not (the
      gzip magic bytes 1f 8b decide).

  Returns:
    data: a 4D uint8 numpy array [n, rows, cols, 1].

  Raises:
    ValueError: the magic number is not 2051, the data is truncated or its
      length disagrees with the header, or the gzip stream is corrupt. The
      message names the file (f.name).
  """
  print('Extracting', getattr(f, 'name', '<stream>'))
  name, (num, rows, cols), body = _read_idx(f, IMAGE_MAGIC, 'image', 3)
  _check_length(name, 'image', body, num * rows * cols,
                '%d images of %dx%d' % (num, rows, cols))
  return np.frombuffer(body, dtype=np.uint8).reshape(num, rows, cols, 1)


def dense_to_one_hot(labels_dense, num_classes):
  """Converts class labels [n] to one-hot float vectors [n, num_classes]."""
  one_hot = np.zeros((len(labels_dense), num_classes))
  one_hot[np.arange(len(labels_dense)), labels_dense] = 1
  return one_hot


def extract_labels(f, one_hot=False, num_classes=10):
  """Extracts the labels into a 1D uint8 numpy array [index].

  Args:
    f: a binary file object of an idx1 file, gzip-compressed or not.
    one_hot: return one-hot float64 rows instead, as the original did.
    num_classes: number of classes; also the bound labels must stay below.

  Returns:
    labels: uint8 [n], or float64 [n, num_classes] if one_hot.

  Raises:
    ValueError: bad magic number (not 2049), truncated data, a length that
      disagrees with the header, or a label >= num_classes. The message
      names the file.
  """
  print('Extracting', getattr(f, 'name', '<stream>'))
  name, (num,), body = _read_idx(f, LABEL_MAGIC, 'label', 1)
  _check_length(name, 'label', body, num, '%d labels' % num)
  labels = np.frombuffer(body, dtype=np.uint8)
  if num and labels.max() >= num_classes:
    raise ValueError('MNIST label file %s holds label %d, outside 0..%d'
                     % (name, labels.max(), num_classes - 1))
  if one_hot:
    return dense_to_one_hot(labels, num_classes)
  return labels


class DataSet(object):
  """A split of MNIST: images and labels, handed out in shuffled batches.

  The arrays stay in file order (so `images` and `labels` can be evaluated
  in order); each epoch draws a new permutation of indices from the set's
  own random generator, so numpy's global random state is never touched.
  """

  def __init__(self, images, labels, fake_data=False, one_hot=False,
               dtype=np.float32, reshape=True, seed=None):
    """Constructs a DataSet.

    Args:
      images: uint8 [n, rows, cols, 1] (ignored when fake_data).
      labels: [n] or one-hot [n, classes] (ignored when fake_data).
      fake_data: stand-in data: 10,000 images of ones, all labelled 0.
      one_hot: for fake data, make the labels one-hot.
      dtype: uint8 keeps pixels 0..255; float32 rescales them to [0, 1].
        numpy or TensorFlow dtypes (tf.float32) are accepted.
      reshape: flatten images to [n, rows * cols].
      seed: seed of this set's shuffling; None for a fresh one each time.

    Raises:
      TypeError: dtype is neither uint8 nor float32.
      ValueError: images and labels differ in count, or images are not
        [n, rows, cols, 1].
    """
    # TensorFlow dtypes name their numpy twin; no need to import TensorFlow.
    dtype = np.dtype(getattr(dtype, 'as_numpy_dtype', dtype))
    if dtype not in (np.uint8, np.float32):
      raise TypeError('Invalid image dtype %r, expected uint8 or float32'
                      % dtype)
    self._rng = np.random.RandomState(seed)
    self._fake_data = fake_data
    self.one_hot = one_hot
    if fake_data:
      # Broadcast views hold one row, however many examples they stand for.
      shape = (784,) if reshape else (28, 28, 1)
      images = np.broadcast_to(np.ones(shape, dtype), (FAKE_EXAMPLES,) + shape)
      label = np.eye(1, 10)[0] if one_hot else np.uint8(0)
      labels = np.broadcast_to(label, (FAKE_EXAMPLES,) + np.shape(label))
    else:
      images, labels = np.asarray(images), np.asarray(labels)
      if images.shape[0] != labels.shape[0]:
        raise ValueError('images.shape: %s labels.shape: %s'
                         % (images.shape, labels.shape))
      if reshape:
        if images.ndim != 4 or images.shape[3] != 1:
          raise ValueError('images must be [n, rows, cols, 1], not %s'
                           % (images.shape,))
        images = images.reshape(len(images), np.prod(images.shape[1:]))
      if dtype == np.float32:
        # Convert from [0, 255] -> [0.0, 1.0].
        images = images.astype(np.float32)
        images *= 1.0 / 255.0
    self._images, self._labels = images, labels
    self._num_examples = images.shape[0]
    self._epochs_completed = 0
    self._index_in_epoch = 0
    self._order = None  # This epoch's permutation, drawn at the first batch.

  @property
  def images(self):
    return self._images

  @property
  def labels(self):
    return self._labels

  @property
  def num_examples(self):
    return self._num_examples

  @property
  def epochs_completed(self):
    return self._epochs_completed

  def _fake_batch(self, batch_size):
    """batch_size images of ones labelled 0, shaped like this set's."""
    image = np.ones(self._images.shape[1:], self._images.dtype)
    one_hot = self.one_hot or self._labels.ndim == 2
    label = np.eye(1, 10)[0] if one_hot else np.uint8(0)
    return (np.repeat(image[None], batch_size, axis=0),
            np.repeat(np.asarray(label)[None], batch_size, axis=0))

  def _new_order(self, shuffle):
    n = self._num_examples
    return self._rng.permutation(n) if shuffle else np.arange(n)

  def next_batch(self, batch_size, fake_data=False, shuffle=True):
    """Returns the next `batch_size` examples from this data set.

    Every example is handed out once per epoch. A batch that runs past the
    end of an epoch is the old epoch's tail followed by the new epoch's head
    (freshly shuffled), as in the original.

    Args:
      batch_size: examples in the batch.
      fake_data: return fake examples (ones, label 0) without advancing.
      shuffle: shuffle each new epoch; otherwise keep file order.

    Returns:
      images [batch_size, ...] and labels [batch_size, ...] numpy arrays.

    Raises:
      ValueError: the data set is empty.
    """
    if fake_data or self._fake_data:
      return self._fake_batch(batch_size)
    if self._num_examples == 0:
      raise ValueError('next_batch on an empty DataSet')
    if self._order is None:
      self._order = self._new_order(shuffle)
    parts, needed = [], batch_size
    while True:
      start = self._index_in_epoch
      end = min(self._num_examples, start + needed)
      parts.append(self._order[start:end])
      self._index_in_epoch = end
      needed -= end - start
      if needed <= 0:
        break
      # Finished epoch: start the next one, counted only when a batch
      # actually reaches into it (as in the original).
      self._epochs_completed += 1
      self._order = self._new_order(shuffle)
      self._index_in_epoch = 0
    index = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return self._images[index], self._labels[index]


def _fetch(name, train_dir, source_url, md5s, hint):
  """Downloads one file from the mirrors into train_dir (atomic, verified)."""
  urls = [source_url] if isinstance(source_url, str) else list(source_url)
  urls = [u if u.endswith('/') else u + '/' for u in urls]
  print('Downloading %s from %s' % (name, urls[0]))
  md5 = (md5s or {}).get(name)
  return mnist_download.download([u + name for u in urls],
                                os.path.join(train_dir, name), md5=md5,
                                hint=hint)


def _load(path, extract, train_dir, source_url, md5s, hint, **kwargs):
  """Extracts a file, fetching it first when missing or when it is corrupt."""
  name = os.path.basename(path)
  if not os.path.exists(path):
    _fetch(name, train_dir, source_url, md5s, hint)
  try:
    with open(path, 'rb') as f:
      return extract(f, **kwargs)
  except ValueError as e:
    # A broken file (say, an interrupted download by an older version) is
    # replaced; the download renames only a complete file, so going offline
    # here leaves the old file in place.
    damage = e
  print('%s; fetching a fresh copy.' % damage)
  try:
    _fetch(name, train_dir, source_url, md5s, hint)
  except OSError as e:
    raise IOError('%s; a fresh copy could not be fetched either: %s'
                  % (damage, e)) from None
  with open(path, 'rb') as f:
    return extract(f, **kwargs)


def read_data_sets(train_dir, fake_data=False, one_hot=False,
                   dtype=np.float32, reshape=True, validation_size=5000,
                   seed=None, source_url=DEFAULT_SOURCE_URLS, md5s=MD5S):
  """Reads the MNIST training, validation and test sets from train_dir.

  Missing files are downloaded from the mirrors in `source_url`, md5
  checked, and written under a temporary name until complete. A file that
  fails to parse (corrupt gzip, truncated, wrong header) is replaced by a
  fresh download. Files that parse are used as they are, so a folder of
  other idx data (Fashion-MNIST, a test set) works too.

  Args:
    train_dir: folder of the four .gz files (created if missing).
    fake_data: return three fake DataSets instead (no files needed).
    one_hot: labels as one-hot float64 rows instead of uint8 class ids.
    dtype: float32 (pixels in [0, 1]) or uint8 (0..255).
    reshape: flatten images to [n, 784].
    validation_size: the first this many training images become the
      validation set.
    seed: seed of the training/validation/test shuffling.
    source_url: a base URL or a list of mirrors, tried in order.
    md5s: dict file name -> md5 that downloads must match; None to skip
      (e.g. Fashion-MNIST from its own source_url).

  Returns:
    Datasets(train, validation, test) of DataSet.

  Raises:
    IOError: a file is missing or corrupt and could not be downloaded; the
      message names the file, the URLs and the --input_data_dir flag.
    ValueError: validation_size outside 0..number of training images, or
      image and label files of different lengths.
  """
  if fake_data:
    def fake():
      return DataSet([], [], fake_data=True, one_hot=one_hot, dtype=dtype,
                     reshape=reshape, seed=seed)
    return Datasets(train=fake(), validation=fake(), test=fake())
  if validation_size < 0:
    raise ValueError('Validation size should be between 0 and the number of '
                     'training images. Received: %d.' % validation_size)
  try:
    os.makedirs(train_dir, exist_ok=True)
  except OSError as e:
    raise IOError('Cannot create the MNIST folder %s: %s'
                  % (train_dir, e.strerror or e)) from e
  # Name every missing file up front: offline, the first failed download
  # ends the run, and the user should fetch all of them in one go.
  missing = [n for n in FILES if not os.path.exists(os.path.join(train_dir,
                                                                 n))]
  hint = DATA_DIR_HINT
  if missing:
    hint = 'Missing from %s: %s. %s' % (train_dir, ', '.join(missing), hint)

  def load(name, extract, **kwargs):
    return _load(os.path.join(train_dir, name), extract, train_dir,
                 source_url, md5s, hint, **kwargs)

  train_images = load(TRAIN_IMAGES, extract_images)
  train_labels = load(TRAIN_LABELS, extract_labels, one_hot=one_hot)
  test_images = load(TEST_IMAGES, extract_images)
  test_labels = load(TEST_LABELS, extract_labels, one_hot=one_hot)
  for images, labels, names in ((train_images, train_labels, FILES[:2]),
                                (test_images, test_labels, FILES[2:])):
    if len(images) != len(labels):
      raise ValueError('%s holds %d images but %s holds %d labels' % (
          os.path.join(train_dir, names[0]), len(images),
          os.path.join(train_dir, names[1]), len(labels)))

  if not 0 <= validation_size <= len(train_images):
    raise ValueError('Validation size should be between 0 and %d. '
                     'Received: %d.' % (len(train_images), validation_size))
  options = dict(dtype=dtype, reshape=reshape, seed=seed)
  validation = DataSet(train_images[:validation_size],
                       train_labels[:validation_size], **options)
  train = DataSet(train_images[validation_size:],
                  train_labels[validation_size:], **options)
  test = DataSet(test_images, test_labels, **options)
  return Datasets(train=train, validation=validation, test=test)


def read_data_sets_or_exit(prog, train_dir, **kwargs):
  """read_data_sets for programs: a bad or missing file exits in one line.

  Args:
    prog: the program name that starts the error line.
    train_dir: as for read_data_sets.
    **kwargs: passed to read_data_sets.

  Returns:
    Datasets(train, validation, test).
  """
  try:
    return read_data_sets(train_dir, **kwargs)
  except (OSError, ValueError) as e:
    sys.exit('%s: error: %s' % (prog, e))
