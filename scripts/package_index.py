"""The package index as scripts/check_wheels.py asks it: which wheel fits.

  index = Index('https://pypi.org', timeout=30)   # every answer kept
  project = index.project('numpy')   # a Project, or None if not there
  platform = Platform('linux-aarch64', 'Linux', 'aarch64', ['aarch64'])
  platform.applies(requirement, 12, extras)   # its marker, on Python 3.12
  pick = choose(project, SpecifierSet('>=1.26'), platform, 12)
  lines = index.requires_dist(pick)   # its wheel's Requires-Dist lines

choose() takes the newest release that satisfies the specifier and has a
wheel that fits: manylinux tags for Linux (musllinux ones are for Alpine's
musl, which the students' Linuxes are not), macosx_*_arm64 or universal2
for macOS arm64, win_amd64 for Windows; cpXY, abi3 (cp3N, N <= Y) or
pure-Python py3 tags for the Python; the file's Requires-Python; no yanked
files; pre-releases only as pip takes them.

requires_dist() reads the wheel's metadata file (PEP 658) where the index
has one, else the JSON API's info.requires_dist for that version, else the
METADATA inside the wheel, through HTTP range requests (a few kilobytes).
The JSON API: <index_url>/pypi/<name>/json for the releases and files, and
<index_url>/pypi/<name>/<version>/json. Threads may share an Index: each URL
is fetched once. Problem is raised when the index cannot be reached or read.
"""

import collections
import concurrent.futures
import email.parser
import gzip
import http.client
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib

try:
  from packaging.markers import UndefinedComparison, UndefinedEnvironmentName
  from packaging.specifiers import InvalidSpecifier, SpecifierSet
  from packaging.utils import InvalidWheelFilename, parse_wheel_filename
  from packaging.version import InvalidVersion, Version
except ImportError:  # Not installed on its own here; pip vendors it.
  from pip._vendor.packaging.markers import (UndefinedComparison,
                                             UndefinedEnvironmentName)
  from pip._vendor.packaging.specifiers import InvalidSpecifier, SpecifierSet
  from pip._vendor.packaging.utils import (InvalidWheelFilename,
                                           parse_wheel_filename)
  from pip._vendor.packaging.version import InvalidVersion, Version

# The glibc versions of the manylinux tags named before PEP 600.
LEGACY_MANYLINUX = {'manylinux1': (2, 5), 'manylinux2010': (2, 12),
                    'manylinux2014': (2, 17)}
# platform.system() -> sys.platform, the wheel tags' prefix, the floor's OS.
SYSTEMS = {'Linux': ('linux', 'manylinux', 'glibc'),
           'Darwin': ('darwin', 'macosx', 'macOS'),
           'Windows': ('win32', 'win', '')}

File = collections.namedtuple(
    'File', 'filename url tags requires_python has_metadata')
Release = collections.namedtuple('Release', 'version text files')
Pick = collections.namedtuple('Pick', 'name release file floor')
# A distribution: its canonical name and its Releases, newest first.
Project = collections.namedtuple('Project', 'name releases')


class Problem(Exception):
  """Something that ends the run: an unreadable setup.py or index."""


