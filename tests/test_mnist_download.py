"""mnist.input_data downloads, against a server on 127.0.0.1 only."""

import gzip
import hashlib
import os
import struct

import numpy as np
import pytest

import testdata
from conftest import run_program
from mnist import input_data
from mnist import mnist_download

NAMES = testdata.MNIST_FILES


@pytest.fixture
def files(tmp_path):
  """The four synthetic files' bytes, their md5s and arrays."""
  src = tmp_path / 'src'
  data = testdata.make_mnist_dir(str(src), n_train=30, n_test=10)
  blobs = {n: (src / n).read_bytes() for n in NAMES}
  md5s = {n: hashlib.md5(b).hexdigest() for n, b in blobs.items()}
  return blobs, md5s, data


def _listing(folder):
  return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_first_mirror_fails_second_used(tmp_path, files, capsys):
  blobs, md5s, data = files
  routes = {'/b/' + n: b for n, b in blobs.items()}
  routes.update({'/a/' + n: (b'', 'error') for n in NAMES})
  dest = str(tmp_path / 'dest')
  with testdata.serve(routes) as server:
    sets = input_data.read_data_sets(
        dest, validation_size=5, md5s=md5s,
        source_url=[server.url + '/a/', server.url + '/b'])
    assert server.requests == [p + n for n in NAMES for p in ('/a/', '/b/')]
  assert _listing(dest) == sorted(NAMES)  # No temporary files left.
  for n in NAMES:
    assert open(os.path.join(dest, n), 'rb').read() == blobs[n]
  np.testing.assert_array_equal(sets.test.labels, data['test'][1])
  out = capsys.readouterr().out
  assert 'Successfully downloaded train-images-idx3-ubyte.gz' in out


def test_present_files_are_not_fetched(tmp_path, files):
  blobs, md5s, _ = files
  tmp_path = tmp_path / 'data'
  tmp_path.mkdir()
  for n in NAMES:
    (tmp_path / n).write_bytes(blobs[n])
  with testdata.serve({}) as server:
    input_data.read_data_sets(str(tmp_path), validation_size=5,
                              source_url=server.url + '/')
    assert server.requests == []


def test_md5_mismatch_is_an_error_and_leaves_no_file(tmp_path, files):
  blobs, _, _ = files
  dest = str(tmp_path / 'dest')
  with testdata.serve({'/' + n: b for n, b in blobs.items()}) as server:
    # The default md5s are the official files', which these are not.
    with pytest.raises(IOError, match='md5') as e:
      input_data.read_data_sets(dest, source_url=server.url)
  assert 'train-images-idx3-ubyte.gz' in str(e.value)
  assert _listing(dest) == []


def test_truncated_download_leaves_no_partial_file(tmp_path, files):
  blobs, md5s, _ = files
  dest = str(tmp_path / 'dest')
  routes = {'/' + n: (b, 'truncate') for n, b in blobs.items()}
  with testdata.serve(routes) as server:
    with pytest.raises(IOError) as e:
      input_data.read_data_sets(dest, md5s=md5s, source_url=server.url)
  assert 'train-images-idx3-ubyte.gz' in str(e.value)
  assert _listing(dest) == []


def test_offline_names_files_and_flag(tmp_path, files):
  blobs, md5s, _ = files
  dest = str(tmp_path / 'dest')
  os.makedirs(dest)
  (tmp_path / 'dest' / NAMES[3]).write_bytes(blobs[NAMES[3]])
  url = testdata.closed_port_url('/')
  with pytest.raises(IOError) as e:
    input_data.read_data_sets(dest, md5s=md5s, source_url=[url, url])
  message = str(e.value)
  for n in NAMES[:3]:
    assert n in message
  assert NAMES[3] not in message  # It is there.
  assert url in message and dest in message
  assert '--input_data_dir' in message and '--data_dir' in message
  assert _listing(dest) == [NAMES[3]]


def test_offline_program_error_is_one_line(tmp_path):
  url = testdata.closed_port_url('/')
  with pytest.raises(SystemExit) as e:
    input_data.read_data_sets_or_exit('prog', str(tmp_path), source_url=url)
  message = str(e.value.code)
  assert message.startswith('prog: error: Could not download ')
  assert '\n' not in message


