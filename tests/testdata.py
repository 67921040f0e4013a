"""Small data sets in the exact on-disk formats, and a local HTTP server.

Tests never touch the internet or ../shared at import time; they build what
they need here:

  write_cifar10_bin(path, labels, images)      # records of 1 + 3072 bytes
  cifar_dir = make_cifar10_dir(root, n=100)    # <root>/cifar-10-batches-bin
  write_idx_images(path, images)               # MNIST idx3, gzip or raw
  write_idx_labels(path, labels)               # MNIST idx1
  make_mnist_dir(root, n_train, n_test)        # the four gzip files
  with serve({'/f.gz': data}) as server: ...   # http://127.0.0.1:<port>/f.gz

The synthetic images carry a class signal a model can learn (each class has
its own colour, and for MNIST its own stroke position), so learning tests
can demand precision far above chance.
"""

import contextlib
import gzip
import http.server
import os
import struct
import threading

import numpy as np

CIFAR_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                 'frog', 'horse', 'ship', 'truck']

# Ten well separated colours: per-image standardization and random
# brightness/contrast keep the differences between channels, so the colour
# stays learnable after the training distortions.
_PALETTE = np.array([
    [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255],
    [0, 255, 255], [255, 128, 0], [128, 0, 255], [0, 128, 64],
    [255, 255, 255]], dtype=np.float32)


def cifar10_images(labels, seed=0, signal=0.6):
  """uint8 [n, 32, 32, 3] images: noise blended with each label's colour."""
  rng = np.random.RandomState(seed)
  labels = np.asarray(labels)
  noise = rng.uniform(0, 255, size=(len(labels), 32, 32, 3))
  colour = _PALETTE[labels][:, None, None, :]
  images = (1.0 - signal) * noise + signal * colour
  return np.clip(np.round(images), 0, 255).astype(np.uint8)


def cifar10_records(labels, images):
  """The bytes of CIFAR-10 binary records: label, then R, G, B planes."""
  images = np.asarray(images, dtype=np.uint8)
  planes = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
  out = np.empty((len(images), 3073), dtype=np.uint8)
  out[:, 0] = np.asarray(labels, dtype=np.uint8)
  out[:, 1:] = planes
  return out.tobytes()


def write_cifar10_bin(path, labels, images):
  """Writes one CIFAR-10 .bin file and returns its path."""
  with open(path, 'wb') as f:
    f.write(cifar10_records(labels, images))
  return path


def make_cifar10_dir(root, n=100, n_test=None, seed=0, signal=0.6,
                     flat=False):
  """Makes <root>/cifar-10-batches-bin with five training files and a test file.

  Args:
    root: the data directory (what --data_dir points at).
    n: records in each training file.
    n_test: records in test_batch.bin (default n).
    seed: random seed for labels and noise.
    signal: how strongly each image shows its class colour (0 = pure noise).
    flat: every image one grey level instead, which per-image
      standardization turns into zeros whatever the distortions: nothing
      to learn, so training cannot diverge (for tests of what happens
      around training: faults, signals, locks).

  Returns:
    dict with 'dir' (the batches folder), 'train' and 'test', each a
    (labels, images) pair in file order.
  """
  n_test = n if n_test is None else n_test
  folder = os.path.join(root, 'cifar-10-batches-bin')
  os.makedirs(folder, exist_ok=True)
  rng = np.random.RandomState(seed)
  all_labels, all_images = [], []
  names = ['data_batch_%d.bin' % i for i in range(1, 6)] + ['test_batch.bin']
  for i, name in enumerate(names):
    count = n_test if name == 'test_batch.bin' else n
    labels = rng.randint(0, 10, size=count).astype(np.uint8)
    images = cifar10_images(labels, seed=seed * 100 + i, signal=signal)
    if flat:
      images = np.broadcast_to(images.mean(axis=(1, 2, 3), keepdims=True),
                               images.shape).astype(np.uint8)
    write_cifar10_bin(os.path.join(folder, name), labels, images)
    all_labels.append(labels)
    all_images.append(images)
  with open(os.path.join(folder, 'batches.meta.txt'), 'w') as f:
    f.write('\n'.join(CIFAR_CLASSES) + '\n\n')
  return {
      'dir': folder,
      'train': (np.concatenate(all_labels[:5]), np.concatenate(all_images[:5])),
      'test': (all_labels[5], all_images[5]),
  }


