"""The handwriting pad: draw a digit in the browser, a trained model reads it.

The MNIST lab of the course: train a model, then write digits for it with
the mouse, a pen or a finger and watch its ten class probabilities change as
you draw. This program serves the page on your own machine (nothing is
fetched from the network) and answers the page's POST /predict requests
with a restored MNIST checkpoint:

  mnist_deep --max_steps 2000          # or fully_connected_feed
  handwriting_pad                      # then open the URL it prints
  handwriting_pad --model fully_connected_feed --port 8001

(or `python -m mnist.handwriting_pad`, or `python handwriting_pad.py`
inside mnist/). Ctrl-C or SIGTERM stops it with one line.

The drawing is prepared the way the MNIST digits were: the ink's bounding
box is scaled to fit 20x20 pixels keeping its aspect ratio (averaging areas,
so edges get grey levels), and the digit is placed in a 28x28 field with its
centre of mass in the middle (mnist.digit_image.mnist_preprocess). The page
shows that 28x28 image too.

The API: POST /predict with {"pixels": [[...], ...]} (rows of ink values
0-255, at most 256x256, body at most 1 MiB) answers {"probabilities": [10
floats], "prediction": digit, "empty": bool, "image": the 28x28 input};
every bad request gets a 4xx status line and {"error": reason}, and the
server goes on serving. Each request has its thread, and up to 1024
connections wait to be accepted, so a burst of hundreds is answered.

Library use:

 pixels = parse_pixels(json_request)    # checks a POST /predict body
 model = trained_models.load_model(log_dir, 'mnist_deep')
 server = make_server(model, host, port); server.serve_forever()
"""

import argparse
import http
import http.server
import json
import os
import signal
import sys
import urllib.parse

if __name__ == '__main__' and not __package__:
  # Run as a file in mnist/ (`python prog.py`, or `%run prog.py` in a
  # kernel), where mnist.py would shadow the package: the folder above first.
  _HERE = os.path.dirname(os.path.abspath(__file__))
  if sys.path[0] == _HERE:  # Python (and %run) put this folder first.
    del sys.path[0]
  if sys.path[0] != os.path.dirname(_HERE):
    sys.path.insert(0, os.path.dirname(_HERE))
from mnist import commands
from mnist import MODEL_DIRS
from mnist import new_parser
from mnist import parse_flags

PROG = 'handwriting_pad'
MODELS = tuple(MODEL_DIRS)  # What --model may name.


def _port(text):
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError('invalid port: %r' % text) from None
  if not 0 <= value <= 65535:
    raise argparse.ArgumentTypeError('port must be 0-65535, not %d' % value)
  return value


def _parser():
  parser = new_parser(PROG, __doc__)
  parser.add_argument('--model', choices=MODELS, default='mnist_deep',
                      help='Which trainer made the checkpoint (default '
                      '%(default)s); it picks the default --log_dir.')
  parser.add_argument('--log_dir', help='Folder of the checkpoints (the '
                      "trainer's --log_dir). Default: %s for mnist_deep, %s "
                      'for fully_connected_feed.' % (
                          MODEL_DIRS['mnist_deep'],
                          MODEL_DIRS['fully_connected_feed']))
  parser.add_argument('--host', default='127.0.0.1', help='Address to '
                      'listen on (default %(default)s: this machine only; '
                      '0.0.0.0 lets a phone on your network draw).')
  parser.add_argument('--port', type=_port, default=8000,
                      help='Port (default %(default)s; 0 picks a free one).')
  return parser


# Before TensorFlow loads: Ctrl-C, --help and bad flags answered at once.
commands.start_program(__name__, PROG, lambda: parse_flags(_parser()))

import numpy as np
import tensorflow as tf

from mnist import digit_image
from mnist import handwriting_pad_page
from mnist import trained_models
from mnist import training

TRAIN_COMMANDS = {  # How to make a checkpoint, and what it costs.
    'mnist_deep': ('mnist_deep --max_steps 2000',
                   'minutes on 2 CPU cores, about 97-98%'),
    'fully_connected_feed': ('fully_connected_feed',
                             'under a minute, about 90%'),
}
MAX_SIDE = 256  # Largest accepted side of a posted image, in pixels.
MAX_BODY_BYTES = 1 << 20  # Largest accepted request body (1 MiB).
SOCKET_TIMEOUT = 30  # Seconds a client may stall before its thread is freed.
# Connections the kernel holds until the server accepts them; at the
# default of 5 a burst of requests is partly reset.
REQUEST_QUEUE_SIZE = 1024


