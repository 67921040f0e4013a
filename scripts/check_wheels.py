"""Asks the package index if `pip install '.[cpu]'` gets wheels everywhere.

For each platform (Linux x86-64, Linux aarch64, macOS arm64, Windows x86-64)
and each Python (3.10 to 3.13) it works out which packages installing the
project with its extras brings in there, and whether every one of them has a
wheel for that platform and Python. One row per platform and Python:

  python scripts/check_wheels.py                        # [cpu], 16 rows
  python scripts/check_wheels.py --extras gpu --platforms linux-aarch64
  python scripts/check_wheels.py --extras cpu,tensorboard --pythons 3.13
  python scripts/check_wheels.py --platforms macos-x86_64,windows-arm64
  python scripts/check_wheels.py --verbose              # + every package

Columns: the TensorFlow distribution and version chosen; `wheels`, yes when
every package of the tree has a wheel there, NO otherwise; the number of
packages; the oldest system on which all those wheels install (glibc for
Linux's manylinux wheels, macOS); and what is missing, with why.

How it decides, step by step:
  1. The requirements come from setup.py itself: setuptools builds the
     metadata pip would get (the PEP 517 hook
     prepare_metadata_for_build_wheel, run in a subprocess of this Python,
     which therefore needs setuptools>=61; and `packaging`, or pip's copy).
  2. Each requirement's environment markers are evaluated with `packaging`
     for the TARGET machine's Python (platform_system, platform_machine,
     sys_platform, os_name, python_version; python_full_version is X.Y.0,
     platform_release and platform_version are empty), with the extras asked
     for (and, further down, the extras a requirement asks of its package).
  3. For a requirement, the newest release that satisfies its specifier and
     has a wheel that fits: manylinux tags for Linux (musllinux ones are for
     Alpine's musl, which the students' Linuxes are not), macosx_*_arm64 or
     universal2 for macOS arm64, win_amd64 for Windows; cpXY, abi3 (cp3N,
     N <= Y) or pure-Python py3 tags for the Python; the file's
     Requires-Python; no yanked files. Pre-releases only as pip takes them:
     when the specifier names one, or when no final release that fits has
     a wheel or an sdist.
  4. That wheel's Requires-Dist is walked in turn. It comes from the
     wheel's metadata file (PEP 658) where the index has one, else from the
     JSON API's info.requires_dist for that version, else from the METADATA
     inside the wheel, read with HTTP range requests (a few kilobytes).
The index is asked through its JSON API: <index_url>/pypi/<name>/json for
the releases and files, <index_url>/pypi/<name>/<version>/json. Every answer
is kept for the run, and the rows are worked out in parallel.

Not a full resolver. The first requirement on a package picks its newest
fitting release; a later one that this release does not satisfy picks again
with both specifiers (what the first pick required stays in the walk). A
release with a requirement that nothing on the index meets (no release fits
the specifiers, or no such package) is passed over and the walk starts
again, as pip would backtrack; such releases are listed under the table. A
missing wheel is no reason to pass a release over: pip would build the
sdist, which is what this is here to catch. Deeper conflicts, which pip
untangles by backtracking several levels, may be reported as missing.
For TensorFlow's tree, where specifiers are floors or wide ranges, it picks
what pip picks: on Linux x86-64 with Python 3.11, the same 32 packages and
versions as `pip install --dry-run --report` (December 2026).

Why not pip itself: `pip install --dry-run --report - --platform ...
--python-version ... --only-binary=:all:` picks wheels for the target but
evaluates environment markers for the Python that runs pip (pypa/pip#11664).
Tried with pip 23.2.1 on Linux x86-64, asked for macosx_12_0_arm64: it still
chose tensorflow-cpu (the Linux x86-64 marker holds for the pip process)
and found no wheel, so for this project's markers its answer is wrong.
On the machine itself, `pip install --dry-run --ignore-installed '.[cpu]'`
is right, and is the check to trust there.

Exit status: 0 when every row has all its wheels, 1 when a row misses one,
2 on a bad flag or when setup.py or the index cannot be read (one line on
stderr, no traceback). Output is plain ASCII.
"""

