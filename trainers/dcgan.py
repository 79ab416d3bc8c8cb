"""The paper's DCGAN (its Table 2), with TensorFlow "same" padding and Keras defaults.

Generator: Linear(z -> 128*s*s, no bias), BN, LeakyReLU, reshape to (128, s, s)
with s = H / 4; ConvT(128->128, k5, s1), BN, LReLU; ConvT(128->64, k5, s2), BN,
LReLU; ConvT(64->32, k5, s2), BN, LReLU; ConvT(32->C, k5, s1), tanh. No biases
before BatchNorm or in the last layer.

Discriminator: Conv(C->64, k5, s1), BN, LReLU; Conv(64->128, k5, s2), BN, LReLU,
Dropout; Conv(128->256, k5, s2), BN, LReLU, Dropout; Conv(256->1, k7, s1);
flatten the s*s map; Linear(s*s -> 1) logits.

Class-conditional variant (Mirza & Osindero 2014), built with ``n_classes > 0``: G embeds the
label by ``nn.Embedding(n_classes, n_classes)`` and concatenates it after z into its first dense
layer (``Linear(z_dim + n_classes -> 128*s*s)``); D embeds it by ``nn.Embedding(n_classes, H*W)``,
reshapes that to one extra (N, 1, H, W) input channel and concatenates it after the image
channels before the first convolution (``Conv(C+1 -> 64)``), a common DCGAN-CGAN layout.

Critic normalisation for WGAN-GP (``norm="layer"``): Gulrajani et al. (2017, section 4) note
that batch normalisation makes each sample's critic output depend on the rest of the batch,
which invalidates a gradient penalty taken per sample, and recommend layer normalisation; their
code (tflib ``ops/layernorm.py``, ``Layernorm(name, [1, 2, 3], x)``) normalises each sample over
(C, H, W) with one scale and offset per channel. That is ``nn.GroupNorm(1, C)`` exactly, which is
what the critic uses in place of each ``BatchNorm2d`` (layers ``ln1``..``ln3`` instead of
``bn1``..``bn3``; eps is ``bn_eps``; no running statistics, so train and eval mode agree).
``nn.LayerNorm([C, H, W])`` was not chosen: its elementwise affine has C*H*W scales and offsets
per layer (tying the critic to one image size and adding ~0.3M parameters on MNIST), whereas
GroupNorm(1, C) has 2C, the same trainable count as BatchNorm2d: a WGAN-GP critic has exactly
the paper's parameter count, and as GroupNorm draws nothing at construction, the same weights
for a seed too. The generator keeps its BatchNorm (the penalty concerns the critic only).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from trainers.layers import ConditionalSequential, KerasDropout, SameConv2d, SameConvTranspose2d, keras_init


#: The discriminator's normalisation layers: the paper's BatchNorm, or per-sample layer normalisation.
NORMS = ("batch", "layer")


class DCGANGenerator(ConditionalSequential):
    """z (N, z_dim) [, labels (N,)] -> images (N, C, H, W) in [-1, 1]; H and W must be multiples of 4."""

    def __init__(
        self,
        z_dim: int,
        image_shape: tuple[int, int, int],
        slope: float = 0.3,
        bn_momentum: float = 0.01,
        bn_eps: float = 1e-3,
        filters: int = 128,
        n_classes: int = 0,
    ):
        c, h, w = image_shape
        f = filters
        bn = dict(eps=bn_eps, momentum=bn_momentum)
        super().__init__(
            OrderedDict(
                fc=nn.Linear(z_dim + n_classes, f * (h // 4) * (w // 4), bias=False),
                bn0=nn.BatchNorm1d(f * (h // 4) * (w // 4), **bn),
                act0=nn.LeakyReLU(slope),
                reshape=nn.Unflatten(1, (f, h // 4, w // 4)),
                deconv1=SameConvTranspose2d(f, f, 5, stride=1, bias=False),
                bn1=nn.BatchNorm2d(f, **bn),
                act1=nn.LeakyReLU(slope),
                deconv2=SameConvTranspose2d(f, f // 2, 5, stride=2, bias=False),
                bn2=nn.BatchNorm2d(f // 2, **bn),
                act2=nn.LeakyReLU(slope),
                deconv3=SameConvTranspose2d(f // 2, f // 4, 5, stride=2, bias=False),
                bn3=nn.BatchNorm2d(f // 4, **bn),
                act3=nn.LeakyReLU(slope),
                deconv4=SameConvTranspose2d(f // 4, c, 5, stride=1, bias=False),
                tanh=nn.Tanh(),
            )
        )
        keras_init(self)
        self.add_label_embedding(n_classes, n_classes, f"concatenated after z: dense input {z_dim} + {n_classes}")

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(labels, z.shape[0])
        if labels is not None:
            z = torch.cat([z, self.embed(labels).to(z.dtype)], 1)
        return self.chain(z)


class DCGANDiscriminator(ConditionalSequential):
    """images (N, C, H, W) [, labels (N,)] -> logits (N,)."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        slope: float = 0.3,
        bn_momentum: float = 0.01,
        bn_eps: float = 1e-3,
        dropout: float = 0.3,
        filters: int = 64,
        n_classes: int = 0,
        norm: str = "batch",
    ):
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}.")
        c, h, w = image_shape
        f = filters
        cin = c + (1 if n_classes else 0)

        def normalise(i: int, channels: int) -> tuple[str, nn.Module]:
            if norm == "batch":
                return f"bn{i}", nn.BatchNorm2d(channels, eps=bn_eps, momentum=bn_momentum)
            return f"ln{i}", nn.GroupNorm(1, channels, eps=bn_eps)

        super().__init__(
            OrderedDict(
                [
                    ("conv1", SameConv2d(cin, f, 5, stride=1)),
                    normalise(1, f),
                    ("act1", nn.LeakyReLU(slope)),
                    ("conv2", SameConv2d(f, 2 * f, 5, stride=2)),
                    normalise(2, 2 * f),
                    ("act2", nn.LeakyReLU(slope)),
                    ("drop2", KerasDropout(dropout)),
                    ("conv3", SameConv2d(2 * f, 4 * f, 5, stride=2)),
                    normalise(3, 4 * f),
                    ("act3", nn.LeakyReLU(slope)),
                    ("drop3", KerasDropout(dropout)),
                    ("conv4", SameConv2d(4 * f, 1, 7, stride=1)),
                    ("flatten", nn.Flatten(1)),
                    ("out", nn.Linear(-(-h // 4) * -(-w // 4), 1)),
                ]
            )
        )
        self.image_shape = (c, h, w)
        self.norm = norm
        keras_init(self)
        self.add_label_embedding(
            n_classes, h * w, f"reshaped to one (1, {h}, {w}) channel after the image's: conv1 input {c} + 1 channels"
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(labels, x.shape[0])
        if labels is not None:
            _, h, w = self.image_shape
            y = self.embed(labels).to(x.dtype).view(x.shape[0], 1, h, w)
            x = torch.cat([x, y], 1)
        return self.chain(x).view(-1)
