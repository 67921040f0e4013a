"""A binary to train CIFAR-10 using multiple GPUs with synchronous updates.

Each of --num_gpus towers runs the whole model on its own share of the
images; the towers' gradients are averaged and applied once per step, so N
towers train like one device on N times the batch, N times as fast at best.

 # The total loss of one tower, built in its name scope.
 total_loss = tower_loss(scope, images, labels)

 # The mean over towers of each variable's gradient.
 grads_and_vars = average_gradients([tower_0_grads, tower_1_grads, ...])

 # The whole program, as a function (train_dir, max_steps, num_towers, ...).
 step = train(train_dir, max_steps, num_towers=2)

Accuracy:
On 2-4 Tesla K20m, cifar10_multi_gpu_train.py reached a precision @ 1 of
about 0.84 after 30K steps, as judged by cifar10_eval.py (the original
tutorial; historical).

Speed: README.md has this project's measurement of the tower overhead (N
logical CPU devices against one, scripts/benchmark_towers.py).

Usage:
  python cifar10_multi_gpu_train.py --num_gpus 2
  python cifar10_multi_gpu_train.py --num_gpus 2 --tower_device cpu  # test
  python cifar10_eval.py --run_once       # reads the same checkpoints

How the work is shared: one input pipeline makes batch_size * N images per
step on the CPU and tf.split hands each tower batch_size of them, the same as
N dequeues of batch_size from the original's one shared queue. Variables live
on the CPU, created by tower 0 and reused by the others, so the checkpoints
hold exactly cifar10_train's variables (either program can resume the other,
and cifar10_eval reads both). With soft placement --num_gpus 2 also runs
where fewer GPUs exist: the ops fall back to the CPU. --tower_device cpu
makes N logical CPU devices instead, to try the program without GPUs.

The learning rate decays by step as in cifar10_train, ignoring the number of
towers, as the original did: N towers see N times more images per step, so
the decay comes after 350 * N epochs. --scale_lr_schedule counts the images
of all towers instead (decay after 350 epochs, i.e. N times fewer steps).
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
cifar10_cli.start_program(__name__, 'cifar10_multi_gpu_train')

from absl import flags
import tensorflow as tf

from cifar10 import cifar10
from cifar10 import cifar10_input
from cifar10 import cifar10_session
from cifar10 import mixed_precision as mixed_precision_lib

tf1 = tf.compat.v1
FLAGS = flags.FLAGS

# Where TensorFlow has no GPU build at all (native Windows since 2.11), the
# note about missing GPUs says so.
NO_GPU_BUILD = {'nt': ' (TensorFlow has no GPU build for native Windows '
                      'since 2.11: use WSL2 for a GPU)'}.get(os.name, '')

flags.DEFINE_integer('num_gpus', 1, 'How many GPUs (towers) to use.',
                     lower_bound=1)
flags.DEFINE_enum('tower_device', 'gpu', ['gpu', 'cpu'],
                  'Where the towers run: one per GPU ("gpu"; the CPU when '
                  'there are too few), or one per logical CPU device '
                  '("cpu"), to test the program on a machine without GPUs.')
flags.DEFINE_boolean('scale_lr_schedule', False,
                     'Decay the learning rate after 350 epochs of the images '
                     'of all towers (N times fewer steps); by default, as in '
                     'the original, after as many steps as with one tower.')
# --help lists the model's and the training session's flags too.
flags.adopt_module_key_flags(cifar10)
flags.adopt_module_key_flags(cifar10_session)


def tower_devices(num_towers, tower_device='gpu'):
  """The device of each tower: '/gpu:<i>' or '/cpu:<i>'.

  Args:
    num_towers: how many towers.
    tower_device: 'gpu' or 'cpu' (logical CPU devices, which the session
      must create with ConfigProto(device_count={'CPU': num_towers})).

  Returns:
    A list of num_towers device strings.

  Raises:
    ValueError: num_towers < 1 or an unknown tower_device.
  """
  if num_towers < 1:
    raise ValueError('the number of towers must be at least 1, not %d'
                     % num_towers)
  if tower_device not in ('gpu', 'cpu'):
    raise ValueError('tower_device must be "gpu" or "cpu", not %r'
                     % tower_device)
  return ['/%s:%d' % (tower_device, i) for i in range(num_towers)]


def tower_loss(scope, images, labels, model='cifar10'):
  """Calculate the total loss on a single tower running the CIFAR model.

  Args:
    scope: unique prefix string identifying the CIFAR tower, e.g. 'tower_0/'.
    images: Images. 4D tensor of shape [batch_size, height, width, 3].
    labels: Labels. 1D tensor of shape [batch_size].
    model: 'cifar10' or 'vgg16'.

  Returns:
     Tensor of shape [] containing the total loss for a batch of data: this
     tower's cross entropy plus the weight decay terms it built.
  """
  logits = cifar10.inference(images, model)
  # The 'losses' collection also holds the towers built before this one:
  # sum only this tower's terms.
  return cifar10.loss(logits, labels, scope=scope)


def average_gradients(tower_grads):
  """Calculate the average gradient for each shared variable across towers.

  This is the synchronization point: every tower must have computed its
  gradients before any variable is updated.

  Args:
    tower_grads: List of lists of (gradient, variable) tuples. The outer list
      is over towers, the inner list over the variables, in the same order
      in every tower (as Optimizer.compute_gradients returns them).

  Returns:
     List of pairs of (gradient, variable) where the gradient has been
     averaged across all towers; None where every tower's gradient is None.

  Raises:
    ValueError: the towers list different variables, or a variable has a
      gradient in some towers and None in others.
  """
  if len({len(grads) for grads in tower_grads}) > 1:
    raise ValueError('the towers have different numbers of variables')
  average_grads = []
  for grad_and_vars in zip(*tower_grads, strict=True):
    # Each grad_and_vars looks like ((grad0_gpu0, var0), ..., (grad0_gpuN,
    # var0)): the towers share the variable, so take the first tower's.
    var = grad_and_vars[0][1]
    if any(v is not var for _, v in grad_and_vars):
      raise ValueError('the towers list different variables where %s should '
                       'be' % var.op.name)
    grads = [g for g, _ in grad_and_vars]
    if all(g is None for g in grads):
      average_grads.append((None, var))
      continue
    if any(g is None for g in grads):
      raise ValueError('%s has a gradient in some towers only' % var.op.name)
    # Stack the towers' gradients on a new leading axis, then average it out.
    grad = tf.concat([tf.expand_dims(g, 0) for g in grads], 0)
    average_grads.append((tf.reduce_mean(grad, 0), var))
  return average_grads


def build_train_op(images, labels, global_step, devices,
                   batch_size=cifar10.BATCH_SIZE, scale_lr_schedule=False,
                   model='cifar10', wrap_optimizer=None):
  """Builds the towers, the averaged update and the summaries.

  Args:
    images, labels: the whole step's batch, len(devices) * batch_size images.
    global_step: the step counter.
    devices: one device string per tower (see tower_devices).
    batch_size: images per tower.
    scale_lr_schedule: count the images of all towers in the decay schedule.
    model: 'cifar10' or 'vgg16'.
    wrap_optimizer: see cifar10.train (mixed precision's loss scaling).

  Returns:
    (train_op, loss, summary_op): the op that runs one step, the last
    tower's total loss, and the summaries to write (the last tower's and the
    shared ones).
  """
  num_towers = len(devices)
  image_splits = tf.split(images, num_towers)
  label_splits = tf.split(labels, num_towers)
  towers = []  # (device, name scope, total loss) of each tower.
  with tf1.variable_scope(tf1.get_variable_scope()):
    for i, device in enumerate(devices):
      with tf.device(device):
        with tf.name_scope('%s_%d' % (cifar10.TOWER_NAME, i)) as scope:
          towers.append((device, scope, tower_loss(
              scope, image_splits[i], label_splits[i], model)))
          # Reuse variables for the next tower.
          tf1.get_variable_scope().reuse_variables()

  def averaged_gradients(opt):
    tower_grads = []
    for device, scope, loss in towers:
      # Each tower's backward pass runs where its forward pass did.
      with tf.device(device), tf.name_scope(scope):
        tower_grads.append(opt.compute_gradients(loss))
    # The mean gradient, computed on the CPU where the variables live.
    with tf.device('/cpu:0'):
      return average_gradients(tower_grads)

  # The loss summaries are the last tower's, as in the original: every tower
  # sees the same kind of images.
  loss = towers[-1][2]
  train_op = cifar10.train(loss, global_step, batch_size, model,
                           num_replicas=num_towers if scale_lr_schedule else 1,
                           gradients=averaged_gradients,
                           wrap_optimizer=wrap_optimizer)

  # Leave out the other towers' activation summaries: they carry the same
  # tags (cifar10 strips the tower from them), which one merge refuses.
  others = tuple('%s_%d/' % (cifar10.TOWER_NAME, i)
                 for i in range(num_towers - 1))
  summaries = [s for s in tf1.get_collection(tf1.GraphKeys.SUMMARIES)
               if not s.op.name.startswith(others)]
  return train_op, loss, tf1.summary.merge(summaries)


def train(*, num_towers=1, tower_device='gpu', scale_lr_schedule=False,
          data_dir=cifar10.DATA_DIR, batch_size=cifar10.BATCH_SIZE,
          pipeline=cifar10_input.DEFAULT_PIPELINE, use_fp16=False,
          model='cifar10', mixed_precision=False, **session):
  """Train CIFAR-10 on num_towers towers, resuming from train_dir.

  Args:
    num_towers: how many towers (--num_gpus).
    tower_device: 'gpu' or 'cpu' (num_towers logical CPU devices).
    scale_lr_schedule: decay after 350 epochs of all towers' images.
    data_dir, pipeline, use_fp16: see cifar10.distorted_inputs.
    batch_size: images per tower and step.
    model: 'cifar10' or 'vgg16'.
    mixed_precision: 16-bit arithmetic where it is faster (see
      mixed_precision.choose).
    **session: the training session's settings, passed on to
      cifar10_session.run_training (train_dir, max_steps, ...).

  Returns:
    The global step reached.

  Raises:
    OSError: train_dir cannot be written.
    ValueError: the data is missing or malformed, bad tower settings,
      another trainer holds train_dir, its checkpoints are damaged beyond
      use, or the loss became NaN.
  """
  devices = tower_devices(num_towers, tower_device)
  mode = mixed_precision_lib.choose(mixed_precision,
                                    'cifar10_multi_gpu_train',
                                    use_fp16=use_fp16)
  if tower_device == 'gpu':
    found = len(tf.config.list_physical_devices('GPU'))
    if found < num_towers:
      print('Note: %d GPU towers asked for, %d GPU(s) found: soft placement '
            'puts the rest on the CPU%s.' % (num_towers, found, NO_GPU_BUILD))
  print('Training %d tower(s) on %s: %d images each, %d per step.' % (
      num_towers, ', '.join(devices), batch_size, batch_size * num_towers))
  with tf.Graph().as_default(), tf.device('/cpu:0'):
    global_step = tf1.train.get_or_create_global_step()
    # One input pipeline for all towers, on the CPU so the GPUs only train.
    images, labels = cifar10.distorted_inputs(
        data_dir, batch_size * num_towers, pipeline, use_fp16)
    images = mixed_precision_lib.model_images(images, mode)
    train_op, loss, summary_op = build_train_op(
        images, labels, global_step, devices, batch_size, scale_lr_schedule,
        model, mixed_precision_lib.optimizer_wrapper(mode))
    # Soft placement lets ops without a kernel on a tower's device (and
    # towers asked for on missing GPUs) fall back to the CPU.
    config = tf1.ConfigProto(
        allow_soft_placement=True,
        device_count={'CPU': num_towers if tower_device == 'cpu' else 1})
    # Examples per second count all towers' images.
    return cifar10_session.run_training(
        train_op, loss, batch_size * num_towers, mode=mode, config=config,
        scaffold=tf1.train.Scaffold(summary_op=summary_op), **session).step


def main(argv):
  del argv  # Unused.
  tf.get_logger().setLevel('ERROR')
  cifar10.maybe_download_and_extract(FLAGS.data_dir, FLAGS.data_url,
                                     FLAGS.data_md5)
  train(num_towers=FLAGS.num_gpus, tower_device=FLAGS.tower_device,
        scale_lr_schedule=FLAGS.scale_lr_schedule,
        **cifar10.model_settings(FLAGS),
        **cifar10_session.session_settings(FLAGS))


def run():
  """Entry point of the cifar10_multi_gpu_train console script."""
  cifar10_cli.run(main, sys.modules[__name__], 'cifar10_multi_gpu_train')


if __name__ == '__main__':
  run()
