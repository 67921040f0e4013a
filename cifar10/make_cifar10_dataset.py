"""Writes a data set in the CIFAR-10 binary format, from your images or MNIST.

cifar10_train and cifar10_eval read CIFAR-10's binary files; this turns
other images into such files, so the model runs unchanged on your own data:

  make_cifar10_dataset --image_dir photos --output_dir out
  make_cifar10_dataset --mnist_dir mnist --output_dir out
  cifar10_train --data_dir out

--image_dir holds one sub-folder per class (at most 10: the model has 10
outputs) with PNG, JPEG, GIF or BMP images; each is scaled so its shorter
side is 32 pixels and centre-cropped to 32x32 (grey becomes RGB, alpha is
dropped). A seeded shuffle puts --test_fraction of them in the test file.
--mnist_dir holds the four MNIST files (gzip or not); each 28x28 digit is
padded with 2 black pixels on every side and copied into R, G and B; the
60,000 training digits fill five files, the 10,000 test digits the test file.

The output, like the official download (--overwrite replaces an earlier
one; an interrupted run leaves the old one, or nothing):

  OUT/cifar-10-batches-bin/data_batch_{1..5}.bin, test_batch.bin,
                           batches.meta.txt (class names, one per line)
  OUT/cifar-10-binary.tar.gz       (members under cifar-10-batches-bin/)
  OUT/cifar-10-binary.tar.gz.md5   (md5sum format)

Library use:

  images, labels, classes, ignored = load_image_dir(image_dir)
  train, test = split(images, labels, test_fraction, seed)
  (train, test), classes = load_mnist(mnist_dir)    # (images, labels) pairs
  write_records(path, images, labels)               # one .bin file
  paths = write_dataset(output_dir, train, test, classes)
"""

import argparse
import gzip
import os
import shutil
import sys
import tarfile
import tempfile
import time

if __name__ == '__main__' and not __package__:
  # Run as a file in cifar10/ (`python prog.py`, or `%run prog.py` in a
  # kernel), where cifar10.py would shadow the package: the folder above first.
  _HERE = os.path.dirname(os.path.abspath(__file__))
  if sys.path[0] == _HERE:  # Python (and %run) put this folder first.
    del sys.path[0]
  if sys.path[0] != os.path.dirname(_HERE):
    sys.path.insert(0, os.path.dirname(_HERE))
from cifar10 import cifar10_cli
import mnist

PROG = 'make_cifar10_dataset'
# Share of --image_dir images put in the test file.
DEFAULT_TEST_FRACTION = 0.2


def _parser():
  parser = argparse.ArgumentParser(
      prog=PROG, allow_abbrev=False, description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument('--image_dir', help='Folder of class sub-folders of '
                      'PNG/JPEG/GIF/BMP images (at most 10 classes).')
  source.add_argument('--mnist_dir', help='Folder with the four MNIST files '
                      '(gzip or not).')
  parser.add_argument('--output_dir', required=True, help='Where to write '
                      'cifar-10-batches-bin, the tarball and its md5.')
  parser.add_argument('--test_fraction', type=float, default=None,
                      help='Share of --image_dir images for the test file '
                      '(default %g).' % DEFAULT_TEST_FRACTION)
  parser.add_argument('--seed', type=int, default=None, help='Seed of the '
                      '--image_dir shuffle (default 0).')
  parser.add_argument('--overwrite', action='store_true',
                      help='Replace a data set already in --output_dir.')
  return parser


# Before TensorFlow loads: Ctrl-C, --help and bad flags answered at once.
cifar10_cli.start_program(__name__, PROG,
                          lambda: mnist.parse_flags(_parser()))

import numpy as np

from cifar10 import cifar10_download
from cifar10 import cifar10_input
from cifar10 import image_files
from mnist import input_data

SIZE = image_files.SIZE  # CIFAR-10 images are 32x32 RGB.
NUM_CLASSES = 10  # The model's outputs: at most this many classes.
RECORD_BYTES = 1 + SIZE * SIZE * 3  # A label byte, then R, G, B planes.
TRAIN_FILES = tuple('data_batch_%d.bin' % i for i in range(1, 6))
TEST_FILE = 'test_batch.bin'
META_FILE = cifar10_input.META_FILE  # Class names, one per line.
BATCHES_DIR = 'cifar-10-batches-bin'  # As in the official tarball.
TARBALL = 'cifar-10-binary.tar.gz'  # The name cifar10_train looks for.
IMAGE_EXTENSIONS = image_files.IMAGE_EXTENSIONS
MNIST_NAMES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
               't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')


