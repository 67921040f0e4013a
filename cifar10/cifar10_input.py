"""Routine for decoding the CIFAR-10 binary file format.

Summary of available functions:

 # Training batches: cropped, flipped, brightness/contrast jittered, shuffled.
 images, labels = distorted_inputs(data_dir, batch_size)

 # Evaluation batches: centre crop, each example exactly once per pass.
 images, labels = inputs(eval_data, data_dir, batch_size)

 # One record from a queue of file names (the classic reader).
 record = read_cifar10(filename_queue)

 # Check files before training on them; fetch a file, atomically.
 num_records = check_files(filenames)
 download(urls, filepath, md5)

Both pipelines, `pipeline='queue'` (queue runners, as in the original) and
`pipeline='dataset'` (tf.data), run the same per-image preprocessing and
return the same tensors: images [batch, 24, 24, 3] float32, labels [batch]
int32.
"""

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request

import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1

# Process images of this size. The original 32x32 images are cropped to 24x24,
# which both augments the data (random crops) and cuts compute by 44%.
IMAGE_SIZE = 24

# Global constants describing the CIFAR-10 data set.
NUM_CLASSES = 10
NUM_EXAMPLES_PER_EPOCH_FOR_TRAIN = 50000
NUM_EXAMPLES_PER_EPOCH_FOR_EVAL = 10000

HEIGHT = 32  # Stored image height.
WIDTH = 32  # Stored image width.
DEPTH = 3  # Colour planes: red, green, blue.
LABEL_BYTES = 1  # 2 for CIFAR-100.
RECORD_BYTES = LABEL_BYTES + HEIGHT * WIDTH * DEPTH  # 3073, no header/footer.

PIPELINES = ('dataset', 'queue')
DEFAULT_PIPELINE = 'dataset'  # The faster end to end (scripts/benchmark).

# The shuffling queue holds 40% of an epoch so that consecutive batches mix
# images from across the training set, not just from one file region.
MIN_FRACTION_OF_EXAMPLES_IN_QUEUE = 0.4

# The original ran 16 reader threads; more threads only contend for cores.
NUM_PREPROCESS_THREADS = 16


class CIFAR10Record(object):
  """One decoded record: height, width, depth, key, label, uint8image."""
  height = HEIGHT
  width = WIDTH
  depth = DEPTH


def _decode(value):
  """Splits raw record bytes into an int32 label [1] and uint8 [32, 32, 3]."""
  record = tf.io.decode_raw(value, tf.uint8)
  label = tf.cast(tf.strided_slice(record, [0], [LABEL_BYTES]), tf.int32)
  # The planes are stored depth-major, [depth, height, width]; TensorFlow
  # wants [height, width, depth].
  depth_major = tf.reshape(
      tf.strided_slice(record, [LABEL_BYTES], [RECORD_BYTES]),
      [DEPTH, HEIGHT, WIDTH])
  return label, tf.transpose(depth_major, [1, 2, 0])


def read_cifar10(filename_queue):
  """Reads and parses one example from CIFAR-10 data files.

  Call it N times to read N records in parallel (one reader per call).

  Args:
    filename_queue: a queue of strings with the file names to read from.

  Returns:
    A CIFAR10Record with height, width, depth (ints), key (string tensor
    '<file>:<index>'), label (int32 tensor [1], 0..9) and uint8image (uint8
    tensor [32, 32, 3]).
  """
  result = CIFAR10Record()
  reader = tf1.FixedLengthRecordReader(record_bytes=RECORD_BYTES)
  result.key, value = reader.read(filename_queue)
  result.label, result.uint8image = _decode(value)
  return result


def check_files(filenames):
  """Checks CIFAR-10 binary files before a pipeline reads them.

  A bad file would otherwise surface as an obscure error (or silently wrong
  labels) minutes into training, from a reader thread.

  Args:
    filenames: paths of .bin files.

  Returns:
    The total number of records in the files.

  Raises:
    ValueError: a file is missing or empty, its size is not a whole number of
      3073-byte records, or a label byte is outside 0..9.
  """
  total = 0
  for f in filenames:
    if not tf1.gfile.Exists(f):
      raise ValueError('Failed to find file: ' + f)
    size = tf1.gfile.Stat(f).length
    if size == 0 or size % RECORD_BYTES:
      raise ValueError(
          'Bad CIFAR-10 file %s: %d bytes is not a whole number of %d-byte '
          'records (truncated or not a CIFAR-10 binary file)'
          % (f, size, RECORD_BYTES))
    with tf1.gfile.GFile(f, 'rb') as fh:
      labels = np.frombuffer(fh.read(), np.uint8)[::RECORD_BYTES]
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
      raise ValueError(
          'Bad CIFAR-10 file %s: record %d has label %d, outside 0..%d'
          % (f, bad[0], labels[bad[0]], NUM_CLASSES - 1))
    total += size // RECORD_BYTES
  return total