class Platform:
  """A target machine: its environment marker values and the tags it takes.

  Args:
    name: e.g. 'linux-aarch64' (also .name).
    system: 'Linux', 'Darwin' or 'Windows', as platform.system() says.
    machine: what platform.machine() says there, e.g. 'AMD64'.
    archs: the architectures of the wheel tags it takes: manylinux_*_<arch>
      on Linux, macosx_*_<arch> on macOS, win_<arch> on Windows.
  """

  def __init__(self, name, system, machine, archs):
    self.name = name
    self._archs = archs
    sys_platform, self._prefix, self._floor_os = SYSTEMS[system]
    # platform_release and platform_version differ between machines: empty.
    self._markers = dict(
        os_name='nt' if system == 'Windows' else 'posix',
        sys_platform=sys_platform, platform_system=system,
        platform_machine=machine, platform_release='', platform_version='',
        platform_python_implementation='CPython', implementation_name='cpython')

  def applies(self, requirement, minor, extras):
    """Whether pip installs a requirement here, on CPython 3.minor.0.

    Args:
      requirement: a packaging Requirement.
      minor: the Python's minor version, e.g. 12 for 3.12.
      extras: the extras asked of the package that has the requirement; its
        marker must hold for one of them (or for none).
    """
    if requirement.marker is None:
      return True
    full = '3.%d.0' % minor
    environment = dict(self._markers, python_version='3.%d' % minor,
                       python_full_version=full, implementation_version=full)
    for extra in sorted(extras) or ['']:
      try:
        if requirement.marker.evaluate(dict(environment, extra=extra)):
          return True
      except (UndefinedComparison, UndefinedEnvironmentName):
        pass  # As pip does with a marker it cannot evaluate: skip it.
    return False

  def floor(self, tag):
    """The system a wheel's platform tag needs here, or None if it won't fit.

    () for no particular system, else the oldest glibc or macOS version as
    a tuple, e.g. (2, 17) for 'manylinux_2_17_aarch64' on linux-aarch64.
    """
    if tag == 'any':
      return ()
    if self._prefix == 'win':
      return () if tag in ['win_' + arch for arch in self._archs] else None
    legacy, _, arch = tag.partition('_')
    if legacy in LEGACY_MANYLINUX:
      tag = 'manylinux_%d_%d_%s' % (LEGACY_MANYLINUX[legacy] + (arch,))
    found = re.fullmatch(r'([a-z]+)_(\d+)_(\d+)_(\w+)', tag)
    if (not found or found.group(1) != self._prefix
        or found.group(4) not in self._archs):
      return None
    version = int(found.group(2)), int(found.group(3))
    # An arm64 Mac runs macOS 11 or later, whatever the tag says.
    return max(version, (11, 0)) if 'arm64' in self._archs else version

  def describe_floor(self, floor):
    """'glibc 2.27', 'macOS 12.0' or '-', for what floor() returned."""
    return '%s %d.%d' % (self._floor_os, *floor) if floor else '-'


def python_fits(tag, minor):
  """Whether a wheel tag's interpreter and ABI fit CPython 3.minor.

  True for cp3Y-cp3Y (not the free-threaded cp3Yt), cp3N-abi3 with N <= Y,
  cp3Y-none and py3/py3N-none with N <= Y; tag is a packaging.tags.Tag.
  """
  interpreter, abi = tag.interpreter, tag.abi
  own = 'cp3%d' % minor
  if interpreter == own and abi in (own, 'abi3', 'none'):
    return True
  found = re.fullmatch(r'(cp|py)3(\d*)', interpreter)
  if not found or (found.group(2) and int(found.group(2)) > minor):
    return False
  if found.group(1) == 'cp':
    return abi == 'abi3'
  return abi == 'none'


def _read_file(entry, base_url):
  """A File from one JSON API file entry, or None if yanked or unreadable."""
  filename = entry.get('filename') or ''
  if entry.get('yanked') or not entry.get('url'):
    return None
  try:
    tags = (parse_wheel_filename(filename)[3] if filename.endswith('.whl')
            else None)
  except InvalidWheelFilename:
    return None
  return File(filename, urllib.parse.urljoin(base_url, entry['url']), tags,
              entry.get('requires_python'),
              bool(entry.get('core-metadata')
                   or entry.get('data-dist-info-metadata')))


def _read_project(name, data, url):
  """A Project from a /pypi/<name>/json answer (file URLs relative to url)."""
  releases = []
  for text, entries in (data.get('releases') or {}).items():
    try:
      version = Version(text)
    except InvalidVersion:
      continue
    files = [f for f in (_read_file(e, url) for e in entries or []) if f]
    releases.append(Release(version, text, files))
  releases.sort(key=lambda release: release.version, reverse=True)
  return Project(name, releases)


