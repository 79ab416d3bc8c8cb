"""The 2-D Gaussian-mixture toys, on which a GAN's mode collapse is seen directly, and their exact quality measure.

Two mixtures of equally likely isotropic Gaussians:

- ``ring8``: 8 Gaussians with centres on a circle of radius 2 (angles ``2*pi*k/8``,
  k = 0..7), standard deviation 0.02: the mixture of Metz, Poole, Pfau & Sohl-Dickstein,
  "Unrolled Generative Adversarial Networks" (ICLR 2017, arXiv:1611.02163), Section 3.1
  and Appendix A. (PacGAN's code, ``fjxmlzn/PacGAN``
  ``synthetic_data_experiments/2DRing_GAN&PacGAN/config.py``, uses radius 1 and
  std 0.01: the same mixture scaled by 1/2, so every measure below, which counts
  in standard deviations, gives the same numbers on it.)
- ``grid25``: 25 Gaussians centred on the 5 x 5 grid ``{-4, -2, 0, 2, 4}^2``, standard
  deviation 0.05: the "2D Grid" of VEEGAN (Srivastava et al., NeurIPS 2017) and PacGAN
  (Lin, Khetan, Fanti & Oh, NeurIPS 2018); the values are PacGAN's code's
  (``synthetic_data_experiments/2DGrid_GAN&PacGAN/config.py``: ``MEANS`` on
  ``range(-4, 5, 2)`` squared, ``VARIANCES = 0.05 ** 2 * I``).
- ``ring8-wgan-gp``: ``ring8`` divided by 1.414 (radius 1.414, std 0.0141), the data of the
  WGAN-GP authors' toy script (Gulrajani et al. 2017, ``igul222/improved_wgan_training``
  ``gan_toy.py``: ``dataset /= 1.414 # stdev``), which the ``mlp512`` architecture's recipe
  trains on (``landscape.config.ARCH_DEFAULTS``). Every measure below counts in standard
  deviations, so it gives the same numbers as on ``ring8`` for points scaled alike.

:func:`toy_quality` is the measure VEEGAN introduced and PacGAN reused: a generated
point is *high quality* when it lies within three standard deviations of its nearest
mode centre; a mode is *covered* (VEEGAN: "captured") when enough high-quality points
have it as their nearest centre. VEEGAN (Section 5.1; also on the authors' page,
``akashgit/VEEGAN`` ``index.md``) counts "the number of mixture components whose mean is
nearest to at least one high quality sample" on 2,500 samples per model, and PacGAN's
``MetricLogger`` (``synthetic_data_experiments/PacGAN/pacgan/extensions.py``:
``dis_thre=3``, ``mode_coverage = len(nonzero(detail_of_coverage))`` on
``num_log_figure_sample = 2500`` points) does exactly the same. So the literature's
threshold is 1 point per 2,500, and the default here keeps that *rate* for any sample
size: ``min_count = max(1, round(n / 2500))`` (1 at n = 2,500, 40 at n = 100,000). A
fixed "at least one" would otherwise count a mode more easily the more points are
drawn.

For exact samples of a mixture, a point is high quality with probability
``P(|x - mu| < 3 sigma) = 1 - exp(-9/2) = 0.98889`` (the radius of a 2-D isotropic
Gaussian is Rayleigh distributed), not the 0.997 of one dimension: that is the ceiling
of ``high_quality`` (:data:`EXACT_HIGH_QUALITY`).

Importing this module does not import torch; sampling does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from landscape.errors import DataError, LandscapeError, unknown_choice

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: Points drawn (from the seed) for a toy's fixed training set, so that an epoch means
#: something to the trainer: a batch of 512 gives about 195 iterations per epoch.
TOY_TRAIN_SIZE = 100_000

#: A point is high quality within this many standard deviations of its nearest centre (VEEGAN, PacGAN).
QUALITY_STDS = 3.0

#: The literature's coverage count: at least this many high-quality points per :data:`COVERAGE_SAMPLES`.
COVERAGE_COUNT = 1
#: The sample size the literature's coverage count is for (VEEGAN, PacGAN: 2,500 points per model).
COVERAGE_SAMPLES = 2_500

#: Fraction of exact mixture samples that are high quality: P(r < 3 sigma) for a 2-D isotropic Gaussian.
EXACT_HIGH_QUALITY = 1.0 - math.exp(-QUALITY_STDS**2 / 2.0)


@dataclass(frozen=True)
class ToySpec:
    """One toy: an equal-weight mixture of isotropic 2-D Gaussians with these centres and standard deviation."""

    name: str
    title: str
    centres: tuple[tuple[float, float], ...]
    std: float

    @property
    def n_modes(self) -> int:
        return len(self.centres)


def _ring(k: int, radius: float) -> tuple[tuple[float, float], ...]:
    return tuple((radius * math.cos(2 * math.pi * i / k), radius * math.sin(2 * math.pi * i / k)) for i in range(k))


def _grid(values: tuple[float, ...]) -> tuple[tuple[float, float], ...]:
    return tuple((float(x), float(y)) for x in values for y in values)


#: The shape of one toy sample: a point in the plane (the networks' "image shape" on a toy).
TOY_SHAPE: tuple[int] = (2,)

#: The toys, by name.
TOYS: dict[str, ToySpec] = {
    spec.name: spec
    for spec in (
        ToySpec("ring8", "8 Gaussians (ring)", _ring(8, 2.0), 0.02),
        ToySpec("grid25", "25 Gaussians (grid)", _grid((-4.0, -2.0, 0.0, 2.0, 4.0)), 0.05),
        # ring8 divided by 1.414, as Gulrajani et al.'s toy script (gan_toy.py) feeds it to WGAN-GP
        ToySpec("ring8-wgan-gp", "8 Gaussians (ring / 1.414)", _ring(8, 2.0 / 1.414), 0.02 / 1.414),
    )
}


def is_toy(name: str) -> bool:
    """Whether ``name`` is one of the toys (:data:`TOYS`)."""
    return isinstance(name, str) and name in TOYS


def toy_spec(name: str) -> ToySpec:
    """The :class:`ToySpec` of ``name``; :class:`~landscape.errors.DataError` for an unknown name."""
    if not is_toy(name):
        raise DataError(unknown_choice("dataset", name, tuple(TOYS)))
    return TOYS[name]


def mode_centres(name: str) -> np.ndarray:
    """The mode centres of toy ``name``, float64 (k, 2), in the order of the mode labels."""
    return np.asarray(toy_spec(name).centres, dtype=np.float64)


def _draw(spec: ToySpec, n: int, generator: "torch.Generator | None") -> tuple["torch.Tensor", "torch.Tensor"]:
    """(points float32 (n, 2), labels int64 (n,)): a uniform mode per point plus N(0, std^2 I) noise."""
    import torch

    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise LandscapeError(f"The number of toy points must be a whole number >= 0, got {n!r}.")
    n = int(n)
    labels = torch.randint(spec.n_modes, (n,), generator=generator, dtype=torch.int64)
    noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
    centres = torch.tensor(spec.centres, dtype=torch.float64)
    points = (centres[labels] + spec.std * noise).to(torch.float32)
    return points, labels


def sample_toy(name: str, n: int, *, generator: "torch.Generator | None" = None) -> "torch.Tensor":
    """``n`` points of toy ``name``, float32 (n, 2); deterministic given ``generator`` (torch's global RNG if None)."""
    return _draw(toy_spec(name), n, generator)[0]


@dataclass(frozen=True, repr=False, eq=False)
class ToyData:
    """A toy's fixed training set: ``points`` float32 (n, 2), ``labels`` int64 (n,) the mode each was drawn from.

    ``classes`` names the modes ("mode 0", ...) in label order, as
    :class:`landscape.data.loader.Dataset` names its classes.
    """

    name: str
    points: "torch.Tensor"
    labels: "torch.Tensor"
    classes: tuple[str, ...]
    seed: int

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def spec(self) -> ToySpec:
        return TOYS[self.name]

    def __repr__(self) -> str:
        return f"ToyData({self.name}, {len(self)} points, {len(self.classes)} modes, seed {self.seed})"


def toy_dataset(name: str, seed: int, n: int = TOY_TRAIN_SIZE) -> ToyData:
    """The training set of toy ``name``: ``n`` points drawn from ``seed`` (same seed, same points)."""
    import torch

    spec = toy_spec(name)
    generator = torch.Generator().manual_seed(int(seed))
    points, labels = _draw(spec, n, generator)
    classes = tuple(f"mode {i}" for i in range(spec.n_modes))
    return ToyData(name=name, points=points, labels=labels, classes=classes, seed=int(seed))


def default_min_count(n: int) -> int:
    """High-quality points a mode needs to count as covered among ``n``: the literature's 1 per 2,500, scaled to ``n``."""
    return max(1, int(math.floor(n * COVERAGE_COUNT / COVERAGE_SAMPLES + 0.5)))


def _as_points(points: Any) -> np.ndarray:
    if hasattr(points, "detach"):  # a torch tensor, on any device, with or without grad
        points = points.detach().cpu().numpy()
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise DataError(f"Toy points must be an array of shape (n, 2), got shape {array.shape}.")
    return array


def toy_quality(points: Any, name: str, *, min_count: int | None = None) -> dict[str, float]:
    """How well ``points`` (n, 2; numpy array or tensor) cover toy ``name``, as VEEGAN and PacGAN measure it.

    Returns a dict of floats:

    - ``modes_covered``: modes with at least ``min_count`` high-quality points nearest to them
      (a whole number; ``n_modes`` when nothing collapsed);
    - ``high_quality``: the fraction of points within 3 standard deviations of their nearest
      centre (about :data:`EXACT_HIGH_QUALITY` = 0.9889 for exact samples; NaN when n = 0);
    - ``n``: the number of points; ``n_modes``: the toy's modes; ``min_count``: the threshold used
      (default :func:`default_min_count`, the literature's 1 per 2,500 points scaled to n).

    Non-finite points (a diverged generator) count as points but are never high quality.
    """
    spec = toy_spec(name)
    xy = _as_points(points)
    n = xy.shape[0]
    if min_count is None:
        min_count = default_min_count(n)
    elif isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise LandscapeError(f"min_count must be a whole number >= 1, got {min_count!r}.")
    centres = np.asarray(spec.centres, dtype=np.float64)
    counts = np.zeros(spec.n_modes, dtype=np.int64)
    good_total = 0
    for start in range(0, n, 65_536):  # bounded memory: (chunk, k) distances at a time
        chunk = xy[start:start + 65_536]
        dist2 = ((chunk[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        nearest = np.argmin(np.where(np.isnan(dist2), np.inf, dist2), axis=1)
        best = dist2[np.arange(len(chunk)), nearest]
        good = best < (QUALITY_STDS * spec.std) ** 2  # False for NaN and inf
        good_total += int(good.sum())
        counts += np.bincount(nearest[good], minlength=spec.n_modes)
    return {
        "modes_covered": float(int((counts >= min_count).sum())),
        "high_quality": good_total / n if n else float("nan"),
        "n": float(n),
        "n_modes": float(spec.n_modes),
        "min_count": float(min_count),
    }


__all__ = [
    "COVERAGE_COUNT",
    "COVERAGE_SAMPLES",
    "EXACT_HIGH_QUALITY",
    "QUALITY_STDS",
    "TOYS",
    "TOY_SHAPE",
    "TOY_TRAIN_SIZE",
    "ToyData",
    "ToySpec",
    "default_min_count",
    "is_toy",
    "mode_centres",
    "sample_toy",
    "toy_dataset",
    "toy_quality",
    "toy_spec",
]
