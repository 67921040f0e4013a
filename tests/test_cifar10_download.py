"""Download and safe extraction of the CIFAR-10 tarball, against a local
HTTP server (testdata.serve) and tarballs built here from synthetic files."""

import hashlib
import io
import os
import re
import tarfile

import pytest

import testdata
from cifar10 import cifar10_download

TARBALL = 'cifar-10-binary.tar.gz'
DATA_FILES = ['data_batch_%d.bin' % i for i in range(1, 6)] + [
    'test_batch.bin']


def _md5(data):
  return hashlib.md5(data).hexdigest()


def _tar_bytes(entries, mode='w:gz'):
  """A tarball from (TarInfo, bytes or None) pairs, in that order."""
  buf = io.BytesIO()
  with tarfile.open(fileobj=buf, mode=mode) as tar:
    for info, data in entries:
      if data is not None:
        info.size = len(data)
      tar.addfile(info, io.BytesIO(data) if data is not None else None)
  return buf.getvalue()


def _file_entry(name, data, mode=0o644):
  info = tarfile.TarInfo(name)
  info.mode = mode
  return info, data


def _special_entry(name, kind, linkname=''):
  info = tarfile.TarInfo(name)
  info.type = kind
  info.linkname = linkname
  if kind == tarfile.CHRTYPE:
    info.devmajor, info.devminor = 1, 3
  return info, None


@pytest.fixture
def source(tmp_path):
  """Synthetic data files, a tarball of them and a function to read them."""
  made = testdata.make_cifar10_dir(str(tmp_path / 'src'), n=3)
  contents = {}
  for name in sorted(os.listdir(made['dir'])):
    with open(os.path.join(made['dir'], name), 'rb') as f:
      contents[name] = f.read()
  entries = [_special_entry('cifar-10-batches-bin', tarfile.DIRTYPE)]
  entries += [_file_entry('cifar-10-batches-bin/' + name, data)
              for name, data in contents.items()]
  return {'contents': contents, 'entries': entries,
          'tarball': _tar_bytes(entries)}


@pytest.fixture
def data_dir(tmp_path):
  return str(tmp_path / 'data')


def _assert_extracted(folder, contents):
  for name, data in contents.items():
    with open(os.path.join(folder, name), 'rb') as f:
      assert f.read() == data, name


def _put(path, data):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'wb') as f:
    f.write(data)


def _read(path):
  with open(path, 'rb') as f:
    return f.read()


# download()


def test_download_progress_line_only_when_asked(tmp_path, capsys):
  data = os.urandom(300000)  # Several 64 KiB chunks: several progress steps.
  with testdata.serve({'/f.bin': data}) as server:
    path = str(tmp_path / 'f.bin')
    assert cifar10_download.download(server.url + '/f.bin', path, _md5(data),
                                  progress=True) == path
    out = capsys.readouterr().out
    steps = [float(p) for p in re.findall(
        r'\r>> Downloading f\.bin (\d+\.\d)%', out)]
    assert len(steps) >= 4 and steps == sorted(steps) and steps[-1] == 100.0
    assert out.endswith('100.0%\nSuccessfully downloaded f.bin 300000 '
                        'bytes.\n')
    os.remove(path)
    # Off a terminal (pytest captures stdout) the default is no progress.
    for progress in (None, False):
      cifar10_download.download(server.url + '/f.bin', path, progress=progress)
      assert capsys.readouterr().out == (
          'Successfully downloaded f.bin 300000 bytes.\n')
  assert _read(path) == data


def test_download_verifies_md5_and_respects_umask(tmp_path):
  data = b'cifar' * 1000
  old_umask = os.umask(0o022)
  try:
    with testdata.serve({'/f.bin': data}) as server:
      path = str(tmp_path / 'sub' / 'f.bin')  # The folder is created.
      cifar10_download.download([server.url + '/f.bin'], path, _md5(data))
  finally:
    os.umask(old_umask)
  assert _read(path) == data
  assert os.stat(path).st_mode & 0o777 == 0o644
  assert os.listdir(tmp_path / 'sub') == ['f.bin']  # No temporary left.


