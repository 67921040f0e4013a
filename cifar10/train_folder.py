"""The training folder: one trainer at a time, writable, emptied on request.

Summary of available functions:

 # Lock train_dir for this trainer (a second one is refused, naming the
 # first), make sure it can be written; with fresh, empty it first.
 with prepare_train_dir(train_dir, fresh=False): ...
 TrainDirLock(train_dir)        # the lock alone; .release()

The lock is the operating system's (flock on POSIX, a byte-range lock on
Windows): it goes with its process however that ends, so a killed trainer
never leaves a stale lock. (A library such as filelock would add a
dependency for these few lines, and it truncates and deletes its lock
file, where the holder's name is kept here.)
"""

from datetime import datetime
import os
import socket
import sys
import tempfile

import tensorflow as tf

try:
  import fcntl  # POSIX: flock.
except ImportError:  # Windows: a byte-range lock through the C runtime.
  fcntl = None
  import msvcrt

tf1 = tf.compat.v1

LOCK_FILE = '.trainer.lock'  # Locked by the one trainer of a folder.
# Windows locks a range of bytes, which then no other process may read: the
# lock is on one byte far past the holder's line, which stays readable.
WINDOWS_LOCK_OFFSET = 1 << 30


def _lock(fd):
  """Locks an open file for this process, or raises OSError if another has.

  An operating-system lock: the system drops it when its process ends,
  however it ends (kill -9, a closed console window, a crash).
  """
  if fcntl:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  else:
    os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def _unlock(fd):
  if fcntl:
    fcntl.flock(fd, fcntl.LOCK_UN)
  else:
    os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


class TrainDirLock(object):
  """The one trainer of a train_dir holds this: a lock on a file in it.

  An operating-system lock (flock on POSIX, a byte-range lock on Windows),
  which the system drops when its process ends, however it ends: a dead
  trainer never leaves a stale lock behind. The file says who holds it,
  for the refusal message. A context manager; release() unlocks.
  """

  def __init__(self, train_dir):
    self.path = os.path.join(train_dir, LOCK_FILE)
    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
      _lock(self._fd)
    except OSError:
      os.close(self._fd)
      self._fd = None
      try:
        with open(self.path, encoding='utf-8', errors='replace') as f:
          holder = f.read(200).strip()
      except OSError:
        holder = ''
      raise ValueError(
          'another trainer is using --train_dir %s (%s): wait for it to '
          'finish or stop it, or use another --train_dir' % (
              train_dir, holder or 'another process')) from None
    os.ftruncate(self._fd, 0)
    os.lseek(self._fd, 0, os.SEEK_SET)
    os.write(self._fd, ('pid %d, %s on %s, since %s' % (
        os.getpid(), os.path.basename(sys.argv[0] or 'python'),
        socket.gethostname(), datetime.now().strftime('%Y-%m-%d %H:%M:%S'))
                        ).encode('utf-8'))

  def release(self):
    if self._fd is not None:
      fd, self._fd = self._fd, None
      try:
        _unlock(fd)
      finally:
        os.close(fd)

  def __enter__(self):
    return self

  def __exit__(self, *unused):
    self.release()


def prepare_train_dir(train_dir, fresh=False):
  """Locks train_dir for this trainer and makes sure it can be written.

  With fresh, what was there is deleted first (the folder and its lock
  stay, so no other trainer can slip in between).

  Args:
    train_dir: where checkpoints and summaries go.
    fresh: delete what is there (only if it looks like a training directory).

  Returns:
    The TrainDirLock; hold it while training (a `with` block).

  Raises:
    OSError: the directory cannot be created or written.
    ValueError: another trainer holds the folder; or fresh was asked for a
      folder that holds no checkpoint or event files (refused, so a typo
      cannot wipe an unrelated folder).
  """
  try:
    os.makedirs(train_dir, exist_ok=True)
    with tempfile.TemporaryFile(dir=train_dir):
      pass
    lock = TrainDirLock(train_dir)
  except OSError as e:
    raise OSError('cannot write to --train_dir %s: %s' % (
        train_dir, e.strerror or e)) from e
  if fresh:
    names = [n for n in os.listdir(train_dir) if n != LOCK_FILE]
    if names and not any(n.startswith(('checkpoint', 'events.out',
                                       'model.ckpt')) for n in names):
      lock.release()
      raise ValueError('--fresh refused: %s holds no checkpoint or event '
                       'files, so it does not look like a training '
                       'directory' % train_dir)
    if names:
      print('Deleting %s (--fresh).' % train_dir)
    for name in names:
      path = os.path.join(train_dir, name)
      if os.path.isdir(path) and not os.path.islink(path):
        tf1.gfile.DeleteRecursively(path)
      else:
        os.remove(path)
  return lock
