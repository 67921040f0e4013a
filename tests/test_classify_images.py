"""Tests of cifar10/classify_images.py and cifar10/trained_models.py: ink
detection, file finding and class names against NumPy; the program as a
subprocess on synthetic PNGs with tiny MNIST and CIFAR-10 checkpoints (exact
lines, probabilities checked against NumPy and the restored model), bad
input; and real MNIST digits, dark on light, read by a real mnist_deep."""

import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, run_program
from test_handwriting_pad import _numpy_fc
from test_handwriting_pad import fc_log_dir  # noqa: F401 (a fixture)

import testdata
from cifar10 import cifar10, cifar10_input, cifar10_train
from mnist import digit_image, input_data, mnist_deep
from cifar10 import classify_images as ci
from cifar10 import image_files
from cifar10 import trained_models

tf1 = tf.compat.v1
DIGITS = [str(d) for d in range(10)]


def _encode(image):
  image = np.asarray(image, np.uint8)
  return tf.io.encode_png(image[:, :, None] if image.ndim == 2 else
                          image).numpy()


def _png(path, image):
  with open(path, 'wb') as f:
    f.write(_encode(image))
  return str(path)


def _ink(image):
  return ci.ink_image(_encode(image), 'x.png')


def test_ink_image_light_on_dark_is_kept():
  image = np.zeros((20, 30), np.uint8)
  image[5:15, 10:12] = 200
  ink, inverted = _ink(image)
  assert not inverted
  np.testing.assert_allclose(ink, image / 255.0)


def test_ink_image_dark_on_light_is_inverted_and_background_removed():
  image = np.full((20, 30), 200, np.uint8)
  image[5:15, 10:12] = 20
  ink, inverted = _ink(image)
  assert inverted
  expected = np.where(image == 20, (200 - 20) / 255.0, 0.0)
  np.testing.assert_allclose(ink, expected, atol=1e-12)


def test_ink_image_colour_and_transparency():
  red = np.full((10, 10, 3), 255, np.uint8)
  red[3:7, 3:7] = [255, 0, 0]
  ink, inverted = _ink(red)
  assert inverted
  np.testing.assert_allclose(ink[3:7, 3:7], 1 - 0.299)
  assert not ink[:3].any()
  # Black ink on a transparent background (black underneath): the
  # transparent part is white paper, not ink.
  rgba = np.zeros((10, 10, 4), np.uint8)
  rgba[2:8, 4:6, 3] = 255
  ink, inverted = _ink(rgba)
  assert inverted
  np.testing.assert_allclose(ink, rgba[..., 3] / 255.0)


def test_ink_image_rejects_garbage():
  with pytest.raises(ValueError, match='^cannot decode image bad.png: '):
    ci.ink_image(b'not an image', 'bad.png')


def test_find_images(tmp_path):
  for name in ('b.png', 'a.JPG', '.hidden.png', 'notes.txt', 'sub/c.png'):
    (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / name).write_bytes(b'')
  found = image_files.find_images([str(tmp_path),
                                   str(tmp_path / 'notes.txt')])
  assert found == [
      str(tmp_path / 'a.JPG'), str(tmp_path / 'b.png'),
      str(tmp_path / 'notes.txt')]
  with pytest.raises(ValueError, match='nope.png does not exist'):
    image_files.find_images([str(tmp_path / 'nope.png')])
  (tmp_path / 'empty').mkdir()
  with pytest.raises(ValueError, match='empty holds no images'):
    image_files.find_images([str(tmp_path / 'empty')])


def test_class_names(tmp_path):
  assert ci.class_names('mnist_deep') == DIGITS
  assert ci.class_names('vgg16') == list(ci.CIFAR10_CLASSES)
  testdata.make_cifar10_dir(str(tmp_path / 'd'), n=1)
  assert ci.class_names('cifar10', str(tmp_path / 'd')) == (
      testdata.CIFAR_CLASSES)
  (tmp_path / 'mine').mkdir()
  (tmp_path / 'mine' / 'batches.meta.txt').write_text('cat\ndog\n\nfox\n')
  assert ci.class_names('cifar10', str(tmp_path / 'mine')) == (
      ['cat', 'dog', 'fox'] + ['class %d' % i for i in range(3, 10)])
  with pytest.raises(ValueError, match='no batches.meta.txt in '):
    ci.class_names('cifar10', str(tmp_path))


def test_top_classes_and_line():
  top = ci.top_classes(np.array([0.1, 0.5, 0.4]), ['a', 'b', 'c'], 2)
  assert top == [('b', 0.5), ('c', pytest.approx(0.4))]
  assert ci.format_line('x.png', top) == 'x.png: b (0.500), c (0.400)'
  assert ci.format_line('x.png', top[:1], ci.INVERTED_NOTE) == (
      'x.png: b (0.500) [inverted: dark on light]')