@pytest.mark.parametrize('mode', ['truncate', 'corrupt', 'error'])
def test_failed_download_leaves_no_file_and_keeps_old(tmp_path, mode):
  data = os.urandom(20000)
  body = (data[:100] + bytes([data[100] ^ 1]) + data[101:]
          if mode == 'corrupt' else data)  # Wrong bytes, right length.
  route = body if mode == 'corrupt' else (body, mode)
  path = str(tmp_path / 'f.bin')
  with testdata.serve({'/f.bin': route}) as server:
    url = server.url + '/f.bin'
    with pytest.raises(IOError) as e:
      cifar10_download.download(url, path, _md5(data), hint='Try --flag.')
    assert os.listdir(tmp_path) == []
    _put(path, b'old')  # A file already there survives a failed download.
    with pytest.raises(IOError):
      cifar10_download.download(url, path, _md5(data))
  assert os.listdir(tmp_path) == ['f.bin'] and _read(path) == b'old'
  message = str(e.value)
  reason = {'truncate': 'truncated: got 10000 of 20000 bytes',
            'corrupt': 'corrupt: md5 %s, expected %s' % (_md5(body),
                                                         _md5(data)),
            'error': 'HTTP 500'}[mode]
  assert reason in message
  assert message.startswith('Could not download f.bin into %s from %s ('
                            % (tmp_path, url))
  assert message.endswith('copy it into %s. Try --flag.' % tmp_path)


def test_download_tries_mirrors_in_order(tmp_path):
  good = b'good data'
  closed = testdata.closed_port_url('/f.bin')
  routes = {'/error': (b'x', 'error'), '/good': good, '/never': b'other'}
  path = str(tmp_path / 'f.bin')
  with testdata.serve(routes) as server:
    urls = [closed, server.url + '/error', server.url + '/missing',
            server.url + '/good', server.url + '/never']
    cifar10_download.download(urls, path, _md5(good))
    assert server.requests == ['/error', '/missing', '/good']
    assert _read(path) == good
    with pytest.raises(IOError) as e:
      cifar10_download.download(urls[:3], str(tmp_path / 'g.bin'))
  message = str(e.value)
  positions = [message.index(u + ' (') for u in urls[:3]]
  assert positions == sorted(positions)
  assert 'Connection refused' in message
  assert 'HTTP 500' in message and 'HTTP 404' in message
  assert os.listdir(tmp_path) == ['f.bin']


def test_download_into_unwritable_place(tmp_path):
  _put(str(tmp_path / 'file'), b'')
  with pytest.raises(IOError, match='Cannot write f.bin into .*file'):
    cifar10_download.download(testdata.closed_port_url('/f.bin'),
                           str(tmp_path / 'file' / 'f.bin'))


# maybe_download_and_extract()


def test_fresh_download_and_extract(source, data_dir, capsys):
  tarball = source['tarball']
  with testdata.serve({'/d/' + TARBALL: tarball}) as server:
    url = server.url + '/d/' + TARBALL
    dest = cifar10_download.maybe_download_and_extract(data_dir, url,
                                                    _md5(tarball))
    assert server.requests == ['/d/' + TARBALL]
  assert dest == os.path.join(data_dir, 'cifar-10-batches-bin')
  assert capsys.readouterr().out == (
      'Successfully downloaded %s %d bytes.\nExtracting %s\n' % (
          TARBALL, len(tarball), os.path.join(data_dir, TARBALL)))
  _assert_extracted(dest, source['contents'])
  assert sorted(os.listdir(data_dir)) == ['cifar-10-batches-bin', TARBALL]
  # Later runs use the folder without a word, even offline.
  assert cifar10_download.maybe_download_and_extract(
      data_dir, testdata.closed_port_url('/' + TARBALL)) == dest
  assert capsys.readouterr().out == ''


