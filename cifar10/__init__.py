"""The classic TensorFlow 1 CIFAR-10 tutorial, for TensorFlow 2 graph mode.

Modules: cifar10_input (reading and preprocessing), cifar10 (the model),
cifar10_train, cifar10_eval and cifar10_multi_gpu_train (the programs).
"""

import importlib.util
import os

# Anaconda's numpy on Windows loads Intel's Fortran runtime, whose own Ctrl+C
# handler kills the process ('forrtl: error (200): program aborting due to
# control-C event') before Python's can stop training cleanly. It reads
# this variable when it loads, so it is set before anything imports numpy.
os.environ.setdefault('FOR_DISABLE_CONSOLE_CTRL_HANDLER', '1')

# The notices TensorFlow prints while it loads, whatever TF_CPP_MIN_LOG_LEVEL
# says, stay off stderr (cifar10_cli, like this file, needs only Python).
from cifar10 import cifar10_cli  # noqa: E402
cifar10_cli.quiet_tensorflow_import()

# TensorFlow is an extra (tensorflow-cpu or tensorflow[and-cuda]), as with
# TensorFlow's own add-ons, so say how to get it instead of a bare
# ModuleNotFoundError deep inside an import.
if importlib.util.find_spec('tensorflow') is None:
  raise ImportError(
      'TensorFlow is not installed. Install it with the project: '
      "pip install 'classic-tf-tutorials[cpu]' (or [gpu] for NVIDIA GPUs).")