import argparse
import collections
import concurrent.futures
import datetime
import email.parser
import glob
import gzip
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib

try:
  from packaging.markers import UndefinedComparison, UndefinedEnvironmentName
  from packaging.requirements import InvalidRequirement, Requirement
  from packaging.specifiers import InvalidSpecifier, SpecifierSet
  from packaging.utils import (InvalidWheelFilename, canonicalize_name,
                               parse_wheel_filename)
  from packaging.version import InvalidVersion, Version
except ImportError:  # Not installed on its own here; pip vendors it.
  from pip._vendor.packaging.markers import (UndefinedComparison,
                                             UndefinedEnvironmentName)
  from pip._vendor.packaging.requirements import (InvalidRequirement,
                                                  Requirement)
  from pip._vendor.packaging.specifiers import InvalidSpecifier, SpecifierSet
  from pip._vendor.packaging.utils import (InvalidWheelFilename,
                                           canonicalize_name,
                                           parse_wheel_filename)
  from pip._vendor.packaging.version import InvalidVersion, Version

PROG = 'check_wheels'
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_INDEX = 'https://pypi.org'
DEFAULT_PLATFORMS = ('linux-x86_64', 'linux-aarch64', 'macos-arm64',
                     'windows-x86_64')
DEFAULT_PYTHONS = ('3.10', '3.11', '3.12', '3.13')
# The TensorFlow distributions a row names (tensorflow-intel and
# tensorflow-cpu-aws were what older tensorflow releases pulled in on Windows
# and Linux aarch64).
TENSORFLOW = re.compile(r'^tensorflow(-cpu|-intel|-macos|-cpu-aws)?$')
LEGACY_MANYLINUX = {'manylinux1': (2, 5), 'manylinux2010': (2, 12),
                    'manylinux2014': (2, 17)}


class Problem(Exception):
  """Something that ends the run: an unreadable setup.py or index."""


class Platform:
  """A target machine: its marker values and the wheel tags it takes.

  Attributes:
    name: the --platforms name, e.g. 'linux-aarch64'.
    markers: the environment marker values its Python reports.
  """

  def __init__(self, name, system, machine, archs):
    """Describes a platform.

    Args:
      name: the --platforms name.
      system: 'Linux', 'Darwin' or 'Windows', as platform.system() says.
      machine: what platform.machine() says there, e.g. 'AMD64'.
      archs: the architectures of the wheel tags it takes: manylinux_*_<arch>
        on Linux, macosx_*_<arch> on macOS, win_<arch> on Windows.
    """
    self.name = name
    self.markers = {
        'os_name': 'nt' if system == 'Windows' else 'posix',
        'sys_platform': {'Linux': 'linux', 'Darwin': 'darwin',
                         'Windows': 'win32'}[system],
        'platform_system': system,
        'platform_machine': machine,
        'platform_release': '',
        'platform_version': '',
        'platform_python_implementation': 'CPython',
        'implementation_name': 'cpython',
    }
    self._system = system
    self._archs = archs

  def floor(self, tag):
    """Whether a wheel's platform tag fits, and the system it needs.

    Args:
      tag: a wheel's platform tag, e.g. 'manylinux_2_17_aarch64'.

    Returns:
      None if the tag does not fit; else () for no particular system, or
      the oldest glibc or macOS version it needs, as a tuple of ints.
    """
    if tag == 'any':
      return ()
    if self._system == 'Windows':
      return () if tag in ['win_' + arch for arch in self._archs] else None
    if self._system == 'Linux':
      found = re.fullmatch(r'manylinux_(\d+)_(\d+)_(\w+)', tag)
      if found and found.group(3) in self._archs:
        return int(found.group(1)), int(found.group(2))
      legacy, _, arch = tag.partition('_')
      if legacy in LEGACY_MANYLINUX and arch in self._archs:
        return LEGACY_MANYLINUX[legacy]
      return None
    found = re.fullmatch(r'macosx_(\d+)_(\d+)_(\w+)', tag)
    if not found or found.group(3) not in self._archs:
      return None
    version = int(found.group(1)), int(found.group(2))
    # An arm64 Mac runs macOS 11 or later, whatever the tag says.
    return max(version, (11, 0)) if 'arm64' in self._archs else version

  def describe_floor(self, floor):
    """'glibc 2.27', 'macOS 12.0' or '-', for what floor() returned."""
    if not floor:
      return '-'
    system = {'Linux': 'glibc', 'Darwin': 'macOS'}.get(self._system, '')
    return '%s %d.%d' % (system, floor[0], floor[1])