def test_extracted_folder_works_offline(data_dir, capsys):
  made = testdata.make_cifar10_dir(data_dir, n=2)
  url = testdata.closed_port_url('/' + TARBALL)
  got = cifar10_download.maybe_download_and_extract(data_dir, url)
  assert got == made['dir']
  assert capsys.readouterr().out == ''
  assert os.listdir(data_dir) == ['cifar-10-batches-bin']


def test_good_tarball_is_verified_not_fetched(source, data_dir, capsys):
  tarball = source['tarball']
  _put(os.path.join(data_dir, TARBALL), tarball)
  with testdata.serve({'/' + TARBALL: b'never asked'}) as server:
    dest = cifar10_download.maybe_download_and_extract(
        data_dir, server.url + '/' + TARBALL, _md5(tarball))
    assert server.requests == []
  _assert_extracted(dest, source['contents'])
  assert capsys.readouterr().out == 'Extracting %s\n' % os.path.join(
      data_dir, TARBALL)
  # Offline works as well.
  os.rename(dest, dest + '.old')
  cifar10_download.maybe_download_and_extract(
      data_dir, testdata.closed_port_url('/' + TARBALL), _md5(tarball))
  _assert_extracted(dest, source['contents'])


def test_corrupt_tarball_is_downloaded_again(source, data_dir, capsys):
  tarball = source['tarball']
  path = os.path.join(data_dir, TARBALL)
  bad = b'\0' * len(tarball)
  _put(path, bad)
  with testdata.serve({'/' + TARBALL: tarball}) as server:
    dest = cifar10_download.maybe_download_and_extract(
        data_dir, server.url + '/' + TARBALL, _md5(tarball))
    assert server.requests == ['/' + TARBALL]
  out = capsys.readouterr().out.splitlines()
  assert out == [
      '%s is corrupt (md5 %s, expected %s); downloading it again.' % (
          path, _md5(bad), _md5(tarball)),
      'Successfully downloaded %s %d bytes.' % (TARBALL, len(tarball)),
      'Extracting %s' % path]
  assert _read(path) == tarball
  _assert_extracted(dest, source['contents'])


@pytest.mark.parametrize('serve_mode', ['offline', 'truncate', 'corrupt'])
def test_corrupt_tarball_kept_until_good_download(source, data_dir,
                                                  serve_mode):
  tarball = source['tarball']
  path = os.path.join(data_dir, TARBALL)
  bad = b'\0' * len(tarball)
  _put(path, bad)
  route = (tarball, 'truncate') if serve_mode == 'truncate' else bad
  with testdata.serve({'/' + TARBALL: route}) as server:
    url = (testdata.closed_port_url('/' + TARBALL) if serve_mode == 'offline'
           else server.url + '/' + TARBALL)
    with pytest.raises(IOError, match='Could not download'):
      cifar10_download.maybe_download_and_extract(data_dir, url, _md5(tarball))
  assert os.listdir(data_dir) == [TARBALL] and _read(path) == bad


def test_offline_with_nothing_says_what_to_do(data_dir):
  url = testdata.closed_port_url('/' + TARBALL)
  with pytest.raises(IOError) as e:
    cifar10_download.maybe_download_and_extract(data_dir, url)
  message = str(e.value)
  assert '\n' not in message
  assert message == (
      'Could not download %s into %s from %s ([Errno 111] Connection '
      'refused). If this machine is offline, fetch the file elsewhere and '
      'copy it into %s. Or put the extracted cifar-10-batches-bin folder '
      'there, or point --data_dir at a folder that holds either.' % (
          TARBALL, data_dir, url, data_dir))
  assert os.listdir(data_dir) == []  # Created, and left clean.