LINE = re.compile(r'^(.+): (\d) \((\d\.\d{3})\)(?:, (\d) \((\d\.\d{3})\)){3}'
                  r'( \[inverted: dark on light\])?$')


def test_mnist_program_prints_top_k_lines(fc_log_dir, tmp_path):  # noqa: F811
  labels = [3, 0, 7]
  images = testdata.mnist_images(labels, seed=4)
  paths = [_png(tmp_path / ('digit%d.png' % i), im)
           for i, im in enumerate(images)]
  paths.append(_png(tmp_path / 'paper.png', 255 - images[0]))
  proc = run_program(['cifar10/classify_images.py', '--checkpoint_dir',
                      fc_log_dir, '--top_k', '4', str(tmp_path)])
  checkpoint = tf.train.latest_checkpoint(fc_log_dir)
  assert proc.stderr.strip().split('\n')[-1] == (
      'classify_images: fully_connected_feed model from %s' % checkpoint)
  lines = proc.stdout.strip().split('\n')
  assert len(lines) == len(paths)
  for path, line in zip(sorted(paths), lines, strict=True):
    match = LINE.match(line)
    assert match and match.group(1) == path, line
    assert bool(match.group(6)) == path.endswith('paper.png')
    names = re.findall(r'(\d) \(', line)
    probabilities = [float(p) for p in re.findall(r'\((\d\.\d{3})\)', line)]
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) <= 1.002 and len(set(names)) == 4
    with open(path, 'rb') as f:
      image = digit_image.mnist_preprocess(ci.ink_image(f.read())[0])
    expected = _numpy_fc(fc_log_dir, image)
    assert line.split(' [')[0] == ci.format_line(
        path, ci.top_classes(expected, DIGITS, 4))


@pytest.fixture(scope='module')
def cifar_train_dir(tmp_path_factory):
  """A 30-step cifar10_train run: the program's own checkpoint format.

  cifar10_train's own training, in this process: the checkpoint the program
  writes, without a TensorFlow start-up of its own.
  """
  data = str(tmp_path_factory.mktemp('cifar'))
  testdata.make_cifar10_dir(data, n=100)
  train_dir = str(tmp_path_factory.mktemp('cifar_train'))
  assert cifar10_train.train(data_dir=data, batch_size=16,
                             train_dir=train_dir, max_steps=30,
                             log_frequency=10) == 30
  return train_dir


@pytest.fixture(scope='module')
def cifar_adam_dir(tmp_path_factory):
  """The tutorial's model and moving averages, trained to read colours.

  Short cifar10_train runs (gradient descent at 0.1) are erratic on the
  class-colour images: their moving averages read 10% to 100% of them
  right after 30-200 steps, depending on the run. Adam at 1e-3 on the same
  distorted inputs reads 100% after 60 steps of 32 in every run tried
  (about 10 s), so this checkpoint can show the images read right.
  """
  labels = np.random.RandomState(0).randint(0, 10, 500)
  images = testdata.cifar10_images(labels, seed=3)
  train_dir = str(tmp_path_factory.mktemp('cifar_adam'))
  rng = np.random.RandomState(1)
  with tf.Graph().as_default():
    x = tf1.placeholder(tf.uint8, [None, 32, 32, 3])
    y = tf1.placeholder(tf.int32, [None])
    logits = cifar10.inference(cifar10_input.distort_images(x), 'cifar10')
    step = tf1.train.get_or_create_global_step()
    train_op = cifar10.average_variables(tf1.train.AdamOptimizer(
        1e-3).minimize(cifar10.loss(logits, y), global_step=step), step)
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      for _ in range(60):
        batch = rng.randint(0, len(labels), 32)
        sess.run(train_op, {x: images[batch], y: labels[batch]})
      tf1.train.Saver().save(sess, os.path.join(train_dir, 'model.ckpt'),
                             global_step=step)
  return train_dir


def test_cifar10_program_reads_class_colours(cifar_adam_dir, tmp_path):
  labels = np.arange(20) % 10
  images = testdata.cifar10_images(labels, seed=7)
  for i, (label, image) in enumerate(zip(labels, images, strict=True)):
    if i % 2:  # Larger images are scaled down as make_cifar10_dataset does.
      image = np.kron(image, np.ones((3, 2, 1), np.uint8))
    _png(tmp_path / ('%02d_%d.png' % (i, label)), image)
  proc = run_program(['-m', 'cifar10.classify_images', '--checkpoint_dir',
                      cifar_adam_dir, '--top_k', '2', str(tmp_path)])
  assert proc.stderr.strip().split('\n')[-1] == (
      'classify_images: cifar10 model from %s'
      % tf.train.latest_checkpoint(cifar_adam_dir))
  lines = proc.stdout.strip().split('\n')
  assert len(lines) == 20
  names = testdata.CIFAR_CLASSES
  hits = 0
  for i, line in enumerate(lines):
    match = re.match(r'^(.+/(\d\d)_(\d)\.png): (\w+) \((\d\.\d{3})\), '
                     r'(\w+) \((\d\.\d{3})\)$', line)
    assert match and int(match.group(2)) == i, line
    assert match.group(4) in names and match.group(6) in names
    assert float(match.group(5)) >= float(match.group(7))
    hits += match.group(4) == names[int(match.group(3))]
  assert hits >= 16, proc.stdout  # Chance is 2 of 20.


