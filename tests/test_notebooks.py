"""The labs' notebooks, and the walk-throughs' notebook habits, on a kernel.

Each lab's notebook (cifar10/cifar10_lab.ipynb, mnist/mnist_lab.ipynb) runs
whole, in order, on a real Jupyter kernel started in its folder as Jupyter
starts one, with small settings put after its settings cell (as papermill
does) and data in the real formats; every cell must run, and the lines it
prints are the programs' own, checked against what they wrote. The habits
(flags assigned on FLAGS, %run twice and after import, Interrupt) run on
one kernel in cifar10/, cell by cell, as a student types them.
"""

import ast
import os
import queue
import re
import subprocess
import sys

import jupyter_client
import jupytext
import nbclient
import nbformat
import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO
from conftest import run_program
import testdata

LABS = ('cifar10/cifar10_lab', 'mnist/mnist_lab')
# What TensorFlow's C++ side writes when nothing hides it: none of it may
# reach a cell (a kernel shows its descriptor 2 in the notebook).
NOISE = re.compile(r'^[IWEF]\d{4} |oneDNN|cpu_feature_guard|To enable the '
                   r'following instructions|absl::InitializeLog', re.M)
# cifar10_train's log line, the original's format.
STEP_LINE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: step (\d+), '
                       r'loss = \d+\.\d\d \(\d+\.\d examples/sec; '
                       r'\d+\.\d{3} sec/batch\)$', re.M)
PRECISION_LINE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: '
                            r'precision @ 1 = (\d\.\d{3})$', re.M)


def _kernel_env():
  """A kernel's environment as Jupyter gives it: nothing of ours set.

  No TF_CPP_MIN_LOG_LEVEL (what the programs set themselves is under test)
  and PATH as the test process has it, which need not hold the kernel's
  own scripts (tensorboard): the set-up cell must find them.
  """
  env = dict(os.environ)
  env.pop('TF_CPP_MIN_LOG_LEVEL', None)
  env.pop('PYTHONPATH', None)
  return env


class Output(object):
  """What one cell printed: stdout, stderr, errors and rich displays."""

  def __init__(self):
    self.stdout, self.stderr, self.errors, self.data = '', '', [], []

  def add(self, output):
    kind = output['output_type']
    if kind == 'stream':
      setattr(self, output['name'],
              getattr(self, output['name']) + output['text'])
    elif kind == 'error':
      self.errors.append('%s: %s' % (output['ename'], output['evalue']))
    else:
      self.data.append(output['data'])


def _outputs(cell):
  result = Output()
  for output in cell.outputs:
    result.add(output)
  return result


def _with_settings(path, settings, more_cells=()):
  """The committed notebook, with settings after its parameters cell."""
  notebook = nbformat.read(os.path.join(REPO, path + '.ipynb'), as_version=4)
  tagged = [i for i, cell in enumerate(notebook.cells)
            if 'parameters' in cell.metadata.get('tags', [])]
  assert len(tagged) == 1
  notebook.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell(settings))
  notebook.cells.extend(nbformat.v4.new_code_cell(c) for c in more_cells)
  return notebook


def _execute(notebook, folder):
  """Runs every cell on a new kernel in folder; returns each code cell's
  Output, in order. A cell that raises fails the test, showing it."""
  nbclient.NotebookClient(
      notebook, timeout=300, kernel_name='python3',
      resources={'metadata': {'path': folder}}).execute(env=_kernel_env())
  return [(cell.source, _outputs(cell)) for cell in notebook.cells
          if cell.cell_type == 'code']


def _cell(outputs, start):
  """The Output of the one code cell whose source starts with start."""
  found = [out for source, out in outputs if source.startswith(start)]
  assert len(found) == 1, start
  return found[0]


def _no_noise(outputs):
  for source, out in outputs:
    assert not NOISE.search(out.stderr), (source, out.stderr)
    assert not NOISE.search(out.stdout), (source, out.stdout)


