"""Tests of mnist/handwriting_pad.py: mnist_preprocess (mnist.digit_image)
against NumPy, the HTTP API on a real local server (good and bad requests)
and the program as a subprocess. The page in a real browser:
test_handwriting_pad_browser.py."""

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, program_env, run_program

import testdata
from mnist import digit_image, fully_connected_feed, input_data, mnist_deep
from mnist import handwriting_pad as hp
from mnist import trained_models
from mnist.digit_image import mnist_preprocess


def _com(image):
  total = image.sum()
  return (np.arange(image.shape[0]) @ image.sum(axis=1) / total,
          np.arange(image.shape[1]) @ image.sum(axis=0) / total)


def _box(image):
  rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
  return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def _stroke(shape, points, width):
  """Binary ink within width/2 of the polyline through points (x, y)."""
  y, x = np.mgrid[:shape[0], :shape[1]] + 0.5
  ink = np.zeros(shape, bool)
  for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=True):
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((x - x0) * dx + (y - y0) * dy) / max(dx * dx + dy * dy,
                                                      1e-9), 0, 1)
    ink |= np.hypot(x - x0 - t * dx, y - y0 - t * dy) <= width / 2
  return ink.astype(np.float64)


SEVEN = [(40, 40), (160, 40), (80, 190)]
STROKES = {  # Shapes of digits on a 200x200 canvas, some off-centre.
    'seven': SEVEN,
    'one_in_corner': [(20, 10), (22, 80)],
    'curve': [(150, 120), (180, 140), (190, 170), (170, 195), (130, 190)],
    'zero': [(100 + 40 * np.sin(a), 100 + 70 * np.cos(a))
             for a in np.linspace(0, 2 * np.pi, 25)],
}


@pytest.mark.parametrize('shape, expected', [
    ((200, 10), (20, 1)),    # a tall thin stroke: 20 high
    ((100, 50), (20, 10)),
    ((30, 120), (5, 20)),
    ((7, 7), (20, 20)),      # small ones are enlarged
])
def test_bounding_box_fits_20x20_keeping_aspect(shape, expected):
  gray = np.zeros((300, 300))
  gray[60:60 + shape[0], 90:90 + shape[1]] = 0.7
  out = mnist_preprocess(gray)
  assert out.shape == (28, 28) and out.dtype == np.float32
  assert _box(out) == expected
  assert out.max() == 1.0


def test_area_averaging_against_numpy():
  rng = np.random.RandomState(0)
  gray = rng.rand(30, 30)
  gray[0, 0] = gray[-1, -1] = 1.0  # The bounding box is the whole image.
  # 30 -> 20 pixels: output pixel i averages input span [1.5 i, 1.5 i + 1.5);
  # doubling each pixel and averaging blocks of 3 computes the same.
  expected = np.kron(gray, np.ones((2, 2))).reshape(20, 3, 20, 3).mean((1, 3))
  expected /= expected.max()
  out = mnist_preprocess(gray, threshold=0.0)
  top, left = [int(np.floor(14 - c + 0.5)) for c in _com(expected)]
  np.testing.assert_allclose(out[top:top + 20, left:left + 20], expected,
                             atol=1e-6)
  assert out.sum() == pytest.approx(expected.sum(), rel=1e-6)


@pytest.mark.parametrize('name', sorted(STROKES))
def test_centre_of_mass_in_the_middle_and_grey_edges(name):
  gray = _stroke((200, 200), STROKES[name], 12)
  out = mnist_preprocess(gray)
  centre_y, centre_x = _com(out)
  assert abs(centre_y - 14) <= 0.5 and abs(centre_x - 14) <= 0.5
  assert max(_box(out)) == 20
  # Binary strokes come out with anti-aliased edges, as MNIST's.
  assert np.sum((out > 0.05) & (out < 0.95)) >= 10


def test_size_and_place_of_the_drawing_do_not_matter():
  small = _stroke((400, 400), [(x / 3 + 10, y / 3 + 250) for x, y in SEVEN],
                  4)
  large = _stroke((200, 200), SEVEN, 12)
  diff = np.abs(mnist_preprocess(small) - mnist_preprocess(large))
  assert diff.mean() < 0.03