def _eval_pipeline(checkpoint, data_dir, n):
  """Probabilities as cifar10_eval computes them from test_batch.bin."""
  with tf.Graph().as_default():
    # tf.data: the same batches as the queue pipeline, no runners to start.
    images, _ = cifar10.inputs(True, data_dir, n, pipeline='dataset')
    probabilities = tf.nn.softmax(cifar10.inference(images, 'cifar10'))
    saver = tf1.train.Saver(tf1.train.ExponentialMovingAverage(
        cifar10.MOVING_AVERAGE_DECAY).variables_to_restore())
    with tf1.Session() as sess:
      saver.restore(sess, checkpoint)
      sess.run(tf1.local_variables_initializer())
      return sess.run(probabilities)


def test_cifar10_model_restores_averages_crops_and_standardizes(
    cifar_train_dir, tmp_path):
  model = trained_models.load_model(cifar_train_dir)
  assert model.name == 'cifar10' and model.step == 30
  checkpoint = tf.train.latest_checkpoint(cifar_train_dir)
  for name in ('conv1/weights', 'local3/biases'):
    variable, = [v for v in model.session.graph.get_collection('variables')
                 if v.op.name == name]
    restored = model.session.run(variable)
    average = tf.train.load_variable(checkpoint,
                                     name + '/ExponentialMovingAverage')
    raw = tf.train.load_variable(checkpoint, name)
    np.testing.assert_array_equal(restored, average)
    assert not np.array_equal(restored, raw)
  image = np.random.RandomState(0).randint(0, 128, (32, 32, 3))
  framed = image.copy()
  framed[:4] = 255  # Outside the 24x24 centre: not seen.
  brighter = 2 * image + 1  # Standardization undoes contrast and brightness.
  p = model.predict(np.stack([image, framed, brighter]).astype(np.uint8))
  np.testing.assert_allclose(p[1], p[0], atol=1e-6)
  np.testing.assert_allclose(p[2], p[0], atol=1e-4)
  # The same images through cifar10_eval's input pipeline and graph.
  images = testdata.cifar10_images(np.arange(10), seed=9)
  os.makedirs(tmp_path / 'cifar-10-batches-bin')
  testdata.write_cifar10_bin(str(tmp_path / 'cifar-10-batches-bin' /
                                 'test_batch.bin'), np.arange(10), images)
  np.testing.assert_allclose(
      model.predict(images), _eval_pipeline(checkpoint, str(tmp_path), 10),
      atol=1e-6)
  model.close()


@pytest.mark.parametrize('name, use_fp16', [('vgg16', False),
                                            ('cifar10', True)])
def test_model_is_read_from_the_checkpoint(tmp_path, name, use_fp16):
  with tf.Graph().as_default():
    images = tf.zeros([1, 24, 24, 3], tf.float16 if use_fp16 else tf.float32)
    cifar10.inference(images, name)
    step = tf1.train.get_or_create_global_step()
    tf1.train.ExponentialMovingAverage(
        cifar10.MOVING_AVERAGE_DECAY, step).apply(tf1.trainable_variables())
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      sess.run(step.assign(7))
      tf1.train.Saver().save(sess, str(tmp_path / 'model.ckpt'),
                             global_step=7)
  model = trained_models.load_model(str(tmp_path))
  assert (model.name, model.step) == (name, 7)
  p = model.predict(testdata.cifar10_images([1, 2]))
  assert p.dtype == np.float32 and p.shape == (2, 10)
  np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-3)
  model.close()


def test_mnist_deep_is_told_from_fully_connected_feed(tmp_path,
                                                      fc_log_dir):  # noqa: F811
  data = str(tmp_path / 'data')
  testdata.make_mnist_dir(data, n_train=120, n_test=10)
  mnist_deep.train(input_data.read_data_sets(data, validation_size=100),
                   str(tmp_path), max_steps=2, batch_size=4)
  model = trained_models.load_model(str(tmp_path / 'model.ckpt-2'))
  assert model.name == 'mnist_deep' and model.inputs.name == 'x:0'
  assert model.predict(np.zeros((3, 784))).shape == (3, 10)
  model.close()
  assert trained_models.model_in(
      tf.train.latest_checkpoint(fc_log_dir)) == 'fully_connected_feed'
  with pytest.raises(ValueError, match='holds a mnist_deep model, not '
                     'fully_connected_feed'):
    trained_models.load_model(str(tmp_path), 'fully_connected_feed')


