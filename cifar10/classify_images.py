"""Classifies your own image files with a trained MNIST or CIFAR-10 model.

  classify_images --model mnist_deep digit.png more/
  classify_images --checkpoint_dir /tmp/cifar10_train \
      --top_k 5 cat.jpg

prints one line per file, the --top_k classes best first, with their
probabilities (the model is named on stderr, so stdout is just the lines):

  digit.png: 7 (1.000), 3 (0.000), 2 (0.000) [inverted: dark on light]
  cat.jpg: cat (0.613), dog (0.201), deer (0.070)

The model (mnist_deep, fully_connected_feed, cifar10 or vgg16) is read from
the checkpoint; --model only picks the trainer's default folder when
--checkpoint_dir is not given, and insists on that model. Files are PNG,
JPEG, GIF or BMP; a folder means the image files in it.

MNIST models: the image becomes grey (transparent parts count as white
paper). MNIST digits are white on black, so an image whose border is mostly
light is inverted, and its line says so. The background level is
subtracted, then mnist.digit_image's mnist_preprocess makes it an MNIST
digit: its bounding box scaled into 20x20, centre of mass in the middle of
28x28.

CIFAR-10 models: the image is scaled so its shorter side is 32 pixels and
centre-cropped to 32x32, as make_cifar10_dataset does for a data set, then
the model sees the 24x24 centre, standardized, as in cifar10_eval, with the
moving averages of the weights. Class names come from batches.meta.txt in
--data_dir (a data set of your own), else they are CIFAR-10's.

Library use:

 files = image_files.find_images(paths)     # folders expanded, sorted
 ink, inverted = ink_image(contents, name)  # grey, ink high, background 0
 names = class_names(model_name, data_dir)
 results = classify(model, files, top_k)    # (file, top, note or error)
"""

import os
import sys

if __name__ == '__main__' and not __package__:
  # Run as a file in cifar10/ (`python prog.py`, or `%run prog.py` in a
  # kernel), where cifar10.py would shadow the package: the folder above first.
  _HERE = os.path.dirname(os.path.abspath(__file__))
  if sys.path[0] == _HERE:  # Python (and %run) put this folder first.
    del sys.path[0]
  if sys.path[0] != os.path.dirname(_HERE):
    sys.path.insert(0, os.path.dirname(_HERE))
from cifar10 import cifar10_cli
from mnist import int_at_least
from mnist import MODEL_DIRS
from mnist import new_parser
from mnist import parse_flags

PROG = 'classify_images'
# What --model may name: the MNIST trainers' models, then cifar10_train's.
MODELS = tuple(MODEL_DIRS) + cifar10_cli.MODELS


def _parser():
  parser = new_parser(PROG, __doc__)
  parser.add_argument('paths', nargs='+', metavar='FILE_OR_FOLDER',
                      help='Image files (PNG/JPEG/GIF/BMP) or folders of '
                      'them.')
  parser.add_argument('--checkpoint_dir', help='Folder of the checkpoints '
                      "(the trainer's --log_dir or --train_dir) or one "
                      "checkpoint. Default: --model's default folder.")
  parser.add_argument('--model', choices=MODELS,
                      help='The model the checkpoint must hold (default: '
                      'whichever it holds).')
  parser.add_argument('--top_k', type=int_at_least(1), default=3,
                      help='Classes to print per file (default %(default)s, '
                      'at most 10).')
  parser.add_argument('--data_dir', help='CIFAR-10 models: the data set '
                      'folder whose batches.meta.txt names the classes '
                      "(default: CIFAR-10's names).")
  parser.add_argument('--mixed_precision', action='store_true',
                      help='16-bit arithmetic where it is faster: bfloat16 '
                      'on CPUs with AVX-512 BF16 or AMX, float16 on GPUs '
                      '(elsewhere it says why and stays float32).')
  return parser


def _flags(argv=None):
  """The parsed command line; exits on --help or a bad flag, as argparse."""
  parser = _parser()
  flags = parse_flags(parser, argv)
  if flags.checkpoint_dir is None and flags.model is None:
    parser.error('give --checkpoint_dir, or --model to use its trainer\'s '
                 'default folder')
  return flags


# Before TensorFlow loads: Ctrl-C, --help and bad flags answered at once.
cifar10_cli.start_program(__name__, PROG, _flags)

import numpy as np
import tensorflow as tf

from cifar10 import cifar10_download
from cifar10 import cifar10_input
from cifar10 import image_files
from cifar10 import mixed_precision
from cifar10 import trained_models
from mnist import digit_image

CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                   'frog', 'horse', 'ship', 'truck')  # Labels 0..9.
BATCH_SIZE = 64  # Images per session run.
INVERTED_NOTE = '[inverted: dark on light]'


def ink_image(contents, name='<image>'):
  """Decodes an image into grey ink on a zero background, MNIST's way up.

  Args:
    contents: the bytes of a PNG, JPEG, GIF or BMP file.
    name: the file's name, for the error message.

  Returns:
    (ink, inverted): float64 [height, width], ink high and the background
    (the median of the border pixels) at 0; and whether the image was dark
    on light, so inverted.

  Raises:
    ValueError: the bytes are not an image that can be decoded (see
      image_files.decode_image).
  """
  try:
    image = image_files.decode_image(contents, name)
  except ValueError as e:
    # This program's lines go on in lower case ('cannot read ...').
    raise ValueError(str(e)[:1].lower() + str(e)[1:]) from None
  return digit_image.ink_of(image)


