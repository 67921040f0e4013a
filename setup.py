"""Packaging for the classic TF1 CIFAR-10 and MNIST tutorials.

The distribution is called classic-tf-tutorials because `cifar10` and `mnist`
are taken on the package index; it installs exactly those two packages.

TensorFlow is offered the way TensorFlow's own add-ons offer it: it is not a
hard requirement, so a user picks the wheel that fits the machine:

  pip install -e '.[cpu]'          # tensorflow-cpu, the small CPU-only wheel
  pip install -e '.[gpu]'          # tensorflow[and-cuda]
  pip install -e '.[cpu,tensorboard,plot,test]'
"""

import setuptools

_TF = '>=2.16,<3'

setuptools.setup(
    name='classic-tf-tutorials',
    version='1.0.0',
    description=('The classic TensorFlow 1 CIFAR-10 and MNIST tutorials, '
                 'rebuilt for TensorFlow 2 graph mode.'),
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=['cifar10', 'mnist'],
    python_requires='>=3.10,<3.14',
    install_requires=['numpy', 'absl-py'],
    extras_require={
        'cpu': ['tensorflow-cpu' + _TF],
        'gpu': ['tensorflow[and-cuda]' + _TF],
        'tensorboard': ['tensorboard' + _TF],
        'plot': ['matplotlib'],
        'test': ['pytest', 'pytest-xdist', 'tensorboard' + _TF,
                 'matplotlib', 'ruff', 'selenium'],
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
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
