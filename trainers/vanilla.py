"""The paper's vanilla GAN (its Table 1): one hidden layer of 100 units in each network.

Generator: Linear(z -> 100, no bias), LeakyReLU, Linear(100 -> C*H*W), tanh.
Discriminator: Linear(C*H*W -> 100), LeakyReLU, Dropout, Linear(100 -> 1) logits.
Both take and give images as (N, C, H, W) so every architecture has the same interface.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from trainers.layers import KerasDropout, keras_init


class VanillaGenerator(nn.Sequential):
    """z (N, z_dim) -> images (N, C, H, W) in [-1, 1]."""

    def __init__(self, z_dim: int, image_shape: tuple[int, int, int], hidden: int = 100, slope: float = 0.3):
        super().__init__(
            OrderedDict(
                hidden=nn.Linear(z_dim, hidden, bias=False),
                act=nn.LeakyReLU(slope),
                out=nn.Linear(hidden, math.prod(image_shape)),
                tanh=nn.Tanh(),
            )
        )
        self.image_shape = tuple(image_shape)
        keras_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return super().forward(z).view(z.shape[0], *self.image_shape)


class VanillaDiscriminator(nn.Sequential):
    """images (N, C, H, W) -> logits (N,)."""

    def __init__(self, image_shape: tuple[int, int, int], hidden: int = 100, slope: float = 0.3, dropout: float = 0.5):
        super().__init__(
            OrderedDict(
                hidden=nn.Linear(math.prod(image_shape), hidden),
                act=nn.LeakyReLU(slope),
                drop=KerasDropout(dropout),
                out=nn.Linear(hidden, 1),
            )
        )
        keras_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(1)).view(-1)
