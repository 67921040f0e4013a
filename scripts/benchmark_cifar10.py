"""Measures CIFAR-10 training and evaluation speed (and accuracy) here.

Not a test: it reports numbers, for the README's table. Its header names the
machine (CPU model, its bfloat16/AMX features, TensorFlow and Python), as
the answers depend on it.

  python scripts/benchmark_cifar10.py                      # speed
  python scripts/benchmark_cifar10.py --precision_runs 3   # + precision
  python scripts/benchmark_cifar10.py --accuracy_steps 1000,10000
  python scripts/benchmark_cifar10.py --model cifar10,vgg16 --skip_programs

Speed, for each arithmetic --modes (float32; mixed: cifar10_train
--mixed_precision, which is float32 with a note on CPUs without bfloat16),
in one run so that the ratios share the machine's state:
  (a) the model alone on in-memory tensors (the compute-bound ceiling);
  (b) cifar10_train end to end, as a subprocess, with each input pipeline,
      as a ratio to (a) of the same mode, with the process's peak memory;
  (p) the peer a user would pick instead: Keras 3 (as installed with
      TensorFlow) on the same layers (LRN cast to float32 around tf.nn.lrn,
      SGD 0.1, batch 128), in-memory data, policy float32 or mixed_bfloat16;
  (c) seconds to evaluate 10,000 test images (cifar10_eval.evaluate on a
      checkpoint of (b), graph already built, TensorFlow already imported),
      and the whole `cifar10_eval --run_once` process.
(a), (b) and (p) are timed after WARMUP steps, (b) from its log lines'
times, so every stall in between counts. A shared VM's speed drifts by tens
of percent from minute to minute, so they are measured in turn --repeats
times; each ratio is taken within one round, and the table gives the median
of each number with its range over the rounds.
Precision (--precision_runs N): N fresh cifar10_train runs of
--precision_steps (1000) per mode, each evaluated by cifar10_eval; mean,
standard deviation and range.
Accuracy (--accuracy_steps): cifar10_train to each step count in turn
(resuming in --work_dir, so a long run can span several sittings), then
cifar10_eval --run_once (precision_vs_steps --tutorial cifar10 does this
with a CSV and plots).
"""

import argparse
import contextlib
import datetime
import io
import os
import platform
import re
import statistics
import subprocess
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
DEFAULT_DATA = os.path.normpath(os.path.join(REPO, '..', 'shared', 'data',
                                             'cifar10'))
WARMUP = 30  # steps left out of every rate: graph optimisation, caches
WINDOW = 10  # cifar10_train logs every WINDOW steps here
LOG_LINE = re.compile(r'^(\S+ \S+): step (\d+), loss = ', re.M)
MODES = ('float32', 'mixed')
KERAS_POLICIES = {'float32': 'float32', 'mixed': 'mixed_bfloat16'}
CPU_FEATURES = ('avx512f', 'avx512_bf16', 'amx_tile', 'amx_bf16')


# A small interpreter starts each program and prints its peak RSS last (in
# KiB; -1 on Windows, which has no resource module). Measured from here
# directly, the figure would include this process (which imports
# TensorFlow): Linux keeps the peak of the image a process replaced at exec,
# and subprocess starts children with vfork, which shares ours.
_MEASURE = (
    'import subprocess, sys\n'
    'try:\n'
    '  import resource\n'
    'except ImportError:\n'
    '  resource = None\n'
    'status = subprocess.call(sys.argv[1:])\n'
    'peak = -1\n'
    'if resource:\n'
    '  peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n'
    '  if sys.platform == "darwin":\n'
    '    peak //= 1024  # bytes there\n'
    'print("\\n%d" % peak)\n'
    'sys.exit(status)\n')


def _run(args, env=None):
  """Runs a program; returns (stdout, seconds, peak RSS in MiB)."""
  start = time.time()
  proc = subprocess.run([sys.executable, '-c', _MEASURE, sys.executable] + args,
                        cwd=REPO, env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True, check=False)
  out, _, peak = proc.stdout.rstrip('\n').rpartition('\n')
  if proc.returncode:
    sys.exit('%s failed:\n%s' % (' '.join(args), out))
  return out, time.time() - start, max(int(peak), 0) / 1024.0


def machine():
  """One line: CPU model, its bfloat16/AMX features, TF, Python, cores."""
  import tensorflow as tf
  from cifar10 import mixed_precision
  try:
    with open('/proc/cpuinfo', encoding='utf-8') as f:
      flags = set(re.search(r'^flags\s*:(.*)$', f.read(), re.M).group(1)
                  .split())
  except (OSError, AttributeError):
    flags = set()
  features = ', '.join('%s %s' % (f, 'yes' if f in flags else 'no')
                       for f in CPU_FEATURES)
  return ('%s (%s; bfloat16 arithmetic for --mixed_precision: %s), %d cores; '
          'TensorFlow %s, Python %s, %s' % (
              mixed_precision.cpu_model(), features,
              'yes' if mixed_precision.cpu_has_bfloat16() else 'no',
              os.cpu_count(), tf.__version__, platform.python_version(),
              datetime.date.today()))


