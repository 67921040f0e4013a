"""The course's own code runs unchanged: scripts written as walk-throughs do.

A walk-through writes its own training and evaluation scripts against the
library, as the original cifar10_train.py and cifar10_eval.py are written:
`import cifar10`, flags parsed by tf.compat.v1.app.run, absl.app.run or
tf.compat.v1.flags.FLAGS(argv) (or not at all), then
cifar10.maybe_download_and_extract(), cifar10.distorted_inputs(),
cifar10.inference(images), cifar10.loss(), cifar10.train(), and for the
evaluation cifar10.inputs(eval_data=True), in_top_k and the moving
averages' variables_to_restore(). These run here as subprocesses, beside
the library's files (`import cifar10`) and from elsewhere (`from cifar10
import cifar10`), and --data_dir, --batch_size and --use_fp16 are each
shown to take effect. The MNIST side likewise: its
libraries (input_data, mnist) read no flags, in the original or here.
"""

import glob
import os
import shutil
import subprocess
import sys

import pytest
import tensorflow as tf
from conftest import REPO, program_env

import testdata

tf1 = tf.compat.v1

# How each walk-through parses its flags, as its last lines.
PARSERS = {
    'tf_app_run': ("if __name__ == '__main__':\n"
                   '  tf.compat.v1.app.run()\n'),
    'absl_app_run': ('from absl import app\n'
                     "if __name__ == '__main__':\n"
                     '  app.run(main)\n'),
    'flags_call': ("if __name__ == '__main__':\n"
                   '  FLAGS(sys.argv)\n'
                   '  main()\n'),
}

# Written as the original cifar10_train.py is: the library reads --data_dir,
# --batch_size and --use_fp16 itself.
TRAIN = '''
import sys
import tensorflow as tf
import cifar10

FLAGS = tf.compat.v1.flags.FLAGS
tf.compat.v1.flags.DEFINE_string('train_dir', '/tmp/cifar10_train', 'Logs.')
tf.compat.v1.flags.DEFINE_integer('max_steps', 1000000, 'Steps to run.')


def train():
  with tf.Graph().as_default():
    global_step = tf.compat.v1.train.get_or_create_global_step()
    with tf.device('/cpu:0'):
      images, labels = cifar10.distorted_inputs()
    logits = cifar10.inference(images)
    loss = cifar10.loss(logits, labels)
    train_op = cifar10.train(loss, global_step)
    print('images', images.shape.as_list(), images.dtype.name)
    print('logits', logits.dtype.name)
    with tf.compat.v1.train.MonitoredTrainingSession(
        checkpoint_dir=FLAGS.train_dir,
        hooks=[tf.compat.v1.train.StopAtStepHook(last_step=FLAGS.max_steps),
               tf.compat.v1.train.NanTensorHook(loss)]) as mon_sess:
      while not mon_sess.should_stop():
        mon_sess.run(train_op)


def main(argv=None):
  cifar10.maybe_download_and_extract()
  train()

'''

# Written as the original cifar10_eval.py is (one pass, --run_once).
EVALUATE = '''
import math
import sys
import numpy as np
import tensorflow as tf
import cifar10

FLAGS = tf.compat.v1.flags.FLAGS
tf.compat.v1.flags.DEFINE_string('checkpoint_dir', '/tmp/cifar10_train', '')
tf.compat.v1.flags.DEFINE_integer('num_examples', 10000, '')


def main(argv=None):
  with tf.Graph().as_default():
    images, labels = cifar10.inputs(eval_data=True)
    logits = cifar10.inference(images)
    top_k_op = tf.nn.in_top_k(predictions=tf.cast(logits, tf.float32),
                              targets=labels, k=1)
    variable_averages = tf.compat.v1.train.ExponentialMovingAverage(
        cifar10.MOVING_AVERAGE_DECAY)
    saver = tf.compat.v1.train.Saver(variable_averages.variables_to_restore())
    with tf.compat.v1.Session() as sess:
      ckpt = tf.compat.v1.train.get_checkpoint_state(FLAGS.checkpoint_dir)
      saver.restore(sess, ckpt.model_checkpoint_path)
      coord = tf.compat.v1.train.Coordinator()
      threads = tf.compat.v1.train.start_queue_runners(sess=sess,
                                                       coord=coord)
      num_iter = int(math.ceil(FLAGS.num_examples / FLAGS.batch_size))
      true_count = 0
      for _ in range(num_iter):
        true_count += np.sum(sess.run(top_k_op))
      coord.request_stop()
      coord.join(threads)
      print('evaluated %d batches of %d' % (num_iter, FLAGS.batch_size))
      print('precision @ 1 = %.3f' % (true_count / (num_iter *
                                                    FLAGS.batch_size)))

'''


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('cifar10_data'))
  testdata.make_cifar10_dir(root, n=60, n_test=40)
  return root


