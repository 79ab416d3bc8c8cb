"""Image sample quality as a measurement kind (``"quality"``): a domain classifier's metrics of generated images.

The trainer knows nothing of classifiers; ``trainers.record(config, path,
measurements=[ImageQuality(reference)])`` makes it measure the generator at the steps its
schedule planned (``quality_every``: the sample epochs by default) and store the values in
the run file's ``/quality`` group as it goes. Generation runs in inference mode on a fixed
z, so training is unaffected. :meth:`ImageQuality.measure_checkpoint` measures a stored
checkpoint the same way (what ``landscape quality`` stores).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from analysis.quality.classifiers import QualityReference
from analysis.quality.measure import describe, measure_generator, sample_sizes
from landscape.data.toys import is_toy
from landscape.measurements import Measurement, Record, config_value, quality_record


class ImageQuality(Measurement):
    """Every image metric of the generator against ``reference`` (the dataset's domain classifier and test set).

    ``n`` generated images (default: the run's ``quality_samples``) against ``n_real`` real
    test images (default: all), from a z drawn with ``seed``. ``on_result(step, values,
    seconds)`` is called after each measurement.
    """

    kind = "quality"
    title = "sample quality"

    def __init__(self, reference: QualityReference, *, n: int | None = None, n_real: int | None = None, seed: int = 0,
                 on_result: Callable[[int, dict[str, float], float], None] | None = None) -> None:
        self.reference, self.n, self.n_real, self.seed, self.on_result = reference, n, n_real, seed, on_result

    @classmethod
    def applies_to(cls, config: Any) -> bool:
        """The image datasets (a 2-D toy's quality is :class:`~analysis.quality.toy_coverage.ToyCoverage`)."""
        return not is_toy(str(config_value(config, "dataset")))

    @classmethod
    def for_training(cls, config: Any, say: Callable[[str], None] | None = None,
                     reference: QualityReference | None = None, **_: Any) -> ImageQuality:
        """The measurement a recorded run makes: against ``reference``, or the dataset's cached classifier (trained
        on first use), saying one line per measurement through ``say``."""
        if reference is None:
            from analysis.quality.classifiers import get_reference

            reference = get_reference(config.dataset, data_dir=config.data_dir)

        def on_result(step: int, values: dict[str, float], seconds: float) -> None:
            say(f"Quality at step {step:,}: {describe(values)} ({seconds:.1f} s)")

        return cls(reference, on_result=on_result if say is not None else None)

    def __call__(self, trainer: Any) -> list[Record]:
        """The metrics of the trainer's generator now."""
        start = time.monotonic()
        values = measure_generator(trainer.g, trainer.config, self.reference, n=self.n, n_real=self.n_real,
                                   seed=self.seed)
        return [self._record(trainer.step, values, trainer.config, trainer.epoch, time.monotonic() - start)]

    def measure_checkpoint(self, run: Any, step: int, *, device: str = "cpu", **_: Any) -> list[Record]:
        """The metrics of the generator at the stored checkpoint ``step`` of ``run``."""
        from analysis.quality.checkpoints import epoch_of_step, load_generator

        start = time.monotonic()
        g = load_generator(run, step, device)
        values = measure_generator(g, run.config, self.reference, n=self.n, n_real=self.n_real, seed=self.seed)
        return [self._record(step, values, run.config, epoch_of_step(run, step), time.monotonic() - start)]

    def _record(self, step: int, values: dict[str, float], config: Any, epoch: int, seconds: float) -> Record:
        n_gen, n_ref = sample_sizes(config, self.reference, self.n, self.n_real)
        if self.on_result is not None:
            self.on_result(step, values, seconds)
        return quality_record(step, values, n_gen, epoch,
                              {"n_real": n_ref, "classifier": self.reference.identity, "seconds": seconds})


__all__ = ["ImageQuality"]