def _mode_flags(mode):
  return ['--mixed_precision'] if mode == 'mixed' else []


def model_only_rate(batch_size, steps, model='cifar10', mode='float32',
                    warmup=WARMUP):
  """Examples/sec of inference+loss+train on a fixed in-memory batch.

  Timed from step warmup on, as train_rate; mode 'mixed' runs the session
  with --mixed_precision's choice for this machine.
  """
  import numpy as np
  import tensorflow as tf
  from cifar10 import cifar10
  from cifar10 import mixed_precision
  tf1 = tf.compat.v1
  with contextlib.redirect_stdout(io.StringIO()):  # Keep the table clean.
    chosen = mixed_precision.choose(mode == 'mixed', 'benchmark',
                                    training=False)
  with tf.Graph().as_default():
    rng = np.random.RandomState(0)
    images = tf.constant(rng.randn(batch_size, 24, 24, 3).astype(np.float32))
    labels = tf.constant(rng.randint(0, 10, batch_size).astype(np.int32))
    global_step = tf1.train.get_or_create_global_step()
    loss = cifar10.loss(cifar10.inference(images, model), labels)
    train_op = cifar10.train(
        loss, global_step, batch_size,
        wrap_optimizer=mixed_precision.optimizer_wrapper(chosen))
    mixed_precision.keep_loss_scale_out_of_checkpoints()
    with tf1.Session(config=mixed_precision.session_config(chosen)) as sess:
      sess.run([tf1.global_variables_initializer(),
                tf1.local_variables_initializer()])
      for _ in range(warmup):
        sess.run(train_op)
      start = time.time()
      for _ in range(steps - warmup):
        sess.run(train_op)
      return (steps - warmup) * batch_size / (time.time() - start)


