"""One estimate of a game's local dynamics: :func:`analyse_game` on any :class:`~analysis.game.operator.GameJacobian`.

It gathers the eigenvalues of the asked parts of ``J``'s spectrum (:mod:`analysis.game.spectrum`),
the block structure (the players' own Hessians' extreme eigenvalues, by the Hessian code's
:func:`analysis.hessian.extreme_eigenvalues`, and the largest singular values of the two
interaction blocks, by scipy ``svds``), the rotation measures, ``||v||``, and the label
(:mod:`analysis.game.labels`). Exact mode takes all of it from the dense ``J``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg as sla
import torch

from analysis.game.labels import LABEL_TOL, GameLabel, Rotation, label_point, rotation_measures
from analysis.game.operator import GameJacobian
from analysis.game.spectrum import EXACT_MAX_PARAMS, GameEigen, check_which, game_eigenvalues


@dataclass
class GameBlocks:
    """How ``J = [[H_1, B_12], [B_21, H_2]]`` splits: the players' own Hessians and the interaction."""

    hessian_1: tuple[float, float]  # (lambda_min, lambda_max) of player 1's own Hessian (H_G for a GAN)
    hessian_2: tuple[float, float]  # ... of player 2's (H_D)
    sigma_12: float  # largest singular value of d v_1 / d phi (how player 2 moves player 1's gradient)
    sigma_21: float  # largest singular value of d v_2 / d theta
    n_products: int
    method: str

    @property
    def interaction_ratio(self) -> float:
        """Largest interaction singular value over the largest own-Hessian |eigenvalue|: how much of J is interaction."""
        own = max(abs(v) for v in (*self.hessian_1, *self.hessian_2))
        inter = max(self.sigma_12, self.sigma_21)
        return float(inter / own) if own > 0 else float("inf") if inter > 0 else float("nan")


@dataclass
class GameResult:
    """Everything estimated about a game's Jacobian at one point."""

    parts: dict[str, GameEigen]  # which -> eigenvalues of that part of the spectrum
    blocks: GameBlocks | None
    rotation: Rotation
    label: GameLabel
    v_norm: float
    v_norm_1: float
    v_norm_2: float
    losses: tuple[float, float]
    n_1: int
    n_2: int
    n_products: int
    seconds: float
    step: int | None = None

    @property
    def values(self) -> np.ndarray:
        """Every computed eigenvalue (all parts, duplicates between parts removed)."""
        return _unique(np.concatenate([p.values for p in self.parts.values()]))

    @property
    def spectral_radius(self) -> float:
        return float(np.max(np.abs(self.values), initial=0.0))

    @property
    def all_converged(self) -> bool:
        return all(p.all_converged for p in self.parts.values())


def _unique(values: np.ndarray, rel: float = 1e-9) -> np.ndarray:
    out: list[complex] = []
    scale = float(np.max(np.abs(values), initial=0.0))
    for v in values:
        if not any(abs(v - w) <= rel * max(scale, 1e-300) for w in out):
            out.append(complex(v))
    return np.asarray(out, dtype=complex)


def _block_operator(op: GameJacobian, rows: int) -> sla.LinearOperator:
    """The off-diagonal block of J whose rows are player ``rows`` (1: d v_1/d phi; 2: d v_2/d theta)."""
    n1, n = op.n_1, op.n
    out_slice, in_slice = (slice(0, n1), slice(n1, n)) if rows == 1 else (slice(n1, n), slice(0, n1))
    shape = (n1, n - n1) if rows == 1 else (n - n1, n1)

    def embed(x: np.ndarray, where: slice) -> torch.Tensor:
        full = torch.zeros(n, dtype=torch.float64)
        full[where] = torch.from_numpy(np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1)))
        return full

    def mv(x: np.ndarray) -> np.ndarray:
        return op.matvec(embed(x, in_slice)).double()[out_slice].numpy()

    def rmv(y: np.ndarray) -> np.ndarray:
        return op.rmatvec(embed(y, out_slice)).double()[in_slice].numpy()

    return sla.LinearOperator(shape, matvec=mv, rmatvec=rmv, dtype=np.float64)


def _largest_singular(A: sla.LinearOperator, tol: float, seed: int) -> float:
    if min(A.shape) <= 2:
        dense = np.column_stack([A.matvec(e) for e in np.eye(A.shape[1])])
        return float(np.linalg.svd(dense, compute_uv=False)[0])
    v0 = np.random.default_rng(seed).standard_normal(min(A.shape))
    try:
        s = sla.svds(A, k=1, tol=tol, v0=v0, return_singular_vectors=False, maxiter=300)
    except sla.ArpackNoConvergence as err:  # pragma: no cover - what there is
        s = np.asarray(err.eigenvalues)
    return float(np.max(s)) if len(s) else float("nan")


