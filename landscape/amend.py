"""Changing a closed run file, atomically: adding the Hessian estimates computed after training.

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
from typing import Any, Mapping

from landscape.errors import RunFileError
from landscape.runfile import open_for_read, run_status, write_hessian_group


def append_hessian(
    path: str | os.PathLike, step: int, network: str, arrays: Mapping[str, Any], attrs: Mapping[str, Any]
) -> None:
    """Add (or replace) one Hessian estimate of ``network`` at ``step`` in a closed run file, atomically.

    A run whose writer is still alive is refused: its writer would overwrite the
    change or be broken by it.
    """
    import h5py

    path = Path(path)
    with open_for_read(path) as handle:
        status = run_status(handle.attrs)
        pid = int(handle.attrs.get("writer_pid", -1))
    if status == "running":
        raise RunFileError(f"{path} is still being written by process {pid}; wait until the run ends.")
    tmp = path.with_name(path.name + ".tmp")
    shutil.copy2(path, tmp)
    try:
        with h5py.File(tmp, "a") as handle:
            write_hessian_group(handle, step, network, arrays, attrs)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


__all__ = ["append_hessian"]
