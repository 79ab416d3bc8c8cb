"""The run-file format (v1): names, dtypes and the checks that tell a run file apart.

One HDF5 file per training run (docs/run-file.md: every group and attribute). This module is the single
place that knows the layout; the writer and the reader build on it, and nothing
outside the ``landscape`` core touches h5py.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

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
#: Sample-quality measurements: one subgroup per step, its attributes metric -> value, plus the
#: attributes in :data:`QUALITY_INFO` that describe the measurement.
QUALITY = "quality"
#: Attributes of a ``/quality/<step>`` group that are not metrics: generated sample size, epoch, real
#: (reference) sample size, the classifier's cache key, and the seconds the measurement took.
QUALITY_INFO = ("n", "epoch", "n_real", "classifier", "seconds")

#: What a writer records as a run's ``status`` attribute.
STATUSES = ("running", "finished", "diverged", "interrupted")

#: Every status word a reader reports, and what it means. "incomplete" is read, never written: a run
#: whose file still says "running" but whose writer is gone (killed, or its machine lost).
STATUS_MEANINGS: dict[str, str] = {
    "running": "still being written",
    "finished": "ran to its end",
    "interrupted": "stopped before its end (Ctrl-C or an error); every recorded row is kept",
    "diverged": "stopped at a NaN or infinite loss; every recorded row is kept",
    "incomplete": "its writer is gone without closing the file (killed, or on another machine); "
    "every row up to its last flush is kept",
}

#: Fields every run has, ahead of the fields a trainer declares.
BASE_FIELDS: dict[str, np.dtype] = {
    "step": np.dtype("<i8"),
    "epoch": np.dtype("<i4"),
    "time": np.dtype("<f8"),
}

#: The per-iteration fields of the GAN trainers, in file order (docs/run-file.md, "/metrics").
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

#: Rows per HDF5 chunk of /metrics.
CHUNK_ROWS = 4096

#: Root attributes holding a writer's ``set_meta`` values start with this prefix.
META_PREFIX = "meta:"
#: The metadata name of a writer's explicit network mapping (name -> [loss field, gradient-norm field]).
NETWORK_FIELDS_META = "network_fields"


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


T = TypeVar("T")


def read_run_file(path: str | os.PathLike, read: Callable[[Any], T], retries: int = 5) -> T:
    """``read(handle)`` on the run file opened by :func:`open_for_read`, the whole read retried.

    A writer flushing while a reader walks the file can leave the reader's view briefly
    inconsistent (h5py then raises OSError, RuntimeError or KeyError part-way through),
    so a read of a live run is repeated until it sees one consistent state. A file that
    still cannot be read after ``retries`` tries is damaged: one-sentence RunFileError.
    """
    last: Exception | None = None
    for attempt in range(retries):
        try:
            with open_for_read(path) as handle:
                return read(handle)
        except RunFileError:
            raise
        except (OSError, RuntimeError, KeyError) as err:
            last = err
            time.sleep(0.1 * (attempt + 1))
    raise RunFileError(f"{path} could not be read ({_first_line(last)}); the file may be damaged.")


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


def writer_alive(pid: int, host: str | bytes) -> bool:
    """Whether the process that wrote a run is still running (only knowable on the same host)."""
    if isinstance(host, bytes):
        host = host.decode()
    if pid <= 0 or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_status(attrs: Mapping[str, Any], path: str | os.PathLike | None = None) -> str:
    """The one word for a run's state, from its root attributes: a key of :data:`STATUS_MEANINGS`.

    A file that says "running" is "running" only while its writer is alive: with the
    file's ``path``, while its writer's lock is held (:func:`live_writer`); without it,
    while the process the attributes name runs on this host. Otherwise it is "incomplete".
    """
    status = _attr_str(attrs.get("status")) or "incomplete"
    if status == "running":
        if path is not None:
            alive = live_writer(path, attrs) is not None
        else:
            alive = writer_alive(int(attrs.get("writer_pid", -1)), attrs.get("writer_host", ""))
        if not alive:
            return "incomplete"
    return status if status in STATUS_MEANINGS else "incomplete"


# ---------------------------------------------------------------------- one writer per run file
#: The advice ending the sentence for a run file a live writer holds, when one asked to replace it.
REPLACE_ADVICE = "stop it before replacing it, or write to another path"


def live_writer(path: str | os.PathLike, attrs: Mapping[str, Any] | None = None) -> tuple[int | None, str] | None:
    """``(pid, host)`` of the live process writing the run file at ``path``, or None when none is (pid None: unknown).

    The one test of "is a live writer holding this file" that every path replacing or
    changing a run file asks (:func:`claim_run_file`, :func:`check_not_live`). The
    writer's lock (:mod:`landscape.runlock`) decides; a file with no lock file next
    to it (written by a landscape without locks, or its lock file deleted) is live
    while its attributes say "running" and the process they name runs on this host.
    ``attrs`` saves reading them again; a path that is missing or not a run file has
    no live writer unless its lock is held.
    """
    from landscape.runlock import lock_holder

    lock = lock_holder(path)
    if lock is not None:
        return (lock.pid, lock.host) if lock.held else None
    if attrs is None:
        attrs = _root_attrs(path)
        if attrs is None:
            return None
    if _attr_str(attrs.get("status")) != "running":
        return None
    pid, host = int(attrs.get("writer_pid", -1)), _attr_str(attrs.get("writer_host")) or ""
    return (pid, host) if writer_alive(pid, host) else None


def still_being_written(path: str | os.PathLike, writer: tuple[int | None, str], advice: str) -> str:
    """The one sentence for a run file a live writer holds: ``"<path> is still being written by process N; <advice>."``"""
    pid, host = writer
    who = f"process {pid}" if pid is not None else "another process"
    if host and host != socket.gethostname():
        who += f" on {host}"
    return f"{path} is still being written by {who}; {advice}."


def check_not_live(path: str | os.PathLike, advice: str) -> None:
    """A one-sentence RunFileError (:func:`still_being_written`) if a live writer holds the run file at ``path``.

    A check, not a claim: a path about to be replaced takes the lock with
    :func:`claim_run_file` instead, which closes the race between checking and writing.
    """
    writer = live_writer(path)
    if writer is not None:
        raise RunFileError(still_being_written(path, writer, advice))


def claim_run_file(path: str | os.PathLike, advice: str):  # -> landscape.runlock.RunLock
    """Take the writer's lock of the run file at ``path`` (existing or not) for this process; release it when done.

    Refused with the one sentence of :func:`still_being_written` (ending in ``advice``)
    while another live writer holds the file, including a locking-free writer that
    its attributes name. The folder must exist.
    """
    from landscape.runlock import RunLock

    path = Path(path)
    try:
        lock = RunLock.acquire(path)
    except OSError as err:
        raise RunFileError(f"Cannot lock the run file {path} for writing: {err.strerror or err}.") from None
    if not isinstance(lock, RunLock):
        raise RunFileError(still_being_written(path, (lock.pid, lock.host), advice))
    if lock.created and path.exists():  # no lock file was there: a writer that takes none may still hold the file
        attrs = _root_attrs(path)
        if attrs is not None and _attr_str(attrs.get("status")) == "running":
            pid, host = int(attrs.get("writer_pid", -1)), _attr_str(attrs.get("writer_host")) or ""
            if writer_alive(pid, host):
                lock.release()
                raise RunFileError(still_being_written(path, (pid, host), advice))
    return lock


def is_run_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a landscape run file (an HDF5 file with the run-file ``format`` attribute)."""
    attrs = _root_attrs(path)
    return attrs is not None and _attr_str(attrs.get("format")) == FORMAT


