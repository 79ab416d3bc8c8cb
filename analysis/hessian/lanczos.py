"""Lanczos iterations on a symmetric operator given as ``matvec(v) -> A v`` (torch, flat vectors).

Two tools live here:

- :func:`lanczos_tridiagonal`: plain Lanczos with full reorthogonalisation for a
  fixed number of steps, returning the tridiagonal matrix; stochastic Lanczos
  quadrature (the spectral density) is built on it.
- :func:`thick_restart_lanczos`: the extreme eigenvalues at *both* ends of the
  spectrum from one Krylov space (Krylov-Schur / thick-restart Lanczos). Both ends
  converge together, so the k largest and the k smallest algebraic eigenvalues
  cost one run instead of two (scipy's ``eigsh`` needs a run for ``'LA'`` and
  another for ``'SA'``), and convergence is tested at every product against a
  tolerance relative to the largest |Ritz value|, the natural scale of a Hessian
  (ARPACK's test is relative to each eigenvalue itself, which makes near-zero
  eigenvalues needlessly expensive). See ``benchmarks/bench_hessian.py``.

The Krylov basis lives on the operator's device in ``basis_dtype`` (callers pass
the network's dtype: float32 products carry ~1e-7 relative noise anyway, and a
float32 basis halves the memory traffic of reorthogonalisation); the projected
matrices are tiny and solved in float64 by scipy (numpy's threaded OpenBLAS is
~30x slower on such small matrices on a busy machine).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

MatVec = Callable[[torch.Tensor], torch.Tensor]


def _orthogonalise(basis: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Orthogonalise ``w`` against the rows of ``basis`` (orthonormal vectors, one per row).

    Classical Gram-Schmidt, repeated once when the first pass cancelled most of
    ``w`` (the DGKS criterion, ||w_new|| < ||w|| / sqrt(2)), which keeps the basis
    orthogonal to working precision at about one pass per step. Returns
    ``(w_orthogonalised, coefficients)``.
    """
    if basis.shape[0] == 0:
        return w, torch.zeros(0, dtype=w.dtype, device=w.device)
    norm = torch.linalg.vector_norm(w)
    h = basis @ w
    w = w - h @ basis
    if torch.linalg.vector_norm(w) < 0.7071 * norm:
        h2 = basis @ w
        w = w - h2 @ basis
        h = h + h2
    return w, h