def train_filenames(data_dir):
  """The five training files under data_dir (cifar-10-batches-bin)."""
  return [os.path.join(data_dir, 'data_batch_%d.bin' % i) for i in range(1, 6)]


def eval_filenames(eval_data, data_dir):
  """The test file when eval_data is true, else the five training files."""
  if eval_data:
    return [os.path.join(data_dir, 'test_batch.bin')]
  return train_filenames(data_dir)


def preprocess_for_train(uint8image):
  """Distorts one [32, 32, 3] uint8 image into a [24, 24, 3] float32 one.

  Random crop, left-right flip, brightness (max delta 63) and contrast
  (0.2..1.8), then per-image standardization. The distortions enlarge the
  data set: the model rarely sees the same pixels twice.
  """
  image = tf.cast(uint8image, tf.float32)
  image = tf.image.random_crop(image, [IMAGE_SIZE, IMAGE_SIZE, DEPTH])
  image = tf.image.random_flip_left_right(image)
  # brightness and contrast do not commute; the original's order is kept.
  image = tf.image.random_brightness(image, max_delta=63)
  image = tf.image.random_contrast(image, lower=0.2, upper=1.8)
  image = tf.image.per_image_standardization(image)
  image.set_shape([IMAGE_SIZE, IMAGE_SIZE, DEPTH])
  return image


def preprocess_for_eval(uint8image):
  """Centre-crops one [32, 32, 3] uint8 image to [24, 24, 3] and standardizes."""
  image = tf.cast(uint8image, tf.float32)
  image = tf.image.resize_with_crop_or_pad(image, IMAGE_SIZE, IMAGE_SIZE)
  image = tf.image.per_image_standardization(image)
  image.set_shape([IMAGE_SIZE, IMAGE_SIZE, DEPTH])
  return image


def min_queue_examples(num_records):
  """Images the shuffle queue holds: 40% of an epoch of the files present."""
  return max(1, int(min(NUM_EXAMPLES_PER_EPOCH_FOR_TRAIN, num_records) *
                    MIN_FRACTION_OF_EXAMPLES_IN_QUEUE))


def _dataset_batches(filenames, batch_size, train, shuffle_buffer=0):
  """tf.data version: raw records are cached and shuffled, then decoded."""
  dataset = tf.data.FixedLengthRecordDataset(filenames, RECORD_BYTES)
  if train:
    # Shuffling raw 3 KB records before decoding keeps the buffer small and
    # cheap; the cache saves re-reading the files every epoch.
    dataset = dataset.cache().shuffle(shuffle_buffer).repeat()
  preprocess = preprocess_for_train if train else preprocess_for_eval

  def parse(value):
    label, uint8image = _decode(value)
    return preprocess(uint8image), tf.reshape(label, [])

  dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
  dataset = dataset.batch(batch_size, drop_remainder=train)
  dataset = dataset.prefetch(tf.data.AUTOTUNE)
  return tf1.data.make_one_shot_iterator(dataset).get_next()


def _queue_batches(filenames, batch_size, train, min_queue=0):
  """Queue-runner version, as in the original tutorial."""
  if train:
    filename_queue = tf1.train.string_input_producer(filenames)
    record = read_cifar10(filename_queue)
    image = preprocess_for_train(record.uint8image)
    label = tf.reshape(record.label, [1])
    images, labels = tf1.train.shuffle_batch(
        [image, label], batch_size=batch_size,
        num_threads=NUM_PREPROCESS_THREADS,
        capacity=min_queue + 3 * batch_size, min_after_dequeue=min_queue)
  else:
    # One epoch, in file order, one reader thread: each example once per pass.
    filename_queue = tf1.train.string_input_producer(
        filenames, num_epochs=1, shuffle=False)
    record = read_cifar10(filename_queue)
    image = preprocess_for_eval(record.uint8image)
    label = tf.reshape(record.label, [1])
    images, labels = tf1.train.batch(
        [image, label], batch_size=batch_size, num_threads=1,
        capacity=3 * batch_size, allow_smaller_final_batch=True)
  return images, tf.reshape(labels, [-1])


def distorted_inputs(data_dir, batch_size, pipeline=DEFAULT_PIPELINE):
  """Constructs distorted, shuffled input for CIFAR training.

  Args:
    data_dir: path to the cifar-10-batches-bin directory.
    batch_size: number of images per batch.
    pipeline: 'dataset' (tf.data) or 'queue' (queue runners; the session must
      start them, as MonitoredTrainingSession does).

  Returns:
    images: images [batch_size, 24, 24, 3] float32.
    labels: labels [batch_size] int32.

  Raises:
    ValueError: a training file is missing or malformed, or pipeline is
      unknown.
  """
  if pipeline not in PIPELINES:
    raise ValueError('Unknown pipeline %r; use one of %s' % (pipeline,
                                                             PIPELINES))
  filenames = train_filenames(data_dir)
  min_queue = min_queue_examples(check_files(filenames))
  with tf.name_scope('data_augmentation'):
    if pipeline == 'queue':
      print('Filling queue with %d CIFAR images before starting to train. '
            'This will take a few minutes.' % min_queue)
      images, labels = _queue_batches(filenames, batch_size, True, min_queue)
    else:
      print('Shuffling CIFAR images in a buffer of %d before starting to '
            'train.' % min_queue)
      images, labels = _dataset_batches(filenames, batch_size, True,
                                        min_queue)
  images.set_shape([batch_size, IMAGE_SIZE, IMAGE_SIZE, DEPTH])
  labels.set_shape([batch_size])
  # Display the training images in TensorBoard.
  tf1.summary.image('images', images)
  return images, labels


