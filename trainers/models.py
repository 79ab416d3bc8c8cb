"""Build a run's generator and discriminator from its configuration.

This is the one entry point other packages use to (re)build networks, e.g. the
Hessian analysis rebuilding them from a run file's config and checkpoints::

    from trainers.models import load_models
    g, d = load_models(run, step)      # build_models(run.config) + load_weights(checkpoint)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from landscape.config import TrainConfig
from landscape.errors import LandscapeError
from trainers.dcgan import DCGANDiscriminator, DCGANGenerator
from trainers.vanilla import VanillaDiscriminator, VanillaGenerator


def as_config(config: TrainConfig | Mapping[str, Any]) -> TrainConfig:
    """Accept a :class:`TrainConfig` or a run file's config dict (unknown keys ignored)."""
    if isinstance(config, TrainConfig):
        return config
    return TrainConfig.from_dict(dict(config), strict=False)


def build_models(config: TrainConfig | Mapping[str, Any]) -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) of ``config``, freshly initialised, on the CPU.

    Initialisation draws from torch's global RNG: seed it first for reproducible weights.
    """
    cfg = as_config(config)
    shape = cfg.image_shape
    if cfg.arch == "vanilla":
        g = VanillaGenerator(cfg.z_dim, shape, slope=cfg.leaky_slope)
        d = VanillaDiscriminator(shape, slope=cfg.leaky_slope, dropout=cfg.dropout)
    elif cfg.arch == "dcgan":
        bn = dict(bn_momentum=cfg.bn_momentum, bn_eps=cfg.bn_eps)
        g = DCGANGenerator(cfg.z_dim, shape, slope=cfg.leaky_slope, **bn)
        d = DCGANDiscriminator(shape, slope=cfg.leaky_slope, dropout=cfg.dropout, **bn)
    else:  # pragma: no cover - TrainConfig validates arch
        raise LandscapeError(f"Unknown arch {cfg.arch!r}.")
    return g, d


def count_params(module: nn.Module) -> int:
    """Number of trainable parameters (what the paper's tables count)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def summary(module: nn.Module, input_shape: tuple[int, ...]) -> str:
    """A Keras-style table: layer, output shape, trainable parameters, and the total.

    Runs one forward pass of a batch of 2 zeros in eval mode to find the shapes.
    """
    rows: list[tuple[str, str, str, int]] = []
    hooks = []
    for name, child in module.named_children():

        def hook(mod: nn.Module, _inp: Any, out: torch.Tensor, name: str = name) -> None:
            n = sum(p.numel() for p in mod.parameters() if p.requires_grad)
            rows.append((name, type(mod).__name__, str(tuple(out.shape[1:])), n))

        hooks.append(child.register_forward_hook(hook))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            p = next(module.parameters())
            module(torch.zeros(2, *input_shape, dtype=p.dtype, device=p.device))
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
    return "\n".join(lines)


def _align(cells: tuple[str, ...], widths: list[int]) -> list[str]:
    """Text columns left-aligned, the last (numbers) right-aligned."""
    return [c.ljust(w) for c, w in zip(cells[:-1], widths)] + [cells[-1].rjust(widths[-1])]


def network_info(g: nn.Module, d: nn.Module, config: TrainConfig | Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What the trainer stores as the run's ``networks`` meta: params and summary per network."""
    cfg = as_config(config)
    return {
        "g": {"params": count_params(g), "summary": summary(g, (cfg.z_dim,))},
        "d": {"params": count_params(d), "summary": summary(d, cfg.image_shape)},
    }


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
