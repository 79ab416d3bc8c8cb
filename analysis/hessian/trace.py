"""The Hessian trace by randomised estimators, with a standard error.

- Hutchinson: ``tr(H) ~ mean_i z_i^T H z_i`` over Rademacher vectors ``z_i``;
  standard error = sample std / sqrt(m).
- Hutch++ (Meyer, Musco, Musco & Woodruff, 2021): a third of the products find
  the dominant range ``Q`` of ``H``, a third compute ``tr(Q^T H Q)`` exactly, the
  last third run Hutchinson on the deflated ``(I - QQ^T) H (I - QQ^T)``. Hessians
  have a few large outlier eigenvalues (Sagun et al.; Papyan), which Hutchinson's
  variance pays for and Hutch++ removes. Its standard error is that of the
  Hutchinson part (the deflated part is the only random term once ``Q`` is fixed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from analysis.hessian.hvp import HessianVectorProduct

TRACE_METHODS = ("hutch++", "hutchinson")


@dataclass
class TraceEstimate:
    """A trace estimate with its standard error and cost in Hessian-vector products."""

    value: float
    stderr: float
    n_products: int
    method: str


def _rademacher(n: int, cols: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, (n, cols), generator=generator, dtype=torch.int8).to(torch.float64) * 2.0 - 1.0


def _apply(hvp: HessianVectorProduct, block: torch.Tensor) -> torch.Tensor:
    """``H @ block`` column by column (float64, on the Hessian's device)."""
    return torch.stack([hvp(block[:, j]).to(torch.float64) for j in range(block.shape[1])], dim=1)


def hutchinson(hvp: HessianVectorProduct, n_products: int = 30, *, seed: int = 0) -> TraceEstimate:
    """Hutchinson's estimator with ``n_products`` Rademacher probes."""
    m = max(int(n_products), 2)
    g = torch.Generator().manual_seed(seed)
    samples = np.empty(m)
    for i in range(m):
        z = _rademacher(hvp.n, 1, g)[:, 0].to(hvp.device)
        samples[i] = float(torch.dot(z, hvp(z).to(torch.float64)))
    return TraceEstimate(float(samples.mean()), float(samples.std(ddof=1) / np.sqrt(m)), m, "hutchinson")


def hutchpp(hvp: HessianVectorProduct, n_products: int = 30, *, seed: int = 0) -> TraceEstimate:
    """Hutch++ with ``n_products`` products in three equal parts (at least 2 probes in the last)."""
    third = max(int(n_products) // 3, 2)
    g = torch.Generator().manual_seed(seed)
    S = _rademacher(hvp.n, third, g).to(hvp.device)
    G = _rademacher(hvp.n, third, g).to(hvp.device)
    Q, _ = torch.linalg.qr(_apply(hvp, S))
    low_rank = float(torch.trace(Q.T @ _apply(hvp, Q)))
    G = G - Q @ (Q.T @ G)
    HG = _apply(hvp, G)
    samples = (G * HG).sum(dim=0).cpu().numpy()
    rest = float(samples.mean())
    stderr = float(samples.std(ddof=1) / np.sqrt(third))
    return TraceEstimate(low_rank + rest, stderr, 3 * third, "hutch++")


def estimate_trace(
    hvp: HessianVectorProduct, n_products: int = 30, *, method: str = "hutch++", seed: int = 0
) -> TraceEstimate:
    """The trace by ``method`` (``"hutch++"`` or ``"hutchinson"``)."""
    if method == "hutch++":
        return hutchpp(hvp, n_products, seed=seed)
    if method == "hutchinson":
        return hutchinson(hvp, n_products, seed=seed)
    from landscape.errors import LandscapeError

    raise LandscapeError(f"Unknown trace method {method!r}; use one of {', '.join(TRACE_METHODS)}.")