def _root_attrs(path: str | os.PathLike) -> dict[str, Any] | None:
    """The root attributes of the HDF5 file at ``path``; None if it is missing, not HDF5 or cannot be opened."""
    import h5py

    path = Path(path)
    try:
        if not path.is_file() or not h5py.is_hdf5(path):
            return None
        with h5py.File(path, "r", locking=False) as handle:
            return dict(handle.attrs.items())
    except (OSError, ValueError):
        return None


def write_measurement_group(handle, kind: str, record: Any) -> None:
    """Write one measurement (a :class:`landscape.measurements.Record`) as ``/<kind>/<step>`` or, with a network,
    ``/<kind>/<step>/<network>``: arrays as datasets, scalars as attributes.

    The one group writer of every measurement kind (``RunWriter.add_measurement`` while
    training, ``landscape.amend.append_measurement`` afterwards). Replaces a group already
    stored there. Values that are not HDF5 scalars are stored as JSON text, ``None`` as ``"null"``.
    """
    key = f"{kind}/{int(record.step)}" + (f"/{record.network}" if record.network is not None else "")
    if key in handle:
        del handle[key]
    group = handle.create_group(key)
    for name, value in record.arrays.items():
        group.create_dataset(name, data=to_numpy(value))
    for name, value in record.attrs.items():
        if isinstance(value, (str, bool, int, float, np.integer, np.floating, np.bool_)):
            group.attrs[name] = value
        elif value is None:
            group.attrs[name] = "null"
        else:
            group.attrs[name] = to_json(value)


#: Root groups that are not measurements: every other root group is a measurement kind's (``/<kind>/<step>``).
CORE_GROUPS = (METRICS, LAYERS, CHECKPOINTS, SAMPLES, PROBE)


def measurement_kinds(handle) -> list[str]:
    """The measurement kinds stored in an open run file: its root groups other than :data:`CORE_GROUPS`."""
    return sorted(name for name in handle.keys() if name not in CORE_GROUPS and hasattr(handle[name], "keys"))


def truncate_run(handle, step: int, epoch: int) -> tuple[int, float]:
    """Cut an open run file back to the moment a resume state was taken: after ``step`` iterations, in ``epoch``.

    Drops the metrics and layer rows of iterations ``step`` and later, the
    checkpoints and measurements (every kind) after ``step``, and the
    sample grids of epochs ``epoch`` and later. Returns the rows dropped and the
    ``time`` of the last row kept (0 without one).
    """
    metrics = handle[METRICS]
    steps = metrics.fields("step")[:]
    keep = int(np.searchsorted(steps, step, side="left"))
    dropped = int(metrics.shape[0] - keep)
    last_time = float(metrics[keep - 1]["time"]) if keep else 0.0
    metrics.resize((keep,))
    for layers in handle.get(LAYERS, {}).values():
        layers.resize((keep, layers.shape[1]))
    kinds = [(kind, step) for kind in measurement_kinds(handle)]
    for group, last in ((CHECKPOINTS, step), *kinds, (SAMPLES, epoch - 1)):
        for key in list(handle.get(group, {})):
            if int(key) > last:
                del handle[group][key]
    return dropped, last_time


def to_numpy(value: Any) -> np.ndarray:
    """A host numpy array of an array-like or tensor on any device (half precisions widened to float32)."""
    if hasattr(value, "detach"):
        import torch

        tensor = value.detach().cpu()
        if tensor.dtype in (torch.bfloat16, torch.float16):
            tensor = tensor.float()
        return tensor.numpy()
    return np.asarray(value)


def _attr_str(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None if value is None else str(value)


def _first_line(err: Exception | None) -> str:
    return str(err).splitlines()[0] if err else "unknown error"
