"""The paper's DCGAN (its Table 2), with TensorFlow "same" padding and Keras defaults.

Generator: Linear(z -> 128*s*s, no bias), BN, LeakyReLU, reshape to (128, s, s)
with s = H / 4; ConvT(128->128, k5, s1), BN, LReLU; ConvT(128->64, k5, s2), BN,
LReLU; ConvT(64->32, k5, s2), BN, LReLU; ConvT(32->C, k5, s1), tanh. No biases
before BatchNorm or in the last layer.

Discriminator: Conv(C->64, k5, s1), BN, LReLU; Conv(64->128, k5, s2), BN, LReLU,
Dropout; Conv(128->256, k5, s2), BN, LReLU, Dropout; Conv(256->1, k7, s1);
flatten the s*s map; Linear(s*s -> 1) logits.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from trainers.layers import KerasDropout, SameConv2d, SameConvTranspose2d, keras_init


class DCGANGenerator(nn.Sequential):
    """z (N, z_dim) -> images (N, C, H, W) in [-1, 1]; H and W must be multiples of 4."""

    def __init__(
        self,
        z_dim: int,
        image_shape: tuple[int, int, int],
        slope: float = 0.3,
        bn_momentum: float = 0.01,
        bn_eps: float = 1e-3,
        filters: int = 128,
    ):
        c, h, w = image_shape
        f = filters
        bn = dict(eps=bn_eps, momentum=bn_momentum)
        super().__init__(
            OrderedDict(
                fc=nn.Linear(z_dim, f * (h // 4) * (w // 4), bias=False),
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


class DCGANDiscriminator(nn.Sequential):
    """images (N, C, H, W) -> logits (N,)."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        slope: float = 0.3,
        bn_momentum: float = 0.01,
        bn_eps: float = 1e-3,
        dropout: float = 0.3,
        filters: int = 64,
    ):
        c, h, w = image_shape
        f = filters
        bn = dict(eps=bn_eps, momentum=bn_momentum)
        super().__init__(
            OrderedDict(
                conv1=SameConv2d(c, f, 5, stride=1),
                bn1=nn.BatchNorm2d(f, **bn),
                act1=nn.LeakyReLU(slope),
                conv2=SameConv2d(f, 2 * f, 5, stride=2),
                bn2=nn.BatchNorm2d(2 * f, **bn),
                act2=nn.LeakyReLU(slope),
                drop2=KerasDropout(dropout),
                conv3=SameConv2d(2 * f, 4 * f, 5, stride=2),
                bn3=nn.BatchNorm2d(4 * f, **bn),
                act3=nn.LeakyReLU(slope),
                drop3=KerasDropout(dropout),
                conv4=SameConv2d(4 * f, 1, 7, stride=1),
                flatten=nn.Flatten(1),
                out=nn.Linear(-(-h // 4) * -(-w // 4), 1),
            )
        )
        keras_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).view(-1)
