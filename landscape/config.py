"""The run configuration: every setting needed to re-run a training run.

:class:`TrainConfig` holds the paper's reference setup as its defaults (Moses,
Malan & Bosman, GECCO '21 Companion; docs/recording.md, "The paper's setup"): z of size 20 drawn
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
from landscape.data.toys import TOYS as _TOYS
from landscape.data.toys import toy_shape as _toy_shape
from landscape.errors import LandscapeError, unknown_choice
from landscape.stages import DEFAULT_STAGES

#: Architectures and their display names.
ARCH_TITLES: dict[str, str] = {"vanilla": "Vanilla GAN", "dcgan": "DCGAN", "mlp": "MLP GAN",
                               "mlp512": "MLP GAN, 3 x 512 (WGAN-GP toy)",
                               "mlp100": "MLP GAN, 1 x 100 (Berard et al.'s 1-D mixture)"}
#: The architectures of the toys (``landscape.data.toys``) and the dimension of the points each makes:
#: Metz et al.'s and the WGAN-GP toy script's in the plane, Berard et al.'s on the line.
TOY_ARCH_DIMS: dict[str, int] = {"mlp": 2, "mlp512": 2, "mlp100": 1}
TOY_ARCHS = tuple(TOY_ARCH_DIMS)
ARCHS = tuple(ARCH_TITLES)
#: Optimizers and their display names.
OPTIMIZER_TITLES: dict[str, str] = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD", "sgd-momentum": "SGD with momentum"}
OPTIMIZERS = tuple(OPTIMIZER_TITLES)
Z_DISTS = ("uniform", "normal")
#: Arithmetic of the training step: the paper's float32, bfloat16 autocast, or TF32 matrix products (GPU).
PRECISIONS = ("fp32", "bf16", "tf32")
#: Dataset names: the registry's image datasets (display names: their ``title``), then the 2-D toys
#: generated from the seed (``landscape.data.toys``).
IMAGE_DATASETS = tuple(_DATASET_SPECS)
TOY_DATASETS = tuple(_TOYS)
DATASETS = IMAGE_DATASETS + TOY_DATASETS

# Dropout rate of the discriminator, per architecture, as in the paper's code.
DEFAULT_DROPOUT = {"vanilla": 0.5, "dcgan": 0.3, "mlp": 0.0, "mlp512": 0.0, "mlp100": 0.0}

#: GAN losses and their display names (formulas and references: ``trainers.losses``).
LOSS_TITLES: dict[str, str] = {
    "ns": "non-saturating GAN",
    "minimax": "minimax GAN",
    "lsgan": "LSGAN",
    "wgan": "WGAN",
    "wgan-gp": "WGAN-GP",
    "hinge": "hinge GAN",
}
LOSSES = tuple(LOSS_TITLES)
#: The loss families, each owned here (``trainers.losses``, the loop, the recording and the analysis read them):
#: the binary cross-entropy losses, whose D outputs a logit and whose labels can be smoothed;
BCE_LOSSES = ("ns", "minimax")
#: the losses whose discriminator is a critic: an unbounded score, no sigmoid, no label smoothing;
CRITIC_LOSSES = ("wgan", "wgan-gp", "hinge")
#: the critics that estimate the Wasserstein-1 distance: their runs record ``wasserstein`` every D step.
WASSERSTEIN_LOSSES = ("wgan", "wgan-gp")

#: The paper's values of the settings whose default depends on the loss or the architecture.
PAPER_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam", "lr_g": 1e-3, "lr_d": 1e-3, "betas": (0.9, 0.999), "rho": 0.9,
    "batch_size": 128, "z_dim": 20, "z_dist": "uniform", "d_steps": 1,
    "extragradient": False, "z_per_point": False,
}
#: Where the literature fixes them: WGAN (Arjovsky et al. 2017, Algorithm 1: RMSprop 5e-5, c = 0.01,
#: n_critic = 5; their code's RMSprop decay 0.99) and WGAN-GP (Gulrajani et al. 2017, Algorithm 1:
#: Adam 1e-4, betas 0.5/0.9, lambda = 10, n_critic = 5). Any of them can still be given explicitly.
LOSS_DEFAULTS: dict[str, dict[str, Any]] = {
    "wgan": {"optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5, "rho": 0.99, "d_steps": 5, "clip": 0.01},
    "wgan-gp": {"optimizer": "adam", "lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9), "d_steps": 5,
                "gp_weight": 10.0},
}
#: Per-architecture defaults where the architecture's paper fixes them: the MLP GAN of the 2-D toys as in
#: Metz et al. 2017 (Unrolled GANs), Appendix A and the authors' notebook: z ~ N(0, I_256), batch 512,
#: Adam 1e-4 with beta1 0.5 (``trainers.mlp`` has the network sizes).
ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {"z_dim": 256, "z_dist": "normal", "batch_size": 512, "optimizer": "adam", "lr_g": 1e-4, "lr_d": 1e-4,
            "betas": (0.5, 0.999)},
    # The WGAN-GP authors' toy script (Gulrajani et al. 2017; igul222/improved_wgan_training gan_toy.py):
    # z ~ N(0, I_2), batch 256, Adam 1e-4 with betas 0.5/0.9 (``trainers.mlp`` has the 3 x 512 ReLU networks).
    "mlp512": {"z_dim": 2, "z_dist": "normal", "batch_size": 256, "optimizer": "adam", "lr_g": 1e-4, "lr_d": 1e-4,
               "betas": (0.5, 0.9)},
    # Berard et al. 2020, facebookresearch/GAN-optimization-landscape train_mixture_gan.py, run as its README
    # says (--deterministic): z ~ N(0, I_100) (lines 36, 130), one z per data point drawn once (lines 129-131),
    # the whole 10,000-point set as one batch (lines 60, 132-134), plain gradient steps (p -= lr * g, lines 171
    # and 195) with lr_g 1e-2 and lr_d 1e-1 (lines 31-32), extragradient (--method extra, line 30: lines 156-228).
    # trainers.mlp has the networks (one hidden layer of 100 ReLU units each, PyTorch's default init). The loss stays
    # the toolkit's ns, their --model nsgan (utils.py dcgan_loss_gen); their script's default --model is gan (line 37),
    # the saturating minimax loss (utils.py gan_loss_gen), which is --loss minimax here.
    "mlp100": {"z_dim": 100, "z_dist": "normal", "batch_size": 10_000, "optimizer": "sgd", "lr_g": 1e-2,
               "lr_d": 1e-1, "extragradient": True, "z_per_point": True},
}
#: Where an architecture's paper fixes a loss's setting, over :data:`LOSS_DEFAULTS`: the WGAN-GP toy script's
#: penalty weight 0.1 ("smaller lambda makes things faster for toy tasks", with its 5 critic steps).
ARCH_LOSS_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("mlp512", "wgan-gp"): {"gp_weight": 0.1},  # its 5 critic steps are the loss's own default
    # Berard et al.'s script keeps its plain extragradient steps, one per player, for every loss (lines 156-228);
    # its penalty weight is 1e-3 (line 39) and its clip 1 (line 33). (Its training penalty is taken at the data
    # points, mode="data", line 153; the toolkit's at interpolates, Gulrajani et al.'s.)
    ("mlp100", "wgan-gp"): {"optimizer": "sgd", "lr_g": 1e-2, "lr_d": 1e-1, "d_steps": 1, "gp_weight": 1e-3},
    ("mlp100", "wgan"): {"optimizer": "sgd", "lr_g": 1e-2, "lr_d": 1e-1, "d_steps": 1, "clip": 1.0},
}


@dataclass
class TrainConfig:
    """Settings of one training run; the defaults are the paper's reference setup.

    Fields left as ``None`` that have an architecture-dependent default
    (``dropout``) are resolved when the config is created, so the stored config
    always holds the values actually used.

    One rule for every unset setting: it takes its own default from the tables
    (:data:`LOSS_DEFAULTS`, then :data:`ARCH_DEFAULTS`, then :data:`PAPER_DEFAULTS`),
    never another setting's value. In particular ``lr_g`` given alone leaves
    ``lr_d`` at its table default (give both to change both). ``landscape record``
    and sweep specs build their configs through this class, so the same settings
    give the same run from the command line, a sweep or Python.
    """

    arch: str = "vanilla"
    dataset: str = "mnist"
    epochs: int = 100
    batch_size: int | None = None  # None -> per architecture, else 128
    z_dim: int | None = None  # None -> per architecture, else 20
    z_dist: str | None = None  # "uniform": U[-1, 1]; "normal": N(0, 1); None -> per architecture, else uniform
    optimizer: str | None = None  # None -> per loss (LOSS_DEFAULTS), else "adam"
    lr_g: float | None = None  # None -> per loss, else 1e-3
    lr_d: float | None = None  # None -> per loss, else 1e-3 (never lr_g's value: see the class docstring)
    betas: tuple[float, float] | None = None  # Adam; None -> per loss, else (0.9, 0.999)
    eps: float = 1e-7  # Adam and RMSprop (Keras default)
    momentum: float = 0.5  # sgd-momentum only
    rho: float | None = None  # RMSprop decay; None -> per loss, else 0.9 (Keras default)
    loss: str = "ns"  # ns | minimax | lsgan | wgan | wgan-gp | hinge (trainers.losses)
    d_steps: int | None = None  # discriminator (critic) updates per generator update; None -> 5 for WGAN(-GP), else 1
    clip: float | None = None  # wgan only: critic weights clipped to [-clip, clip] after each update; None -> 0.01
    gp_weight: float | None = None  # wgan-gp only: lambda of the gradient penalty; None -> 10
    smooth_real: tuple[float, float] | None = None  # BCE losses: real targets drawn from U[low, high] (one-sided)
    smooth_fake: tuple[float, float] | None = None  # BCE losses: fake targets drawn from U[low, high] (two-sided)
    unroll: int = 0  # generator loss through D unrolled this many optimizer steps (Metz et al. 2016); 0: plain
    conditional: bool = False  # class-conditional G and D (Mirza & Osindero 2014)
    # Extragradient (Korpelevich 1976; Gidel et al. 2019): each iteration first steps both players from the same
    # point, then steps from the start with the gradients at that look-ahead point. Plain SGD only. None -> per arch.
    extragradient: bool | None = None
    # One z per training point, drawn once from the seed and kept (Berard et al.'s deterministic game: with the
    # whole set as one batch every iteration sees the same loss). None -> per architecture, else a fresh z per batch.
    z_per_point: bool | None = None
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
    stages: int = DEFAULT_STAGES  # checkpoints at the boundaries of this many equal parts (0: none)
    checkpoint_every: int = 0  # extra checkpoints every N iterations (0: none)
    probe_size: int = 128  # real images and z vectors kept as the fixed probe batch
    # Hessian estimates during training: None -> at the stage boundaries, 0 -> none, N -> every N iterations.
    # A run stores the value its schedule resolved (trainers.schedule.resolve_measurements): 0 where none were made.
    hessian_every: int | None = None
    hessian_k: int = 5  # extreme eigenvalues estimated at each end of the spectrum
    # Game-Jacobian spectra during training: None -> as hessian_every (so 0 there switches both off), 0 -> none,
    # N -> every N iterations. Stored as resolved, like hessian_every.
    game_every: int | None = None
    # Sample quality during training: None -> at the end of each sample epoch, 0 -> never, N -> every N iterations.
    quality_every: int | None = None
    quality_samples: int = 10_000  # generated images per quality measurement (image datasets; toys use 2,500 points)
    data_dir: str | None = None  # dataset root; None -> $LANDSCAPE_DATA or ./data
    # Resume state (trainers.resume): None -> about every 5 minutes of wall time, 0 -> never, N -> every N
    # iterations; always at the stage boundaries too (unless 0). Changes nothing in the run's numbers.
    resume_every: int | None = None

    def __post_init__(self) -> None:
        for name in ("betas", "sample_epochs", "smooth_real", "smooth_fake"):
            if isinstance(getattr(self, name), list):
                setattr(self, name, tuple(getattr(self, name)))
        if self.dropout is None and self.arch in DEFAULT_DROPOUT:
            self.dropout = DEFAULT_DROPOUT[self.arch]
        self._resolve_defaults()
        self.validate()

    def _resolve_defaults(self) -> None:
        """Fill the settings left as None: the loss's literature value, else the architecture's, else the paper's."""
        loss_defaults = LOSS_DEFAULTS.get(self.loss, {}) if isinstance(self.loss, str) else {}
        arch_defaults = ARCH_DEFAULTS.get(self.arch, {}) if isinstance(self.arch, str) else {}
        both = ARCH_LOSS_DEFAULTS.get((self.arch, self.loss), {}) if isinstance(self.arch, str) else {}
        for name in (*PAPER_DEFAULTS, "clip", "gp_weight"):
            if getattr(self, name) is None:
                for table in (both, loss_defaults, arch_defaults, PAPER_DEFAULTS):
                    if name in table:
                        setattr(self, name, table[name])
                        break

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise :class:`LandscapeError` with one sentence for any impossible value."""
        _choice("arch", self.arch, ARCHS)
        _choice("dataset", self.dataset, DATASETS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("z_dist", self.z_dist, Z_DISTS)
        _choice("precision", self.precision, PRECISIONS)
        _choice("loss", self.loss, LOSSES)
        toy = self.dataset in TOY_DATASETS
        if toy != (self.arch in TOY_ARCHS):
            raise LandscapeError(
                f"arch {self.arch} does not train on dataset {self.dataset}: the toys ({', '.join(TOY_DATASETS)}) "
                f"go with arch {', '.join(TOY_ARCHS)}, and those only with them; use "
                + (f"arch {_toy_archs(self.dataset)}." if toy else
                   f"arch vanilla or dcgan, or a toy dataset ({', '.join(TOY_DATASETS)}).")
            )
        if toy and _toy_shape(self.dataset)[0] != TOY_ARCH_DIMS[self.arch]:
            raise LandscapeError(
                f"arch {self.arch} makes {TOY_ARCH_DIMS[self.arch]}-D points and dataset {self.dataset} is "
                f"{_toy_shape(self.dataset)[0]}-D; use arch {_toy_archs(self.dataset)} for it.")
        if toy and self.conditional:
            raise LandscapeError(f"conditional is for the image datasets; dataset {self.dataset} (a 2-D toy) "
                                 "has no classes to condition on, drop conditional.")
        for name in ("epochs", "batch_size", "z_dim", "probe_size", "hessian_k"):
            _int_at_least(name, getattr(self, name), 1)
        for name in ("stages", "checkpoint_every"):
            _int_at_least(name, getattr(self, name), 0)
        if self.hessian_every is not None:
            _int_at_least("hessian_every", self.hessian_every, 0)
        if self.quality_every is not None:
            _int_at_least("quality_every", self.quality_every, 0)
        if self.game_every is not None:
            _int_at_least("game_every", self.game_every, 0)
        if self.resume_every is not None:
            _int_at_least("resume_every", self.resume_every, 0)
        _int_at_least("quality_samples", self.quality_samples, 10)
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
        for name in ("layer_norms", "share_fake_pass", "conditional", "extragradient", "z_per_point"):
            if not isinstance(getattr(self, name), bool):
                raise LandscapeError(f"{name} must be true or false, got {getattr(self, name)!r}.")
        self._validate_variant()
        check_device(self.device)

    def _validate_variant(self) -> None:
        """The GAN variant's settings, and the combinations that cannot go together (naming both settings)."""
        _int_at_least("d_steps", self.d_steps, 1)
        _int_at_least("unroll", self.unroll, 0)
        if self.clip is not None:
            if self.loss != "wgan":
                raise LandscapeError(f"clip (weight clipping) belongs to loss wgan, not loss {self.loss}; drop clip "
                                     "or use loss wgan (wgan-gp replaces clipping by its gradient penalty).")
            _positive("clip", self.clip)
        if self.gp_weight is not None:
            if self.loss != "wgan-gp":
                raise LandscapeError(f"gp_weight (the gradient penalty) belongs to loss wgan-gp, not loss "
                                     f"{self.loss}; drop gp_weight or use loss wgan-gp.")
            if not (_is_number(self.gp_weight) and math.isfinite(self.gp_weight) and self.gp_weight >= 0):
                raise LandscapeError(f"gp_weight must be a finite number >= 0, got {self.gp_weight!r}.")
        for name in ("smooth_real", "smooth_fake"):
            value = getattr(self, name)
            if value is None:
                continue
            if self.loss not in BCE_LOSSES:
                raise LandscapeError(f"{name} (label smoothing) needs loss ns or minimax (a cross-entropy), not "
                                     f"loss {self.loss}, whose discriminator has no labels to smooth.")
            ok = (isinstance(value, tuple) and len(value) == 2 and all(_is_number(v) and math.isfinite(v) for v in value)
                  and value[0] <= value[1])
            if not ok:
                raise LandscapeError(f"{name} must be two numbers LOW <= HIGH (targets drawn from U[LOW, HIGH]), "
                                     f"got {value!r}.")
            if value[0] < 0:  # above 1 is a known trick (e.g. 1.2); below 0 is no cross-entropy target at all
                raise LandscapeError(f"{name} targets must be >= 0 (a cross-entropy target below 0 has no meaning), "
                                     f"got LOW {value[0]:g}.")
        if self.unroll and self.d_steps != 1:
            raise LandscapeError(f"unroll ({self.unroll}) and d_steps ({self.d_steps}) cannot be combined: an "
                                 "unrolled generator step already looks several discriminator steps ahead; use one.")
        if self.extragradient and self.optimizer != "sgd":
            raise LandscapeError(f"extragradient takes plain gradient steps (optimizer sgd), not optimizer "
                                 f"{self.optimizer}; use optimizer sgd or drop extragradient.")
        if self.extragradient and (self.d_steps != 1 or self.unroll):
            raise LandscapeError("extragradient steps both players together once per iteration; it cannot be "
                                 "combined with d_steps above 1 or unroll.")
        if self.unroll and self.share_fake_pass:
            raise LandscapeError("unroll and share_fake_pass cannot be combined: the generator step's D forward "
                                 "runs through the unrolled weights; drop share_fake_pass.")

    # ----------------------------------------------------------- conversions
    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-ready dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        for name in ("betas", "sample_epochs", "smooth_real", "smooth_fake"):
            if out[name] is not None:
                out[name] = list(out[name])
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
        if "loss" in changes or "arch" in changes:  # re-resolve the per-loss and per-architecture defaults
            for name in (*PAPER_DEFAULTS, "clip", "gp_weight"):
                if name not in changes:
                    values[name] = None
        values.update(changes)
        return TrainConfig.from_dict(values)

    # --------------------------------------------------------------- derived
    @property
    def image_shape(self) -> tuple[int, ...]:
        """(C, H, W) of the dataset's images (the dataset registry owns them); (2,) or (1,) for a toy's points."""
        if self.dataset in TOY_DATASETS:
            return _toy_shape(self.dataset)
        return _DATASET_SPECS[self.dataset].shape


