"""scripts/check_wheels.py against a fake package index on 127.0.0.1.

Never touches the internet: a small HTTP server in a thread serves a JSON API
(/pypi/<name>/json, /pypi/<name>/<version>/json), PEP 658 metadata files and
real wheel files (with HTTP range requests) for a few made-up releases of
tensorflow, tensorflow-cpu and friends. The project is this checkout's own
setup.py, so the tests also check its environment markers; a second, tiny
setup.py in a temporary folder covers what this one does not use.
"""

import email.message
import hashlib
import http.server
import importlib.util
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import zipfile

import pytest

from conftest import REPO

SCRIPT = os.path.join(REPO, 'scripts', 'check_wheels.py')
sys.path.append(os.path.dirname(SCRIPT))
import package_index  # noqa: E402
_spec = importlib.util.spec_from_file_location('check_wheels', SCRIPT)
check_wheels = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_wheels)

PYTHONS = ('cp310', 'cp311', 'cp312', 'cp313')  # TensorFlow 2.21's
NEWEST = 'cp314'  # only TensorFlow 2.22's release candidate has wheels
EVERYWHERE = ('manylinux_2_27_x86_64', 'manylinux_2_27_aarch64',
              'macosx_12_0_arm64', 'win_amd64')
# A wheel for every Python above (but the newest) on every platform above.
EVERY_WHEEL = ['%s-%s-%s' % (py, py, plat) for py in PYTHONS
               for plat in EVERYWHERE]
NEWEST_WHEELS = ['%s-%s-%s' % (NEWEST, NEWEST, plat) for plat in EVERYWHERE]
TF_REQUIRES = ['absl-py>=1.0', 'numpy>=1.26', 'wrapt>=1.11']

# name -> version -> (files, Requires-Dist, how the requirements are found).
# A file is a wheel tag 'python-abi-platform' or 'sdist'. How: 'pep658'
# (a .metadata file beside the wheel), 'json' (only the per-version JSON
# API) or 'wheel' (only inside the wheel, read with range requests).
FAKE = {
    'tensorflow-cpu': {
        '2.21.0': (['%s-%s-%s' % (py, py, plat) for py in PYTHONS
                    for plat in ('manylinux_2_27_x86_64', 'win_amd64')],
                   TF_REQUIRES, 'pep658'),
        # A pre-release, newer: picked only for Python 3.14, where setup.py
        # asks for 2.22.0rc0 or later (no final release has its wheels).
        '2.22.0rc0': (EVERY_WHEEL + NEWEST_WHEELS, TF_REQUIRES, 'pep658'),
    },
    'tensorflow': {
        '2.21.0': (EVERY_WHEEL,
                   TF_REQUIRES + ['nvidia-fake>=1; extra == "and-cuda"'],
                   'pep658'),
        '2.22.0rc0': (EVERY_WHEEL + NEWEST_WHEELS,
                      TF_REQUIRES + ['nvidia-fake>=1; extra == "and-cuda"'],
                      'pep658'),
    },
    'numpy': {
        # Only an sdist: pip would build it; the walk goes on to 2.3.0.
        '2.4.0': (['sdist'], [], 'pep658'),
        # No cp310 (Requires-Python says so too), no cp313 on aarch64.
        '2.3.0': (['%s-%s-%s' % (py, py, plat) for py in PYTHONS[1:]
                   + (NEWEST,) for plat in EVERYWHERE
                   if (py, plat) != ('cp313', 'manylinux_2_27_aarch64')]
                  + ['sdist'], [], 'pep658'),
        '2.2.0': (['%s-%s-%s' % (py, py, plat) for py in PYTHONS[:3]
                   for plat in EVERYWHERE] + ['sdist'], [], 'pep658'),
    },
    'absl-py': {
        '2.1.0': (['py3-none-any'],
                  ['colorama-fake; platform_system == "Windows"'], 'json'),
    },
    'colorama-fake': {'0.4.6': (['sdist'], [], 'pep658')},
    'wrapt': {
        '1.17.0': (['cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64',
                    'cp38-abi3-manylinux2014_aarch64',
                    'cp38-abi3-macosx_10_9_universal2',
                    'cp38-abi3-win_amd64'], ['six>=1.10'], 'wheel'),
        '2.0.0': (['py3-none-any'], [], 'yanked'),
    },
    'six': {'1.16.0': (['py2.py3-none-any'], [], 'pep658')},
    # setup.py asks for ml_dtypes<0.7 (0.7.0 loads slowly): 0.6.0 it is.
    'ml-dtypes': {
        '0.7.0': (EVERY_WHEEL + NEWEST_WHEELS, [], 'pep658'),
        '0.6.0': (EVERY_WHEEL + NEWEST_WHEELS, [], 'pep658'),
    },
    # 2.0 needs a six the index does not have: pip would take 1.0.
    'fancy': {'2.0': (['py3-none-any'], ['six>=2'], 'pep658'),
              '1.0': (['py3-none-any'], ['six'], 'pep658')},
    'nvidia-fake': {
        '1.0': (['py3-none-manylinux_2_17_x86_64'], [], 'pep658')},
}


