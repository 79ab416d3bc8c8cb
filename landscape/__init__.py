"""landscape: record GAN training iteration by iteration and analyse its loss landscape.

The core package holds the run-file format (writer and reader), the datasets and
the CLI. Heavy imports (torch, h5py, pandas) happen only when a name is used, so
``import landscape`` and ``landscape --help`` stay instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["open_run", "open_runs", "open_sweep", "is_complete", "RunWriter", "Run", "RunCollection", "LandscapeError",
           "__version__"]

_LAZY = {
    "open_run": "landscape.reader",
    "open_runs": "landscape.reader",
    "open_sweep": "landscape.sweeps.index",
    "is_complete": "landscape.reader",
    "Run": "landscape.reader",
    "RunCollection": "landscape.reader",
    "RunWriter": "landscape.writer",
    "LandscapeError": "landscape.errors",
}

if TYPE_CHECKING:  # pragma: no cover
    from landscape.errors import LandscapeError
    from landscape.reader import Run, RunCollection, is_complete, open_run, open_runs
    from landscape.sweeps.index import open_sweep
    from landscape.writer import RunWriter


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'landscape' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
