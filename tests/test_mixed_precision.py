"""--mixed_precision: which arithmetic where, the rewrite, loss scaling, and
checkpoints that resume and evaluate in either mode.

No GPU is available to this project: the float16 path is tested on the CPU
as far as it goes (loss scaling and checkpoints; grappler's float16 rewrite
only acts on GPUs). The bfloat16 rewrite is checked where the CPU has the
instructions, and shown to leave the graph float32 where it has not.
"""

import os
import re

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2

import testdata
from cifar10 import cifar10
from cifar10 import cifar10_eval
from cifar10 import cifar10_train
from cifar10 import mixed_precision
from conftest import run_program

tf1 = tf.compat.v1

AMX_CPUINFO = ('processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum '
               '8481C\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 '
               'amx_tile\n')
AMD_CPUINFO = ('processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx '
               'avx2 fma\n')
ON = rewriter_config_pb2.RewriterConfig.ON


ZEN4_CPUINFO = ('processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 '
                'avx512f avx512_bf16 avx512_vnni\n')


def test_cpu_features_from_cpuinfo():
  assert mixed_precision.cpu_has_bfloat16(AMX_CPUINFO)
  assert not mixed_precision.cpu_has_bfloat16(AMD_CPUINFO)
  assert mixed_precision.cpu_has_bfloat16('') is None
  # The best class the CPU has: AMX before AVX-512 BF16, which it also has.
  assert mixed_precision.bfloat16_class(AMX_CPUINFO) == 'amx_bf16'
  assert mixed_precision.bfloat16_class(ZEN4_CPUINFO) == 'avx512_bf16'
  assert mixed_precision.bfloat16_class(AMD_CPUINFO) is False
  assert mixed_precision.cpu_model(AMX_CPUINFO) == (
      'Intel(R) Xeon(R) Platinum 8481C')
  assert mixed_precision.cpu_model('') == 'this CPU'


def _machine(monkeypatch, bfloat16, gpu):
  """bfloat16: a class of BFLOAT16_CPU_FLAGS, '' (some), False or None."""
  monkeypatch.setattr(mixed_precision, 'bfloat16_class',
                      lambda cpuinfo=None: bfloat16)
  monkeypatch.setattr(mixed_precision, '_have_gpu', lambda: gpu)
  monkeypatch.setattr(mixed_precision, 'cpu_model',
                      lambda cpuinfo=None: 'Test CPU')


@pytest.mark.parametrize('bfloat16, gpu, want', [
    (False, False, 'float32'), ('amx_bf16', False, 'bfloat16'),
    (False, True, 'float16'), ('amx_bf16', True, 'float16')])
def test_choose_by_machine(monkeypatch, capsys, bfloat16, gpu, want):
  _machine(monkeypatch, bfloat16, gpu)
  assert mixed_precision.choose(True, 'prog') == want
  out = capsys.readouterr().out
  if want == 'float32':
    assert out == ('prog: --mixed_precision: Test CPU has no bfloat16 '
                   'arithmetic (AVX-512 BF16 or AMX) and there is no GPU; '
                   '16-bit math would be slower here than float32, so this '
                   'runs in float32.\n')
  elif want == 'float16':
    assert out == ('prog: mixed precision: float16 arithmetic, float32 '
                   'variables and checkpoints.\n')
  else:  # What it measured on such a CPU, said as it starts.
    assert out == ('prog: mixed precision: bfloat16 arithmetic, float32 '
                   'variables and checkpoints. On CPUs with AMX it ran 1.48x '
                   'as fast as float32 (a 2-core Intel Xeon VM, November '
                   '2026, with the rewrite of the time).\n')


