"""Asks the package index if `pip install '.[cpu]'` gets wheels everywhere.

For each platform (Linux x86-64, Linux aarch64, macOS arm64, Windows x86-64)
and each Python (3.10 to 3.14) it works out which packages installing the
project with its extras brings in there, and whether every one of them has a
wheel for that platform and Python. One row per platform and Python:

  python scripts/check_wheels.py                        # [cpu], 20 rows
  python scripts/check_wheels.py --extras gpu --platforms linux-aarch64
  python scripts/check_wheels.py --extras cpu,tensorboard --pythons 3.13
  python scripts/check_wheels.py --platforms macos-x86_64,windows-arm64
  python scripts/check_wheels.py --verbose              # + every package

Columns: the TensorFlow distribution and version chosen; `wheels`, yes when
every package of the tree has a wheel there, NO otherwise; the number of
packages; the oldest system on which all those wheels install (glibc for
Linux's manylinux wheels, macOS); and what is missing, with why.

How it decides: the requirements come from setup.py, as setuptools builds
them for pip (with this Python: it needs setuptools>=61, and `packaging` or
pip's copy of it), their markers taken for the TARGET's Python. Each gets
the newest release that satisfies it and has a wheel for the target, whose
own requirements are walked in turn (scripts/package_index.py has more).

Not a full resolver. The first requirement on a package picks its newest
fitting release; a later one that this release does not satisfy picks again
with both specifiers. A release with a requirement that nothing on the index
meets (no release fits, or no such package) is passed over and the walk
starts again, as pip would backtrack; such releases are listed under the
table. A missing wheel is no reason to pass a release over: pip would build
the sdist, which is what this is here to catch. Deeper conflicts, which pip
untangles by backtracking further, may be reported as missing. For
TensorFlow's tree, whose specifiers are floors or wide ranges, it picks what
pip picks: on Linux x86-64 with Python 3.11, the same 32 packages and
versions as `pip install --dry-run --report` (December 2026).

Why not pip itself: `pip install --dry-run --report - --platform ...
--python-version ... --only-binary=:all:` takes markers for the Python that
runs pip (pypa/pip#11664): pip 23.2.1 on Linux x86-64, asked for macOS arm64,
chose tensorflow-cpu and found no wheel. On the machine itself, `pip install
--dry-run --ignore-installed '.[cpu]'` is right, and the check to trust.

Exit status: 0 when every row has all its wheels, 1 when a row misses one,
2 on a bad flag or when setup.py or the index cannot be read (one line on
stderr, no traceback). Output is plain ASCII.
"""

import argparse
import collections
import concurrent.futures
import datetime
import glob
import os
import re
import subprocess
import sys
import tempfile
import textwrap

try:
  from packaging.requirements import InvalidRequirement, Requirement
  from packaging.specifiers import InvalidSpecifier, SpecifierSet
  from packaging.utils import canonicalize_name
except ImportError:  # Not installed on its own here; pip vendors it.
  from pip._vendor.packaging.requirements import (InvalidRequirement,
                                                  Requirement)
  from pip._vendor.packaging.specifiers import InvalidSpecifier, SpecifierSet
  from pip._vendor.packaging.utils import canonicalize_name

# `python scripts/check_wheels.py` puts scripts/ first on sys.path, but
# `python -m scripts.check_wheels` (and tests) import this file from the root.
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
  sys.path.insert(0, HERE)
import package_index

PROG = 'check_wheels'  # starts its error lines
REPO = os.path.dirname(HERE)  # the project whose setup.py is read
DEFAULT_INDEX = 'https://pypi.org'  # --index_url
DEFAULT_PLATFORMS = ('linux-x86_64', 'linux-aarch64', 'macos-arm64',
                     'windows-x86_64')  # the students' machines
