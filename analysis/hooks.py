"""The measurements a run makes while it trains, as the hooks ``trainers.record`` takes.

``trainers`` never imports ``analysis``; whoever starts a run passes these in. A
sweep passes :func:`training_hooks` itself (by reference), so that every worker
builds the same hooks for its run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from landscape.config import TrainConfig
from landscape.data.toys import is_toy


def training_hooks(config: TrainConfig) -> dict[str, Callable[[Any], None]]:
    """``on_hessian_step`` (Hessian estimates at the run's Hessian steps) and, for an image dataset whose
    ``quality_every`` is not 0, ``on_quality_step`` (sample quality against the dataset's cached
    classifier, trained on first use): keyword arguments for ``trainers.record``."""
    from analysis.hessian import curvature_hook

    hooks: dict[str, Callable[[Any], None]] = {"on_hessian_step": curvature_hook()}
    if not is_toy(config.dataset) and config.quality_every != 0:
        from analysis.quality.classifiers import get_reference
        from analysis.quality.hook import quality_hook

        hooks["on_quality_step"] = quality_hook(get_reference(config.dataset, data_dir=config.data_dir))
    return hooks


__all__ = ["training_hooks"]