def inputs(eval_data, data_dir, batch_size, pipeline=DEFAULT_PIPELINE):
  """Constructs input for CIFAR evaluation: one pass, in file order.

  The last batch is smaller when the file's records are not a multiple of
  batch_size, so every example is yielded exactly once; after the pass the
  tensors raise tf.errors.OutOfRangeError. The queue pipeline needs its local
  variables initialized and its queue runners started.

  Args:
    eval_data: bool, the test file if true, else the training files.
    data_dir: path to the cifar-10-batches-bin directory.
    batch_size: number of images per batch.
    pipeline: 'dataset' or 'queue'.

  Returns:
    images: images [<=batch_size, 24, 24, 3] float32.
    labels: labels [<=batch_size] int32.

  Raises:
    ValueError: a file is missing or malformed, or pipeline is unknown.
  """
  if pipeline not in PIPELINES:
    raise ValueError('Unknown pipeline %r; use one of %s' % (pipeline,
                                                             PIPELINES))
  filenames = eval_filenames(eval_data, data_dir)
  check_files(filenames)
  with tf.name_scope('input'):
    if pipeline == 'queue':
      images, labels = _queue_batches(filenames, batch_size, False)
    else:
      images, labels = _dataset_batches(filenames, batch_size, False)
  images.set_shape([None, IMAGE_SIZE, IMAGE_SIZE, DEPTH])
  tf1.summary.image('images', images)
  return images, labels


def file_md5(path):
  """The hex md5 of a file, read in 1 MiB chunks."""
  digest = hashlib.md5()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def _fetch(url, filepath, md5, progress):
  """Streams url into a temporary file beside filepath; returns its size."""
  name = os.path.basename(filepath)
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(filepath) or '.',
                             prefix='.%s.' % name, suffix='.part')
  try:
    digest, size = hashlib.md5(), 0
    with os.fdopen(fd, 'wb') as out, urllib.request.urlopen(
        url, timeout=60) as response:
      total = int(response.headers.get('Content-Length') or 0)
      for chunk in iter(lambda: response.read(1 << 16), b''):
        out.write(chunk)
        digest.update(chunk)
        size += len(chunk)
        if progress and total:
          sys.stdout.write('\r>> Downloading %s %.1f%%' % (
              name, 100.0 * size / total))
          sys.stdout.flush()
    if progress and total:
      sys.stdout.write('\n')
    if total and size != total:
      raise IOError('truncated: got %d of %d bytes' % (size, total))
    if md5 and digest.hexdigest() != md5:
      raise IOError('corrupt: md5 %s, expected %s' % (digest.hexdigest(), md5))
    # Only a complete, verified file ever appears under the real name.
    os.replace(tmp, filepath)
    return size
  except BaseException:
    os.remove(tmp)
    raise


def download(urls, filepath, md5=None, hint='', progress=None):
  """Downloads the first URL that works to filepath, verified and atomic.

  The file is written under a temporary name in the same directory and
  renamed only once complete and (when md5 is given) verified, so an
  interrupted or corrupt download never leaves a broken file behind.

  Args:
    urls: a URL or a list of mirrors, tried in order.
    filepath: where the file should end up.
    md5: expected hex md5, or None to skip the check.
    hint: a sentence added to the error, e.g. which flag names the folder.
    progress: print a progress line; default: only when stdout is a terminal.

  Returns:
    filepath.

  Raises:
    IOError: every URL failed (offline, HTTP error, truncated or corrupt
      download); the message names the URLs and the directory.
  """
  if isinstance(urls, str):
    urls = [urls]
  if progress is None:
    progress = sys.stdout.isatty()
  name, folder = os.path.basename(filepath), os.path.dirname(filepath) or '.'
  failures = []
  for url in urls:
    try:
      size = _fetch(url, filepath, md5, progress)
    except (urllib.error.URLError, OSError, ValueError) as e:
      reason = getattr(e, 'reason', None) or e
      failures.append('%s (%s)' % (url, reason))
      continue
    print('Successfully downloaded %s %d bytes.' % (name, size))
    return filepath
  raise IOError(
      'Could not download %s into %s from %s. If this machine is offline, '
      'fetch the file elsewhere and copy it into %s. %s' % (
          name, folder, '; '.join(failures), folder, hint))
