"""The run configuration: every setting needed to re-run a training run.

:class:`TrainConfig` holds the paper's reference setup as its defaults (Moses,
Malan & Bosman, GECCO '21 Companion; DESIGN.md section 4): z of size 20 drawn
from U[-1, 1], batch 128, 100 epochs, Adam(1e-3, betas 0.9/0.999, eps 1e-7),
Keras layer defaults (LeakyReLU slope 0.3, BatchNorm momentum 0.99 in Keras
terms = 0.01 in PyTorch terms, eps 1e-3). Every choice is a field, stored as a
flat JSON dict in the run file, so another choice is one flag away and a run can
always be rebuilt from its file.

This module imports nothing heavy (the dataset names come from the dataset
registry, which needs no torch).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from landscape.data.registry import DATASETS as _DATASET_SPECS
from landscape.errors import LandscapeError, unknown_choice

#: Architectures and their display names.
ARCH_TITLES: dict[str, str] = {"vanilla": "Vanilla GAN", "dcgan": "DCGAN"}
ARCHS = tuple(ARCH_TITLES)
#: Optimizers and their display names.
OPTIMIZER_TITLES: dict[str, str] = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD", "sgd-momentum": "SGD with momentum"}
OPTIMIZERS = tuple(OPTIMIZER_TITLES)
Z_DISTS = ("uniform", "normal")
#: Arithmetic of the training step: the paper's float32, bfloat16 autocast, or TF32 matrix products (GPU).
PRECISIONS = ("fp32", "bf16", "tf32")
#: Dataset names, from the dataset registry (their display names are its ``title``).
DATASETS = tuple(_DATASET_SPECS)

# Dropout rate of the discriminator, per architecture, as in the paper's code.
DEFAULT_DROPOUT = {"vanilla": 0.5, "dcgan": 0.3}


@dataclass
class TrainConfig:
    """Settings of one training run; the defaults are the paper's reference setup.

    Fields left as ``None`` that have an architecture-dependent default
    (``dropout``) are resolved when the config is created, so the stored config
    always holds the values actually used.
    """

    arch: str = "vanilla"
    dataset: str = "mnist"
    epochs: int = 100
    batch_size: int = 128
    z_dim: int = 20
    z_dist: str = "uniform"  # "uniform": U[-1, 1]; "normal": N(0, 1)
    optimizer: str = "adam"
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)  # Adam
    eps: float = 1e-7  # Adam and RMSprop (Keras default)
    momentum: float = 0.5  # sgd-momentum only
    rho: float = 0.9  # RMSprop decay (Keras default)
    leaky_slope: float = 0.3  # Keras LeakyReLU default
    bn_momentum: float = 0.01  # PyTorch convention; Keras momentum 0.99
    bn_eps: float = 1e-3  # Keras BatchNormalization default
    dropout: float | None = None  # discriminator dropout; None -> 0.5 vanilla, 0.3 dcgan
    share_fake_pass: bool = False  # True: one D forward on the fakes serves both steps (faster, one dropout mask)
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    threads: int | None = None  # CPU threads PyTorch uses; None -> trainers.threads.resolve_threads (stored resolved)
    precision: str = "fp32"  # "fp32" (the paper's), "bf16" (autocast of the forward passes), "tf32" (GPU matmuls)
    subset: int | None = None  # train on the first N images only
    max_iters: int | None = None  # stop after this many iterations
    layer_norms: bool = False  # also record per-tensor gradient norms
    sample_epochs: tuple[int, ...] | None = None  # None -> 1, 25, 50, 75, 100 scaled to the run
    stages: int = 5  # checkpoints at the boundaries of this many equal parts (0: none)
    checkpoint_every: int = 0  # extra checkpoints every N iterations (0: none)
    probe_size: int = 128  # real images and z vectors kept as the fixed probe batch
    # Hessian estimates during training: None -> at the stage boundaries, 0 -> none, N -> every N iterations.
    # A run stores the value its schedule resolved (trainers.schedule.resolve_hessian_every): 0 where none were made.
    hessian_every: int | None = None
    hessian_k: int = 5  # extreme eigenvalues estimated at each end of the spectrum
    data_dir: str | None = None  # dataset root; None -> $LANDSCAPE_DATA or ./data

    def __post_init__(self) -> None:
        if isinstance(self.betas, list):
            self.betas = tuple(self.betas)
        if isinstance(self.sample_epochs, list):
            self.sample_epochs = tuple(self.sample_epochs)
        if self.dropout is None and self.arch in DEFAULT_DROPOUT:
            self.dropout = DEFAULT_DROPOUT[self.arch]
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise :class:`LandscapeError` with one sentence for any impossible value."""
        _choice("arch", self.arch, ARCHS)
        _choice("dataset", self.dataset, DATASETS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("z_dist", self.z_dist, Z_DISTS)
        _choice("precision", self.precision, PRECISIONS)
        for name in ("epochs", "batch_size", "z_dim", "probe_size", "hessian_k"):
            _int_at_least(name, getattr(self, name), 1)
        for name in ("stages", "checkpoint_every"):
            _int_at_least(name, getattr(self, name), 0)
        if self.hessian_every is not None:
            _int_at_least("hessian_every", self.hessian_every, 0)
        if self.threads is not None:
            _int_at_least("threads", self.threads, 1)
        _int_at_least("seed", self.seed, 0)
        for name in ("lr_g", "lr_d", "eps", "bn_eps"):
            _positive(name, getattr(self, name))
        if not (isinstance(self.betas, tuple) and len(self.betas) == 2):
            raise LandscapeError(f"betas must be two numbers in [0, 1), got {self.betas!r}.")
        for b in self.betas:
            _in_unit("betas", b, closed_right=False)
        _in_unit("momentum", self.momentum, closed_right=False)
        _in_unit("rho", self.rho, closed_right=False)
        _in_unit("dropout", self.dropout, closed_right=False)
        if not (_is_number(self.bn_momentum) and 0 < self.bn_momentum <= 1):
            raise LandscapeError(f"bn_momentum must be in (0, 1] (PyTorch convention), got {self.bn_momentum!r}.")
        if not (_is_number(self.leaky_slope) and self.leaky_slope >= 0 and math.isfinite(self.leaky_slope)):
            raise LandscapeError(f"leaky_slope must be a finite number >= 0, got {self.leaky_slope!r}.")
        if self.subset is not None:
            _int_at_least("subset", self.subset, 1)
            if self.subset < self.batch_size:
                raise LandscapeError(
                    f"subset ({self.subset}) must hold at least one batch of {self.batch_size} images; "
                    "raise subset or lower batch_size."
                )
        if self.max_iters is not None:
            _int_at_least("max_iters", self.max_iters, 1)
        if self.sample_epochs is not None:
            for e in self.sample_epochs:
                _int_at_least("sample_epochs", e, 1)
        for name in ("layer_norms", "share_fake_pass"):
            if not isinstance(getattr(self, name), bool):
                raise LandscapeError(f"{name} must be true or false, got {getattr(self, name)!r}.")
        check_device(self.device)

    # ----------------------------------------------------------- conversions
    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-ready dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        if self.sample_epochs is not None:
            out["sample_epochs"] = list(self.sample_epochs)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any], strict: bool = True) -> TrainConfig:
        """Build a config from a dict such as a run file's config.

        With ``strict`` an unknown key is an error (a typo in a user's setting);
        without it unknown keys are ignored (a run file written by a newer
        version that added settings).
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown and strict:
            raise LandscapeError(
                f"Unknown setting(s) {', '.join(unknown)}; known settings are {', '.join(sorted(known))}."
            )
        return cls(**{k: v for k, v in values.items() if k in known})

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        values = self.to_dict()
        if "arch" in changes and "dropout" not in changes:
            values["dropout"] = None  # re-resolve the architecture default
        values.update(changes)
        return TrainConfig.from_dict(values)

    # --------------------------------------------------------------- derived
    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the dataset's images."""
        return (3, 32, 32) if self.dataset == "cifar10" else (1, 28, 28)


