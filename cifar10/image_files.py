"""Your own image files, decoded safely, and made CIFAR-10 sized.

make_cifar10_dataset turns folders of images into a data set, and
classify_images classifies image files; both read them here.

Summary of available functions:

 files = find_images(paths)              # files as given, folders' images
 image = decode_image(contents, name)    # uint8 [height, width, channels]
 image = to_cifar_image(contents, name)  # uint8 [32, 32, 3]

Files are PNG, JPEG, GIF or BMP. A file that is not an image, or is damaged,
raises ValueError naming it.
"""

import os
import re

import numpy as np

SIZE = 32  # CIFAR-10 images are 32x32 RGB.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.gif', '.bmp')


def find_images(paths):
  """The image files to read: files as given, folders' images sorted.

  Args:
    paths: files and folders. A file is taken whatever its extension; a
      folder gives its PNG/JPEG/GIF/BMP files (not its sub-folders'),
      hidden ones skipped.

  Returns:
    A list of file paths.

  Raises:
    ValueError: a path does not exist, or a folder holds no images.
  """
  files = []
  for path in paths:
    if os.path.isdir(path):
      found = [os.path.join(path, n) for n in sorted(os.listdir(path))
               if not n.startswith('.') and
               n.lower().endswith(IMAGE_EXTENSIONS)
               and os.path.isfile(os.path.join(path, n))]
      if not found:
        raise ValueError('%s holds no images (%s)' % (
            path, '/'.join(IMAGE_EXTENSIONS)))
      files += found
    elif os.path.isfile(path):
      files.append(path)
    else:
      raise ValueError('%s does not exist' % path)
  return files


def decode_image(contents, name='<image>', channels=0):
  """Decodes a PNG, JPEG, GIF or BMP file's bytes (a GIF's first frame).

  Args:
    contents: the file's bytes.
    name: the file's name, for the error message.
    channels: 0 for the file's own (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA),
      or 1 or 3 to convert.

  Returns:
    uint8 numpy array [height, width, channels].

  Raises:
    ValueError: the bytes are not an image TensorFlow can decode.
  """
  import tensorflow as tf  # Only decoding needs it; MNIST files are numpy.
  try:
    image = tf.io.decode_image(contents, channels=channels,
                               expand_animations=False)
  except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
    # Keep the reason, not the op's '{{function_node ...}} ... [Op:...]'.
    reason = re.sub(r'\{\{.*?\}\}|\[Op:\w+\]', '', e.message or '')
    reason = reason.strip().split('\n')[0]
    raise ValueError('Cannot decode image %s: %s' % (
        name, reason or type(e).__name__)) from None
  return image.numpy()


def to_cifar_image(contents, name='<image>'):
  """Decodes an encoded image and makes it a uint8 [32, 32, 3] RGB array.

  The shorter side is scaled to 32 pixels (antialiased), then the longer
  one centre-cropped; a 32x32 image comes out unchanged. Grey becomes RGB,
  alpha is dropped, and an animated GIF gives its first frame.

  Args:
    contents: the bytes of a PNG, JPEG, GIF or BMP file.
    name: the file's name, for the error message.

  Returns:
    uint8 numpy array [32, 32, 3].

  Raises:
    ValueError: TensorFlow cannot decode the bytes.
  """
  import tensorflow as tf
  image = decode_image(contents, name, channels=3)
  height, width = image.shape[:2]
  if min(height, width) != SIZE:
    scale = SIZE / min(height, width)
    height = max(SIZE, int(round(height * scale)))
    width = max(SIZE, int(round(width * scale)))
    resized = tf.image.resize(image, [height, width], antialias=True)
    image = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255),
                    tf.uint8).numpy()
  top, left = (height - SIZE) // 2, (width - SIZE) // 2
  return np.ascontiguousarray(image[top:top + SIZE, left:left + SIZE])
