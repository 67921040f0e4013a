"""Measures CIFAR-10 training and evaluation speed (and accuracy) here,
and how close training comes to the machine's limit.

Not a test: it reports numbers, for the README's table. Its header names the
machine (CPU model, its bfloat16/AMX features, TensorFlow and Python), as
the answers depend on it.

  python scripts/benchmark_cifar10.py                      # speed
  python scripts/benchmark_cifar10.py --modes float32 --profile
  python scripts/benchmark_cifar10.py --precision_runs 3   # + precision
  python scripts/benchmark_cifar10.py --accuracy_steps 1000,10000
  python scripts/benchmark_cifar10.py --model cifar10,vgg16 --skip_programs

Speed, for each arithmetic --modes (float32; mixed: cifar10_train
--mixed_precision, which is float32 with a note on CPUs without bfloat16),
in one run so that the ratios share the machine's state:
  (L) the machine's limit (tutorial model, float32): the examples/s at
      which a step would take only its arithmetic's time, at the float32
      rates measured in the same round (machine_limit.py: a 2048 matrix
      product and each convolution at the model's shapes; the FLOPs per
      example counted from the model's graph, about 105 M);
  (a) the model alone on in-memory tensors (the compute-bound ceiling);
  (b) cifar10_train end to end, as a subprocess, with each input pipeline,
      as a ratio to (a) of the same mode, with the process's peak memory;
  (p) the peer a user would pick instead: Keras 3 (as installed with
      TensorFlow) on the same layers (LRN cast to float32 around tf.nn.lrn,
      SGD 0.1, batch 128), in-memory data, policy float32 or mixed_bfloat16;
      and, float32 only, PyTorch on the same layers where `import torch`
      works (peers.py; else one line says it was skipped);
  (c) seconds to evaluate 10,000 test images (evaluation.evaluate on a
      checkpoint of (b), graph already built, TensorFlow already imported),
      and the whole `cifar10_eval --run_once` process.
Float32 rows give their rate as a fraction of (L) and as a ratio to (p);
then the measured rates and the model's FLOPs and arithmetic time layer by
layer. (a), (b) and (p) are timed after WARMUP steps, (b) from its log
lines' times, so every stall in between counts. A shared VM's speed drifts
by tens of percent from minute to minute, so they are measured in turn
--repeats times; each ratio is taken within one round, and the table gives
the median of each number with its range over the rounds.
Profile (--profile): where a float32 training step's time goes, op by op
from TensorFlow's own trace, summed by layer and direction (step_profile.py).
Precision (--precision_runs N): N fresh cifar10_train runs of
--precision_steps (1000) per mode, each evaluated by cifar10_eval; mean,
standard deviation and range.
Accuracy (--accuracy_steps): for each of --modes, cifar10_train to each
step count in turn (resuming in --work_dir, so a long run can span several
sittings), then
cifar10_eval --run_once (precision_vs_steps --tutorial cifar10 does this
with a CSV and plots).

Where a float32 step's time goes (--profile: op time, ms/step; 2-core AMD
EPYC, AVX-512, TensorFlow 2.21, quiet, 6 Dec 2026), before and after the
fused LRN (cifar10_layers.lrn), measured in one sitting:
  conv2 gradients 60.8 / 62.4       conv2 forward 14.8 / 16.3
  conv1 gradient 8.7 / 8.6          conv1 forward 4.4 / 4.6
  LRN gradients 24.8 / 5.4          LRN forward 5.5 / 2.5
  local3 5.2 / 6.2                  pooling 4.6 / 4.3
  SGD, weight decay, averages 5.0 / 3.0          all ops 135.2 / 114.7
(the two cores run ops side by side; summaries add 210 ms to every 100th
step). conv2's two gradients, 7.55 GFLOP a step, run side by side at about
120 GFLOP/s each, the 234-259 GFLOP/s the two cores give one convolution
at that shape: the convolutions run at the limit's own rates, and what
separates a step from the limit is the rest (LRN, pooling, updates, input).
Later, with oneDNN held to AVX2 (ONEDNN_MAX_CPU_ISA=AVX2, as on most
students' CPUs; Zen 4 runs AVX-512 at half width, so little changed):
conv2 gradients 67.1, forward 14.9; conv1 gradient 6.3, forward 3.8; LRN
gradients 4.0, forward 1.7; local3 5.4; pooling 6.4; updates 3.2; all ops
113.8, in a step of 84.1 ms wall.
The same, float32 / --mixed_precision's bfloat16 (--modes float32,mixed
--profile, AVX-512 BF16 without AMX, quiet, 7 Dec 2026, one sitting):
conv2 gradients 59.4 / 41.4, forward 15.1 / 7.5; conv1 gradient 8.4 /
6.5, forward 4.8 / 3.0; LRN gradients 5.3 / 6.1, forward 2.4 / 2.4
(float32 inside, the casts fused); local3 6.3 / 3.3; pooling 4.0 / 2.7;
updates and averages 2.7 / 3.3; all ops 109.8 / 77.7, in steps of 76.2 /
60.0 ms wall (other sittings: 74-84 / 46-57). bfloat16 doubles the
forward convolution's rate (3.77 GFLOP in 7.5 ms, about 500 GFLOP/s) but
its gradients gain 1.4-1.7x: at the forward rate conv2's gradients would
take about 15 ms of op time, not 41, and a step 40-45 ms, 1.7-1.9x float32.
"""

