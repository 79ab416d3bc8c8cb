"""The run-file format (v1): names, dtypes and the checks that tell a run file apart.

One HDF5 file per training run (DESIGN.md section 2). This module is the single
place that knows the layout; the writer and the reader build on it, and nothing
outside the ``landscape`` core touches h5py.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from landscape.errors import RunFileError

FORMAT = "landscape-run"
FORMAT_VERSION = 1

METRICS = "metrics"
LAYERS = "layers"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
HESSIAN = "hessian"
PROBE = "probe"

STATUSES = ("running", "finished", "diverged", "interrupted")

#: Fields every run has, ahead of the fields a trainer declares.
BASE_FIELDS: dict[str, np.dtype] = {
    "step": np.dtype("<i8"),
    "epoch": np.dtype("<i4"),
    "time": np.dtype("<f8"),
}

#: The per-iteration fields of the GAN trainers, in file order (DESIGN.md section 2).
GAN_FIELDS: tuple[str, ...] = (
    "g_loss",
    "g_grad_norm",
    "d_loss",
    "d_loss_real",
    "d_loss_fake",
    "d_grad_norm",
    "d_grad_norm_real",
    "d_grad_norm_fake",
    "d_out_real",
    "d_out_fake",
)

#: Which metric columns make up each network's (loss, grad_norm) pair in the tidy frame.
NETWORK_COLUMNS: dict[str, tuple[str, str]] = {
    "g": ("g_loss", "g_grad_norm"),
    "d": ("d_loss", "d_grad_norm"),
    "d_real": ("d_loss_real", "d_grad_norm_real"),
    "d_fake": ("d_loss_fake", "d_grad_norm_fake"),
}

#: Rows per HDF5 chunk of /metrics.
CHUNK_ROWS = 4096


def metrics_dtype(fields: dict[str, np.dtype]) -> np.dtype:
    """The compound dtype of /metrics: the base fields, then the declared ones."""
    return np.dtype([(name, dt) for name, dt in {**BASE_FIELDS, **fields}.items()])


def to_json(value: Any) -> str:
    """Serialise a config or metadata value; tuples become lists, paths strings."""
    return json.dumps(value, default=_json_default, sort_keys=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a run file's JSON attributes")


def open_for_read(path: str | os.PathLike, retries: int = 5):  # -> h5py.File
    """Open a run file read-only without locking, after checking it really is one.

    A reader must never block or break a writer that has the file open, so HDF5
    file locking is off. A writer in the middle of a flush can leave metadata that
    is briefly inconsistent; such opens are retried a few times.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise RunFileError(f"No such run file: {path}.")
    if path.is_dir():
        raise RunFileError(f"{path} is a folder, not a run file; give the path of a .h5 run file.")
    if not h5py.is_hdf5(path):
        raise RunFileError(f"{path} is not an HDF5 file, so it cannot be a landscape run file.")
    last: Exception | None = None
    for attempt in range(retries):
        try:
            handle = h5py.File(path, "r", locking=False)
            break
        except OSError as err:  # writer mid-flush, or a truncated file
            last = err
            time.sleep(0.1 * (attempt + 1))
    else:
        raise RunFileError(f"{path} is an HDF5 file that could not be opened ({_first_line(last)}).")
    try:
        check_format(handle, path)
    except BaseException:
        handle.close()
        raise
    return handle


def check_format(handle, path: Path) -> None:
    """Raise a one-sentence RunFileError unless ``handle`` is a run file this version reads."""
    fmt = _attr_str(handle.attrs.get("format"))
    if fmt != FORMAT:
        raise RunFileError(f"{path} is an HDF5 file but not a landscape run file (no format='{FORMAT}' attribute).")
    version = int(handle.attrs.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise RunFileError(
            f"{path} uses run-file format version {version}, but this landscape reads up to version "
            f"{FORMAT_VERSION}; upgrade landscape to read it."
        )
    if version < 1:
        raise RunFileError(f"{path} has an invalid run-file format version ({version}).")


def _attr_str(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None if value is None else str(value)


def _first_line(err: Exception | None) -> str:
    return str(err).splitlines()[0] if err else "unknown error"
