"""When things happen in a run: iterations, checkpoints, sample grids, Hessian estimates and quality measurements.

Everything is derived from the run's config and the dataset size, once, before
training starts. The stage boundaries come from :mod:`landscape.stages` (the same
boundaries the plots and reports colour), and the meaning of ``hessian_every`` is
settled here, by :func:`resolve_hessian_every`, and stored in the run's config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from landscape.config import TrainConfig
from landscape.data.toys import is_toy
from landscape.stages import stage_starts
from trainers.samples import default_sample_epochs

#: Why a run makes no Hessian estimates although its config asked for the default.
DCGAN_ON_CPU_NOTE = (
    "no Hessian estimates during a DCGAN run on a CPU (tens of minutes each); set hessian_every to ask "
    "for them, or estimate them after training."
)


def resolve_hessian_every(config: TrainConfig, device_type: str, can_estimate: bool) -> tuple[int | None, str | None]:
    """The ``hessian_every`` a run actually uses, and a note saying why it differs from the config, if it does.

    ``None`` (the default) means "at the stage boundaries", except for DCGAN on a
    CPU, where one estimate takes tens of minutes and the default becomes ``0``
    (none). A run whose trainer has no curvature hook makes no estimates: ``0``.
    An explicit value is kept.
    """
    every = config.hessian_every
    if every is None and config.arch == "dcgan" and device_type == "cpu":
        return 0, DCGAN_ON_CPU_NOTE
    if not can_estimate and every != 0:
        return 0, "no Hessian estimates during training: no curvature hook was given."
    return every, None


def resolve_quality_every(config: TrainConfig, can_measure: bool) -> tuple[int | None, str | None]:
    """The ``quality_every`` a run actually uses, and a note saying why it differs from the config, if it does.

    A 2-D toy's exact measure needs nothing: the config's value is kept. An image run
    measures through a quality hook (``analysis.quality.quality_hook``); without one
    it makes no measurements (``0``), and says so when it was asked for some.
    """
    every = config.quality_every
    if is_toy(config.dataset) or can_measure or every == 0:
        return every, None
    note = None if every is None else "no sample-quality measurements during training: no quality hook was given."
    return 0, note


@dataclass
class Schedule:
    """When things happen in a run, all derived from the config and the dataset size."""

    iters_per_epoch: int
    total_iters: int  # planned iterations (epochs x iters_per_epoch, or max_iters if fewer)
    epochs: int  # epochs actually reached (the last one may be partial)
    checkpoint_steps: list[int] = field(default_factory=list)  # weights after this many iterations
    sample_epochs: list[int] = field(default_factory=list)
    hessian_steps: list[int] = field(default_factory=list)  # Hessian estimates after this many iterations
    quality_steps: list[int] = field(default_factory=list)  # sample-quality measurements after this many iterations

    @classmethod
    def plan(cls, config: TrainConfig, n_images: int) -> Schedule:
        """The schedule of ``config`` on ``n_images`` images (``config.hessian_every`` taken as resolved)."""
        ipe = n_images // config.batch_size
        total = config.epochs * ipe
        if config.max_iters is not None:
            total = min(total, config.max_iters)
        epochs = -(-total // ipe)
        boundaries = set(stage_starts(total, config.stages)) if config.stages else set()
        steps = set(boundaries)
        if config.checkpoint_every:
            steps |= set(range(0, total + 1, config.checkpoint_every)) | {total}
        wanted = config.sample_epochs or default_sample_epochs(config.epochs)
        # a run cut short by max_iters: scale the default epochs to the epochs it reaches
        if config.sample_epochs is None and epochs < config.epochs:
            wanted = default_sample_epochs(epochs)
        if config.hessian_every is None:  # at the stage boundaries, where the checkpoints are
            hessian = boundaries or {0, total}
        elif config.hessian_every == 0:
            hessian = set()
        else:
            hessian = set(range(0, total + 1, config.hessian_every)) | {total}
        sample_epochs = sorted(e for e in wanted if e <= epochs)
        if config.quality_every is None:  # where the sample grids are made: the end of each sample epoch
            quality = {min(e * ipe, total) for e in sample_epochs}
        elif config.quality_every == 0:
            quality = set()
        else:
            quality = set(range(config.quality_every, total + 1, config.quality_every)) | {total}
        return cls(ipe, total, epochs, sorted(steps), sample_epochs, sorted(hessian), sorted(quality))

    def as_meta(self, n_images: int) -> dict[str, object]:
        """What the run file stores as its ``schedule`` metadata."""
        return {
            "images": n_images,
            "iters_per_epoch": self.iters_per_epoch,
            "planned_iters": self.total_iters,
            "checkpoint_steps": self.checkpoint_steps,
            "sample_epochs": self.sample_epochs,
            "hessian_steps": self.hessian_steps,
            "quality_steps": self.quality_steps,
        }


__all__ = ["DCGAN_ON_CPU_NOTE", "Schedule", "resolve_hessian_every", "resolve_quality_every"]
