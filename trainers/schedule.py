"""When things happen in a run: iterations, checkpoints, sample grids and the measurements of every kind.

Everything is derived from the run's config, the dataset size and the measurements the
run is given, once, before training starts. The stage boundaries come from
:mod:`landscape.stages` (the same boundaries the plots and reports colour); when a
measurement kind runs is its :class:`~landscape.measurements.Cadence`, and the ``every``
a run uses is settled here, for every kind alike, by :func:`resolve_measurements`
(a kind of the config, such as ``hessian_every``, is stored resolved in the run's config).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from landscape.config import TrainConfig
from landscape.errors import LandscapeError
from landscape.measurements import CONFIGURED_KINDS, Cadence, configured_every
from landscape.stages import stage_starts
from trainers.samples import default_sample_epochs


def resolve_measurements(config: TrainConfig, measurements: Iterable[Any],
                         device_type: str) -> tuple[dict[str, tuple[Cadence, int | None]], list[str]]:
    """When each kind is measured in this run: kind -> (cadence, resolved ``every``), and the notes on requests
    that were resolved differently.

    Every kind of the config (:data:`landscape.measurements.CONFIGURED_KINDS`) is there, with
    ``every`` 0 when the run is given no measurement of it (and a note when the config asked
    for some); each given measurement resolves its own ``every``
    (:meth:`~landscape.measurements.Measurement.resolve_every`). One measurement per kind.
    """
    given: dict[str, Any] = {}
    for measurement in measurements:
        if measurement.kind in given:
            raise LandscapeError(f"Two measurements of kind {measurement.kind!r} were given; give one per kind.")
        given[measurement.kind] = measurement
    plan: dict[str, tuple[Cadence, int | None]] = {}
    notes: list[str] = []
    for kind in dict.fromkeys([*CONFIGURED_KINDS, *given]):
        measurement = given.get(kind)
        if measurement is None:
            cadence, asked = CONFIGURED_KINDS[kind], configured_every(config, kind)
            if cadence.follows and getattr(config, f"{kind}_every") is None:
                asked = 0  # only following another kind's schedule: not asked for by itself, so nothing to say
            if asked != 0 and (asked is not None or cadence.asked_by_default):
                notes.append(f"no {kind} measurements during training: the run was given none "
                             f"(trainers.record(..., measurements=[...])).")
            plan[kind] = (cadence, 0)
            continue
        every, note = measurement.resolve_every(config, device_type)
        plan[kind] = (measurement.cadence, every)
        if note:
            notes.append(note)
    return plan, notes


def configured_settings(plan: Mapping[str, tuple[Cadence, int | None]]) -> dict[str, int | None]:
    """The config settings ``<kind>_every`` of the configured kinds in ``plan``, as resolved (for ``config.replace``)."""
    return {f"{kind}_every": every for kind, (_, every) in plan.items() if kind in CONFIGURED_KINDS}


@dataclass
class Schedule:
    """When things happen in a run, all derived from the config and the dataset size."""

    iters_per_epoch: int
    total_iters: int  # planned iterations (epochs x iters_per_epoch, or max_iters if fewer)
    epochs: int  # epochs actually reached (the last one may be partial)
    checkpoint_steps: list[int] = field(default_factory=list)  # weights after this many iterations
    sample_epochs: list[int] = field(default_factory=list)
    #: kind -> the steps (iterations done) after which it is measured; ``<kind>_steps`` reads one
    measurement_steps: dict[str, list[int]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> list[int]:  # hessian_steps, quality_steps, ...
        steps = self.__dict__.get("measurement_steps", {})
        if name.endswith("_steps") and name[: -len("_steps")] in steps:
            return steps[name[: -len("_steps")]]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def plan(cls, config: TrainConfig, n_images: int,
             measurements: Mapping[str, tuple[Cadence, int | None]] | None = None) -> Schedule:
        """The schedule of ``config`` on ``n_images`` images.

        ``measurements``: kind -> (cadence, every), as :func:`resolve_measurements` gives them;
        without it, the kinds of the config with their ``<kind>_every`` as they are.
        """
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
        sample_epochs = sorted(e for e in wanted if e <= epochs)
        sample_ends = {min(e * ipe, total) for e in sample_epochs}  # where the sample grids are made
        if measurements is None:
            measurements = {kind: (cadence, configured_every(config, kind)) for kind, cadence in CONFIGURED_KINDS.items()}
        measured = {kind: cadence.steps(every, total, boundaries, sample_ends)
                    for kind, (cadence, every) in measurements.items()}
        return cls(ipe, total, epochs, sorted(steps), sample_epochs, measured)

    def as_meta(self, n_images: int) -> dict[str, object]:
        """What the run file stores as its ``schedule`` metadata."""
        return {
            "images": n_images,
            "iters_per_epoch": self.iters_per_epoch,
            "planned_iters": self.total_iters,
            "checkpoint_steps": self.checkpoint_steps,
            "sample_epochs": self.sample_epochs,
            **{f"{kind}_steps": steps for kind, steps in self.measurement_steps.items()},
        }


__all__ = ["Schedule", "configured_settings", "resolve_measurements"]