# --------------------------------------------------------------------- helpers
def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_device(device: Any) -> str:
    """``device`` if it is auto, cpu, cuda or cuda:N; one sentence otherwise."""
    if not (isinstance(device, str) and (device in ("auto", "cpu", "cuda") or _is_cuda_index(device))):
        raise LandscapeError(f"Unknown device {device!r}; use auto, cpu, cuda or cuda:N.")
    return device


def _is_cuda_index(dev: str) -> bool:
    head, _, idx = dev.partition(":")
    return head == "cuda" and idx.isdigit()


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise LandscapeError(unknown_choice(name, value, allowed))


def _int_at_least(name: str, value: Any, low: int) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= low):
        raise LandscapeError(f"{name} must be a whole number >= {low}, got {value!r}.")


def _positive(name: str, value: Any) -> None:
    if not (_is_number(value) and math.isfinite(value) and value > 0):
        raise LandscapeError(f"{name} must be a positive finite number, got {value!r}.")


def _in_unit(name: str, value: Any, closed_right: bool) -> None:
    ok = _is_number(value) and 0 <= value and (value <= 1 if closed_right else value < 1)
    if not ok:
        bound = "[0, 1]" if closed_right else "[0, 1)"
        raise LandscapeError(f"{name} must be in {bound}, got {value!r}.")


def dataset_title(name: str) -> str:
    """The display name of a dataset ("Fashion-MNIST"), or the name itself if it is not registered."""
    spec = _DATASET_SPECS.get(str(name))
    return spec.title if spec is not None else str(name)


__all__ = [
    "ARCHS",
    "ARCH_TITLES",
    "DATASETS",
    "DEFAULT_DROPOUT",
    "OPTIMIZERS",
    "OPTIMIZER_TITLES",
    "PRECISIONS",
    "TrainConfig",
    "Z_DISTS",
    "check_device",
    "dataset_title",
]
