"""Readers for CIFAR-10's two official layouts: binary batches and python pickles.

Binary (``cifar-10-batches-bin/*.bin``): records of 1 label byte + 3,072 pixel bytes
(the red plane, then green, then blue, each 32x32 row-major). All files are read
straight into one preallocated array.

Python (``cifar-10-batches-py/data_batch_*``): pickled dicts
``{b"batch_label": bytes, b"labels": [int], b"data": uint8 ndarray (N, 3072),
b"filenames": [bytes]}``. Unpickling can run arbitrary code, so these files go
through :class:`RestrictedUnpickler`, which can build nothing but numpy arrays of
plain (non-object) dtypes; the result must then be exactly such a dict of bytes/str
keys, bytes/str/int values, lists of those, and arrays. Anything else is refused.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np

from landscape.errors import DataError

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    from numpy.core.numeric import _frombuffer  # type: ignore[no-redef]

PIXELS = 3 * 32 * 32
RECORD = 1 + PIXELS
NUM_CLASSES = 10

HasherFor = Callable[[Path], Any]


def _no_hasher(path: Path) -> None:
    return None


def _check_labels(labels: np.ndarray, path: Path, hint: str) -> None:
    if labels.size and int(labels.max()) >= NUM_CLASSES:
        raise DataError(f"{path} holds label {int(labels.max())}, outside CIFAR-10's 0-9; {hint}.")


def read_cifar_binary(paths: list[Path], *, hint: str, hasher_for: HasherFor = _no_hasher) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 from binary CIFAR-10 batch files."""
    counts = []
    for path in paths:
        size = path.stat().st_size
        if size == 0 or size % RECORD:
            raise DataError(
                f"{path} is {size} bytes, not a whole number of {RECORD}-byte CIFAR-10 records "
                f"(1 label byte + {PIXELS} pixel bytes); {hint}."
            )
        counts.append(size // RECORD)
    records = np.empty((sum(counts), RECORD), dtype=np.uint8)
    start = 0
    for path, count in zip(paths, counts):
        block = records[start : start + count]
        try:
            with open(path, "rb") as stream:
                got = stream.readinto(memoryview(block).cast("B"))
                extra = stream.read(1)
        except OSError as err:
            raise DataError(f"cannot read {path} ({err.strerror or err}); {hint}.") from err
        if got != count * RECORD or extra:
            raise DataError(f"{path} changed size while it was read; {hint}.")
        hasher = hasher_for(path)
        if hasher is not None:
            hasher.update(memoryview(block).cast("B"))
        _check_labels(block[:, 0], path, hint)
        start += count
    labels = records[:, 0].astype(np.int64)
    images = np.ascontiguousarray(records[:, 1:]).reshape(-1, 3, 32, 32)
    return images, labels


class _Refused(pickle.UnpicklingError):
    pass


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(str, "latin1")
    if not isinstance(text, str) or encoding != "latin1":
        raise _Refused("a call to _codecs.encode other than latin-1 bytes")
    return text.encode("latin1")


def _plain_dtype(*args: Any) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise _Refused("an object-dtype array")
    return dtype


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can only rebuild numpy arrays of plain dtypes (and bytes), nothing else.

    The allowed names are what numpy arrays pickle to (Python 2's official files,
    Python 3 protocols 2-5): array reconstruction from raw bytes, and dtypes, refused
    when they hold Python objects. Every other global is refused.
    """

    _ALLOWED: dict[tuple[str, str], Any] = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy.core.numeric", "_frombuffer"): _frombuffer,
        ("numpy._core.numeric", "_frombuffer"): _frombuffer,
        ("numpy", "ndarray"): np.ndarray,
        ("_codecs", "encode"): _latin1_bytes,
        ("numpy", "dtype"): _plain_dtype,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"a reference to {module}.{name}") from None


_SCALARS = (bytes, str, int)


def _plain(value: Any) -> bool:
    if isinstance(value, _SCALARS) and not isinstance(value, bool):
        return True
    if isinstance(value, list):
        return all(isinstance(item, _SCALARS) and not isinstance(item, bool) for item in value)
    return isinstance(value, np.ndarray) and not value.dtype.hasobject


def _key(key: Any) -> str:
    return key.decode("latin1") if isinstance(key, bytes) else key


def load_cifar_pickle(path: Path, *, hint: str, hasher: Any | None = None) -> dict[str, Any]:
    """Unpickle one python-layout batch through :class:`RestrictedUnpickler` and check its content."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {path} ({err.strerror or err}); {hint}.") from err
    if hasher is not None:
        hasher.update(raw)
    what = "a CIFAR-10 batch dict of bytes, ints, lists and uint8 arrays"
    try:
        obj = RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except _Refused as err:
        raise DataError(f"refused to unpickle {path}: it holds {err} where only {what} belongs; {hint}.") from err
    except Exception as err:  # a malformed pickle raises many kinds; none may reach the user as a traceback
        raise DataError(f"{path} is not a readable CIFAR-10 pickle ({type(err).__name__}: {err}); {hint}.") from err
    if not isinstance(obj, dict) or not all(isinstance(k, (bytes, str)) for k in obj):
        raise DataError(f"refused {path}: it holds a {type(obj).__name__} where {what} belongs; {hint}.")
    entry = {_key(k): v for k, v in obj.items()}
    odd = sorted(k for k, v in entry.items() if not _plain(v))
    if odd:
        raise DataError(f"refused {path}: its entry {odd[0]!r} is not {what}; {hint}.")
    return entry


def read_cifar_python(paths: list[Path], *, hint: str, hasher_for: HasherFor = _no_hasher) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 from python-layout CIFAR-10 batches."""
    images, labels = [], []
    for path in paths:
        entry = load_cifar_pickle(path, hint=hint, hasher=hasher_for(path))
        data, batch_labels = entry.get("data"), entry.get("labels")
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
            got = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
            raise DataError(f"{path} has no uint8 'data' array of shape (N, {PIXELS}) (found {got}); {hint}.")
        if not isinstance(batch_labels, list) or len(batch_labels) != len(data):
            count = len(batch_labels) if isinstance(batch_labels, list) else "no"
            raise DataError(f"{path} has {count} 'labels' for {len(data)} images; {hint}.")
        try:
            array = np.asarray(batch_labels, dtype=np.int64)
        except (TypeError, ValueError) as err:
            raise DataError(f"{path} has labels that are not integers; {hint}.") from err
        if array.size and int(array.min()) < 0:
            raise DataError(f"{path} holds label {int(array.min())}, outside CIFAR-10's 0-9; {hint}.")
        _check_labels(array, path, hint)
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(array)
    return np.concatenate(images), np.concatenate(labels)
