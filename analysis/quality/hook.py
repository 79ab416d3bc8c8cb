"""Sample quality during training: the hook a trainer calls at its planned quality steps.

The trainer knows nothing of classifiers; ``trainers.record(config, path,
on_quality_step=quality_hook(reference))`` makes it measure the generator at the
steps its schedule planned (``quality_every``: the sample epochs by default) and
store the values in the run file's ``/quality`` group as it goes. Generation runs in
inference mode on a fixed z, so training is unaffected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from analysis.quality.classifiers import QualityReference
from analysis.quality.measure import measure_generator, sample_sizes


def quality_hook(
    reference: QualityReference,
    *,
    n: int | None = None,
    n_real: int | None = None,
    seed: int = 0,
    on_result: Callable[[int, dict[str, float], float], None] | None = None,
) -> Callable[[Any], None]:
    """A trainer hook that measures the generator's sample quality against ``reference`` and stores it.

    ``n`` generated images (default: the run's ``quality_samples``) against ``n_real``
    real test images (default: all). ``on_result(step, values, seconds)`` is called
    after each measurement is stored.
    """

    def hook(trainer: Any) -> None:
        start = time.monotonic()
        values = measure_generator(trainer.g, trainer.config, reference, n=n, n_real=n_real, seed=seed)
        seconds = time.monotonic() - start
        n_gen, n_ref = sample_sizes(trainer.config, reference, n, n_real)
        trainer.writer.add_quality(trainer.step, values, n=n_gen, epoch=trainer.epoch,
                                   attrs={"n_real": n_ref, "classifier": reference.key, "seconds": seconds})
        if on_result is not None:
            on_result(trainer.step, values, seconds)

    return hook


__all__ = ["quality_hook"]
