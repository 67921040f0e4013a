"""cifar10/image_files.py: sizes read from headers, bounded decoding, quiet
decoders; and classify_images on huge and broken files as a user runs it."""

import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import tensorflow as tf

from cifar10 import image_files
from mnist import fully_connected_feed
from conftest import REPO, program_env

GIB = 1 << 30


def _png_stream(path, width, height, colour=True):
  """A real PNG of width x height, written a row at a time (little memory)."""
  packer = zlib.compressobj(1)
  row = b'\x00' + (b'\x80\x40\x20' if colour else b'\x80') * width

  def chunk(f, kind, data):
    f.write(struct.pack('>I', len(data)) + kind + data +
            struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))

  with open(path, 'wb') as f:
    f.write(b'\x89PNG\r\n\x1a\n')
    chunk(f, b'IHDR', struct.pack('>IIBBBBB', width, height, 8,
                                  2 if colour else 0, 0, 0, 0))
    chunk(f, b'IDAT', b''.join(packer.compress(row) for _ in range(height))
          + packer.flush())
    chunk(f, b'IEND', b'')
  return str(path)


def _bmp(width, height):
  header = struct.pack('<2sIHHI', b'BM', 0, 0, 0, 54)
  info = struct.pack('<IiiHHIIiiII', 40, width, -height, 1, 24, 0, 0, 0, 0,
                     0, 0)
  return header + info + b'\x00' * (((width * 3 + 3) // 4) * 4 * height)


@pytest.mark.parametrize('encode', ['png', 'jpeg', 'gif', 'bmp'])
def test_image_size_from_the_header(encode):
  pixels = np.zeros((37, 53, 3), np.uint8)
  if encode == 'png':
    data = tf.io.encode_png(pixels).numpy()
  elif encode == 'jpeg':
    data = tf.io.encode_jpeg(pixels).numpy()
  elif encode == 'gif':
    data = (b'GIF89a' + struct.pack('<HH', 53, 37) + b'\x00' * 20)
  else:
    data = _bmp(53, 37)
  assert image_files.image_size(data) == (53, 37)
  if encode in ('png', 'jpeg', 'bmp'):  # And the decoder agrees.
    assert image_files.decode_image(data).shape[:2] == (37, 53)


def test_image_size_of_other_bytes():
  assert image_files.image_size(b'not an image') is None
  assert image_files.image_size(b'\x89PNG\r\n\x1a\n\x00\x00') is None
  assert image_files.image_size(b'\xff\xd8\xff') is None


def test_large_images_are_averaged_down():
  big = np.zeros((2100, 1000, 3), np.uint8)
  big[::2] = 200  # Stripes average to 100.
  out = image_files.decode_image(tf.io.encode_png(big).numpy())
  # 2.1 million pixels: blocks of 2x2 bring them under one million.
  assert out.shape == (1050, 500, 3) and out.dtype == np.uint8
  np.testing.assert_array_equal(out, 100)


def test_huge_png_is_refused_from_its_header_alone():
  header = b'\x89PNG\r\n\x1a\n' + struct.pack('>I', 13) + b'IHDR' + (
      struct.pack('>IIBBBBB', 10000, 10000, 8, 2, 0, 0, 0))
  with pytest.raises(ValueError) as e:
    image_files.decode_image(header + b'never read', 'huge.png')
  assert str(e.value) == (
      'Image huge.png is 10000x10000 pixels, more than the 16 million this '
      'program decodes: scale it down first')


def test_huge_jpeg_is_decoded_smaller():
  pixels = np.full((4100, 4100, 3), 90, np.uint8)  # 16.8 million pixels.
  data = tf.io.encode_jpeg(pixels, quality=50).numpy()
  out = image_files.decode_image(data, 'big.jpg')
  # Decoded at half size (2050x2050), then averaged down under a million
  # pixels: blocks of 2x2 would leave 1025x1025, so 3x3.
  assert out.shape == (683, 683, 3)
  assert abs(int(out.mean()) - 90) <= 2


@pytest.fixture(scope='module')
def checkpoint_dir(tmp_path_factory):
  # The program's own training function, in this process: the checkpoint
  # the program writes, without a TensorFlow start-up of its own.
  folder = str(tmp_path_factory.mktemp('fc'))
  fully_connected_feed.run_training(None, folder, max_steps=2,
                                    fake_data=True)
  return folder


# Runs the program as the child of a small interpreter and reports the
# child's peak RSS. Measured from pytest directly, the figure would include
# pytest's own memory: Linux keeps the peak of the image a process replaced
# at exec, and subprocess starts children with vfork, which shares pytest's.
_MEASURE = (
    'import resource, subprocess, sys\n'
    'status = subprocess.call(sys.argv[1:])\n'
    'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n'
    'sys.exit(status)\n')


def _peak_rss_of(args):
  """Runs `python -m cifar10.classify_images args`; (status, stderr, bytes)."""
  proc = subprocess.run(
      [sys.executable, '-c', _MEASURE, sys.executable, '-m',
       'cifar10.classify_images'] + args, cwd=REPO, env=program_env(),
      capture_output=True, text=True, check=False)
  return (proc.returncode, proc.stderr,
          int(proc.stdout.splitlines()[-1]) * 1024)


def test_huge_images_keep_memory_bounded(checkpoint_dir, tmp_path):
  # Pytest itself holding more than the bound must not count against the
  # program (it did, once, measured the plain way).
  ballast = np.ones(GIB + (64 << 20), np.uint8)
  grey = _png_stream(tmp_path / 'grey.png', 10000, 10000, colour=False)
  colour = _png_stream(tmp_path / 'colour.png', 10000, 10000)
  jpeg = str(tmp_path / 'photo.jpg')
  with open(jpeg, 'wb') as f:
    f.write(tf.io.encode_jpeg(np.full((8000, 8000, 3), 200, np.uint8),
                              quality=50).numpy())
  # Both refused in one run (its peak bounds each), saving a start-up.
  status, err, peak = _peak_rss_of(['--checkpoint_dir', checkpoint_dir,
                                    grey, colour])
  lines = err.strip().splitlines()
  assert status == 1 and 'Traceback' not in err
  for path in (grey, colour):
    assert ('classify_images: error: image %s is 10000x10000 pixels, more '
            'than the 16 million this program decodes: scale it down first'
            % path) in lines
  assert peak < GIB, peak
  status, err, peak = _peak_rss_of(['--checkpoint_dir', checkpoint_dir, jpeg])
  assert status == 0, err
  assert peak < GIB, peak
  del ballast


def test_decoder_noise_stays_out_of_the_error(checkpoint_dir, tmp_path):
  data = tf.io.encode_jpeg(np.full((64, 64, 3), 128, np.uint8)).numpy()
  broken = tmp_path / 'broken.jpg'
  broken.write_bytes(data[:len(data) // 2])  # libjpeg complains on stderr.
  status, err, _ = _peak_rss_of(['--checkpoint_dir', checkpoint_dir,
                                 str(broken)])
  lines = err.strip().splitlines()
  assert status == 1 and 'Traceback' not in err
  # The model line, the file's one line, the summary: nothing of libjpeg's
  # or TensorFlow's own ('Premature end', '{{function_node').
  assert len(lines) == 3, lines
  assert lines[1].startswith('classify_images: error: cannot decode image '
                             '%s: ' % broken)
  assert 'function_node' not in err and 'Premature' not in err