def test_bfloat16_without_amx_says_what_it_measured(monkeypatch, capsys):
  _machine(monkeypatch, 'avx512_bf16', False)
  assert mixed_precision.choose(True, 'prog') == 'bfloat16'
  assert capsys.readouterr().out == (
      'prog: mixed precision: bfloat16 arithmetic, float32 variables and '
      'checkpoints. On CPUs with AVX-512 BF16 (no AMX) it ran 1.35-1.47x as '
      'fast as float32 (a 2-core AMD EPYC Zen 4 VM, December 2026).\n')
  # And a float32 trainer there hears of it.
  assert mixed_precision.choose(False, 'prog') == 'float32'
  assert capsys.readouterr().out == (
      'prog: tip: this CPU (Test CPU) has AVX-512 BF16 (no AMX); with '
      '--mixed_precision cifar10_train ran 1.35-1.47x as fast at the same '
      'precision on such a CPU (a 2-core AMD EPYC Zen 4 VM, December '
      '2026).\n')
  # Where nothing was measured (or the class is forced), nothing is claimed.
  for unmeasured in ('avx_ne_convert', ''):
    _machine(monkeypatch, unmeasured, False)
    assert mixed_precision.choose(True, 'prog') == 'bfloat16'
    assert capsys.readouterr().out == (
        'prog: mixed precision: bfloat16 arithmetic, float32 variables and '
        'checkpoints.\n')


def test_the_tip_only_where_it_is_true(monkeypatch, capsys):
  tip = ('prog: tip: this CPU (Test CPU) has AMX; with --mixed_precision '
         'cifar10_train ran 1.48x as fast at the same precision on such a '
         'CPU (a 2-core Intel Xeon VM, November 2026, with the rewrite of '
         'the time).\n')
  _machine(monkeypatch, 'amx_bf16', False)
  assert mixed_precision.choose(False, 'prog') == 'float32'
  assert capsys.readouterr().out == tip
  # Not for evaluation, not with a GPU, not on a CPU without bfloat16, nor
  # where it was never measured (nor below TIP_WORTH, as 1.03-1.08x was).
  assert mixed_precision.choose(False, 'prog', training=False) == 'float32'
  _machine(monkeypatch, 'amx_bf16', True)
  assert mixed_precision.choose(False, 'prog') == 'float32'
  for other in (False, None, 'avx_ne_convert', ''):
    _machine(monkeypatch, other, False)
    assert mixed_precision.choose(False, 'prog') == 'float32'
  assert capsys.readouterr().out == ''


def test_the_setting_overrides_what_the_cpu_says(monkeypatch):
  monkeypatch.setattr(mixed_precision, '_cpuinfo', lambda: AMX_CPUINFO)
  assert mixed_precision.bfloat16_class() == 'amx_bf16'
  monkeypatch.setenv(mixed_precision.FORCE_ENV, '0')
  assert mixed_precision.bfloat16_class() is False
  assert mixed_precision.cpu_has_bfloat16() is False
  # What a caller passes is read as it is (the setting is the machine's).
  assert mixed_precision.bfloat16_class(AMX_CPUINFO) == 'amx_bf16'
  monkeypatch.setattr(mixed_precision, '_cpuinfo', lambda: AMD_CPUINFO)
  monkeypatch.setenv(mixed_precision.FORCE_ENV, '1')
  assert mixed_precision.bfloat16_class() == ''
  assert mixed_precision.cpu_has_bfloat16() is True
  monkeypatch.setenv(mixed_precision.FORCE_ENV, 'yes')  # Not a setting.
  assert mixed_precision.cpu_has_bfloat16() is False


def test_mixed_precision_and_use_fp16_exclude_each_other():
  with pytest.raises(ValueError, match='pick one'):
    mixed_precision.choose(True, 'prog', use_fp16=True)
  assert mixed_precision.choose(False, 'prog', use_fp16=True) == 'float32'


def test_session_config_sets_one_rewrite():
  base = tf1.ConfigProto(log_device_placement=True)
  # bfloat16 written into the graph needs no rewrite; a graph built in
  # float32 (the MNIST models classify_images restores) gets oneDNN's.
  bf16 = mixed_precision.session_config('bfloat16', base, written=False)
  fp16 = mixed_precision.session_config('float16', base)
  fp32 = mixed_precision.session_config('float32', base)
  rewrite = bf16.graph_options.rewrite_options
  assert rewrite.auto_mixed_precision_onednn_bfloat16 == ON
  assert rewrite.auto_mixed_precision != ON
  assert fp16.graph_options.rewrite_options.auto_mixed_precision == ON
  assert fp32 == base and bf16.log_device_placement
  assert mixed_precision.session_config('bfloat16', base) == base
  assert not base.graph_options.rewrite_options.auto_mixed_precision  # Copied.