def parse_pixels(request):
  """Checks a /predict request and returns its pixels.

  Args:
    request: the decoded JSON: {"pixels": [[...], ...]}, rows of numbers
      from 0 (background) to 255 (ink), at most MAX_SIDE a side.

  Returns:
    float64 array [rows, cols].

  Raises:
    ValueError: anything else, with the reason.
  """
  rows = request.get('pixels') if isinstance(request, dict) else None
  if not isinstance(rows, list) or not rows:
    raise ValueError('expected a JSON object {"pixels": [[...], ...]}, a '
                     'list of rows of numbers from 0 to 255')
  if len(rows) > MAX_SIDE or any(not isinstance(r, list) or
                                 not 0 < len(r) <= MAX_SIDE for r in rows):
    raise ValueError('pixels must be a list of 1 to %d rows, each a list of '
                     '1 to %d numbers' % (MAX_SIDE, MAX_SIDE))
  try:
    pixels = np.array(rows)
  except ValueError:  # NumPy refuses rows of different lengths.
    pixels = None
  if pixels is None or pixels.ndim != 2:
    raise ValueError('pixels must be rows of equal length, of plain numbers')
  # Strings, booleans and nulls give other kinds of array.
  if pixels.dtype.kind not in 'iuf':
    raise ValueError('pixels must hold only numbers')
  pixels = pixels.astype(np.float64)
  if not np.all(np.isfinite(pixels)) or pixels.min() < 0 or pixels.max() > 255:
    raise ValueError('pixels must be numbers from 0 to 255')
  return pixels


class _Handler(http.server.BaseHTTPRequestHandler):
  """GET / (the page) and POST /predict; everything else is a 4xx."""

  server_version = 'handwriting_pad/1.0'
  timeout = SOCKET_TIMEOUT
  # http.server starts from HTTP/0.9, whose answers have no status line and
  # no headers; its errors about a bad request line went out that way.
  default_request_version = 'HTTP/1.0'

  def parse_request(self):
    # http.server takes a request line of two words for HTTP/0.9 (a bare
    # page, no status line) and ignores a blank one; nothing speaks HTTP/0.9
    # now, so these are bad requests, answered with a status line.
    words = self.raw_requestline.split()
    if len(words) != 3 or words[2].startswith(b'HTTP/0.'):
      self.command, self.request_version = None, self.default_request_version
      self.requestline = str(self.raw_requestline, 'iso-8859-1').rstrip()
      self.send_error(400, 'bad request line %r: expected METHOD PATH '
                      'HTTP/1.1' % self.requestline)
      return False
    return super().parse_request()

  def send_error(self, code, message=None, explain=None):
    # http.server's own errors (request line, headers, version) in the
    # pad's JSON, like every other answer; the connection closes after.
    del explain  # The message, or the status phrase, says it all.
    self.close_connection = True
    self._json(code, {'error': message or http.HTTPStatus(code).phrase},
               [('Connection', 'close')])

  def _send(self, status, body, content_type, headers=()):
    self.send_response(status)
    self.send_header('Content-Type', content_type)
    self.send_header('Content-Length', str(len(body)))
    self.send_header('Cache-Control', 'no-store')
    for key, value in headers:
      self.send_header(key, value)
    self.end_headers()
    if self.command != 'HEAD':
      self.wfile.write(body)

  def _json(self, status, obj, headers=()):
    self._send(status, json.dumps(obj).encode('utf-8'), 'application/json',
               headers)

  def _error(self, status, message):
    allow = {'/': 'GET, HEAD', '/predict': 'POST'}.get(self._path())
    self._json(status, {'error': message},
               [('Allow', allow)] if status == 405 else ())

  def _path(self):
    return urllib.parse.urlsplit(self.path).path

  def do_GET(self):  # noqa: N802 (the http.server API)
    if self._path() == '/':
      self._send(200, self.server.page, 'text/html; charset=utf-8', [(
          'Content-Security-Policy',
          handwriting_pad_page.CONTENT_SECURITY_POLICY)])
    elif self._path() == '/predict':
      self._error(405, 'POST the pixels to /predict')
    else:
      self._error(404, 'no such page: %s' % self._path())

  do_HEAD = do_GET

  def _not_allowed(self):
    if self._path() in ('/', '/predict'):
      self._error(405, '%s is not allowed on %s' % (self.command,
                                                    self._path()))
    else:
      self._error(404, 'no such page: %s' % self._path())

  def __getattr__(self, name):
    # Every other method (PUT, DELETE, TRACE, made-up ones) gets a 405 here
    # (404 off the two pages), not http.server's 501 Unsupported method.
    if name.startswith('do_'):
      return self._not_allowed
    raise AttributeError(name)

  def _read_body(self):
    """The request body, or None once an error was answered."""
    length = self.headers.get('Content-Length')
    if length is None:
      self._error(411, 'a Content-Length header is required')
      return None
    # ASCII digits only: str.isdigit() accepts a superscript two, which int()
    # refuses.
    if not (length.strip().isascii() and length.strip().isdigit()):
      self._error(400, 'bad Content-Length: %r' % length)
      return None
    if int(length) > MAX_BODY_BYTES:
      # The body stays unread, so the connection cannot be reused.
      self.close_connection = True
      self._error(413, 'body of %s bytes is over the limit of %d' % (
          length, MAX_BODY_BYTES))
      return None
    body = self.rfile.read(int(length))
    if len(body) < int(length):
      self._error(400, 'the body ended after %d of %s bytes' % (len(body),
                                                               length))
      return None
    return body

  def do_POST(self):  # noqa: N802
    if self._path() != '/predict':
      self._not_allowed()
      return
    body = self._read_body()
    if body is None:
      return
    try:
      pixels = parse_pixels(json.loads(body))
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError too.
      self._error(400, str(e))
      return
    except RecursionError:  # '[[[[...' nested thousands deep.
      self._error(400, 'the JSON is nested too deeply')
      return
    image = digit_image.mnist_preprocess(pixels)
    try:
      probabilities = self.server.model.predict(image.reshape(1, -1))[0]
    except tf.errors.OpError as e:
      self._error(500, 'the model failed: %s' % training.error_reason(e))
      return
    self._json(200, {
        'probabilities': [float(p) for p in probabilities],
        'prediction': int(np.argmax(probabilities)),
        'empty': not image.any(),
        'image': np.round(image, 3).tolist(),
    })

  def log_message(self, *args):
    del args  # The page asks several times a second while you draw.


