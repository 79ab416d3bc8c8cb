"""Sample quality after training: measured at a run's stored checkpoints and written into its file.

``landscape quality RUN.h5`` is a thin face over :func:`measure_checkpoint`: the
generator is rebuilt from the run's config and the weights of one checkpoint,
measured by the run's quality kind (:class:`~analysis.quality.measurement.ImageQuality`,
or a toy's :class:`~analysis.quality.toy_coverage.ToyCoverage`) as during training, and
the values go into ``/quality/<step>`` atomically (:func:`landscape.amend.append_measurement`),
so an interrupted command keeps every step it finished and never damages the file.
"""

from __future__ import annotations

from typing import Any

from analysis.quality.classifiers import QualityReference
from landscape.amend import append_measurement
from landscape.config import ARCHS
from landscape.data.toys import is_toy
from landscape.errors import LandscapeError
from landscape.runfile import QUALITY_INFO


def check_rebuildable(run: Any) -> None:
    """One sentence if the run's generator cannot be rebuilt: not a GAN run of a known architecture, or no weights."""
    arch = run.config.get("arch")
    if arch not in ARCHS or "dataset" not in run.config:
        raise LandscapeError(f"{run.path} was not recorded by a landscape GAN trainer (its config names no known "
                             "architecture), so its generator cannot be rebuilt to measure sample quality.")
    if not run.checkpoint_steps:
        raise LandscapeError(f"{run.path} has no checkpoints, so there is no generator to measure; `landscape record` "
                             "writes them at the stage boundaries, RunWriter.add_checkpoint in a loop of your own.")


def epoch_of_step(run: Any, step: int) -> int:
    """The epoch a checkpoint step ends (0 for step 0), from the run's schedule."""
    ipe = int((run.meta("schedule") or {}).get("iters_per_epoch") or 0)
    return -(-int(step) // ipe) if ipe else 0


def load_generator(run: Any, step: int, device: str = "cpu") -> Any:
    """The run's generator with the weights of its checkpoint at ``step``; one sentence if it cannot be rebuilt."""
    from trainers.models import load_models

    try:
        g, _ = load_models(run, int(step), device)
    except (KeyError, RuntimeError, ValueError) as err:
        raise LandscapeError(f"{run.path}'s generator cannot be rebuilt from its checkpoint at step {step} "
                             f"({type(err).__name__}: {str(err).splitlines()[0][:120]}).") from None
    return g


def quality_kind(run: Any, reference: QualityReference | None, *, n: int | None = None, n_real: int | None = None,
                 seed: int = 0) -> Any:
    """The run's quality measurement: a toy's :class:`ToyCoverage`, else :class:`ImageQuality` against ``reference``."""
    if is_toy(str(run.config.get("dataset"))):
        from analysis.quality.toy_coverage import ToyCoverage

        return ToyCoverage(seed=seed)
    from analysis.quality.measurement import ImageQuality

    if reference is None:
        raise ValueError("an image dataset's quality needs its QualityReference (analysis.quality.get_reference)")
    return ImageQuality(reference, n=n, n_real=n_real, seed=seed)


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
    check_rebuildable(run)
    records = quality_kind(run, reference, n=n, n_real=n_real, seed=seed).measure_checkpoint(run, step, device=device)
    if store:
        append_measurement(run.path, "quality", *records)
    return {name: value for name, value in records[0].attrs.items() if name not in QUALITY_INFO}


__all__ = ["check_rebuildable", "epoch_of_step", "load_generator", "measure_checkpoint", "quality_kind"]
