"""The game's joint gradient field and products with its Jacobian, for any two players.

A two-player game is two losses, ``L_1`` (player 1, parameters ``theta``) and ``L_2``
(player 2, parameters ``phi``), each a function of *both* players' parameters. Its joint
gradient field is

    v(theta, phi) = (grad_theta L_1, grad_phi L_2)

(for a GAN: player 1 is the generator, player 2 the discriminator), and its Jacobian
``J = dv / d(theta, phi)`` is not symmetric: the diagonal blocks are the players' own
Hessians, the off-diagonal blocks their interaction.

**Convention.** The toolkit reports the Jacobian of the players' *gradients* ``v`` (as Berard
et al., 2020 do), not of the update direction ``-v`` (Mescheder et al., 2018): simultaneous
gradient descent ``w <- w - lr * v(w)`` is locally stable at a stationary point when every
eigenvalue of ``J`` has a *positive* real part. Mescheder's eigenvalues are the negatives of ours.

J is never materialised. :class:`GameJacobian` builds the gradient field once with
``create_graph=True`` and keeps the graph:

- ``rmatvec(u) = J^T u`` is one backward pass through it (a vector-Jacobian product, the cost
  of a Hessian-vector product). ``J^T`` has the same eigenvalues as ``J``, so the eigensolver
  works on ``J^T``;
- ``matvec(u) = J u`` uses the double-vjp trick: ``J^T r`` for a symbolic ``r`` is built once
  with a graph (it is linear in ``r``), and ``J u`` is its gradient with respect to ``r``
  against ``u``: one backward pass through that second graph per product.

Vectors are flat (player 1's parameters first, then player 2's, in the order given).
Parameters a loss does not reach give zero rows and columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from landscape.errors import LandscapeError

LossFn = Callable[[], torch.Tensor]


def _flat(tensors: Sequence[torch.Tensor | None], like: Sequence[torch.Tensor]) -> torch.Tensor:
    """Concatenate per-parameter tensors (None as zeros) into one flat vector."""
    parts = [torch.zeros(p.numel(), dtype=p.dtype, device=p.device) if t is None else t.reshape(-1)
             for t, p in zip(tensors, like)]
    return torch.cat(parts) if parts else torch.zeros(0)


class GameJacobian:
    """The joint gradient field ``v`` of a two-player game and products with its Jacobian ``J``.

    ``loss_1`` and ``loss_2`` are deterministic closures (the same scalar at every call) of
    both players' parameters; ``params_1`` and ``params_2`` are leaf tensors with
    ``requires_grad=True``. ``n_products`` counts the products with ``J`` or ``J^T`` made so
    far (the unit every estimator here reports its cost in).
    """

    def __init__(self, loss_1: LossFn, params_1: Sequence[torch.Tensor], loss_2: LossFn,
                 params_2: Sequence[torch.Tensor], *, callback: Callable[[int], None] | None = None) -> None:
        self.loss_1, self.loss_2 = loss_1, loss_2
        self.params_1, self.params_2 = list(params_1), list(params_2)
        self.params = self.params_1 + self.params_2
        if not self.params_1 or not self.params_2:
            raise LandscapeError("A two-player game needs parameters for both players; one parameter list is empty.")
        for p in self.params:
            if not p.requires_grad:
                raise LandscapeError("Every parameter of the game must have requires_grad=True; one does not.")
        self.n_1 = int(sum(p.numel() for p in self.params_1))
        self.n_2 = int(sum(p.numel() for p in self.params_2))
        self.n = self.n_1 + self.n_2
        self.dtype = self.params[0].dtype
        self.device = self.params[0].device
        self.callback = callback
        self.n_products = 0
        self._field: list[torch.Tensor] | None = None  # v, per parameter, with its graph
        self._losses: tuple[float, float] | None = None
        self._dual: tuple[torch.Tensor, list[torch.Tensor], list[int]] | None = None  # r, J^T r (graph), index

    # -- graphs --------------------------------------------------------------
    def _grad_or_zero(self, loss: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor]:
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]

    def field_parts(self) -> list[torch.Tensor]:
        """``v`` per parameter tensor, with the graph for differentiating again (built once)."""
        if self._field is None:
            l1, l2 = self.loss_1(), self.loss_2()
            for name, value in (("first player's", l1), ("second player's", l2)):
                if value.numel() != 1:
                    raise LandscapeError(f"The {name} loss must be a scalar, but it has shape {tuple(value.shape)}.")
                if not torch.isfinite(value.detach()).all():
                    raise LandscapeError(f"The {name} loss is not finite at these parameters, so the game has no Jacobian.")
            self._losses = (float(l1.detach()), float(l2.detach()))
            self._field = (self._grad_or_zero(l1.reshape(()), self.params_1)
                           + self._grad_or_zero(l2.reshape(()), self.params_2))
        return self._field

    def release(self) -> None:
        """Drop the retained graphs (frees the activations they hold)."""
        self._field = None
        self._dual = None

    # -- values --------------------------------------------------------------
    def losses(self) -> tuple[float, float]:
        """The two players' losses at the parameters."""
        self.field_parts()
        assert self._losses is not None
        return self._losses

    def field(self) -> torch.Tensor:
        """The flat joint gradient field ``v`` (detached)."""
        return _flat([g.detach() for g in self.field_parts()], self.params)

    def split(self, vector: torch.Tensor) -> list[torch.Tensor]:
        """A flat vector as tensors shaped like the parameters."""
        return [chunk.view_as(p) for chunk, p in zip(torch.split(vector, [p.numel() for p in self.params]), self.params)]

    def as_tensor(self, u: torch.Tensor | np.ndarray) -> torch.Tensor:
        t = torch.as_tensor(u).reshape(-1)
        if t.numel() != self.n:
            raise ValueError(f"vector has {t.numel()} entries, the game has {self.n} parameters")
        return t.to(dtype=self.dtype, device=self.device)

    def _count(self) -> None:
        self.n_products += 1
        if self.callback is not None:
            self.callback(self.n_products)

    # -- products ------------------------------------------------------------
    def rmatvec(self, u: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``J^T u`` (one backward pass through the gradient field's graph)."""
        u = self.as_tensor(u)
        parts = self.field_parts()
        live = [i for i, g in enumerate(parts) if g.requires_grad]
        self._count()
        if not live:
            return torch.zeros(self.n, dtype=self.dtype, device=self.device)
        pieces = self.split(u)
        out = torch.autograd.grad([parts[i] for i in live], self.params, grad_outputs=[pieces[i] for i in live],
                                  retain_graph=True, allow_unused=True)
        return _flat([None if t is None else t.detach() for t in out], self.params)

    def matvec(self, u: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``J u`` by the double-vjp trick (one backward pass through the graph of ``J^T r``)."""
        u = self.as_tensor(u)
        if self._dual is None:
            parts = self.field_parts()
            r = torch.zeros(self.n, dtype=self.dtype, device=self.device, requires_grad=True)
            pieces = self.split(r)
            live = [i for i, g in enumerate(parts) if g.requires_grad]
            jt: list[torch.Tensor] = []
            index: list[int] = []
            if live:
                outs = torch.autograd.grad([parts[i] for i in live], self.params,
                                           grad_outputs=[pieces[i] for i in live], create_graph=True, allow_unused=True)
                index = [i for i, t in enumerate(outs) if t is not None and t.requires_grad]
                jt = [outs[i] for i in index]
            self._dual = (r, jt, index)
        r, jt, index = self._dual
        self._count()
        if not jt:
            return torch.zeros(self.n, dtype=self.dtype, device=self.device)
        # J^T r is linear in r: its gradient w.r.t. r against u is J u
        pieces = self.split(u)
        (out,) = torch.autograd.grad(jt, r, grad_outputs=[pieces[i] for i in index], retain_graph=True,
                                     allow_unused=True)
        return torch.zeros(self.n, dtype=self.dtype, device=self.device) if out is None else out.detach()

    def dense(self, dtype: torch.dtype = torch.float64) -> np.ndarray:
        """The full ``n x n`` Jacobian from ``n`` products ``J^T e_i`` (exact mode: small games only)."""
        out = np.empty((self.n, self.n), dtype=np.float64 if dtype == torch.float64 else np.float32)
        e = torch.zeros(self.n, dtype=self.dtype, device=self.device)
        for i in range(self.n):
            e[i] = 1.0
            out[i, :] = self.rmatvec(e).to(dtype=dtype, device="cpu").numpy()  # row i of J
            e[i] = 0.0
        return out


__all__ = ["GameJacobian"]