def test_empty_canvas_and_bad_input():
  assert not mnist_preprocess(np.zeros((70, 70))).any()
  assert mnist_preprocess(np.zeros((70, 70))).shape == (28, 28)
  for bad in (np.zeros(5), np.zeros((2, 2, 2)), np.zeros((0, 3)),
              [[0.0, np.nan]]):
    with pytest.raises(ValueError, match='2-D array of finite'):
      mnist_preprocess(bad)


def test_real_mnist_digits_stay_as_they_are(shared_data):
  with open(os.path.join(shared_data, 'mnist', input_data.TEST_IMAGES),
            'rb') as f:
    digits = input_data.extract_images(f)[:200, :, :, 0] / 255.0
  out = np.stack([mnist_preprocess(d) for d in digits])
  assert np.abs(out - digits).mean() < 0.02
  centres = np.array([_com(d) for d in out])
  assert np.all(np.abs(centres - 14) <= 0.5)


@pytest.mark.parametrize('request_json, message', [
    ([[0, 1]], 'expected a JSON object'),
    ({'pixels': []}, 'expected a JSON object'),
    ({'pixels': [[0, 1], [2]]}, 'equal length'),
    ({'pixels': [[[0]]]}, 'equal length'),
    ({'pixels': [0, 1]}, 'list of 1 to 256 rows'),
    ({'pixels': [[0] * 257]}, 'list of 1 to 256 rows'),
    ({'pixels': [['1', 2]]}, 'only numbers'),
    ({'pixels': [[True]]}, 'only numbers'),
    ({'pixels': [[None]]}, 'only numbers'),
    ({'pixels': [[256]]}, 'from 0 to 255'),
    ({'pixels': [[-1]]}, 'from 0 to 255'),
])
def test_parse_pixels_rejects(request_json, message):
  with pytest.raises(ValueError, match=message):
    hp.parse_pixels(request_json)


@pytest.fixture(scope='module')
def fc_log_dir(tmp_path_factory):
  """A tiny fully_connected_feed checkpoint with hidden sizes 13 and 7."""
  data = str(tmp_path_factory.mktemp('mnist'))
  testdata.make_mnist_dir(data, n_train=300, n_test=20)
  log_dir = str(tmp_path_factory.mktemp('fc_logs'))
  fully_connected_feed.run_training(
      None, log_dir, max_steps=20, hidden1=13, hidden2=7, batch_size=10,
      data_sets=input_data.read_data_sets(data, validation_size=100))
  return log_dir


@contextlib.contextmanager
def _serving(model):
  server = hp.make_server(model, '127.0.0.1', 0)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield server.server_address[1]
  finally:
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope='module')
def fc_server(fc_log_dir):
  model = trained_models.load_model(fc_log_dir, 'fully_connected_feed')
  with _serving(model) as port:
    yield port, model
  model.close()


def _ask(port, method, path, body=None, headers=None):
  conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
  try:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()
  finally:
    conn.close()


def _raw(port, data):
  """Sends raw bytes and returns the status code of the answer."""
  with socket.create_connection(('127.0.0.1', port), timeout=30) as s:
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    return int(s.makefile('rb').read().split(b' ', 2)[1])


def _numpy_fc(log_dir, image, weights=None):
  """fully_connected_feed's probabilities computed in NumPy from the weights.

  weights: what _fc_weights(log_dir) returns, to read them only once.
  """
  h = image.reshape(1, -1)
  for layer, (w, b) in zip(('hidden1', 'hidden2', 'softmax_linear'),
                           weights or _fc_weights(log_dir), strict=True):
    h = h @ w + b
    h = np.maximum(h, 0) if layer != 'softmax_linear' else h
  e = np.exp(h[0] - h[0].max())
  return e / e.sum()


def _fc_weights(log_dir):
  """[(weights, biases)] of the three layers of the newest checkpoint."""
  ckpt = tf.train.latest_checkpoint(log_dir)
  return [(tf.train.load_variable(ckpt, layer + '/weights'),
           tf.train.load_variable(ckpt, layer + '/biases'))
          for layer in ('hidden1', 'hidden2', 'softmax_linear')]