def _latest_step(folder):
  return int(tf.train.latest_checkpoint(folder).rsplit('-', 1)[1])


def _scalars(folder, tag):
  """{step: value} of a scalar in a folder's event files."""
  from tensorflow.compat.v1.train import summary_iterator
  found = {}
  for name in sorted(os.listdir(folder)):
    if name.startswith('events.out.tfevents.'):
      for event in summary_iterator(os.path.join(folder, name)):
        for value in event.summary.value:
          if value.tag == tag:
            found[event.step] = value.simple_value
  return found


# ---------------------------------------------------------------------------
# The notebooks as committed.


@pytest.mark.parametrize('path', LABS)
def test_notebook_is_stored_clean_and_paired_with_its_markdown(path):
  """The .ipynb holds no outputs, and the same cells as its .md twin (the
  form reviewed in diffs; `jupytext --sync` mends a difference)."""
  notebook = nbformat.read(os.path.join(REPO, path + '.ipynb'), as_version=4)
  nbformat.validate(notebook)
  for cell in notebook.cells:
    if cell.cell_type == 'code':
      assert cell.outputs == [] and cell.execution_count is None
  paired = jupytext.read(os.path.join(REPO, path + '.md'))

  def cells(nb):
    return [(c.cell_type, c.source, c.metadata.get('tags', []))
            for c in nb.cells]
  assert cells(notebook) == cells(paired), (
      'run: jupytext --sync %s.md' % path)
  assert notebook.metadata['kernelspec']['name'] == 'python3'


def _setup_cell(path):
  notebook = nbformat.read(os.path.join(REPO, path + '.ipynb'), as_version=4)
  return [c.source for c in notebook.cells
          if 'setup' in c.metadata.get('tags', [])]


def test_both_labs_set_up_with_the_same_cell():
  (cifar10_setup,), (mnist_setup,) = [_setup_cell(p) for p in LABS]
  assert cifar10_setup.replace("LAB = 'cifar10'", "LAB = 'mnist'") == (
      mnist_setup)
  assert "LAB = 'mnist'" in mnist_setup


def _plan_function():
  """The set-up cell's plan(), without running the cell's set-up."""
  namespace = {'__name__': 'test'}  # Its last line runs only as __main__.
  exec(compile(_setup_cell(LABS[0])[0], 'setup cell', 'exec'), namespace)
  return namespace


# What Colab ships (a GPU runtime, December 2026), in part: its own builds.
COLAB = {'tensorflow', 'tensorboard', 'numpy', 'absl-py', 'ml-dtypes',
         'matplotlib', 'ipykernel', 'keras', 'google-colab'}


def test_colab_install_changes_none_of_colabs_packages(tmp_path):
  cell = _plan_function()
  root, steps = cell['plan']('cifar10', 'https://example.org/p.git', True,
                             '/content', COLAB, exists=lambda p: False)
  assert root == cell['COLAB_ROOT'] == '/content/classic-tf-tutorials'
  assert steps[0] == ['git', 'clone', '--depth', '1',
                      'https://example.org/p.git', root]
  pip = steps[1]
  assert pip[:4] == [sys.executable, '-m', 'pip', 'install']
  # No dependencies and no extras: Colab's TensorFlow (a GPU build; a
  # tensorflow-cpu beside it would break both), numpy and ml_dtypes stay.
  assert '--no-deps' in pip and pip[-1] == root and '[' not in pip[-1]
  assert len(steps) == 2
  # And pip itself agrees: only the project would be installed.
  report = tmp_path / 'report.json'
  run_program(['-m', 'pip', 'install', '--dry-run', '--no-deps',
               '--no-index', '--no-build-isolation', '--quiet', '--report',
               str(report), REPO])
  import json
  installs = json.loads(report.read_text())['install']
  assert [i['metadata']['name'] for i in installs] == ['classic-tf-tutorials']
  # The project's own requirements need nothing Colab lacks: ml_dtypes'
  # cap (a start-up speed-up) belongs to the extras that bring TensorFlow.
  requires = installs[0]['metadata']['requires_dist']
  plain = [r for r in requires if 'extra ==' not in r]
  assert sorted(plain) == ['absl-py', 'numpy']
  assert {'ml-dtypes<0.7; extra == "cpu"',
          'ml-dtypes<0.7; extra == "gpu"'} <= set(requires)


