"""Your own image files, decoded safely, and made CIFAR-10 sized.

make_cifar10_dataset turns folders of images into a data set, and
classify_images classifies image files; both read them here.

Summary of available functions:

 files = find_images(paths)              # files as given, folders' images
 width, height = image_size(contents)    # from the header, or None
 image = decode_image(contents, name)    # uint8 [height, width, channels]
 image = to_cifar_image(contents, name)  # uint8 [32, 32, 3]

Files are PNG, JPEG, GIF or BMP. A file that is not an image, or is damaged,
raises ValueError naming it. Memory stays bounded whatever the file claims:
the size is read from the header before anything is decoded; a JPEG of
more than MAX_DECODE_PIXELS is decoded at 1/2, 1/4 or 1/8 of its size, any
other such image refused; and a decoded image of more than MAX_PIXELS is
averaged down by a whole factor at once (every use here ends at 32x32 or
28x28).
"""

import contextlib
import glob
import os
import re
import struct

import numpy as np

SIZE = 32  # CIFAR-10 images are 32x32 RGB.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.gif', '.bmp')
MAX_DECODE_PIXELS = 16000000  # Decoded at most: 64 MB as RGBA.
MAX_PIXELS = 1000000  # Kept after decoding: plenty for 32x32 or 28x28.
# JPEG start-of-frame markers (not DHT 0xC4, JPG 0xC8, DAC 0xCC).
_JPEG_FRAMES = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def find_images(paths):
  """The image files to read: files as given, folders' images sorted.

  Args:
    paths: files and folders. A file is taken whatever its extension; a
      folder gives its PNG/JPEG/GIF/BMP files (not its sub-folders'),
      hidden ones skipped. A pattern such as *.jpg that names no file is
      expanded here: Windows' cmd and PowerShell leave that to the program.

  Returns:
    A list of file paths.

  Raises:
    ValueError: a path does not exist (nor does a pattern match), or a
      folder holds no images.
  """
  files = []
  for path in paths:
    if not os.path.exists(path) and any(c in path for c in '*?['):
      matched = sorted(glob.glob(path))
      if not matched:
        raise ValueError('no file matches %s' % path)
      files += find_images(matched)
    elif os.path.isdir(path):
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


def image_size(contents):
  """(width, height) from a PNG, GIF, BMP or JPEG header, or None.

  Args:
    contents: the file's bytes (the start is enough).
  """
  try:
    if contents[:8] == b'\x89PNG\r\n\x1a\n' and contents[12:16] == b'IHDR':
      return struct.unpack('>II', contents[16:24])
    if contents[:6] in (b'GIF87a', b'GIF89a'):
      return struct.unpack('<HH', contents[6:10])
    if contents[:2] == b'BM':
      if struct.unpack('<I', contents[14:18])[0] == 12:  # OS/2 header.
        return struct.unpack('<HH', contents[18:22])
      width, height = struct.unpack('<ii', contents[18:26])
      return abs(width), abs(height)  # Negative height: top-down rows.
    if contents[:2] == b'\xff\xd8':
      return _jpeg_size(contents)
  except struct.error:  # Shorter than its header.
    return None
  return None


def _jpeg_size(contents):
  """Walks the JPEG segments to the frame header: (width, height)."""
  at = 2
  while at + 4 <= len(contents):
    if contents[at] != 0xFF:
      return None
    marker = contents[at + 1]
    if marker == 0xFF:  # Fill byte.
      at += 1
      continue
    if marker in (0x01,) or 0xD0 <= marker <= 0xD9:  # No length.
      at += 2
      continue
    length = struct.unpack('>H', contents[at + 2:at + 4])[0]
    if marker in _JPEG_FRAMES:
      height, width = struct.unpack('>HH', contents[at + 5:at + 9])
      return width, height
    at += 2 + length
  return None


@contextlib.contextmanager
def _quiet_stderr():
  """Keeps the C decoders' own messages ('Premature end of JPEG file') off
  the terminal: the Python error says what went wrong, once."""
  try:
    saved = os.dup(2)
  except OSError:
    yield
    return
  try:
    with open(os.devnull, 'wb') as null:
      os.dup2(null.fileno(), 2)
      yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)


def _reduce(image, max_pixels=MAX_PIXELS):
  """Averages blocks of k x k pixels, k the least that brings the image
  down to max_pixels (edges that do not fill a block are cut)."""
  height, width = image.shape[:2]
  k = 1
  while (height // k) * (width // k) > max_pixels:
    k += 1
  if k == 1:
    return image
  rows, cols = height // k, width // k
  blocks = image[:rows * k, :cols * k].reshape(rows, k, cols, k, -1)
  return np.round(blocks.mean(axis=(1, 3), dtype=np.float32)).astype(
      np.uint8)


def decode_image(contents, name='<image>', channels=0):
  """Decodes a PNG, JPEG, GIF or BMP file's bytes (a GIF's first frame).

  Args:
    contents: the file's bytes.
    name: the file's name, for the error message.
    channels: 0 for the file's own (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA),
      or 1 or 3 to convert.

  Returns:
    uint8 numpy array [height, width, channels], at most MAX_PIXELS (a
    larger image is averaged down by a whole factor).

  Raises:
    ValueError: the bytes are not an image TensorFlow can decode, or one
      too large to decode (the message gives its size).
  """
  import tensorflow as tf  # Only decoding needs it; MNIST files are numpy.
  size, ratio = image_size(contents), 1
  if size and size[0] * size[1] > MAX_DECODE_PIXELS:
    # libjpeg can decode at 1/2, 1/4 or 1/8 of the size: the least enough.
    while ratio < 8 and size[0] * size[1] / ratio ** 2 > MAX_DECODE_PIXELS:
      ratio *= 2
    if contents[:2] != b'\xff\xd8' or (
        size[0] * size[1] / ratio ** 2 > MAX_DECODE_PIXELS):
      raise ValueError(
          'Image %s is %dx%d pixels, more than the %d million this program '
          'decodes: scale it down first' % (name, size[0], size[1],
                                            MAX_DECODE_PIXELS // 1000000))
  try:
    with _quiet_stderr():
      if ratio > 1:  # A large JPEG: libjpeg decodes it smaller directly.
        image = tf.io.decode_jpeg(contents, channels=channels, ratio=ratio)
      else:
        image = tf.io.decode_image(contents, channels=channels,
                                   expand_animations=False)
  except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
    # Keep the reason, not the op's '{{function_node ...}} ... [Op:...]'.
    reason = re.sub(r'\{\{.*?\}\}|\[Op:\w+\]', '', e.message or '')
    reason = reason.strip().split('\n')[0]
    raise ValueError('Cannot decode image %s: %s' % (
        name, reason or type(e).__name__)) from None
  return _reduce(image.numpy())


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