import argparse
import contextlib
import datetime
import io
import os
import platform
import re
import statistics
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
# The libraries beside this file (machine_limit, peers, step_profile), also
# under `python -m scripts.benchmark_cifar10`.
if HERE not in sys.path:
  sys.path.insert(1, HERE)
import program_runs
DEFAULT_DATA = os.path.normpath(os.path.join(REPO, '..', 'shared', 'data',
                                             'cifar10'))
WARMUP = program_runs.WARMUP  # steps left out of every rate
MODES = ('float32', 'mixed')
KERAS_POLICIES = {'float32': 'float32', 'mixed': 'mixed_bfloat16'}
CPU_FEATURES = ('avx512f', 'avx512_bf16', 'amx_tile', 'amx_bf16')
# The clock every wall time here is read from: a test puts a fake one in its
# place, to check the seconds and rates reported against known times.
_clock = time.time


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
    loss = cifar10.loss(cifar10.inference(
        mixed_precision.model_images(images, chosen), model), labels)
    train_op = cifar10.train(
        loss, global_step, batch_size,
        wrap_optimizer=mixed_precision.optimizer_wrapper(chosen))
    mixed_precision.keep_loss_scale_out_of_checkpoints()
    with tf1.Session(config=mixed_precision.session_config(chosen)) as sess:
      sess.run([tf1.global_variables_initializer(),
                tf1.local_variables_initializer()])
      for _ in range(warmup):
        sess.run(train_op)
      start = _clock()
      for _ in range(steps - warmup):
        sess.run(train_op)
      return (steps - warmup) * batch_size / (_clock() - start)


def eval_seconds(data_dir, train_dir, eval_dir, num_examples):
  """Seconds for evaluate() in-process, and for the whole program."""
  import tensorflow as tf
  from cifar10 import evaluation
  tf.get_logger().setLevel('ERROR')
  start = _clock()
  (_, precision), = evaluation.evaluate(
      train_dir, eval_dir, data_dir, num_examples=num_examples,
      batch_size=128, run_once=True)
  in_process = _clock() - start
  _, whole, _ = program_runs.run([
      '-m', 'cifar10.cifar10_eval', '--data_dir', data_dir,
      '--checkpoint_dir', train_dir, '--eval_dir', eval_dir, '--run_once',
      '--num_examples', str(num_examples)])
  return in_process, whole, precision


def accuracy(data_dir, work_dir, steps_list, model='cifar10', mode='float32'):
  """Trains to each step count in turn and evaluates; prints each result."""
  folder = os.path.join(work_dir, 'accuracy_%s_' + model + '_' + mode)
  for steps in steps_list:
    precision, trained = program_runs.train_and_eval(
        data_dir, folder % 'train', folder % 'eval', steps,
        ['--model', model] + program_runs.mode_flags(mode),
        program_runs.mode_flags(mode))
    print('| %s %s | %d | %.3f | %.0f s (this sitting) |' % (
        model, mode, steps, precision, trained))
    sys.stdout.flush()


