"""The Gaussian-mixture toys, on which a GAN's mode collapse is seen directly, and their exact quality measure.

Mixtures of equally likely isotropic Gaussians in the plane, and one on the line:

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
- ``mixture1d``: the 1-D mixture of Berard, Gidel, Almahairi, Vincent & Lacoste-Julien, "A Closer
  Look at the Optimization Landscapes of Generative Adversarial Networks" (ICLR 2020): two
  Gaussians at -2 and +2 with standard deviation 1, equally likely; points of shape (N, 1). The
  authors' script (``facebookresearch/GAN-optimization-landscape`` ``train_mixture_gan.py``, lines
  57 and 108-129: ``SIGMA = 1.``, ``prob = (0.5, 0.5)``, ``mus`` 2 and -2) draws a fixed set of
  ``NUM_SAMPLES = 10000`` points (line 60), so this toy's training set has 10,000 points
  (:attr:`ToySpec.train_size`), which the ``mlp100`` recipe trains on in full batches.

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

The 1-D mixture needs its own coverage rule, because its modes overlap. In one dimension
``P(|x - mu| < 3 sigma) = erf(3 / sqrt 2) = 0.99730`` for one Gaussian, but the 3-sigma
intervals of -2 and +2, [-5, 1] and [-1, 5], overlap, and their union [-5, 5] holds
``Phi(3) - Phi(-7) = 0.99865`` of the mixture: that is the 1-D ``high_quality`` ceiling
(:func:`exact_high_quality`). And the 2-D rule "a mode is covered when some high-quality
point is nearest to it" says nothing here: a generator collapsed onto 0, between the modes,
would put every point within 3 sigma of a centre and, splitting the ties, "cover" both
modes. So on a 1-D toy a mode is covered when its *core*, the interval ``|x - mu| < sigma``
(the cores [-3, -1] and [1, 3] are disjoint), holds at least half the share of the points
an exact sample puts there (:data:`CORE_SHARE_NEEDED`): exact samples put
``0.5 (Phi(1) - Phi(-1)) + 0.5 (Phi(5) - Phi(3)) = 0.3420`` of the points in each core, so
a mode needs 17.1 % of the points in its core. Exact samples of 2,500 points pass with a
margin of 18 standard errors; a generator collapsed onto one mode covers 1, one collapsed
between them 0. :func:`toy_quality` also returns, for a 1-D toy, ``ks``: the
Kolmogorov-Smirnov distance between the points and the mixture's exact CDF (about
``0.87 / sqrt(n)`` on average for exact samples), which sees any mismatch of shape.

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

#: Points drawn (from the seed) for a 2-D toy's fixed training set, so that an epoch means
#: something to the trainer: a batch of 512 gives about 195 iterations per epoch.
TOY_TRAIN_SIZE = 100_000
#: The 1-D mixture's training set: Berard et al.'s ``NUM_SAMPLES`` (``train_mixture_gan.py`` line 60).
MIXTURE1D_TRAIN_SIZE = 10_000
#: A 1-D toy's mode is covered when its core (|x - mu| < sigma) holds at least this share of an exact sample's.
CORE_SHARE_NEEDED = 0.5

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
    """One toy: an equal-weight mixture of isotropic Gaussians with these centres (each of ``dim`` coordinates)
    and standard deviation; ``train_size`` points make its training set."""

    name: str
    title: str
    centres: tuple[tuple[float, ...], ...]
    std: float
    train_size: int = TOY_TRAIN_SIZE

    @property
    def n_modes(self) -> int:
        return len(self.centres)

    @property
    def dim(self) -> int:
        """Coordinates of one point: 2 for the plane's toys, 1 for ``mixture1d``."""
        return len(self.centres[0])

    @property
    def shape(self) -> tuple[int]:
        """The shape of one sample, (dim,): the networks' "image shape" on this toy."""
        return (self.dim,)


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
        # Berard et al. 2020 (train_mixture_gan.py lines 57, 60, 124-126): N(-2, 1) and N(2, 1), 10,000 points
        ToySpec("mixture1d", "2 Gaussians on a line (-2, +2; std 1)", ((-2.0,), (2.0,)), 1.0, MIXTURE1D_TRAIN_SIZE),
    )
}