# --------------------------------------------------------------------- helpers
def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _toy_archs(dataset: str) -> str:
    """The architectures that make points of toy ``dataset``'s dimension, as words ("mlp or mlp512")."""
    archs = [a for a, dim in TOY_ARCH_DIMS.items() if dim == _toy_shape(dataset)[0]]
    return " or ".join(archs)


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


#: Settings a resumed run may change: where the data is and how often the resume state is written change
#: nothing in the run's numbers. Every other setting must equal the run file's.
RESUME_FREE_SETTINGS = ("data_dir", "resume_every")


def describe_default(name: str) -> str:
    """How setting ``name``'s default is chosen, read from the tables, for help texts and docs.

    E.g. ``"0.001; wgan: 5e-05; wgan-gp, mlp: 0.0001"`` for ``lr_g``: the paper's value (or the field's
    default), then each loss or architecture whose table gives another value (:meth:`TrainConfig._resolve_defaults`);
    ``"0.01 for wgan"`` for a setting only some losses have.
    """
    field_default = {f.name: f.default for f in dataclasses.fields(TrainConfig)}[name]
    base = PAPER_DEFAULTS.get(name, field_default)
    others: dict[str, list[str]] = {}
    arch_loss = {f"{arch} with {loss}": table for (arch, loss), table in ARCH_LOSS_DEFAULTS.items()}
    for key, table in (*LOSS_DEFAULTS.items(), *ARCH_DEFAULTS.items(), *arch_loss.items()):
        if name in table and table[name] != base:
            others.setdefault(_show(table[name]), []).append(key)
    if base is None:  # a setting only some losses have: "0.01 for wgan"
        return "; ".join(f"{v} for {', '.join(keys)}" for v, keys in others.items())
    return "; ".join([_show(base), *(f"{', '.join(keys)}: {v}" for v, keys in others.items())])