def _metadata(name, version, requires):
  message = email.message.Message()
  message['Metadata-Version'] = '2.1'
  message['Name'] = name
  message['Version'] = version
  for line in requires:
    message['Requires-Dist'] = line
  return message.as_bytes()


def _wheel(name, version, requires):
  """A real wheel: METADATA first, then 200 KB, so that reading it takes
  more than the first range request (of the file's last 64 KB)."""
  buffer = io.BytesIO()
  prefix = '%s-%s' % (name.replace('-', '_'), version)
  with zipfile.ZipFile(buffer, 'w') as wheel:
    wheel.writestr(prefix + '.dist-info/METADATA',
                   _metadata(name, version, requires))
    wheel.writestr(prefix + '/padding.bin', os.urandom(200000))
  return buffer.getvalue()


def _routes():
  """path -> body of everything the fake index serves."""
  routes = {}
  for name, releases in FAKE.items():
    answer = {'info': {'name': name, 'version': max(releases)},
              'releases': {}}
    for version, (files, requires, how) in releases.items():
      entries = answer['releases'][version] = []
      for tag in files:
        stem = '%s-%s' % (name.replace('-', '_'), version)
        filename = (stem + '.tar.gz' if tag == 'sdist'
                    else '%s-%s.whl' % (stem, tag))
        body = _wheel(name, version, requires)
        routes['/files/' + filename] = body
        entry = {'filename': filename,
                 # Relative, as some mirrors answer.
                 'url': '../../files/' + filename,
                 'requires_python': ('>=3.11' if (name, version)
                                     == ('numpy', '2.3.0') else '>=3.8'),
                 'yanked': how == 'yanked', 'core-metadata': False}
        if how == 'pep658' and tag != 'sdist':
          entry['core-metadata'] = {
              'sha256': hashlib.sha256(body).hexdigest()}
          routes['/files/%s.metadata' % filename] = _metadata(
              name, version, requires)
        entries.append(entry)
      if how == 'json':
        routes['/pypi/%s/%s/json' % (name, version)] = json.dumps(
            {'info': {'requires_dist': requires}}).encode()
    routes['/pypi/%s/json' % name] = json.dumps(answer).encode()
  return routes


class _Handler(http.server.BaseHTTPRequestHandler):
  """Serves the routes, 404 otherwise; honours `Range: bytes=`."""

  def do_GET(self):
    body = self.server.routes.get(self.path)
    self.server.asked.append(self.path)
    if body is None:
      self.send_error(404)
      return
    status = 200
    wanted = self.server.ranges and re.fullmatch(
        r'bytes=(\d*)-(\d*)', self.headers.get('Range', ''))
    size = len(body)
    if wanted:
      first, last = wanted.groups()
      if first:
        first, last = int(first), min(size - 1, int(last or size - 1))
      else:
        first, last = max(0, size - int(last)), size - 1
      body, status = body[first:last + 1], 206
    self.send_response(status)
    if status == 206:
      self.send_header('Content-Range', 'bytes %d-%d/%d' % (first, last, size))
    self.send_header('Content-Length', str(len(body)))
    self.end_headers()
    self.wfile.write(body)

  def log_message(self, *args):
    pass


@pytest.fixture(scope='module')
def index():
  """The fake index's URL; its .asked lists the paths requested."""
  server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
  server.routes = _routes()
  server.asked = []
  server.ranges = True
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  yield server
  server.shutdown()
  server.server_close()


def _url(server):
  return 'http://127.0.0.1:%d' % server.server_address[1]