def toy_shape(name: str) -> tuple[int]:
    """The shape of one sample of toy ``name``: (2,) in the plane, (1,) on the line."""
    return toy_spec(name).shape


def exact_high_quality(name: str) -> float:
    """The ``high_quality`` of exact samples of toy ``name`` (its ceiling): :data:`EXACT_HIGH_QUALITY` in the plane
    (modes far apart); on the line, the mixture's mass within 3 std of some centre (overlaps counted once)."""
    spec = toy_spec(name)
    if spec.dim == 2:
        return EXACT_HIGH_QUALITY
    return float(np.mean([_mass_within(spec, c[0], QUALITY_STDS * spec.std) for c in spec.centres]))


def core_share(name: str) -> float:
    """The share of exact samples of 1-D toy ``name`` in one mode's core (|x - mu| < std): 0.3420 for mixture1d."""
    spec = toy_spec(name)
    if spec.dim != 1:
        raise LandscapeError(f"core_share is for the 1-D toys; {name} is a {spec.dim}-D toy.")
    return float(np.mean([_normal_mass(c[0], spec.std, spec.centres[0][0] - spec.std,
                                       spec.centres[0][0] + spec.std) for c in spec.centres]))


def _normal_cdf(x: np.ndarray | float) -> np.ndarray | float:
    from scipy.special import ndtr

    return ndtr(x)


def _normal_mass(mu: float, std: float, low: float, high: float) -> float:
    """P(low < X < high) for X ~ N(mu, std^2)."""
    return float(_normal_cdf((high - mu) / std) - _normal_cdf((low - mu) / std))


def _mass_within(spec: ToySpec, mu: float, radius: float) -> float:
    """P(the point is within ``radius`` of some centre | it was drawn from the mode at ``mu``), on the line."""
    lows = sorted((c[0] - radius, c[0] + radius) for c in spec.centres)
    merged: list[list[float]] = []
    for low, high in lows:  # the union of the intervals, so overlapping ones count once
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return sum(_normal_mass(mu, spec.std, low, high) for low, high in merged)


def mixture_cdf(name: str, x: Any) -> np.ndarray:
    """The exact CDF of 1-D toy ``name`` at ``x`` (float64)."""
    spec = toy_spec(name)
    if spec.dim != 1:
        raise LandscapeError(f"mixture_cdf is for the 1-D toys; {name} is a {spec.dim}-D toy.")
    x = np.asarray(x, dtype=np.float64)
    return np.mean([_normal_cdf((x - c[0]) / spec.std) for c in spec.centres], axis=0)


def mixture_pdf(name: str, x: Any) -> np.ndarray:
    """The exact density of 1-D toy ``name`` at ``x`` (float64): what a histogram of exact samples approaches."""
    spec = toy_spec(name)
    if spec.dim != 1:
        raise LandscapeError(f"mixture_pdf is for the 1-D toys; {name} is a {spec.dim}-D toy.")
    x = np.asarray(x, dtype=np.float64)
    z = [(x - c[0]) / spec.std for c in spec.centres]
    return np.mean([np.exp(-0.5 * u**2) for u in z], axis=0) / (spec.std * math.sqrt(2 * math.pi))


def is_toy(name: str) -> bool:
    """Whether ``name`` is one of the toys (:data:`TOYS`)."""
    return isinstance(name, str) and name in TOYS


def toy_spec(name: str) -> ToySpec:
    """The :class:`ToySpec` of ``name``; :class:`~landscape.errors.DataError` for an unknown name."""
    if not is_toy(name):
        raise DataError(unknown_choice("dataset", name, tuple(TOYS)))
    return TOYS[name]


def mode_centres(name: str) -> np.ndarray:
    """The mode centres of toy ``name``, float64 (k, dim), in the order of the mode labels."""
    return np.asarray(toy_spec(name).centres, dtype=np.float64)


