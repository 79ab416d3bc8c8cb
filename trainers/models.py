"""Build a run's generator and discriminator from its configuration.

This is the one entry point other packages use to (re)build networks, e.g. the
Hessian analysis rebuilding them from a run file's config and checkpoints::

    from trainers.models import load_models
    g, d = load_models(run, step)      # build_models(run.config) + load_weights(checkpoint)

Every network's forward is ``forward(x, labels=None)``. With ``config.conditional`` the pair is
class-conditional (Mirza & Osindero 2014): ``build_models(config, n_classes=None)`` embeds the
label (int64 indices, shape (N,)) with ``nn.Embedding``: 10 -> 10 concatenated after z in both
generators and after the flattened image in the vanilla discriminator; 10 -> H*W reshaped to one
extra input channel of the DCGAN discriminator (layouts: :mod:`trainers.vanilla`,
:mod:`trainers.dcgan`). ``n_classes`` None takes the dataset's from the registry. Trainable
parameters (``count_params``; tests/test_conditional.py checks them), the paper's in brackets:

========  ====================  =================  =====================
network   dataset               generator          discriminator
========  ====================  =================  =====================
vanilla   MNIST, Fashion-MNIST  82,284 (81,184)    79,701 (78,601)
vanilla   CIFAR-10              313,372 (312,272)  308,501 (307,401)
DCGAN     MNIST, Fashion-MNIST  867,652 (804,832)  1,048,979 (1,039,539)
DCGAN     CIFAR-10              930,692 (848,672)  1,054,594 (1,042,754)
========  ====================  =================  =====================

The extra parameters: vanilla G and D +10*100 first-layer weights + 100 embedding; DCGAN G
+10*128*s*s dense weights + 100 embedding (s = H/4: 7 on MNIST, 8 on CIFAR-10); DCGAN D +64*5*5
weights for the extra input channel + 10*H*W embedding. ``loss="wgan-gp"`` swaps the DCGAN
critic's BatchNorm2d for GroupNorm(1, C) (per-sample layer normalisation), which has the same
2C trainable parameters: the counts above do not change with the loss.
"""

from __future__ import annotations

import math

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from landscape.config import TrainConfig
from landscape.data.registry import get_spec
from landscape.errors import LandscapeError
from trainers.dcgan import DCGANDiscriminator, DCGANGenerator
from trainers.mlp import BERARD_MLP_NETWORKS, GULRAJANI_MLP_NETWORKS, MLPDiscriminator, MLPGenerator
from trainers.vanilla import VanillaDiscriminator, VanillaGenerator


def as_config(config: TrainConfig | Mapping[str, Any]) -> TrainConfig:
    """Accept a :class:`TrainConfig` or a run file's config dict (unknown keys ignored)."""
    if isinstance(config, TrainConfig):
        return config
    return TrainConfig.from_dict(dict(config), strict=False)


