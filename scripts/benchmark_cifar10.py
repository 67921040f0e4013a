"""Measures CIFAR-10 training and evaluation speed (and accuracy) here.

Not a test: it reports numbers, for the README's table.

  python scripts/benchmark_cifar10.py                      # speed
  python scripts/benchmark_cifar10.py --accuracy_steps 1000,10000
  python scripts/benchmark_cifar10.py --model cifar10,vgg16 --skip_programs

Speed, in one run so that the ratios share the machine's state:
  (a) the model alone on in-memory tensors (the compute-bound ceiling);
  (b) cifar10_train end to end, as a subprocess, with each input pipeline,
      as a ratio to (a), with the process's peak memory;
  (c) seconds to evaluate 10,000 test images (cifar10_eval.evaluate on a
      checkpoint of (b), graph already built, TensorFlow already imported),
      and the whole `cifar10_eval --run_once` process.
(a) and (b) are timed from step 30 to the last step logged (every 10th), so
warm-up is left out and every stall in between counts. A shared VM's speed
drifts by tens of percent from minute to minute, so (a) and (b) are
measured in turn --repeats times; each ratio is taken within one round, and
the table gives the median of each number with its range over the rounds.
Each is measured for each --model in turn (--skip_programs: (a) only).
Accuracy (--accuracy_steps): cifar10_train to each step count in turn
(resuming in --work_dir, so a long run can span several sittings), then
cifar10_eval --run_once, printing the precision.
"""

import argparse
import datetime
import os
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