def _error(proc, status=1):
  assert proc.returncode == status and 'Traceback' not in proc.stderr
  return proc.stderr.strip().split('\n')[-1]


def test_bad_files_and_checkpoints(fc_log_dir, tmp_path):  # noqa: F811
  good = _png(tmp_path / 'good.png', testdata.mnist_images([1])[0])
  (tmp_path / 'bad.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
  proc = run_program(['cifar10/classify_images.py', '--checkpoint_dir',
                      fc_log_dir, str(tmp_path)], check=False)
  assert proc.stdout.startswith(good + ': ')
  assert len(proc.stdout.strip().split('\n')) == 1
  errors = [e for e in proc.stderr.split('\n')
            if e.startswith('classify_images: error')]
  assert errors[0].startswith('classify_images: error: cannot decode image '
                              '%s: ' % (tmp_path / 'bad.png'))
  assert _error(proc) == ('classify_images: error: 1 of 2 files could not '
                          'be classified')
  empty = str(tmp_path / 'empty')
  os.mkdir(empty)
  proc = run_program(['-m', 'cifar10.classify_images', '--checkpoint_dir',
                      empty, good], check=False)
  assert _error(proc) == (
      'classify_images: error: no checkpoint in %s: train a model first '
      '(mnist_deep, fully_connected_feed or cifar10_train) or point '
      '--checkpoint_dir at its folder' % empty)
  proc = run_program(['classify_images.py', '--checkpoint_dir', fc_log_dir,
                      '--model', 'cifar10', good],
                     cwd=os.path.join(REPO, 'cifar10'), check=False)
  assert _error(proc) == ('classify_images: error: %s holds a '
                          'fully_connected_feed model, not cifar10' %
                          tf.train.latest_checkpoint(fc_log_dir))


def _exit(argv, capsys):
  """Runs the program in this process; returns (status, last stderr line)."""
  with pytest.raises(SystemExit) as e:
    ci.main(argv)
  if isinstance(e.value.code, str):  # sys.exit(message) prints it.
    return 1, e.value.code
  return e.value.code, capsys.readouterr().err.strip().split('\n')[-1]


def test_errors_in_process(fc_log_dir, tmp_path, capsys):  # noqa: F811
  good = _png(tmp_path / 'good.png', testdata.mnist_images([1])[0])
  broken = str(tmp_path / 'broken')
  shutil.copytree(fc_log_dir, broken)
  for name in os.listdir(broken):
    if '.data-' in name:
      with open(os.path.join(broken, name), 'r+b') as f:
        f.truncate(10)
  # Its 'checkpoint' file names the original by absolute path: name the
  # broken one by its prefix.
  prefix = os.path.join(broken, 'model.ckpt-20')
  status, message = _exit(['--checkpoint_dir', prefix, good], capsys)
  assert status == 1 and message.startswith(
      'classify_images: error: cannot restore %s: ' % prefix)
  missing = str(tmp_path / 'missing.png')
  assert _exit(['--checkpoint_dir', prefix, missing], capsys) == (
      1, 'classify_images: error: %s does not exist' % missing)
  for args, message in ((['--topk', '2'], 'did you mean --top_k?'),
                        (['--top_k', '0'], 'must be at least 1'),
                        ([], 'give --checkpoint_dir, or --model')):
    status, last = _exit([good] + args, capsys)
    assert status == 2 and message in last


@pytest.mark.slow
def test_real_digits_on_paper_are_read(real_mnist_deep, tmp_path):
  test = real_mnist_deep['test']
  n = 200
  digits = np.round(test.images[:n].reshape(-1, 28, 28) * 255)
  for i, digit in enumerate(digits):
    # Dark ink on white paper, twice the size: as a scan or a photo.
    paper = 255 - np.kron(digit, np.ones((2, 2)))
    _png(tmp_path / ('%03d.png' % i), paper)
  proc = run_program(['cifar10/classify_images.py', '--checkpoint_dir',
                      real_mnist_deep['log_dir'], '--top_k', '1',
                      str(tmp_path)])
  lines = proc.stdout.strip().split('\n')
  assert len(lines) == n and all(x.endswith(ci.INVERTED_NOTE) for x in lines)
  guesses = [int(re.search(r': (\d) \(', x).group(1)) for x in lines]
  accuracy = np.mean(np.array(guesses) == test.labels[:n])
  print('classify_images: %d real digits on paper, accuracy %.3f'
        % (n, accuracy))
  assert accuracy >= 0.95