def _check(capsys, server, *flags):
  """Runs check_wheels.main; returns (status, {(platform, python): row})."""
  status = check_wheels.main(['--index_url', _url(server), '--timeout', '10']
                             + list(flags))
  out = capsys.readouterr().out
  assert out.isascii()
  rows = {}
  for line in out.splitlines():
    cells = re.split(r'\s{2,}', line.strip())
    if line.startswith(tuple(check_wheels.PLATFORMS)):
      rows[cells[0], cells[1]] = dict(zip(
          ('tensorflow', 'wheels', 'packages', 'needs', 'missing'), cells[2:],
          strict=True))
      last = rows[cells[0], cells[1]]
    elif line.startswith('    '):  # --verbose: the packages of the last row.
      last['picked'] = last.get('picked', '') + ' ' + line.strip()
  return status, rows, out


def test_cpu_extra_picks_by_markers_and_finds_the_missing_wheels(index,
                                                                 capsys):
  status, rows, out = _check(capsys, index, '--verbose')
  assert status == 1
  assert len(rows) == 20, out
  assert out.rstrip().endswith('14 of 20 rows have a wheel of every package.')
  for (platform, python), row in rows.items():
    # setup.py's markers: tensorflow-cpu where it has wheels, else
    # tensorflow; the newer pre-release only for Python 3.14, as setup.py
    # asks (for 3.10-3.13 it has wheels too, and is never picked).
    expected = ('tensorflow-cpu' if platform in ('linux-x86_64',
                                                 'windows-x86_64')
                else 'tensorflow') + (
                    ' 2.22.0rc0' if python == '3.14' else ' 2.21.0')
    assert row['tensorflow'] == expected, (platform, python)
    # The newest numpy with a wheel for that Python (2.4.0 is an sdist).
    numpy = 'numpy 2.2.0' if python == '3.10' else 'numpy 2.3.0'
    if (platform, python) == ('linux-aarch64', '3.13'):
      assert row['wheels'] == 'NO'
      assert row['missing'] == ('numpy>=1.26: no wheel (the newest, 2.4.0, '
                                'has only an sdist)')
      assert 'numpy' not in row['picked']
    elif platform == 'windows-x86_64':
      # Two levels down, and only on Windows by absl-py's marker.
      assert row['wheels'] == 'NO'
      assert row['missing'] == ('colorama-fake: no wheel (the newest, '
                                '0.4.6, has only an sdist)')
      assert numpy in row['picked']
    else:
      assert row['wheels'] == 'yes', (platform, python, row)
      assert row['missing'] == '-'
      assert numpy in row['picked']
    if row['missing'] == '-':
      # The tree: TensorFlow, absl-py, numpy, ml_dtypes (below setup.py's
      # bound), wrapt (abi3, not the yanked 2.0.0) and six, whose
      # requirement is only inside wrapt's wheel.
      assert row['packages'] == '6'
      assert 'ml-dtypes 0.6.0' in row['picked'], row['picked']
      assert 'wrapt 1.17.0' in row['picked']
      assert 'six 1.16.0' in row['picked']
      assert 'nvidia' not in row['picked']
    assert row['needs'] == {'linux': 'glibc 2.27', 'macos': 'macOS 12.0',
                            'windows': '-'}[platform.split('-')[0]]
  # Each answer was asked for once, though twenty rows wanted most.
  asked = index.asked
  assert asked.count('/pypi/tensorflow/json') == 1
  assert '/pypi/absl-py/2.1.0/json' in asked
  assert any(p.startswith('/files/wrapt-1.17.0') and p.endswith('.whl')
             for p in asked)
  assert not any(p.startswith('/files/tensorflow') and p.endswith('.whl')
                 for p in asked)  # Their .metadata files were enough.


def test_gpu_extra_is_cuda_on_linux_x86_64_only(index, capsys):
  status, rows, out = _check(capsys, index, '--extras', 'gpu', '--verbose',
                             '--pythons', '3.12')
  assert status == 1  # windows-x86_64: colorama-fake, as above.
  assert len(rows) == 4, out
  for (platform, _), row in rows.items():
    assert row['tensorflow'] == 'tensorflow 2.21.0'
    assert ('nvidia-fake 1.0' in row['picked']) == (platform == 'linux-x86_64')


def test_flags_pick_the_rows(index, capsys):
  status, rows, _ = _check(capsys, index, '--platforms',
                           'macos-arm64,linux-x86_64', '--pythons', '3.11')
  assert status == 0
  assert list(rows) == [('macos-arm64', '3.11'), ('linux-x86_64', '3.11')]


