"""Weight files: a trained network's tensors and what it is, in HDF5, without pickle, checked on every read.

The domain classifiers that measure sample quality are trained once and cached
(:mod:`analysis.quality.classifiers`). A cache is a file other programs can
replace, so a weights file holds only arrays and JSON metadata (no pickle, so
loading it can never run code), and its root carries a SHA-256 digest of the
metadata and of every array's name, dtype, shape and bytes. :func:`load_weights`
recomputes it and refuses a file whose digest does not match (damaged or
tampered with) in one sentence. Writes go to a temporary file that replaces the
target in one rename, so a killed writer never leaves half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from landscape.atomic import replacing
from landscape.errors import LandscapeError

#: The ``format`` attribute of a weights file, and its version.
WEIGHTS_FORMAT = "landscape-weights"
WEIGHTS_VERSION = 1
_ARRAYS = "arrays"


class WeightsFileError(LandscapeError):
    """A weights file that cannot be used: missing, not a weights file, or damaged/changed since it was written."""


def cache_dir() -> Path:
    """Where landscape keeps what it trains for itself: ``$LANDSCAPE_CACHE``, else ``$XDG_CACHE_HOME/landscape``,
    else ``~/.cache/landscape``."""
    if os.environ.get("LANDSCAPE_CACHE"):
        return Path(os.environ["LANDSCAPE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "landscape"


def weights_digest(meta_json: str, arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 (hex) of the metadata JSON and of each array's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256(meta_json.encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        h.update(array.tobytes())
    return h.hexdigest()


def save_weights(path: str | os.PathLike, arrays: Mapping[str, Any], meta: Mapping[str, Any]) -> Path:
    """Write ``arrays`` (name -> array or tensor) and JSON-able ``meta`` to ``path`` atomically, with their digest."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = {name: _to_numpy(value) for name, value in arrays.items()}
    meta_json = json.dumps(dict(meta), sort_keys=True)
    with replacing(path, path.with_name(f".{path.name}.{os.getpid()}.tmp")) as tmp, h5py.File(tmp, "w") as handle:
        handle.attrs["format"] = WEIGHTS_FORMAT
        handle.attrs["format_version"] = WEIGHTS_VERSION
        handle.attrs["meta"] = meta_json
        handle.attrs["sha256"] = weights_digest(meta_json, plain)
        group = handle.create_group(_ARRAYS)
        for name, array in plain.items():
            group.create_dataset(name, data=array)
    return path


def load_weights(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and metadata of a weights file, after checking its digest; one sentence if it cannot be used."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path} does not exist.")
    try:
        with h5py.File(path, "r") as handle:
            if handle.attrs.get("format") != WEIGHTS_FORMAT:
                raise WeightsFileError(f"{path} is not a landscape weights file.")
            version = int(handle.attrs.get("format_version", -1))
            if version > WEIGHTS_VERSION:
                raise WeightsFileError(f"{path} is a weights file of format version {version}, newer than this "
                                       f"landscape reads ({WEIGHTS_VERSION}); upgrade landscape.")
            meta_json = str(handle.attrs.get("meta", ""))
            stored = str(handle.attrs.get("sha256", ""))
            arrays: dict[str, np.ndarray] = {}  # names with "/" are nested groups in the file

            def collect(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset):
                    arrays[name] = obj[()]

            handle[_ARRAYS].visititems(collect)
    except WeightsFileError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError):
        raise WeightsFileError(f"{path} is damaged: it cannot be read as a landscape weights file; delete it.") from None
    if weights_digest(meta_json, arrays) != stored:
        raise WeightsFileError(f"{path} was changed or damaged after it was written (its SHA-256 digest does not "
                               "match its contents), so it is not used; delete it.")
    return arrays, json.loads(meta_json)


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


__all__ = ["WEIGHTS_FORMAT", "WEIGHTS_VERSION", "WeightsFileError", "cache_dir", "load_weights", "save_weights",
           "weights_digest"]
