"""Reader for the IDX files of MNIST and Fashion-MNIST, gzipped or raw.

An IDX file is a 4-byte magic (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values in row-major
order. Both datasets use unsigned bytes (type 0x08): images are (N, H, W), labels
(N,). The values are read straight into a preallocated numpy array (no Python
loop, no intermediate copy), and the stream is read to its end so gzip's CRC and
any trailing garbage are checked too.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

from landscape.errors import DataError

UBYTE = 0x08
_MAX_DIM = 1 << 28  # far above any real IDX dimension; guards against absurd allocations


def idx_path(folder: Path, name: str) -> Path | None:
    """The file for IDX ``name`` in ``folder``: raw if present (faster), else ``.gz``, else None."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_exact(stream: IO[bytes], out: memoryview) -> int:
    filled = 0
    while filled < len(out):
        n = stream.readinto(out[filled:])  # type: ignore[attr-defined]
        if not n:
            break
        filled += n
    return filled


def read_idx(path: Path, *, ndim: int, hint: str, hasher: Any | None = None) -> np.ndarray:
    """Read an unsigned-byte IDX file with ``ndim`` dimensions into a uint8 array.

    Every malformed input (bad gzip, wrong magic, a size that disagrees with the
    header) raises DataError with one sentence naming ``path``; ``hint`` says what
    to do about it. ``hasher`` (a hashlib object), if given, is fed the whole
    uncompressed content, so checking a checksum costs no second read.
    """
    gz = path.suffix == ".gz"
    try:
        stream: IO[bytes] = gzip.open(path, "rb") if gz else open(path, "rb")  # type: ignore[assignment]
    except OSError as err:
        raise DataError(f"cannot open {path} ({err.strerror or err}); {hint}.") from err
    try:
        with stream:
            return _read_idx_stream(stream, path, ndim=ndim, hint=hint, hasher=hasher)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise DataError(f"{path} is a truncated or corrupt gzip file ({err}); {hint}.") from err
    except OSError as err:
        raise DataError(f"cannot read {path} ({err.strerror or err}); {hint}.") from err


def _read_idx_stream(stream: IO[bytes], path: Path, *, ndim: int, hint: str, hasher: Any | None) -> np.ndarray:
    magic = stream.read(4)
    expected = bytes((0, 0, UBYTE, ndim))
    if magic != expected:
        kind = "image" if ndim == 3 else "label" if ndim == 1 else f"{ndim}-d"
        raise DataError(
            f"{path} is not an IDX {kind} file (magic bytes {magic.hex() or 'missing'}, expected {expected.hex()}); {hint}."
        )
    header = stream.read(4 * ndim)
    if len(header) != 4 * ndim:
        raise DataError(f"{path} ends inside its IDX header; {hint}.")
    dims = tuple(int(d) for d in np.frombuffer(header, dtype=">u4"))
    if any(d > _MAX_DIM for d in dims):
        raise DataError(f"{path} declares impossible dimensions {dims} in its IDX header; {hint}.")
    size = int(np.prod(dims, dtype=np.int64))
    data = np.empty(dims, dtype=np.uint8)
    got = _read_exact(stream, memoryview(data).cast("B")) if size else 0
    shape = "x".join(map(str, dims))
    if got != size:
        raise DataError(f"{path} is truncated: its header declares {shape} values ({size} bytes) but only {got} follow; {hint}.")
    if stream.read(1):
        raise DataError(f"{path} holds more data than its header declares ({shape}, {size} bytes); {hint}.")
    if hasher is not None:
        hasher.update(magic)
        hasher.update(header)
        hasher.update(memoryview(data).cast("B"))
    return data