def keras_peer_rate(policy, batch_size, steps, warmup=WARMUP):
  """Examples/sec of the same layers in Keras 3, in-memory data.

  Run in its own process (--keras_peer), as Keras trains eagerly (compiled
  with tf.function) and sets its policy globally.
  """
  import keras
  import numpy as np
  import tensorflow as tf
  keras.mixed_precision.set_global_policy(policy)
  layers = keras.layers

  def lrn(x):
    # No bfloat16 kernel for LRN on the CPU: cast around it, as the graph
    # rewrite does.
    out = tf.nn.lrn(tf.cast(x, tf.float32), 4, bias=1.0, alpha=0.001 / 9.0,
                    beta=0.75)
    return tf.cast(out, x.dtype)

  decay = keras.regularizers.L2(0.004 / 2)  # wd * l2_loss = wd * sum / 2.
  inputs = keras.Input((24, 24, 3))
  x = layers.Conv2D(64, 5, padding='same', activation='relu')(inputs)
  x = layers.MaxPool2D(3, 2, padding='same')(x)
  x = layers.Lambda(lrn, output_shape=lambda s: s)(x)
  x = layers.Conv2D(64, 5, padding='same', activation='relu',
                    bias_initializer=keras.initializers.Constant(0.1))(x)
  x = layers.Lambda(lrn, output_shape=lambda s: s)(x)
  x = layers.MaxPool2D(3, 2, padding='same')(x)
  x = layers.Flatten()(x)
  x = layers.Dense(384, activation='relu', kernel_regularizer=decay)(x)
  x = layers.Dense(192, activation='relu', kernel_regularizer=decay)(x)
  outputs = layers.Dense(10, dtype='float32')(x)
  model = keras.Model(inputs, outputs)
  model.compile(optimizer=keras.optimizers.SGD(0.1),
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  rng = np.random.RandomState(0)
  images = rng.randn(steps * batch_size, 24, 24, 3).astype(np.float32)
  labels = rng.randint(0, 10, steps * batch_size)
  split = warmup * batch_size
  model.fit(images[:split], labels[:split], batch_size=batch_size, epochs=1,
            verbose=0, shuffle=False)
  start = time.time()
  model.fit(images[split:], labels[split:], batch_size=batch_size, epochs=1,
            verbose=0, shuffle=False)
  return (len(images) - split) / (time.time() - start)


def train_rate(data_dir, train_dir, pipeline, batch_size, steps,
               model='cifar10', mode='float32'):
  """Examples/sec of cifar10_train from its log lines' times after warm-up.

  Returns:
    (examples/sec, wall seconds of the whole process, peak RSS in MiB).
  """
  out, seconds, rss = _run([
      '-m', 'cifar10.cifar10_train', '--data_dir', data_dir,
      '--train_dir', train_dir, '--fresh', '--max_steps', str(steps),
      '--batch_size', str(batch_size), '--input_pipeline', pipeline,
      '--log_frequency', str(WINDOW), '--model', model] + _mode_flags(mode))
  times = [(int(step), datetime.datetime.fromisoformat(stamp))
           for stamp, step in LOG_LINE.findall(out) if int(step) >= WARMUP]
  if len(times) < 2:
    sys.exit('too few log lines in cifar10_train output:\n' + out)
  (first, start), (last, end) = times[0], times[-1]
  return ((last - first) * batch_size / (end - start).total_seconds(),
          seconds, rss)


def eval_seconds(data_dir, train_dir, eval_dir, num_examples):
  """Seconds for evaluate() in-process, and for the whole program."""
  import tensorflow as tf
  from cifar10 import cifar10_eval
  tf.get_logger().setLevel('ERROR')
  start = time.time()
  (_, precision), = cifar10_eval.evaluate(
      train_dir, eval_dir, data_dir, num_examples=num_examples,
      batch_size=128, run_once=True)
  in_process = time.time() - start
  _, whole, _ = _run(['-m', 'cifar10.cifar10_eval', '--data_dir', data_dir,
                      '--checkpoint_dir', train_dir, '--eval_dir', eval_dir,
                      '--run_once', '--num_examples', str(num_examples)])
  return in_process, whole, precision


def _train_and_eval(data_dir, train_dir, eval_dir, steps, train_flags=(),
                    eval_flags=()):
  """cifar10_train to steps (resuming), then cifar10_eval: (precision, s)."""
  start = time.time()
  _run(['-m', 'cifar10.cifar10_train', '--data_dir', data_dir,
        '--train_dir', train_dir, '--max_steps', str(steps),
        '--log_frequency', '1000'] + list(train_flags))
  trained = time.time() - start
  out, _, _ = _run(['-m', 'cifar10.cifar10_eval', '--data_dir', data_dir,
                    '--checkpoint_dir', train_dir, '--run_once',
                    '--eval_dir', eval_dir] + list(eval_flags))
  return float(re.search(r'precision @ 1 = ([\d.]+)', out).group(1)), trained


def accuracy(data_dir, work_dir, steps_list, model='cifar10'):
  """Trains to each step count in turn and evaluates; prints each result."""
  for steps in steps_list:
    precision, trained = _train_and_eval(
        data_dir, os.path.join(work_dir, 'accuracy_train_' + model),
        os.path.join(work_dir, 'accuracy_eval_' + model), steps,
        ['--model', model])
    print('| %s | %d | %.3f | %.0f s (this sitting) |' % (
        model, steps, precision, trained))
    sys.stdout.flush()


def precision_runs(args):
  """N fresh runs per mode: prints mean, stdev and range of precision."""
  print('| mode | runs | steps | precision @ 1: mean | stdev | range |')
  print('|---|---|---|---|---|---|')
  for mode in args.modes.split(','):
    values = []
    for i in range(args.precision_runs):
      folder = os.path.join(args.work_dir, 'precision_%s_%d' % (mode, i))
      values.append(_train_and_eval(
          args.data_dir, folder + '_train', folder + '_eval',
          args.precision_steps, ['--fresh'] + _mode_flags(mode),
          _mode_flags(mode))[0])
    print('| %s | %d | %d | %.4f | %.4f | %.3f-%.3f |' % (
        mode, len(values), args.precision_steps, statistics.mean(values),
        statistics.stdev(values) if len(values) > 1 else 0.0, min(values),
        max(values)))
    sys.stdout.flush()


def _spread(values, fmt):
  """'median (min-max)' of values."""
  if len(values) == 1:
    return fmt % values[0]
  return (fmt + ' (' + fmt + '-' + fmt + ')') % (
      statistics.median(values), min(values), max(values))


def speed(args, model):
  """Prints the speed rows of one model, for every mode."""
  pipelines = [] if args.skip_programs else args.pipelines.split(',')
  modes = args.modes.split(',')
  ceilings, runs, peers = {}, {}, {}
  for _ in range(args.repeats):
    for mode in modes:
      ceilings.setdefault(mode, []).append(
          model_only_rate(args.batch_size, args.steps, model, mode))
      for pipeline in pipelines:
        runs.setdefault((mode, pipeline), []).append(train_rate(
            args.data_dir, os.path.join(args.work_dir, 'speed_train'),
            pipeline, args.batch_size, args.steps, model, mode))
      if model == 'cifar10' and not args.skip_peer:
        out, _, _ = _run([os.path.abspath(__file__), '--keras_peer',
                          KERAS_POLICIES[mode], '--steps', str(args.steps),
                          '--batch_size', str(args.batch_size)])
        peers.setdefault(mode, []).append(float(out.split()[-1]))
  for mode in modes:
    base = ceilings[mode]
    print('| (a) %s %s on in-memory tensors | %s | 1.00 | | |' % (
        model, mode, _spread(base, '%.0f')))
    for pipeline in pipelines:
      rates, seconds, rss = zip(*runs[(mode, pipeline)], strict=True)
      ratios = [r / c for r, c in zip(rates, base, strict=True)]
      print('| (b) %s %s cifar10_train, %s pipeline | %s | %s | %s | %.0f '
            'MiB |' % (model, mode, pipeline, _spread(rates, '%.0f'),
                       _spread(ratios, '%.2f'), _spread(seconds, '%.0f'),
                       max(rss)))
    if mode in peers:
      ratios = [p / c for p, c in zip(peers[mode], base, strict=True)]
      print('| (p) Keras 3 %s, same layers, in-memory | %s | %s | | |' % (
          KERAS_POLICIES[mode], _spread(peers[mode], '%.0f'),
          _spread(ratios, '%.2f')))
  for mode in modes[1:]:
    gains = [m / f for m, f in zip(ceilings[mode], ceilings[modes[0]],
                                   strict=True)]
    print('| %s / %s, model alone | %s | | | |' % (
        mode, modes[0], _spread(gains, '%.2fx')))
  sys.stdout.flush()
  if not args.skip_programs:
    in_process, whole, _ = eval_seconds(
        args.data_dir, os.path.join(args.work_dir, 'speed_train'),
        os.path.join(args.work_dir, 'speed_eval_' + model), 10000)
    print('| (c) %s evaluate 10,000 test images | %.0f | | %.1f (whole '
          'program %.1f) | |' % (model, 10000 / in_process, in_process,
                                 whole))


def main():
  parser = argparse.ArgumentParser(
      description=__doc__, allow_abbrev=False,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--data_dir', default=DEFAULT_DATA,
                      help='Folder holding cifar-10-batches-bin.')
  parser.add_argument('--work_dir', default='/tmp/cifar10_benchmark',
                      help='Where checkpoints and summaries go.')
  parser.add_argument('--batch_size', type=int, default=128)
  parser.add_argument('--steps', type=int, default=200,
                      help='Training steps per speed measurement.')
  parser.add_argument('--repeats', type=int, default=3,
                      help='Rounds of (a), (b) and (p) for each mode.')
  parser.add_argument('--pipelines', default='dataset,queue')
  parser.add_argument('--modes', default=','.join(MODES),
                      help='Comma-separated: float32, mixed.')
  parser.add_argument('--skip_peer', action='store_true',
                      help='Speed: leave out the Keras peer (p).')
  parser.add_argument('--precision_runs', type=int, default=0,
                      help='Fresh runs per mode for the precision table.')
  parser.add_argument('--precision_steps', type=int, default=1000)
  parser.add_argument('--accuracy_steps', default='',
                      help='Comma-separated step counts for accuracy runs.')
  parser.add_argument('--skip_speed', action='store_true')
  parser.add_argument('--model', default='cifar10',
                      help='Comma-separated models to measure: cifar10 '
                           '(the tutorial\'s), vgg16.')
  parser.add_argument('--skip_programs', action='store_true',
                      help='Speed: measure only (a) and (p), not the '
                      'programs.')
  parser.add_argument('--keras_peer', metavar='POLICY',
                      help='Internal: print the Keras peer\'s examples/sec '
                      'with this policy, then exit.')
  args = parser.parse_args()
  if args.keras_peer:
    print('%.1f' % keras_peer_rate(args.keras_peer, args.batch_size,
                                   args.steps))
    return
  if not os.path.isdir(os.path.join(args.data_dir, 'cifar-10-batches-bin')):
    sys.exit('error: no cifar-10-batches-bin in %s (--data_dir)'
             % args.data_dir)
  for mode in args.modes.split(','):
    if mode not in MODES:
      sys.exit('error: unknown --modes %r (float32, mixed)' % mode)
  print(machine())
  models = args.model.split(',')
  for model in models:
    if model not in ('cifar10', 'vgg16'):
      sys.exit('error: unknown --model %r (cifar10, vgg16)' % model)
  if not args.skip_speed:
    print('| measurement | examples/sec | ratio to (a) | wall s | peak RSS |')
    print('|---|---|---|---|---|')
    for model in models:
      speed(args, model)
  if args.precision_runs:
    precision_runs(args)
  if args.accuracy_steps:
    print('| model | steps | cifar10_eval | training time |')
    print('|---|---|---|---|')
    for model in models:
      accuracy(args.data_dir, args.work_dir,
               [int(s) for s in args.accuracy_steps.split(',')], model)


if __name__ == '__main__':
  main()