def test_colab_uses_an_uploaded_copy_and_installs_once():
  cell = _plan_function()
  upload = cell['UPLOAD']
  _, steps = cell['plan']('mnist', 'unused', True, '/content', COLAB,
                          exists=lambda p: p == upload)
  assert steps[0] == ('unpack', upload) and '--no-deps' in steps[1]
  # After a restart: the copy is there, the project installed; nothing to do.
  _, steps = cell['plan']('mnist', 'unused', True, '/content',
                          COLAB | {'classic-tf-tutorials'},
                          exists=lambda p: True)
  assert steps == []


def test_unpacking_a_downloaded_zip(tmp_path):
  import zipfile
  upload = tmp_path / 'classic-tf-tutorials.zip'
  with zipfile.ZipFile(upload, 'w') as archive:  # As GitHub names it.
    archive.writestr('classic-tf-tutorials-main/setup.py', 'setup')
    archive.writestr('classic-tf-tutorials-main/cifar10/cifar10.py', 'm')
  root = tmp_path / 'classic-tf-tutorials'
  _plan_function()['unpack'](str(upload), str(root))
  assert (root / 'setup.py').read_text() == 'setup'
  assert (root / 'cifar10' / 'cifar10.py').is_file()


def test_local_set_up_installs_tensorflow_only_when_missing(tmp_path):
  cell = _plan_function()
  lab = os.path.join(REPO, 'cifar10')
  assert cell['plan']('cifar10', 'unused', False, lab,
                      {'tensorflow'}) == (REPO, [])
  root, (pip,) = cell['plan']('cifar10', 'unused', False, lab, {'numpy'})
  # The project's extras pick tensorflow-cpu or tensorflow for the machine.
  assert pip[-1] == REPO + '[cpu,tensorboard,plot]' and root == REPO
  # Opened anywhere else, one line says where to open it.
  with pytest.raises(SystemExit) as stop:
    cell['plan']('cifar10', 'unused', False, str(tmp_path), {'tensorflow'})
  assert str(stop.value) == (
      'Open this notebook where it is in the project: its cifar10 folder '
      '(the kernel is in %s).' % tmp_path)


def test_setup_paths_are_built_with_os_path():
  """No path in the cell is spelled with '/' but Colab's (a Linux machine),
  Linux's /proc/cpuinfo and a zip's member names ('/' on every system): on
  Windows os.path joins with '\\'."""
  source = _setup_cell(LABS[0])[0]
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
      if '/' in node.value and not node.value.startswith(
          ('/content', 'https://')):
        assert node.value in ('/proc/cpuinfo', '/'), node.value


# ---------------------------------------------------------------------------
# The notebooks, run.


@pytest.fixture(scope='module')
def cifar10_data(tmp_path_factory):
  root = tmp_path_factory.mktemp('cifar10_lab_data')
  testdata.make_cifar10_dir(str(root), n=100, n_test=100)
  return str(root)