def test_incomplete_folder_is_named_then_replaced(source, data_dir):
  dest = os.path.join(data_dir, 'cifar-10-batches-bin')
  _put(os.path.join(dest, 'data_batch_1.bin'), b'half')
  _put(os.path.join(dest, 'stale.txt'), b'stale')
  url = testdata.closed_port_url('/' + TARBALL)
  with pytest.raises(IOError, match=re.escape(
      '(%s lacks data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, '
      'data_batch_5.bin, test_batch.bin.)' % dest)):
    cifar10_download.maybe_download_and_extract(data_dir, url)
  tarball = source['tarball']
  _put(os.path.join(data_dir, TARBALL), tarball)
  cifar10_download.maybe_download_and_extract(data_dir, url, _md5(tarball))
  assert sorted(os.listdir(dest)) == sorted(source['contents'])
  _assert_extracted(dest, source['contents'])
  assert sorted(os.listdir(data_dir)) == ['cifar-10-batches-bin', TARBALL]


def _evil_entries(tmp_path):
  """name -> (tarball entries, the member the error must name)."""
  outside = str(tmp_path / 'outside.txt')
  return {
      'dotdot': ([_file_entry('../evil', b'x')], '../evil'),
      'deep_dotdot': ([_file_entry('cifar-10-batches-bin/../../evil', b'x')],
                      'cifar-10-batches-bin/../../evil'),
      'absolute': ([_file_entry(str(tmp_path / 'evil'), b'x')],
                   str(tmp_path / 'evil')),
      'symlink_up': ([
          _special_entry('cifar-10-batches-bin/link', tarfile.SYMTYPE,
                         '../../..'),
          _file_entry('cifar-10-batches-bin/link/evil', b'x')],
                     'cifar-10-batches-bin/link'),
      'symlink_absolute': ([
          _special_entry('cifar-10-batches-bin/link', tarfile.SYMTYPE,
                         str(tmp_path)),
          _file_entry('cifar-10-batches-bin/link/evil', b'x')],
                           'cifar-10-batches-bin/link'),
      'hardlink': ([_special_entry('cifar-10-batches-bin/hard',
                                   tarfile.LNKTYPE, '../../outside.txt')],
                   'cifar-10-batches-bin/hard'),
      'hardlink_absolute': ([_special_entry('cifar-10-batches-bin/hard',
                                            tarfile.LNKTYPE, outside)],
                            'cifar-10-batches-bin/hard'),
      'device': ([_special_entry('cifar-10-batches-bin/dev',
                                 tarfile.CHRTYPE)],
                 'cifar-10-batches-bin/dev'),
  }


@pytest.mark.parametrize('with_filter', [True, False])
@pytest.mark.parametrize('kind', ['dotdot', 'deep_dotdot', 'absolute',
                                  'symlink_up', 'symlink_absolute',
                                  'hardlink', 'hardlink_absolute', 'device'])
def test_unsafe_members_are_refused(source, tmp_path, data_dir, monkeypatch,
                                    kind, with_filter):
  if with_filter and not hasattr(tarfile, 'data_filter'):
    pytest.skip('this Python has no tarfile data filter')
  if not with_filter:
    # Our own checks alone, as on a Python without the filter.
    monkeypatch.delattr(tarfile, 'data_filter', raising=False)
  _put(str(tmp_path / 'outside.txt'), b'secret')
  evil, member = _evil_entries(tmp_path)[kind]
  # The good files come first, so extraction has begun when it is refused.
  tarball = _tar_bytes(source['entries'] + evil)
  _put(os.path.join(data_dir, TARBALL), tarball)
  with pytest.raises(ValueError) as e:
    cifar10_download.maybe_download_and_extract(
        data_dir, testdata.closed_port_url('/' + TARBALL), _md5(tarball))
  assert str(e.value).startswith('Refusing to extract %r from %s: ' % (
      member, os.path.join(data_dir, TARBALL)))
  assert sorted(os.listdir(tmp_path)) == ['data', 'outside.txt', 'src']
  assert os.listdir(data_dir) == [TARBALL]
  assert _read(str(tmp_path / 'outside.txt')) == b'secret'
  assert not os.path.lexists('/evil')


def test_links_inside_are_allowed(source, data_dir):
  entries = source['entries'] + [
      _special_entry('cifar-10-batches-bin/alias.bin', tarfile.SYMTYPE,
                     'test_batch.bin')]
  tarball = _tar_bytes(entries)
  _put(os.path.join(data_dir, TARBALL), tarball)
  dest = cifar10_download.maybe_download_and_extract(data_dir, 'http://x/' +
                                                  TARBALL, _md5(tarball))
  assert _read(os.path.join(dest, 'alias.bin')) == (
      source['contents']['test_batch.bin'])


