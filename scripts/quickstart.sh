#!/usr/bin/env bash
# The course's CIFAR-10 lab in one command: sets up .venv (TensorFlow for the
# CPU and TensorBoard), trains 1000 steps, then evaluates the checkpoint.
#
#   bash scripts/quickstart.sh [--data_dir DIR] [--train_dir DIR]
#                              [--eval_dir DIR] [--max_steps N]
#
# --data_dir holds cifar-10-batches-bin (or the tarball); when neither is
# there, CIFAR-10 (170 MB) is downloaded into it. Running it again is quick:
# the install is skipped when nothing changed, and training resumes from its
# checkpoint (nothing to do once it reached --max_steps).
set -euo pipefail
data_dir=/tmp/cifar10_data
train_dir=/tmp/cifar10_train
eval_dir=/tmp/cifar10_eval
max_steps=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --data_dir|--train_dir|--eval_dir|--max_steps)
      [ $# -ge 2 ] || { echo "quickstart.sh: error: $1 needs a value" >&2; exit 2; }
      declare "${1#--}=$2"; shift 2 ;;
    --data_dir=*|--train_dir=*|--eval_dir=*|--max_steps=*)
      name="${1%%=*}"; declare "${name#--}=${1#*=}"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "quickstart.sh: error: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
ensure_venv cpu,tensorboard
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
set -x
cifar10_train --data_dir "$data_dir" --train_dir "$train_dir" --max_steps "$max_steps"
cifar10_eval --data_dir "$data_dir" --checkpoint_dir "$train_dir" --eval_dir "$eval_dir" --run_once