def _open(path, gz):
  return gzip.open(path, 'wb') if gz else open(path, 'wb')


def write_idx_images(path, images, gz=True, magic=2051, count=None):
  """Writes uint8 images [n, rows, cols] as an idx3 file (gzip by default).

  magic and count may be overridden to build broken files.
  """
  images = np.asarray(images, dtype=np.uint8)
  n, rows, cols = images.shape[:3]
  with _open(path, gz) as f:
    f.write(struct.pack('>IIII', magic, n if count is None else count,
                        rows, cols))
    f.write(images.tobytes())
  return path


def write_idx_labels(path, labels, gz=True, magic=2049, count=None):
  """Writes uint8 labels [n] as an idx1 file (gzip by default)."""
  labels = np.asarray(labels, dtype=np.uint8)
  with _open(path, gz) as f:
    f.write(struct.pack('>II', magic, len(labels) if count is None else count))
    f.write(labels.tobytes())
  return path


def mnist_images(labels, seed=0):
  """uint8 [n, 28, 28] digits: noise plus a bright bar placed by the label."""
  rng = np.random.RandomState(seed)
  labels = np.asarray(labels)
  images = rng.randint(0, 60, size=(len(labels), 28, 28)).astype(np.uint8)
  for i, label in enumerate(labels):
    row = 2 + 2 * int(label)
    images[i, row:row + 3, 4:24] = 255
  return images


MNIST_FILES = ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
               't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')


def make_mnist_dir(root, n_train=600, n_test=100, seed=0):
  """Writes the four MNIST gzip files into root; returns their arrays."""
  os.makedirs(root, exist_ok=True)
  rng = np.random.RandomState(seed)
  train_labels = rng.randint(0, 10, size=n_train).astype(np.uint8)
  test_labels = rng.randint(0, 10, size=n_test).astype(np.uint8)
  train_images = mnist_images(train_labels, seed=seed + 1)
  test_images = mnist_images(test_labels, seed=seed + 2)
  write_idx_images(os.path.join(root, MNIST_FILES[0]), train_images)
  write_idx_labels(os.path.join(root, MNIST_FILES[1]), train_labels)
  write_idx_images(os.path.join(root, MNIST_FILES[2]), test_images)
  write_idx_labels(os.path.join(root, MNIST_FILES[3]), test_labels)
  return {'train': (train_images, train_labels),
          'test': (test_images, test_labels)}


class _Handler(http.server.BaseHTTPRequestHandler):
  """Serves server.routes: path -> bytes, or (bytes, mode).

  Modes: 'ok'; 'truncate' announces the full Content-Length but sends half
  and closes; 'error' answers 500.
  """

  def do_GET(self):  # noqa: N802 (the http.server API)
    self.server.requests.append(self.path)
    route = self.server.routes.get(self.path)
    if route is None:
      self.send_error(404)
      return
    body, mode = route if isinstance(route, tuple) else (route, 'ok')
    if mode == 'error':
      self.send_error(500)
      return
    self.send_response(200)
    self.send_header('Content-Length', str(len(body)))
    self.end_headers()
    if mode == 'truncate':
      self.wfile.write(body[:len(body) // 2])
      self.wfile.flush()
      self.close_connection = True
      return
    self.wfile.write(body)

  def log_message(self, *args):
    del args  # keep test output clean


@contextlib.contextmanager
def serve(routes):
  """Runs an HTTP server on 127.0.0.1 (a free port) for the with-block.

  Args:
    routes: dict of URL path -> bytes or (bytes, mode); may be changed while
      the server runs.

  Yields:
    The server; server.url is its base URL, server.requests the paths asked.
  """
  server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
  server.routes = routes
  server.requests = []
  server.url = 'http://127.0.0.1:%d' % server.server_address[1]
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield server
  finally:
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def closed_port_url(path='/'):
  """A URL on 127.0.0.1 where nothing listens (for offline tests)."""
  import socket
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
  return 'http://127.0.0.1:%d%s' % (port, path)