def test_cifar10_lab_runs_on_a_kernel(cifar10_data, tmp_path):
  train_dir, eval_dir = str(tmp_path / 'train'), str(tmp_path / 'eval')
  outputs = _execute(_with_settings(LABS[0], '\n'.join([
      'max_steps = 20', 'more_steps = [30]', 'num_examples = 100',
      'data_dir = %r' % cifar10_data, 'train_dir = %r' % train_dir,
      'eval_dir = %r' % eval_dir])), os.path.join(REPO, 'cifar10'))
  _no_noise(outputs)
  setup = _cell(outputs, '# Set-up').stdout.splitlines()
  assert re.match(r'^TensorFlow %s \(Python %d\.%d\.\d+\) on the CPU: .+, '
                  r'\d+ cores$' % (re.escape(tf.__version__),
                                   *sys.version_info[:2]), setup[0]), setup
  assert setup[1] == 'Working in ' + os.path.join(REPO, 'cifar10')

  data = _cell(outputs, 'import numpy as np')
  assert data.stdout.splitlines()[-1] == 'CIFAR-10 is in ' + os.path.join(
      cifar10_data, 'cifar-10-batches-bin')
  assert 'image/png' in data.data[0]  # The eight test images.
  # The flags assigned by the walk-throughs' habit, used by the original API.
  assert _cell(outputs, 'import tensorflow as tf').stdout.splitlines()[-1] == (
      'images (128, 24, 24, 3) -> logits (128, 10) from ' + cifar10_data)
  blocks = _cell(outputs, '%run cnn_building_blocks.py').stdout
  assert blocks.count('agree (np.allclose): True') >= 10
  assert 'False' not in blocks

  train = _cell(outputs, '%run cifar10_train.py').stdout
  assert [int(s) for s in STEP_LINE.findall(train)] == [0, 10]
  assert 'Writing checkpoints and summaries to %s\n' % train_dir in train
  evaluation = _cell(outputs, '%run cifar10_eval.py').stdout
  first = float(PRECISION_LINE.search(evaluation).group(1))
  tensorboard = _cell(outputs, '%load_ext tensorboard')
  html = ''.join(d.get('text/html', '') for d in tensorboard.data)
  assert '<iframe' in html, tensorboard.data  # It started: a server to show.

  more = _cell(outputs, 'import csv')
  # Trained on to 30 (resuming), evaluated again; both points read back
  # from the event files and printed, as cifar10_eval printed them.
  assert 'Resuming from the checkpoint at step 20.' in more.stdout
  second = float(PRECISION_LINE.search(more.stdout).group(1))
  assert more.stdout.splitlines()[-2:] == [
      'after 20 steps: precision @ 1 = %.3f' % first,
      'after 30 steps: precision @ 1 = %.3f' % second]
  assert _scalars(eval_dir, 'Precision @ 1') == pytest.approx(
      {20: first, 30: second}, abs=5e-4)
  assert _latest_step(train_dir) == 30
  assert any('image/png' in d for d in more.data)  # The plot.

  mine = _cell(outputs, 'from IPython.display import Image')
  assert mine.stderr.strip() == (
      'classify_images: cifar10 model from %s' % os.path.join(
          train_dir, 'model.ckpt-30'))
  assert re.match(r'^%s: \w+ \(\d\.\d{3}\), \w+ \(\d\.\d{3}\), \w+ '
                  r'\(\d\.\d{3}\)$' % re.escape(
                      os.path.join(train_dir, 'test_image.png')),
                  mine.stdout.strip()), mine.stdout
  # The image shown and classified is the first of the test file.
  written = tf.io.decode_png(tf.io.read_file(
      os.path.join(train_dir, 'test_image.png'))).numpy()
  record = np.fromfile(os.path.join(cifar10_data, 'cifar-10-batches-bin',
                                    'test_batch.bin'), np.uint8, 3073)
  np.testing.assert_array_equal(
      written, record[1:].reshape(3, 32, 32).transpose(1, 2, 0))


# A drawn digit (a stroke on black, as the pad's page sends it) through the
# pad's server and through the cell's read_digit, from a file; and the
# probabilities behind the cell's printed line.
PAD_CHECK = '''
import json, urllib.request
drawn = np.zeros((28, 28), np.uint8)
drawn[4:24, 12:16] = 255
drawn_file = os.path.join(deep_log_dir, 'drawn.png')
tf.io.write_file(drawn_file, tf.io.encode_png(drawn[:, :, None]))
request = urllib.request.Request(
    pad_url + 'predict', json.dumps({'pixels': drawn.tolist()}).encode(),
    {'Content-Type': 'application/json'})
answer = json.load(urllib.request.urlopen(request, timeout=60))
print(json.dumps({'pad': answer['probabilities'],
                  'prediction': answer['prediction'],
                  'cell': read_digit(drawn_file)[2].tolist(),
                  'printed': probabilities.tolist()}))
'''