def _draw(spec: ToySpec, n: int, generator: "torch.Generator | None") -> tuple["torch.Tensor", "torch.Tensor"]:
    """(points float32 (n, dim), labels int64 (n,)): a uniform mode per point plus N(0, std^2 I) noise."""
    import torch

    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise LandscapeError(f"The number of toy points must be a whole number >= 0, got {n!r}.")
    n = int(n)
    labels = torch.randint(spec.n_modes, (n,), generator=generator, dtype=torch.int64)
    noise = torch.randn(n, spec.dim, generator=generator, dtype=torch.float64)
    centres = torch.tensor(spec.centres, dtype=torch.float64)
    points = (centres[labels] + spec.std * noise).to(torch.float32)
    return points, labels


def sample_toy(name: str, n: int, *, generator: "torch.Generator | None" = None) -> "torch.Tensor":
    """``n`` points of toy ``name``, float32 (n, dim); deterministic given ``generator`` (torch's global RNG if None)."""
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


def toy_dataset(name: str, seed: int, n: int | None = None) -> ToyData:
    """The training set of toy ``name``: ``n`` points (default its ``train_size``) drawn from ``seed`` (same seed,
    same points)."""
    import torch

    spec = toy_spec(name)
    n = spec.train_size if n is None else n
    generator = torch.Generator().manual_seed(int(seed))
    points, labels = _draw(spec, n, generator)
    classes = tuple(f"mode {i}" for i in range(spec.n_modes))
    return ToyData(name=name, points=points, labels=labels, classes=classes, seed=int(seed))


def default_min_count(n: int) -> int:
    """High-quality points a mode needs to count as covered among ``n``: the literature's 1 per 2,500, scaled to ``n``."""
    return max(1, int(math.floor(n * COVERAGE_COUNT / COVERAGE_SAMPLES + 0.5)))


def _as_points(points: Any, dim: int = 2) -> np.ndarray:
    if hasattr(points, "detach"):  # a torch tensor, on any device, with or without grad
        points = points.detach().cpu().numpy()
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != dim:
        raise DataError(f"Points of a {dim}-D toy must be an array of shape (n, {dim}), got shape {array.shape}.")
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

    On a 1-D toy (points (n, 1)) a mode is covered by the core rule of the module docstring
    (``min_count`` does not apply; reported as 0), ``high_quality`` has the ceiling
    :func:`exact_high_quality` (0.99865 for ``mixture1d``), and ``ks`` is added: the
    Kolmogorov-Smirnov distance to the exact mixture.
    """
    spec = toy_spec(name)
    if spec.dim == 1:
        return _quality_1d(_as_points(points, 1)[:, 0], spec)
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


def _quality_1d(x: np.ndarray, spec: ToySpec) -> dict[str, float]:
    """:func:`toy_quality` of 1-D points ``x`` (n,): core coverage, high quality within 3 std, KS distance."""
    n = x.shape[0]
    centres = np.asarray([c[0] for c in spec.centres], dtype=np.float64)
    finite = np.isfinite(x)
    dist = np.abs(x[:, None] - centres[None, :]) if n else np.zeros((0, len(centres)))
    good = finite & (dist.min(axis=1, initial=np.inf) < QUALITY_STDS * spec.std) if n else np.zeros(0, bool)
    needed = CORE_SHARE_NEEDED * core_share(spec.name)
    in_core = (dist < spec.std) & finite[:, None]
    covered = int((in_core.mean(axis=0) >= needed).sum()) if n else 0
    ks = float("nan")
    if n and finite.all():
        xs = np.sort(x)
        cdf = mixture_cdf(spec.name, xs)
        ks = float(max((np.arange(1, n + 1) / n - cdf).max(), (cdf - np.arange(n) / n).max()))
    elif n:
        ks = 1.0  # a diverged generator: as far from the data as a distribution can be
    return {
        "modes_covered": float(covered),
        "high_quality": float(good.sum()) / n if n else float("nan"),
        "ks": ks,
        "n": float(n),
        "n_modes": float(spec.n_modes),
        "min_count": 0.0,
    }


__all__ = [
    "CORE_SHARE_NEEDED",
    "MIXTURE1D_TRAIN_SIZE",
    "core_share",
    "exact_high_quality",
    "mixture_cdf",
    "mixture_pdf",
    "toy_shape",
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