def game_blocks(op: GameJacobian, *, dense: np.ndarray | None = None, tol: float = 1e-3, seed: int = 0) -> GameBlocks:
    """The players' own Hessians' extreme eigenvalues and the interaction blocks' largest singular values.

    From ``dense`` (exact mode) when given, else: the Hessians by the Hessian code (thick-restart
    Lanczos on :class:`analysis.hessian.HessianVectorProduct` of each player's loss and own
    parameters; exact for small players) and the singular values by scipy ``svds`` on the
    blocks as LinearOperators (``J`` and ``J^T`` products).
    """
    n1 = op.n_1
    if dense is not None:
        h1 = np.linalg.eigvalsh(0.5 * (dense[:n1, :n1] + dense[:n1, :n1].T))
        h2 = np.linalg.eigvalsh(0.5 * (dense[n1:, n1:] + dense[n1:, n1:].T))
        s12 = float(np.linalg.svd(dense[:n1, n1:], compute_uv=False)[0])
        s21 = float(np.linalg.svd(dense[n1:, :n1], compute_uv=False)[0])
        return GameBlocks((float(h1[0]), float(h1[-1])), (float(h2[0]), float(h2[-1])), s12, s21, 0, "exact")
    from analysis.hessian.eigen import extreme_eigenvalues
    from analysis.hessian.hvp import HessianVectorProduct

    products = 0
    hessians = []
    for loss, params in ((op.loss_1, op.params_1), (op.loss_2, op.params_2)):
        hvp = HessianVectorProduct(loss, params)
        eig = extreme_eigenvalues(hvp, 1, tol=tol, seed=seed)
        hvp.release()
        products += hvp.n_products
        hessians.append((float(eig.lambda_min), float(eig.lambda_max)))
    before = op.n_products
    s12 = _largest_singular(_block_operator(op, 1), tol, seed)
    s21 = _largest_singular(_block_operator(op, 2), tol, seed + 1)
    products += op.n_products - before
    return GameBlocks(hessians[0], hessians[1], s12, s21, products, "lanczos+svds")


def analyse_game(
    op: GameJacobian,
    *,
    k: int = 6,
    which: str | Sequence[str] = ("LM",),
    method: str = "auto",
    tol: float = 1e-3,
    blocks: bool = True,
    label_tol: float = LABEL_TOL,
    seed: int = 0,
    step: int | None = None,
    exact_max_params: int = EXACT_MAX_PARAMS,
) -> GameResult:
    """The eigenvalues of the asked parts of ``J``'s spectrum, the blocks, rotation, ``||v||`` and the label.

    ``which``: one or more of ``LM``, ``LR``, ``SR``, ``LI`` (:data:`analysis.game.spectrum.WHICH`);
    ``tol``: the eigensolvers' relative residual; ``blocks``: also estimate the players' own
    Hessians and the interaction blocks (needed for the Nash flag); ``label_tol``: the labels'
    relative tolerance. In exact mode the whole spectrum is known, so the label rests on all of it.
    """
    start = time.perf_counter()
    before = op.n_products
    parts: dict[str, GameEigen] = {}
    for w in ([which] if isinstance(which, str) else list(which)):
        w = check_which(w)
        parts[w] = game_eigenvalues(op, k, w, method=method, tol=tol, seed=seed, exact_max_params=exact_max_params)
    first = next(iter(parts.values()))
    dense = first.dense
    eig_products = op.n_products - before
    block = game_blocks(op, dense=dense, tol=tol, seed=seed) if blocks or dense is not None else None
    if first.spectrum is not None:
        basis_values, basis = first.spectrum, "the whole spectrum (exact)"
    else:
        basis_values = _unique(np.concatenate([p.values for p in parts.values()]))
        basis = ", ".join(f"{w} k={p.k}" for w, p in parts.items())
    scale = float(np.max(np.abs(basis_values), initial=0.0))
    label = label_point(basis_values, basis=basis, hessian_1=None if block is None else block.hessian_1,
                        hessian_2=None if block is None else block.hessian_2, tol_rel=label_tol, scale=scale)
    computed = _unique(np.concatenate([p.values for p in parts.values()]))
    rotation = rotation_measures(computed, label_tol * scale)
    v = op.field().double()
    losses = op.losses()
    return GameResult(
        parts=parts, blocks=block, rotation=rotation, label=label,
        v_norm=float(torch.linalg.vector_norm(v)), v_norm_1=float(torch.linalg.vector_norm(v[: op.n_1])),
        v_norm_2=float(torch.linalg.vector_norm(v[op.n_1:])), losses=losses, n_1=op.n_1, n_2=op.n_2,
        n_products=eig_products + (0 if block is None else block.n_products),
        seconds=time.perf_counter() - start, step=step,
    )


__all__ = ["GameBlocks", "GameResult", "analyse_game", "game_blocks"]
