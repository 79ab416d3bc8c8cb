"""Hessian estimates during training: the hook a trainer calls at its planned Hessian steps.

The trainer knows nothing of curvature; ``trainers.record(config, path,
on_hessian_step=curvature_hook())`` makes it estimate both networks' Hessians at
the steps its schedule resolved (:mod:`trainers.schedule`) and store them in the
run file as it goes. The networks are copied, so training is unaffected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from analysis.hessian.estimate import HessianResult, estimate_models
from analysis.hessian.storage import store
from landscape.errors import LandscapeError
from landscape.networks import PARAMETER_NETWORKS


def curvature_hook(
    on_result: Callable[[HessianResult], None] | None = None,
    on_skip: Callable[[int, str, LandscapeError], None] | None = None,
    **options: Any,
) -> Callable[[Any], None]:
    """A trainer hook that estimates and stores the Hessian of each network (``k = config.hessian_k``).

    ``on_result(result)`` is called after each estimate is stored. An estimate that
    fails with a :class:`LandscapeError` (for example a determinism check that does
    not hold) is skipped, reported to ``on_skip(step, network, error)``, and never
    stops the run. ``options`` go to :func:`~analysis.hessian.estimate.estimate_models`.

    The loss is the trainer's: ``trainer.config.loss`` and ``trainer.config.gp_weight`` (a WGAN-GP
    critic's Hessian includes its gradient penalty) and a conditional trainer's ``trainer.probe_labels``;
    a trainer or config without them gets the defaults (ns, no penalty, no labels), and ``loss``,
    ``gp_weight`` or ``probe_labels`` in ``options`` replace them. Label smoothing and unrolling are
    training-time only: the Hessian is of the plain loss with targets 1 and 0 (see
    :func:`~analysis.hessian.gan.gan_loss`).
    """

    def hook(trainer: Any) -> None:
        config = trainer.config
        kwargs = dict(options)  # what curvature_hook() was given wins over the trainer's
        own_loss = getattr(config, "loss", None) or "ns"
        loss = kwargs.setdefault("loss", own_loss)
        kwargs.setdefault("gp_weight", getattr(config, "gp_weight", None) if loss == own_loss == "wgan-gp" else None)
        kwargs.setdefault("probe_labels", getattr(trainer, "probe_labels", None))
        for network in PARAMETER_NETWORKS:
            try:
                result = estimate_models(trainer.g, trainer.d, trainer.probe_real, trainer.probe_z, network,
                                         config.hessian_k, step=trainer.step, **kwargs)
            except LandscapeError as err:
                if on_skip is not None:
                    on_skip(trainer.step, network, err)
                continue
            store(result, trainer.writer)
            if on_result is not None:
                on_result(result)

    return hook


__all__ = ["curvature_hook"]
