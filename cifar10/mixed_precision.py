"""--mixed_precision: bfloat16 on CPUs that have it, float16 on GPUs.

The model keeps the tutorial's float32 variables, moving averages and
checkpoints; the arithmetic runs in a 16-bit type where that is faster and
safe:

  GPU                          float16 by grappler's graph rewrite
                               (auto_mixed_precision), with dynamic loss
                               scaling of the gradients
  CPU with AVX-512 BF16, AMX   bfloat16 written into the graph: bfloat16
                               images in (model_images), each layer casts its
                               float32 variables (cifar10_layers), the LRN
                               runs in float32, the logits leave in float32;
                               bfloat16 has float32's range, so no loss
                               scaling is needed
  any other CPU                float32, and one line saying why: there the
                               16-bit types are emulated, slower than float32

Since the checkpoints are the same either way, a run can resume in either
mode and either mode evaluates it. (--use_fp16 is the original's different
idea: float16 variables, no loss scaling.)

Summary of available functions:

 mode = choose(requested, prog)         # 'float32', 'bfloat16' or 'float16'
 images = model_images(images, mode)    # bfloat16 images for 'bfloat16'
 config = session_config(mode, config)  # float16's rewrite, in a ConfigProto
 wrap = optimizer_wrapper(mode)         # for cifar10.train: None, or
 opt = loss_scale_optimizer(opt)        # float16's dynamic loss scaling
 keep_loss_scale_out_of_checkpoints()   # its variables are local ones
 cpu_has_bfloat16(), cpu_model()        # from /proc/cpuinfo (Linux)
 bfloat16_class()          # 'amx_bf16', 'avx512_bf16', ...: see MEASURED
 # CIFAR10_CPU_BFLOAT16=0 (or 1) in the environment: assume none (or some)

Only Linux tells the CPU's features in a file (/proc/cpuinfo). On Windows
and macOS the bfloat16 check cannot be made: --mixed_precision says so in
one line and runs in float32 (unless there is a GPU), which is right for
the laptops the course runs on (none of Apple's or the usual Intel and AMD
laptop CPUs has oneDNN's bfloat16 arithmetic).
"""

import os
import sys

import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2

tf1 = tf.compat.v1

MODES = ('float32', 'bfloat16', 'float16')
# CPU flags (Linux /proc/cpuinfo) of the instructions oneDNN's bfloat16
# kernels need, best first; without them TensorFlow leaves the graph in
# float32. Each names a class of CPU: AMX's tile units (Intel Xeons since
# Sapphire Rapids), AVX-512 BF16 alone (AMD Zen 4 and 5, Cooper Lake),
# AVX-NE-CONVERT (recent Intel laptops: conversions, little arithmetic).
BFLOAT16_CPU_FLAGS = ('amx_bf16', 'avx512_bf16', 'avx_ne_convert')
# Tests, and a user comparing the float32 fallback, override what the CPU
# says: '0' as if it had no bfloat16 arithmetic, '1' as if it had (no class
# then, so no measured speed-up is claimed).
FORCE_ENV = 'CIFAR10_CPU_BFLOAT16'
# What --mixed_precision bought on each class of CPU where it was measured:
# cifar10_train end to end against float32, and where and when. Only a
# speed-up of at least TIP_WORTH is worth a tip to a float32 trainer.
MEASURED = {
    # 1,000 steps each, 1,342 against 1,982 examples/sec (the measurement
    # that opened this feature), with oneDNN's graph rewrite of the time.
    'amx_bf16': (1.48, '1.48x', 'a 2-core Intel Xeon VM, November 2026, '
                 "with the rewrite of the time"),
    # scripts/benchmark_cifar10.py --modes float32,mixed --steps 300
    # --repeats 2: 2,312 against 1,639 examples/sec, quiet, 7 Dec (the LRN's
    # casts inside its XLA clusters); precision 0.6070 +- 0.0023 over five
    # 1,000-step runs (float32: 0.609 +- 0.005). Before, 1.35-1.44x.
    'avx512_bf16': (1.41, '1.35-1.47x', 'a 2-core AMD EPYC Zen 4 VM, '
                    'December 2026'),
}
TIP_WORTH = 1.2
_NAMES = {'amx_bf16': 'AMX', 'avx512_bf16': 'AVX-512 BF16 (no AMX)',
          'avx_ne_convert': 'AVX-NE-CONVERT'}  # For the lines printed.