def test_mnist_lab_runs_on_a_kernel(tmp_path):
  data_dir = str(tmp_path / 'data')
  images = testdata.make_mnist_dir(data_dir, n_train=5100,
                                   n_test=50)['test'][0]
  log_dir, deep_dir = str(tmp_path / 'fcf'), str(tmp_path / 'deep')
  outputs = _execute(_with_settings(LABS[1], '\n'.join([
      'data_dir = %r' % data_dir, 'log_dir = %r' % log_dir,
      'max_steps = 30', 'steps_to_plot = [10, 20]', 'softmax_steps = 20',
      'deep_steps = 20', 'deep_log_dir = %r' % deep_dir]), [PAD_CHECK]),
                     os.path.join(REPO, 'mnist'))
  _no_noise(outputs)
  assert _cell(outputs, '# Set-up').stdout.splitlines()[1] == (
      'Working in ' + os.path.join(REPO, 'mnist'))
  data = _cell(outputs, 'import numpy as np').stdout.splitlines()
  assert data[:4] == ['Extracting ' + os.path.join(data_dir, name) for name in
                      ('train-images-idx3-ubyte.gz',
                       'train-labels-idx1-ubyte.gz',
                       't10k-images-idx3-ubyte.gz',
                       't10k-labels-idx1-ubyte.gz')]
  assert data[4] == 'train (100, 784) validation (5000, 784) test (50, 784)'

  feed = _cell(outputs, '%run fully_connected_feed.py')
  assert feed.stderr.strip() == (
      'Watch training with: tensorboard --logdir ' + log_dir)
  lines = feed.stdout.splitlines()
  assert re.match(r'^Step 0: loss = \d+\.\d\d \(\d+\.\d{3} sec\)$', lines[4])
  evaluations = re.findall(r'^  Num examples: (\d+)  Num correct: (\d+)  '
                           r'Precision @ 1: (\d\.\d{4})$', feed.stdout, re.M)
  assert [int(n) for n, _, _ in evaluations] == [100, 5000, 50]
  for examples, correct, precision in evaluations:
    assert float(precision) == pytest.approx(int(correct) / int(examples),
                                             abs=5e-5)
  assert _latest_step(log_dir) == 30
  html = ''.join(d.get('text/html', '') for d in _cell(
      outputs, '%load_ext tensorboard').data)
  assert '<iframe' in html

  plot = _cell(outputs, 'import contextlib')
  runs = re.findall(r'^--max_steps +(\d+): precision @ 1 train (\d\.\d{4}), '
                    r'validation (\d\.\d{4}), test (\d\.\d{4})$', plot.stdout,
                    re.M)
  assert [int(r[0]) for r in runs] == [10, 20]
  for steps, *_ in runs:  # Each a run from scratch, in its own folder.
    assert _latest_step(os.path.join(log_dir + '_vs_steps', steps)) == int(
        steps)
  assert any('image/png' in d for d in plot.data)

  softmax = _cell(outputs, '%run mnist_softmax.py').stdout.splitlines()
  assert re.match(r'^(0(\.\d+)?|1)$', softmax[-1]), softmax  # '%g'.
  deep = _cell(outputs, '%run mnist_deep.py').stdout.splitlines()
  assert re.match(r'^test accuracy (0(\.\d+)?|1)$', deep[-2]), deep
  assert deep[-1] == 'Model saved in %s' % os.path.join(deep_dir,
                                                        'model.ckpt-20')
  pad = _cell(outputs, 'import threading')
  url = re.match(r'^The handwriting pad: (http://127\.0\.0\.1:\d+/)$',
                 pad.stdout.strip()).group(1)
  assert any(url in d.get('text/html', '') for d in pad.data)  # The IFrame.

  digit = _cell(outputs, 'import tensorflow as tf\nfrom mnist import')
  line = digit.stdout.strip()
  match = re.match(r'^test_digit\.png: (\d) \((\d\.\d{3})\), (\d) '
                   r'\((\d\.\d{3})\), (\d) \((\d\.\d{3})\)$', line)
  assert match, line
  # The test digit written is the first of the test file, exactly.
  written = tf.io.decode_png(tf.io.read_file(
      os.path.join(deep_dir, 'test_digit.png'))).numpy()[:, :, 0]
  np.testing.assert_array_equal(written, images[0])
  import json
  check = json.loads(outputs[-1][1].stdout)
  # The printed line is the probabilities', best three first.
  printed = np.array(check['printed'])
  best = np.argsort(-printed)[:3]
  assert [int(match.group(i)) for i in (1, 3, 5)] == list(best)
  assert [float(match.group(i)) for i in (2, 4, 6)] == pytest.approx(
      printed[best], abs=5e-4)
  # A drawing reads the same on the pad and from a file through the cell.
  np.testing.assert_allclose(check['pad'], check['cell'], atol=1e-6)
  assert check['prediction'] == np.argmax(check['cell'])


