"""The classic TensorFlow 1 CIFAR-10 tutorial, for TensorFlow 2 graph mode.

Modules: cifar10_input (reading and preprocessing), cifar10 (the model),
cifar10_train, cifar10_eval and cifar10_multi_gpu_train (the programs).
"""

import importlib.util

# TensorFlow is an extra (tensorflow-cpu or tensorflow[and-cuda]), as with
# TensorFlow's own add-ons, so say how to get it instead of a bare
# ModuleNotFoundError deep inside an import.
if importlib.util.find_spec('tensorflow') is None:
  raise ImportError(
      'TensorFlow is not installed. Install it with the project: '
      "pip install 'classic-tf-tutorials[cpu]' (or [gpu] for NVIDIA GPUs).")