def _python_allows(file, python):
  """Whether a file's Requires-Python admits this Python (a Version)."""
  try:
    return SpecifierSet(file.requires_python or '').contains(
        python, prereleases=True)
  except InvalidSpecifier:
    return True  # pip ignores what it cannot parse, too.


def choose(project, specifier, platform, minor, skip=()):
  """The newest release that fits, with its wheel, as pip would pick it.

  Args:
    project: a Project.
    specifier: a SpecifierSet (all the requirements on it so far).
    platform, minor: the target: a Platform and CPython 3.minor.
    skip: versions (as the index spells them) not to pick.

  Returns:
    A Pick, or a str saying why there is none.
  """
  python = Version('3.%d.0' % minor)
  fitting = [r for r in project.releases if r.text not in skip
             and specifier.contains(r.version, prereleases=True)]
  finals = [r for r in fitting if not r.version.is_prerelease]
  # pip takes a pre-release when the specifier names one, or when no final
  # release that fits has a file it could install (a wheel or an sdist).
  passes = [fitting] if specifier.prereleases else [finals]
  if not specifier.prereleases and not any(
      f.tags is None and f.filename.endswith(('.tar.gz', '.zip'))
      and _python_allows(f, python) for r in finals for f in r.files):
    passes.append(fitting)
  for release in (r for usable in passes for r in usable):
    floors = []  # (the system it needs, File) of each wheel that fits
    for file in release.files:
      if file.tags is None or not _python_allows(file, python):
        continue
      fits = [platform.floor(t.platform) for t in file.tags
              if python_fits(t, minor)]
      fits = [f for f in fits if f is not None]
      if fits:
        floors.append((min(fits), file))
    if floors:
      floor, file = min(floors, key=lambda pair: pair[0])
      return Pick(project.name, release, file, floor)
  if not fitting:
    return 'no release fits'
  newest = (finals or fitting)[0]
  if not any(f.tags for f in newest.files):
    return 'no wheel (the newest, %s, has only an sdist)' % newest.text
  return 'no wheel for this platform and Python (newest: %s)' % newest.text


def parse_metadata(body):
  """The headers of a METADATA file (bytes) as an email Message."""
  return email.parser.Parser().parsestr(body.decode('utf-8', 'replace'),
                                        headersonly=True)