PLATFORMS = {p.name: p for p in (
    Platform('linux-x86_64', 'Linux', 'x86_64', ['x86_64']),
    Platform('linux-aarch64', 'Linux', 'aarch64', ['aarch64']),
    Platform('macos-arm64', 'Darwin', 'arm64', ['arm64', 'universal2']),
    Platform('windows-x86_64', 'Windows', 'AMD64', ['amd64']),
    # Checked only when asked for: Intel Macs and Windows on ARM.
    Platform('macos-x86_64', 'Darwin', 'x86_64',
             ['x86_64', 'intel', 'fat64', 'fat32', 'universal2',
              'universal']),
    Platform('windows-arm64', 'Windows', 'ARM64', ['arm64']),
)}


def python_fits(tag, minor):
  """Whether a wheel tag's interpreter and ABI fit CPython 3.minor.

  Args:
    tag: a packaging.tags.Tag.
    minor: the Python's minor version, e.g. 12 for 3.12.

  Returns:
    True for cp3Y-cp3Y (not the free-threaded cp3Yt), cp3N-abi3 with
    N <= Y, cp3Y-none and py3/py3N-none with N <= Y.
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


def marker_environment(platform, minor):
  """The marker values of CPython 3.minor on platform.

  Args:
    platform: a Platform.
    minor: the Python's minor version.

  Returns:
    A dict for packaging's Marker.evaluate (without 'extra').
  """
  environment = dict(platform.markers)
  environment['python_version'] = '3.%d' % minor
  environment['python_full_version'] = '3.%d.0' % minor
  environment['implementation_version'] = '3.%d.0' % minor
  return environment


def applies(requirement, environment, extras):
  """Whether a requirement's marker holds, for any of the extras asked for.

  Args:
    requirement: a packaging Requirement.
    environment: from marker_environment.
    extras: the extras asked of the package that has this requirement.

  Returns:
    True if the requirement is to be installed.
  """
  if requirement.marker is None:
    return True
  for extra in sorted(extras) or ['']:
    try:
      if requirement.marker.evaluate(dict(environment, extra=extra)):
        return True
    except (UndefinedComparison, UndefinedEnvironmentName):
      pass  # As pip does with a marker it cannot evaluate: skip it.
  return False


File = collections.namedtuple(
    'File', 'filename url tags requires_python has_metadata')
Release = collections.namedtuple('Release', 'version text files')
Pick = collections.namedtuple('Pick', 'name release file floor')


class Project:
  """What the index knows of one distribution.

  Attributes:
    name: the canonical name.
    releases: Releases, newest first.
  """

  def __init__(self, name, data, url):
    """Reads a JSON API answer.

    Args:
      name: the canonical name.
      data: the decoded /pypi/<name>/json answer.
      url: where it came from (file URLs may be relative to it).
    """
    self.name = name
    self.releases = []
    for text, entries in (data.get('releases') or {}).items():
      try:
        version = Version(text)
      except InvalidVersion:
        continue
      files = [f for f in (_read_file(e, url) for e in entries or []) if f]
      self.releases.append(Release(version, text, files))
    self.releases.sort(key=lambda release: release.version, reverse=True)


def _read_file(entry, base_url):
  """A File from one JSON API file entry, or None if yanked or unreadable."""
  filename = entry.get('filename') or ''
  if entry.get('yanked') or not entry.get('url'):
    return None
  tags = None
  if filename.endswith('.whl'):
    try:
      tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
      return None
  return File(filename, urllib.parse.urljoin(base_url, entry['url']), tags,
              entry.get('requires_python'),
              bool(entry.get('core-metadata')
                   or entry.get('data-dist-info-metadata')))


def choose(project, specifier, platform, minor, skip=()):
  """The newest release that fits, with its wheel, as pip would pick it.

  Args:
    project: a Project.
    specifier: a SpecifierSet (all the requirements on it so far).
    platform: a Platform.
    minor: the Python's minor version.
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
    floors = []
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


