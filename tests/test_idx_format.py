"""IDX reader and writer: exact round trips for every type code, memory mapping, and one clear
error line for each kind of bad file."""

import gzip
import struct

import numpy as np
import pytest

from shinsou.errors import DataError
from shinsou.formats.idx import read_idx, read_idx_images, read_idx_labels, write_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_type(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    path = write_idx(tmp_path / f"a.idx{suffix}", array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype).newbyteorder(">") or back.dtype == dtype
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("shape", [(7,), (2, 3), (2, 3, 4, 5), (1, 1, 1, 1, 2)])
def test_any_number_of_dimensions(tmp_path, shape):
    array = np.arange(np.prod(shape), dtype=np.int32).reshape(shape)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "x.idx", array)), array)


def test_header_bytes_are_the_mnist_layout(tmp_path):
    images = np.zeros((2, 28, 28), np.uint8)
    path = write_idx(tmp_path / "train-images-idx3-ubyte", images)
    assert struct.unpack(">IIII", path.read_bytes()[:16]) == (2051, 2, 28, 28)
    labels = write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([3, 1], np.uint8))
    assert struct.unpack(">II", labels.read_bytes()[:8]) == (2049, 2)


def test_plain_files_are_memory_mapped(tmp_path):
    path = write_idx(tmp_path / "big", np.ones((100, 28, 28), np.uint8))
    assert isinstance(read_idx_images(path), np.memmap)


def test_gzip_and_plain_give_the_same(tmp_path):
    array = np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(read_idx_images(write_idx(tmp_path / "a.gz", array)),
                                  read_idx_images(write_idx(tmp_path / "a", array)))


def _bytes(tmp_path, name, data: bytes, gz=False):
    path = tmp_path / name
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def test_wrong_magic_says_what_the_file_looks_like(tmp_path):
    path = write_idx(tmp_path / "labels", np.array([1, 2, 3], np.uint8))
    with pytest.raises(DataError) as e:
        read_idx_images(path)
    assert str(e.value) == f"{path}: IDX magic 0x00000803 expected for images, got 0x00000801 (this looks like a label file)"
    images = write_idx(tmp_path / "images", np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(DataError, match="expected for labels, got 0x00000803 \\(this looks like an image file\\)"):
        read_idx_labels(images)


def test_not_an_idx_file(tmp_path):
    path = _bytes(tmp_path, "photo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(DataError, match="this looks like not an IDX file"):
        read_idx_images(path)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data(tmp_path, gz):
    data = struct.pack(">IIII", 2051, 10, 28, 28) + b"\0" * (28 * 28 * 9)
    path = _bytes(tmp_path, "t.gz" if gz else "t", data, gz)
    with pytest.raises(DataError, match="header says 10x28x28 of uint8"):
        read_idx_images(path)


def test_header_count_larger_than_the_bytes_is_refused_before_allocation(tmp_path, monkeypatch):
    data = struct.pack(">IIII", 2051, 4_000_000_000, 28, 28) + b"\0" * 100
    path = _bytes(tmp_path, "huge.gz", data, gz=True)
    monkeypatch.setattr(np, "empty", lambda *a, **k: pytest.fail("allocated on the word of the header"))
    with pytest.raises(DataError, match="header counts do not match the data"):
        read_idx_images(path)


def test_extra_bytes_after_the_data(tmp_path):
    path = _bytes(tmp_path, "extra", struct.pack(">II", 2049, 2) + b"\x01\x02\x03")
    with pytest.raises(DataError, match="header counts do not match the data: header says 2 of uint8 \\(10 bytes"):
        read_idx_labels(path)


def test_empty_missing_and_corrupt_files(tmp_path):
    empty = _bytes(tmp_path, "empty", b"")
    with pytest.raises(DataError, match=f"^{empty}: empty file$"):
        read_idx(empty)
    with pytest.raises(DataError, match="no such file$"):
        read_idx(tmp_path / "missing.gz")
    good = gzip.compress(struct.pack(">II", 2049, 3) + b"\x01\x02\x03", mtime=0)
    corrupt = _bytes(tmp_path, "corrupt.gz", good[:12] + b"\xff" * 10 + good[22:])
    with pytest.raises(DataError, match="corrupt gzip data"):
        read_idx_labels(corrupt)
