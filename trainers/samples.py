"""Sample grids: what the generator makes of a fixed z, as one uint8 image (the paper's Figures 8-9)."""

from __future__ import annotations

import math

import torch
from torch import nn


def default_sample_epochs(epochs: int) -> list[int]:
    """Epochs 1, 25, 50, 75 and 100 of a 100-epoch run, scaled to ``epochs`` (duplicates dropped)."""
    return sorted({1, *(max(1, round(epochs * k / 4)) for k in range(1, 5))})


def image_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2, pad_value: int = 255) -> torch.Tensor:
    """Tile images (N, C, H, W) in [-1, 1] into one uint8 grid (H', W', C) with ``pad`` pixels between."""
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    pixels = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    grid = torch.full((c, ncol * (h + pad) + pad, nrow * (w + pad) + pad), pad_value, dtype=torch.uint8)
    for i in range(n):
        r, q = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[:, top : top + h, left : left + w] = pixels[i]
    return grid.permute(1, 2, 0).contiguous()


def sample_grid(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
                nrow: int | None = None) -> torch.Tensor:
    """The generator's images for ``z`` (and, for a conditional G, ``labels``) in inference mode, as a grid.

    Uses eval mode as the paper's code does (``training=False``: BatchNorm running
    statistics) and restores the generator's previous mode afterwards; no gradients,
    no effect on training. ``nrow`` images per grid row (default: a square).
    """
    return image_grid(_generate(generator, z, labels), nrow=nrow)


def sample_points(generator: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """A 2-D toy generator's points for ``z`` (N x 2, float32 on the CPU), in inference mode."""
    return _generate(generator, z, None).detach().float().cpu()


def _generate(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    was_training = generator.training
    generator.eval()
    try:
        with torch.inference_mode():
            return generator(z) if labels is None else generator(z, labels)
    finally:
        generator.train(was_training)
