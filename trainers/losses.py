"""The paper's GAN losses: binary cross-entropy on logits, non-saturating generator loss.

D loss = BCE(D(x), 1) + BCE(D(G(z)), 0), kept as its two parts so the trainer can
record each part's loss and gradient norm; G loss = BCE(D(G(z)), 1). Both are
means over the batch, as Keras' ``BinaryCrossentropy(from_logits=True)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def g_loss(d_fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: BCE of D's logits on fakes against label 1."""
    return F.binary_cross_entropy_with_logits(d_fake_logits, torch.ones_like(d_fake_logits))


def d_loss_parts(d_real_logits: torch.Tensor, d_fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(real part, fake part) of the discriminator loss; the D loss is their sum."""
    real = F.binary_cross_entropy_with_logits(d_real_logits, torch.ones_like(d_real_logits))
    fake = F.binary_cross_entropy_with_logits(d_fake_logits, torch.zeros_like(d_fake_logits))
    return real, fake
