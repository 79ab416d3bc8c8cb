"""The probe-batch loss of either player: the one deterministic loss every landscape measurement differentiates.

``"g"``: the generator loss ``g_loss(D(G(z)), loss)`` as a function of G's parameters, D fixed
(for the default ``loss="ns"``, ``BCE(D(G(z)), 1)``).
``"d"``: the discriminator loss, the sum of ``d_loss_parts(D(x), D(G(z)), loss)`` (for ``ns``,
``BCE(D(x), 1) + BCE(D(G(z)), 0)``) plus, for ``wgan-gp``, ``gp_weight * gradient_penalty``,
as a function of D's parameters, G fixed (the fake batch is made once, without a graph).
The formulas are :mod:`trainers.losses`'; ``loss`` is a run's ``TrainConfig.loss``.

The Hessian estimates (:mod:`analysis.hessian`), the stationarity report's gradient-flatness
ratio (:mod:`analysis.stationarity.curvature`) and the measurements to come (the game
Jacobian, loss surfaces) all use this module, so they all see the same loss:

- :func:`gan_loss`: the closure over one network's parameters on a probe batch;
- :func:`loss_options`: the loss settings of a run (its config, or a trainer's) with a caller's overrides;
- :func:`run_probe` / :func:`run_probe_labels`: a stored run's probe batch, checked.

What the loss is, for the training tricks that change the loss the trainer follows:

- ``wgan-gp``: the critic's loss includes its gradient-penalty term (weighted by ``gp_weight``),
  which needs one more order of autograd (the penalty already holds D's input gradient). The
  interpolation coefficients ``eps`` are drawn from a generator seeded with :data:`GP_SEED`
  (``gp_seed``) afresh at every evaluation, so they are fixed for one estimate, not resampled.
- label smoothing (``smooth_real``, ``smooth_fake``): training-time only; its random targets are
  not part of the landscape, and the loss uses the exact targets 1 and 0.
- ``unroll``: the generator's loss is the plain ``f(G, D)`` at the current D, not the unrolled
  surrogate the trainer followed.
- ``d_steps`` and ``clip`` change how the weights move, not the loss: nothing to do here.
- conditional GANs (``probe_labels``): real images are judged with their labels, the fakes are
  asked for the same labels (``G(z, y)``, ``D(G(z, y), y)``), and the penalty's interpolates with
  them too; unconditional networks are called without labels.

Determinism is by construction (:func:`analysis.hessian.gan.check_deterministic` checks it):

- Both networks are deep copies, so nothing here can touch the caller's weights,
  BatchNorm running buffers or ``.grad`` fields.
- The copies are in train mode, so BatchNorm normalises with the probe batch's own
  statistics, as during training (real and fake in separate forward passes, as
  the trainer does); the running buffers updated by those forward passes belong to
  the copies and are thrown away. Every dropout module is switched to eval (off).
- The same probe images, z (and labels) are used for every evaluation, and the same
  gradient-penalty interpolates.
"""

from __future__ import annotations

import copy
import functools
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from landscape.errors import LandscapeError
from landscape.networks import PARAMETER_NETWORKS, label

#: The seed of the generator the WGAN-GP penalty's interpolation coefficients are drawn from,
#: re-seeded at every evaluation of the D closure (the same interpolates for a whole estimate).
GP_SEED = 0


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


