"""The probe loss at many weight vectors at once: vectorised slices and batched gradients.

:class:`BatchedLoss` wraps one player's probe loss (:func:`analysis.probe_loss.gan_loss`: the same
loss, BatchNorm and dropout handling as the Hessian estimates) so that it can be evaluated at a
batch of flat weight vectors in one call: ``torch.func.functional_call`` swaps the network's
parameters for the batch's, and ``torch.func.vmap`` maps it over the batch, so a batch of P points
costs one batched forward pass (for the vanilla networks, one large matrix product per layer)
instead of P Python-level calls that load weights into the model.

BatchNorm layers of the loss's own copies are switched to batch statistics without running buffers
(``torch.func.replace_all_batch_norm_modules_``), which is what the probe loss does anyway (train
mode; the copies' buffers are thrown away), so every point sees the statistics of its own forward
pass, real and fake in separate passes as in training.

A slice (:meth:`BatchedLoss.slice_values`: points ``center + coords @ directions``) is cheaper
still: the network's first layer (a Linear or convolution, whose output is linear in its weight and
bias) sees the fixed probe input, so its output at any point of the slice is
``layer(x; w) + sum_k c_k layer_k(x; u_k)``, where ``u_k`` is direction k's part of the layer's
parameters (bias included). Those k + 1 outputs are computed once per chunk of points, not once per
point; for the vanilla discriminator, whose first layer holds 99.9% of its weights and of its
arithmetic, this is most of the cost of a grid.

A loss that ``vmap`` cannot map (the WGAN-GP critic: its penalty takes ``torch.autograd.grad``
inside the loss) is evaluated one point at a time with ``functional_call``, still without loading
weights; :attr:`BatchedLoss.vectorised` says which.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from analysis.probe_loss import GanLoss

#: Bytes of perturbed weights and activations one vectorised call may hold; sets the chunk of points.
CHUNK_BYTES = 256 * 2**20
#: Below this many points per vectorised call (a large network), a slice is evaluated one point at a time.
PER_POINT_BELOW = 8
#: The layers whose output is linear in their parameters (weight and bias): the first of them may be factorised.
LINEAR_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                 nn.ConvTranspose3d)


class _LossModule(nn.Module):
    """A module whose forward is the loss closure, owning the network the closure differentiates."""

    def __init__(self, own: nn.Module, loss_fn: Any) -> None:
        super().__init__()
        self.own = own
        self._loss_fn = loss_fn

    def forward(self) -> torch.Tensor:
        return self._loss_fn()


class BatchedLoss:
    """One player's probe loss as a function of its flat weight vector, batched over points.

    ``loss`` is a :class:`~analysis.probe_loss.GanLoss` (its copies are changed: BatchNorm modules
    lose their running buffers). :meth:`values` gives the loss at each row of a (P, n) matrix of flat
    weight vectors; :meth:`values_and_gradients` also its gradient. ``center`` is the flat weights
    of the point (float64).
    """

    def __init__(self, loss: GanLoss) -> None:
        from torch.func import replace_all_batch_norm_modules_

        self.loss = loss
        g, d = loss.modules
        own = g if loss.network == "g" else d
        for module in (g, d):
            replace_all_batch_norm_modules_(module)
        self.module = _LossModule(own, loss.loss_fn)
        self.names = ["own." + name for name in loss.names]
        self.shapes = [p.shape for p in loss.params]
        self.sizes = [p.numel() for p in loss.params]
        self.dtype = loss.params[0].dtype
        self.device = loss.params[0].device
        self.n = int(sum(self.sizes))
        self.center = torch.cat([p.detach().reshape(-1).to("cpu", torch.float64) for p in loss.params])
        self.vectorised: bool | None = None  # decided at the first call
        self._first: tuple[str, nn.Module, list[str], int] | None = None  # (prefix, layer, its names, output numel)
        self._coords: torch.Tensor | None = None  # the slice coordinates while slice_values runs
        self._first_dirs: list[dict[str, torch.Tensor]] = []
        self._in_hook = False
        self._hook = None

    # ------------------------------------------------------------------ one point
    def _params(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        out, start = {}, 0
        for name, shape, size in zip(self.names, self.shapes, self.sizes):
            out[name] = flat[start:start + size].view(shape)
            start += size
        return out

    def _one(self, flat: torch.Tensor) -> torch.Tensor:
        from torch.func import functional_call

        return functional_call(self.module, self._params(flat), ())

    @property
    def chunk(self) -> int:
        """Points per vectorised call: :data:`CHUNK_BYTES` of float32 weights (at least 1, at most 256)."""
        return int(max(1, min(256, CHUNK_BYTES // (4 * self.n))))

    def _as_batch(self, flats: torch.Tensor) -> torch.Tensor:
        return flats.to(device=self.device, dtype=self.dtype)

    # ------------------------------------------------------------------ batches
    def values(self, flats: torch.Tensor) -> torch.Tensor:
        """The loss (float64, on the CPU) at each row of ``flats`` (P x n flat weight vectors)."""
        from torch.func import vmap

        flats = self._as_batch(flats)
        with torch.no_grad():
            if self.vectorised is not False:
                try:
                    out = vmap(self._one, randomness="error")(flats)
                    self.vectorised = True
                    return out.to("cpu", torch.float64)
                except (RuntimeError, NotImplementedError, ValueError):
                    if self.vectorised:
                        raise
                    self.vectorised = False
        with torch.enable_grad():  # the WGAN-GP penalty differentiates inside the loss
            return torch.stack([self._one(row).detach() for row in flats]).to("cpu", torch.float64)

    # ------------------------------------------------------------------ slices
    def _find_first_layer(self) -> None:
        """The first linear layer the loss calls (its output numel summed over its calls), and a hook on it."""
        calls: list[tuple[nn.Module, int]] = []
        handles = [m.register_forward_hook(lambda mod, inp, out: calls.append((mod, out.numel())))
                   for m in self.module.own.modules() if isinstance(m, LINEAR_LAYERS)]
        try:
            with torch.no_grad():
                self.module()
        finally:
            for h in handles:
                h.remove()
        if not calls:
            self._first = (None, None, [], 0)  # type: ignore[assignment]
            return
        layer = calls[0][0]
        prefix = next(name for name, m in self.module.own.named_modules() if m is layer)
        own_names = [n[len("own."):] for n in self.names]
        names = [n for n in own_names if n.rpartition(".")[0] == prefix]
        numel = sum(n for m, n in calls if m is layer)
        self._first = (prefix, layer, names, numel)
        self._hook = layer.register_forward_hook(self._add_directions)

    def _add_directions(self, layer: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor | None:
        """The first layer's output plus ``sum_k c_k layer(x; u_k)`` while a slice is evaluated."""
        if self._coords is None or self._in_hook:
            return None
        from torch.func import functional_call

        self._in_hook = True
        try:
            parts = torch.stack([functional_call(layer, u, inputs) for u in self._first_dirs])
        finally:
            self._in_hook = False
        return output + torch.tensordot(self._coords.to(parts.dtype), parts, dims=1)

    def slice_chunk(self, directions: torch.Tensor) -> int:
        """Points per vectorised slice call, from the weights and first-layer activations each point holds."""
        if self._first is None:
            self._find_first_layer()
        prefix, _, names, numel = self._first
        first = sum(size for name, size in zip(self.names, self.sizes) if name[len("own."):] in names)
        per_point = 8 * (self.n - first) + 16 * max(numel, 1)
        return int(max(1, min(1024, CHUNK_BYTES // per_point)))

    def slice_values(self, directions: torch.Tensor, coords: torch.Tensor | np.ndarray) -> torch.Tensor:
        """The loss (float64) at ``center + coords[i] @ directions`` for each row of ``coords`` (P x k).

        Vectorised over the rows, with the first layer factorised (see the module docstring); the
        other parameters are formed in float64 and cast, so coordinate 1 along the line to another
        checkpoint gives its weights exactly. Falls back to :meth:`values` where ``vmap`` cannot map the loss.
        """
        from torch.func import functional_call, vmap

        coords = torch.as_tensor(np.asarray(coords, dtype=np.float64))
        directions = directions.to(torch.float64)
        if self.vectorised is False:
            return self.values(points(self.center, directions, coords))
        if self.slice_chunk(directions) < PER_POINT_BELOW:
            # a large network (the DCGAN): a batch of a few points is no cheaper than as many forward passes,
            # and vmap's batched convolutions cost more; one functional_call per point, weights never loaded
            with torch.no_grad():
                return torch.stack([self._one(points(self.center, directions, c[None, :])[0].to(self.device,
                                                                                                 self.dtype))
                                    for c in coords]).to("cpu", torch.float64)
        if self._first is None:
            self._find_first_layer()
        prefix, layer, first_names, _ = self._first
        own_names = [n[len("own."):] for n in self.names]
        rest, start = [], 0
        self._first_dirs = [{} for _ in range(len(directions))]
        for name, shape, size in zip(own_names, self.shapes, self.sizes):
            part = directions[:, start:start + size]
            if name in first_names:
                for k in range(len(directions)):
                    self._first_dirs[k][name.rpartition(".")[2]] = part[k].view(shape).to(self.device, self.dtype)
            else:
                rest.append(("own." + name, shape, self.center[start:start + size].to(self.device),
                             part.to(self.device)))
            start += size

        def one(c: torch.Tensor) -> torch.Tensor:
            self._coords = c
            params = {name: (base + c @ part).view(shape).to(self.dtype) for name, shape, base, part in rest}
            return functional_call(self.module, params, ())

        try:
            with torch.no_grad():
                out = vmap(one, randomness="error")(coords.to(self.device))
            self.vectorised = True
            return out.to("cpu", torch.float64)
        except (RuntimeError, NotImplementedError, ValueError):
            if self.vectorised:
                raise
            self.vectorised = False
        finally:
            self._coords = None
        return self.values(points(self.center, directions, coords))

    def values_and_gradients(self, flats: torch.Tensor,
                             dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss at each row, P; its gradient, P x n), both ``dtype`` (float64 unless asked) on the CPU.

        One forward and backward pass per row, with the row written into the loss's own copy of the
        network (which is restored to the point afterwards): on a CPU this measured fastest for the
        vanilla generator, ahead of ``functional_call`` per row (about 1.5x slower) and of
        ``vmap(grad(...))`` over the rows (about 2.5x slower: its batched backward pass through
        per-row weights is memory-bound).
        """
        from torch.nn.utils import vector_to_parameters

        params = self.loss.params
        center = torch.cat([p.detach().reshape(-1) for p in params]).clone()
        flats = self._as_batch(flats)
        values, grads = [], []
        try:
            for row in flats:
                with torch.no_grad():
                    vector_to_parameters(row.clone(), params)
                value = self.loss.loss_fn()
                grad = torch.autograd.grad(value, params)
                values.append(value.detach())
                grads.append(torch.cat([g.reshape(-1) for g in grad]))
        finally:
            with torch.no_grad():
                vector_to_parameters(center, params)
        return torch.stack(values).to("cpu", dtype), torch.stack(grads).to("cpu", dtype)


def points(center: torch.Tensor, directions: torch.Tensor, coords: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The flat weights ``center + coords @ directions`` (float64; cast to the network's dtype when evaluated).

    Computed in float64 so that a point at coordinate 1 along the line to another checkpoint
    is that checkpoint's float32 weights exactly.
    """
    coords = torch.as_tensor(np.asarray(coords, dtype=np.float64))
    return center.to(torch.float64)[None, :] + coords @ directions.to(torch.float64)


def grid_losses(batched: BatchedLoss, directions: torch.Tensor, coords: np.ndarray,
                chunk: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """The loss at ``batched.center + coords[i] @ directions`` for each row of ``coords``, chunk by chunk.

    Yields ``(start, values)`` for consecutive chunks of rows, so a caller can store what is done
    as it goes (and keep it when interrupted).
    """
    chunk = int(chunk or batched.slice_chunk(directions))
    for start in range(0, len(coords), chunk):
        yield start, batched.slice_values(directions, coords[start:start + chunk]).numpy()


def per_point_losses(loss: GanLoss, directions: Sequence[torch.Tensor] | torch.Tensor, coords: np.ndarray) -> np.ndarray:
    """The reference per-point loop: for each grid point, ``functional_call`` with the perturbed weights.

    What the reference implementation does (minus its file round trips); kept for the benchmark
    and for tests that check the vectorised evaluation against it.
    """
    from torch.func import functional_call

    g, d = loss.modules
    own = g if loss.network == "g" else d
    module = _LossModule(own, loss.loss_fn)
    names = ["own." + name for name in loss.names]
    base = [p.detach() for p in loss.params]
    dirs = torch.as_tensor(directions) if not isinstance(directions, torch.Tensor) else directions
    out = np.empty(len(coords))
    with torch.no_grad():
        for i, c in enumerate(np.asarray(coords, dtype=np.float64)):
            flat = points(torch.cat([p.reshape(-1).to(torch.float64) for p in base]), dirs, c[None, :])[0]
            params, start = {}, 0
            for name, p in zip(names, base):
                params[name] = flat[start:start + p.numel()].view(p.shape).to(p.dtype)
                start += p.numel()
            out[i] = float(functional_call(module, params, ()))
    return out


__all__ = ["BatchedLoss", "CHUNK_BYTES", "grid_losses", "per_point_losses", "points"]