def test_an_index_without_range_requests(index, capsys):
  """wrapt's requirements are then read from the whole wheel."""
  index.ranges = False
  try:
    status, rows, _ = _check(capsys, index, '--platforms', 'linux-x86_64',
                             '--pythons', '3.12', '--verbose')
  finally:
    index.ranges = True
  assert status == 0
  assert 'six 1.16.0' in rows['linux-x86_64', '3.12']['picked']


def test_a_project_of_its_own(index, capsys, tmp_path):
  """Extras naming the project itself, a package the index lacks, a
  conflict, a release passed over, the project's own Requires-Python."""
  (tmp_path / 'setup.py').write_text(
      'import setuptools\n'
      'setuptools.setup(\n'
      '    name="demo", version="1.0", py_modules=[],\n'
      '    python_requires=">=3.11",\n'
      '    install_requires=["six", "fancy"],\n'
      '    extras_require={\n'
      '        "all": ["demo[more]", "numpy<2.3"],\n'
      '        "more": ["ghost>=1", "absl-py"],\n'
      '        "conflict": ["tensorflow>=3"],\n'
      '    })\n')
  status, rows, out = _check(capsys, index, '--project', str(tmp_path),
                             '--extras', 'all,conflict', '--platforms',
                             'linux-aarch64', '--verbose')
  assert status == 1
  assert rows['linux-aarch64', '3.10']['missing'] == (
      'demo: Requires-Python >=3.11')
  row = rows['linux-aarch64', '3.12']
  assert row['tensorflow'] == '-'
  assert row['missing'] == ('ghost>=1: not on the index; '
                            'tensorflow>=3: no release fits')
  assert 'numpy 2.2.0' in row['picked'] and 'absl-py 2.1.0' in row['picked']
  assert 'six 1.16.0' in row['picked'] and 'fancy 1.0' in row['picked']
  assert ('Passed over, as pip would: fancy 2.0 (six>=2: no release fits), '
          'in 4 of the rows.') in out  # 3.11-3.14
  # numpy<2.3 has no cp313 wheel on aarch64 either.
  assert 'numpy<2.3: no wheel for this platform and Python (newest: 2.2.0)' \
      in rows['linux-aarch64', '3.13']['missing']
  assert out.startswith('demo[all,conflict], from ')


def _run(*flags):
  return subprocess.run([sys.executable, SCRIPT] + list(flags), cwd=REPO,
                        capture_output=True, text=True, timeout=120,
                        stdin=subprocess.DEVNULL)


def test_an_unreachable_index_is_one_line():
  with socket.socket() as s:  # A port nobody listens on.
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
  proc = _run('--index_url', 'http://127.0.0.1:%d' % port, '--timeout', '5')
  assert proc.returncode == 2
  assert proc.stdout == ''
  assert proc.stderr.startswith(
      'check_wheels: error: cannot reach http://127.0.0.1:%d/pypi/' % port)
  assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_an_unknown_extra_is_one_line(index):
  proc = _run('--index_url', _url(index), '--extras', 'cpu,nope')
  assert proc.returncode == 2
  assert proc.stderr == ('check_wheels: error: classic-tf-tutorials has no '
                         'extra nope (it has: cpu, gpu, notebook, plot, '
                         'tensorboard, test)\n')


def test_help_is_the_docstring():
  proc = _run('--help')
  assert proc.returncode == 0
  assert check_wheels.__doc__.splitlines()[0] in proc.stdout
  for flag in ('--extras', '--platforms', '--pythons', '--timeout',
               '--index_url'):
    assert flag in proc.stdout


@pytest.mark.parametrize('platform, tag, floor', [
    ('linux-x86_64', 'manylinux_2_27_x86_64', (2, 27)),
    ('linux-x86_64', 'manylinux2014_x86_64', (2, 17)),
    ('linux-x86_64', 'manylinux_2_17_aarch64', None),
    ('linux-x86_64', 'musllinux_1_2_x86_64', None),
    ('linux-aarch64', 'manylinux2014_aarch64', (2, 17)),
    ('macos-arm64', 'macosx_12_0_arm64', (12, 0)),
    ('macos-arm64', 'macosx_10_9_universal2', (11, 0)),
    ('macos-arm64', 'macosx_10_15_x86_64', None),
    ('macos-x86_64', 'macosx_10_15_x86_64', (10, 15)),
    ('windows-x86_64', 'win_amd64', ()),
    ('windows-x86_64', 'win32', None),
    ('windows-x86_64', 'any', ()),
])
def test_platform_tags(platform, tag, floor):
  assert check_wheels.PLATFORMS[platform].floor(tag) == floor


