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


def test_cpu_features_from_cpuinfo():
  assert mixed_precision.cpu_has_bfloat16(AMX_CPUINFO)
  assert not mixed_precision.cpu_has_bfloat16(AMD_CPUINFO)
  assert not mixed_precision.cpu_has_bfloat16('')
  assert mixed_precision.cpu_model(AMX_CPUINFO) == (
      'Intel(R) Xeon(R) Platinum 8481C')
  assert mixed_precision.cpu_model('') == 'this CPU'


def _machine(monkeypatch, bfloat16, gpu):
  monkeypatch.setattr(mixed_precision, 'cpu_has_bfloat16',
                      lambda cpuinfo=None: bfloat16)
  monkeypatch.setattr(mixed_precision, '_have_gpu', lambda: gpu)
  monkeypatch.setattr(mixed_precision, 'cpu_model',
                      lambda cpuinfo=None: 'Test CPU')


@pytest.mark.parametrize('bfloat16, gpu, want', [
    (False, False, 'float32'), (True, False, 'bfloat16'),
    (False, True, 'float16'), (True, True, 'float16')])
def test_choose_by_machine(monkeypatch, capsys, bfloat16, gpu, want):
  _machine(monkeypatch, bfloat16, gpu)
  assert mixed_precision.choose(True, 'prog') == want
  out = capsys.readouterr().out
  if want == 'float32':
    assert out == ('prog: --mixed_precision: Test CPU has no bfloat16 '
                   'arithmetic (AVX-512 BF16 or AMX) and there is no GPU; '
                   '16-bit math would be slower here than float32, so this '
                   'runs in float32.\n')
  else:
    assert out == ('prog: mixed precision: %s arithmetic, float32 variables '
                   'and checkpoints.\n' % want)


def test_the_tip_only_where_it_is_true(monkeypatch, capsys):
  tip = ('prog: tip: this CPU (Test CPU) has bfloat16 arithmetic; with '
         '--mixed_precision cifar10_train ran 1.48x as fast at the same '
         'precision on such a machine.\n')
  _machine(monkeypatch, True, False)
  assert mixed_precision.choose(False, 'prog') == 'float32'
  assert capsys.readouterr().out == tip
  # Not for evaluation, not with a GPU, not on a CPU without bfloat16.
  assert mixed_precision.choose(False, 'prog', training=False) == 'float32'
  _machine(monkeypatch, True, True)
  assert mixed_precision.choose(False, 'prog') == 'float32'
  _machine(monkeypatch, False, False)
  assert mixed_precision.choose(False, 'prog') == 'float32'
  assert capsys.readouterr().out == ''


def test_mixed_precision_and_use_fp16_exclude_each_other():
  with pytest.raises(ValueError, match='pick one'):
    mixed_precision.choose(True, 'prog', use_fp16=True)
  assert mixed_precision.choose(False, 'prog', use_fp16=True) == 'float32'


def test_session_config_sets_one_rewrite():
  base = tf1.ConfigProto(log_device_placement=True)
  bf16 = mixed_precision.session_config('bfloat16', base)
  fp16 = mixed_precision.session_config('float16', base)
  fp32 = mixed_precision.session_config('float32', base)
  rewrite = bf16.graph_options.rewrite_options
  assert rewrite.auto_mixed_precision_onednn_bfloat16 == ON
  assert rewrite.auto_mixed_precision != ON
  assert fp16.graph_options.rewrite_options.auto_mixed_precision == ON
  assert fp32 == base and bf16.log_device_placement
  assert not base.graph_options.rewrite_options.auto_mixed_precision  # Copied.


