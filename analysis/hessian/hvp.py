"""Hessian-vector products of a scalar loss with respect to a list of parameters.

The Hessian is never materialised: ``H v`` is the gradient of ``g(theta) . v``
where ``g`` is the loss gradient built with ``create_graph=True`` (double
backward). The gradient graph is built once and reused for every product
(``retain_graph``), so a product costs one backward pass through the gradient
graph instead of a fresh forward + backward + backward.

Vectors are flat: the parameters are concatenated in the order given, so every
estimator (Lanczos, Hutchinson, ...) works on plain 1-D tensors. Parameters that
get no gradient (unused by the loss, or entering it only linearly) give zero
rows and columns instead of crashing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from landscape.errors import LandscapeError

LossFn = Callable[[], torch.Tensor]


class HessianVectorProduct:
    """Callable ``v -> H v`` for the Hessian of ``loss_fn()`` w.r.t. ``params``.

    ``loss_fn`` must return the same scalar every call (a deterministic closure
    over fixed data); ``params`` are leaf tensors with ``requires_grad=True``.
    ``n_products`` counts the products computed so far, the unit in which all
    estimators here report their cost.
    """

    def __init__(
        self,
        loss_fn: LossFn,
        params: Sequence[torch.Tensor],
        *,
        reuse_graph: bool = True,
        callback: Callable[[int], None] | None = None,
    ) -> None:
        self.loss_fn = loss_fn
        self.params = list(params)
        if not self.params:
            raise LandscapeError("The Hessian needs at least one parameter, but the parameter list is empty.")
        for p in self.params:
            if not p.requires_grad:
                raise LandscapeError("Every parameter of the Hessian must have requires_grad=True; one does not.")
        self.numels = [p.numel() for p in self.params]
        self.n = int(sum(self.numels))
        self.dtype = self.params[0].dtype
        self.device = self.params[0].device
        self.reuse_graph = reuse_graph
        self.callback = callback  # called with n_products after every product (progress bars)
        self.n_products = 0
        self._grads: list[torch.Tensor | None] | None = None
        self._loss: torch.Tensor | None = None

    # -- graph ---------------------------------------------------------------
    def _build(self) -> list[torch.Tensor | None]:
        """Evaluate the loss and its gradient with a graph for differentiating again."""
        loss = self.loss_fn()
        if loss.numel() != 1:
            raise LandscapeError(f"The loss for the Hessian must be a scalar, but it has shape {tuple(loss.shape)}.")
        if not torch.isfinite(loss.detach()).all():
            raise LandscapeError("The loss is not finite at these parameters, so its Hessian is undefined.")
        grads = torch.autograd.grad(loss.reshape(()), self.params, create_graph=True, allow_unused=True)
        self._loss = loss.detach().reshape(())
        self._grads = list(grads)
        return self._grads

    def _current_grads(self) -> list[torch.Tensor | None]:
        if self._grads is None or not self.reuse_graph:
            return self._build()
        return self._grads

    def release(self) -> None:
        """Drop the retained gradient graph (frees the activations it holds)."""
        self._grads = None
        self._loss = None

    # -- public --------------------------------------------------------------
    def loss(self) -> float:
        """The loss value at the parameters."""
        self._current_grads()
        assert self._loss is not None
        return float(self._loss)

    def gradient(self) -> torch.Tensor:
        """The flat loss gradient (zeros for parameters without one)."""
        grads = self._current_grads()
        return self.flatten([None if g is None else g.detach() for g in grads])

    def flatten(self, tensors: Sequence[torch.Tensor | None]) -> torch.Tensor:
        """Concatenate per-parameter tensors into one flat vector, ``None`` as zeros."""
        out = torch.zeros(self.n, dtype=self.dtype, device=self.device)
        offset = 0
        for t, numel in zip(tensors, self.numels):
            if t is not None:
                out[offset : offset + numel] = t.reshape(-1)
            offset += numel
        return out

    def unflatten(self, vector: torch.Tensor) -> list[torch.Tensor]:
        """Split a flat vector into tensors shaped like the parameters."""
        return [chunk.view_as(p) for chunk, p in zip(torch.split(vector, self.numels), self.params)]

    def as_tensor(self, v: torch.Tensor | np.ndarray) -> torch.Tensor:
        """A flat vector as a tensor of the parameters' dtype and device."""
        t = torch.as_tensor(v).reshape(-1)
        if t.numel() != self.n:
            raise ValueError(f"vector has {t.numel()} entries, the Hessian has {self.n} rows")
        return t.to(dtype=self.dtype, device=self.device)

    def __call__(self, v: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``H v`` as a flat tensor of the parameters' dtype, on their device."""
        v = self.as_tensor(v)
        grads = self._current_grads()
        live = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]
        self.n_products += 1
        if not live:
            out = torch.zeros(self.n, dtype=self.dtype, device=self.device)
        else:
            pieces = self.unflatten(v)
            hv = torch.autograd.grad(
                [grads[i] for i in live],
                self.params,
                grad_outputs=[pieces[i] for i in live],
                retain_graph=self.reuse_graph,
                allow_unused=True,
            )
            out = self.flatten([None if h is None else h.detach() for h in hv])
        if self.callback is not None:
            self.callback(self.n_products)
        return out


def hessian_matrix(hvp: HessianVectorProduct, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The full ``n x n`` Hessian by stacking products with the unit vectors (exact mode).

    Costs ``n`` products and ``n^2`` numbers: meant for small networks only. The
    result is symmetrised, removing the float round-off asymmetry of double backward.
    """
    n = hvp.n
    out = torch.empty(n, n, dtype=dtype)
    eye = torch.zeros(n, dtype=hvp.dtype, device=hvp.device)
    for i in range(n):
        eye[i] = 1.0
        out[:, i] = hvp(eye).to(dtype=dtype, device="cpu")
        eye[i] = 0.0
    return 0.5 * (out + out.T)
