"""The Hessian's spectral density by stochastic Lanczos quadrature (SLQ).

For a random unit vector ``v``, ``m`` Lanczos steps give a tridiagonal ``T_m``
whose eigenvalues ``theta_j`` (nodes) and squared first eigenvector components
``tau_j`` (weights, summing to 1) form the Gauss quadrature of the measure
``sum_i (v . u_i)^2 delta(t - lambda_i)``, whose expectation is the spectral
density ``(1/n) sum_i delta(t - lambda_i)``. Averaging over a few vectors and
broadening each node by a Gaussian of width ``sigma`` gives a smooth density on
a grid (Ghorbani, Krishnan & Xiao, 2019; Lin, Saad & Yang, 2016).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

from analysis.hessian.hvp import HessianVectorProduct
from analysis.hessian.lanczos import lanczos_tridiagonal


@dataclass
class SpectralDensity:
    """A density on ``grid`` (integrating to 1) with the quadrature it came from."""

    grid: np.ndarray
    values: np.ndarray
    nodes: np.ndarray  # n_vectors x steps, NaN-padded where Lanczos stopped early
    weights: np.ndarray  # same shape; each row sums to 1 (NaN padding excluded)
    sigma: float
    n_products: int
    method: str  # "slq" or "exact"

    def mass_within(self, tol: float, center: float = 0.0) -> float:
        """Estimated fraction of eigenvalues within ``tol`` of ``center`` (from the quadrature weights)."""
        inside = np.abs(self.nodes - center) <= tol
        return float(np.nansum(np.where(inside, self.weights, 0.0)) / self.nodes.shape[0])


def gaussian_density(nodes: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float) -> np.ndarray:
    """``sum_j w_j N(grid; node_j, sigma^2) / n_rows``; NaN nodes are skipped."""
    nodes = np.atleast_2d(nodes)
    weights = np.atleast_2d(weights)
    ok = np.isfinite(nodes)
    t = grid[:, None]
    x = nodes[ok][None, :]
    kernel = np.exp(-0.5 * ((t - x) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    return kernel @ weights[ok] / nodes.shape[0]


def _grid(lo: float, hi: float, sigma: float, size: int) -> np.ndarray:
    return np.linspace(lo - 4 * sigma, hi + 4 * sigma, size)


def _sigma(lo: float, hi: float, sigma: float | None, sigma_rel: float) -> float:
    if sigma is not None:
        return float(sigma)
    width = hi - lo
    return float(max(sigma_rel * width, 1e-12 * max(abs(lo), abs(hi), 1.0)))


def slq_density(
    hvp: HessianVectorProduct,
    *,
    n_vectors: int = 4,
    steps: int = 40,
    grid_size: int = 256,
    sigma: float | None = None,
    sigma_rel: float = 0.01,
    seed: int = 0,
) -> SpectralDensity:
    """SLQ with ``n_vectors`` Rademacher start vectors and ``steps`` Lanczos steps each.

    ``sigma`` defaults to ``sigma_rel`` times the width of the spectrum the
    quadrature found. Costs at most ``n_vectors * steps`` products.
    """
    g = torch.Generator().manual_seed(seed)
    steps = int(min(steps, hvp.n))
    nodes = np.full((n_vectors, steps), np.nan)
    weights = np.full((n_vectors, steps), np.nan)
    before = hvp.n_products
    dtype = torch.float64 if hvp.dtype == torch.float64 else torch.float32
    matvec = lambda v: hvp(v).to(dtype)  # noqa: E731
    for i in range(n_vectors):
        z = (torch.randint(0, 2, (hvp.n,), generator=g, dtype=torch.int8).to(torch.float64) * 2 - 1).to(hvp.device)
        alpha, beta = lanczos_tridiagonal(matvec, z, steps, dtype)
        theta, S = scipy.linalg.eigh_tridiagonal(alpha, beta)
        nodes[i, : len(theta)] = theta
        weights[i, : len(theta)] = S[0, :] ** 2
    lo, hi = float(np.nanmin(nodes)), float(np.nanmax(nodes))
    s = _sigma(lo, hi, sigma, sigma_rel)
    grid = _grid(lo, hi, s, grid_size)
    values = gaussian_density(nodes, weights, grid, s)
    return SpectralDensity(grid, values, nodes, weights, s, hvp.n_products - before, "slq")


def exact_density(
    spectrum: np.ndarray, *, grid_size: int = 256, sigma: float | None = None, sigma_rel: float = 0.01
) -> SpectralDensity:
    """The broadened density of a known spectrum (exact mode): every eigenvalue weight 1/n."""
    spectrum = np.asarray(spectrum, dtype=np.float64)
    lo, hi = float(spectrum.min()), float(spectrum.max())
    s = _sigma(lo, hi, sigma, sigma_rel)
    grid = _grid(lo, hi, s, grid_size)
    nodes = spectrum[None, :]
    weights = np.full_like(nodes, 1.0 / len(spectrum))
    return SpectralDensity(grid, gaussian_density(nodes, weights, grid, s), nodes, weights, s, 0, "exact")
