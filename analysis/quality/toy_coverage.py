"""A 2-D toy's exact sample quality as a measurement kind (``"quality"``): modes covered and the high-quality fraction.

The toys need no classifier: :func:`landscape.data.toys.toy_quality` (VEEGAN's measure, reused by
PacGAN) counts, on 2,500 generated points, the modes that hold enough points within 3 standard
deviations and the fraction of points that are that close to a mode. During training the points
are the trainer's fixed z (the ones its sample scatter plots show); at a stored checkpoint, a z
drawn from a seed. Stored like every sample-quality measurement, in ``/quality/<step>``.

This module is the whole kind: ``analysis.measurements`` registers it, and
``trainers.record(toy_config, path, measurements=[ToyCoverage()])`` measures it at the
run's quality steps (``quality_every``: the sample epochs by default).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from landscape.data.toys import is_toy, toy_quality
from landscape.measurements import Measurement, Record, config_value, quality_record
from landscape.metric_names import TOY_METRICS  # what a measurement on a 2-D toy stores (the metric table's toy rows)
#: Points a measurement at a checkpoint draws (VEEGAN's and PacGAN's count; a trainer's fixed z has as many).
TOY_POINTS = 2500


class ToyCoverage(Measurement):
    """Modes covered and the high-quality fraction of a 2-D toy generator's points (no classifier).

    ``on_result(step, values, seconds)`` is called after each measurement; ``seed`` draws the
    z of a measurement at a checkpoint.
    """

    kind = "quality"
    title = "toy coverage"

    def __init__(self, *, seed: int = 0, on_result: Callable[[int, dict[str, float], float], None] | None = None):
        self.seed, self.on_result = seed, on_result

    @classmethod
    def applies_to(cls, config: Any) -> bool:
        """The 2-D toys only."""
        return is_toy(str(config_value(config, "dataset")))

    @classmethod
    def for_training(cls, config: Any, say: Callable[[str], None] | None = None, **_: Any) -> ToyCoverage:
        """The measurement a recorded toy run makes (silently, as the trainer always did)."""
        return cls()

    def __call__(self, trainer: Any) -> list[Record]:
        """The measure on the points of the trainer's fixed z."""
        from trainers.samples import sample_points

        start = time.monotonic()
        points = sample_points(trainer.g, trainer.fixed_z)
        values = _values(points, trainer.config.dataset)
        seconds = time.monotonic() - start
        self._said(trainer.step, values, seconds)
        return [quality_record(trainer.step, values, len(points), trainer.epoch, {"seconds": seconds})]

    def measure_checkpoint(self, run: Any, step: int, *, device: str = "cpu", **_: Any) -> list[Record]:
        """The measure at the stored checkpoint ``step`` of ``run``, on :data:`TOY_POINTS` points of a z drawn with ``seed``."""
        from analysis.quality.checkpoints import epoch_of_step, load_generator
        from analysis.quality.measure import generate

        start = time.monotonic()
        g = load_generator(run, step, device)
        points = generate(g, run.config, TOY_POINTS, seed=self.seed).cpu()
        values = _values(points, str(run.config["dataset"]))
        seconds = time.monotonic() - start
        self._said(step, values, seconds)
        return [quality_record(step, values, TOY_POINTS, epoch_of_step(run, step), {"seconds": seconds})]

    def _said(self, step: int, values: dict[str, float], seconds: float) -> None:
        if self.on_result is not None:
            self.on_result(step, values, seconds)


def _values(points: Any, dataset: str) -> dict[str, float]:
    quality = toy_quality(points, dataset)
    return {name: float(quality[name]) for name in TOY_METRICS}


__all__ = ["TOY_METRICS", "TOY_POINTS", "ToyCoverage"]
