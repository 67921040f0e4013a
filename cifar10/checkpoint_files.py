"""The checkpoints in a folder: which are there, which are intact, which is
the latest, and what to do when the files say otherwise.

A training folder holds model.ckpt-<step>.index and .data-* files and a
small text file, `checkpoint`, naming the latest. TensorFlow trusts that
file: damaged, it silently means "no checkpoint" (training restarts from
step 0); naming a missing or truncated checkpoint, it fails deep in a
restore with no file named. Here both are checked first.

Summary of available functions:

 found = list_checkpoints(folder)         # [(step, prefix)], oldest first
 check_checkpoint(prefix)                 # reads every tensor, or ValueError
 prefix, problem = read_state(folder)     # what `checkpoint` names, or why not
 prefix = latest_intact(folder)           # for training: the newest intact
                                          # checkpoint, `checkpoint` mended
 prefix = latest_for_eval(folder)         # the named one, checked, or None
 names = nonfinite_variables(prefix)      # variables holding NaN or inf
"""

import glob
import os
import re
import shutil
import time

from google.protobuf import text_format
import numpy as np
import tensorflow as tf
from tensorflow.python.training import checkpoint_state_pb2

tf1 = tf.compat.v1

STATE_FILE = 'checkpoint'  # The file naming the latest checkpoint.
PREFIX = re.compile(r'model\.ckpt-(\d+)$')


def list_checkpoints(folder):
  """The checkpoints whose .index file is in folder, oldest first.

  Returns:
    A list of (step, path prefix) pairs.
  """
  found = []
  for index in glob.glob(os.path.join(glob.escape(folder),
                                      'model.ckpt-*.index')):
    prefix = index[:-len('.index')]
    match = PREFIX.search(os.path.basename(prefix))
    if match:
      found.append((int(match.group(1)), prefix))
  return sorted(found)


def _first_line(error):
  text = getattr(error, 'message', None) or str(error) or type(error).__name__
  return text.strip().split('\n')[0]


def check_checkpoint(prefix):
  """Reads every tensor of a checkpoint, so a damaged file shows now.

  Args:
    prefix: a checkpoint path prefix (model.ckpt-<step>).

  Raises:
    ValueError: a file of it is missing, truncated or corrupt; the message
      names the file.
  """
  index = prefix + '.index'
  if not os.path.exists(index):
    raise ValueError('checkpoint %s is missing: there is no %s' % (prefix,
                                                                   index))
  try:
    reader = tf1.train.load_checkpoint(prefix)
  except (tf.errors.OpError, ValueError) as e:
    raise ValueError('checkpoint %s is damaged: %s cannot be read (%s)' % (
        prefix, index, _first_line(e))) from None
  data = sorted(glob.glob(glob.escape(prefix) + '.data-*'))
  try:
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except (tf.errors.OpError, IndexError, ValueError) as e:
    raise ValueError('checkpoint %s is damaged: %s cannot be read (%s)' % (
        prefix, ', '.join(data) or prefix + '.data-*', _first_line(e))
                     ) from None


def read_state(folder):
  """What the state file names.

  Returns:
    (prefix, problem): the path prefix it names (None when there is no
    state file, or it names nothing), and None; or (None, a sentence saying
    what is wrong with it).
  """
  path = os.path.join(folder, STATE_FILE)
  if not os.path.exists(path):
    return None, None
  try:
    with open(path, 'rb') as f:
      text = f.read().decode('utf-8')
    state = text_format.Parse(text, checkpoint_state_pb2.CheckpointState())
  except (OSError, UnicodeDecodeError, text_format.ParseError) as e:
    return None, '%s is damaged (%s)' % (path, _first_line(e))
  named = state.model_checkpoint_path
  if not named:
    return None, '%s names no checkpoint' % path
  if not os.path.isabs(named):
    named = os.path.join(folder, named)
  return named, None


def _mend_state(folder, prefix, intact):
  """Points the state file at prefix, keeping the old one beside it."""
  path = os.path.join(folder, STATE_FILE)
  if os.path.exists(path):
    kept = '%s.damaged-%s' % (path, time.strftime('%Y%m%d-%H%M%S'))
    shutil.copy2(path, kept)
    print('Kept the old %s as %s.' % (path, kept))
  tf1.train.update_checkpoint_state(
      folder, os.path.basename(prefix),
      [os.path.basename(p) for p in intact])


def latest_intact(folder):
  """The checkpoint training should resume from, said aloud if unusual.

  The one the state file names, if it is intact. Otherwise the newest
  intact checkpoint in the folder, after saying which were skipped and why;
  the state file is pointed at it (the old one kept as
  checkpoint.damaged-<time>). Nothing is deleted.

  Args:
    folder: a training folder.

  Returns:
    The prefix to resume from, or None for a folder with no checkpoint and
    no state file (a new run).

  Raises:
    ValueError: the state file or checkpoints are damaged and no intact
      checkpoint is left (the message names the files and what to do).
  """
  named, problem = read_state(folder)
  found = list_checkpoints(folder)
  if named and not problem:
    try:
      check_checkpoint(named)
      return named
    except ValueError as e:
      problem = str(e)
  if not found and not problem:
    return None
  if not named and not problem:
    problem = 'there is no %s file in %s' % (STATE_FILE, folder)
  intact, skipped = [], []
  for _, prefix in reversed(found):
    try:
      check_checkpoint(prefix)
      intact.append(prefix)
    except ValueError as e:
      skipped.append(str(e))
  if not intact:
    raise ValueError(
        '%s, and no intact checkpoint is left in %s%s: move the damaged '
        'files away to train from step 0, or use --fresh or another '
        '--train_dir' % (problem or 'no checkpoint is intact', folder,
                         ' (%s)' % '; '.join(skipped) if skipped else ''))
  for line in skipped:
    print('Skipping a damaged checkpoint: %s.' % line)
  if problem:
    print('%s: resuming from the newest intact checkpoint, %s.' % (
        problem[0].upper() + problem[1:], intact[0]))
  _mend_state(folder, intact[0], list(reversed(intact)))
  return intact[0]


def latest_for_eval(folder):
  """The checkpoint the state file names, checked, for evaluation.

  Returns:
    The prefix, or None when the folder has no state file yet.

  Raises:
    ValueError: the state file is damaged, or names a missing or damaged
      checkpoint (the message names the file).
  """
  named, problem = read_state(folder)
  if problem:
    raise ValueError('%s: train on to write a new one, or mend it' % problem)
  if named:
    check_checkpoint(named)
  return named


def nonfinite_variables(prefix, names=None):
  """The floating-point variables of a checkpoint that hold NaN or infinity.

  A run that diverged saves such weights. Checking them is sure where the
  model's output is not: a ReLU may turn NaN into 0 (oneDNN's does on some
  CPUs), and the evaluation would then report a precision.

  Args:
    prefix: a checkpoint path prefix.
    names: the variables to check (all when None).

  Returns:
    Their names, sorted.
  """
  reader = tf1.train.load_checkpoint(prefix)
  found = []
  for name, dtype in sorted(reader.get_variable_to_dtype_map().items()):
    if dtype.is_floating and (names is None or name in names) and not (
        np.all(np.isfinite(reader.get_tensor(name)))):
      found.append(name)
  return found
