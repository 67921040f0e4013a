#!/usr/bin/env bash
# Sets up .venv (TensorFlow for the CPU plus the test tools) and runs the whole
# test suite. Extra arguments go to pytest, e.g. `-k cifar10 -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
ensure_venv cpu,tensorboard,plot,test
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
ruff check cifar10 mnist scripts tests setup.py
exec python -m pytest "$@"