def _run(args, env=None):
  """Runs a program; returns (stdout, seconds, peak RSS in MiB)."""
  start = time.time()
  proc = subprocess.Popen([sys.executable] + args, cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
  out = proc.stdout.read()
  _, status, usage = os.wait4(proc.pid, 0)
  proc.returncode = os.waitstatus_to_exitcode(status)
  if proc.returncode:
    sys.exit('%s failed:\n%s' % (' '.join(args), out))
  return out, time.time() - start, usage.ru_maxrss / 1024.0


def model_only_rate(batch_size, steps, model='cifar10', warmup=WARMUP):
  """Examples/sec of inference+loss+train on a fixed in-memory batch.

  Timed from step warmup on, as train_rate.
  """
  import numpy as np
  import tensorflow as tf
  from cifar10 import cifar10
  tf1 = tf.compat.v1
  with tf.Graph().as_default():
    rng = np.random.RandomState(0)
    images = tf.constant(rng.randn(batch_size, 24, 24, 3).astype(np.float32))
    labels = tf.constant(rng.randint(0, 10, batch_size).astype(np.int32))
    global_step = tf1.train.get_or_create_global_step()
    loss = cifar10.loss(cifar10.inference(images, model), labels)
    train_op = cifar10.train(loss, global_step, batch_size)
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      for _ in range(warmup):
        sess.run(train_op)
      start = time.time()
      for _ in range(steps - warmup):
        sess.run(train_op)
      return (steps - warmup) * batch_size / (time.time() - start)


def train_rate(data_dir, train_dir, pipeline, batch_size, steps,
               model='cifar10'):
  """Examples/sec of cifar10_train from its log lines' times after warm-up.

  Returns:
    (examples/sec, wall seconds of the whole process, peak RSS in MiB).
  """
  out, seconds, rss = _run([
      '-m', 'cifar10.cifar10_train', '--data_dir', data_dir,
      '--train_dir', train_dir, '--fresh', '--max_steps', str(steps),
      '--batch_size', str(batch_size), '--input_pipeline', pipeline,
      '--log_frequency', str(WINDOW), '--model', model])
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


def accuracy(data_dir, work_dir, steps_list, model='cifar10'):
  """Trains to each step count in turn and evaluates; prints each result."""
  train_dir = os.path.join(work_dir, 'accuracy_train_' + model)
  for steps in steps_list:
    start = time.time()
    _run(['-m', 'cifar10.cifar10_train', '--data_dir', data_dir,
          '--train_dir', train_dir, '--max_steps', str(steps),
          '--log_frequency', '1000', '--model', model])
    trained = time.time() - start
    out, _, _ = _run(['-m', 'cifar10.cifar10_eval', '--data_dir', data_dir,
                      '--checkpoint_dir', train_dir, '--run_once',
                      '--eval_dir', os.path.join(work_dir,
                                                 'accuracy_eval_' + model)])
    precision = re.search(r'precision @ 1 = [\d.]+', out).group(0)
    print('| %s | %d | %s | %.0f s (this sitting) |' % (
        model, steps, precision, trained))
    sys.stdout.flush()


def _spread(values, fmt):
  """'median (min-max)' of values."""
  if len(values) == 1:
    return fmt % values[0]
  return (fmt + ' (' + fmt + '-' + fmt + ')') % (
      statistics.median(values), min(values), max(values))


def speed(args, model):
  """Prints the speed rows of one model."""
  ceilings, runs = [], {}
  train_dir = os.path.join(args.work_dir, 'speed_train_' + model)
  pipelines = [] if args.skip_programs else args.pipelines.split(',')
  for _ in range(args.repeats):
    ceilings.append(model_only_rate(args.batch_size, args.steps, model))
    for pipeline in pipelines:
      runs.setdefault(pipeline, []).append(train_rate(
          args.data_dir, train_dir, pipeline, args.batch_size, args.steps,
          model))
  print('| (a) %s on in-memory tensors | %s | 1.00 | | |' % (
      model, _spread(ceilings, '%.0f')))
  for pipeline in pipelines:
    rates, seconds, rss = zip(*runs[pipeline], strict=True)
    ratios = [rate / ceiling
              for rate, ceiling in zip(rates, ceilings, strict=True)]
    print('| (b) %s cifar10_train, %s pipeline | %s | %s | %s | %.0f MiB |' % (
        model, pipeline, _spread(rates, '%.0f'), _spread(ratios, '%.2f'),
        _spread(seconds, '%.0f'), max(rss)))
  sys.stdout.flush()
  if args.skip_programs:
    return
  in_process, whole, _ = eval_seconds(
      args.data_dir, train_dir,
      os.path.join(args.work_dir, 'speed_eval_' + model), 10000)
  print('| (c) %s evaluate 10,000 test images | %.0f | | %.1f (whole '
        'program %.1f) | |' % (model, 10000 / in_process, in_process, whole))


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
                      help='Rounds of (a) then (b) for each pipeline.')
  parser.add_argument('--pipelines', default='dataset,queue')
  parser.add_argument('--accuracy_steps', default='',
                      help='Comma-separated step counts for accuracy runs.')
  parser.add_argument('--skip_speed', action='store_true')
  parser.add_argument('--model', default='cifar10',
                      help='Comma-separated models to measure: cifar10 '
                           '(the tutorial\'s), vgg16.')
  parser.add_argument('--skip_programs', action='store_true',
                      help='Speed: measure only (a), not the programs.')
  args = parser.parse_args()
  if not os.path.isdir(os.path.join(args.data_dir, 'cifar-10-batches-bin')):
    sys.exit('error: no cifar-10-batches-bin in %s (--data_dir)'
             % args.data_dir)

  import tensorflow as tf
  print('TensorFlow %s, Python %s, %d CPU cores' % (
      tf.__version__, sys.version.split()[0], os.cpu_count()))
  models = args.model.split(',')
  for model in models:
    if model not in ('cifar10', 'vgg16'):
      sys.exit('error: unknown --model %r (cifar10, vgg16)' % model)
  if not args.skip_speed:
    print('| measurement | examples/sec | ratio to (a) | wall s | peak RSS |')
    print('|---|---|---|---|---|')
    for model in models:
      speed(args, model)
  if args.accuracy_steps:
    print('| model | steps | cifar10_eval | training time |')
    print('|---|---|---|---|')
    for model in models:
      accuracy(args.data_dir, args.work_dir,
               [int(s) for s in args.accuracy_steps.split(',')], model)


if __name__ == '__main__':
  main()