def precision_runs(args):
  """N fresh runs per mode: prints mean, stdev and range of precision."""
  print('| mode | runs | steps | precision @ 1: mean | stdev | range |')
  print('|---|---|---|---|---|---|')
  for mode in args.modes.split(','):
    values = []
    for i in range(args.precision_runs):
      folder = os.path.join(args.work_dir, 'precision_%s_%d' % (mode, i))
      values.append(program_runs.train_and_eval(
          args.data_dir, folder + '_train', folder + '_eval',
          args.precision_steps, ['--fresh'] + program_runs.mode_flags(mode),
          program_runs.mode_flags(mode))[0])
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


def _ratios(values, bases):
  return [v / b for v, b in zip(values, bases, strict=True)]


def _peer(args, flag, value):
  """Examples/sec of a peer (peers.py), run as this script in a process."""
  out, _, _ = program_runs.run([
      os.path.abspath(__file__), flag, value, '--steps', str(args.steps),
      '--batch_size', str(args.batch_size)])
  return float(out.split()[-1])


def _row(label, rates, base, limits=None, keras=None, tail=' | |'):
  """A table row: rate, ratio to (a), fraction of (L), ratio to (p)."""
  cells = [_spread(rates, '%.0f'), _spread(_ratios(rates, base), '%.2f')]
  for bases in (limits, keras):
    cells.append(_spread(_ratios(rates, bases), '%.2f') if bases else '')
  print('| %s | %s |%s' % (label, ' | '.join(cells), tail))


def _measure(args, model, modes, pipelines, limit):
  """The rounds of speed(): {(row, mode): [one value per round]}."""
  import machine_limit
  import peers
  torch = (model == 'cifar10' and not args.skip_peer and 'float32' in modes
           and peers.have_torch())
  found = {}
  for _ in range(args.repeats):
    if limit:
      rates = machine_limit.measure_rates(limit['cases'])
      found.setdefault(('L', 'float32'), []).append(
          machine_limit.machine_limit(limit['parts'], rates))
      for kind, rate in rates.items():
        limit['rates'].setdefault(kind, []).append(rate)
    for mode in modes:
      found.setdefault(('a', mode), []).append(
          model_only_rate(args.batch_size, args.steps, model, mode))
      for pipeline in pipelines:
        found.setdefault(('b ' + pipeline, mode), []).append(
            program_runs.train_rate(
                args.data_dir, os.path.join(args.work_dir, 'speed_train'),
                pipeline, args.batch_size, args.steps, model, mode))
      if model == 'cifar10' and not args.skip_peer:
        found.setdefault(('p', mode), []).append(
            _peer(args, '--keras_peer', KERAS_POLICIES[mode]))
      if torch and mode == 'float32':
        found.setdefault(('t', mode), []).append(
            _peer(args, '--torch_peer', 'float32'))
  return found


