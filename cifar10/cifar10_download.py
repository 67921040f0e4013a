"""Fetches the CIFAR-10 data set: verified downloads, safe extraction.

Summary of available functions:

 # Fetch (https, md5-checked) and safely unpack the data set if not there.
 batches_dir = maybe_download_and_extract(data_dir)

 # Fetch one file from the first mirror that works, atomically.
 download(urls, filepath, md5)
 digest = file_md5(path)

Nothing here needs TensorFlow. (The MNIST tutorial has its own, smaller
mnist.mnist_download, so that it stands alone as the original did.)
"""

import contextlib
import gzip
import hashlib
import http.client
import os
import posixpath
import secrets
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib


# The binary version of CIFAR-10, over https, and the md5 published with it.
DATA_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'
DATA_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530'
BATCHES_DIR = 'cifar-10-batches-bin'  # The folder the tarball unpacks to.
DATA_FILES = tuple('data_batch_%d.bin' % i for i in range(1, 6)) + (
    'test_batch.bin',)  # What a usable BATCHES_DIR must hold.
DOWNLOAD_TIMEOUT = 60  # Seconds without a byte before a mirror is given up.


def file_md5(path):
  """The hex md5 of a file, read in 1 MiB chunks."""
  digest = hashlib.md5()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def _fetch(url, tmp, md5, progress, name):
  """Streams url into the file tmp; returns its size once it checks out."""
  digest, size, shown = hashlib.md5(), 0, None
  try:
    with open(tmp, 'wb') as out, urllib.request.urlopen(
        url, timeout=DOWNLOAD_TIMEOUT) as response:
      total = int(response.headers.get('Content-Length') or 0)
      for chunk in iter(lambda: response.read(1 << 16), b''):
        out.write(chunk)
        digest.update(chunk)
        size += len(chunk)
        if progress:
          # Redraw only when the text changes: 170 MB is 2,600 chunks.
          text = ('%.1f%%' % (100.0 * size / total) if total else
                  '%.1f MB' % (size / 1e6))
          if text != shown:
            sys.stdout.write('\r>> Downloading %s %s' % (name, text))
            sys.stdout.flush()
            shown = text
  finally:
    if shown is not None:  # End the progress line, even on an error.
      sys.stdout.write('\n')
      sys.stdout.flush()
  # A server that drops the connection just ends the stream early.
  if total and size != total:
    raise IOError('truncated: got %d of %d bytes' % (size, total))
  if md5 and digest.hexdigest() != md5.lower():
    raise IOError('corrupt: md5 %s, expected %s' % (digest.hexdigest(), md5))
  return size


def _reason(error):
  """A short reason for a failed download, for the error message."""
  if isinstance(error, urllib.error.HTTPError):
    return 'HTTP %d %s' % (error.code, error.reason)
  if isinstance(error, urllib.error.URLError):
    return str(error.reason)
  return str(error) or type(error).__name__


def download(urls, filepath, md5=None, hint='', progress=None):
  """Downloads the first URL that works to filepath, verified and atomic.

  The file is written under a temporary name in the same directory and
  renamed only once complete and (when md5 is given) verified, so an
  interrupted or corrupt download never leaves a broken file behind, and a
  file already at filepath is replaced only by a good one.

  Args:
    urls: a URL or a list of mirrors, tried in order.
    filepath: where the file should end up; its folder is created.
    md5: expected hex md5, or None (or '') to skip the check.
    hint: a sentence added to the error, e.g. which flag names the folder.
    progress: print a progress line; default: only when stdout is a terminal.

  Returns:
    filepath.

  Raises:
    IOError: the folder cannot be written, or every URL failed (offline,
      HTTP error, truncated or corrupt download); the message names the
      URLs and the directory.
  """
  if isinstance(urls, str):
    urls = [urls]
  if progress is None:
    progress = sys.stdout.isatty()
  name, folder = os.path.basename(filepath), os.path.dirname(filepath) or '.'
  # Hidden and unique, so concurrent downloads cannot collide; mode 0666
  # less the umask (mkstemp's 0600 would survive the rename).
  tmp = os.path.join(folder, '.%s.%s.part' % (name, secrets.token_hex(4)))
  try:
    os.makedirs(folder, exist_ok=True)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
  except OSError as e:
    raise IOError('Cannot write %s into %s: %s' % (
        name, folder, e.strerror or e)) from e
  failures = []
  try:
    for url in urls:
      try:
        size = _fetch(url, tmp, md5, progress, name)
      except (OSError, ValueError, http.client.HTTPException) as e:
        failures.append('%s (%s)' % (url, _reason(e)))
        continue
      try:
        os.replace(tmp, filepath)
      except OSError as e:
        raise IOError('Cannot write %s: %s' % (
            filepath, e.strerror or e)) from e
      print('Successfully downloaded %s %d bytes.' % (name, size))
      return filepath
  finally:
    with contextlib.suppress(OSError):  # Gone already after the rename.
      os.remove(tmp)
  raise IOError((
      'Could not download %s into %s from %s. If this machine is offline, '
      'fetch the file elsewhere and copy it into %s. %s' % (
          name, folder, '; '.join(failures), folder, hint)).rstrip())


def _missing_files(batches_dir):
  """The DATA_FILES that batches_dir lacks (all of them if it is absent)."""
  return [f for f in DATA_FILES
          if not os.path.isfile(os.path.join(batches_dir, f))]


def _inside(path, root):
  """Whether the resolved path is root or lies below it."""
  return os.path.commonpath([path, root]) == root


