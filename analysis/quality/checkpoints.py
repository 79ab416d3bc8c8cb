"""Sample quality after training: measured at a run's stored checkpoints and written into its file.

``landscape quality RUN.h5`` is a thin face over :func:`measure_checkpoint`: the
generator is rebuilt from the run's config and the weights of one checkpoint,
measured like during training (:func:`analysis.quality.measure.measure_generator`),
and the values go into ``/quality/<step>`` atomically
(:func:`landscape.amend.append_quality`), so an interrupted command keeps every
step it finished and never damages the file.
"""

from __future__ import annotations

import time
from typing import Any

from analysis.quality.classifiers import QualityReference
from analysis.quality.measure import measure_generator, sample_sizes
from landscape.amend import append_quality
from landscape.config import ARCHS
from landscape.errors import LandscapeError


def check_rebuildable(run: Any) -> None:
    """One sentence if the run's generator cannot be rebuilt: not a GAN run of a known architecture, or no weights."""
    arch = run.config.get("arch")
    if arch not in ARCHS or "dataset" not in run.config:
        raise LandscapeError(f"{run.path} was not recorded by a landscape GAN trainer (its config names no known "
                             "architecture), so its generator cannot be rebuilt to measure sample quality.")
    if not run.checkpoint_steps:
        raise LandscapeError(f"{run.path} has no checkpoints, so there is no generator to measure; record it with "
                             "checkpoints (stages > 0).")


def epoch_of_step(run: Any, step: int) -> int:
    """The epoch a checkpoint step ends (0 for step 0), from the run's schedule."""
    ipe = int((run.meta("schedule") or {}).get("iters_per_epoch") or 0)
    return -(-int(step) // ipe) if ipe else 0


def measure_checkpoint(
    run: Any,
    step: int,
    reference: QualityReference | None,
    *,
    n: int | None = None,
    n_real: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    store: bool = True,
) -> dict[str, float]:
    """Measure the generator of ``run`` at checkpoint ``step`` and (``store``) write the values into its file."""
    from trainers.models import load_models

    check_rebuildable(run)
    start = time.monotonic()
    try:
        g, _ = load_models(run, int(step), device)
    except (KeyError, RuntimeError, ValueError) as err:
        raise LandscapeError(f"{run.path}'s generator cannot be rebuilt from its checkpoint at step {step} "
                             f"({type(err).__name__}: {str(err).splitlines()[0][:120]}).") from None
    values = measure_generator(g, run.config, reference, n=n, n_real=n_real, seed=seed)
    seconds = time.monotonic() - start
    if store:
        n_gen, n_ref = sample_sizes(run.config, reference, n, n_real)
        attrs = {"n_real": n_ref, "classifier": reference.key if reference is not None else None, "seconds": seconds}
        append_quality(run.path, int(step), values, n_gen, epoch_of_step(run, step), attrs)
    return values


__all__ = ["check_rebuildable", "epoch_of_step", "measure_checkpoint"]