def _call(net: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """``net(x)``, or ``net(x, labels)`` for a conditional network (unconditional ones never get a None)."""
    return net(x) if labels is None else net(x, labels)


def _check_variant(loss: str, gp_weight: float | None) -> float | None:
    """The gradient penalty's weight to use (None: no penalty); one sentence for a loss or weight that cannot be."""
    from landscape.config import LOSS_DEFAULTS
    from trainers.losses import check_loss

    check_loss(loss)
    if loss != "wgan-gp":
        if gp_weight is not None:
            raise LandscapeError(f"gp_weight (the gradient penalty) belongs to loss wgan-gp, not loss {loss}; "
                                 "drop gp_weight or use loss wgan-gp.")
        return None
    if gp_weight is None:
        return float(LOSS_DEFAULTS["wgan-gp"]["gp_weight"])
    if isinstance(gp_weight, bool) or not isinstance(gp_weight, numbers.Real) or not (
            np.isfinite(gp_weight) and gp_weight >= 0):
        raise LandscapeError(f"gp_weight must be a finite number >= 0, got {gp_weight!r}.")
    return float(gp_weight)


def gan_loss(
    generator: nn.Module,
    discriminator: nn.Module,
    probe_real: torch.Tensor | np.ndarray,
    probe_z: torch.Tensor | np.ndarray,
    network: str,
    *,
    g_loss_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    d_loss_parts_fn: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
    loss: str = "ns",
    gp_weight: float | None = None,
    probe_labels: torch.Tensor | np.ndarray | None = None,
    gp_seed: int = GP_SEED,
    joint: bool = False,
    copy_modules: bool = True,
) -> GanLoss:
    """The deterministic loss of ``network`` ("g" or "d") on the probe batch, the other network fixed.

    ``loss`` names the GAN loss (``TrainConfig.loss``: ns, minimax, lsgan, wgan, wgan-gp, hinge):
    the G closure is ``g_loss(D(G(z)), loss)``, the D closure the sum of
    ``d_loss_parts(D(x), D(G(z)), loss)`` (``trainers.losses``). For ``wgan-gp`` the critic's
    Hessian includes its penalty: the D closure adds ``gp_weight * gradient_penalty(D, x, G(z))``
    (``gp_weight`` None: the config's default, 10), whose interpolation coefficients come from a
    ``torch.Generator`` re-seeded with ``gp_seed`` at every evaluation, so they are fixed for the
    whole estimate and the closure stays deterministic. ``gp_weight`` with another loss is refused.

    The Hessian is of the loss itself, not of what training did with it: label smoothing is
    training-time only (its random targets are not used; the targets are exactly 1 and 0), and
    with ``unroll`` the generator's Hessian is of the plain loss f(G, D), not the unrolled surrogate.

    ``probe_labels`` (a conditional run's probe classes, one per probe sample) are passed to both
    networks: ``D(x, y)`` for the real images and ``G(z, y)``, ``D(G(z, y), y)`` for the fakes, which
    are asked for the same classes. Without them the networks are called as ``G(z)`` and ``D(x)``.

    ``g_loss_fn(d_fake)`` and ``d_loss_parts_fn(d_real, d_fake)`` override the loss formulas (to
    analyse a variant of your own); they take precedence over ``loss``, which then only decides
    whether the gradient penalty is added. The parameters are the copy's trainable ones, in
    ``named_parameters`` order.

    ``joint=True`` (the game's view, :func:`game_loss`): the other network is not frozen and the
    D closure makes its fake batch inside the closure, so both closures are functions of both
    networks' parameters. ``copy_modules=False`` uses the given modules as they are (already
    :func:`deterministic_copy` s), so that two closures can share one pair of copies.
    """
    if network not in PARAMETER_NETWORKS:
        choices = " or ".join(f"{n!r} ({label(n)})" for n in PARAMETER_NETWORKS)
        raise LandscapeError(f"Unknown network {network!r}; use {choices}.")
    penalty_weight = _check_variant(loss, gp_weight)
    if g_loss_fn is None or d_loss_parts_fn is None:
        default_g, default_d = _default_losses()
        if loss != "ns":
            default_g = functools.partial(default_g, loss=loss)
            default_d = functools.partial(default_d, loss=loss)
        g_loss_fn = g_loss_fn or default_g
        d_loss_parts_fn = d_loss_parts_fn or default_d
    g = deterministic_copy(generator) if copy_modules else generator
    d = deterministic_copy(discriminator) if copy_modules else discriminator
    fixed, own = (d, g) if network == "g" else (g, d)
    for p in fixed.parameters():
        p.requires_grad_(joint)
    named = [(n, p) for n, p in own.named_parameters() if p.requires_grad]
    if not named:
        raise LandscapeError(f"Network {network!r} has no trainable parameters, so it has no Hessian.")
    real = torch.as_tensor(probe_real).to(device=_device_of(d), dtype=_dtype_of(d))
    z = torch.as_tensor(probe_z).to(device=_device_of(g), dtype=_dtype_of(g))
    if real.shape[0] != z.shape[0]:
        raise LandscapeError(
            f"The probe batch has {real.shape[0]} real images but {z.shape[0]} z vectors; they must match."
        )
    y_g = y_d = None
    if probe_labels is not None:
        labels = torch.as_tensor(probe_labels)
        if labels.dim() != 1 or labels.shape[0] != real.shape[0] or labels.is_floating_point():
            raise LandscapeError(
                f"The probe labels must be {real.shape[0]} integer classes, one per probe image, "
                f"but they have shape {tuple(labels.shape)} and dtype {labels.dtype}."
            )
        y_g = labels.to(device=_device_of(g), dtype=torch.long)
        y_d = labels.to(device=real.device, dtype=torch.long)

    if network == "g":

        def loss_fn() -> torch.Tensor:
            fake = _call(g, z, y_g)
            return g_loss_fn(_call(d, fake.to(real.device), y_d))

    else:
        with torch.no_grad():
            fake = _call(g, z, y_g).to(device=real.device, dtype=real.dtype)

        def fakes() -> torch.Tensor:  # the game's view: G(z) inside the closure, a function of G's parameters
            return _call(g, z, y_g).to(device=real.device, dtype=real.dtype) if joint else fake

        if penalty_weight is None:

            def loss_fn() -> torch.Tensor:
                loss_real, loss_fake = d_loss_parts_fn(_call(d, real, y_d), _call(d, fakes(), y_d))
                return loss_real + loss_fake

        else:
            from trainers.losses import gradient_penalty

            rng = torch.Generator(device=real.device)

            def critic(x: torch.Tensor) -> torch.Tensor:
                return _call(d, x, y_d)

            def loss_fn() -> torch.Tensor:
                made = fakes()
                loss_real, loss_fake = d_loss_parts_fn(_call(d, real, y_d), _call(d, made, y_d))
                rng.manual_seed(gp_seed)  # the same interpolates at every evaluation
                # the game's view keeps the interpolates a function of G's parameters (the penalty's cross block)
                penalty = gradient_penalty(critic, real, made, generator=rng, detach_fake=not joint)
                return loss_real + loss_fake + penalty_weight * penalty

    return GanLoss(loss_fn, [p for _, p in named], [n for n, _ in named], network, int(real.shape[0]), (g, d))


def loss_options(config: Any, probe_labels: Any = None, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``options`` with the probe loss's settings of a run filled in, for :func:`gan_loss` and ``estimate_models``.

    ``config`` is the run's config (a dict as stored, or a ``TrainConfig``; one from before
    the loss variants has none of these settings): ``loss`` is its loss ("ns" without one),
    ``gp_weight`` its penalty weight when the loss is its own ``wgan-gp`` (else None), and
    ``probe_labels`` the given labels (a conditional run's probe classes). What ``options``
    already gives (``loss=``, ``gp_weight=``, ``probe_labels=``) wins over the run's.
    """
    filled = dict(options or {})
    own = _setting(config, "loss") or "ns"
    loss = filled.setdefault("loss", own)
    filled.setdefault("gp_weight", _setting(config, "gp_weight") if loss == own == "wgan-gp" else None)
    filled.setdefault("probe_labels", probe_labels)
    return filled


def _setting(config: Any, name: str) -> Any:
    return config.get(name) if isinstance(config, Mapping) else getattr(config, name, None)


def run_probe(run: Any) -> tuple[Any, Any]:
    """The run's probe batch (real images, z); one sentence if it has none (or a conditional run's has no labels)."""
    stored = run.probe()
    if stored is None:
        raise LandscapeError(f"{run.path} has no probe batch, so its Hessian cannot be estimated; record it again.")
    run_probe_labels(run)
    return stored


def run_probe_labels(run: Any) -> np.ndarray | None:
    """A conditional run's probe classes (``Run.probe_labels()``), None for an unconditional run.

    One sentence if the run is conditional but its probe has no labels: its networks cannot be called without them.
    """
    labels = run.probe_labels()
    if labels is None and run.config.get("conditional", False):
        raise LandscapeError(f"{run.path} is a conditional run but its probe batch has no labels, so its Hessian "
                             "cannot be estimated; record it again.")
    if labels is not None and not run.config.get("conditional", False):
        return None  # an unconditional network takes no labels
    return labels


def run_loss(generator: nn.Module, discriminator: nn.Module, run: Any, network: str, **options: Any) -> GanLoss:
    """The probe loss of ``network`` for networks rebuilt from a stored run (its probe batch, loss and labels)."""
    if "probe_labels" not in options:
        options["probe_labels"] = run_probe_labels(run)
    real, z = run_probe(run)
    return gan_loss(generator, discriminator, real, z, network, **loss_options(run.config, options=options))


__all__ = ["GP_SEED", "GanLoss", "deterministic_copy", "gan_loss", "loss_options", "run_loss", "run_probe",
           "run_probe_labels"]
