"""Downloads the MNIST files: verified, atomic, from the first mirror up.

The original input_data had its own small downloader; so does this one, so
the MNIST tutorial needs nothing from the CIFAR-10 one (and no TensorFlow).

Summary of available functions:

 # Fetch one file from the first URL that works: md5-checked, written under
 # a temporary name and renamed only when complete.
 path = download(urls, filepath, md5=None, hint='')
 digest = file_md5(path)
"""

import contextlib
import hashlib
import http.client
import os
import secrets
import urllib.error
import urllib.request

TIMEOUT = 60  # Seconds without a byte before a mirror is given up.
CHUNK = 1 << 16  # Bytes read at a time; the largest file is 9.9 MB.


def file_md5(path):
  """The hex md5 of a file, read in chunks."""
  digest = hashlib.md5()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(CHUNK), b''):
      digest.update(chunk)
  return digest.hexdigest()


def _copy(url, tmp, md5):
  """Writes url's body into the file tmp; returns its size if it checks out.

  Raises:
    OSError: truncated (a server that drops the connection just ends the
      stream early) or corrupt, besides the network's own errors.
  """
  digest, size = hashlib.md5(), 0
  with urllib.request.urlopen(url, timeout=TIMEOUT) as response, open(
      tmp, 'wb') as out:
    total = int(response.headers.get('Content-Length') or 0)
    for chunk in iter(lambda: response.read(CHUNK), b''):
      out.write(chunk)
      digest.update(chunk)
      size += len(chunk)
  if total and size != total:
    raise OSError('truncated: got %d of %d bytes' % (size, total))
  if md5 and digest.hexdigest() != md5.lower():
    raise OSError('corrupt: md5 %s, expected %s' % (digest.hexdigest(), md5))
  return size


def _reason(error):
  """A short reason for a failed download, for the one-line error."""
  if isinstance(error, urllib.error.HTTPError):
    return 'HTTP %d %s' % (error.code, error.reason)
  if isinstance(error, urllib.error.URLError):
    return str(error.reason)
  return str(error) or type(error).__name__


def download(urls, filepath, md5=None, hint=''):
  """Downloads the first URL that works to filepath, verified and atomic.

  The file is written under a hidden temporary name beside filepath and
  renamed only once complete and (when md5 is given) verified, so an
  interrupted or corrupt download never leaves a broken file, and a file
  already at filepath is replaced only by a good one.

  Args:
    urls: a URL or a list of mirrors, tried in order.
    filepath: where the file should end up; its folder is created.
    md5: expected hex md5, or None (or '') to skip the check.
    hint: a sentence added to the error, e.g. which flag names the folder.

  Returns:
    filepath.

  Raises:
    IOError: the folder cannot be written, or every URL failed (offline,
      HTTP error, truncated or corrupt download). The message is one line
      naming the file, the folder and each URL with its reason.
  """
  if isinstance(urls, str):
    urls = [urls]
  name, folder = os.path.basename(filepath), os.path.dirname(filepath) or '.'
  # Unique, so concurrent downloads cannot collide; mode 0666 less the
  # umask (mkstemp's 0600 would survive the rename).
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
        size = _copy(url, tmp, md5)
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
