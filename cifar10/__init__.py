"""The classic TensorFlow 1 CIFAR-10 tutorial, for TensorFlow 2 graph mode.

Modules: cifar10_input (reading and preprocessing), cifar10 (the model),
cifar10_train, cifar10_eval and cifar10_multi_gpu_train (the programs).

In the original, `import cifar10` gave the model module. It still does from
a script beside cifar10.py, as the course's scripts are; from elsewhere,
write `from cifar10 import cifar10` (this package, imported as `cifar10`,
says so if asked for the model's functions).
"""

import importlib.util
import os

# Anaconda's numpy on Windows loads Intel's Fortran runtime, whose own Ctrl+C
# handler kills the process ('forrtl: error (200): program aborting due to
# control-C event') before Python's can stop training cleanly. It reads
# this variable when it loads, so it is set before anything imports numpy.
os.environ.setdefault('FOR_DISABLE_CONSOLE_CTRL_HANDLER', '1')

# TensorFlow loads without Keras (20% quicker), and the notices it prints
# while it loads, whatever TF_CPP_MIN_LOG_LEVEL says, stay off stderr
# (cifar10_cli, like this file, needs only Python).
from cifar10 import cifar10_cli  # noqa: E402
cifar10_cli.quick_tensorflow_import()

# TensorFlow is an extra (tensorflow-cpu or tensorflow[and-cuda]), as with
# TensorFlow's own add-ons, so say how to get it instead of a bare
# ModuleNotFoundError deep inside an import.
if importlib.util.find_spec('tensorflow') is None:
  raise ImportError(
      'TensorFlow is not installed. Install it with the project: '
      'pip install "classic-tf-tutorials[cpu]" (or [gpu] for NVIDIA GPUs).')


def __getattr__(name):
  """Says where the original's `cifar10.<function>` is, instead of a bare
  AttributeError: the package stays light (no TensorFlow) for programs to
  start quickly, so it cannot load the model module itself."""
  if name.startswith('__') or os.path.isfile(
      os.path.join(os.path.dirname(__file__), name + '.py')):
    # A module of the package, not yet imported: the import system asks
    # here first, then loads it.
    raise AttributeError(name)
  raise AttributeError(
      "module 'cifar10' (the package) has no attribute %r: the tutorial's "
      'model module is cifar10.cifar10; write `from cifar10 import cifar10`, '
      'or run your script beside cifar10.py, where `import cifar10` finds '
      'it' % name)