def test_corrupt_existing_file_replaced(tmp_path, files, capsys):
  blobs, md5s, data = files
  tmp_path = tmp_path / 'data'
  tmp_path.mkdir()
  for n in NAMES:
    (tmp_path / n).write_bytes(blobs[n])
  # An interrupted download by an older version: half a gzip file.
  broken = blobs[NAMES[0]][:len(blobs[NAMES[0]]) // 2]
  (tmp_path / NAMES[0]).write_bytes(broken)
  with testdata.serve({'/' + NAMES[0]: blobs[NAMES[0]]}) as server:
    sets = input_data.read_data_sets(str(tmp_path), validation_size=5,
                                     dtype=np.uint8, md5s=md5s,
                                     source_url=server.url)
    assert server.requests == ['/' + NAMES[0]]
  assert (tmp_path / NAMES[0]).read_bytes() == blobs[NAMES[0]]
  np.testing.assert_array_equal(sets.train.images[0],
                                data['train'][0][5].reshape(784))
  assert 'fetching a fresh copy' in capsys.readouterr().out


def test_corrupt_file_kept_when_offline(tmp_path, files):
  blobs, md5s, _ = files
  tmp_path = tmp_path / 'data'
  tmp_path.mkdir()
  for n in NAMES:
    (tmp_path / n).write_bytes(blobs[n])
  # An images header on the labels file.
  bad = gzip.compress(struct.pack('>IIII', 2051, 0, 28, 28))
  (tmp_path / NAMES[1]).write_bytes(bad)
  with pytest.raises(IOError) as e:
    input_data.read_data_sets(str(tmp_path), md5s=md5s,
                              source_url=testdata.closed_port_url('/'))
  message = str(e.value)
  assert ('Invalid magic number 2051 in MNIST label file: %s'
          % (tmp_path / NAMES[1])) in message
  assert 'could not be fetched' in message
  assert (tmp_path / NAMES[1]).read_bytes() == bad
  assert _listing(str(tmp_path)) == sorted(NAMES)


def test_unwritable_folder(tmp_path):
  blocker = tmp_path / 'file'
  blocker.write_text('not a folder')
  with pytest.raises(IOError, match='Cannot create the MNIST folder') as e:
    input_data.read_data_sets(str(blocker / 'mnist'))
  assert str(blocker / 'mnist') in str(e.value)


def test_download_module_alone(tmp_path, files):
  # mnist_download itself: the first mirror that answers, verified, atomic.
  blobs, md5s, _ = files
  name = NAMES[1]
  dest = tmp_path / 'out' / name
  with testdata.serve({'/ok/' + name: blobs[name],
                       '/bad/' + name: b'not it'}) as server:
    urls = [server.url + '/bad/' + name, server.url + '/ok/' + name]
    assert mnist_download.download(urls, str(dest), md5s[name]) == str(dest)
    assert mnist_download.file_md5(str(dest)) == md5s[name]
    with pytest.raises(IOError) as e:
      mnist_download.download(urls[:1], str(tmp_path / 'x' / name),
                              md5s[name], hint='A hint.')
  message = str(e.value)
  assert '\n' not in message and message.endswith('A hint.')
  assert ('Could not download %s into %s from %s (corrupt: md5 '
          % (name, tmp_path / 'x', urls[0])) in message
  assert _listing(str(tmp_path / 'x')) == []


def test_mnist_needs_nothing_from_cifar10(tmp_path, files):
  # The MNIST tutorial stands alone: reading and downloading its files
  # imports neither the cifar10 package nor TensorFlow.
  blobs, md5s, _ = files
  code = ('import sys\n'
          'from mnist import input_data\n'
          'input_data.read_data_sets(sys.argv[1], validation_size=5, '
          'md5s=%r, source_url=sys.argv[2])\n'
          'print(sorted(m for m in sys.modules if m.split(".")[0] in '
          '("cifar10", "tensorflow")))' % md5s)
  with testdata.serve({'/' + n: b for n, b in blobs.items()}) as server:
    proc = run_program(['-c', code, str(tmp_path / 'd'), server.url + '/'])
    assert len(server.requests) == 4
  assert proc.stdout.splitlines()[-1] == '[]'
