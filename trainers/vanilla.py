"""The paper's vanilla GAN (its Table 1): one hidden layer of 100 units in each network.

Generator: Linear(z -> 100, no bias), LeakyReLU, Linear(100 -> C*H*W), tanh.
Discriminator: Linear(C*H*W -> 100), LeakyReLU, Dropout, Linear(100 -> 1) logits.
Both take and give images as (N, C, H, W) so every architecture has the same interface.

Class-conditional variant (Mirza & Osindero 2014, laid out as the common PyTorch CGAN code,
eriklindernoren/PyTorch-GAN ``implementations/cgan/cgan.py``), built with ``n_classes > 0``:
the label ``y`` is embedded by ``nn.Embedding(n_classes, n_classes)`` (a learnt code of the
one-hot label), concatenated after ``z`` in G (first layer ``Linear(z_dim + n_classes -> 100)``)
and after the flattened image in D (first layer ``Linear(C*H*W + n_classes -> 100)``).

Every network's forward is ``forward(x, labels=None)``: an unconditional network (``n_classes``
0, the paper's) raises ValueError when given labels, a conditional one when not given them.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from trainers.layers import ConditionalSequential, KerasDropout, keras_init


class VanillaGenerator(ConditionalSequential):
    """z (N, z_dim) [, labels (N,)] -> images (N, C, H, W) in [-1, 1]."""

    def __init__(
        self,
        z_dim: int,
        image_shape: tuple[int, int, int],
        hidden: int = 100,
        slope: float = 0.3,
        n_classes: int = 0,
    ):
        super().__init__(
            OrderedDict(
                hidden=nn.Linear(z_dim + n_classes, hidden, bias=False),
                act=nn.LeakyReLU(slope),
                out=nn.Linear(hidden, math.prod(image_shape)),
                tanh=nn.Tanh(),
            )
        )
        self.image_shape = tuple(image_shape)
        keras_init(self)
        self.add_label_embedding(n_classes, n_classes, f"concatenated after z: input {z_dim} + {n_classes}")

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(labels, z.shape[0])
        if labels is not None:
            z = torch.cat([z, self.embed(labels).to(z.dtype)], 1)
        return self.chain(z).view(z.shape[0], *self.image_shape)


class VanillaDiscriminator(ConditionalSequential):
    """images (N, C, H, W) [, labels (N,)] -> logits (N,)."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        hidden: int = 100,
        slope: float = 0.3,
        dropout: float = 0.5,
        n_classes: int = 0,
    ):
        features = math.prod(image_shape)
        super().__init__(
            OrderedDict(
                hidden=nn.Linear(features + n_classes, hidden),
                act=nn.LeakyReLU(slope),
                drop=KerasDropout(dropout),
                out=nn.Linear(hidden, 1),
            )
        )
        keras_init(self)
        self.add_label_embedding(
            n_classes, n_classes, f"concatenated after the flattened image: input {features} + {n_classes}"
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(labels, x.shape[0])
        x = x.flatten(1)
        if labels is not None:
            x = torch.cat([x, self.embed(labels).to(x.dtype)], 1)
        return self.chain(x).view(-1)