def _find_images(image_dir):
  """Returns classes, [(path, label)] sorted, and the ignored files."""
  if not os.path.isdir(image_dir):
    raise ValueError('Image folder %s does not exist' % image_dir)
  entries = sorted(e for e in os.listdir(image_dir) if not e.startswith('.'))
  classes = [e for e in entries if os.path.isdir(os.path.join(image_dir, e))]
  ignored = [os.path.join(image_dir, e) for e in entries if e not in classes]
  if not classes:
    raise ValueError('%s holds no class sub-folders: put each class\'s '
                     'images in a folder named after the class' % image_dir)
  if len(classes) > NUM_CLASSES:
    raise ValueError('%s holds %d class folders (%s); the model has %d '
                     'outputs, so at most %d classes' % (
                         image_dir, len(classes), ', '.join(classes),
                         NUM_CLASSES, NUM_CLASSES))
  files = []
  for label, name in enumerate(classes):
    found = []
    # Nested folders count as the class too (say, cat/2019/*.jpg).
    for root, dirs, names in os.walk(os.path.join(image_dir, name),
                                     followlinks=True):
      dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
      for f in sorted(names):
        path = os.path.join(root, f)
        if f.startswith('.'):
          continue  # .DS_Store and the like.
        if f.lower().endswith(IMAGE_EXTENSIONS):
          found.append((path, label))
        else:
          ignored.append(path)
    if not found:
      raise ValueError('Class folder %s holds no images (%s)' % (
          os.path.join(image_dir, name), '/'.join(IMAGE_EXTENSIONS)))
    files += found
  return classes, files, ignored


def load_image_dir(image_dir):
  """Reads a folder of class sub-folders of images as 32x32 RGB images.

  Args:
    image_dir: holds one sub-folder per class (sorted names give labels 0,
      1, ...), each with PNG, JPEG, GIF or BMP files, nested folders
      included. Hidden files are skipped.

  Returns:
    images: uint8 [n, 32, 32, 3], in sorted order of class and file name.
    labels: uint8 [n].
    classes: the class names (folder names), sorted.
    ignored: paths of files that are not images (by extension) and were
      skipped.

  Raises:
    ValueError: the folder is missing, has no or more than 10 class
      folders, a class folder holds no images, or an image cannot be
      decoded (the message names the file).
  """
  classes, files, ignored = _find_images(image_dir)
  images = np.empty((len(files), SIZE, SIZE, 3), np.uint8)
  for i, (path, _) in enumerate(files):
    with open(path, 'rb') as f:
      images[i] = image_files.to_cifar_image(f.read(), path)
  labels = np.array([label for _, label in files], np.uint8)
  return images, labels, classes, ignored


def split(images, labels, test_fraction, seed=0):
  """Shuffles with a seed and splits off round(n * test_fraction) for test.

  Args:
    images, labels: arrays of n examples.
    test_fraction: share of examples for the test file, in (0, 1).
    seed: the shuffle's seed; the same seed gives the same split.

  Returns:
    ((train_images, train_labels), (test_images, test_labels)).

  Raises:
    ValueError: test_fraction is outside (0, 1), or there are too few
      examples for one in each of the five training files and the test file.
  """
  if not 0 < test_fraction < 1:
    raise ValueError('--test_fraction must be between 0 and 1, not %g'
                     % test_fraction)
  n = len(images)
  if n < len(TRAIN_FILES) + 1:
    raise ValueError('%d images are too few: the five training files and '
                     'the test file each need at least one' % n)
  n_test = min(max(1, int(round(n * test_fraction))), n - len(TRAIN_FILES))
  order = np.random.RandomState(seed).permutation(n)
  test, train = order[:n_test], order[n_test:]
  return (images[train], labels[train]), (images[test], labels[test])


def _mnist_file(mnist_dir, name):
  """The path of an MNIST file, gzip-compressed or not."""
  for candidate in (name + '.gz', name):
    path = os.path.join(mnist_dir, candidate)
    if os.path.isfile(path):
      return path
  raise ValueError('MNIST file %s(.gz) not found in %s' % (name, mnist_dir))


def _pad_to_rgb(images, name):
  """uint8 [n, rows, cols, 1] -> [n, 32, 32, 3], centred on black."""
  rows, cols = images.shape[1:3]
  if rows > SIZE or cols > SIZE:
    raise ValueError('%s holds %dx%d images, larger than %dx%d' % (
        name, rows, cols, SIZE, SIZE))
  top, left = (SIZE - rows) // 2, (SIZE - cols) // 2
  padded = np.zeros((len(images), SIZE, SIZE, 3), np.uint8)
  # Broadcasting copies the grey value into R, G and B.
  padded[:, top:top + rows, left:left + cols, :] = images
  return padded