LOSS_SCALE_VARIABLES = ('current_loss_scale', 'good_steps')


def _cpuinfo():
  try:
    with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
      return f.read()
  except OSError:
    return ''


def bfloat16_class(cpuinfo=None):
  """Which of BFLOAT16_CPU_FLAGS the CPU has, the best (Linux only).

  Args:
    cpuinfo: the text of /proc/cpuinfo (default: read it, unless FORCE_ENV
      says what to assume).

  Returns:
    'amx_bf16', 'avx512_bf16' or 'avx_ne_convert'; '' without any (or
    FORCE_ENV '1': some, unnamed); False for none; None where the system
    does not tell (no /proc/cpuinfo: Windows, macOS).
  """
  forced = os.environ.get(FORCE_ENV) if cpuinfo is None else None
  if forced in ('0', '1'):
    return '' if forced == '1' else False
  text = _cpuinfo() if cpuinfo is None else cpuinfo
  for line in text.splitlines():
    if line.startswith('flags'):
      flags = set(line.split(':', 1)[1].split())
      return next((f for f in BFLOAT16_CPU_FLAGS if f in flags), False)
  return None


def cpu_has_bfloat16(cpuinfo=None):
  """Whether the CPU has bfloat16 arithmetic oneDNN uses (Linux only).

  Args:
    cpuinfo: the text of /proc/cpuinfo (default: read it, unless FORCE_ENV
      says what to assume).

  Returns:
    True or False; None where the system does not tell (no /proc/cpuinfo:
    Windows, macOS).
  """
  return _has(bfloat16_class(cpuinfo))


def _has(found):
  # bfloat16_class's answer as True, False or None.
  return None if found is None else found is not False


def cpu_model(cpuinfo=None):
  """The CPU's model name, or 'this CPU' where it cannot be read."""
  text = _cpuinfo() if cpuinfo is None else cpuinfo
  for line in text.splitlines():
    if line.startswith('model name'):
      return line.split(':', 1)[1].strip()
  return 'this CPU'


def _have_gpu():
  return bool(tf.config.list_physical_devices('GPU'))


def choose(requested, prog, training=True, use_fp16=False):
  """The arithmetic a program runs in, and a line about it when that helps.

  Args:
    requested: whether --mixed_precision was given.
    prog: the program's name, for the lines it prints.
    training: a trainer (which, on a bfloat16 CPU without the flag, hears
      once that the flag exists).
    use_fp16: --use_fp16 was given too.

  Returns:
    'float16' (GPU), 'bfloat16' (CPU with bfloat16 arithmetic) or 'float32'.

  Raises:
    ValueError: both --mixed_precision and --use_fp16.
  """
  if requested and use_fp16:
    raise ValueError('--mixed_precision and --use_fp16 are two ways to 16-bit '
                     'arithmetic: pick one (--use_fp16 is the original\'s '
                     'float16 variables without loss scaling)')
  found = bfloat16_class()  # Read once: /proc/cpuinfo, or FORCE_ENV.
  speedup, said, where = MEASURED.get(found, (0, '', ''))
  if not requested:
    if use_fp16:
      return 'float32'  # The graph itself is float16: nothing to rewrite.
    if training and speedup >= TIP_WORTH and not _have_gpu():
      print('%s: tip: this CPU (%s) has %s; with --mixed_precision '
            'cifar10_train ran %s as fast at the same precision on such a '
            'CPU (%s).' % (prog, cpu_model(), _NAMES[found], said, where))
    return 'float32'
  measured = ''
  if _have_gpu():
    mode = 'float16'
  elif _has(found):
    mode = 'bfloat16'
    if said:  # What it bought on such a CPU, said as it starts.
      measured = ' On CPUs with %s it ran %s as fast as float32 (%s).' % (
          _NAMES[found], said, where)
  elif _has(found) is None:
    print('%s: --mixed_precision: this system does not tell whether its CPU '
          'has bfloat16 arithmetic (only Linux does, in /proc/cpuinfo) and '
          'there is no GPU; this runs in float32.' % prog)
    return 'float32'
  else:
    cpu = cpu_model()
    if os.environ.get(FORCE_ENV) == '0':  # Not what the CPU says: say so.
      cpu = 'this CPU (by %s=0)' % FORCE_ENV
    print('%s: --mixed_precision: %s has no bfloat16 arithmetic (AVX-512 '
          'BF16 or AMX) and there is no GPU; 16-bit math would be slower '
          'here than float32, so this runs in float32.' % (prog, cpu))
    return 'float32'
  print('%s: mixed precision: %s arithmetic, float32 variables and '
        'checkpoints.%s' % (prog, mode, measured))
  sys.stdout.flush()
  return mode


