"""IDX, the binary format of the MNIST distribution (LeCun et al. 1998, yann.lecun.com/exdb/mnist).
Header: two zero bytes, a type code, the number of dimensions, then one big-endian uint32 per dimension."""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from shinsou.errors import DataError

# type code -> big-endian numpy dtype, as the format's table defines them
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),  # unsigned byte
    0x09: np.dtype(">i1"),  # signed byte
    0x0B: np.dtype(">i2"),  # short
    0x0C: np.dtype(">i4"),  # int
    0x0D: np.dtype(">f4"),  # float
    0x0E: np.dtype(">f8"),  # double
}
DTYPE_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions: count, rows, columns
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension: count
MAGIC_NAMES = {IMAGES_MAGIC: "an image file", LABELS_MAGIC: "a label file"}
WANTED = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}


def describe_magic(magic: int) -> str:
    """What a file with this magic number looks like, for error messages."""
    if magic in MAGIC_NAMES:
        return MAGIC_NAMES[magic]
    code, ndim = magic >> 8 & 0xFF, magic & 0xFF
    if magic >> 16 or code not in IDX_DTYPES:
        return "not an IDX file"
    return f"an IDX file of {IDX_DTYPES[code].name} with {ndim} dimensions"


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _open_checked(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected an IDX file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    return path


def _gzip_payload_size(path: Path) -> int:
    """Uncompressed size from the gzip trailer (ISIZE, the size modulo 2**32), read without inflating."""
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return struct.unpack("<I", f.read(4))[0]


def _parse_header(path: Path, head: bytes, payload_size: int, size_is_modular: bool):
    if len(head) < 4:
        raise DataError(f"{path}: truncated IDX header ({len(head)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", head[:4])
    if zero != 0 or code not in IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (first bytes {head[:4].hex()}, expected 0000 + type code + dimensions)")
    header_size = 4 + 4 * ndim
    if len(head) < header_size:
        raise DataError(f"{path}: truncated IDX header ({len(head)} of {header_size} bytes)")
    shape = struct.unpack(f">{ndim}I", head[4:header_size])
    dtype = IDX_DTYPES[code]
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual_matches = (expected % 2**32 == payload_size) if size_is_modular else (expected == payload_size)
    if not actual_matches:
        what = "truncated data" if (not size_is_modular and payload_size < expected) else "header counts do not match the data"
        raise DataError(
            f"{path}: {what}: header says {'x'.join(map(str, shape))} of {dtype.name} "
            f"({expected} bytes with the header), the file holds {payload_size} bytes"
        )
    return code, shape, dtype, header_size


def read_idx(path: str | os.PathLike, expect_magic: int | None = None) -> np.ndarray:
    """Read any IDX file, plain (memory-mapped, read-only) or gzip-compressed.

    The header's counts are checked against the file's size before anything is allocated; a
    gzip file's size comes from its trailer. `expect_magic` (e.g. IMAGES_MAGIC) names what the
    caller needs and turns a wrong file into an error that says what the file looks like.
    """
    path = _open_checked(path)
    gz = is_gzip(path)
    try:
        if gz:
            payload_size = _gzip_payload_size(path)
            with gzip.open(path, "rb") as f:
                head = f.read(4 + 4 * 255)
        else:
            payload_size = path.stat().st_size
            with open(path, "rb") as f:
                head = f.read(4 + 4 * 255)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt gzip data ({e})") from None
    if expect_magic is not None and len(head) >= 4:
        magic = struct.unpack(">I", head[:4])[0]
        if magic != expect_magic:
            raise DataError(
                f"{path}: IDX magic 0x{expect_magic:08x} expected for {WANTED[expect_magic]}, "
                f"got 0x{magic:08x} (this looks like {describe_magic(magic)})"
            )
    code, shape, dtype, header_size = _parse_header(path, head, payload_size, size_is_modular=gz)
    if not gz:
        return np.memmap(path, dtype=dtype, mode="r", offset=header_size, shape=tuple(shape))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    out = np.empty(expected, dtype=np.uint8)
    try:
        with gzip.open(path, "rb") as f:
            f.seek(header_size)
            got = f.readinto(memoryview(out))
            extra = f.read(1)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt gzip data ({e})") from None
    if got != expected or extra:
        raise DataError(f"{path}: truncated data: header promises {expected} data bytes, found {got}{'+' if extra else ''}")
    return out.view(dtype).reshape(shape)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write `array` as IDX (gzip when the name ends in .gz); `read_idx` gives it back exactly."""
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in DTYPE_CODES:
        raise DataError(f"{path}: IDX cannot store {array.dtype} (types: uint8, int8, int16, int32, float32, float64)")
    code = DTYPE_CODES[native]
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    body = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    tmp = path.with_name(path.name + ".tmp")
    opener = (lambda p: gzip.GzipFile(p, "wb", mtime=0)) if path.suffix == ".gz" else (lambda p: open(p, "wb"))
    with opener(tmp) as f:
        f.write(header)
        f.write(body)
    os.replace(tmp, path)
    return path


def read_idx_images(path) -> np.ndarray:
    """(N, rows, cols) uint8 images from an MNIST image file (magic 2051)."""
    return read_idx(path, expect_magic=IMAGES_MAGIC)


def read_idx_labels(path) -> np.ndarray:
    """(N,) uint8 labels from an MNIST label file (magic 2049)."""
    return read_idx(path, expect_magic=LABELS_MAGIC)