DEFAULT_PYTHONS = ('3.10', '3.11', '3.12', '3.13', '3.14')  # setup.py's
# The TensorFlow distributions a row names (older tensorflow releases pulled
# in tensorflow-intel on Windows, tensorflow-cpu-aws on Linux aarch64).
TENSORFLOW = re.compile(r'^tensorflow(-cpu|-intel|-macos|-cpu-aws)?$')
# --platforms name: platform.system(), platform.machine(), the tags' archs.
PLATFORMS = {name: package_index.Platform(name, *spec) for name, spec in {
    'linux-x86_64': ('Linux', 'x86_64', ['x86_64']),
    'linux-aarch64': ('Linux', 'aarch64', ['aarch64']),
    'macos-arm64': ('Darwin', 'arm64', ['arm64', 'universal2']),
    'windows-x86_64': ('Windows', 'AMD64', ['amd64']),
    # Checked only when asked for: Intel Macs and Windows on ARM.
    'macos-x86_64': ('Darwin', 'x86_64', ['x86_64', 'intel', 'fat64',
                                          'fat32', 'universal2', 'universal']),
    'windows-arm64': ('Windows', 'ARM64', ['arm64']),
}.items()}

Row = collections.namedtuple(
    'Row', 'platform minor picks missing floor set_aside')


def _find(index, requirement, specifier, platform, minor, set_aside):
  """A Pick for a requirement on one target, or a str saying why none."""
  name = canonicalize_name(requirement.name)
  if requirement.url:
    return 'a direct URL, not from the index'
  known = index.project(name)
  if known is None:
    return 'not on the index'
  return package_index.choose(known, specifier, platform, minor,
                              {v for n, v in set_aside if n == name})


def _requirements_of(index, pick):
  """(the Requirements of a picked wheel, None or why some cannot be read)."""
  release = '%s %s' % (pick.name, pick.release.text)
  lines = index.requires_dist(pick)
  if lines is None:
    return [], release + ': its requirements cannot be read'
  found, why = [], None
  for line in lines:
    try:
      found.append(Requirement(line))
    except InvalidRequirement:
      why = '%s: bad Requires-Dist %r' % (release, line)
  return found, why


def walk(index, project, requirements, extras, platform, minor,
         set_aside=()):
  """Picks a release of everything requirements bring in, on one target.

  Args:
    index: a package_index.Index.
    project: the project's name (a requirement on it, such as
      'classic-tf-tutorials[plot]' in one of its extras, adds extras).
    requirements: the project's Requires-Dist lines.
    extras: the project's extras asked for.
    platform, minor: the target: a Platform and CPython 3.minor.
    set_aside: (name, version) pairs of releases not to pick.

  Returns:
    (row, conflicts). The Row: picks maps canonical names to Picks, missing
    to why each could not be picked, floor is the newest system any picked
    wheel needs. conflicts maps a picked (name, version) to why one of its
    requirements cannot be met at all, for pip to try an older release.
  """
  project = canonicalize_name(project)
  picks, missing, wanted, conflicts = {}, {}, {}, {}
  own = None  # The project's extras walked so far.
  queue = collections.deque([(Requirement(
      '%s[%s]' % (project, ','.join(extras))), frozenset(), None)])
  while queue:
    requirement, asked_by, parent = queue.popleft()
    if not platform.applies(requirement, minor, asked_by):
      continue
    name = canonicalize_name(requirement.name)
    if name == project:
      more = {canonicalize_name(e) for e in requirement.extras}
      if own is None or not more <= own:
        own = more | (own or set())
        queue.extend((Requirement(r), frozenset(own), None)
                     for r in requirements)
      continue
    # Picked again only for a specifier the pick fails, or new extras.
    before, had = wanted.get(name, (SpecifierSet(), frozenset()))
    specifier = before & requirement.specifier
    asked = had | {canonicalize_name(e) for e in requirement.extras}
    wanted[name] = specifier, asked
    pick = picks.get(name)
    if asked == had and (
        (name in missing and specifier == before) or (
            pick and specifier.contains(pick.release.version,
                                        prereleases=True))):
      continue
    was_missing = missing.pop(name, None)
    found = _find(index, requirement, specifier, platform, minor, set_aside)
    if isinstance(found, str):
      missing[name] = '%s%s: %s' % (name, specifier, found)
      picks.pop(name, None)
      # The requirement that made it impossible is the one to blame.
      if parent and not was_missing and found in ('no release fits',
                                                  'not on the index'):
        conflicts[parent] = missing[name]
      continue
    pick = picks[name] = found
    children, why = _requirements_of(index, pick)
    if why:
      missing[name] = why
    queue.extend((child, asked, (name, pick.release.text))
                 for child in children)
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
    package_index.Problem: setuptools could not build it.
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
      raise package_index.Problem('cannot build the metadata of %s: %s'
                                  % (project_dir, e)) from None
    found = glob.glob(os.path.join(out, '*.dist-info', 'METADATA'))
    if done.returncode or not found:
      last = (done.stderr.strip().splitlines() or ['no METADATA'])[-1]
      raise package_index.Problem(
          'cannot build the metadata of %s with setuptools in %s (it needs '
          'setuptools>=61): %s' % (project_dir, sys.executable, last))
    with open(found[0], 'rb') as f:
      return package_index.parse_metadata(f.read())