def _run_step_graph(config, mode='float32'):
  """Runs one cifar10 training step, the graph built for mode's arithmetic;
  returns the dtypes the session ran, by op."""
  with tf.Graph().as_default():
    global_step = tf1.train.get_or_create_global_step()
    images = tf.constant(np.random.RandomState(0).randn(8, 24, 24, 3),
                         tf.float32)
    loss = cifar10.loss(cifar10.inference(
        mixed_precision.model_images(images, mode)),
                        tf.constant(np.arange(8) % 10, tf.int32))
    train_op = cifar10.train(loss, global_step, 8)
    with tf1.Session(config=config) as sess:
      sess.run(tf1.global_variables_initializer())
      metadata = tf1.RunMetadata()
      sess.run(train_op, options=tf1.RunOptions(output_partition_graphs=True),
               run_metadata=metadata)
  return {op.op: str(op.attr) for graph in metadata.partition_graphs
          for op in graph.node}


def test_bfloat16_runs_the_model_in_bfloat16_with_float32_variables():
  if not mixed_precision.cpu_has_bfloat16():
    pytest.skip('this CPU (%s) has no AVX-512 BF16 or AMX, so TensorFlow '
                'has no bfloat16 arithmetic here'
                % mixed_precision.cpu_model())
  for ran in (_run_step_graph(mixed_precision.session_config('bfloat16'),
                              'bfloat16'),
              # And oneDNN's rewrite, for graphs not written in bfloat16.
              _run_step_graph(mixed_precision.session_config(
                  'bfloat16', written=False))):
    bf16_ops = {op for op, attrs in ran.items() if 'DT_BFLOAT16' in attrs}
    # oneDNN's kernels keep the op's name inside theirs: _MklMatMul,
    # _MklNativeConv2DBackpropFilter; each convolution's three ops.
    for name in ('Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput',
                 'MatMul'):
      assert any(name in op for op in bf16_ops), (name, sorted(bf16_ops))
  with tf.Graph().as_default():
    images = tf1.placeholder(tf.float32, [None, 24, 24, 3])
    logits = cifar10.inference(
        mixed_precision.model_images(images, 'bfloat16'))
    assert logits.dtype == tf.float32
    assert {v.dtype.base_dtype for v in tf1.global_variables()} == {
        tf.float32}


def test_without_bfloat16_hardware_the_graph_stays_float32():
  if mixed_precision.cpu_has_bfloat16():
    pytest.skip('this CPU has bfloat16 arithmetic: the rewrite applies')
  # Why --mixed_precision says it stays float32 here: TensorFlow would not
  # rewrite the graph anyway.
  ran = _run_step_graph(mixed_precision.session_config('bfloat16',
                                                       written=False))
  assert ran and not any('DT_BFLOAT16' in a for a in ran.values())


def test_loss_scaling_skips_non_finite_steps_and_adapts_the_scale():
  """Dynamic loss scaling on the CPU, in cifar10.train's train op."""
  with tf.Graph().as_default():
    global_step = tf1.train.get_or_create_global_step()
    images = tf1.placeholder(tf.float32, [4, 24, 24, 3])
    loss = cifar10.loss(cifar10.inference(images),
                        tf.constant([1, 2, 3, 4], tf.int32))
    scale = tf1.mixed_precision.DynamicLossScale(
        initial_loss_scale=1024.0, increment_period=2, multiplier=2.0)
    train_op = cifar10.train(
        loss, global_step, 4, wrap_optimizer=lambda opt: (
            mixed_precision.loss_scale_optimizer(opt, scale)))
    moved = mixed_precision.keep_loss_scale_out_of_checkpoints()
    weights = [v for v in tf1.global_variables()
               if v.op.name == 'conv1/weights'][0]
    finite = np.random.RandomState(1).randn(4, 24, 24, 3)
    broken = finite.copy()
    broken[0, 0, 0, 0] = np.inf
    with tf1.Session() as sess:
      sess.run([tf1.global_variables_initializer(),
                tf1.local_variables_initializer()])

      def step(x):
        before = sess.run(weights)
        sess.run(train_op, {images: x})
        return (not np.array_equal(before, sess.run(weights)),
                int(sess.run(global_step)), float(sess.run(scale())))

      history = [step(finite), step(broken), step(finite), step(finite),
                 step(finite)]
  # The non-finite step changed nothing and halved the scale; two finite
  # steps in a row doubled it again.
  assert history == [(True, 1, 1024.0), (False, 1, 512.0), (True, 2, 512.0),
                     (True, 3, 1024.0), (True, 4, 1024.0)]
  assert sorted(v.op.name for v in moved) == ['current_loss_scale',
                                              'good_steps']


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('cifar_mp'))
  testdata.make_cifar10_dir(root, n=40, n_test=30)
  return root