def model_images(images, mode):
  """The images as the model takes them in mode's arithmetic.

  bfloat16: cast, so that the layers compute in bfloat16 with float32
  variables (cifar10_layers.variable_dtype), the LRN in float32, the logits
  float32. That arithmetic is written into the graph rather than left to
  oneDNN's rewrite, which also took the XLA-fused LRN into bfloat16, where
  it ran about 4x slower than in float32 and ate most of the gain.

  Args:
    images: the float32 images of distorted_inputs() or inputs().
    mode: one of MODES.

  Returns:
    The images, cast to bfloat16 for 'bfloat16'.
  """
  return tf.cast(images, tf.bfloat16) if mode == 'bfloat16' else images


def session_config(mode, config=None, written=True):
  """A ConfigProto whose graph rewrite runs the model in mode's arithmetic.

  float16 (GPUs): grappler's auto_mixed_precision. bfloat16: none where
  model_images() wrote it into the graph (written, the CIFAR-10 models),
  else oneDNN's auto_mixed_precision_onednn_bfloat16 (the MNIST models
  classify_images restores).

  Args:
    mode: one of MODES.
    config: a ConfigProto to add to (it is copied), or None.
    written: whether the graph was built for mode (model_images).

  Returns:
    The ConfigProto.
  """
  result = tf1.ConfigProto()
  if config is not None:
    result.CopyFrom(config)
  rewrite = result.graph_options.rewrite_options
  if mode == 'bfloat16' and not written:
    rewrite.auto_mixed_precision_onednn_bfloat16 = (
        rewriter_config_pb2.RewriterConfig.ON)
  elif mode == 'float16':
    rewrite.auto_mixed_precision = rewriter_config_pb2.RewriterConfig.ON
  return result


def optimizer_wrapper(mode):
  """What cifar10.train's wrap_optimizer should be in mode: None, or
  loss_scale_optimizer for float16."""
  return loss_scale_optimizer if mode == 'float16' else None


def loss_scale_optimizer(opt, loss_scale='dynamic'):
  """Wraps a v1 optimizer in loss scaling, for float16 gradients.

  The loss is multiplied by the scale before the gradients are taken and
  the gradients divided after, so small ones do not vanish in float16. A
  step whose gradients are not finite is skipped and halves the scale;
  after 2,000 finite steps in a row the scale doubles.

  Args:
    opt: a tf.compat.v1.train.Optimizer.
    loss_scale: 'dynamic', a number, or a tf.compat.v1.mixed_precision
      LossScale.

  Returns:
    A tf.compat.v1.mixed_precision.MixedPrecisionLossScaleOptimizer.
  """
  return tf1.mixed_precision.MixedPrecisionLossScaleOptimizer(opt,
                                                              loss_scale)


def keep_loss_scale_out_of_checkpoints(graph=None):
  """Makes the loss scale's variables local ones, after the train op exists.

  Local variables are initialized by each session and not saved, so the
  checkpoints stay those of float32 training: a float32 run resumes a
  mixed-precision one and the other way round (the scale starts afresh).

  Args:
    graph: default: the default graph.

  Returns:
    The variables moved.
  """
  graph = graph or tf1.get_default_graph()
  global_vars = graph.get_collection_ref(tf1.GraphKeys.GLOBAL_VARIABLES)
  moved = [v for v in global_vars
           if v.op.name.split('/')[-1] in LOSS_SCALE_VARIABLES]
  for v in moved:
    global_vars.remove(v)
    graph.add_to_collection(tf1.GraphKeys.LOCAL_VARIABLES, v)
  return moved