# ---------------------------------------------------------------------------
# The walk-throughs' habits, on one kernel in cifar10/.


class Kernel(object):
  """A Jupyter kernel as a notebook server starts one; cells run one by one."""

  def __init__(self, folder):
    self.manager = jupyter_client.KernelManager(kernel_name='python3')
    self.manager.start_kernel(cwd=folder, env=_kernel_env())
    self.client = self.manager.client()
    self.client.start_channels()
    self.client.wait_for_ready(timeout=120)

  def run(self, code, interrupt_after=None, timeout=180):
    """Runs a cell; returns its Output. With interrupt_after (a pattern),
    the kernel is interrupted (its Interrupt button) once the cell has
    printed a line that matches it."""
    msg_id = self.client.execute(code)
    out = Output()
    while True:
      try:
        message = self.client.get_iopub_msg(timeout=timeout)
      except queue.Empty:
        pytest.fail('the cell did not finish in %d s: %s' % (timeout, code))
      if message['parent_header'].get('msg_id') != msg_id:
        continue
      kind, content = message['msg_type'], message['content']
      if kind == 'status' and content['execution_state'] == 'idle':
        return out
      if kind in ('stream', 'error', 'display_data', 'execute_result'):
        out.add(dict(content, output_type=kind))
      if interrupt_after and re.search(interrupt_after, out.stdout, re.M):
        self.manager.interrupt_kernel()
        interrupt_after = None

  def close(self):
    self.client.stop_channels()
    self.manager.shutdown_kernel(now=True)


@pytest.fixture(scope='module')
def kernel():
  running = Kernel(os.path.join(REPO, 'cifar10'))
  yield running
  running.close()


def _ok(out):
  assert not out.errors, out.errors
  return out


def test_a_program_in_a_kernel_prints_what_it_prints_in_a_terminal(
    cifar10_data, tmp_path):
  """A kernel of its own: TensorFlow loads in it for the first time here."""
  fresh = Kernel(os.path.join(REPO, 'cifar10'))
  args = ['--max_steps', '2', '--data_dir', cifar10_data]
  try:
    imported = _ok(fresh.run('import cifar10'))
    ran = _ok(fresh.run('%%run cifar10_train.py %s --train_dir %s' % (
        ' '.join(args), tmp_path / 'kernel')))
  finally:
    fresh.close()
  # The same command in a terminal, whose environment is the kernel's.
  terminal = subprocess.run(
      [sys.executable, 'cifar10_train.py'] + args + [
          '--train_dir', str(tmp_path / 'terminal')],
      cwd=os.path.join(REPO, 'cifar10'), env=_kernel_env(),
      capture_output=True, text=True, timeout=300, check=True)
  assert imported.stdout == imported.stderr == ''

  def shape(text):  # Numbers and the folder aside, line for line.
    return re.sub(r'\d+(\.\d+)?', 'N', text.replace('kernel', 'terminal'))
  assert shape(ran.stderr) == shape(terminal.stderr)
  assert shape(ran.stdout) == shape(terminal.stdout)
  assert STEP_LINE.search(ran.stdout)


