"""Changing a closed run file, atomically: adding the measurements (Hessian estimates, sample quality, ...)
computed after training.

A run file is written by one :class:`~landscape.writer.RunWriter` while training;
afterwards, analyses such as ``landscape hessian`` add groups to it. Each change
copies the file, writes and flushes the copy, and replaces the original in one
rename, so a process killed at any moment leaves either the old or the new file,
never a corrupted one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from collections.abc import Callable
from typing import Any, Mapping

from landscape.atomic import replacing
from landscape.runfile import claim_run_file, open_for_read, write_measurement_group


def append_measurement(path: str | os.PathLike, kind: str, *records: Any) -> None:
    """Add (or replace) measurements of ``kind`` (:class:`landscape.measurements.Record`) in a closed run file,
    atomically, all in one change.

    The one way every measurement kind reaches a closed run file. A run whose writer is
    still alive is refused: its writer would overwrite the change or be broken by it.
    """
    _change(path, lambda handle: [write_measurement_group(handle, kind, record) for record in records])


def append_hessian(
    path: str | os.PathLike, step: int, network: str, arrays: Mapping[str, Any], attrs: Mapping[str, Any]
) -> None:
    """Add (or replace) one Hessian estimate of ``network`` at ``step`` in a closed run file, atomically
    (``append_measurement(path, "hessian", Record(...))``)."""
    from landscape.measurements import Record

    append_measurement(path, "hessian", Record(step, attrs, arrays, network))


def append_quality(path: str | os.PathLike, step: int, values: Mapping[str, float], n: int,
                   epoch: int | None = None, attrs: Mapping[str, Any] | None = None) -> None:
    """Add (or replace) the sample-quality measurements at ``step`` in a closed run file, atomically
    (``append_measurement(path, "quality", quality_record(...))``)."""
    from landscape.measurements import quality_record

    append_measurement(path, "quality", quality_record(step, values, n, epoch, attrs))


def _change(path: str | os.PathLike, write: Callable[[Any], None]) -> None:
    """Apply ``write(h5py file)`` to a copy of the closed run file at ``path`` and swap it in with one rename.

    The change holds the run's writer lock (:func:`~landscape.runfile.claim_run_file`) from
    before the copy until after the rename: a live writer refuses it, and no writer can
    start on the file meanwhile (its rows would be lost in the replaced file).
    """
    import h5py

    path = Path(path)
    open_for_read(path).close()  # a missing or wrong file is the first thing to say
    with claim_run_file(path, "wait until the run ends"):
        with replacing(path, path.with_name(path.name + ".tmp")) as tmp:
            shutil.copy2(path, tmp)
            with h5py.File(tmp, "a") as handle:
                write(handle)


__all__ = ["append_hessian", "append_measurement", "append_quality"]