def test_predict_returns_the_models_probabilities(fc_server, fc_log_dir):
  port, model = fc_server
  assert model.name == 'fully_connected_feed' and model.step == 20
  pixels = (_stroke((70, 70), [(20, 15), (50, 15), (30, 60)], 5) * 255)
  status, headers, body = _ask(port, 'POST', '/predict', json.dumps(
      {'pixels': pixels.astype(int).tolist()}))
  assert status == 200 and headers['Content-Type'] == 'application/json'
  answer = json.loads(body)
  image = mnist_preprocess(pixels)
  np.testing.assert_allclose(answer['image'], image, atol=5e-4)
  probabilities = np.array(answer['probabilities'])
  assert probabilities.shape == (10,) and probabilities.sum() == (
      pytest.approx(1.0, abs=1e-5))
  np.testing.assert_allclose(probabilities, _numpy_fc(fc_log_dir, image),
                             atol=1e-5)
  assert answer['prediction'] == int(np.argmax(probabilities))
  assert answer['empty'] is False
  _, _, body = _ask(port, 'POST', '/predict', json.dumps(
      {'pixels': [[0] * 70] * 70}))
  assert json.loads(body)['empty'] is True


def test_the_page_is_self_contained(fc_server):
  port, _ = fc_server
  status, headers, body = _ask(port, 'GET', '/')
  page = body.decode('utf-8')
  assert status == 200 and headers['Content-Type'].startswith('text/html')
  assert "default-src 'self'" in headers['Content-Security-Policy']
  assert '<canvas id="pad"' in page and 'pointermove' in page
  assert 'fully_connected_feed, model.ckpt-20 (step 20)' in page
  assert '://' not in page  # No CDN, no network.
  status, headers, body = _ask(port, 'HEAD', '/')
  assert status == 200 and body == b''


def test_bad_requests_get_4xx_and_the_server_stays_up(fc_server):
  port, _ = fc_server
  good = json.dumps({'pixels': [[0, 255, 0]] * 3})
  cases = [
      (('POST', '/predict', '{"pixels": [[1, 2], [3]]}'), 400),
      (('POST', '/predict', json.dumps({'pixels': [[1] * 300] * 2})), 400),
      (('POST', '/predict', '{"pixels": [[1, 2'), 400),
      (('POST', '/predict', b'\xff\xfe\x00'), 400),
      (('POST', '/predict', '[' * 100000 + ']' * 100000), 400),
      (('PUT', '/predict', good), 405),
      (('DELETE', '/predict'), 405),
      (('DELETE', '/'), 405),
      (('TRACE', '/predict'), 405),
      (('GET', '/predict'), 405),
      (('GET', '/nowhere'), 404),
      (('POST', '/nowhere', good), 404),
      (('PUT', '/nowhere', good), 404),
  ]
  for args, status in cases:
    got, headers, body = _ask(port, *args)
    assert got == status, args
    assert 'error' in json.loads(body)
    if status == 405:
      assert headers['Allow'] in ('POST', 'GET, HEAD')
  # A huge body is refused from its Content-Length, before it is read (so
  # none is sent here: closing a socket with unread data resets it).
  assert _raw(port, b'POST /predict HTTP/1.1\r\nContent-Length: %d\r\n\r\n'
              % (hp.MAX_BODY_BYTES + 1)) == 413
  assert _raw(port, b'POST /predict HTTP/1.1\r\n\r\n') == 411
  assert _raw(port, b'POST /predict HTTP/1.1\r\nContent-Length: x\r\n\r\n'
              ) == 400
  # The body ends before its announced length.
  assert _raw(port, b'POST /predict HTTP/1.1\r\nContent-Length: 100\r\n\r\n'
              b'{"pixels"') == 400
  # A client that stalls mid-request holds only its own thread.
  with socket.create_connection(('127.0.0.1', port)) as stalled:
    stalled.sendall(b'POST /predict HTTP/1.1\r\nContent-Le')
    status, _, body = _ask(port, 'POST', '/predict', good)
  assert status == 200 and len(json.loads(body)['probabilities']) == 10


