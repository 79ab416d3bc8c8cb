"""The Hessian trace by randomised estimators, with a standard error.

- Hutchinson: ``tr(H) ~ mean_i z_i^T H z_i`` over ``m`` Rademacher vectors ``z_i``.
- Hutch++ (Meyer, Musco, Musco & Woodruff, "Hutch++: Optimal Stochastic Trace
  Estimation", SOSA 2021): a third of the products find the dominant range ``Q``
  of ``H``, a third compute ``tr(Q^T H Q)`` exactly, the last third run
  Hutchinson on the deflated ``A = (I - QQ^T) H (I - QQ^T)``. Hessians have a few
  large outlier eigenvalues (Sagun et al.; Papyan), which Hutchinson's variance
  pays for and Hutch++ removes.

Standard error. Given ``Q``, ``tr(Q^T H Q) + tr(A) = tr(H)``, so the Hutch++
estimate is conditionally unbiased and its only random term is the Hutchinson
mean over ``A``; across seeds its variance is ``E_Q[Var(q) / m]`` with
``q = g^T A g`` (``g`` the raw Rademacher vector; ``(I - QQ^T) g`` itself is not
Rademacher, so the quadratic form is taken in ``g`` with the projected matrix).
For a symmetric ``A`` and Rademacher ``g`` the variance is exactly
``Var(q) = 2 sum_{k != l} A_kl^2`` (Hutchinson 1990; Avron & Toledo 2011; the
``2 ||A||_F^2`` of Meyer et al.'s analysis less the diagonal, which Rademacher
probes get right). It is estimated without extra products: ``q = sum_k d_k``
with ``d = g * (A g)`` (elementwise; the diagonal estimator of Bekas, Kokiopoulou
& Saad 2007), ``Var(d_k) = sum_{l != k} A_kl^2`` and the cross-covariances add
up to the same amount again, so ``Var(q) = 2 sum_k Var(d_k)``. The reported
variance is ``2 sum_k s_k^2 / m``, ``s_k^2`` the unbiased sample variance of
coordinate ``k`` of ``d`` over the ``m`` probes. Hutchinson's error is the same
formula with ``A = H`` (``d`` accumulated probe by probe, O(n) memory).

This replaces the sample variance of the ``m`` scalars ``q_i`` (the error reported
before): both are unbiased for the variance, but with ``m = 10`` (30 products)
the sample std of ten heavy-tailed scalars varies by 25-35% from seed to seed and
is low on average (the ``c4`` bias: 3% for Gaussian samples, 5-7% for these, 16-25%
at 6-9 products), while the per-coordinate estimate averages over all ``n``
coordinates (seed-to-seed spread 2-4% on the vanilla GAN's networks, 10-15% on
small synthetic spectra) and its mean is within a few percent of the observed
spread. Vanilla GAN after 300 iterations, 30 products: generator 6.62 (old) and
6.86 (new) against an observed std of 6.67 over 1000 seeds; discriminator 0.447
(old) and 0.460 (new) against 0.472 over 3000 seeds, and a direct check with
``Q`` held fixed (2000 probe sets each) gave a conditional std of 0.458. The
8-18% gaps once seen against 20 seeds are within the ~16% sampling error of a
20-sample std. The estimate itself is unchanged.

The error is conditional on ``Q``: a sketch that misses an outlier of ``H``
(possible when ``n_products / 3`` is below the number of outliers) has a larger
error, and the error bar says so for that seed.
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


def rademacher(n: int, cols: int, generator: torch.Generator) -> torch.Tensor:
    """An n x cols block of independent random signs (+1 or -1), float64."""
    return torch.randint(0, 2, (n, cols), generator=generator, dtype=torch.int8).to(torch.float64) * 2.0 - 1.0


def apply_columns(hvp: HessianVectorProduct, block: torch.Tensor) -> torch.Tensor:
    """``H @ block`` column by column (float64, on the Hessian's device)."""
    return torch.stack([hvp(block[:, j]).to(torch.float64) for j in range(block.shape[1])], dim=1)


def _stderr(coordinate_variance: float, m: int) -> float:
    """``sqrt(Var(mean of m quadratic forms))`` from ``sum_k s_k^2`` (see the module docstring)."""
    return float(np.sqrt(max(2.0 * coordinate_variance, 0.0) / m))


def hutchinson(hvp: HessianVectorProduct, n_products: int = 30, *, seed: int = 0) -> TraceEstimate:
    """Hutchinson's estimator with ``n_products`` Rademacher probes."""
    m = max(int(n_products), 2)
    g = torch.Generator().manual_seed(seed)
    samples = np.empty(m)
    mean = m2 = None  # Welford running mean and sum of squared deviations of d = z * Hz, per coordinate
    for i in range(m):
        z = rademacher(hvp.n, 1, g)[:, 0].to(hvp.device)
        hz = hvp(z).to(torch.float64)
        samples[i] = float(torch.dot(z, hz))
        d = z * hz
        if mean is None:
            mean, m2 = d.clone(), torch.zeros_like(d)
        else:
            delta = d - mean
            mean += delta / (i + 1)
            m2 += delta * (d - mean)
    return TraceEstimate(float(samples.mean()), _stderr(float(m2.sum()) / (m - 1), m), m, "hutchinson")


def hutchpp(hvp: HessianVectorProduct, n_products: int = 30, *, seed: int = 0) -> TraceEstimate:
    """Hutch++ with ``n_products`` products in three equal parts (at least 2 probes in the last)."""
    third = max(int(n_products) // 3, 2)
    g = torch.Generator().manual_seed(seed)
    S = rademacher(hvp.n, third, g).to(hvp.device)
    G_raw = rademacher(hvp.n, third, g).to(hvp.device)
    Q, _ = torch.linalg.qr(apply_columns(hvp, S))
    low_rank = float(torch.trace(Q.T @ apply_columns(hvp, Q)))
    G = G_raw - Q @ (Q.T @ G_raw)
    HG = apply_columns(hvp, G)
    samples = (G * HG).sum(dim=0).cpu().numpy()
    rest = float(samples.mean())
    # d_i = g_i * (A g_i) with A = (I - QQ^T) H (I - QQ^T) and g_i the raw Rademacher probe
    d = G_raw * (HG - Q @ (Q.T @ HG))
    return TraceEstimate(low_rank + rest, _stderr(float(d.var(dim=1).sum()), third), 3 * third, "hutch++")


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
