"""Routine for decoding the CIFAR-10 binary file format.

Summary of available functions:

 # Training batches: cropped, flipped, brightness/contrast jittered, shuffled.
 images, labels = distorted_inputs(data_dir, batch_size)

 # Evaluation batches: centre crop, in file order (num_epochs=1: each
 # example exactly once).
 images, labels = inputs(eval_data, data_dir, batch_size, num_epochs=None)

 # One record from a queue of file names (the classic reader).
 record = read_cifar10(filename_queue)

 # Check files before training on them.
 num_records = check_files(filenames)

Both pipelines, `pipeline='queue'` (queue runners, as in the original) and
`pipeline='dataset'` (tf.data), run the same per-image preprocessing and
return the same tensors: images [batch, 24, 24, 3] float32, labels [batch]
int32.
"""

import os

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
META_FILE = 'batches.meta.txt'  # Beside the .bin files: class names.

PIPELINES = ('dataset', 'queue')
# tf.data is the default because it measured faster end to end on a 2-core
# machine (scripts/benchmark_cifar10.py compares both; AMD EPYC, 2 rounds of
# 200 steps): 1.03 of the model alone against the queues' 0.98 in float32,
# 1.04 against 0.90 with --mixed_precision, and 53 s against 57 s of wall
# time. (Before its autotuning was turned off, its session took up to a
# minute to close, and the queues were the default.)
DEFAULT_PIPELINE = 'dataset'

# The shuffling queue holds 40% of an epoch so that consecutive batches mix
# images from across the training set, not just from one file region.
MIN_FRACTION_OF_EXAMPLES_IN_QUEUE = 0.4

# The tf.data pipeline's fixed settings (see _dataset_batches): batches
# preprocessed at once, and batches made ahead of the model.
DATASET_PARALLEL_BATCHES = 2
DATASET_PREFETCH_BATCHES = 2

# Threads that read records into the queue pipeline's shuffling queue. The
# original ran 16, each also preprocessing; here they only read and decode,
# and preprocessing runs batched in the graph.
NUM_READER_THREADS = 4


class CIFAR10Record(object):
  """One decoded record: height, width, depth, key, label, uint8image."""
  height = HEIGHT
  width = WIDTH
  depth = DEPTH


def _decode(values):
  """Splits raw records [batch] into labels [batch] and uint8 images.

  Args:
    values: string tensor [batch] of RECORD_BYTES-long records.

  Returns:
    labels: int32 [batch], 0..9.
    images: uint8 [batch, 32, 32, 3].
  """
  record = tf.io.decode_raw(values, tf.uint8)
  labels = tf.cast(record[:, 0], tf.int32)
  # The planes are stored depth-major, [depth, height, width]; TensorFlow
  # wants [height, width, depth]. (stack/unstack instead of transpose: on
  # uint8 tf.transpose logs a oneDNN error line on CPUs without AVX-512.)
  planes = tf.reshape(record[:, LABEL_BYTES:], [-1, DEPTH, HEIGHT, WIDTH])
  images = tf.stack(tf.unstack(planes, axis=1), axis=-1)
  return labels, images


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
  labels, images = _decode(tf.reshape(value, [1]))
  result.label = tf.reshape(labels, [1])
  result.uint8image = tf.reshape(images, [HEIGHT, WIDTH, DEPTH])
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


def distort_images(uint8images):
  """Distorts a batch of [32, 32, 3] uint8 images for training.

  Each image gets its own random 24x24 crop, left-right flip, brightness
  (max delta 63) and contrast (factor 0.2..1.8), in the original's order,
  then per-image standardization. The distortions enlarge the data set: the
  model rarely sees the same pixels twice. Working on whole batches (one
  gather for crop and flip together, broadcast arithmetic for the rest)
  costs a few ops per batch instead of a dozen per image, which matters when
  the input pipeline shares two CPU cores with the model.

  Args:
    uint8images: uint8 [batch, 32, 32, 3].

  Returns:
    float32 [batch, 24, 24, 3].
  """
  batch = tf.shape(uint8images)[0]
  top = tf.random.uniform([batch, 1], 0, HEIGHT - IMAGE_SIZE + 1, tf.int32)
  left = tf.random.uniform([batch, 1], 0, WIDTH - IMAGE_SIZE + 1, tf.int32)
  flip = tf.random.uniform([batch, 1]) < 0.5
  steps = tf.range(IMAGE_SIZE)[tf.newaxis, :]
  rows = top + steps
  cols = left + tf.where(flip, IMAGE_SIZE - 1 - steps, steps)
  images = tf.gather(uint8images, rows, axis=1, batch_dims=1)
  images = tf.cast(tf.gather(images, cols, axis=2, batch_dims=1), tf.float32)
  # Brightness: add one delta per image (tf.image.random_brightness).
  images += tf.random.uniform([batch, 1, 1, 1], -63.0, 63.0)
  # Contrast: scale each channel's deviation from its mean by one factor per
  # image (tf.image.random_contrast).
  mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
  factor = tf.random.uniform([batch, 1, 1, 1], 0.2, 1.8)
  images = (images - mean) * factor + mean
  return tf.image.per_image_standardization(images)


