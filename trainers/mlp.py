"""The small MLP GAN of the 2-D Gaussian-mixture toys (``landscape.data.toys``), sized as in Metz et al.

Metz, Poole, Pfau & Sohl-Dickstein, "Unrolled Generative Adversarial Networks" (ICLR 2017,
arXiv:1611.02163v4), Appendix A (the mixture-of-Gaussians experiment of Section 3.1):

- generator: z ~ N(0, I_256); 2 fully connected hidden layers of 128 units with ReLU, then
  a linear projection to 2 dimensions;
- discriminator: scales its input down by a factor of 4 (to roughly [-1, 1]), then 1 fully
  connected hidden layer with ReLU, then a linear layer to 1 logit;
- all weights orthogonal with scale (gain) 0.8 (biases zero here);
- both networks Adam, learning rate 1e-4, beta1 = 0.5; the standard GAN losses, G and D
  updated alternately; batch 512.

These are the values as recalled from the paper: its appendix text was not among the
references stored for checking while this module was written, so check them against the
PDF before quoting them. What *was* checked is the authors' reference notebook
(``poolio/unrolled_gan``, "Unrolled GAN demo.ipynb"): ``batch_size=512``, ``z_dim=256``,
``max_iter=25000``, ``beta1=0.5``, ``disc_learning_rate=1e-4`` and 128-unit hidden layers;
it warns that its architecture and hyperparameters "are not identical to the one in the
paper" (it uses tanh, 2 discriminator hidden layers, orthogonal gain 1.4, a generator
learning rate of 1e-3, and a ring of radius 1 and std 0.01). The hidden width of the
paper's discriminator (128) and the run length (25,000 iterations) are the notebook's.

:data:`METZ_MLP` holds the training settings under :class:`landscape.config.TrainConfig`'s
field names, ready for ``config.ARCH_DEFAULTS``, plus ``iterations``, the paper's run
length (``TrainConfig`` counts epochs; with :data:`landscape.data.toys.TOY_TRAIN_SIZE`
points and batch 512, 25,000 iterations are 128 epochs, or ``max_iters=25_000``); :data:`METZ_MLP_NETWORKS` the network sizes,
which are the constructors' defaults.

Plugging in (``trainers.models.build_models`` builds the networks from a config:
``VanillaGenerator(cfg.z_dim, shape, ...)``, ``VanillaDiscriminator(shape, ..., dropout=cfg.dropout)``)::

    g = MLPGenerator(cfg.z_dim, out_dim=math.prod(cfg.image_shape))   # toys: image_shape -> (2,)
    d = MLPDiscriminator(math.prod(cfg.image_shape), dropout=cfg.dropout)

The interface is the other architectures': G maps z (N, z_dim) to samples, here (N, 2);
D maps samples to logits of shape (N,) (any trailing shape is flattened, as
``VanillaDiscriminator`` does); both initialise themselves on construction (drawing from
torch's global RNG), as the Keras-initialised networks do.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from landscape.config import ARCH_DEFAULTS
from landscape.errors import LandscapeError
from trainers.layers import KerasDropout

#: Metz et al.'s training settings for the toys, under TrainConfig's field names (``iterations``: run length).
METZ_MLP: dict[str, Any] = {
    **ARCH_DEFAULTS["mlp"],  # z_dim, z_dist, batch_size, optimizer, lr_g, lr_d, betas: the config owns them
    "d_steps": 1,  # G and D updated alternately
    "dropout": 0.0,  # the paper's discriminator has no dropout
    "iterations": 25_000,  # the authors' notebook's max_iter
}

#: Metz et al.'s network sizes for the toys (the defaults of :class:`MLPGenerator` and :class:`MLPDiscriminator`).
METZ_MLP_NETWORKS: dict[str, Any] = {
    "g_hidden": 128,
    "g_layers": 2,
    "d_hidden": 128,
    "d_layers": 1,
    "activation": "relu",
    "d_input_scale": 0.25,
    "init": "orthogonal",
    "init_gain": 0.8,
}


#: The networks of the WGAN-GP authors' toy script (Gulrajani et al. 2017, ``igul222/improved_wgan_training``
#: ``gan_toy.py``, ``DIM = 512``): both players 3 hidden Linear+ReLU layers of 512 units (``ReLULayer``, He
#: initialisation), then a Linear layer (tflib's default, Glorot) to 2 outputs (G) or 1 (D); G's input is 2-D
#: Gaussian noise; D reads the points as they are (no input scaling). Architecture ``mlp512`` builds them.
GULRAJANI_MLP_NETWORKS: dict[str, Any] = {
    "g_hidden": 512,
    "g_layers": 3,
    "d_hidden": 512,
    "d_layers": 3,
    "activation": "relu",
    "d_input_scale": 1.0,
    "init": "he",
}


#: The networks of Berard et al.'s 1-D mixture (``facebookresearch/GAN-optimization-landscape``
#: ``train_mixture_gan.py`` lines 47-49 and 74-92): ``Linear(100, 100), ReLU, Linear(100, 1)`` for G (latent 100) and
#: ``Linear(1, 100), ReLU, Linear(100, 1)`` for D, with PyTorch's default Linear initialisation (the script sets
#: none): G 10,201 parameters, D 301. Architecture ``mlp100`` builds them.
BERARD_MLP_NETWORKS: dict[str, Any] = {
    "g_hidden": 100,
    "g_layers": 1,
    "d_hidden": 100,
    "d_layers": 1,
    "activation": "relu",
    "d_input_scale": 1.0,
    "init": "default",
}


def he_init(module: nn.Module) -> nn.Module:
    """tflib's initialisation of the WGAN-GP toy: every Linear weight uniform with std sqrt(2 / fan_in) ('he') for the
    hidden layers, std sqrt(2 / (fan_in + fan_out)) ('glorot', tflib's default) for the last; every bias zero."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    for i, m in enumerate(linears):
        fan_in, fan_out = m.in_features, m.out_features
        std = (2.0 / (fan_in + fan_out)) ** 0.5 if i == len(linears) - 1 else (2.0 / fan_in) ** 0.5
        nn.init.uniform_(m.weight, -std * 3**0.5, std * 3**0.5)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    return module


def _initialise(module: nn.Module, init: str, gain: float) -> None:
    if init == "orthogonal":
        orthogonal_init(module, gain)
    elif init == "he":
        he_init(module)
    elif init != "default":  # "default": PyTorch's own Linear initialisation, drawn when the layers were built
        raise LandscapeError(f"init must be orthogonal, he or default, got {init!r}.")


def orthogonal_init(module: nn.Module, gain: float = METZ_MLP_NETWORKS["init_gain"]) -> nn.Module:
    """Metz et al.'s initialisation: every Linear weight orthogonal with ``gain``, every bias zero."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.orthogonal_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


class Scale(nn.Module):
    """Multiply the input by a constant (no parameters): the discriminator's input scaling."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = float(factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor:g}"


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise LandscapeError(f"{name} must be a whole number >= 1, got {value!r}.")


class MLPGenerator(nn.Sequential):
    """z (N, z_dim) -> points (N, out_dim): ``layers`` hidden Linear+ReLU layers of ``hidden`` units, then Linear.

    Layers are named ``hidden1, act1, ..., out`` (the names the checkpoints' keys carry).
    """

    def __init__(self, z_dim: int = 256, hidden: int = 128, layers: int = 2, out_dim: int = 2,
                 *, init_gain: float = METZ_MLP_NETWORKS["init_gain"], init: str = "orthogonal"):
        _check_sizes(z_dim=z_dim, hidden=hidden, layers=layers, out_dim=out_dim)
        parts: OrderedDict[str, nn.Module] = OrderedDict()
        width = z_dim
        for i in range(1, layers + 1):
            parts[f"hidden{i}"] = nn.Linear(width, hidden)
            parts[f"act{i}"] = nn.ReLU()
            width = hidden
        parts["out"] = nn.Linear(width, out_dim)
        super().__init__(parts)
        self.z_dim, self.out_dim = z_dim, out_dim
        _initialise(self, init, init_gain)  # orthogonal (Metz et al.), he (the WGAN-GP toy) or default (Berard et al.)


class MLPDiscriminator(nn.Sequential):
    """points (N, in_dim) -> logits (N,): input scaled by ``input_scale``, ``layers`` Linear+ReLU(+dropout), Linear.

    Inputs of any trailing shape are flattened, as :class:`trainers.vanilla.VanillaDiscriminator`
    does. ``dropout`` (default 0, as in the paper) follows each hidden layer.
    """

    def __init__(self, in_dim: int = 2, hidden: int = 128, layers: int = 1, dropout: float = 0.0,
                 *, input_scale: float = METZ_MLP_NETWORKS["d_input_scale"],
                 init_gain: float = METZ_MLP_NETWORKS["init_gain"], init: str = "orthogonal"):
        _check_sizes(in_dim=in_dim, hidden=hidden, layers=layers)
        if not 0.0 <= float(dropout) < 1.0:
            raise LandscapeError(f"dropout must be in [0, 1), got {dropout!r}.")
        parts: OrderedDict[str, nn.Module] = OrderedDict(scale=Scale(input_scale))
        width = in_dim
        for i in range(1, layers + 1):
            parts[f"hidden{i}"] = nn.Linear(width, hidden)
            parts[f"act{i}"] = nn.ReLU()
            parts[f"drop{i}"] = KerasDropout(float(dropout))
            width = hidden
        parts["out"] = nn.Linear(width, 1)
        super().__init__(parts)
        self.in_dim = in_dim
        _initialise(self, init, init_gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(1)).view(-1)


__all__ = ["BERARD_MLP_NETWORKS", "GULRAJANI_MLP_NETWORKS", "METZ_MLP", "METZ_MLP_NETWORKS", "he_init", "MLPDiscriminator", "MLPGenerator", "Scale", "orthogonal_init"]
