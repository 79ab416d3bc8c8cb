"""Replacing a file in one rename, so that a process killed at any moment leaves the old file or the new one.

The run-file changes after training (:mod:`landscape.amend`) and the weight files
(:mod:`landscape.weights`) are both written to a temporary file next to the
target, flushed to disk, then renamed over it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path, tmp: Path) -> Iterator[Path]:
    """Yield ``tmp`` to write; when the block succeeds, fsync it and rename it over ``path``. ``tmp`` never stays."""
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


__all__ = ["replacing"]