def load_mnist(mnist_dir):
  """Reads the four MNIST files as 32x32 RGB images.

  Args:
    mnist_dir: holds train-images-idx3-ubyte, train-labels-idx1-ubyte,
      t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each with or
      without .gz.

  Returns:
    ((train_images, train_labels), (test_images, test_labels)), classes:
    images uint8 [n, 32, 32, 3] (the 28x28 digit padded by 2 black pixels
    on each side, grey copied into R, G and B), labels uint8 [n], in file
    order; classes are '0'..'9'.

  Raises:
    ValueError: a file is missing, malformed, or its images and labels
      disagree in number (the message names the file).
  """
  splits = []
  for images_name, labels_name in (MNIST_NAMES[:2], MNIST_NAMES[2:]):
    images_path = _mnist_file(mnist_dir, images_name)
    labels_path = _mnist_file(mnist_dir, labels_name)
    with open(images_path, 'rb') as f:
      images = _pad_to_rgb(input_data.extract_images(f), images_path)
    with open(labels_path, 'rb') as f:
      labels = input_data.extract_labels(f)
    if len(images) != len(labels):
      raise ValueError('%s holds %d images but %s holds %d labels' % (
          images_path, len(images), labels_path, len(labels)))
    splits.append((images, labels))
  return tuple(splits), [str(d) for d in range(10)]


def write_records(path, images, labels):
  """Writes images and labels as one CIFAR-10 binary file.

  Each record is a label byte, then the 1024 red, 1024 green and 1024 blue
  bytes of the image, each plane row by row.

  Args:
    path: the .bin file to write.
    images: uint8 [n, 32, 32, 3].
    labels: integers [n] in 0..9.

  Raises:
    ValueError: wrong shape or type, or a label outside 0..9.
  """
  images, labels = np.asarray(images), np.asarray(labels)
  if images.dtype != np.uint8 or images.shape[1:] != (SIZE, SIZE, 3):
    raise ValueError('images must be uint8 [n, 32, 32, 3], not %s %s' % (
        images.dtype, images.shape))
  if labels.shape != (len(images),):
    raise ValueError('%d labels for %d images' % (labels.size, len(images)))
  if len(labels) and not 0 <= labels.min() <= labels.max() < NUM_CLASSES:
    raise ValueError('labels must be in 0..%d' % (NUM_CLASSES - 1))
  records = np.empty((len(images), RECORD_BYTES), np.uint8)
  records[:, 0] = labels
  # Stored depth-major: [n, 3, 32, 32], the layout the readers expect.
  records[:, 1:] = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
  with open(path, 'wb') as f:
    f.write(records.tobytes())


def _write_tarball(path, folder):
  """Tars folder's files as BATCHES_DIR/<file> into a .tar.gz at path."""
  now = int(time.time())
  # Level 6: nearly the size of level 9 in a fraction of the time.
  with (open(path, 'wb') as raw,
        gzip.GzipFile(fileobj=raw, mode='wb', compresslevel=6,
                      mtime=now) as gz,
        tarfile.open(fileobj=gz, mode='w', format=tarfile.PAX_FORMAT) as tar):
    # Entries owned by nobody in particular, like a published archive.
    info = tarfile.TarInfo(BATCHES_DIR)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, now
    tar.addfile(info)
    for name in sorted(os.listdir(folder)):
      info = tarfile.TarInfo(BATCHES_DIR + '/' + name)
      info.size = os.path.getsize(os.path.join(folder, name))
      info.mode, info.mtime = 0o644, now
      with open(os.path.join(folder, name), 'rb') as f:
        tar.addfile(info, f)


