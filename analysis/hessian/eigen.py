"""Extreme algebraic eigenvalues of a Hessian: the k largest and the k smallest.

Three methods, all reporting each eigenvalue with its residual norm
``||H v - lambda v||`` (recomputed with explicit products, not trusted from the
iteration) and a converged flag ``residual <= tol * scale`` where ``scale`` is
the largest |eigenvalue| found (the estimate of ``||H||``):

- ``"lanczos"`` (default): thick-restart Lanczos on both ends at once
  (:func:`analysis.hessian.lanczos.thick_restart_lanczos`).
- ``"eigsh"``: scipy's ARPACK ``eigsh`` on the :class:`HessianOperator`, one run
  with ``which='LA'`` and one with ``which='SA'``.
- ``"exact"``: the full Hessian from ``n`` products with unit vectors and
  ``numpy.linalg.eigh``; every eigenvalue, for networks up to ``exact_max_params``.

For a symmetric matrix, a unit vector with residual ``r`` has a true eigenvalue
within ``r`` of its Rayleigh quotient (and within ``r^2 / gap`` when the
eigenvalue is separated by ``gap`` from the rest), so the residual is an error
bar on each value.

A single Krylov vector finds one copy of a repeated eigenvalue; with repeated
extreme eigenvalues the k values may skip copies (use the exact mode to see
multiplicities on small networks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import torch
from scipy.sparse.linalg import ArpackNoConvergence, eigsh

from analysis.hessian.hvp import HessianVectorProduct, hessian_matrix
from analysis.hessian.lanczos import thick_restart_lanczos
from analysis.hessian.operator import HessianOperator
from landscape.errors import LandscapeError, unknown_choice

METHODS = ("auto", "lanczos", "eigsh", "exact")
EXACT_MAX_PARAMS = 5000


@dataclass
class EigenResult:
    """Extreme eigenvalues (ascending) with residual norms and converged flags."""

    values: np.ndarray
    residuals: np.ndarray
    converged: np.ndarray
    k: int
    method: str
    tol: float  # relative: converged means residual <= tol * scale
    scale: float  # max |eigenvalue| found, the estimate of ||H||
    n_products: int
    spectrum: np.ndarray | None = None  # every eigenvalue (exact mode only)
    vectors: torch.Tensor | None = field(default=None, repr=False)  # n x len(values), float64

    @property
    def bottom(self) -> np.ndarray:
        """The k smallest algebraic eigenvalues, ascending."""
        return self.values[: self.k]

    @property
    def top(self) -> np.ndarray:
        """The k largest algebraic eigenvalues, descending."""
        return self.values[::-1][: self.k]

    @property
    def lambda_min(self) -> float:
        return float(self.values[0])

    @property
    def lambda_max(self) -> float:
        return float(self.values[-1])

    @property
    def all_converged(self) -> bool:
        return bool(np.all(self.converged))


def residual_norms(hvp: HessianVectorProduct, values: np.ndarray, vectors: torch.Tensor) -> np.ndarray:
    """``||H y_i - theta_i y_i||`` for unit Ritz vectors ``y_i`` (one product each)."""
    out = np.empty(len(values))
    for i, theta in enumerate(values):
        y = vectors[:, i]
        y = y / torch.linalg.vector_norm(y)
        hy = hvp(y).to(torch.float64)
        out[i] = float(torch.linalg.vector_norm(hy - float(theta) * y.to(hy.device)))
    return out


def _finish(
    hvp: HessianVectorProduct, values: np.ndarray, vectors: torch.Tensor, k: int, method: str, tol: float
) -> EigenResult:
    order = np.argsort(values)
    values = np.asarray(values, dtype=np.float64)[order]
    vectors = vectors[:, torch.as_tensor(order.copy())]
    residuals = residual_norms(hvp, values, vectors)
    scale = float(np.max(np.abs(values))) if len(values) else 0.0
    converged = residuals <= tol * max(scale, np.finfo(float).tiny)
    return EigenResult(values, residuals, converged, k, method, tol, scale, hvp.n_products, vectors=vectors)


def lanczos_extremes(
    hvp: HessianVectorProduct, k: int = 5, *, tol: float = 1e-4, seed: int = 0, max_products: int | None = None,
    basis_size: int | None = None,
) -> EigenResult:
    """Both ends by thick-restart Lanczos (one Krylov space)."""
    basis_dtype = torch.float64 if hvp.dtype == torch.float64 else torch.float32
    result = thick_restart_lanczos(
        lambda v: hvp(v).to(basis_dtype),
        hvp.n,
        k,
        k,
        tol=tol,
        seed=seed,
        device=hvp.device,
        max_products=max_products,
        basis_size=basis_size,
        basis_dtype=basis_dtype,
    )
    return _finish(hvp, result.values, result.vectors, k, "lanczos", tol)


def eigsh_extremes(
    hvp: HessianVectorProduct, k: int = 5, *, tol: float = 1e-4, seed: int = 0, max_products: int | None = None,
    ncv: int | None = None,
) -> EigenResult:
    """Both ends by scipy ``eigsh``: ``which='LA'`` then ``which='SA'`` (ARPACK's relative tolerance)."""
    op = HessianOperator(hvp)
    n = hvp.n
    kk = min(k, n - 1)
    v0 = np.random.default_rng(seed).standard_normal(n)
    maxiter = None if max_products is None else max(1, max_products // max(ncv or 2 * kk + 1, 20))
    values, vectors = [], []
    for which in ("SA", "LA"):
        try:
            w, v = eigsh(op, k=kk, which=which, tol=tol, v0=v0, ncv=ncv, maxiter=maxiter)
        except ArpackNoConvergence as err:  # keep what converged; flags below say the rest did not
            w, v = err.eigenvalues, err.eigenvectors
        values.append(w)
        vectors.append(v)
    vals = np.concatenate(values)
    vecs = np.concatenate(vectors, axis=1)
    # a value found by both runs (tiny problems) is kept once
    keep = np.unique(np.round(vals, 12), return_index=True)[1]
    vecs_t = torch.as_tensor(vecs[:, keep], dtype=torch.float64, device=hvp.device)
    return _finish(hvp, vals[keep], vecs_t, k, "eigsh", tol)


def exact_eigenvalues(hvp: HessianVectorProduct, k: int = 5, *, tol: float = 1e-4) -> EigenResult:
    """Every eigenvalue from the full Hessian (``n`` products); reports the k smallest and k largest."""
    H = hessian_matrix(hvp).numpy()
    spectrum, V = scipy.linalg.eigh(H)
    n = len(spectrum)
    idx = np.array(sorted(set(range(min(k, n))) | set(range(max(n - k, 0), n))), dtype=int)
    values = spectrum[idx]
    vectors = V[:, idx]
    residuals = np.linalg.norm(H @ vectors - vectors * values, axis=0)
    scale = float(np.max(np.abs(spectrum))) if n else 0.0
    converged = residuals <= tol * max(scale, np.finfo(float).tiny)
    return EigenResult(
        values, residuals, converged, k, "exact", tol, scale, hvp.n_products, spectrum=spectrum,
        vectors=torch.as_tensor(vectors),
    )


def extreme_eigenvalues(
    hvp: HessianVectorProduct,
    k: int = 5,
    *,
    method: str = "auto",
    tol: float = 1e-4,
    seed: int = 0,
    max_products: int | None = None,
    exact_max_params: int = EXACT_MAX_PARAMS,
) -> EigenResult:
    """The k smallest and k largest algebraic eigenvalues of the Hessian behind ``hvp``.

    ``method="auto"`` is exact for at most ``exact_max_params`` parameters and
    thick-restart Lanczos above.
    """
    if method not in METHODS:
        raise LandscapeError(unknown_choice("eigenvalue method", method, METHODS))
    if k < 1:
        raise LandscapeError(f"k must be at least 1, got {k}.")
    if method == "auto":
        method = "exact" if hvp.n <= exact_max_params else "lanczos"
    if method == "exact":
        if hvp.n > max(exact_max_params, 1):
            raise LandscapeError(
                f"The exact Hessian of {hvp.n:,} parameters is too large (limit {exact_max_params:,}); "
                "use method 'lanczos' or raise the limit."
            )
        return exact_eigenvalues(hvp, k, tol=tol)
    if method == "eigsh" and hvp.n > 2 * k + 1:
        return eigsh_extremes(hvp, k, tol=tol, seed=seed, max_products=max_products)
    return lanczos_extremes(hvp, k, tol=tol, seed=seed, max_products=max_products)


def power_iteration(
    hvp: HessianVectorProduct,
    *,
    tol: float = 1e-3,
    max_iter: int = 1000,
    shift: float = 0.0,
    seed: int = 0,
    trajectory: list[float] | None = None,
) -> tuple[float, torch.Tensor]:
    """Power iteration on ``H - shift I`` (PyHessian's method), stopping on relative change ``< tol``.

    Returns ``(eigenvalue of H, vector)``: with ``shift=0`` the eigenvalue of largest
    magnitude; with ``shift`` at that eigenvalue, the other end of the spectrum.
    The Rayleigh quotient after each product is appended to ``trajectory``.
    Kept as the baseline the benchmark compares against.
    """
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(hvp.n, generator=g, dtype=torch.float64).to(hvp.device)
    v = v / torch.linalg.vector_norm(v)
    eig: float | None = None
    for _ in range(max_iter):
        hv = hvp(v).to(torch.float64) - shift * v
        rq = float(torch.dot(v, hv))
        if trajectory is not None:
            trajectory.append(rq + shift)
        norm = torch.linalg.vector_norm(hv)
        if float(norm) == 0.0:
            return shift, v
        v = hv / norm
        if eig is not None and abs(eig - rq) / (abs(eig) + 1e-6) < tol:
            eig = rq
            break
        eig = rq
    return float(eig) + shift, v  # type: ignore[arg-type]