def class_names(model_name, data_dir=None):
  """The ten class names of a model's outputs.

  Args:
    model_name: one of trained_models.MODELS.
    data_dir: for CIFAR-10 models, a folder with batches.meta.txt (itself or
      its cifar-10-batches-bin), as written by make_cifar10_dataset; None
      for CIFAR-10's own names.

  Returns:
    A list of 10 strings ('0'..'9' for MNIST); classes the file does not
    name are called 'class <n>'.

  Raises:
    ValueError: data_dir holds no batches.meta.txt.
  """
  if model_name in trained_models.MNIST_MODELS:
    return [str(d) for d in range(10)]
  if data_dir is None:
    return list(CIFAR10_CLASSES)
  for folder in (data_dir, os.path.join(data_dir,
                                        cifar10_download.BATCHES_DIR)):
    path = os.path.join(folder, cifar10_input.META_FILE)
    if os.path.isfile(path):
      with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f if line.strip()][:10]
      return names + ['class %d' % i for i in range(len(names), 10)]
  raise ValueError('no %s in %s or its %s' % (
      cifar10_input.META_FILE, data_dir,
      cifar10_download.BATCHES_DIR))


def _model_input(model_name, path):
  """(input array, note) for one file; raises ValueError or OSError."""
  with open(path, 'rb') as f:
    contents = f.read()
  if model_name in trained_models.MNIST_MODELS:
    ink, inverted = ink_image(contents, path)
    digit = digit_image.mnist_preprocess(ink)
    return digit.reshape(-1), INVERTED_NOTE if inverted else ''
  try:
    return image_files.to_cifar_image(contents, path), ''
  except ValueError as e:
    raise ValueError(str(e)[:1].lower() + str(e)[1:]) from None


def top_classes(probabilities, names, k):
  """The k most probable classes, best first, as (name, probability)."""
  order = np.argsort(-probabilities, kind='stable')[:k]
  return [(names[i], float(probabilities[i])) for i in order]


def classify(model, files, top_k=3, names=None):
  """Classifies image files with a restored model.

  Args:
    model: a trained_models.Model.
    files: image file paths.
    top_k: classes to report per file.
    names: the ten class names (default class_names(model.name)).

  Returns:
    A list, in the order of files, of (path, top, note): top is a list of
    (class name, probability) pairs, best first, and note is '' or
    INVERTED_NOTE; for a file that cannot be read, top is None and note the
    error message.
  """
  names = names or class_names(model.name)
  results, batch = [], []

  def flush():
    if batch:
      probabilities = model.predict(np.stack([x for _, x, _ in batch]))
      for (i, _, note), p in zip(batch, probabilities, strict=True):
        results[i] = (files[i], top_classes(p, names, top_k), note)
      del batch[:]

  for i, path in enumerate(files):
    results.append(None)
    try:
      inputs, note = _model_input(model.name, path)
    except ValueError as e:
      results[i] = (path, None, str(e))
      continue
    except OSError as e:
      results[i] = (path, None, 'cannot read %s: %s' % (
          path, e.strerror or e))
      continue
    batch.append((i, inputs, note))
    if len(batch) == BATCH_SIZE:
      flush()
  flush()
  return results


def format_line(path, top, note=''):
  """'path: name (0.981), name (0.012), ... [note]'."""
  line = '%s: %s' % (path, ', '.join('%s (%.3f)' % (name, p)
                                     for name, p in top))
  return line + (' ' + note if note else '')


def main(argv=None):
  """Parses flags, restores the model and prints a line per image.

  Exits with status 1 when a file could not be classified (the others are
  still printed).

  Args:
    argv: arguments without the program name; default sys.argv[1:].
  """
  flags = _flags(argv)
  tf.get_logger().setLevel('ERROR')
  checkpoint_dir = (flags.checkpoint_dir or
                    trained_models.DEFAULT_DIRS[flags.model])
  try:
    files = image_files.find_images(flags.paths)
    try:
      trained_models.latest_checkpoint(checkpoint_dir)
    except ValueError as e:
      raise ValueError('%s: train a model first (mnist_deep, '
                       'fully_connected_feed or cifar10_train) or point '
                       '--checkpoint_dir at its folder' % e) from None
    mode = mixed_precision.choose(flags.mixed_precision, PROG,
                                  training=False)
    model = trained_models.load_model(checkpoint_dir, flags.model, mode)
    names = class_names(model.name, flags.data_dir)
  except ValueError as e:
    sys.exit('%s: error: %s' % (PROG, e))
  print('%s: %s model from %s' % (PROG, model.name, model.checkpoint),
        file=sys.stderr)
  failed = 0
  for path, top, note in classify(model, files, min(flags.top_k, 10), names):
    if top is None:
      failed += 1
      print('%s: error: %s' % (PROG, note), file=sys.stderr)
    else:
      print(format_line(path, top, note))
  model.close()
  if failed:
    sys.exit('%s: error: %d of %d files could not be classified' % (
        PROG, failed, len(files)))


def run():
  """Entry point of the classify_images command and of the file."""
  cifar10_cli.run_plain(main, PROG)


if __name__ == '__main__':
  run()