def crop_images(uint8images):
  """Centre-crops a batch of [32, 32, 3] uint8 images to 24x24, standardized.

  Args:
    uint8images: uint8 [batch, 32, 32, 3].

  Returns:
    float32 [batch, 24, 24, 3].
  """
  top = (HEIGHT - IMAGE_SIZE) // 2
  left = (WIDTH - IMAGE_SIZE) // 2
  images = uint8images[:, top:top + IMAGE_SIZE, left:left + IMAGE_SIZE, :]
  return tf.image.per_image_standardization(tf.cast(images, tf.float32))


def min_queue_examples(num_records):
  """Images the shuffle queue holds: 40% of an epoch of the files present."""
  return max(1, int(min(NUM_EXAMPLES_PER_EPOCH_FOR_TRAIN, num_records) *
                    MIN_FRACTION_OF_EXAMPLES_IN_QUEUE))


def _dataset_batches(filenames, batch_size, train, shuffle_buffer=0,
                     num_epochs=None):
  """tf.data version: raw records are cached, shuffled, batched, decoded."""
  dataset = tf.data.FixedLengthRecordDataset(filenames, RECORD_BYTES)
  if train:
    # Shuffling raw 3 KB records keeps the buffer small; the cache (150 MB)
    # saves re-reading the files every epoch.
    dataset = dataset.cache().shuffle(shuffle_buffer).repeat()
  else:
    dataset = dataset.repeat(num_epochs)
  preprocess = distort_images if train else crop_images

  def parse(values):
    labels, images = _decode(values)
    return preprocess(images), labels

  # Endless streams give full batches only, as the queues do.
  dataset = dataset.batch(batch_size, drop_remainder=num_epochs is None)
  dataset = dataset.map(parse, num_parallel_calls=DATASET_PARALLEL_BATCHES)
  dataset = dataset.prefetch(DATASET_PREFETCH_BATCHES)
  # Fixed parallelism, no autotuning: tf.data's autotune thread sleeps up
  # to a minute between rounds, and destroying the iterator waits for it,
  # so closing a training session took 0-60 s (seen as 20-55 s; the stack
  # was in ~RootDataset::Iterator, waiting on Model::OptimizeLoop).
  options = tf.data.Options()
  options.autotune.enabled = False
  dataset = dataset.with_options(options)
  return tf1.data.make_one_shot_iterator(dataset).get_next()


def _queue_batches(filenames, batch_size, train, min_queue=0,
                   num_epochs=None):
  """Queue-runner version, as in the original tutorial."""
  if train:
    filename_queue = tf1.train.string_input_producer(filenames)
    record = read_cifar10(filename_queue)
    uint8images, labels = tf1.train.shuffle_batch(
        [record.uint8image, record.label], batch_size=batch_size,
        num_threads=NUM_READER_THREADS,
        capacity=min_queue + 3 * batch_size, min_after_dequeue=min_queue)
    images = distort_images(uint8images)
  else:
    # In file order, one reader thread: each example once per pass.
    filename_queue = tf1.train.string_input_producer(
        filenames, num_epochs=num_epochs, shuffle=False)
    record = read_cifar10(filename_queue)
    uint8images, labels = tf1.train.batch(
        [record.uint8image, record.label], batch_size=batch_size,
        num_threads=1, capacity=3 * batch_size,
        allow_smaller_final_batch=num_epochs is not None)
    images = crop_images(uint8images)
  return images, tf.reshape(labels, [-1])


def _check_pipeline(pipeline):
  if pipeline not in PIPELINES:
    raise ValueError('Unknown pipeline %r; use one of %s' % (pipeline,
                                                             PIPELINES))


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
  _check_pipeline(pipeline)
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


def inputs(eval_data, data_dir, batch_size, pipeline=DEFAULT_PIPELINE,
           num_epochs=None):
  """Constructs input for CIFAR evaluation: in file order, centre crops.

  By default, as in the original, the examples come round again and again
  in full batches: the original evaluation recipe (run
  ceil(num_examples / batch_size) batches, with the queue runners started)
  works unchanged. With num_epochs=1 (cifar10_eval) there is one pass: the
  last batch is smaller when the records are not a multiple of batch_size,
  so every example is yielded exactly once, and then the tensors raise
  tf.errors.OutOfRangeError; the queue pipeline then needs its local
  variables initialized (it counts its epochs in one).

  Args:
    eval_data: bool, the test file if true, else the training files.
    data_dir: path to the cifar-10-batches-bin directory.
    batch_size: number of images per batch.
    pipeline: 'dataset' or 'queue' (queue runners, which the session must
      start).
    num_epochs: passes over the data; None: endless.

  Returns:
    images: images [<=batch_size, 24, 24, 3] float32.
    labels: labels [<=batch_size] int32.

  Raises:
    ValueError: a file is missing or malformed, or pipeline is unknown.
  """
  _check_pipeline(pipeline)
  filenames = eval_filenames(eval_data, data_dir)
  check_files(filenames)
  with tf.name_scope('input'):
    if pipeline == 'queue':
      images, labels = _queue_batches(filenames, batch_size, False,
                                      num_epochs=num_epochs)
    else:
      images, labels = _dataset_batches(filenames, batch_size, False,
                                        num_epochs=num_epochs)
  images.set_shape([None, IMAGE_SIZE, IMAGE_SIZE, DEPTH])
  labels.set_shape([None])
  tf1.summary.image('images', images)
  return images, labels