def _start(args, cwd=REPO):
  return subprocess.Popen([sys.executable] + args, cwd=cwd,
                          env=program_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True,
                          stdin=subprocess.DEVNULL)


def test_program_serves_until_terminated(fc_log_dir):
  proc = _start(['mnist/handwriting_pad.py', '--model',
                 'fully_connected_feed', '--log_dir', fc_log_dir,
                 '--port', '0'])
  try:
    line = proc.stdout.readline()
    assert line.startswith('Serving the handwriting pad for '
                           'fully_connected_feed (%s' % fc_log_dir), line
    port = int(line.split('http://127.0.0.1:')[1].split('/')[0])
    assert _ask(port, 'GET', '/')[0] == 200
    status, _, body = _ask(port, 'POST', '/predict', json.dumps(
        {'pixels': [[0, 9, 0]] * 5}))
    assert status == 200 and len(json.loads(body)['probabilities']) == 10
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out == 'Stopped.\n', err
  finally:
    proc.kill()
    proc.wait()


@pytest.mark.parametrize('how', ['path', 'folder', 'module'])
def test_no_checkpoint_says_how_to_train_one(tmp_path, how):
  empty = str(tmp_path)
  args, cwd = {'path': (['mnist/handwriting_pad.py'], REPO),
               'folder': (['handwriting_pad.py'], os.path.join(REPO,
                                                                'mnist')),
               'module': (['-m', 'mnist.handwriting_pad'], REPO)}[how]
  proc = run_program(args + ['--log_dir', empty], cwd=cwd, check=False)
  assert proc.returncode == 1 and proc.stdout == ''
  assert proc.stderr.strip().split('\n')[-1] == (
      'handwriting_pad: error: no mnist_deep checkpoint in %s: train one '
      'first with `mnist_deep --max_steps 2000 --log_dir %s` (minutes on 2 '
      'CPU cores, about 97-98%%), then start the pad again' % (empty, empty))
  assert 'Traceback' not in proc.stderr


def test_wrong_model(fc_log_dir):
  proc = run_program(['mnist/handwriting_pad.py', '--log_dir', fc_log_dir],
                     check=False)
  assert proc.returncode == 1 and proc.stderr.strip().split('\n')[-1] == (
      'handwriting_pad: error: %s holds a fully_connected_feed model, not '
      'mnist_deep' % tf.train.latest_checkpoint(fc_log_dir))


def test_bad_flag_and_taken_port_in_process(fc_log_dir, capsys):
  with pytest.raises(SystemExit) as e:
    hp.main(['--prot', '80'])
  assert e.value.code == 2
  assert 'did you mean --port?' in capsys.readouterr().err
  with socket.socket() as taken:
    taken.bind(('127.0.0.1', 0))
    taken.listen()
    port = taken.getsockname()[1]
    with pytest.raises(SystemExit) as e:
      hp.main(['--model', 'fully_connected_feed', '--log_dir', fc_log_dir,
              '--port', str(port)])
  assert e.value.code == ('handwriting_pad: error: cannot listen on '
                          '127.0.0.1 port %d: Address already in use' % port)


def test_ink_of_decoded_arrays():
  # digit_image.ink_of: the pixels as any decoder gives them.
  grey = np.zeros((6, 8), np.uint8)
  grey[2:4, 3:5] = 255
  ink, inverted = digit_image.ink_of(grey)
  assert not inverted and ink.shape == (6, 8)
  np.testing.assert_allclose(ink, grey / 255.0)
  np.testing.assert_array_equal(digit_image.ink_of(grey[:, :, None])[0], ink)
  ink, inverted = digit_image.ink_of(255 - grey)  # Dark on paper.
  assert inverted
  np.testing.assert_allclose(ink, grey / 255.0)
  for bad in (np.zeros(5), np.zeros((4, 4, 5)), np.zeros((0, 3, 3))):
    with pytest.raises(ValueError, match='ink_of needs pixels'):
      digit_image.ink_of(bad)


