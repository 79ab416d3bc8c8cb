"""Directions in one network's weight space, around a point of training, for loss slices.

Every direction is a flat float64 vector over the network's trainable parameters, in
``named_parameters`` order (the order :func:`analysis.probe_loss.gan_loss` uses), so it can be
stored as one array and added to the flattened weights. The kinds (``--dirs``):

- ``random``: i.i.d. standard Gaussian entries, not rescaled (its norm is about the square root of
  the parameter count, so a unit step is a large move).
- ``filter``: a Gaussian direction, filter-normalised as Li et al. (NeurIPS 2018) do: every
  parameter tensor of two or more dimensions is cut into filters along its first dimension (a
  Linear layer's output neuron, a Conv2d's output channel; a ConvTranspose2d's *input* channel, as
  their code does for any layout), and each filter of the direction is scaled to the Frobenius norm
  of the same filter of the weights (``d_f <- d_f * ||w_f|| / (||d_f|| + 1e-10)``). Tensors of
  fewer than two dimensions, biases and the normalisation layers' scale and shift, are set to zero
  (their code's ``ignore='biasbn'``): the slice moves the filters only, and keeps the biases and
  BatchNorm parameters of the point.
- ``hessian``: the top eigenvectors (largest algebraic eigenvalues) of the probe loss's Hessian at
  the point, by thick-restart Lanczos (:mod:`analysis.hessian.eigen`), unit norm.
- ``pca``: the first principal components of the stored checkpoints' offsets from the point
  (:func:`pca_directions`), orthonormal, with the share of the offsets' squared norm each explains.
- ``to:STEP``: the line to another checkpoint, ``theta_STEP - theta_S`` (not normalised), so that
  coordinate 0 is the point and 1 the other checkpoint.

Random draws come from a ``torch.Generator`` seeded with the measurement's seed (the network's
seed offset included), so the same seed gives the same directions on any machine with the same
PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from landscape.errors import LandscapeError

#: The direction kinds of ``--dirs`` (besides ``to:STEP``).
DIRECTION_KINDS = ("filter", "random", "hessian", "pca")


def flatten(tensors: Sequence[torch.Tensor], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """One flat vector of ``tensors`` (detached, on the CPU, as ``dtype``)."""
    return torch.cat([t.detach().reshape(-1).to("cpu", dtype) for t in tensors])


def unflatten(flat: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``flat`` cut into tensors shaped like ``like`` (views, in order)."""
    out, start = [], 0
    for t in like:
        out.append(flat[start:start + t.numel()].view(t.shape))
        start += t.numel()
    if start != flat.numel():
        raise ValueError(f"a direction of {flat.numel()} entries does not fit parameters of {start}")
    return out


def random_direction(params: Sequence[torch.Tensor], generator: torch.Generator) -> torch.Tensor:
    """A flat direction of i.i.d. standard Gaussian entries, one per parameter (float64)."""
    return torch.cat([torch.randn(p.numel(), generator=generator, dtype=torch.float64) for p in params])


def filter_normalise(direction: torch.Tensor, params: Sequence[torch.Tensor]) -> torch.Tensor:
    """``direction`` filter-normalised to ``params`` (Li et al., ``ignore='biasbn'``): see the module docstring.

    Each filter (a slice along the first dimension) of every parameter tensor of two or more
    dimensions gets the Frobenius norm of the weights' filter; tensors of one dimension (biases,
    normalisation scales and shifts) and scalars are zeroed.
    """
    parts = []
    for d, w in zip(unflatten(direction.to(torch.float64), params), params):
        w = w.detach().to("cpu", torch.float64)
        if w.dim() <= 1:
            parts.append(torch.zeros(w.numel(), dtype=torch.float64))
            continue
        d_rows, w_rows = d.reshape(d.shape[0], -1), w.reshape(w.shape[0], -1)
        scale = w_rows.norm(dim=1, keepdim=True) / (d_rows.norm(dim=1, keepdim=True) + 1e-10)
        parts.append((d_rows * scale).reshape(-1))
    return torch.cat(parts)


def filter_direction(params: Sequence[torch.Tensor], generator: torch.Generator) -> torch.Tensor:
    """A Gaussian direction, filter-normalised to ``params`` (:func:`filter_normalise`)."""
    return filter_normalise(random_direction(params, generator), params)


@dataclass
class PCAPlane:
    """The plane of the first principal components of checkpoints' offsets from a point, and their coordinates.

    ``directions``: (k, n) orthonormal rows; ``explained``: the share of the offsets' summed squared
    norm along each direction; ``coords``: (m, k) coordinates of each checkpoint (its offset
    projected on the directions); ``residual``: (m,) the norm of the part of each offset off the
    plane, so that ``||theta_i - (theta + coords_i @ directions)|| == residual_i``.
    """

    directions: np.ndarray
    explained: np.ndarray
    coords: np.ndarray
    residual: np.ndarray
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))


