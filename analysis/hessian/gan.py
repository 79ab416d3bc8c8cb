"""The GAN-specific part of the Hessian estimates: the probe loss, and the check that it is deterministic.

The loss itself (either player's loss on the run's probe batch, the other network fixed, for
every loss variant, with BatchNorm and dropout made deterministic) is
:mod:`analysis.probe_loss`'s, shared with the stationarity report and the measurements to
come; its names are importable from here as before.

:func:`check_deterministic` builds the loss graph twice from scratch and compares
one Hessian-vector product from each; a loss that is still random (a custom
stochastic layer, a nondeterministic kernel beyond float round-off) is refused
with a :class:`~landscape.errors.LandscapeError`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from analysis.hessian.hvp import HessianVectorProduct
from analysis.probe_loss import GP_SEED, GanLoss, deterministic_copy, gan_loss
from landscape.errors import LandscapeError

#: Two products from independently built graphs must agree to this many units of the
#: dtype's machine epsilon (relative, in the 2-norm). Double backward on the CPU is
#: bitwise reproducible; GPU kernels with atomic adds differ by a few hundred eps at
#: most, while dropout or random layers differ by tens of percent.
DETERMINISM_EPS_UNITS = 1000.0


def check_deterministic(
    loss_fn: Callable[[], torch.Tensor],
    params: list[torch.Tensor],
    *,
    seed: int = 0,
    what: str = "the loss",
    hvp: HessianVectorProduct | None = None,
) -> float:
    """Two Hessian-vector products from independently built graphs: their relative difference.

    Raises :class:`LandscapeError` when it exceeds ``DETERMINISM_EPS_UNITS`` machine
    epsilons of the parameters' dtype. Costs two graph builds and two products;
    pass the ``hvp`` that will be used afterwards to compare a fresh graph against
    its graph (one build saved, and the graph actually used is the one checked).
    """
    first = hvp if hvp is not None else HessianVectorProduct(loss_fn, params)
    second = HessianVectorProduct(loss_fn, params)
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(first.n, generator=gen, dtype=torch.float64)
    a = first(v).to(torch.float64)
    b = second(v).to(torch.float64)
    if hvp is None:
        first.release()
    second.release()
    norm = float(torch.linalg.vector_norm(a))
    diff = float(torch.linalg.vector_norm(a - b))
    rel = diff / norm if norm > 0 else diff
    limit = DETERMINISM_EPS_UNITS * float(torch.finfo(first.dtype).eps)
    if not np.isfinite(rel) or rel > limit:
        raise LandscapeError(
            f"The Hessian of {what} is not deterministic: two identical Hessian-vector products differ by "
            f"{rel:.2g} (relative, limit {limit:.1g}); remove random layers other than dropout or make "
            "the model's kernels deterministic (torch.use_deterministic_algorithms(True))."
        )
    return rel


__all__ = ["DETERMINISM_EPS_UNITS", "GP_SEED", "GanLoss", "check_deterministic", "deterministic_copy", "gan_loss"]