@pytest.fixture(scope='module')
def deep_log_dir(tmp_path_factory):
  """A 2-step mnist_deep checkpoint."""
  data = str(tmp_path_factory.mktemp('deep_data'))
  testdata.make_mnist_dir(data, n_train=120, n_test=10)
  log_dir = str(tmp_path_factory.mktemp('deep_logs'))
  mnist_deep.train(input_data.read_data_sets(data, validation_size=100),
                   log_dir, max_steps=2, batch_size=4)
  return log_dir


def test_mnist_deep_restores_from_its_meta_graph(deep_log_dir, tmp_path):
  model = trained_models.load_model(deep_log_dir)
  images = np.random.RandomState(1).uniform(size=(3, 784))
  try:
    assert (model.name, model.step) == ('mnist_deep', 2)
    assert model.inputs.name == 'x:0'
    got = model.predict(images)
  finally:
    model.close()
  # The same as rebuilding the graph with mnist_deep.deepnn.
  with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
    x = tf.compat.v1.placeholder(tf.float32, [None, 784], name='x')
    logits, _ = mnist_deep.deepnn(x)
    tf.compat.v1.train.Saver().restore(
        sess, tf.train.latest_checkpoint(deep_log_dir))
    expected = sess.run(tf.nn.softmax(logits), {x: images})
  np.testing.assert_allclose(got, expected, atol=1e-6)
  # Without its .meta file: one line naming the checkpoint.
  for name in os.listdir(deep_log_dir):
    if name.startswith('model.ckpt-2') and not name.endswith('.meta'):
      os.link(os.path.join(deep_log_dir, name), str(tmp_path / name))
  prefix = str(tmp_path / 'model.ckpt-2')
  with pytest.raises(ValueError, match='^cannot restore %s: ' % prefix) as e:
    trained_models.load_model(prefix)
  assert '\n' not in str(e.value)


def test_trained_models_imports_no_program():
  # The library the pad restores with rebuilds mnist_deep from its .meta
  # file instead of importing the program; and knows no CIFAR-10.
  code = ('import sys; from mnist import trained_models, handwriting_pad; '
          'print(sorted(m for m in sys.modules if m in ("mnist.mnist_deep", '
          '"mnist.fully_connected_feed") or m.startswith("cifar10")))')
  assert run_program(['-c', code]).stdout.strip() == '[]'


def test_mnist_models_only(fc_log_dir, tmp_path):
  with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
    tf.Variable(tf.zeros([3, 3]), name='conv1/weights')
    sess.run(tf.compat.v1.global_variables_initializer())
    tf.compat.v1.train.Saver().save(sess, str(tmp_path / 'model.ckpt'),
                                    global_step=1)
  checkpoint = str(tmp_path / 'model.ckpt-1')
  with pytest.raises(ValueError) as e:
    trained_models.load_model(str(tmp_path))
  assert str(e.value) == ('%s holds none of the models mnist_deep, '
                          'fully_connected_feed' % checkpoint)
  with pytest.raises(ValueError, match='holds a fully_connected_feed model, '
                     'not mnist_deep'):
    trained_models.load_model(fc_log_dir, 'mnist_deep')


def _answer(port, data):
  """Sends raw bytes; returns (status, body) of a proper HTTP answer."""
  with socket.create_connection(('127.0.0.1', port), timeout=30) as s:
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    answer = s.makefile('rb').read()
  head, _, body = answer.partition(b'\r\n\r\n')
  status_line = head.split(b'\r\n')[0]
  assert re.fullmatch(rb'HTTP/1\.[01] \d{3} .*', status_line), answer[:200]
  return int(status_line.split()[1]), json.loads(body)