def _python_allows(file, python):
  """Whether a file's Requires-Python admits this Python (a Version)."""
  if not file.requires_python:
    return True
  try:
    return SpecifierSet(file.requires_python).contains(python,
                                                       prereleases=True)
  except InvalidSpecifier:
    return True  # pip ignores what it cannot parse, too.


class Index:
  """The package index's JSON API, every answer kept for the run.

  Safe to use from several threads: each URL is fetched once, and a thread
  that asks for one being fetched waits for that answer.
  """

  def __init__(self, url, timeout):
    """Args: url: e.g. https://pypi.org; timeout: seconds per request."""
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
    """The body at url, or None if the index says 404.

    Args:
      url: what to get.
      first, last: bytes first to last (inclusive) only, by a range request;
        first < 0 for the last -first bytes.

    Returns:
      The body (bytes) or None; with first, (body, the file's size).

    Raises:
      Problem: the index cannot be reached, or answered with an error.
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
      hint = ''
      if 'CERTIFICATE_VERIFY_FAILED' in str(e.reason):
        hint = (' (with python.org\'s Python on macOS, run its "Install '
                'Certificates.command" once)')
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
      return None if data is None else Project(name, data, url)
    return self._remember(('project', name), read)

  def requires_dist(self, pick):
    """A picked wheel's Requires-Dist lines, or None if none can be read.

    From the wheel's metadata file (PEP 658) if the index has it, else from
    the JSON API's info.requires_dist of that version, else from the
    METADATA inside the wheel, read with HTTP range requests (the few
    kilobytes of the zip's directory and of that file, not the wheel).
    """
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
    """Args: download: Index._download; url: the file's URL."""
    self._download = download
    self._url = url
    self._blocks = {}
    tail = download(url, -self.BLOCK)
    if tail is None:
      raise _Gone(url)
    data, self._size = tail
    self._blocks[self._size - len(data)] = data
    self._position = 0

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


def parse_metadata(body):
  """The headers of a METADATA file (bytes) as an email Message."""
  return email.parser.Parser().parsestr(body.decode('utf-8', 'replace'),
                                        headersonly=True)


Row = collections.namedtuple(
    'Row', 'platform minor picks missing floor set_aside')


def walk(index, project, requirements, extras, platform, minor,
         set_aside=()):
  """Picks a release of everything requirements bring in, on one target.

  Args:
    index: an Index.
    project: the project's name (a requirement on it, such as
      'classic-tf-tutorials[plot]' in one of its extras, adds extras).
    requirements: the project's Requires-Dist lines.
    extras: the project's extras asked for.
    platform: a Platform.
    minor: the Python's minor version.
    set_aside: (name, version) pairs of releases not to pick.

  Returns:
    (row, conflicts). The Row: picks maps canonical names to Picks, missing
    to why each could not be picked, floor is the newest system any picked
    wheel needs. conflicts maps a picked (name, version) to why one of its
    requirements cannot be met at all (no release fits, or no such
    package), which pip would answer by trying an older release of it.
  """
  environment = marker_environment(platform, minor)
  project = canonicalize_name(project)
  picks, missing, wanted, conflicts = {}, {}, {}, {}
  own = None  # The project's extras walked so far.
  queue = collections.deque([(Requirement(
      '%s[%s]' % (project, ','.join(extras))), frozenset(), None)])
  while queue:
    requirement, asked_by, parent = queue.popleft()
    if not applies(requirement, environment, asked_by):
      continue
    name = canonicalize_name(requirement.name)
    if name == project:
      more = {canonicalize_name(e) for e in requirement.extras}
      if own is None or not more <= own:
        own = more | (own or set())
        queue.extend((Requirement(r), frozenset(own), None)
                     for r in requirements)
      continue
    before, had = wanted.get(name, (SpecifierSet(), frozenset()))
    specifier = before & requirement.specifier
    asked = had | {canonicalize_name(e) for e in requirement.extras}
    pick = picks.get(name)
    if asked <= had and (
        (name in missing and specifier == before) or (
            pick and specifier.contains(pick.release.version,
                                        prereleases=True))):
      wanted[name] = specifier, had
      continue
    wanted[name] = specifier, asked
    was_missing = missing.pop(name, None)
    spelled = name + str(specifier)
    known = None if requirement.url else index.project(name)
    if requirement.url:
      why = 'a direct URL, not from the index'
    elif known is None:
      why = 'not on the index'
    else:
      why = choose(known, specifier, platform, minor,
                   {v for n, v in set_aside if n == name})
    if isinstance(why, str):
      missing[name] = '%s: %s' % (spelled, why)
      picks.pop(name, None)
      # The requirement that made it impossible is the one to blame.
      if parent and not was_missing and why in ('no release fits',
                                                'not on the index'):
        conflicts[parent] = missing[name]
      continue
    pick = picks[name] = why
    lines = index.requires_dist(pick)
    if lines is None:
      missing[name] = '%s %s: its requirements cannot be read' % (
          name, pick.release.text)
      continue
    for line in lines:
      try:
        queue.append((Requirement(line), asked, (name, pick.release.text)))
      except InvalidRequirement:
        missing[name] = '%s %s: bad Requires-Dist %r' % (
            name, pick.release.text, line)
  floors = [p.floor for p in picks.values() if p.floor]
  row = Row(platform, minor, picks, missing, max(floors, default=()), {})
  return row, conflicts


def resolve(index, project, requirements, extras, platform, minor):
  """walk, again with each release whose requirements conflict set aside.

  Arguments as for walk. Gives up after 50 releases set aside.

  Returns:
    A Row whose set_aside maps each (name, version) passed over to why.
  """
  set_aside = {}
  while True:
    row, conflicts = walk(index, project, requirements, extras, platform,
                          minor, set_aside)
    if not conflicts or len(set_aside) >= 50:
      return row._replace(set_aside=set_aside)
    set_aside.update(conflicts)


def read_project(project_dir):
  """Builds a setup.py project's metadata, as pip would, and reads it.

  Args:
    project_dir: the folder of setup.py (and pyproject.toml).

  Returns:
    An email Message: Name, Requires-Python, Provides-Extra, Requires-Dist.

  Raises:
    Problem: setuptools could not build it.
  """
  code = ('import sys\n'
          'from setuptools import build_meta\n'
          'build_meta.prepare_metadata_for_build_wheel(sys.argv[1])\n')
  with tempfile.TemporaryDirectory(prefix='check_wheels_') as out:
    try:
      done = subprocess.run([sys.executable, '-c', code, out],
                            cwd=project_dir, capture_output=True,
                            encoding='utf-8', errors='replace', check=False)
    except OSError as e:
      raise Problem('cannot build the metadata of %s: %s'
                    % (project_dir, e)) from None
    found = glob.glob(os.path.join(out, '*.dist-info', 'METADATA'))
    if done.returncode or not found:
      last = (done.stderr.strip().splitlines() or ['no METADATA'])[-1]
      raise Problem('cannot build the metadata of %s with setuptools in %s '
                    '(it needs setuptools>=61): %s'
                    % (project_dir, sys.executable, last))
    with open(found[0], 'rb') as f:
      return parse_metadata(f.read())


def format_rows(rows, verbose=False):
  """The table, as lines of ASCII text.

  Args:
    rows: Rows from walk.
    verbose: also list every package picked, under its row.

  Returns:
    A list of str.
  """
  table = [('platform', 'python', 'tensorflow', 'wheels', 'packages',
            'needs', 'missing')]
  notes = []
  for row in rows:
    tensorflow = ' + '.join('%s %s' % (name, row.picks[name].release.text)
                            for name in sorted(row.picks)
                            if TENSORFLOW.match(name)) or '-'
    table.append((row.platform.name, '3.%d' % row.minor, tensorflow,
                  'NO' if row.missing else 'yes',
                  str(len(row.picks) + len(row.missing)),
                  row.platform.describe_floor(row.floor),
                  '; '.join(row.missing[n] for n in sorted(row.missing))
                  or '-'))
    notes.append(', '.join('%s %s' % (name, row.picks[name].release.text)
                           for name in sorted(row.picks)))
  widths = [max(len(line[i]) for line in table) for i in range(6)]
  lines = []
  for i, line in enumerate(table):
    cells = zip(line[:6], widths, strict=True)
    lines.append('  '.join(cell.ljust(width) for cell, width in cells)
                 + '  ' + line[6])
    if verbose and i:
      lines.extend(textwrap.wrap(notes[i - 1], 78, break_on_hyphens=False,
                                 initial_indent='    ',
                                 subsequent_indent='    '))
  return [ascii_only(line) for line in lines]


def ascii_only(text):
  """text, with what is not ASCII as backslash escapes.

  The students' Windows consoles (cp950, cp1252) cannot print the rest.
  """
  return text.encode('ascii', 'backslashreplace').decode('ascii')


def _list_of(choices=None, pattern=None):
  """An argparse type: a comma-separated list of choices or of a pattern."""
  def parse(text):
    items = [item.strip() for item in text.split(',') if item.strip()]
    for item in items:
      if choices is not None and item not in choices:
        raise argparse.ArgumentTypeError(
            '%r is not one of %s' % (item, ', '.join(choices)))
      if pattern is not None and not re.fullmatch(pattern, item):
        raise argparse.ArgumentTypeError('%r is not like %s'
                                         % (item, pattern))
    return items
  parse.__name__ = 'list'
  return parse


def _positive(text):
  """An argparse type: a number above 0."""
  try:
    value = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError('not a number: %r' % text) from None
  if not value > 0:
    raise argparse.ArgumentTypeError('must be above 0, not %s' % text)
  return value


def parse_flags(argv=None):
  """The flags, as an argparse.Namespace (exits 2 on a bad one)."""
  parser = argparse.ArgumentParser(
      prog=PROG, description=__doc__, allow_abbrev=False,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument(
      '--extras', type=_list_of(pattern=r'[A-Za-z0-9._-]+'), default=['cpu'],
      help="the project's extras, comma-separated, as in pip install "
      "'.[cpu,plot]' (default: cpu; '' for none)")
  parser.add_argument(
      '--platforms', type=_list_of(choices=list(PLATFORMS)),
      default=list(DEFAULT_PLATFORMS),
      help='comma-separated, of %s (default: %s)'
      % (', '.join(PLATFORMS), ','.join(DEFAULT_PLATFORMS)))
  parser.add_argument(
      '--pythons', type=_list_of(pattern=r'3\.\d+'),
      default=list(DEFAULT_PYTHONS),
      help='CPython versions, comma-separated (default: %s)'
      % ','.join(DEFAULT_PYTHONS))
  parser.add_argument('--timeout', type=_positive, default=30.0,
                      help='seconds to wait for each answer (default: 30)')
  parser.add_argument('--index_url', default=DEFAULT_INDEX,
                      help='the index, whose JSON API is at '
                      '<index_url>/pypi/<name>/json (default: %s)'
                      % DEFAULT_INDEX)
  parser.add_argument('--project', default=REPO,
                      help='the folder of setup.py (default: this checkout)')
  parser.add_argument('--jobs', type=int, default=8, choices=range(1, 65),
                      metavar='N',
                      help='rows worked out at once, 1-64 (default: 8)')
  parser.add_argument('--verbose', action='store_true',
                      help='list every package picked, under its row')
  flags = parser.parse_args(argv)
  if not flags.platforms or not flags.pythons:
    parser.error('--platforms and --pythons need at least one value')
  return flags


def check(flags):
  """Works out and prints the table.

  Args:
    flags: from parse_flags.

  Returns:
    The exit status: 0 if every row has all its wheels, else 1.

  Raises:
    Problem: setup.py or the index could not be read.
  """
  metadata = read_project(flags.project)
  offered = [canonicalize_name(e)
             for e in metadata.get_all('Provides-Extra') or []]
  extras = [canonicalize_name(e) for e in flags.extras]
  unknown = [e for e in extras if e not in offered]
  if unknown:
    raise Problem('%s has no extra %s (it has: %s)'
                  % (metadata['Name'], ', '.join(unknown),
                     ', '.join(offered) or 'none'))
  requirements = metadata.get_all('Requires-Dist') or []
  try:
    project_python = SpecifierSet(metadata.get('Requires-Python') or '')
  except InvalidSpecifier:
    project_python = SpecifierSet()
  index = Index(flags.index_url, flags.timeout)
  targets = [(PLATFORMS[p], int(v.split('.')[1]))
             for p in flags.platforms for v in flags.pythons]

  def row(target):
    platform, minor = target
    if not project_python.contains('3.%d.0' % minor, prereleases=True):
      why = '%s: Requires-Python %s' % (metadata['Name'], project_python)
      return Row(platform, minor, {}, {metadata['Name']: why}, (), {})
    return resolve(index, metadata['Name'], requirements, extras, platform,
                   minor)

  with concurrent.futures.ThreadPoolExecutor(flags.jobs) as pool:
    try:
      rows = list(pool.map(row, targets))
    except BaseException:
      index.stop()  # The other rows end at their next request.
      pool.shutdown(wait=False, cancel_futures=True)
      raise
  name = '%s[%s]' % (metadata['Name'], ','.join(extras))
  print(ascii_only('%s, from %s, on %s, %s UTC (%d requests).'
                   % (name, os.path.join(flags.project, 'setup.py'),
                      index.url, datetime.datetime.now(
                          datetime.timezone.utc).strftime('%Y-%m-%d %H:%M'),
                      index.requests)))
  print('\n'.join(format_rows(rows, flags.verbose)))
  set_aside = collections.defaultdict(list)
  for row in rows:
    for (package, version), why in row.set_aside.items():
      set_aside[package, version, why].append(row)
  for (package, version, why), where in sorted(set_aside.items()):
    print(ascii_only('Passed over, as pip would: %s %s (%s), in %d of the '
                     'rows.' % (package, version, why, len(where))))
  good = sum(not r.missing for r in rows)
  print('%d of %d rows have a wheel of every package.' % (good, len(rows)))
  return 0 if good == len(rows) else 1


def main(argv=None):
  """Runs the program; returns the exit status (see the docstring)."""
  flags = parse_flags(argv)
  try:
    return check(flags)
  except Problem as e:
    print('%s: error: %s' % (PROG, ascii_only(str(e))), file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print('%s: interrupted' % PROG, file=sys.stderr)
    return 130


if __name__ == '__main__':
  sys.exit(main())