def _random_unit(n: int, generator: torch.Generator, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
    v = torch.randn(n, generator=generator, dtype=torch.float64).to(device=device, dtype=dtype)
    return v / torch.linalg.vector_norm(v)


def lanczos_tridiagonal(
    matvec: MatVec, v0: torch.Tensor, steps: int, dtype: torch.dtype = torch.float64
) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` Lanczos steps from ``v0`` with full reorthogonalisation.

    Returns ``(alpha, beta)``: the diagonal (length m) and off-diagonal (length
    m - 1) of the tridiagonal matrix ``T_m = V^T A V``; m is smaller than
    ``steps`` when the Krylov space becomes invariant (breakdown), which is exact.
    Costs m products. The basis is kept in ``dtype``.
    """
    n = v0.numel()
    steps = int(min(steps, n))
    basis = torch.zeros(steps, n, dtype=dtype, device=v0.device)
    v = v0.to(dtype).reshape(-1)
    v = v / torch.linalg.vector_norm(v)
    alphas: list[float] = []
    betas: list[float] = []
    scale = 0.0
    for j in range(steps):
        basis[j] = v
        w = matvec(v).to(dtype)
        w, h = _orthogonalise(basis[: j + 1], w)
        alpha = float(h[j])
        alphas.append(alpha)
        beta = float(torch.linalg.vector_norm(w))
        scale = max(scale, abs(alpha), beta)
        if j == steps - 1:
            break
        if beta <= 100 * float(torch.finfo(dtype).eps) * max(scale, np.finfo(float).tiny):
            break  # invariant subspace: T_m already holds the exact quadrature
        betas.append(beta)
        v = w / beta
    return np.asarray(alphas), np.asarray(betas[: len(alphas) - 1])


@dataclass
class LanczosResult:
    """Ritz values (ascending) of the wanted ends with their Ritz vectors and residual estimates."""

    values: np.ndarray
    vectors: torch.Tensor  # n x len(values), float64, orthonormal columns
    residuals: np.ndarray  # ||A y - theta y|| estimated as |beta s_m| (exact in exact arithmetic)
    scale: float  # max |Ritz value| seen: the estimate of ||A||
    n_products: int
    converged: bool
    restarts: int


def thick_restart_lanczos(
    matvec: MatVec,
    n: int,
    k_low: int,
    k_high: int,
    *,
    tol: float = 1e-4,
    basis_size: int | None = None,
    max_products: int | None = None,
    v0: torch.Tensor | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
    basis_dtype: torch.dtype = torch.float64,
    callback: Callable[[int, np.ndarray], None] | None = None,
) -> LanczosResult:
    """The ``k_low`` smallest and ``k_high`` largest algebraic eigenvalues of a symmetric operator.

    A Ritz pair counts as converged when its residual ``|beta s_m|`` is at most
    ``tol * max|theta|``; by the Bauer-Fike / Kahan bound the eigenvalue is then
    within that residual of a true eigenvalue (and within residual^2 / gap of it
    when it is isolated). The basis holds ``basis_size`` vectors (default
    ``max(2 (k_low + k_high) + 10, 40)``); when it is full, the wanted Ritz vectors
    and the nearest of the others at both ends, half the basis in all, are kept
    (thick restart) and the iteration continues. The default ``max_products`` is
    ``max(50 * basis_size, 1000)``; a run that hits it returns ``converged=False``.
    ``callback(n_products, ritz_values)`` is called after every product (used by
    the benchmark to record the convergence trajectory).
    """
    want = k_low + k_high
    if want < 1:
        raise ValueError("ask for at least one eigenvalue")
    m = basis_size or max(2 * want + 10, 40)
    m = int(min(m, n))
    max_products = int(max_products or max(50 * m, 1000))
    generator = torch.Generator().manual_seed(seed)
    if v0 is None:
        v = _random_unit(n, generator, device, basis_dtype)
    else:
        v = v0.to(device=device, dtype=basis_dtype).reshape(-1)
        v = v / torch.linalg.vector_norm(v)

    basis = torch.zeros(m + 1, n, dtype=basis_dtype, device=device)  # one basis vector per row
    basis[0] = v
    T = np.zeros((m, m))
    p = 0  # columns of the basis already in the decomposition A V_p = V_p T_p + coupling
    products = 0
    restarts = 0
    scale = 0.0

    def wanted_indices(size: int) -> np.ndarray:
        low = set(range(min(k_low, size)))
        high = set(range(max(size - k_high, 0), size))
        return np.array(sorted(low | high), dtype=int)

    while True:
        for j in range(p, m):
            w = matvec(basis[j]).to(basis_dtype)
            products += 1
            w, h = _orthogonalise(basis[: j + 1], w)
            hn = h.detach().cpu().numpy().astype(np.float64)
            T[: j + 1, j] = hn
            T[j, : j + 1] = hn
            beta = float(torch.linalg.vector_norm(w))
            size = j + 1
            theta, S = scipy.linalg.eigh(T[:size, :size])
            scale = max(scale, float(np.max(np.abs(theta))), np.finfo(float).tiny)
            full_space = size >= n
            invariant = full_space or beta <= 1e-12 * scale
            if invariant:
                beta = 0.0  # the Krylov space is invariant: its Ritz pairs are exact
            idx = wanted_indices(size)
            res = np.abs(beta * S[size - 1, idx])
            if callback is not None:
                callback(products, theta)
            enough = len(idx) >= min(want, n)
            converged = full_space or (enough and bool(np.all(res <= tol * scale)))
            if converged or products >= max_products:
                vectors = basis[:size].T @ torch.as_tensor(S[:, idx], dtype=basis_dtype, device=device)
                return LanczosResult(
                    values=theta[idx],
                    vectors=vectors.to(torch.float64),
                    residuals=res,
                    scale=scale,
                    n_products=products,
                    converged=converged,
                    restarts=restarts,
                )
            if invariant:  # continue with a fresh direction orthogonal to the basis
                w = _random_unit(n, generator, device, basis_dtype)
                w, _ = _orthogonalise(basis[: j + 1], w)
                w = w / torch.linalg.vector_norm(w)
            else:
                w = w / beta
            basis[j + 1] = w
        # thick restart: keep the wanted Ritz vectors and about as many neighbours again
        theta, S = scipy.linalg.eigh(T)
        extra = max((m - want) // 2, 1)
        keep_low = min(k_low + (extra + 1) // 2, m)
        keep_high = min(k_high + extra // 2, m - keep_low)
        keep = np.r_[np.arange(keep_low), np.arange(m - keep_high, m)].astype(int)
        p = len(keep)
        new_rows = torch.as_tensor(S[:, keep].T.copy(), dtype=basis_dtype, device=device) @ basis[:m]
        residual_vec = basis[m].clone()
        basis[:p] = new_rows
        basis[p] = residual_vec
        T[:] = 0.0
        T[np.arange(p), np.arange(p)] = theta[keep]
        # The coupling of the kept Ritz vectors to the residual vector (beta * S[m-1, keep])
        # is recomputed by the next step as V^T A v_p, so nothing else needs storing.
        restarts += 1
