"""Hessian estimates as a measurement kind (``"hessian"``): during training, and at a run's stored checkpoints.

``trainers.record(config, path, measurements=[HessianEstimates()])`` makes the trainer
estimate both networks' Hessians at the steps its schedule resolved (``hessian_every``:
the stage boundaries by default) and store them under ``/hessian/<step>/<network>`` as it
goes. The networks are copied, so training is unaffected. :meth:`HessianEstimates.measure_checkpoint`
makes the same estimates from a stored checkpoint (what ``landscape hessian`` stores).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from analysis.hessian.estimate import HessianResult, estimate, estimate_models
from analysis.hessian.storage import as_record
from analysis.probe_loss import loss_options
from landscape.errors import LandscapeError
from landscape.measurements import Measurement, Record
from landscape.networks import PARAMETER_NETWORKS

#: Why a run makes no Hessian estimates although its config asked for the default.
DCGAN_ON_CPU_NOTE = (
    "no Hessian estimates during a DCGAN run on a CPU (tens of minutes each); set hessian_every to ask "
    "for them, or estimate them after training."
)


class HessianEstimates(Measurement):
    """Extreme eigenvalues, trace, spectral density and curvature class of each network's Hessian.

    ``k = config.hessian_k`` eigenvalues at each end. ``on_result(result)`` is called after
    each estimate. An estimate that fails with a :class:`LandscapeError` (for example a
    determinism check that does not hold) is skipped, reported to ``on_skip(step, network,
    error)``, and never stops the run. ``options`` go to
    :func:`~analysis.hessian.estimate.estimate_models` (``method``, ``tol``, ...).

    The loss is the trainer's (:func:`analysis.probe_loss.loss_options`): ``config.loss`` and
    ``config.gp_weight`` (a WGAN-GP critic's Hessian includes its gradient penalty) and a
    conditional trainer's ``probe_labels``; ``loss``, ``gp_weight`` or ``probe_labels`` in
    ``options`` replace them. Label smoothing and unrolling are training-time only.
    """

    kind = "hessian"
    title = "Hessian estimates"

    def __init__(self, on_result: Callable[[HessianResult], None] | None = None,
                 on_skip: Callable[[int, str, LandscapeError], None] | None = None, **options: Any) -> None:
        self.on_result, self.on_skip, self.options = on_result, on_skip, options

    @classmethod
    def applies_to(cls, config: Any) -> bool:
        """Every GAN run has Hessians."""
        return True

    @classmethod
    def for_training(cls, config: Any, say: Callable[[str], None] | None = None, **_: Any) -> HessianEstimates:
        """The estimates a recorded run makes, saying one line per estimate (or per skipped one) through ``say``."""
        if say is None:
            return cls()

        def on_result(result: HessianResult) -> None:
            eig = result.eigen
            say(f"Hessian at step {result.step:,} ({result.network}): {result.classification.label}, "
                f"eigenvalues {eig.lambda_min:.3g} to {eig.lambda_max:.3g} "
                f"({result.n_hvp} products, {result.seconds:.1f} s)")

        def on_skip(step: int, network: str, err: Exception) -> None:
            say(f"Hessian at step {step:,} ({network}) skipped: {err}")

        return cls(on_result=on_result, on_skip=on_skip)

    def resolve_every(self, config: Any, device_type: str) -> tuple[int | None, str | None]:
        """``hessian_every`` as the config asks, except the default for a DCGAN on a CPU (tens of minutes each): 0."""
        every = config.hessian_every
        if every is None and config.arch == "dcgan" and device_type == "cpu":
            return 0, DCGAN_ON_CPU_NOTE
        return every, None

    def __call__(self, trainer: Any) -> list[Record]:
        """Both networks' estimates at the trainer's step, on its probe batch."""
        config = trainer.config
        options = loss_options(config, getattr(trainer, "probe_labels", None), self.options)
        records = []
        for network in PARAMETER_NETWORKS:
            try:
                result = estimate_models(trainer.g, trainer.d, trainer.probe_real, trainer.probe_z, network,
                                         config.hessian_k, step=trainer.step, **options)
            except LandscapeError as err:
                if self.on_skip is not None:
                    self.on_skip(trainer.step, network, err)
                continue
            records.append(as_record(result))
            if self.on_result is not None:
                self.on_result(result)
        return records

    def measure_checkpoint(self, run: Any, step: int, *, networks: Sequence[str] = PARAMETER_NETWORKS, k: int = 5,
                           device: str = "cpu", **options: Any) -> list[Record]:
        """The estimates of ``networks`` at the stored checkpoint ``step`` of ``run``
        (:func:`~analysis.hessian.estimate.estimate`; ``options`` as there)."""
        records = []
        for network in networks:
            result = estimate(run, step, network, k, device=device, **{**self.options, **options})
            records.append(as_record(result))
            if self.on_result is not None:
                self.on_result(result)
        return records


__all__ = ["DCGAN_ON_CPU_NOTE", "HessianEstimates"]