def test_flags_read_in_a_kernel_whatever_its_own_arguments(kernel):
  # The kernel's command line is its own: `-f kernel.json`, no flag of ours.
  out = _ok(kernel.run(
      'import sys\nimport cifar10\nimport tensorflow as tf\n'
      "print(sys.argv[1], cifar10.__file__)\n"
      'print(tf.compat.v1.flags.FLAGS.batch_size, '
      'cifar10.FLAGS.use_fp16)'))
  assert out.stdout.splitlines() == [
      '-f ' + os.path.join(REPO, 'cifar10', 'cifar10.py'), '128 False']


def test_assigned_flags_are_read_back_and_used_by_the_original_api(
    kernel, cifar10_data, tmp_path):
  missing = str(tmp_path / 'nothing here')
  out = _ok(kernel.run(
      'import cifar10\nimport tensorflow as tf\n'
      'cifar10.FLAGS.data_dir = %r\ncifar10.FLAGS.batch_size = 5\n'
      'print(cifar10.FLAGS.data_dir)\n'
      'print(tf.compat.v1.flags.FLAGS.batch_size)\n'
      'with tf.Graph().as_default():\n'
      '  images, labels = cifar10.distorted_inputs()\n'
      'print(images.shape.as_list())' % cifar10_data))
  assert out.stdout.splitlines()[0] == cifar10_data
  assert out.stdout.splitlines()[1] == '5'
  assert out.stdout.splitlines()[-1] == '[5, 24, 24, 3]'
  # Assigned through TensorFlow's own name for the flags, the same.
  out = _ok(kernel.run(
      'tf.compat.v1.flags.FLAGS.batch_size = 6\n'
      'with tf.Graph().as_default():\n'
      '  images, labels = cifar10.distorted_inputs()\n'
      'print(images.shape.as_list(), cifar10.FLAGS.batch_size)'))
  assert out.stdout.splitlines()[-1] == '[6, 24, 24, 3] 6'
  # Where the assigned folder has no data, the error names that folder.
  out = kernel.run('cifar10.FLAGS.data_dir = %r\n'
                   'with tf.Graph().as_default():\n'
                   '  cifar10.distorted_inputs()' % missing)
  assert len(out.errors) == 1 and missing in out.errors[0], out.errors
  _ok(kernel.run('cifar10.FLAGS.data_dir = %r' % cifar10_data))


def test_run_works_twice_and_after_import(kernel, cifar10_data, tmp_path):
  train_dir = str(tmp_path / 'train')
  flags = '--data_dir %s --train_dir %s' % (cifar10_data, train_dir)
  _ok(kernel.run('import cifar10_train\nimport cifar10_eval'))
  first = _ok(kernel.run('%%run cifar10_train.py --max_steps 3 %s' % flags))
  assert [int(s) for s in STEP_LINE.findall(first.stdout)] == [0]
  again = _ok(kernel.run('%%run cifar10_train.py --max_steps 6 %s' % flags))
  assert 'Resuming from the checkpoint at step 3.' in again.stdout
  assert _latest_step(train_dir) == 6
  evaluate = ('%%run cifar10_eval.py --run_once --data_dir %s '
              '--checkpoint_dir %s --eval_dir %s --num_examples 50' % (
                  cifar10_data, train_dir, tmp_path / 'eval'))
  for _ in range(2):
    assert PRECISION_LINE.search(_ok(kernel.run(evaluate)).stdout)
  # The MNIST programs (argparse) too.
  mnist_data = str(tmp_path / 'mnist')
  testdata.make_mnist_dir(mnist_data, n_train=5100, n_test=20)
  for _ in range(2):
    out = _ok(kernel.run('%%run ../mnist/mnist_softmax.py --max_steps 2 '
                         '--data_dir %s' % mnist_data))
    assert re.match(r'^(0(\.\d+)?|1)$', out.stdout.splitlines()[-1])