def build_models(
    config: TrainConfig | Mapping[str, Any], n_classes: int | None = None
) -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) of ``config``, freshly initialised, on the CPU.

    Initialisation draws from torch's global RNG: seed it first for reproducible weights.
    ``n_classes`` is the number of classes a conditional pair (``config.conditional``) is
    conditioned on; None takes it from the dataset registry (``landscape.data.registry``; 10 for
    every dataset so far). It is ignored when ``config.conditional`` is false: unconditional
    networks are the paper's, with the same weights for a seed. ``config.loss == "wgan-gp"``
    gives the DCGAN critic per-sample layer normalisation instead of BatchNorm (see
    :mod:`trainers.dcgan`); the vanilla discriminator has no normalisation to replace.
    """
    cfg = as_config(config)
    shape = cfg.image_shape
    classes = 0
    if cfg.conditional:
        classes = dataset_classes(cfg.dataset) if n_classes is None else n_classes
        if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
            raise LandscapeError(f"A conditional GAN needs a positive number of classes, got {classes!r}.")
    if cfg.arch == "vanilla":
        g = VanillaGenerator(cfg.z_dim, shape, slope=cfg.leaky_slope, n_classes=classes)
        d = VanillaDiscriminator(shape, slope=cfg.leaky_slope, dropout=cfg.dropout, n_classes=classes)
    elif cfg.arch == "dcgan":
        bn = dict(bn_momentum=cfg.bn_momentum, bn_eps=cfg.bn_eps)
        norm = "layer" if cfg.loss == "wgan-gp" else "batch"
        g = DCGANGenerator(cfg.z_dim, shape, slope=cfg.leaky_slope, n_classes=classes, **bn)
        d = DCGANDiscriminator(shape, slope=cfg.leaky_slope, dropout=cfg.dropout, n_classes=classes, norm=norm, **bn)
    elif cfg.arch == "mlp":  # the 2-D toys (Metz et al.'s sizes, trainers.mlp)
        g = MLPGenerator(cfg.z_dim, out_dim=math.prod(shape))
        d = MLPDiscriminator(math.prod(shape), dropout=cfg.dropout)
    elif cfg.arch == "mlp512":  # the WGAN-GP authors' toy networks (trainers.mlp.GULRAJANI_MLP_NETWORKS)
        net = GULRAJANI_MLP_NETWORKS
        g = MLPGenerator(cfg.z_dim, hidden=net["g_hidden"], layers=net["g_layers"], out_dim=math.prod(shape),
                         init=net["init"])
        d = MLPDiscriminator(math.prod(shape), hidden=net["d_hidden"], layers=net["d_layers"], dropout=cfg.dropout,
                             input_scale=net["d_input_scale"], init=net["init"])
    elif cfg.arch == "mlp100":  # Berard et al.'s 1-D mixture networks (trainers.mlp.BERARD_MLP_NETWORKS)
        net = BERARD_MLP_NETWORKS
        g = MLPGenerator(cfg.z_dim, hidden=net["g_hidden"], layers=net["g_layers"], out_dim=math.prod(shape),
                         init=net["init"])
        d = MLPDiscriminator(math.prod(shape), hidden=net["d_hidden"], layers=net["d_layers"], dropout=cfg.dropout,
                             input_scale=net["d_input_scale"], init=net["init"])
    else:  # pragma: no cover - TrainConfig validates arch
        raise LandscapeError(f"Unknown arch {cfg.arch!r}.")
    return g, d


def dataset_classes(dataset: str) -> int:
    """How many classes ``dataset`` has, from the dataset registry (no data is read)."""
    return len(get_spec(dataset).classes)


def count_params(module: nn.Module) -> int:
    """Number of trainable parameters (what the paper's tables count)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def summary(module: nn.Module, input_shape: tuple[int, ...]) -> str:
    """A Keras-style table: layer, output shape, trainable parameters, and the total.

    Runs one forward pass of a batch of 2 zeros (and, for a conditional network, labels 0) in
    eval mode to find the shapes; a conditional network's label embedding is the first row,
    and a last line says how the label enters the network.
    """
    rows: list[tuple[str, str, str, int]] = []
    hooks = []
    for name, child in module.named_children():

        def hook(mod: nn.Module, _inp: Any, out: torch.Tensor, name: str = name) -> None:
            n = sum(p.numel() for p in mod.parameters() if p.requires_grad)
            rows.append((name, type(mod).__name__, str(tuple(out.shape[1:])), n))

        hooks.append(child.register_forward_hook(hook))
    n_classes = getattr(module, "n_classes", 0)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            p = next(module.parameters())
            x = torch.zeros(2, *input_shape, dtype=p.dtype, device=p.device)
            if n_classes:
                module(x, torch.zeros(2, dtype=torch.int64, device=p.device))
            else:
                module(x)
    finally:
        module.train(was_training)
        for h in hooks:
            h.remove()
    header = ("layer", "type", "output shape", "params")
    table = [header] + [(a, b, c, f"{n:,}") for a, b, c, n in rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = ["  ".join(_align(cells, widths)) for cells in table]
    lines.insert(1, "-" * len(lines[0]))
    lines.append(f"trainable parameters: {count_params(module):,}")
    if n_classes:
        lines.append(f"conditional on {n_classes} classes: {module.label_layout}")
    return "\n".join(lines)


def _align(cells: tuple[str, ...], widths: list[int]) -> list[str]:
    """Text columns left-aligned, the last (numbers) right-aligned."""
    return [c.ljust(w) for c, w in zip(cells[:-1], widths)] + [cells[-1].rjust(widths[-1])]


def network_info(g: nn.Module, d: nn.Module, config: TrainConfig | Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What the trainer stores as the run's ``networks`` meta: params and summary per network.

    A conditional network's entry also has ``n_classes``, ``embedding`` (the label embedding's
    (rows, width)) and ``label`` (how the label enters it, as the summary's last line says).
    """
    cfg = as_config(config)
    info = {
        "g": {"params": count_params(g), "summary": summary(g, (cfg.z_dim,))},
        "d": {"params": count_params(d), "summary": summary(d, cfg.image_shape)},
    }
    for name, net in (("g", g), ("d", d)):
        if getattr(net, "n_classes", 0):
            info[name].update(n_classes=net.n_classes, embedding=list(net.embed.weight.shape), label=net.label_layout)
    return info


def load_weights(module: nn.Module, arrays: Mapping[str, np.ndarray | torch.Tensor]) -> nn.Module:
    """Load a checkpoint as stored in a run file (parameter name -> array) into ``module``."""
    device = next(module.parameters()).device
    state = {k: (v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v))).to(device) for k, v in arrays.items()}
    module.load_state_dict(state)
    return module


def load_models(run: Any, step: int, device: str | torch.device = "cpu") -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) of a recorded run with the weights of its checkpoint at ``step``.

    ``run`` is a :class:`landscape.reader.Run` or the path of a run file.
    """
    from landscape.reader import as_run

    run = as_run(run)
    g, d = build_models(run.config)
    load_weights(g, run.checkpoint(step, "g"))
    load_weights(d, run.checkpoint(step, "d"))
    return g.to(device), d.to(device)