class Index:
  """The package index's JSON API, every answer kept for the run.

  Args:
    url: the index, e.g. https://pypi.org (.url: without a final slash).
    timeout: seconds to wait for each answer (.requests counts them).
  """

  def __init__(self, url, timeout):
    self.url = url.rstrip('/')
    self.timeout = timeout
    self.requests = 0
    self._lock = threading.Lock()
    self._answers = {}
    self._stopped = threading.Event()

  def stop(self):
    """Makes every later request fail at once (to end the other rows)."""
    self._stopped.set()

  def _remember(self, key, make):
    """make()'s result, computed once per key, even across threads."""
    with self._lock:
      future = self._answers.get(key)
      mine = future is None
      if mine:
        future = self._answers[key] = concurrent.futures.Future()
    if mine:
      try:
        future.set_result(make())
      except BaseException as e:  # noqa: B036 -- handed to every waiter
        future.set_exception(e)
    return future.result()

  def _download(self, url, first=None, last=None):
    """The body at url (bytes), or None if the index says 404.

    With first, only bytes first to last (inclusive; first < 0: the last
    -first bytes), by a range request, and (body, the file's size) back;
    Problem if the index cannot be reached or answers with an error.
    """
    if self._stopped.is_set():
      raise Problem('stopped')
    headers = {'User-Agent': 'check_wheels (classic-tf-tutorials)'}
    if first is None:
      headers['Accept-Encoding'] = 'gzip'
    else:
      headers['Range'] = ('bytes=%d' % first if first < 0
                          else 'bytes=%d-%d' % (first, last))
    with self._lock:
      self.requests += 1
    try:
      with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                  timeout=self.timeout) as answer:
        body = answer.read()
        if answer.headers.get('Content-Encoding') == 'gzip':
          body = gzip.decompress(body)
        if first is None:
          return body
        size = (answer.headers.get('Content-Range') or '').rpartition('/')[2]
        if answer.status != 206 or not size.isdigit():  # The whole file.
          if first < 0:
            first, last = max(0, len(body) + first), len(body) - 1
          return body[first:last + 1], len(body)
        return body, int(size)
    except urllib.error.HTTPError as e:
      if e.code == 404:
        return None
      raise Problem('%s answered %d %s' % (url, e.code, e.reason)) from None
    except urllib.error.URLError as e:
      hint = (' (with python.org\'s Python on macOS, run its "Install '
              'Certificates.command" once)'
              if 'CERTIFICATE_VERIFY_FAILED' in str(e.reason) else '')
      raise Problem('cannot reach %s: %s%s' % (url, e.reason, hint)) from None
    except (OSError, EOFError, http.client.HTTPException, ValueError) as e:
      raise Problem('cannot read %s: %s' % (url, e or type(e).__name__)
                    ) from None

  def _json(self, url):
    """The decoded JSON at url, or None on 404."""
    def read():
      body = self._download(url)
      if body is None:
        return None
      try:
        return json.loads(body.decode('utf-8'))
      except ValueError:
        raise Problem('%s is not a JSON API answer (is --index_url right?)'
                      % url) from None
    return self._remember(('json', url), read)

  def project(self, name):
    """The Project called name (canonical), or None if the index has none."""
    def read():
      url = '%s/pypi/%s/json' % (self.url, name)
      data = self._json(url)
      return None if data is None else _read_project(name, data, url)
    return self._remember(('project', name), read)

  def requires_dist(self, pick):
    """A picked wheel's Requires-Dist lines, or None if none can be read."""
    def read():
      if pick.file.has_metadata:
        body = self._download(pick.file.url + '.metadata')
        if body is not None:
          return parse_metadata(body).get_all('Requires-Dist') or []
      data = self._json('%s/pypi/%s/%s/json'
                        % (self.url, pick.name, pick.release.text))
      if data is not None:
        return (data.get('info') or {}).get('requires_dist') or []
      try:
        with zipfile.ZipFile(_RemoteFile(self._download,
                                         pick.file.url)) as wheel:
          names = [n for n in wheel.namelist()
                   if re.fullmatch(r'[^/]+\.dist-info/METADATA', n)]
          if len(names) != 1:
            return None
          return parse_metadata(wheel.read(names[0])).get_all(
              'Requires-Dist') or []
      except (zipfile.BadZipFile, EOFError, zlib.error, _Gone):
        return None
    return self._remember(('requires', pick.file.url), read)


class _Gone(Exception):
  """The index said 404 for a file it listed."""


class _RemoteFile:
  """A file on the index that zipfile reads through HTTP range requests.

  Reads come in blocks of at least BLOCK bytes, kept, so that zipfile's
  small reads of a wheel's directory and of one member cost a few requests.
  """

  BLOCK = 1 << 16

  def __init__(self, download, url):
    self._download, self._url, self._position = download, url, 0
    tail = download(url, -self.BLOCK)  # Index._download
    if tail is None:
      raise _Gone(url)
    data, self._size = tail
    self._blocks = {self._size - len(data): data}

  def seekable(self):
    return True

  def tell(self):
    return self._position

  def seek(self, offset, whence=0):
    self._position = ({0: 0, 1: self._position, 2: self._size}[whence]
                      + offset)
    return self._position

  def read(self, n=-1):
    start = min(self._position, self._size)
    end = self._size if n is None or n < 0 else min(self._size, start + n)
    for first, data in self._blocks.items():
      if first <= start and end <= first + len(data):
        break
    else:
      first = start
      data = self._download(self._url, start,
                            min(self._size, max(end, start + self.BLOCK)) - 1)
      if data is None:
        raise _Gone(self._url)
      data = data[0]
      self._blocks[first] = data
    self._position = end
    return data[start - first:end - first]