def test_each_run_starts_from_the_defaults_and_keeps_the_notebooks_flags(
    kernel, cifar10_data, tmp_path):
  train_dir = str(tmp_path / 'train')
  _ok(kernel.run('import cifar10\ncifar10.FLAGS.data_dir = %r\n'
                 'cifar10.FLAGS.batch_size = 5' % cifar10_data))
  _ok(kernel.run('%%run cifar10_train.py --max_steps 1 --data_dir %s '
                 '--train_dir %s' % (cifar10_data, train_dir)))
  evaluate = ('%%run cifar10_eval.py --run_once --data_dir %s '
              '--checkpoint_dir %s --eval_dir %s' % (
                  cifar10_data, train_dir, tmp_path / 'eval'))
  out = _ok(kernel.run(evaluate + ' --num_examples 50'))
  assert 'Note:' not in out.stdout  # 50 of the 100 test images.
  # Without --num_examples: the default (10,000), not the last run's 50.
  out = _ok(kernel.run(evaluate))
  assert 'Note: the data holds only 100 examples; evaluated all of them.' in (
      out.stdout)
  # The notebook's own settings are as it left them, and its Interrupt is
  # Python's (ipykernel's), not a program's.
  out = _ok(kernel.run(
      'import signal\nprint(cifar10.FLAGS.batch_size, '
      'cifar10.FLAGS.data_dir, cifar10.FLAGS.num_examples)\n'
      'print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, '
      'signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)'))
  assert out.stdout.splitlines() == ['5 %s 10000' % cifar10_data,
                                     'True True']


def test_reloading_defines_no_flag_twice(kernel):
  out = _ok(kernel.run(
      'import importlib\nimport cifar10\nimport cifar10_eval\n'
      'from cifar10 import '
      'cifar10_session\nfor module in (cifar10, cifar10_session, '
      'cifar10_eval):\n  importlib.reload(module)\n'
      "print(sorted(name for name in cifar10.FLAGS if name in ('data_dir', "
      "'eval_dir', 'train_dir')))"))
  assert out.stdout.strip() == "['data_dir', 'eval_dir', 'train_dir']"
  # --help still lists the program's flags and the model's, each once (absl
  # lists them by name).
  out = kernel.run('%run cifar10_eval.py --help')
  assert re.findall(r'^  --(eval_dir|data_dir|batch_size):', out.stdout,
                    re.M) == ['batch_size', 'data_dir', 'eval_dir']


def test_interrupt_stops_training_with_a_checkpoint_and_the_kernel_goes_on(
    kernel, cifar10_data, tmp_path):
  train_dir = str(tmp_path / 'train')
  out = kernel.run('%%run cifar10_train.py --max_steps 100000 '
                   '--log_frequency 1 --data_dir %s --train_dir %s' % (
                       cifar10_data, train_dir),
                   interrupt_after=r': step 2, loss')  # Said by the program.
  stopped = re.search(r'^Stopped by SIGINT at step (\d+); the checkpoint is '
                      r'in (.+)\.$', out.stdout, re.M)
  assert stopped and stopped.group(2) == train_dir, (out.stdout, out.errors)
  assert not out.errors  # Exit status 0: nothing lost.
  assert _latest_step(train_dir) == int(stopped.group(1)) >= 3
  out = _ok(kernel.run('import signal\n'
                       'print(signal.getsignal(signal.SIGINT) is '
                       'signal.default_int_handler)'))
  assert out.stdout.strip() == 'True'
  # An interrupt of a cell of the notebook's own is Python's, as always.
  out = kernel.run('import time\nprint("waiting", flush=True)\n'
                   'time.sleep(60)', interrupt_after='^waiting$')
  assert out.errors == ['KeyboardInterrupt: ']
