"""Packaging for the classic TF1 CIFAR-10 and MNIST tutorials.

The distribution is called classic-tf-tutorials because `cifar10` and `mnist`
are taken on the package index; it installs exactly those two packages.

TensorFlow is offered the way TensorFlow's own add-ons offer it: it is not a
hard requirement, so a user picks the wheel that fits the machine:

  pip install -e '.[cpu]'          # CPU-only TensorFlow (see below)
  pip install -e '.[gpu]'          # tensorflow[and-cuda] where it has CUDA
  pip install -e '.[cpu,tensorboard,plot,test]'
  pip install -e '.[cpu,notebook]'   # Jupyter, for the labs' notebooks

Each extra picks, by environment markers, a TensorFlow with wheels there:
  cpu, Linux x86-64 and Windows x86-64: tensorflow-cpu, the small CPU wheel.
  cpu, macOS arm64, Linux aarch64 and elsewhere: tensorflow (tensorflow-cpu
    has no wheels there; these tensorflow wheels run on the CPU).
  gpu, Linux x86-64: tensorflow[and-cuda], TensorFlow with NVIDIA's CUDA.
  gpu, Linux aarch64: tensorflow, CPU only (its aarch64 wheels are not CUDA
    builds: build_info says is_cuda_build False in 2.21).
  gpu, Windows: tensorflow, CPU only (no GPU build for native Windows since
    TensorFlow 2.11; under WSL2, Linux x86-64's line applies).
  gpu, macOS: tensorflow, CPU only (TensorFlow has no GPU build for macOS).
TensorFlow 2.16 or later; on Python 3.14, 2.22 or later, its release
candidate included (the first TensorFlow with wheels for 3.14).
scripts/check_wheels.py asks the package index whether each platform and
Python gets a wheel of everything an extra installs.
"""

import setuptools

_TF = '>=2.16,<3'
# Python 3.14's first TensorFlow is 2.22, a release candidate in December
# 2026 (the only one with wheels for 3.14). A specifier that names a
# pre-release lets every pip take it: pip 26 would anyway, no final release
# having a wheel for 3.14, but pip 23 would not.
_TF_314 = '>=2.22.0rc0,<3'


def _tensorflow(name, where):
  """name's requirements, on the platforms of the marker where."""
  return [name + _TF + '; python_version < "3.14" and (%s)' % where,
          name + _TF_314 + '; python_version >= "3.14" and (%s)' % where]


# Where tensorflow-cpu has wheels, and the complement (PEP 508 has no `not`).
# platform_machine is 'x86_64' on Linux, 'AMD64' on Windows, 'arm64' on macOS
# and 'aarch64' on Linux ARM; == rather than `in`, which matches substrings.
_CPU_WHEELS = ('(platform_system == "Linux" and platform_machine == "x86_64")'
               ' or (platform_system == "Windows"'
               ' and platform_machine == "AMD64")')
_NO_CPU_WHEELS = ('(platform_system != "Linux"'
                  ' and platform_system != "Windows")'
                  ' or (platform_system == "Linux"'
                  ' and platform_machine != "x86_64")'
                  ' or (platform_system == "Windows"'
                  ' and platform_machine != "AMD64")')
# ml_dtypes is TensorFlow's own requirement (>=0.5.1 in 2.21, ~=0.3.1 in
# 2.16): 0.7.0's extension takes 0.54 s to load, 0.6.0's 5 ms (machine C,
# python -X importtime), and every program loads it with TensorFlow. With
# the TensorFlow the extras install, so that an install beside a TensorFlow
# of its own (Colab's) changes nothing of it.
_ML_DTYPES = 'ml_dtypes<0.7'
# TensorFlow's CUDA builds are its Linux x86-64 wheels only.
_CUDA = 'platform_system == "Linux" and platform_machine == "x86_64"'
_NO_CUDA = 'platform_system != "Linux" or platform_machine != "x86_64"'

setuptools.setup(
    name='classic-tf-tutorials',
    version='1.0.0',
    description=('The classic TensorFlow 1 CIFAR-10 and MNIST tutorials, '
                 'rebuilt for TensorFlow 2 graph mode.'),
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=['cifar10', 'mnist'],
    python_requires='>=3.10,<3.15',
    install_requires=['numpy', 'absl-py'],
    extras_require={
        'cpu': (_tensorflow('tensorflow-cpu', _CPU_WHEELS) +
                _tensorflow('tensorflow', _NO_CPU_WHEELS) + [_ML_DTYPES]),
        'gpu': (_tensorflow('tensorflow[and-cuda]', _CUDA) +
                _tensorflow('tensorflow', _NO_CUDA) + [_ML_DTYPES]),
        'tensorboard': ['tensorboard' + _TF],
        'plot': ['matplotlib'],
        # Jupyter, for the labs' notebooks (cifar10/cifar10_lab.ipynb, ...).
        'notebook': ['notebook', 'ipykernel', 'matplotlib',
                     'tensorboard' + _TF],
        # nbclient, ipykernel and jupytext: the notebooks run on a real
        # kernel in the tests, and each stays paired with its .md.
        # check-jsonschema: checks the forge's workflow (.github/workflows)
        # against the published schema it ships (actionlint's package
        # downloads its binary as it builds, which CI here cannot).
        # kubeflow-training and pyyaml: the TFJob manifest beside the
        # distributed trainer is read by the training operator's own models.
        'test': ['pytest', 'pytest-xdist', 'tensorboard' + _TF,
                 'matplotlib', 'ruff', 'selenium', 'nbclient', 'nbformat',
                 'ipykernel', 'jupytext', 'check-jsonschema',
                 'kubeflow-training', 'pyyaml'],
    },
    entry_points={
        'console_scripts': [
            # Through cifar10.cifar10_cli: Ctrl-C is clean while TensorFlow
            # loads.
            'cifar10_train = cifar10.cifar10_cli:cifar10_train',
            'cifar10_eval = cifar10.cifar10_cli:cifar10_eval',
            ('cifar10_multi_gpu_train = '
             'cifar10.cifar10_cli:cifar10_multi_gpu_train'),
            ('cifar10_distributed_train = '
             'cifar10.cifar10_cli:cifar10_distributed_train'),
            'cnn_building_blocks = cifar10.cifar10_cli:cnn_building_blocks',
            ('make_cifar10_dataset = '
             'cifar10.cifar10_cli:make_cifar10_dataset'),
            'precision_vs_steps = cifar10.cifar10_cli:precision_vs_steps',
            'classify_images = cifar10.cifar10_cli:classify_images',
            # Through mnist.commands: Ctrl-C is clean while TensorFlow loads.
            'fully_connected_feed = mnist.commands:fully_connected_feed',
            'mnist_softmax = mnist.commands:mnist_softmax',
            'mnist_softmax_xla = mnist.commands:mnist_softmax_xla',
            'mnist_with_summaries = mnist.commands:mnist_with_summaries',
            'mnist_deep = mnist.commands:mnist_deep',
            'handwriting_pad = mnist.commands:handwriting_pad',
        ],
    },
    classifiers=[
        'Programming Language :: Python :: 3.10',
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
        'Programming Language :: Python :: 3.13',
        'Programming Language :: Python :: 3.14',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