def _check_member(member, root, tarball, data_dir):
  """Raises ValueError unless member would stay inside root once extracted.

  tarfile's filter='data' refuses the same things, but not every supported
  Python has it, and this names the member in plain words.
  """
  def refuse(why):
    raise ValueError('Refusing to extract %r from %s: %s. This is not a '
                     'CIFAR-10 tarball; delete it.' % (member.name, tarball,
                                                       why))

  outside = 'outside ' + data_dir
  name = member.name
  parts = name.replace('\\', '/').split('/')
  if name.startswith(('/', '\\')) or os.path.isabs(name) or ':' in parts[0]:
    refuse('it has an absolute path, ' + outside)
  if '..' in parts:
    refuse("its '..' path would reach " + outside)
  # realpath also follows links extracted earlier from the same archive.
  target = os.path.realpath(os.path.join(root, name))
  if not _inside(target, root):
    refuse('it would land ' + outside)
  if member.issym() or member.islnk():
    link = member.linkname
    # A symlink is relative to its folder; a hard link to the archive root.
    base = os.path.dirname(target) if member.issym() else root
    if (os.path.isabs(link) or link.startswith(('/', '\\')) or
        not _inside(os.path.realpath(os.path.join(base, link)), root)):
      refuse('it links to %r, %s' % (link, outside))
  elif not (member.isfile() or member.isdir()):
    refuse('it is a device or other special file')


def _extract(tarball, data_dir):
  """Unpacks tarball's BATCHES_DIR into data_dir, all or nothing."""
  print('Extracting %s' % tarball)
  dest = os.path.join(data_dir, BATCHES_DIR)
  # Unpack beside the destination (same file system, so the final rename is
  # atomic): an interrupted run leaves a hidden folder, never a half one.
  tmp = os.path.realpath(tempfile.mkdtemp(
      dir=data_dir, prefix='.%s.' % BATCHES_DIR, suffix='.tmp'))
  try:
    try:
      with tarfile.open(tarball, 'r:*') as tar:
        for member in tar:  # One pass: no second decompression for checks.
          _check_member(member, tmp, tarball, data_dir)
          if hasattr(tarfile, 'data_filter'):
            tar.extract(member, tmp, filter='data')
          else:
            tar.extract(member, tmp)
        # tarfile stops at the end-of-archive block; reading on to the end
        # makes gzip check its CRC, which catches damage inside file data.
        while tar.fileobj.read(1 << 20):
          pass
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
      # tarfile lists each compression it tried, on lines of their own.
      reason = str(e).strip().split('\n')[0].rstrip(':')
      if reason.startswith('file could not be opened successfully'):
        reason = 'not a tar archive (gzip, bzip2, xz or plain)'
      reason = reason or type(e).__name__
      raise ValueError('Cannot extract %s: %s. The file is damaged; delete '
                       'it and run again to download a fresh copy.' % (
                           tarball, reason)) from e
    src = os.path.join(tmp, BATCHES_DIR)
    missing = _missing_files(src)
    if os.path.islink(src) or missing:
      raise ValueError('%s holds no complete %s folder (missing %s)' % (
          tarball, BATCHES_DIR, ', '.join(missing) or 'a real folder'))
    if os.path.lexists(dest):
      if not _missing_files(dest):
        return  # Another process finished first: keep its folder.
      # Move the incomplete folder aside; it is deleted with tmp.
      os.replace(dest, os.path.join(tmp, 'incomplete'))
    try:
      os.replace(src, dest)
    except OSError:
      if _missing_files(dest):
        raise
  finally:
    shutil.rmtree(tmp, ignore_errors=True)


def maybe_download_and_extract(data_dir, url=DATA_URL, md5=DATA_MD5):
  """Makes sure data_dir holds the extracted CIFAR-10 binary files.

  Nothing is fetched when data_dir/cifar-10-batches-bin already holds the
  five training files and the test file, so it works offline. Otherwise the
  tarball data_dir/<file name of url> is used when its md5 matches (checked
  on every run that uses it), else downloaded (again, if it is corrupt);
  then it is extracted safely: no member may land outside data_dir, and the
  folder appears under its name only when complete.

  Args:
    data_dir: the data directory (--data_dir); created if missing.
    url: where to download the tarball from.
    md5: the tarball's expected hex md5; None or '' skips the check.

  Returns:
    The path of data_dir/cifar-10-batches-bin.

  Raises:
    IOError: data_dir cannot be created, or the tarball is needed and cannot
      be downloaded; the message names the URL, the directory and
      --data_dir.
    ValueError: the tarball is damaged, holds a member that would land
      outside data_dir, or lacks a data file.
  """
  try:
    os.makedirs(data_dir, exist_ok=True)
  except OSError as e:
    raise IOError('Cannot create the data directory %s (--data_dir): %s' % (
        data_dir, e.strerror or e)) from e
  dest = os.path.join(data_dir, BATCHES_DIR)
  missing = _missing_files(dest)
  if not missing:
    return dest
  name = posixpath.basename(urllib.parse.urlparse(url).path)
  if not name:
    raise ValueError('The data URL %s names no file' % url)
  tarball = os.path.join(data_dir, name)
  hint = ('Or put the extracted %s folder there, or point --data_dir at a '
          'folder that holds either.' % BATCHES_DIR)
  if os.path.isdir(dest):
    hint += ' (%s lacks %s.)' % (dest, ', '.join(missing))
  if not os.path.isfile(tarball):
    download(url, tarball, md5, hint)
  elif md5:
    actual = file_md5(tarball)
    if actual != md5.lower():
      # The bad copy is replaced only once a good download has completed.
      print('%s is corrupt (md5 %s, expected %s); downloading it again.' % (
          tarball, actual, md5))
      download(url, tarball, md5, hint)
  _extract(tarball, data_dir)
  return dest
