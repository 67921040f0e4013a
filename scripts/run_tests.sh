#!/usr/bin/env bash
# Sets up .venv (TensorFlow for the CPU plus the test tools) and runs the whole
# test suite. Extra arguments go to pytest, e.g. `-k cifar10 -x`, or `-n 0 -s`
# for one process that shows the tests' output.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
ensure_venv cpu,tensorboard,plot,test
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
ruff check cifar10 mnist scripts tests setup.py
# Two processes, a test file each at a time (its module fixtures are built
# once): most of the suite waits on programs starting and importing
# TensorFlow, one core each (2-core machine B: 17-20 minutes, not 30).
exec python -m pytest -n 2 --dist loadfile "$@"