def write_dataset(output_dir, train, test, classes, overwrite=False):
  """Writes a CIFAR-10-style data set: folder, tarball and md5 file.

  Everything is written into a hidden folder inside output_dir and renamed
  into place at the end, so an interrupted run leaves no half data set
  under the final names.

  Args:
    output_dir: where to write (what --data_dir will point at).
    train: (images, labels) split evenly over data_batch_1..5.bin.
    test: (images, labels) for test_batch.bin.
    classes: the class names, for batches.meta.txt.
    overwrite: replace a data set already in output_dir.

  Returns:
    dict with 'dir' (the batches folder), 'tarball', 'md5_file', 'md5' and
    'files' (name -> number of records).

  Raises:
    ValueError: a split is too small for its files, or output_dir already
      holds a data set and overwrite is false.
    OSError: output_dir cannot be written.
  """
  finals = [os.path.join(output_dir, n) for n in (BATCHES_DIR, TARBALL,
                                                  TARBALL + '.md5')]
  if not overwrite and any(os.path.lexists(p) for p in finals):
    raise ValueError('%s already holds a data set (%s); pass --overwrite to '
                     'replace it' % (output_dir, ', '.join(
                         os.path.basename(p) for p in finals
                         if os.path.lexists(p))))
  parts = np.array_split(np.arange(len(train[0])), len(TRAIN_FILES))
  if not len(parts[-1]) or not len(test[0]):
    raise ValueError('Too few images: the five training files and the test '
                     'file each need at least one')
  os.makedirs(output_dir, exist_ok=True)
  tmp = tempfile.mkdtemp(dir=output_dir, prefix='.make_cifar10_dataset.')
  try:
    folder = os.path.join(tmp, BATCHES_DIR)
    os.mkdir(folder)
    files = {}
    for name, part in zip(TRAIN_FILES, parts, strict=True):
      write_records(os.path.join(folder, name), train[0][part],
                    train[1][part])
      files[name] = len(part)
    write_records(os.path.join(folder, TEST_FILE), test[0], test[1])
    files[TEST_FILE] = len(test[0])
    # UTF-8 whatever the system's code page: class names are folder names.
    with open(os.path.join(folder, META_FILE), 'w', encoding='utf-8') as f:
      f.write(''.join(c + '\n' for c in classes))
    _write_tarball(os.path.join(tmp, TARBALL), folder)
    md5 = cifar10_download.file_md5(os.path.join(tmp, TARBALL))
    with open(os.path.join(tmp, TARBALL + '.md5'), 'w',
              encoding='utf-8') as f:
      f.write('%s  %s\n' % (md5, TARBALL))
    # Old outputs go into tmp first (deleted with it), then the new ones
    # take their names.
    for i, path in enumerate(finals):
      if os.path.lexists(path):
        os.replace(path, os.path.join(tmp, 'old%d' % i))
    for path in finals:
      os.replace(os.path.join(tmp, os.path.basename(path)), path)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return {'dir': finals[0], 'tarball': finals[1], 'md5_file': finals[2],
          'md5': md5, 'files': files}


def summary(written, train_labels, test_labels, classes, ignored=()):
  """The report printed after a run: counts, paths and next commands."""
  width = max(5, max(len(c) for c in classes))
  lines = ['Wrote %d training and %d test images of %d classes:' % (
      len(train_labels), len(test_labels), len(classes)),
           '  %-3s %-*s %7s %7s' % ('', width, 'class', 'train', 'test')]
  for label, name in enumerate(classes):
    lines.append('  %-3d %-*s %7d %7d' % (
        label, width, name, np.sum(train_labels == label),
        np.sum(test_labels == label)))
  lines.append('  %-3s %-*s %7d %7d' % ('', width, 'total', len(train_labels),
                                        len(test_labels)))
  if ignored:
    lines.append('Ignored %d file%s that %s not %s: %s%s' % (
        len(ignored), 's' if len(ignored) > 1 else '',
        'are' if len(ignored) > 1 else 'is', '/'.join(IMAGE_EXTENSIONS),
        ', '.join(ignored[:3]), ', ...' if len(ignored) > 3 else ''))
  files = written['files']
  out = cifar10_cli.command_path(os.path.dirname(written['dir']))
  lines += [
      'Data set: %s' % written['dir'],
      '  data_batch_1..5.bin: %s images; %s: %d; %s' % (
          ', '.join(str(files[f]) for f in TRAIN_FILES), TEST_FILE,
          files[TEST_FILE], META_FILE),
      'Tarball:  %s' % written['tarball'],
      'md5:      %s (in %s)' % (written['md5'], written['md5_file']),
      'Next:',
      '  cifar10_train --data_dir %s' % out,
      '  cifar10_eval --data_dir %s --run_once' % out,
      'With only the tarball there (or copied to another machine):',
      '  cifar10_train --data_dir %s --data_md5 %s' % (out, written['md5'])]
  return '\n'.join(lines)


def main(argv=None):
  """Parses the flags and writes the data set; returns the written paths."""
  parser = _parser()
  flags = mnist.parse_flags(parser, argv)
  if flags.mnist_dir and (flags.test_fraction is not None or
                          flags.seed is not None):
    parser.error('--test_fraction and --seed apply to --image_dir only; '
                 'MNIST keeps its own split')
  ignored = ()
  if flags.image_dir:
    print('Reading the images in %s' % flags.image_dir)
    images, labels, classes, ignored = load_image_dir(flags.image_dir)
    train, test = split(images, labels, DEFAULT_TEST_FRACTION
                        if flags.test_fraction is None
                        else flags.test_fraction, flags.seed or 0)
  else:
    (train, test), classes = load_mnist(flags.mnist_dir)
  written = write_dataset(flags.output_dir, train, test, classes,
                          flags.overwrite)
  print(summary(written, train[1], test[1], classes, ignored))
  return written


def run():
  """Entry point of the make_cifar10_dataset command and of the file."""
  cifar10_cli.run_plain(main, PROG)


if __name__ == '__main__':
  run()