@pytest.mark.parametrize('mode', ['bfloat16', 'float16'])
def test_checkpoints_resume_and_evaluate_in_either_mode(data_dir, tmp_path,
                                                        monkeypatch, capsys,
                                                        mode):
  """Train in 16 bits, resume in float32, again in 16 bits, evaluate both.

  bfloat16 as this CPU runs it (every CPU of ours has it), float16 as on a
  GPU (loss scaling; grappler's float16 rewrite needs a GPU to act).
  """
  if mode == 'bfloat16' and not mixed_precision.cpu_has_bfloat16():
    pytest.skip('this CPU (%s) has no bfloat16 arithmetic'
                % mixed_precision.cpu_model())
  gpu = mode == 'float16'
  train_dir = str(tmp_path / 'train')
  kwargs = dict(data_dir=data_dir, batch_size=8, pipeline='dataset')
  monkeypatch.setattr(mixed_precision, '_have_gpu', lambda: gpu)
  assert cifar10_train.train(train_dir=train_dir, max_steps=4,
                             mixed_precision=True, **kwargs) == 4
  assert ('cifar10_train: mixed precision: %s arithmetic' % mode) in (
      capsys.readouterr().out)
  names = {n for n, _ in tf1.train.list_variables(train_dir)}
  assert not names & {'current_loss_scale', 'good_steps'}
  monkeypatch.setattr(mixed_precision, '_have_gpu', lambda: False)
  assert cifar10_train.train(train_dir=train_dir, max_steps=8,
                             **kwargs) == 8  # float32
  monkeypatch.setattr(mixed_precision, '_have_gpu', lambda: gpu)
  assert cifar10_train.train(train_dir=train_dir, max_steps=12,
                             mixed_precision=True, **kwargs) == 12
  assert {n for n, _ in tf1.train.list_variables(train_dir)} == names
  results = {}
  for mixed in (False, True):
    (step, precision), = cifar10_eval.evaluate(
        train_dir, str(tmp_path / 'eval'), data_dir, num_examples=30,
        batch_size=10, pipeline='dataset', mixed_precision=mixed)
    results[mixed] = (step, precision)
  assert results[False][0] == results[True][0] == 12
  # Precision is a count of 30 images right (bfloat16's rounding may move
  # an image or two across the line; float16's rewrite does not act here).
  for _, precision in results.values():
    assert precision * 30 == pytest.approx(round(precision * 30), abs=1e-6)
  if gpu:
    assert results[True] == results[False]


def test_program_says_why_it_stays_float32(data_dir, tmp_path):
  """The float32 fallback on any CPU: the setting says it has no bfloat16."""
  if tf.config.list_physical_devices('GPU'):
    pytest.skip('this machine has a GPU: --mixed_precision is float16 here')
  proc = run_program(['-m', 'cifar10.cifar10_train', '--mixed_precision',
                      '--data_dir', data_dir, '--train_dir',
                      str(tmp_path / 'train'), '--max_steps', '2',
                      '--batch_size', '8'],
                     env={mixed_precision.FORCE_ENV: '0'})
  assert re.search(r'^cifar10_train: --mixed_precision: this CPU \(by '
                   r'CIFAR10_CPU_BFLOAT16=0\) has no bfloat16 '
                   r'arithmetic \(AVX-512 BF16 or AMX\) and there is no GPU; '
                   r'16-bit math would be slower here than float32, so this '
                   r'runs in float32\.$', proc.stdout, re.M), proc.stdout
  assert 'tip:' not in proc.stdout
  assert os.path.exists(str(tmp_path / 'train' / 'model.ckpt-2.index'))
  proc = run_program(['-m', 'cifar10.cifar10_train', '--mixed_precision',
                      '--use_fp16', '--data_dir', data_dir, '--train_dir',
                      str(tmp_path / 'train2'), '--max_steps', '2'],
                     check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip().startswith(
      'cifar10_train: error: --mixed_precision and --use_fp16 are two ways')