def _show(value: Any) -> str:
    """A setting's value as a user types it: 0.0001, "0.5 0.9", adam."""
    if isinstance(value, (tuple, list)):
        return " ".join(_show(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def dataset_title(name: str) -> str:
    """The display name of a dataset ("Fashion-MNIST"), or the name itself if it is not registered."""
    spec = _DATASET_SPECS.get(str(name)) or _TOYS.get(str(name))
    return spec.title if spec is not None else str(name)


__all__ = [
    "ARCHS",
    "ARCH_DEFAULTS",
    "ARCH_LOSS_DEFAULTS",
    "ARCH_TITLES",
    "BCE_LOSSES",
    "CRITIC_LOSSES",
    "LOSSES",
    "LOSS_DEFAULTS",
    "LOSS_TITLES",
    "PAPER_DEFAULTS",
    "DATASETS",
    "IMAGE_DATASETS",
    "TOY_ARCHS",
    "TOY_ARCH_DIMS",
    "TOY_DATASETS",
    "DEFAULT_DROPOUT",
    "OPTIMIZERS",
    "OPTIMIZER_TITLES",
    "PRECISIONS",
    "RESUME_FREE_SETTINGS",
    "TrainConfig",
    "WASSERSTEIN_LOSSES",
    "Z_DISTS",
    "check_device",
    "dataset_title",
    "describe_default",
]
