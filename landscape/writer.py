"""RunWriter: the recorder any training loop calls, in the spirit of SummaryWriter.

A loop creates a writer with the run's config, then calls :meth:`RunWriter.log`
once per iteration. The fields are declared up front (``fields=``), or, as with
TensorBoard's ``SummaryWriter``, not at all: the first ``log()`` call's names
become the run's fields. ``<name>_loss`` with ``<name>_grad_norm`` make a network
called ``<name>`` for the analyses (``networks=`` maps other names explicitly;
see :mod:`landscape.networks`). Rows are buffered (tensors stay on their device until a flush,
so there is no device-to-host synchronisation per call) and appended to the
compound ``/metrics`` dataset in blocks, each block followed by an HDF5 flush: a
writer killed at any moment leaves a file that opens with every row up to the
last flush. Flushes happen every ``flush_rows`` rows or ``flush_seconds`` of wall
time, whichever comes first.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import h5py
import numpy as np

from landscape import __version__
from landscape.errors import DivergedError, RunFileError, RunFileReplacedError
from landscape.runfile import (
    CHECKPOINTS,
    CHUNK_ROWS,
    FORMAT,
    FORMAT_VERSION,
    LAYERS,
    META_PREFIX,
    METRICS,
    NETWORK_FIELDS_META,
    PROBE,
    REPLACE_ADVICE,
    SAMPLES,
    STATUSES,
    claim_run_file,
    metrics_dtype,
    to_json,
    to_numpy,
    truncate_run,
    write_measurement_group,
)


class RunWriter:
    """Write one training run into an HDF5 run file (format v1).

    Use it as a context manager: leaving the block normally closes the run as
    "finished"; an exception closes it as "diverged" (:class:`DivergedError`) or
    "interrupted" (anything else, Ctrl-C included), after every buffered row is
    written, and the exception propagates.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        config: Mapping[str, Any],
        fields: Iterable[str] | Mapping[str, Any] | None = None,
        *,
        networks: Mapping[str, tuple[str, str]] | None = None,
        overwrite: bool = False,
        flush_rows: int = 4096,
        flush_seconds: float = 1.0,
    ) -> None:
        """Create the run file at ``path`` (a one-sentence RunFileError if it exists and ``overwrite`` is off).

        The writer holds the run's lock (:mod:`landscape.runlock`) from before the file
        is created until :meth:`close`: a file another live writer holds is refused, even
        with ``overwrite`` (``"... is still being written by process N; ..."``), and two
        writers started at the same moment never both create it. An overwritten file is
        unlinked first, so the new run is a new file (a reader of the old one keeps it).

        ``fields``: the per-iteration fields (names, float32; or name -> dtype), or
        None to take them from the first :meth:`log`. ``networks``: network name ->
        (loss field, gradient-norm field), for fields that do not follow the
        ``<name>_loss`` / ``<name>_grad_norm`` rule.
        """
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise RunFileError(f"{self.path} already exists; choose another path, or overwrite=True to replace it.")
        if flush_rows < 1:
            raise ValueError("flush_rows must be at least 1")
        self.flush_rows = int(flush_rows)
        self.flush_seconds = float(flush_seconds)

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunFileError(f"Cannot create the run file {self.path}: {err.strerror or err}.") from None
        self._lock = claim_run_file(self.path, REPLACE_ADVICE)
        try:
            if self.path.exists() and not overwrite:  # created by another writer since the check above
                raise RunFileError(f"{self.path} already exists; choose another path, or overwrite=True to replace it.")
            if self.path.exists() or self.path.is_symlink():
                self.path.unlink()  # a new inode: whoever still holds the old file open keeps it whole
            self._file = h5py.File(self.path, "x", locking=False)  # readers never lock either
        except OSError as err:
            self._lock.release()
            raise RunFileError(f"Cannot create the run file {self.path}: {err.strerror or err}.") from None
        except BaseException:
            self._lock.release()
            raise
        self._identity = self._open_file_identity()
        self._closed = False
        self._start = time.monotonic()
        self._last_flush = self._start
        self._write_root_attrs(config)
        if networks:
            self.set_meta(NETWORK_FIELDS_META, {name: list(cols) for name, cols in networks.items()})
        self._dtype: np.dtype | None = None
        self.fields: tuple[str, ...] = ()
        self._buf: dict[str, np.ndarray] = {}
        if fields is not None:
            self._define(fields)
        self._n = 0  # rows in the buffer
        self._rows_written = 0
        self._device_rows: list[tuple[int, tuple[str, ...], Any]] = []
        self._layer_names: dict[str, list[str]] = {}
        self._layer_buf: dict[str, np.ndarray] = {}
        self._layer_device: dict[str, list[tuple[int, Any]]] = {}
        self._file.flush()

    @classmethod
    def reopen(cls, path: str | os.PathLike, step: int, epoch: int, *, flush_rows: int = 4096,
               flush_seconds: float = 1.0) -> tuple["RunWriter", int]:
        """Continue writing the closed or killed run file at ``path`` from iteration ``step`` (a resume state's).

        Rows of iterations ``step`` and later are dropped, as are the checkpoints,
        Hessian estimates and quality measurements after ``step`` and the sample grids
        of epochs ``epoch`` and later: what the continuation will write again.
        Returns the writer and the number of rows dropped. The ``time`` column goes on
        from the last kept row's value.
        """
        self = cls.__new__(cls)
        self.path = Path(path)
        self.flush_rows, self.flush_seconds = int(flush_rows), float(flush_seconds)
        self._lock = claim_run_file(self.path, "stop it before resuming it")
        try:
            self._file = h5py.File(self.path, "r+", locking=False)
        except OSError as err:
            self._lock.release()
            raise RunFileError(f"Cannot open the run file {self.path} to resume it: {err.strerror or err}.") from None
        self._identity = self._open_file_identity()
        self._closed = False
        try:
            dropped, last_time = truncate_run(self._file, step, epoch)
        except BaseException:
            self._file.close()
            self._closed = True
            self._lock.release()
            raise
        self._dtype = self._file[METRICS].dtype
        self.fields = tuple(self._dtype.names)
        self._buf = self._empty_block()
        self._n = 0
        self._rows_written = self._file[METRICS].shape[0]
        self._device_rows = []
        self._layer_names = {name: json.loads(ds.attrs["names"]) for name, ds in self._file.get(LAYERS, {}).items()}
        self._layer_buf = {name: np.full((self.flush_rows, len(names)), np.nan, dtype="<f4")
                           for name, names in self._layer_names.items()}
        self._layer_device = {name: [] for name in self._layer_names}
        self._start = time.monotonic() - last_time
        self._last_flush = time.monotonic()
        attrs = self._file.attrs
        history = json.loads(attrs.get("resumed", "[]"))
        history.append({"step": int(step), "dropped_rows": dropped, "previous_status": _text(attrs.get("status")),
                        "at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        attrs["resumed"] = to_json(history)
        attrs["status"] = "running"
        attrs["writer_pid"] = os.getpid()
        attrs["writer_host"] = socket.gethostname()
        if "closed" in attrs:
            del attrs["closed"]
        self._file.flush()
        return self, dropped

    # ------------------------------------------------------------------ set-up
    def _write_root_attrs(self, config: Mapping[str, Any]) -> None:
        attrs = self._file.attrs
        attrs["format"] = FORMAT
        attrs["format_version"] = FORMAT_VERSION
        attrs["config"] = to_json(dict(config))
        attrs["landscape_version"] = __version__
        torch = sys.modules.get("torch")
        attrs["torch_version"] = str(getattr(torch, "__version__", "")) if torch else ""
        attrs["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        attrs["status"] = "running"
        attrs["writer_pid"] = os.getpid()
        attrs["writer_host"] = socket.gethostname()
        attrs["run_id"] = uuid.uuid4().hex  # ties a resume state to this file, not to another of the same name

    def _define(self, fields: Iterable[str] | Mapping[str, Any]) -> None:
        """Fix the run's fields (base fields first) and create ``/metrics`` for them."""
        if isinstance(fields, Mapping):
            declared = {name: np.dtype(dt) for name, dt in fields.items()}
        else:
            declared = {name: np.dtype("<f4") for name in fields}
        self._dtype = metrics_dtype(declared)
        self.fields = tuple(self._dtype.names)
        fill = np.zeros((), dtype=self._dtype)
        fill["step"] = -1  # rows that were allocated but never written read as step -1
        self._file.create_dataset(
            METRICS, shape=(0,), maxshape=(None,), dtype=self._dtype, chunks=(CHUNK_ROWS,), fillvalue=fill
        )
        self._buf = self._empty_block()

    def _empty_block(self) -> dict[str, np.ndarray]:
        """One column array per field (assigning into plain arrays is ~5x cheaper than into structured rows)."""
        block = {}
        for name in self.fields:
            dt = self._dtype[name]
            block[name] = np.full(self.flush_rows, np.nan, dtype=dt) if dt.kind == "f" else np.zeros(self.flush_rows, dt)
        return block

    def set_meta(self, name: str, value: Any) -> None:
        """Store a JSON-serialisable value as root metadata (read back with ``run.meta(name)``)."""
        self._check_open()
        self._file.attrs[META_PREFIX + name] = to_json(value)

    def declare_layers(self, network: str, names: list[str]) -> None:
        """Declare per-tensor gradient norms for ``network`` (a 2-D /layers/<network> dataset)."""
        self._check_open()
        if self._rows_written or self._n:
            raise RuntimeError("declare_layers must be called before the first log()")
        names = list(names)
        ds = self._file.create_dataset(
            f"{LAYERS}/{network}",
            shape=(0, len(names)),
            maxshape=(None, len(names)),
            dtype="<f4",
            chunks=(max(1, min(CHUNK_ROWS, 2**20 // max(1, 4 * len(names)))), len(names)),
        )
        ds.attrs["names"] = to_json(names)
        self._layer_names[network] = names
        self._layer_buf[network] = np.full((self.flush_rows, len(names)), np.nan, dtype="<f4")
        self._layer_device[network] = []

    # ------------------------------------------------------------------ per iteration
    def log(self, step: int, epoch: int = 0, time: float | None = None, **values: Any) -> None:
        """Record one iteration. Values may be floats or 0-d tensors on any device.

        Tensors on an accelerator are kept there until the next flush, so a call
        never waits for the device. Fields not given are stored as NaN.
        """
        self._check_open()
        if self._dtype is None:  # no fields declared: this call's names are the run's fields
            self._define(list(values))
        i = self._n
        buf = self._buf
        buf["step"][i] = step
        buf["epoch"][i] = epoch
        buf["time"][i] = (_now() - self._start) if time is None else time
        device_names: list[str] = []
        device_values: list[Any] = []
        for name, value in values.items():
            column = buf.get(name)
            if column is None:
                raise KeyError(
                    f"{name!r} is not a declared field of this run (declared: {', '.join(self.fields)}); declare "
                    "every field with RunWriter(..., fields=[...]), or give them all in the first log()"
                )
            if _is_device_tensor(value):
                device_names.append(name)
                device_values.append(value)
            else:
                column[i] = value.item() if hasattr(value, "item") else value  # a CPU .item() never waits
        if device_values:
            self._device_rows.append((i, tuple(device_names), _stack_scalars(device_values)))
        self._n = i + 1
        if self._n >= self.flush_rows or _now() - self._last_flush >= self.flush_seconds:
            self.flush()

    def log_layers(self, network: str, norms: Any) -> None:
        """Record the per-tensor gradient norms of ``network`` for the iteration the next :meth:`log` writes."""
        self._check_open()
        if network not in self._layer_names:
            raise KeyError(f"layers of {network!r} were not declared; call declare_layers first")
        if _is_device_tensor(norms):
            self._layer_device[network].append((self._n, norms.detach().float().reshape(-1)))
        else:
            self._layer_buf[network][self._n] = np.asarray(
                norms.detach().cpu() if hasattr(norms, "detach") else norms, dtype="<f4"
            ).reshape(-1)

    # ------------------------------------------------------------------ blocks
    def flush(self) -> None:
        """Append the buffered rows to the file and flush it to disk."""
        self._check_open()
        n = self._n
        if n and self._dtype is not None:
            self._resolve_device_rows()
            ds = self._file[METRICS]
            start = ds.shape[0]
            ds.resize((start + n,))
            block = np.empty(n, dtype=self._dtype)
            for name, column in self._buf.items():
                block[name] = column[:n]
            ds[start : start + n] = block
            for network, block in self._layer_buf.items():
                lds = self._file[f"{LAYERS}/{network}"]
                lds.resize((start + n, lds.shape[1]))
                lds[start : start + n] = block[:n]
                block[:] = np.nan
            self._rows_written = start + n
            self._buf = self._empty_block()
            self._n = 0
        self._file.flush()
        self._last_flush = _now()
        if not self._path_is_ours():
            raise RunFileReplacedError(f"{self._lost_what()} while this run was writing it; close the writer to save "
                                       f"the run's {_rows(self._rows_written)} elsewhere.")

    def _resolve_device_rows(self) -> None:
        if self._device_rows:
            import torch

            host = torch.stack([values for _, _, values in self._device_rows]).cpu().numpy()
            for (i, names, _), values in zip(self._device_rows, host):
                for name, value in zip(names, values):
                    self._buf[name][i] = value
            self._device_rows = []
        for network, pending in self._layer_device.items():
            if pending:
                import torch

                host = torch.stack([v for _, v in pending]).cpu().numpy()
                for (i, _), values in zip(pending, host):
                    self._layer_buf[network][i] = values
                pending.clear()

    @property
    def run_id(self) -> str | None:
        """The run file's identity (a random hex string written at creation; None in files older than it)."""
        value = self._file.attrs.get("run_id")
        return None if value is None else _text(value)

    @property
    def rows(self) -> int:
        """Iterations recorded so far (written and buffered)."""
        return self._rows_written + self._n

    def pending_values(self, name: str) -> Any:
        """The buffered, not yet flushed values of one field (a host array; syncs with the device)."""
        self._resolve_device_rows()
        return self._buf[name][: self._n].copy()

    # ------------------------------------------------------------------ occasional groups
    def set_probe(self, real: Any, z: Any, labels: Any = None) -> None:
        """Store the fixed batch (real images and z, and for a conditional GAN the real images'
        classes, which the fakes are asked for too) used for curvature estimates."""
        self._check_open()
        group = self._file.require_group(PROBE)
        arrays = {"real": to_numpy(real).astype("<f4", copy=False), "z": to_numpy(z).astype("<f4", copy=False)}
        if labels is not None:
            arrays["labels"] = to_numpy(labels).astype("<i8", copy=False)
        for name in ("real", "z", "labels"):
            if name in group:
                del group[name]
        for name, array in arrays.items():
            group.create_dataset(name, data=array)
        self._file.flush()

    def add_checkpoint(self, step: int, states: Mapping[str, Mapping[str, Any]]) -> None:
        """Store the weights (state dicts, buffers included) of each network at ``step``, without pickle."""
        self._check_open()
        self.flush()
        group = self._file.require_group(f"{CHECKPOINTS}/{int(step)}")
        for network, state in states.items():
            net_group = group.require_group(network)
            names = []
            for name, value in state.items():
                if name in net_group:
                    del net_group[name]
                net_group.create_dataset(name, data=to_numpy(value))
                names.append(name)
            net_group.attrs["names"] = to_json(names)
        self._file.flush()

    def add_samples(self, epoch: int, grid: Any) -> None:
        """Store the generator's output for the fixed z after ``epoch``: an image grid (uint8,
        H x W x C), or for toy data the point set (float32, N x 2 in the plane, N x 1 on the line)."""
        self._check_open()
        array = to_numpy(grid)
        if array.dtype.kind == "f" and array.ndim == 2:
            array = array.astype("<f4", copy=False)
        elif array.dtype != np.uint8:
            raise ValueError("samples are stored as uint8 image grids or as float (N, 2) or (N, 1) point sets")
        group = self._file.require_group(SAMPLES)
        key = str(int(epoch))
        if key in group:
            del group[key]
        group.create_dataset(key, data=array)
        self._file.flush()

    def add_measurement(self, kind: str, *records: Any) -> None:
        """Store measurements of ``kind`` (:class:`landscape.measurements.Record`: ``/<kind>/<step>[/<network>]``).

        The one way every measurement kind reaches a live run file; a record replaces one stored
        at its place. The buffered rows are flushed first, so the file holds the iterations the
        measurement was made after.
        """
        self._check_open()
        self.flush()
        for record in records:
            write_measurement_group(self._file, kind, record)
        self._file.flush()

    def add_quality(self, step: int, values: Mapping[str, float], n: int, epoch: int | None = None,
                    attrs: Mapping[str, Any] | None = None) -> None:
        """Store sample-quality measurements at ``step`` (``add_measurement("quality", quality_record(...))``:
        :func:`landscape.measurements.quality_record` says what the arguments are)."""
        from landscape.measurements import quality_record

        self.add_measurement("quality", quality_record(step, values, n, epoch, attrs))

    def add_hessian(self, step: int, network: str, arrays: Mapping[str, Any], attrs: Mapping[str, Any]) -> None:
        """Store one Hessian estimate of ``network`` at ``step`` (``add_measurement("hessian", Record(...))``)."""
        from landscape.measurements import Record

        self.add_measurement("hessian", Record(step, attrs, arrays, network))

    # ------------------------------------------------------------------ end
    def close(self, status: str = "finished") -> None:
        """Write every buffered row, record the final status, close the file and drop the run's lock. Idempotent.

        If the path no longer names the file this writer holds (another process replaced
        or removed it), the run is not lost silently: the file, closed with ``status``, is
        copied to ``<stem>.orphaned-<pid>.h5`` next to the path, and a one-sentence
        :class:`~landscape.errors.RunFileReplacedError` says so (its ``rescued`` names the
        copy). It is raised once the writer is closed.
        """
        if self._closed:
            return
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        lost: RunFileReplacedError | None = None
        try:
            try:
                self.flush()
            except RunFileReplacedError:
                pass  # every row is in the open file: it is rescued below
        finally:
            try:
                self._file.attrs["status"] = status
                self._file.attrs["closed"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
                self._file.flush()
                if not self._path_is_ours():
                    lost = self._rescue()
            finally:
                self._file.close()
                self._closed = True
                self._lock.release()
        if lost is not None:
            raise lost

    def _open_file_identity(self) -> tuple[int, int]:
        """(device, inode) of the file this writer holds open, to tell whether :attr:`path` still names it."""
        try:
            st = os.fstat(self._file.id.get_vfd_handle())
        except Exception:  # noqa: BLE001 - a driver without a file descriptor: the path, just opened under the lock
            st = os.stat(self.path)
        return st.st_dev, st.st_ino

    def _path_is_ours(self) -> bool:
        """Whether :attr:`path` still names the file this writer writes (not replaced, moved or removed since)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._identity

    def _lost_what(self) -> str:
        """The start of the sentence for a lost path: what became of it."""
        if self.path.exists():
            return f"{self.path} was replaced by another file"
        return f"{self.path} was removed"

    def _rescue(self) -> RunFileReplacedError:
        """Copy the open (now unreachable) file next to its old path; the error that says where the rows went."""
        what, rows = self._lost_what(), self._rows_written
        try:
            fd = self._file.id.get_vfd_handle()
            target = _orphan_path(self.path)
            with open(target, "xb") as out:
                offset, size = 0, os.fstat(fd).st_size
                while offset < size:
                    chunk = os.pread(fd, min(1 << 20, size - offset), offset)
                    if not chunk:
                        break
                    out.write(chunk)
                    offset += len(chunk)
                out.flush()
                os.fsync(out.fileno())
        except Exception as err:  # noqa: BLE001 - the folder is gone, or full: say the rows are lost
            reason = getattr(err, "strerror", None) or str(err) or type(err).__name__
            return RunFileReplacedError(f"{what} while this run was writing it, and its {_rows(rows)} "
                                        f"could not be saved elsewhere ({reason}).")
        unlike = ", so it does not hold this run" if self.path.exists() else ""
        return RunFileReplacedError(f"{what} while this run was writing it{unlike}; {target} holds the run's "
                                    f"{_rows(rows)} instead.", rescued=target)

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.close("finished")
        elif issubclass(exc_type, DivergedError):
            self.close("diverged")
        else:
            self.close("interrupted")
        return False

    def __del__(self) -> None:  # a writer dropped without close() still keeps its rows
        try:
            if not self._closed:
                self.close("interrupted")
        except Exception:
            pass

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the run writer for {self.path} is closed")


def _rows(n: int) -> str:
    return f"{n:,} recorded row{'' if n == 1 else 's'}"


def _orphan_path(path: Path) -> Path:
    """A free name next to ``path`` for a run whose file was replaced: ``<stem>.orphaned-<pid>[-k]<suffix>``."""
    base = f"{path.stem}.orphaned-{os.getpid()}"
    for k in range(1000):
        candidate = path.with_name(f"{base}{'' if k == 0 else f'-{k}'}{path.suffix}")
        if not candidate.exists():
            return candidate
    return path.with_name(f"{base}-{uuid.uuid4().hex[:8]}{path.suffix}")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _now() -> float:
    return time.monotonic()


def _is_device_tensor(value: Any) -> bool:
    """True for a torch tensor that lives on an accelerator (floats and CPU tensors are False)."""
    return getattr(value, "is_cpu", True) is False


def _stack_scalars(values: list[Any]) -> Any:
    """One device tensor holding a row's 0-d values (one kernel, no host sync)."""
    import torch

    with torch.no_grad():  # never keep a loss's autograd graph alive in the buffer
        try:
            return torch.stack(values).float()
        except RuntimeError:  # mixed shapes or dtypes: normalise each first
            return torch.stack([v.detach().reshape(()).float() for v in values])