@pytest.mark.parametrize('tag, minor, fits', [
    ('cp312-cp312-any', 12, True),
    ('cp312-cp312-any', 13, False),
    ('cp313-cp313t-any', 13, False),
    ('cp38-abi3-any', 13, True),
    ('cp313-abi3-any', 12, False),
    ('py3-none-any', 10, True),
    ('py311-none-any', 10, False),
    ('py2-none-any', 12, False),
    ('cp312-none-any', 12, True),
])
def test_python_tags(tag, minor, fits):
  from packaging.tags import Tag
  assert package_index.python_fits(Tag(*tag.split('-')), minor) == fits


@pytest.mark.parametrize('marker, platform, minor, extras, applies', [
    ('platform_system == "Linux" and platform_machine == "x86_64"',
     'linux-x86_64', 12, (), True),
    ('platform_system == "Linux" and platform_machine == "x86_64"',
     'macos-arm64', 12, (), False),
    ('sys_platform == "win32" and os_name == "nt"', 'windows-x86_64', 12, (),
     True),
    ('python_version < "3.11"', 'linux-aarch64', 10, (), True),
    ('python_full_version >= "3.12.1"', 'linux-aarch64', 12, (), False),
    ('extra == "gpu"', 'linux-x86_64', 12, (), False),
    ('extra == "gpu"', 'linux-x86_64', 12, {'cpu', 'gpu'}, True),
])
def test_markers_are_the_targets(marker, platform, minor, extras, applies):
  from packaging.requirements import Requirement
  requirement = Requirement('numpy; ' + marker)
  assert check_wheels.PLATFORMS[platform].applies(
      requirement, minor, extras) == applies


def _release(version, *files, requires_python=None):
  """A Release with wheels ('cp312-cp312-win_amd64') or an 'sdist'."""
  from packaging.tags import parse_tag
  from packaging.version import Version
  return package_index.Release(Version(version), version, [
      package_index.File(
          'x.tar.gz' if tag == 'sdist' else 'x.whl', 'http://x/',
          None if tag == 'sdist' else parse_tag(tag), requires_python, False)
      for tag in files])


def test_choose_the_newest_release_with_a_wheel_that_fits():
  from packaging.specifiers import SpecifierSet
  project = package_index.Project('demo', [
      _release('3.0rc1', 'py3-none-any'),  # a pre-release: not taken
      _release('2.1', 'sdist'),
      _release('2.0', 'cp312-cp312-manylinux_2_28_x86_64',
               'cp312-abi3-manylinux2014_x86_64', 'sdist'),
      _release('1.0', 'py3-none-any', requires_python='<3.12'),
  ])
  linux = check_wheels.PLATFORMS['linux-x86_64']
  windows = check_wheels.PLATFORMS['windows-x86_64']
  pick = package_index.choose(project, SpecifierSet(), linux, 12)
  # Of 2.0's two wheels, the one that needs the older glibc.
  assert (pick.release.text, pick.floor) == ('2.0', (2, 17))
  assert {tag.abi for tag in pick.file.tags} == {'abi3'}
  assert package_index.choose(project, SpecifierSet('>=3.0rc1'), linux,
                              12).release.text == '3.0rc1'
  assert package_index.choose(project, SpecifierSet('<2'), linux,
                              11).release.text == '1.0'
  assert package_index.choose(project, SpecifierSet('<2'), linux, 12) == (
      'no wheel for this platform and Python (newest: 1.0)')
  assert package_index.choose(project, SpecifierSet('>=2,<3'), windows,
                              12) == ('no wheel (the newest, 2.1, has only '
                                      'an sdist)')
  assert package_index.choose(project, SpecifierSet('>=4'), linux, 12) == (
      'no release fits')
  assert package_index.choose(project, SpecifierSet('>=2,<3'), linux, 12,
                              skip={'2.0'}) == (
      'no wheel (the newest, 2.1, has only an sdist)')
  assert linux.describe_floor(pick.floor) == 'glibc 2.17'
  assert windows.describe_floor(()) == '-'