def _beside_the_library(folder):
  """A copy of cifar10/, where a script's `import cifar10` gets cifar10.py."""
  shutil.copytree(os.path.join(REPO, 'cifar10'), folder,
                  ignore=shutil.ignore_patterns('__pycache__'))
  return folder


def _run(script, args, cwd, pythonpath=None):
  """Runs `python walk.py args` in cwd, as a student would.

  With pythonpath (the repository), the script is elsewhere and imports the
  model module from the package.
  """
  if pythonpath:
    script = script.replace('\nimport cifar10\n',
                            '\nfrom cifar10 import cifar10\n')
  with open(os.path.join(cwd, 'walk.py'), 'w', encoding='utf-8') as f:
    f.write(script)
  env = program_env(**({'PYTHONPATH': pythonpath} if pythonpath else {}))
  return subprocess.run([sys.executable, 'walk.py'] + list(args), cwd=cwd,
                        env=env, capture_output=True, text=True,
                        timeout=600, stdin=subprocess.DEVNULL)


def _ok(proc):
  """The script's own lines (not the library's notes)."""
  assert proc.returncode == 0, proc.stdout + proc.stderr
  return [line for line in proc.stdout.splitlines()
          if not line.startswith(('Shuffling', 'Filling'))]


def _train_and_evaluate(parser, cwd, data_dir, tmp_path, flags,
                        pythonpath=None):
  train_dir = str(tmp_path / 'train')
  common = ['--data_dir', data_dir] + flags
  train = _ok(_run(TRAIN + PARSERS[parser], common + [
      '--train_dir', train_dir, '--max_steps', '4'], cwd, pythonpath))
  evaluate = _ok(_run(EVALUATE + PARSERS[parser], common + [
      '--checkpoint_dir', train_dir, '--num_examples', '40'], cwd,
                      pythonpath))
  assert int(tf1.train.load_variable(train_dir, 'global_step')) == 4
  return train, evaluate, train_dir


def test_tf_app_run_beside_the_library(data_dir, tmp_path):
  # The course's layout: the script in the library's folder, `import
  # cifar10` finding cifar10.py; the old tf.app.run parses the flags.
  folder = _beside_the_library(str(tmp_path / 'cifar10'))
  train, evaluate, _ = _train_and_evaluate(
      'tf_app_run', folder, data_dir, tmp_path, ['--batch_size', '16'])
  assert train[:2] == ['images [16, 24, 24, 3] float32', 'logits float32']
  assert evaluate[0] == 'evaluated 3 batches of 16'
  assert evaluate[1].startswith('precision @ 1 = ')


def test_absl_app_run_from_elsewhere_in_float16(data_dir, tmp_path):
  # The package on the path, the script elsewhere: `from cifar10 import
  # cifar10`, the model module.
  work = tmp_path / 'work'
  work.mkdir()
  train, evaluate, train_dir = _train_and_evaluate(
      'absl_app_run', str(work), data_dir, tmp_path,
      ['--batch_size', '8', '--use_fp16'], pythonpath=REPO)
  assert train[:2] == ['images [8, 24, 24, 3] float16', 'logits float16']
  assert evaluate[0] == 'evaluated 5 batches of 8'
  weights = tf1.train.load_variable(train_dir, 'conv1/weights')
  assert weights.dtype.name == 'float16'


def test_flags_parsed_by_hand_and_data_dir_taken(data_dir, tmp_path):
  folder = _beside_the_library(str(tmp_path / 'cifar10'))
  train, _, _ = _train_and_evaluate('flags_call', folder, data_dir,
                                    tmp_path, [])
  assert train[0] == 'images [128, 24, 24, 3] float32'  # --batch_size's
  # A --data_dir without the data: the script looks there, not in
  # /tmp/cifar10_data (and, offline here, cannot download into it).
  missing = str(tmp_path / 'elsewhere')
  proc = _run(TRAIN + PARSERS['flags_call'], [
      '--data_dir', missing, '--data_url', testdata.closed_port_url(
          '/cifar-10-binary.tar.gz'), '--train_dir', str(tmp_path / 't2')],
              folder)
  assert proc.returncode == 1
  assert 'Could not download cifar-10-binary.tar.gz into %s' % missing in (
      proc.stderr)


def test_no_flags_parsed_the_tutorials_defaults(data_dir, tmp_path):
  # A notebook or a library user: nothing parses the flags, so a setting
  # left out is the tutorial's; one given is used.
  code = ('import tensorflow as tf\nimport cifar10\n'
          'with tf.Graph().as_default():\n'
          '  images, _ = cifar10.distorted_inputs(data_dir=%r)\n'
          '  small, _ = cifar10.distorted_inputs(data_dir=%r, batch_size=5)\n'
          '  logits = cifar10.inference(images)\n'
          'print(images.shape.as_list(), small.shape.as_list(), '
          'logits.dtype.name)\n' % (data_dir, data_dir))
  lines = _ok(_run(code, [], str(tmp_path), pythonpath=REPO))
  assert lines[-1] == '[128, 24, 24, 3] [5, 24, 24, 3] float32'


