"""The GAN-specific part: a deterministic loss closure for one network with the other fixed.

``"g"``: the generator loss ``BCE(D(G(z)), 1)`` as a function of G's parameters, D fixed.
``"d"``: the discriminator loss ``BCE(D(x), 1) + BCE(D(G(z)), 0)`` as a function of
D's parameters, G fixed (the fake batch is made once, without a graph).

Determinism is by construction and then checked:

- Both networks are deep copies, so nothing here can touch the caller's weights,
  BatchNorm running buffers or ``.grad`` fields.
- The copies are in train mode, so BatchNorm normalises with the probe batch's own
  statistics, as during training (real and fake in separate forward passes, as
  the trainer does); the running buffers updated by those forward passes belong to
  the copies and are thrown away. Every dropout module is switched to eval (off).
- The same probe images and z are used for every evaluation.

:func:`check_deterministic` builds the loss graph twice from scratch and compares
one Hessian-vector product from each; a loss that is still random (a custom
stochastic layer, a nondeterministic kernel beyond float round-off) is refused
with a :class:`~landscape.errors.LandscapeError`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from analysis.hessian.hvp import HessianVectorProduct
from landscape.errors import LandscapeError
from landscape.networks import PARAMETER_NETWORKS, label

#: Two products from independently built graphs must agree to this many units of the
#: dtype's machine epsilon (relative, in the 2-norm). Double backward on the CPU is
#: bitwise reproducible; GPU kernels with atomic adds differ by a few hundred eps at
#: most, while dropout or random layers differ by tens of percent.
DETERMINISM_EPS_UNITS = 1000.0


@dataclass
class GanLoss:
    """A scalar loss closure over one network's parameters, ready for Hessian-vector products."""

    loss_fn: Callable[[], torch.Tensor]
    params: list[torch.Tensor]
    names: list[str]
    network: str
    probe_size: int
    modules: tuple[nn.Module, nn.Module]  # the (generator, discriminator) copies the closure uses

    @property
    def n_params(self) -> int:
        return int(sum(p.numel() for p in self.params))


def deterministic_copy(module: nn.Module) -> nn.Module:
    """A deep copy in train mode (BatchNorm uses batch statistics) with every dropout switched off."""
    clone = copy.deepcopy(module)
    clone.train()
    for sub in clone.modules():
        if isinstance(sub, (nn.modules.dropout._DropoutNd, nn.AlphaDropout, nn.FeatureAlphaDropout)):
            sub.eval()
        for p in sub.parameters(recurse=False):
            p.grad = None
    return clone


def _device_of(module: nn.Module) -> torch.device:
    for t in list(module.parameters()) + list(module.buffers()):
        return t.device
    return torch.device("cpu")


def _dtype_of(module: nn.Module) -> torch.dtype:
    for p in module.parameters():
        return p.dtype
    return torch.get_default_dtype()


def _default_losses() -> tuple[Callable, Callable]:
    from trainers import losses

    return losses.g_loss, losses.d_loss_parts


def gan_loss(
    generator: nn.Module,
    discriminator: nn.Module,
    probe_real: torch.Tensor | np.ndarray,
    probe_z: torch.Tensor | np.ndarray,
    network: str,
    *,
    g_loss_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    d_loss_parts_fn: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> GanLoss:
    """The deterministic loss of ``network`` ("g" or "d") on the probe batch, the other network fixed.

    The loss functions default to the trainers' (``trainers.losses``): pass others
    to analyse a loss variant. The parameters are the copy's trainable ones, in
    ``named_parameters`` order.
    """
    if network not in PARAMETER_NETWORKS:
        choices = " or ".join(f"{n!r} ({label(n)})" for n in PARAMETER_NETWORKS)
        raise LandscapeError(f"Unknown network {network!r}; use {choices}.")
    if g_loss_fn is None or d_loss_parts_fn is None:
        default_g, default_d = _default_losses()
        g_loss_fn = g_loss_fn or default_g
        d_loss_parts_fn = d_loss_parts_fn or default_d
    g = deterministic_copy(generator)
    d = deterministic_copy(discriminator)
    fixed, own = (d, g) if network == "g" else (g, d)
    for p in fixed.parameters():
        p.requires_grad_(False)
    named = [(n, p) for n, p in own.named_parameters() if p.requires_grad]
    if not named:
        raise LandscapeError(f"Network {network!r} has no trainable parameters, so it has no Hessian.")
    real = torch.as_tensor(probe_real).to(device=_device_of(d), dtype=_dtype_of(d))
    z = torch.as_tensor(probe_z).to(device=_device_of(g), dtype=_dtype_of(g))
    if real.shape[0] != z.shape[0]:
        raise LandscapeError(
            f"The probe batch has {real.shape[0]} real images but {z.shape[0]} z vectors; they must match."
        )

    if network == "g":

        def loss_fn() -> torch.Tensor:
            fake = g(z)
            return g_loss_fn(d(fake.to(real.device)))

    else:
        with torch.no_grad():
            fake = g(z).to(device=real.device, dtype=real.dtype)

        def loss_fn() -> torch.Tensor:
            loss_real, loss_fake = d_loss_parts_fn(d(real), d(fake))
            return loss_real + loss_fake

    return GanLoss(loss_fn, [p for _, p in named], [n for n, _ in named], network, int(real.shape[0]), (g, d))


def check_deterministic(
    loss_fn: Callable[[], torch.Tensor],
    params: list[torch.Tensor],
    *,
    seed: int = 0,
    what: str = "the loss",
    hvp: HessianVectorProduct | None = None,
) -> float:
    """Two Hessian-vector products from independently built graphs: their relative difference.

    Raises :class:`LandscapeError` when it exceeds ``DETERMINISM_EPS_UNITS`` machine
    epsilons of the parameters' dtype. Costs two graph builds and two products;
    pass the ``hvp`` that will be used afterwards to compare a fresh graph against
    its graph (one build saved, and the graph actually used is the one checked).
    """
    first = hvp if hvp is not None else HessianVectorProduct(loss_fn, params)
    second = HessianVectorProduct(loss_fn, params)
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(first.n, generator=gen, dtype=torch.float64)
    a = first(v).to(torch.float64)
    b = second(v).to(torch.float64)
    if hvp is None:
        first.release()
    second.release()
    norm = float(torch.linalg.vector_norm(a))
    diff = float(torch.linalg.vector_norm(a - b))
    rel = diff / norm if norm > 0 else diff
    limit = DETERMINISM_EPS_UNITS * float(torch.finfo(first.dtype).eps)
    if not np.isfinite(rel) or rel > limit:
        raise LandscapeError(
            f"The Hessian of {what} is not deterministic: two identical Hessian-vector products differ by "
            f"{rel:.2g} (relative, limit {limit:.1g}); remove random layers other than dropout or make "
            "the model's kernels deterministic (torch.use_deterministic_algorithms(True))."
        )
    return rel