def format_rows(rows, verbose=False):
  """The table, as a list of lines of ASCII text.

  Args:
    rows: Rows from resolve.
    verbose: also list every package picked, under its row.
  """
  table = [('platform', 'python', 'tensorflow', 'wheels', 'packages',
            'needs', 'missing')]
  notes = []
  for row in rows:
    names = sorted(row.picks)
    picked = ['%s %s' % (n, row.picks[n].release.text) for n in names]
    tensorflow = ' + '.join(picked[i] for i, name in enumerate(names)
                            if TENSORFLOW.match(name)) or '-'
    table.append((row.platform.name, '3.%d' % row.minor, tensorflow,
                  'NO' if row.missing else 'yes',
                  str(len(row.picks) + len(row.missing)),
                  row.platform.describe_floor(row.floor),
                  '; '.join(row.missing[n] for n in sorted(row.missing))
                  or '-'))
    notes.append(', '.join(picked))
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
    package_index.Problem: setup.py or the index could not be read.
  """
  metadata = read_project(flags.project)
  offered = [canonicalize_name(e)
             for e in metadata.get_all('Provides-Extra') or []]
  extras = [canonicalize_name(e) for e in flags.extras]
  unknown = [e for e in extras if e not in offered]
  if unknown:
    raise package_index.Problem('%s has no extra %s (it has: %s)' % (
        metadata['Name'], ', '.join(unknown), ', '.join(offered) or 'none'))
  requirements = metadata.get_all('Requires-Dist') or []
  try:
    project_python = SpecifierSet(metadata.get('Requires-Python') or '')
  except InvalidSpecifier:
    project_python = SpecifierSet()
  index = package_index.Index(flags.index_url, flags.timeout)
  targets = [(PLATFORMS[p], int(v.split('.')[1]))
             for p in flags.platforms for v in flags.pythons]

  def one_row(target):
    platform, minor = target
    if not project_python.contains('3.%d.0' % minor, prereleases=True):
      why = '%s: Requires-Python %s' % (metadata['Name'], project_python)
      return Row(platform, minor, {}, {metadata['Name']: why}, (), {})
    return resolve(index, metadata['Name'], requirements, extras, platform,
                   minor)

  with concurrent.futures.ThreadPoolExecutor(flags.jobs) as pool:
    try:
      rows = list(pool.map(one_row, targets))
    except BaseException:
      index.stop()  # The other rows end at their next request.
      pool.shutdown(wait=False, cancel_futures=True)
      raise
  setup_py = os.path.join(flags.project, 'setup.py')
  now = datetime.datetime.now(datetime.timezone.utc)
  print(ascii_only('%s[%s], from %s, on %s, %s UTC (%d requests).' % (
      metadata['Name'], ','.join(extras), setup_py, index.url,
      now.strftime('%Y-%m-%d %H:%M'), index.requests)))
  print('\n'.join(format_rows(rows, flags.verbose)))
  passed_over = collections.Counter(
      (package, version, why) for row in rows
      for (package, version), why in row.set_aside.items())
  for (package, version, why), count in sorted(passed_over.items()):
    print(ascii_only('Passed over, as pip would: %s %s (%s), in %d of the '
                     'rows.' % (package, version, why, count)))
  good = sum(not r.missing for r in rows)
  print('%d of %d rows have a wheel of every package.' % (good, len(rows)))
  return 0 if good == len(rows) else 1


def main(argv=None):
  """Runs the program; returns the exit status (see the docstring)."""
  flags = parse_flags(argv)
  try:
    return check(flags)
  except package_index.Problem as e:
    print('%s: error: %s' % (PROG, ascii_only(str(e))), file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print('%s: interrupted' % PROG, file=sys.stderr)
    return 130


if __name__ == '__main__':
  sys.exit(main())