def speed(args, model):
  """Prints the speed rows of one model, for every mode."""
  import machine_limit
  import peers
  pipelines = [] if args.skip_programs else args.pipelines.split(',')
  modes = args.modes.split(',')
  limit = None
  if model == 'cifar10' and 'float32' in modes:
    parts = machine_limit.model_parts(model)
    limit = {'parts': parts, 'rates': {}, 'cases': machine_limit.rate_cases(
        parts, args.batch_size)}
  found = _measure(args, model, modes, pipelines, limit)
  limits = found.get(('L', 'float32'))
  if limits:
    print('| (L) %s machine\'s limit: float32 arithmetic alone | %s | | '
          '1.00 | | | |' % (model, _spread(limits, '%.0f')))
  for mode in modes:
    base = found[('a', mode)]
    fraction = limits if mode == 'float32' else None
    keras = found.get(('p', mode))
    _row('(a) %s %s on in-memory tensors' % (model, mode), base, base,
         fraction, keras)
    for pipeline in pipelines:
      rates, seconds, rss = zip(*found[('b ' + pipeline, mode)], strict=True)
      _row('(b) %s %s cifar10_train, %s pipeline' % (model, mode, pipeline),
           rates, base, fraction, keras,
           ' %s | %.0f MiB |' % (_spread(seconds, '%.0f'), max(rss)))
    if keras:
      _row('(p) Keras 3 %s, same layers, in-memory' % KERAS_POLICIES[mode],
           keras, base, fraction, keras)
    if ('t', mode) in found:
      _row('(p) PyTorch float32, same layers, in-memory', found[('t', mode)],
           base, fraction, keras)
  # What the mode buys on this machine, model alone and end to end, beside
  # what Keras' own policy buys its peer: each ratio within one round.
  for mode in modes[1:]:
    gains = _ratios(found[('a', mode)], found[('a', modes[0])])
    print('| %s / %s, model alone | %s | | | | | |' % (
        mode, modes[0], _spread(gains, '%.2fx')))
    for pipeline in pipelines:
      rates = [[r[0] for r in found[('b ' + pipeline, m)]]
               for m in (mode, modes[0])]
      print('| %s / %s, cifar10_train, %s pipeline | %s | | | | | |' % (
          mode, modes[0], pipeline, _spread(_ratios(*rates), '%.2fx')))
    if ('p', mode) in found and ('p', modes[0]) in found:
      print('| Keras %s / %s, the peer | %s | | | | | |' % (
          KERAS_POLICIES[mode], KERAS_POLICIES[modes[0]],
          _spread(_ratios(found[('p', mode)], found[('p', modes[0])]),
                  '%.2fx')))
  if model == 'cifar10' and not args.skip_peer and 'float32' in modes and (
      not peers.have_torch()):
    print('(PyTorch peer skipped: `import torch` finds no PyTorch here.)')
  if limit:
    rates = {k: statistics.median(v) for k, v in limit['rates'].items()}
    print('\n%s\n\n%s\n' % (machine_limit.rates_table(rates),
                              machine_limit.parts_table(limit['parts'],
                                                        rates)))
  sys.stdout.flush()
  if not args.skip_programs:
    in_process, whole, _ = eval_seconds(
        args.data_dir, os.path.join(args.work_dir, 'speed_train'),
        os.path.join(args.work_dir, 'speed_eval_' + model), 10000)
    print('| (c) %s evaluate 10,000 test images | %.0f | | | | %.1f (whole '
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
                      help='Rounds of (L), (a), (b) and (p) for each mode.')
  parser.add_argument('--pipelines', default='dataset,queue')
  parser.add_argument('--modes', default=','.join(MODES),
                      help='Comma-separated: float32, mixed.')
  parser.add_argument('--skip_peer', action='store_true',
                      help='Speed: leave out the peers (p).')
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
                      help='Speed: measure only (L), (a) and (p), not the '
                      'programs.')
  parser.add_argument('--profile', action='store_true',
                      help='Also print where a training step of the '
                      'tutorial\'s model goes, layer by layer, in each of '
                      '--modes.')
  parser.add_argument('--keras_peer', metavar='POLICY',
                      help='Internal: print the Keras peer\'s examples/sec '
                      'with this policy, then exit.')
  parser.add_argument('--torch_peer', metavar='DTYPE',
                      help='Internal: print the PyTorch peer\'s '
                      'examples/sec (float32), then exit.')
  args = parser.parse_args()
  if args.keras_peer or args.torch_peer:
    import peers
    if args.keras_peer:
      rate = peers.keras_rate(args.keras_peer, args.batch_size, args.steps,
                              WARMUP)
    else:
      rate = peers.torch_rate(args.batch_size, args.steps, WARMUP)
    print('%.1f' % rate)
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
    print('| measurement | examples/sec | ratio to (a) | fraction of (L) | '
          'ratio to Keras (p) | wall s | peak RSS |')
    print('|---|---|---|---|---|---|---|')
    for model in models:
      speed(args, model)
  if args.profile:
    import step_profile
    for mode in args.modes.split(','):
      # --modes' 'mixed' is bfloat16 on the CPU (what a profile can show).
      arithmetic = 'bfloat16' if mode == 'mixed' else mode
      print('Profile, %s (%s arithmetic):' % (mode, arithmetic))
      print(step_profile.profile_table(step_profile.profile_step(
          args.batch_size, mode=arithmetic)))
      sys.stdout.flush()
  if args.precision_runs:
    precision_runs(args)
  if args.accuracy_steps:
    print('| model | steps | cifar10_eval | training time |')
    print('|---|---|---|---|')
    for model in models:
      for mode in args.modes.split(','):
        accuracy(args.data_dir, args.work_dir,
                 [int(s) for s in args.accuracy_steps.split(',')], model,
                 mode)


if __name__ == '__main__':
  main()
