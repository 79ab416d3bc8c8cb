"""Instrumented GAN trainers: the paper's models and a training loop that records every iteration.

``trainers.record(config, path)`` trains one run into a run file (see
:mod:`trainers.recording`). Writes run files through ``landscape.writer`` only
(never h5py), and never imports ``analysis``: the measurements made during training
(Hessian estimates, sample quality; :class:`landscape.measurements.Measurement`) are
passed in by the caller (``record(config, path, measurements=[...])``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["RunSummary", "record"]

if TYPE_CHECKING:  # pragma: no cover
    from trainers.recording import RunSummary, record


def __getattr__(name: str) -> Any:  # torch is imported only when a name is used
    if name in __all__:
        from trainers import recording

        return getattr(recording, name)
    raise AttributeError(f"module 'trainers' has no attribute {name!r}")
