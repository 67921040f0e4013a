"""Evaluation for CIFAR-10.

Accuracy:
cifar10_train.py achieves 0.830 precision after 100K steps (256 epochs
of data) as judged by cifar10_eval.py (original tutorial; about 0.86 with the
moving averages restored as here; README.md has this project's numbers).

Speed:
On a single Tesla K40, cifar10_train.py processes a single batch of 128 images
in 0.25-0.35 sec (i.e. 350 - 600 images /sec). The model reaches ~0.86
precision after 100K steps in 8 hours of training time (historical).

Usage:
  python cifar10_eval.py                # each new checkpoint, as it appears
  python cifar10_eval.py --run_once     # the latest checkpoint, then exit

"precision @ 1" is the fraction of the test images whose top prediction
(the class with the highest logit) is the right one: the accuracy. It is
written to --eval_dir as the scalar 'Precision @ 1' at the checkpoint's
global step, for TensorBoard.

The evaluation itself (evaluate, eval_once, checkpoint_step, importable from
here as in the original) is in evaluation.py, which a distributed cluster's
evaluator replica runs too (cifar10_distributed_train).
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
cifar10_cli.start_program(__name__, 'cifar10_eval')  # Before TensorFlow loads.

from absl import flags
import tensorflow as tf

from cifar10 import cifar10
from cifar10 import evaluation
# The tutorial's functions, as the course calls them (cifar10_eval.evaluate,
# ...): they live in the evaluation library, which the distributed
# trainer's evaluator runs too.
from cifar10.evaluation import checkpoint_step  # noqa: F401
from cifar10.evaluation import CHECKPOINT_DIR
from cifar10.evaluation import eval_once  # noqa: F401
from cifar10.evaluation import evaluate
from cifar10.evaluation import NUM_EXAMPLES

FLAGS = flags.FLAGS

flags.DEFINE_enum('eval_data', 'test', ['test', 'train_eval'],
                  "'test' (the 10,000 test images) or 'train_eval' (the "
                  'training images).')
flags.DEFINE_string('checkpoint_dir', CHECKPOINT_DIR,
                    'Directory where to read model checkpoints.')
flags.DEFINE_integer('num_examples', NUM_EXAMPLES,
                     'Number of examples to run.', lower_bound=1)
flags.DEFINE_boolean('run_once', False,
                     'Evaluate the latest checkpoint once, then exit.')
flags.DEFINE_integer('timeout_secs', 0,
                     'Stop after waiting this long for a new checkpoint (0: '
                     'wait for ever, as the original did).', lower_bound=0)
# --help lists the model's flags (--data_dir, --batch_size, ...) and the
# evaluation's (--eval_dir, --eval_interval_secs) too.
flags.adopt_module_key_flags(cifar10)
flags.adopt_module_key_flags(evaluation)


def main(argv):
  del argv  # Unused.
  tf.get_logger().setLevel('ERROR')
  cifar10.maybe_download_and_extract(FLAGS.data_dir, FLAGS.data_url,
                                     FLAGS.data_md5)
  if FLAGS.use_fp16:
    print('cifar10_eval: note: --use_fp16 is not needed here: a float16 '
          'checkpoint is evaluated in float16, whatever the flag says.')
  try:
    evaluate(checkpoint_dir=FLAGS.checkpoint_dir, eval_dir=FLAGS.eval_dir,
             data_dir=FLAGS.data_dir, eval_data=FLAGS.eval_data,
             num_examples=FLAGS.num_examples, batch_size=FLAGS.batch_size,
             run_once=FLAGS.run_once,
             eval_interval_secs=FLAGS.eval_interval_secs,
             timeout_secs=FLAGS.timeout_secs or None,
             pipeline=FLAGS.input_pipeline,
             # Without --model, whatever each checkpoint holds.
             model=FLAGS.model if FLAGS['model'].present else None,
             mixed_precision=FLAGS.mixed_precision)
  except KeyboardInterrupt:
    # Waiting for the next checkpoint is the usual state: Ctrl-C ends it.
    print('Stopped.')


def run():
  """Entry point of the cifar10_eval console script."""
  cifar10_cli.run(main, sys.modules[__name__], 'cifar10_eval')


if __name__ == '__main__':
  run()