def _run_step_graph(config):
  """Runs one cifar10 training step; returns the dtypes the session ran."""
  with tf.Graph().as_default():
    global_step = tf1.train.get_or_create_global_step()
    images = tf.constant(np.random.RandomState(0).randn(8, 24, 24, 3),
                         tf.float32)
    loss = cifar10.loss(cifar10.inference(images),
                        tf.constant(np.arange(8) % 10, tf.int32))
    train_op = cifar10.train(loss, global_step, 8)
    with tf1.Session(config=config) as sess:
      sess.run(tf1.global_variables_initializer())
      metadata = tf1.RunMetadata()
      sess.run(train_op, options=tf1.RunOptions(output_partition_graphs=True),
               run_metadata=metadata)
  return {op.op: str(op.attr) for graph in metadata.partition_graphs
          for op in graph.node}


def test_bfloat16_rewrite_runs_the_model_in_bfloat16():
  if not mixed_precision.cpu_has_bfloat16():
    pytest.skip('this CPU (%s) has no AVX-512 BF16 or AMX, so TensorFlow '
                'does not rewrite the graph to bfloat16 here'
                % mixed_precision.cpu_model())
  ran = _run_step_graph(mixed_precision.session_config('bfloat16'))
  bf16_ops = {op for op, attrs in ran.items() if 'DT_BFLOAT16' in attrs}
  # oneDNN's kernels keep the op's name inside theirs: _MklMatMul,
  # _MklNativeConv2DBackpropFilter.
  assert any(name in op for op in bf16_ops for name in ('Conv2D', 'MatMul')
             ), sorted(bf16_ops)


def test_without_bfloat16_hardware_the_graph_stays_float32():
  if mixed_precision.cpu_has_bfloat16():
    pytest.skip('this CPU has bfloat16 arithmetic: the rewrite applies')
  # Why --mixed_precision says it stays float32 here: TensorFlow would not
  # rewrite the graph anyway.
  ran = _run_step_graph(mixed_precision.session_config('bfloat16'))
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


def test_checkpoints_resume_and_evaluate_in_either_mode(data_dir, tmp_path,
                                                        monkeypatch):
  train_dir = str(tmp_path / 'train')
  kwargs = dict(data_dir=data_dir, batch_size=8, pipeline='dataset')
  # float16 as on a GPU (loss scaling; the float16 rewrite needs a GPU).
  monkeypatch.setattr(mixed_precision, '_have_gpu', lambda: True)
  assert cifar10_train.train(train_dir=train_dir, max_steps=4,
                             mixed_precision=True, **kwargs) == 4
  names = {n for n, _ in tf1.train.list_variables(train_dir)}
  assert not names & {'current_loss_scale', 'good_steps'}
  monkeypatch.setattr(mixed_precision, '_have_gpu', lambda: False)
  assert cifar10_train.train(train_dir=train_dir, max_steps=8,
                             **kwargs) == 8  # float32
  monkeypatch.setattr(mixed_precision, '_have_gpu', lambda: True)
  assert cifar10_train.train(train_dir=train_dir, max_steps=12,
                             mixed_precision=True, **kwargs) == 12
  assert {n for n, _ in tf1.train.list_variables(train_dir)} == names
  results = {}
  for mode in (False, True):
    (step, precision), = cifar10_eval.evaluate(
        train_dir, str(tmp_path / 'eval'), data_dir, num_examples=30,
        batch_size=10, pipeline='dataset', mixed_precision=mode)
    results[mode] = (step, precision)
  assert results[False][0] == results[True][0] == 12
  assert 0.0 <= results[True][1] <= 1.0


def test_program_says_why_it_stays_float32(data_dir, tmp_path):
  if mixed_precision.cpu_has_bfloat16() or tf.config.list_physical_devices(
      'GPU'):
    pytest.skip('this machine has bfloat16 arithmetic or a GPU')
  proc = run_program(['-m', 'cifar10.cifar10_train', '--mixed_precision',
                      '--data_dir', data_dir, '--train_dir',
                      str(tmp_path / 'train'), '--max_steps', '2',
                      '--batch_size', '8'])
  assert re.search(r'^cifar10_train: --mixed_precision: .* has no bfloat16 '
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
