"""A binary to train CIFAR-10 using a single CPU or GPU.

Accuracy:
cifar10_train.py reaches about 0.86 precision after 100K steps (256 epochs of
data) as judged by cifar10_eval.py.

Speed: With batch_size 128.

System                 | Step Time (sec/batch)  |     Accuracy
------------------------------------------------------------------
1 Tesla K20m           | 0.35-0.60              | ~0.86 at 60K steps  (5 hours)
1 Tesla K40m           | 0.25-0.35              | ~0.86 at 100K steps (4 hours)
(historical, TensorFlow 0.x; README.md has this project's measurements)

Usage:
  python cifar10_train.py --max_steps 1000      # resumes from --train_dir
  python cifar10_train.py --fresh               # starts again from step 0
  python cifar10_train.py --mixed_precision     # CPUs with AMX, or GPUs
  tensorboard --logdir /tmp/cifar10_train

Ctrl-C or SIGTERM stops after the current step and saves a checkpoint. One
trainer at a time per --train_dir: a second is refused, naming the first.
A damaged checkpoint is skipped for the newest intact one, said aloud.
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
cifar10_cli.start_program(__name__, 'cifar10_train')  # Before TensorFlow loads.

from absl import flags
import tensorflow as tf

from cifar10 import cifar10
from cifar10 import cifar10_input
from cifar10 import cifar10_session
from cifar10 import mixed_precision as mixed_precision_lib

tf1 = tf.compat.v1
FLAGS = flags.FLAGS

# --help lists the flags of the model (cifar10) and of the training session
# beside this program's own (it has none besides them).
flags.adopt_module_key_flags(cifar10)
flags.adopt_module_key_flags(cifar10_session)


def train(*, data_dir=cifar10.DATA_DIR, batch_size=cifar10.BATCH_SIZE,
          pipeline=cifar10_input.DEFAULT_PIPELINE, use_fp16=False,
          model='cifar10', mixed_precision=False, **session):
  """Train CIFAR-10 for a number of steps, resuming from train_dir.

  Args:
    data_dir, batch_size, pipeline, use_fp16: see cifar10.distorted_inputs.
    model: 'cifar10' or 'vgg16' (see cifar10.inference).
    mixed_precision: 16-bit arithmetic where it is faster (see
      mixed_precision.choose).
    **session: the training session's settings, passed on to
      cifar10_session.run_training: train_dir, max_steps, log_frequency,
      log_device_placement, fresh, save_checkpoint_secs,
      save_summaries_steps.

  Returns:
    The global step reached.

  Raises:
    OSError: train_dir cannot be written.
    ValueError: the data is missing or malformed, another trainer holds
      train_dir, its checkpoints are damaged beyond use, or the loss became
      NaN.
  """
  mode = mixed_precision_lib.choose(mixed_precision, 'cifar10_train',
                                    use_fp16=use_fp16)
  with tf.Graph().as_default():
    global_step = tf1.train.get_or_create_global_step()

    # Force input pipeline to CPU:0 to avoid operations sometimes ending up on
    # GPU and resulting in a slow down.
    with tf.device('/cpu:0'):
      images, labels = cifar10.distorted_inputs(data_dir, batch_size,
                                                pipeline, use_fp16)

    # Build a Graph that computes the logits predictions from the
    # inference model.
    logits = cifar10.inference(
        mixed_precision_lib.model_images(images, mode), model)

    # Calculate loss.
    loss = cifar10.loss(logits, labels)

    # Build a Graph that trains the model with one batch of examples and
    # updates the model parameters.
    train_op = cifar10.train(
        loss, global_step, batch_size, model,
        wrap_optimizer=mixed_precision_lib.optimizer_wrapper(mode))

    return cifar10_session.run_training(
        train_op, loss, batch_size, mode=mode, **session).step


def main(argv):
  del argv  # Unused.
  tf.get_logger().setLevel('ERROR')
  cifar10.maybe_download_and_extract(FLAGS.data_dir, FLAGS.data_url,
                                     FLAGS.data_md5)
  train(**cifar10.model_settings(FLAGS),
        **cifar10_session.session_settings(FLAGS))


def run():
  """Entry point of the cifar10_train console script."""
  cifar10_cli.run(main, sys.modules[__name__], 'cifar10_train')


if __name__ == '__main__':
  run()