def pca_directions(center: np.ndarray | torch.Tensor, points: np.ndarray | torch.Tensor, k: int = 2,
                   steps: Sequence[int] | None = None) -> PCAPlane:
    """The first ``k`` principal components of the offsets ``points - center`` (Li et al., section 7).

    ``points`` is (m, n): the flattened checkpoints (the point itself may be among them; its offset
    is zero). The components are the right singular vectors of the uncentred offset matrix, so the
    plane passes through ``center`` (the point the surface is drawn around) and best fits the path
    in the least-squares sense; each direction's sign is chosen so that the checkpoints' mean
    coordinate is not positive (the path arrives at the point from the negative side). At least
    ``k`` offsets that are not all on a line are needed.
    """
    center = np.asarray(center, dtype=np.float64).reshape(-1)
    offsets = np.asarray(points, dtype=np.float64).reshape(len(points), -1) - center
    nonzero = int(np.sum(np.linalg.norm(offsets, axis=1) > 0))
    if nonzero < k:
        raise LandscapeError(f"The PCA plane needs at least {k} checkpoints other than the point, got {nonzero}.")
    # the SVD of the small Gram matrix: m x m, whatever the parameter count
    gram = offsets @ offsets.T
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0, None), vectors[:, order]
    if values[k - 1] <= 1e-12 * max(values[0], np.finfo(float).tiny):
        raise LandscapeError("The checkpoints' offsets from the point lie on a line, so they span no PCA plane; "
                             "use --dirs to:STEP for the line.")
    sv = np.sqrt(values[:k])
    directions = (vectors[:, :k].T @ offsets) / sv[:, None]
    # re-orthonormalise against round-off (Gram-Schmidt; the rows are orthonormal up to it)
    q, _ = np.linalg.qr(directions.T)
    directions = q.T * np.sign(np.sum(q.T * directions, axis=1))[:, None]
    coords = offsets @ directions.T
    flip = np.where(coords.mean(axis=0) > 0, -1.0, 1.0)
    directions, coords = directions * flip[:, None], coords * flip
    residual = np.linalg.norm(offsets - coords @ directions, axis=1)
    total = float(np.sum(values))
    explained = values[:k] / total if total > 0 else np.zeros(k)
    return PCAPlane(directions, explained, coords, residual,
                    np.asarray(list(steps) if steps is not None else range(len(points)), dtype=int))


def hessian_directions(loss_fn, params: Sequence[torch.Tensor], k: int = 2, *, seed: int = 0, tol: float = 1e-3,
                       max_products: int = 400, what: str = "the loss") -> tuple[torch.Tensor, np.ndarray]:
    """The unit eigenvectors of the ``k`` largest Hessian eigenvalues of ``loss_fn`` at ``params`` and those values.

    Thick-restart Lanczos (:func:`analysis.hessian.eigen.extreme_eigenvalues`, ``method="lanczos"``)
    with at most ``max_products`` Hessian-vector products. One sentence when they cannot be had:
    a Hessian that is zero at the point, or Ritz vectors that have not converged to ``tol`` (relative
    to the largest |eigenvalue|) within the products.
    """
    from analysis.hessian.eigen import extreme_eigenvalues
    from analysis.hessian.hvp import HessianVectorProduct

    hvp = HessianVectorProduct(loss_fn, list(params))
    if hvp.n < 2 * k:
        raise LandscapeError(f"{what} has {hvp.n} parameters, too few for {k} top Hessian eigenvectors.")
    try:
        result = extreme_eigenvalues(hvp, k, method="lanczos", tol=tol, seed=seed, max_products=max_products)
    finally:
        hvp.release()
    top = np.argsort(result.values)[::-1][:k]
    if not result.scale > 0:
        raise LandscapeError(f"The Hessian of {what} is zero at this point, so it has no top eigenvectors; "
                             "use --dirs filter.")
    if not bool(np.all(result.converged[top])):
        worst = float(np.max(result.residuals[top]) / result.scale)
        raise LandscapeError(f"The top Hessian eigenvectors of {what} did not converge within {max_products} "
                             f"Hessian-vector products (relative residual {worst:.2g} > {tol:g}); raise "
                             "--hessian-products or use --dirs filter.")
    vectors = result.vectors[:, torch.as_tensor(top.copy())].T.to(torch.float64)
    return vectors, np.asarray(result.values)[top]


def line_direction(start: Sequence[torch.Tensor], end: Sequence[torch.Tensor]) -> torch.Tensor:
    """``end - start`` flattened (float64): coordinate 0 is ``start``, 1 is ``end``."""
    return flatten(end) - flatten(start)


__all__ = ["DIRECTION_KINDS", "PCAPlane", "filter_direction", "filter_normalise", "flatten", "hessian_directions",
           "line_direction", "pca_directions", "random_direction", "unflatten"]