@pytest.mark.parametrize('data, status', [
    (b'\r\n', 400),                                    # a blank line
    (b'GARBAGE\r\n\r\n', 400),
    (b'GET /\r\n', 400),                               # HTTP/0.9
    (b'FOO /predict\r\n\r\n', 400),
    (b'GET / HTTP/0.9\r\n\r\n', 400),
    (b'GET / HTTP/1.1 more\r\n\r\n', 400),
    (b'GET / HTTP/one\r\n\r\n', 400),
    (b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', 400),  # TLS hello
    (b'POST /predict HTTP/1.1\r\nContent-Length: \xb2\r\n\r\n', 400),  # '²'
    (b'POST /predict HTTP/1.1\r\nContent-Length: -1\r\n\r\n', 400),
    (b'POST /predict HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n', 400),
    # Exactly as long as the server reads, so that nothing is left unread
    # (which would reset the connection under the answer).
    (b'GET /' + b'a' * (65537 - 5), 414),
    (b'GET / HTTP/1.1\r\nX: ' + b'a' * (65537 - 3), 431),
])
def test_malformed_requests_get_a_4xx_status_line(fc_server, data, status):
  port, _ = fc_server
  got, body = _answer(port, data)
  assert got == status and body['error']
  # And the server goes on.
  good = json.dumps({'pixels': [[0, 255, 0]] * 3})
  assert _ask(port, 'POST', '/predict', good)[0] == 200


def test_unsupported_http_version_gets_a_status_line(fc_server):
  port, _ = fc_server
  assert _answer(port, b'GET / HTTP/2.0\r\n\r\n')[0] == 505


def test_burst_of_200_concurrent_predictions(fc_server, fc_log_dir):
  # All at once: the listen backlog holds them, every thread of the server
  # predicts on the one shared model, and each answer is its own image's.
  port, _ = fc_server
  n = 200
  rng = np.random.RandomState(7)
  images = [_stroke((40, 40), [tuple(p) for p in rng.randint(2, 38, (3, 2))],
                    4) * 255 for _ in range(n)]
  answers, errors = [None] * n, []
  barrier = threading.Barrier(n)

  def ask(i):
    body = json.dumps({'pixels': images[i].astype(int).tolist()})
    barrier.wait()
    try:
      answers[i] = _ask(port, 'POST', '/predict', body)
    except OSError as e:  # Reset or refused: what the burst must not do.
      errors.append('%d: %r' % (i, e))

  threads = [threading.Thread(target=ask, args=(i,)) for i in range(n)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join(timeout=300)
  assert not errors, errors[:5]
  weights = _fc_weights(fc_log_dir)
  for image, (status, _, body) in zip(images, answers, strict=True):
    assert status == 200
    np.testing.assert_allclose(
        json.loads(body)['probabilities'],
        _numpy_fc(fc_log_dir, mnist_preprocess(image), weights), atol=1e-5)


@pytest.mark.parametrize('name', ['SIGINT', 'SIGTERM'])
def test_installed_command_stops_in_one_line(fc_log_dir, name):
  # Started as the console script does, stopped while it serves.
  code = 'from mnist import commands; commands.handwriting_pad()'
  proc = _start(['-c', code, '--model', 'fully_connected_feed', '--log_dir',
                 fc_log_dir, '--port', '0'])
  try:
    line = proc.stdout.readline()
    assert line.startswith('Serving the handwriting pad'), line
    proc.send_signal(signal.Signals[name])
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out == 'Stopped.\n' and err == '', err
  finally:
    proc.kill()
    proc.wait()


class _FailingModel(object):
  """A model whose graph fails as TensorFlow 2 reports it from a session."""

  name, checkpoint, step = 'fully_connected_feed', 'model.ckpt-1', 1

  def predict(self, images):
    with tf.Graph().as_default():
      value = tf.compat.v1.placeholder(tf.float32)
      checked = tf.debugging.check_numerics(value, 'logits')
      with tf.compat.v1.Session() as sess:
        return sess.run(checked, {value: float('nan')})


def test_a_failing_model_answers_500_with_its_reason():
  with _serving(_FailingModel()) as port:
    status, _, body = _ask(port, 'POST', '/predict', json.dumps(
        {'pixels': [[0] * 28] * 28}))
  assert status == 500
  # The reason, not 'Graph execution error:' nor where the op was built.
  assert json.loads(body) == {
      'error': 'the model failed: logits : Tensor had NaN values'}