def test_the_package_says_where_the_model_is(tmp_path):
  code = 'import cifar10\ncifar10.distorted_inputs()\n'
  proc = subprocess.run([sys.executable, '-c', code], cwd=str(tmp_path),
                        env=program_env(PYTHONPATH=REPO), capture_output=True,
                        text=True, timeout=60)
  assert proc.stderr.strip().splitlines()[-1] == (
      "AttributeError: module 'cifar10' (the package) has no attribute "
      "'distorted_inputs': the tutorial's model module is cifar10.cifar10; "
      'write `from cifar10 import cifar10`, or run your script beside '
      'cifar10.py, where `import cifar10` finds it')


def test_settings_flags_and_arguments_in_process():
  from absl import flags
  from cifar10 import cifar10
  assert not flags.FLAGS.is_parsed()  # As under any test: the defaults.
  assert cifar10._setting('batch_size', None) == 128
  assert cifar10._setting('data_dir', None) == cifar10.DATA_DIR
  assert cifar10._setting('batch_size', 7) == 7
  try:
    flags.FLAGS(['walk.py', '--batch_size', '32', '--model', 'vgg16',
                 '--use_fp16'])
    assert cifar10._setting('batch_size', None) == 32
    assert cifar10._setting('batch_size', 7) == 7  # The argument wins.
    assert cifar10._setting('model', None) == 'vgg16'
    with tf.Graph().as_default():
      lr = cifar10.learning_rate(tf.constant(0, tf.int64))
      untold = cifar10.learning_rate(tf.constant(0, tf.int64),
                                     model='cifar10')
      images = tf.zeros([2, 24, 24, 3])
      logits = cifar10.inference(images, model='cifar10')
      with tf1.Session() as sess:
        assert sess.run([lr, untold]) == pytest.approx([0.05, 0.1])
    assert logits.dtype == tf.float16  # --use_fp16 casts float32 images.
  finally:
    flags.FLAGS.unparse_flags()
  assert not flags.FLAGS.is_parsed()


# The MNIST side: the original input_data and mnist read no flags (the
# programs did); a walk-through's script defines its own and passes them.
MNIST_SCRIPT = '''
import sys
import tensorflow as tf
%s
FLAGS = tf.compat.v1.flags.FLAGS
tf.compat.v1.flags.DEFINE_string('input_data_dir', '/tmp/none', '')
tf.compat.v1.flags.DEFINE_integer('hidden1', 128, '')
tf.compat.v1.flags.DEFINE_integer('hidden2', 32, '')


def main(argv=None):
  data_sets = input_data.read_data_sets(FLAGS.input_data_dir,
                                        validation_size=100)
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [None, mnist.IMAGE_PIXELS])
    labels = tf.compat.v1.placeholder(tf.int32, [None])
    logits = mnist.inference(images, FLAGS.hidden1, FLAGS.hidden2)
    loss = mnist.loss(logits, labels)
    train_op = mnist.training(loss, 0.1)
    correct = mnist.evaluation(logits, labels)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for _ in range(100):
        x, y = data_sets.train.next_batch(50)
        sess.run(train_op, {images: x, labels: y})
      hits = sess.run(correct, {images: data_sets.test.images,
                                labels: data_sets.test.labels})
    print('hidden', [v.shape.as_list() for v in
                     tf.compat.v1.trainable_variables()][0])
  print('precision %%.2f' %% (hits / data_sets.test.num_examples))


if __name__ == '__main__':
  tf.compat.v1.app.run()
'''


@pytest.mark.parametrize('where', ['beside', 'elsewhere'])
def test_mnist_walk_through(where, tmp_path):
  data = str(tmp_path / 'data')
  testdata.make_mnist_dir(data, n_train=1100, n_test=100)
  if where == 'beside':  # `import input_data` beside the file, as in 0.x.
    cwd = str(tmp_path / 'mnist')
    shutil.copytree(os.path.join(REPO, 'mnist'), cwd,
                    ignore=shutil.ignore_patterns('__pycache__'))
    imports, pythonpath = 'import input_data\nimport mnist', None
  else:
    cwd, pythonpath = str(tmp_path), REPO
    imports = 'from mnist import input_data, mnist'
  lines = _ok(_run(MNIST_SCRIPT % imports, [
      '--input_data_dir', data, '--hidden1', '20'], cwd, pythonpath))
  assert lines[-2] == 'hidden [784, 20]'
  assert float(lines[-1].split()[1]) > 0.5  # The bars are learnable.
  assert len(glob.glob(os.path.join(data, '*.gz'))) == 4