@pytest.mark.skipif(not hasattr(tarfile, 'data_filter'),
                    reason='this Python has no tarfile data filter')
def test_data_filter_drops_setuid_bits(source, data_dir):
  entries = list(source['entries'])
  entries[1] = _file_entry(entries[1][0].name, entries[1][1], mode=0o4777)
  tarball = _tar_bytes(entries)
  _put(os.path.join(data_dir, TARBALL), tarball)
  dest = cifar10_download.maybe_download_and_extract(data_dir, 'http://x/' +
                                                  TARBALL, '')
  name = os.path.basename(entries[1][0].name)
  assert os.stat(os.path.join(dest, name)).st_mode & 0o7777 == 0o755


@pytest.mark.parametrize('damage', ['truncated', 'garbled'])
def test_damaged_tarball_leaves_no_half_folder(source, data_dir, damage):
  good = source['tarball']
  if damage == 'truncated':
    bad = good[:len(good) * 2 // 3]
  else:  # One flipped byte in the compressed stream.
    middle = len(good) // 2
    bad = good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1:]
  path = os.path.join(data_dir, TARBALL)
  dest = os.path.join(data_dir, 'cifar-10-batches-bin')
  _put(os.path.join(dest, 'data_batch_1.bin'), b'half')
  _put(path, bad)
  url = testdata.closed_port_url('/' + TARBALL)
  # The md5 matches the damaged file: only extraction can notice.
  with pytest.raises(ValueError, match=re.escape(
      'Cannot extract %s: ' % path) + '.*The file is damaged; delete it'):
    cifar10_download.maybe_download_and_extract(data_dir, url, _md5(bad))
  # The incomplete folder is untouched and nothing else appeared.
  assert sorted(os.listdir(data_dir)) == ['cifar-10-batches-bin', TARBALL]
  assert os.listdir(dest) == ['data_batch_1.bin']


def test_interrupted_extraction_leaves_no_half_folder(source, data_dir,
                                                      monkeypatch):
  tarball = source['tarball']
  _put(os.path.join(data_dir, TARBALL), tarball)
  real_extract, calls = tarfile.TarFile.extract, []

  def extract(self, member, *args, **kwargs):
    calls.append(member.name)
    if len(calls) == 4:
      raise KeyboardInterrupt
    return real_extract(self, member, *args, **kwargs)

  monkeypatch.setattr(tarfile.TarFile, 'extract', extract)
  with pytest.raises(KeyboardInterrupt):
    cifar10_download.maybe_download_and_extract(data_dir, 'http://x/' + TARBALL,
                                             _md5(tarball))
  assert os.listdir(data_dir) == [TARBALL]


def test_tarball_without_the_data_files(data_dir):
  tarball = _tar_bytes([_file_entry('cifar-10-batches-bin/readme.html',
                                    b'<html>')])
  _put(os.path.join(data_dir, TARBALL), tarball)
  with pytest.raises(ValueError, match=re.escape(
      'holds no complete cifar-10-batches-bin folder (missing '
      'data_batch_1.bin, ')):
    cifar10_download.maybe_download_and_extract(data_dir, 'http://x/' + TARBALL,
                                             '')
  assert os.listdir(data_dir) == [TARBALL]


def test_data_dir_that_cannot_be_made(tmp_path):
  _put(str(tmp_path / 'file'), b'')
  data_dir = str(tmp_path / 'file' / 'data')
  with pytest.raises(IOError, match=re.escape(
      'Cannot create the data directory %s (--data_dir): ' % data_dir)):
    cifar10_download.maybe_download_and_extract(data_dir)


def test_url_must_name_a_file(data_dir):
  with pytest.raises(ValueError, match='names no file'):
    cifar10_download.maybe_download_and_extract(data_dir, 'https://host/')