class _Server(http.server.ThreadingHTTPServer):
  """One thread per request, so a stalled client delays no one else."""

  daemon_threads = True  # Ctrl-C need not wait for open connections.
  request_queue_size = REQUEST_QUEUE_SIZE

  def handle_error(self, request, client_address):
    # A client that leaves before its answer is written (a closed tab) is
    # not worth a line; anything else is one line, not a traceback, and
    # the server goes on.
    error = sys.exc_info()[1]
    if not isinstance(error, ConnectionError):
      print('%s: error: answering %s: %s: %s' % (
          PROG, client_address[0], type(error).__name__, error),
            file=sys.stderr, flush=True)


def make_server(model, host='127.0.0.1', port=8000):
  """An HTTP server for the pad, bound but not yet serving.

  Args:
    model: a Model of an MNIST checkpoint (trained_models.load_model).
    host: the address to listen on; 127.0.0.1 keeps it to this machine.
    port: the TCP port; 0 picks a free one (see server.server_address).

  Returns:
    An http.server.ThreadingHTTPServer; call serve_forever(), and shutdown()
    and server_close() to stop it.

  Raises:
    OSError: the address cannot be bound (say, the port is taken).
  """
  server = _Server((host, port), _Handler)
  server.model = model
  server.page = handwriting_pad_page.render(
      model.name, os.path.basename(model.checkpoint), model.step)
  return server


def _interrupt(signum, frame):
  del signum, frame  # Unused.
  raise KeyboardInterrupt


def main(argv=None):
  """Parses flags, restores the model and serves the pad until Ctrl-C.

  Args:
    argv: arguments without the program name; default sys.argv[1:].
  """
  flags = parse_flags(_parser(), argv)
  tf.get_logger().setLevel('ERROR')
  log_dir = flags.log_dir or MODEL_DIRS[flags.model]
  try:
    trained_models.latest_checkpoint(log_dir)
  except ValueError:
    command, cost = TRAIN_COMMANDS[flags.model]
    if flags.log_dir:
      command += ' --log_dir ' + log_dir
    sys.exit('%s: error: no %s checkpoint in %s: train one first with `%s` '
             '(%s), then start the pad again' % (PROG, flags.model, log_dir,
                                                 command, cost))
  try:
    model = trained_models.load_model(log_dir, flags.model)
  except ValueError as e:
    sys.exit('%s: error: %s' % (PROG, e))
  try:
    server = make_server(model, flags.host, flags.port)
  except OSError as e:
    sys.exit('%s: error: cannot listen on %s port %d: %s' % (
        PROG, flags.host, flags.port, e.strerror or e))
  host, port = server.server_address[:2]
  signals = commands.SIGNALS
  previous = {signum: signal.getsignal(signum) for signum in signals}
  try:
    # `kill` (SIGTERM) stops it as cleanly as Ctrl-C. Until now, while
    # nothing is served, mnist.commands' start-up handlers stop it.
    for signum in signals:
      signal.signal(signum, _interrupt)
    print('Serving the handwriting pad for %s (%s) on http://%s:%d/ - press '
          'Ctrl-C to stop.' % (model.name, model.checkpoint,
                               '127.0.0.1' if host == '0.0.0.0' else host,
                               port), flush=True)
    server.serve_forever()
  except KeyboardInterrupt:
    # Closing takes a moment: a second Ctrl-C must not cut it short with
    # a traceback.
    for signum in signals:
      signal.signal(signum, signal.SIG_IGN)
    print('Stopped.', flush=True)
  finally:
    server.server_close()
    model.close()
    for signum, handler in previous.items():
      signal.signal(signum, handler)


def run():
  """Entry point of the handwriting_pad command and of the file."""
  commands.run_and_finish(main)


if __name__ == '__main__':
  run()
