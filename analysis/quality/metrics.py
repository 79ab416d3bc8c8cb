"""Sample-quality metrics of GAN studies, from a domain classifier's outputs.

Inputs are the classifier's class probabilities (``N x K``) and its
penultimate-layer features (``N x D``) for generated and real samples, as numpy
arrays or torch tensors (anything ``np.asarray`` takes works too). Results are
Python floats or ints, or dicts of floats.

Label-based metrics (from probabilities):

- :func:`inception_score`, :func:`inception_score_std` (Salimans et al. 2016),
- :func:`class_distribution`, :func:`class_kl`, :func:`classes_covered`
  (class balance and dropped classes of the generator).

Feature-based metrics (from features):

- :func:`feature_statistics` and :func:`frechet_distance` (FID-style, Heusel et al. 2017),
- :func:`kernel_inception_distance` (KID, Bińkowski et al. 2018: unbiased MMD^2, cubic polynomial kernel),
- :func:`knn_radii` and :func:`prdc`: precision, recall, density and coverage
  (Naeem et al. 2020).

What a measurement stores and how each stored metric is named, titled and shown is one table,
:data:`landscape.metric_names.QUALITY_METRICS`: a new metric computed here and stored by
:func:`analysis.quality.measure.measure_outputs` is one new row there (name, title, short name,
whether larger is better, image or toy, the timeline's y span), and every table, figure and report
follows.

The real (test) set is fixed, so a caller computes its statistics and k-NN radii
once and passes them to every evaluation::

    mu_r, sigma_r = feature_statistics(real_features)
    radii_r = knn_radii(real_features, k=5)
    ...
    fd = frechet_distance(*feature_statistics(fake_features), mu_r, sigma_r)
    pr = prdc(real_features, fake_features, k=5, real_radii=radii_r)

Bad input (wrong shapes, mismatched dimensions, too few samples for ``k``,
probabilities that are not probabilities) raises
:class:`~landscape.errors.LandscapeError` with one sentence. Non-finite values
(NaN, +-inf) are never silently dropped or propagated: they raise the same error,
saying how many rows are affected, since one NaN feature would otherwise poison
every distance or the covariance without notice. The caller decides whether to
drop those samples.

Distances for :func:`knn_radii` and :func:`prdc` are computed with torch in
float32 (as the reference ``prdc`` package, whose inputs are float32), in row
chunks of bounded size, after centring the features (distances do not change,
float32 cancellation does). The Fréchet statistics are float64.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.linalg
import torch
from scipy.special import rel_entr

from landscape.errors import LandscapeError

__all__ = [
    "class_distribution",
    "class_kl",
    "classes_covered",
    "feature_statistics",
    "frechet_distance",
    "inception_score",
    "inception_score_std",
    "kernel_inception_distance",
    "kid_real_sums",
    "kid_subsets",
    "knn_radii",
    "prdc",
]

#: most float32 elements of one chunk of a distance matrix (4 MiB: rows of ~100 x 10,000
#: stay in cache, which was the fastest on one thread; see benchmarks/bench_quality_metrics.py)
_CHUNK_ELEMENTS = 1 << 20

#: columns of one group in the k-th smallest selection of the k-NN radii (:func:`_kth_smallest`): 64 was the
#: fastest of 32-200 on one thread at 10,000 columns
_KNN_GROUP = 64

#: how far a row of probabilities may sum away from 1 (float32 softmax is within ~1e-6)
_PROB_SUM_TOL = 1e-3


# --------------------------------------------------------------------------- input helpers


def _as_numpy(x: Any, dtype: Any = np.float64) -> np.ndarray:
    """``x`` (numpy array, torch tensor, nested list) as a numpy array of ``dtype``."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _as_tensor(x: Any) -> torch.Tensor:
    """``x`` as a CPU float32 torch tensor (no copy when it already is one)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(device="cpu", dtype=torch.float32)
    return torch.as_tensor(np.asarray(x, dtype=np.float32))


def _rows(n: int) -> str:
    """``"1 row"``, ``"3 rows"``."""
    return f"{n} row{'s' if n != 1 else ''}"


def _check_finite(x: np.ndarray, what: str) -> None:
    """Raise when ``x`` holds NaN or infinite values, counting the rows that do."""
    finite = np.isfinite(x)
    if not finite.all():
        bad = int((~finite.reshape(len(x), -1).all(axis=1)).sum()) if x.ndim > 1 else int((~finite).sum())
        raise LandscapeError(
            f"{what} has {_rows(bad)} with NaN or infinite values; drop or fix those samples first."
        )


def _check_matrix(x: np.ndarray, what: str, min_rows: int = 1) -> None:
    """Raise unless ``x`` is a finite 2-D array with at least ``min_rows`` rows and one column."""
    if x.ndim != 2:
        raise LandscapeError(f"{what} must be a 2-D array (samples x columns), got shape {tuple(x.shape)}.")
    if x.shape[0] < min_rows or x.shape[1] < 1:
        raise LandscapeError(
            f"{what} needs at least {min_rows} sample{'s' if min_rows != 1 else ''} and one column, "
            f"got shape {tuple(x.shape)}."
        )
    _check_finite(x, what)


def _probabilities(probs: Any, what: str = "probs") -> np.ndarray:
    """``probs`` validated as N x K class probabilities, float64, rows renormalised to sum exactly 1."""
    p = _as_numpy(probs)
    _check_matrix(p, what)
    if (p < 0).any():
        raise LandscapeError(f"{what} has negative entries; pass probabilities (softmax of the logits), not logits.")
    sums = p.sum(axis=1)
    worst = float(np.abs(sums - 1.0).max())
    if worst > _PROB_SUM_TOL:
        raise LandscapeError(
            f"{what} rows must sum to 1 (one sums to {sums[np.argmax(np.abs(sums - 1.0))]:.4g}); "
            "pass probabilities (softmax of the logits)."
        )
    return p / sums[:, None]


def _distribution(p: Any, what: str) -> np.ndarray:
    """A 1-D non-negative finite vector with a positive sum, normalised to sum 1 (counts are accepted)."""
    q = _as_numpy(p)
    if q.ndim != 1 or q.size == 0:
        raise LandscapeError(f"{what} must be a non-empty 1-D class distribution, got shape {tuple(q.shape)}.")
    _check_finite(q, what)
    if (q < 0).any() or q.sum() <= 0:
        raise LandscapeError(f"{what} must be non-negative with a positive sum (a histogram or shares).")
    return q / q.sum()


def _matching_distributions(p_gen: Any, p_real: Any) -> tuple[np.ndarray, np.ndarray]:
    """``p_gen`` and ``p_real`` normalised, with the same number of classes."""
    g, r = _distribution(p_gen, "p_gen"), _distribution(p_real, "p_real")
    if g.shape != r.shape:
        raise LandscapeError(f"p_gen has {g.size} classes but p_real has {r.size}; they must match.")
    return g, r


def _check_positive_int(value: Any, name: str) -> None:
    """Raise unless ``value`` is an integer >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise LandscapeError(f"{name} must be a positive integer, got {value!r}.")


def _check_k(k: int, n: int, what: str) -> None:
    """Raise unless ``1 <= k < n`` (k neighbours besides the point itself)."""
    _check_positive_int(k, "k")
    if k >= n:
        raise LandscapeError(
            f"k={k} needs more than {k} samples in {what}, which has {n}; lower k or pass more samples."
        )


def _features(features: Any, what: str) -> torch.Tensor:
    """Features validated as a finite 2-D array, as a float32 tensor."""
    x = _as_tensor(features)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise LandscapeError(f"{what} must be a non-empty 2-D array (samples x features), got shape {tuple(x.shape)}.")
    finite = torch.isfinite(x).all(dim=1)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise LandscapeError(f"{what} has {_rows(bad)} with NaN or infinite values; drop or fix those samples first.")
    return x


# --------------------------------------------------------------------------- label-based metrics


def _split_scores(probs: Any, splits: int) -> np.ndarray:
    """exp(mean KL(p(y|x) || p(y))) of each of ``splits`` consecutive, near-equal parts of ``probs``."""
    p = _probabilities(probs)
    _check_positive_int(splits, "splits")
    if splits > len(p):
        raise LandscapeError(f"splits={splits} is more than the {len(p)} samples in probs; lower splits.")
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        scores.append(np.exp(rel_entr(part, marginal).sum(axis=1).mean()))
    return np.asarray(scores)


def inception_score(probs: Any, splits: int = 1) -> float:
    """Inception score of class probabilities ``probs`` (N x K), the mean over ``splits`` parts.

    IS = exp( E_x KL( p(y|x) || p(y) ) ),  p(y) = E_x p(y|x)  (the marginal over the samples),

    computed on each of ``splits`` consecutive parts of ``probs`` (``np.array_split``:
    sizes differ by at most one, every sample is used) with that part's own marginal;
    the result is the mean of the parts' scores (their spread is
    :func:`inception_score_std`). 0 log 0 = 0. It lies in [1, K]: 1 when every sample
    gets the same distribution, K for confident one-hot predictions spread evenly
    over the K classes. Rows are renormalised to sum 1 (after checking they sum to 1
    within 1e-3).

    Reference: T. Salimans, I. Goodfellow, W. Zaremba, V. Cheung, A. Radford, X. Chen,
    "Improved Techniques for Training GANs", NeurIPS 2016.
    """
    return float(_split_scores(probs, splits).mean())


def inception_score_std(probs: Any, splits: int = 10) -> float:
    """Standard deviation (``np.std``, ddof=0, as in Salimans et al.'s code) of the per-split inception scores.

    The companion of :func:`inception_score`: with the same ``splits``, the usual
    "IS = mean +- std" report is ``inception_score(p, s), inception_score_std(p, s)``.
    0 for ``splits=1``.

    Reference: T. Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016.
    """
    return float(_split_scores(probs, splits).std())


def class_distribution(probs_or_labels: Any, n_classes: int) -> np.ndarray:
    """The normalised histogram of predicted classes: share of samples assigned to each of ``n_classes``.

    p(y) = #{x : c(x) = y} / N,  c(x) = argmax_y p(y|x) for probabilities (N x K, K =
    ``n_classes``), or the given integer labels (N,) in [0, n_classes). Returns a
    float64 array of length ``n_classes`` summing to 1: the input of
    :func:`class_kl` and :func:`classes_covered`.

    Reference: the class-distribution mode-collapse measure used e.g. by
    S. Santurkar, L. Schmidt, A. Madry, "A Classification-Based Study of Covariate
    Shift in GAN Distributions", ICML 2018.
    """
    _check_positive_int(n_classes, "n_classes")
    x = _as_numpy(probs_or_labels)
    if x.ndim == 2:
        if x.shape[1] != n_classes:
            raise LandscapeError(f"probs has {x.shape[1]} columns but n_classes is {n_classes}; they must match.")
        labels = _probabilities(x).argmax(axis=1)
    elif x.ndim == 1:
        _check_finite(x, "labels")
        if x.size and (np.any(x != np.round(x)) or x.min() < 0 or x.max() >= n_classes):
            raise LandscapeError(
                f"labels must be integers in [0, {n_classes}); got values from {x.min():g} to {x.max():g}."
            )
        labels = x.astype(np.int64)
    else:
        raise LandscapeError(
            f"Pass probabilities (N x {n_classes}) or labels (N,), got shape {tuple(x.shape)}."
        )
    if labels.size == 0:
        raise LandscapeError("No samples were given; pass at least one prediction.")
    return np.bincount(labels, minlength=n_classes).astype(np.float64) / labels.size


def class_kl(p_gen: Any, p_real: Any) -> float:
    """KL(p_gen || p_real) = sum_y p_gen(y) log(p_gen(y) / p_real(y)) of two class distributions, in nats.

    ``p_gen``, ``p_real``: class shares (or counts; both are normalised to sum 1), e.g.
    from :func:`class_distribution`; 0 log 0 = 0.

    Direction (a deliberate choice): the study notation is KL(p_real || p_gen), but
    that is infinite as soon as the generator drops one class, which is the very
    event it is meant to measure, so it cannot rank collapsed generators.
    KL(p_gen || p_real) is finite whenever the real data has every class, 0 for
    matching distributions, and log K for a generator that produces one class only
    against K uniform real classes (log 10 = 2.303 for 10 classes). It is ``inf``
    only when the generator produces a class absent from ``p_real``.

    Reference: S. Kullback, R. A. Leibler, "On Information and Sufficiency", Ann.
    Math. Statist. 1951; as a mode-collapse measure, Santurkar et al., ICML 2018.
    """
    g, r = _matching_distributions(p_gen, p_real)
    return float(rel_entr(g, r).sum())


def classes_covered(p_gen: Any, p_real: Any, min_share: float = 0.1) -> int:
    """Number of classes y with p_real(y) > 0 and p_gen(y) >= min_share * p_real(y).

    A class counts as covered when the generator produces it at least ``min_share``
    times as often as the real data has it (0.1: a tenth of its real share);
    classes absent from the real data never count. ``p_gen``, ``p_real`` as in
    :func:`class_kl`. All K classes for matching distributions, 1 for a one-class
    generator.

    Reference: the "number of modes covered" of mode-collapse studies, e.g.
    A. Srivastava, L. Valkov, C. Russell, M. U. Gutmann, C. Sutton, "VEEGAN",
    NeurIPS 2017 (there on a mixture of Gaussians).
    """
    if not np.isfinite(min_share) or min_share < 0:
        raise LandscapeError(f"min_share must be a non-negative number, got {min_share!r}.")
    g, r = _matching_distributions(p_gen, p_real)
    return int(((r > 0) & (g >= min_share * r)).sum())


# --------------------------------------------------------------------------- Fréchet distance


def feature_statistics(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D x D, ddof=1) of ``features`` (N x D, N >= 2), in float64.

    mu = (1/N) sum_i x_i,  Sigma = (1/(N-1)) sum_i (x_i - mu)(x_i - mu)^T,

    the Gaussian fitted to the features by :func:`frechet_distance`.

    Reference: M. Heusel, H. Ramsauer, T. Unterthiner, B. Nessler, S. Hochreiter,
    "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
    Equilibrium", NeurIPS 2017.
    """
    x = _as_numpy(features)
    _check_matrix(x, "features", min_rows=2)
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def _check_gaussian(mu: np.ndarray, sigma: np.ndarray, what: str) -> None:
    """Raise unless ``mu`` is (D,) and ``sigma`` a finite symmetric (D, D)."""
    if mu.ndim != 1 or sigma.shape != (mu.size, mu.size):
        raise LandscapeError(
            f"{what}: the mean must be (D,) and the covariance (D, D), got {tuple(mu.shape)} and {tuple(sigma.shape)}."
        )
    _check_finite(mu, f"the mean of {what}")
    _check_finite(sigma, f"the covariance of {what}")
    scale = max(float(np.abs(sigma).max()), 1e-300)
    if float(np.abs(sigma - sigma.T).max()) > 1e-6 * scale:
        raise LandscapeError(
            f"The covariance of {what} is not symmetric; pass a covariance matrix (feature_statistics)."
        )


def _sqrtm_product(sigma1: np.ndarray, sigma2: np.ndarray, eps: float) -> np.ndarray:
    """Real part of (sigma1 sigma2)^{1/2}, with eps*I added to both when the plain product's root is not finite."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)  # singular products are handled below
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if not np.isfinite(covmean).all():
        raise LandscapeError("The covariance product has no finite square root, even regularised; pass more samples.")
    if np.iscomplexobj(covmean):
        imag = float(np.abs(np.diagonal(covmean).imag).max())
        if imag > 1e-3:
            raise LandscapeError(
                f"The square root of the covariance product has a large imaginary part ({imag:.3g}); "
                "the covariances are not positive semi-definite or too few samples were used."
            )
        covmean = covmean.real
    return covmean


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, eps: float = 1e-6) -> float:
    """Fréchet (2-Wasserstein) distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    d^2 = ||mu1 - mu2||^2 + Tr( sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2} ),

    the FID when the statistics are those of Inception features; here of the domain
    classifier's features (:func:`feature_statistics`). Computed as pytorch-fid does:
    ``scipy.linalg.sqrtm`` of the product; when that is not finite (a singular
    product, e.g. fewer samples than dimensions) ``eps * I`` is added to both
    covariances and the root recomputed; an imaginary part from rounding is dropped
    (the diagonal's must be below 1e-3, otherwise LandscapeError). The result is >= 0
    in exact arithmetic; a negative value within rounding (1e-9 of the traces) is
    clamped to 0, a larger one raises (the covariances are not PSD). Symmetric in
    its two Gaussians up to rounding.

    Reference: M. Heusel et al., "GANs Trained by a Two Time-Scale Update Rule
    Converge to a Local Nash Equilibrium", NeurIPS 2017; D. C. Dowson, B. V. Landau,
    "The Fréchet distance between multivariate normal distributions", J. Multivariate
    Anal. 1982.
    """
    m1, s1, m2, s2 = (_as_numpy(a) for a in (mu1, sigma1, mu2, sigma2))
    _check_gaussian(m1, s1, "the first Gaussian")
    _check_gaussian(m2, s2, "the second Gaussian")
    if m1.size != m2.size:
        raise LandscapeError(f"The Gaussians have different dimensions ({m1.size} and {m2.size}); they must match.")
    diff = m1 - m2
    covmean = _sqrtm_product(s1, s2, eps)
    traces = float(np.trace(s1) + np.trace(s2))
    d2 = float(diff @ diff + traces - 2.0 * np.trace(covmean))
    if d2 < 0:
        if d2 < -1e-9 * max(traces, 1.0):
            raise LandscapeError(
                f"The Fréchet distance came out negative ({d2:.3g}); the covariances are not positive semi-definite."
            )
        d2 = 0.0
    return d2


# --------------------------------------------------------------------------- kernel distance (KID)

#: KID's defaults, torch-fidelity's and torchmetrics': 100 subsets of 1,000 samples from each side.
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000

#: rows of one strip of a KID kernel matrix: 250 x 1,000 float64 (2 MiB) stays in cache between the product, the
#: cube and the sum, and the strips of a symmetric m x m matrix compute (m + 250) / (2 m) of it (62.5% at m = 1,000;
#: benchmarks/bench_quality.py times it against whole-matrix products)
_KID_ROWS = 250

_ONE = torch.ones((), dtype=torch.float64)


def _cubic_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The kernel matrix k(x_i, y_j) = (x_i . y_j / d + 1)^3 of float64 rows, in one product and an in-place cube.

    ``addmm`` scales the products by 1/d and adds the 1 inside the matrix product (no extra passes over the
    matrix); the cube overwrites it. Entries equal ``(x @ y.T / d + 1) ** 3`` to float64 rounding (a few 1e-15
    relative, not bitwise: the scaling is applied inside the product).
    """
    return torch.addmm(_ONE, x, y.T, beta=1.0, alpha=1.0 / x.shape[1]).pow_(3)


def _cross_kernel_sum(x: torch.Tensor, y: torch.Tensor) -> float:
    """Sum of k(x_i, y_j) over all pairs (float64 rows of ``x`` and ``y``), one row strip of the matrix at a time."""
    return sum(float(_cubic_kernel(x[start:start + _KID_ROWS], y).sum()) for start in range(0, x.shape[0], _KID_ROWS))


def _self_kernel_sum(x: torch.Tensor) -> float:
    """Sum of k(x_i, x_j) over all pairs i != j (float64 rows), from the upper triangle of the symmetric matrix.

    Strip by strip: rows [s, s + r) against columns [s, m), whose off-diagonal block counts each pair once
    (twice in the full matrix) and whose diagonal block counts its pairs twice and the diagonal once, so the
    off-diagonal sum is 2 * strip - diagonal block - its trace: (m + 250) / (2 m) of the full matrix's products.
    """
    total = 0.0
    for start in range(0, x.shape[0], _KID_ROWS):
        strip = _cubic_kernel(x[start:start + _KID_ROWS], x[start:])
        block = strip[:, :strip.shape[0]]
        total += 2.0 * float(strip.sum()) - float(block.sum()) - float(block.diagonal().sum())
    return total


def kid_subsets(n_real: int, n_fake: int, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
                seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The (real rows, generated rows) of each KID subset: for each subset, ``torch.randperm(n_real)`` then
    ``torch.randperm(n_fake)`` from one generator seeded with ``seed``, first ``m = min(subset_size, n_real,
    n_fake)`` of each (torchmetrics' order of draws, so ``torch.manual_seed(seed)`` before its compute draws the
    same subsets)."""
    _check_positive_int(subsets, "subsets")
    _check_positive_int(subset_size, "subset_size")
    m = min(int(subset_size), int(n_real), int(n_fake))
    generator = torch.Generator().manual_seed(int(seed))
    out = []
    for _ in range(int(subsets)):
        real = torch.randperm(int(n_real), generator=generator)[:m]
        fake = torch.randperm(int(n_fake), generator=generator)[:m]
        out.append((real, fake))
    return out


def kid_real_sums(real_features: Any, rows: list[torch.Tensor]) -> list[float]:
    """Each subset's off-diagonal kernel sum of the real features (``rows``: the real side of :func:`kid_subsets`);
    the part of KID that does not depend on the generator, computed once per reference."""
    x = _features(real_features, "real_features").to(torch.float64)
    return [_self_kernel_sum(x[r]) for r in rows]


def kernel_inception_distance(
    real_features: Any,
    fake_features: Any,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = 0,
    real_sums: list[float] | None = None,
) -> tuple[float, float]:
    """KID: mean and standard deviation (ddof 0) over ``subsets`` random subsets of the unbiased MMD^2 between
    real and generated features under the cubic polynomial kernel k(x, y) = (x . y / d + 1)^3.

    For subsets X (real) and Y (generated) of m = min(``subset_size``, n_real, n_fake) rows each (drawn by
    :func:`kid_subsets` with ``seed``, without replacement within a subset),

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
              - 2 sum_{i, j} k(x_i, y_j) / m^2,

    as torch-fidelity and torchmetrics compute it. Unlike the Fréchet distance its
    expectation does not depend on the sample size, so values from different n
    compare; it can be slightly negative when the two sides are alike. Kernels are
    computed in float64. ``real_sums`` (:func:`kid_real_sums` of the same subsets)
    skips the real-real kernels.

    Cost: the kernel matrices are float64 products, in row strips of 250 (cache-sized);
    a symmetric (same-side) sum takes only its upper triangle's strips, about 5/8 of the
    products at m = 1,000, so a subset costs 1.6 m x m x d multiply-adds instead of 2
    with cached ``real_sums``. The sums equal the whole-matrix products' to float64
    rounding (the tests keep that implementation and compare to 1e-12 relative).

    Reference: M. Bińkowski, D. J. Sutherland, M. Arbel, A. Gretton, "Demystifying
    MMD GANs", ICLR 2018.
    """
    x = _features(real_features, "real_features").to(torch.float64)
    y = _features(fake_features, "fake_features").to(torch.float64)
    if x.shape[1] != y.shape[1]:
        raise LandscapeError(f"real and generated features have different dimensions ({x.shape[1]} and "
                             f"{y.shape[1]}); they must match.")
    draws = kid_subsets(x.shape[0], y.shape[0], subsets, subset_size, seed)
    m = int(draws[0][0].shape[0])
    if m < 2:
        raise LandscapeError(f"KID needs at least 2 samples on each side, got {x.shape[0]} real and {y.shape[0]} "
                             "generated.")
    if real_sums is not None and len(real_sums) != len(draws):
        raise LandscapeError(f"real_sums has {len(real_sums)} entries for {len(draws)} subsets; compute it with "
                             "kid_real_sums for the same subsets.")
    values = np.empty(len(draws))
    for i, (r, f) in enumerate(draws):
        xs, ys = x[r], y[f]
        kxx = real_sums[i] if real_sums is not None else _self_kernel_sum(xs)
        kyy = _self_kernel_sum(ys)
        kxy = _cross_kernel_sum(xs, ys)
        values[i] = (kxx + kyy) / (m * (m - 1)) - 2.0 * kxy / (m * m)
    return float(values.mean()), float(values.std())


# --------------------------------------------------------------------------- k-NN metrics


def _chunk_rows(n_cols: int) -> int:
    """Rows per chunk so that a chunk of the distance matrix holds at most ``_CHUNK_ELEMENTS`` values."""
    return max(1, _CHUNK_ELEMENTS // max(n_cols, 1))


def _centred(x: torch.Tensor, around: torch.Tensor) -> torch.Tensor:
    """``x`` less the column mean of ``around`` (accumulated in float64), float32.

    Distances do not change; the float32 cancellation in |x|^2 + |y|^2 - 2 x.y does
    (features of a ReLU network sit far from the origin).
    """
    return x - around.to(torch.float64).mean(dim=0).to(torch.float32)


def _kth_smallest(part: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th smallest value of each row of ``part`` (a contiguous float32 chunk), bitwise
    ``part.topk(k, largest=False).values.amax(dim=1)``, with the full sort-based selection run on k column groups only.

    The row is cut into groups of :data:`_KNN_GROUP` columns (a shorter tail stays whole); the candidates are the
    k groups with the smallest minima and the tail. Their k-th smallest is the row's, v: it is no smaller, as they
    are part of the row, and no larger, because either every group holding one of the row's k smallest values is
    chosen (then the candidates hold all k), or one is not, and then each of the k chosen groups has a minimum no
    larger than that group's, which is at most v: k candidates at most v. One pass for the minima and ``topk``
    over k * 64 + tail values instead of the whole row (4x faster at 10,000 columns; exact, as it picks among the
    very same float32 values).
    """
    rows, n = part.shape
    full = n // _KNN_GROUP * _KNN_GROUP
    if full // _KNN_GROUP <= k:  # too few groups to narrow anything down
        return part.topk(k, dim=1, largest=False, sorted=False).values.amax(dim=1)
    groups = part[:, :full].view(rows, -1, _KNN_GROUP)
    chosen = groups.amin(dim=2).topk(k, dim=1, largest=False, sorted=False).indices
    candidates = torch.gather(groups, 1, chosen[:, :, None].expand(-1, -1, _KNN_GROUP)).reshape(rows, -1)
    if full < n:
        candidates = torch.cat([candidates, part[:, full:]], dim=1)
    return candidates.topk(k, dim=1, largest=False, sorted=False).values.amax(dim=1)


def _knn_radii_tensor(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row of ``x`` (float32, centred) to its k-th nearest other row, float32."""
    n = x.shape[0]
    sq = (x * x).sum(dim=1)
    kth = torch.empty(n, dtype=torch.float32)
    rows = _chunk_rows(n)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        # |x_j|^2 - 2 x_i.x_j: the squared distance less the row constant |x_i|^2
        part = torch.addmm(sq, x[start:stop], x.T, beta=1.0, alpha=-2.0)
        idx = torch.arange(stop - start)
        part[idx, idx + start] = float("inf")  # the point itself is not its own neighbour
        kth[start:stop] = _kth_smallest(part, k)
    return (kth + sq).clamp_min_(0.0).sqrt_()


def knn_radii(features: Any, k: int = 5) -> np.ndarray:
    """Euclidean distance of each point to its k-th nearest neighbour in the same set (itself excluded).

    r_k(x_i) = || x_i - NN_k(x_i) ||,  NN_k the k-th nearest of {x_j : j != i},

    float32, shape (N,), N > k. Equals prdc's ``compute_nearest_neighbour_distances``
    (which takes the (k+1)-th smallest distance with the point itself included at
    distance 0) up to float32 rounding; duplicates of a point count as neighbours at
    distance 0. These are the radii of the k-NN balls of :func:`prdc`; compute the
    real set's once and pass them as ``real_radii``. Row chunks bound memory to a
    few MiB whatever N.

    Reference: M. F. Naeem, S. J. Oh, Y. Uh, Y. Choi, J. Yoo, "Reliable Fidelity and
    Diversity Metrics for Generative Models", ICML 2020.
    """
    x = _features(features, "features")
    _check_k(k, x.shape[0], "features")
    return _knn_radii_tensor(_centred(x, x), int(k)).numpy()


def _radii_tensor(radii: Any, n: int) -> torch.Tensor:
    """Given k-NN radii validated as n finite non-negative values, float32."""
    r = _as_tensor(radii)
    if r.ndim != 1 or r.shape[0] != n:
        raise LandscapeError(f"real_radii must hold one radius per real sample ({n}), got shape {tuple(r.shape)}.")
    if not bool(torch.isfinite(r).all()) or bool((r < 0).any()):
        raise LandscapeError(
            "real_radii must be finite and non-negative; compute them with knn_radii(real_features, k)."
        )
    return r


def _cross_counts(
    real: torch.Tensor, fake: torch.Tensor, real_radii: torch.Tensor, fake_radii: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One chunked pass over the real x fake distances d_ij.

    Returns, as tensors: for each fake j the number of real balls containing it,
    #{i : d_ij < r_i} (int64, M); for each real i whether some fake ball contains it,
    any_j d_ij < s_j (bool, N); and whether some fake lies in its own ball,
    min_j d_ij < r_i (bool, N). Squared distances are compared, with the row constant
    |x_i|^2 moved to the threshold side, so the only N x M work is one matmul, one
    comparison and three reductions per chunk.
    """
    n, m = real.shape[0], fake.shape[0]
    real_sq, fake_sq = (real * real).sum(dim=1), (fake * fake).sum(dim=1)
    real_thr = real_radii.square() - real_sq  # d_ij^2 < r_i^2  <=>  |y_j|^2 - 2 x_i.y_j < r_i^2 - |x_i|^2
    fake_r2 = fake_radii.square()
    counts = torch.zeros(m, dtype=torch.int64)
    recalled = torch.empty(n, dtype=torch.bool)
    covered = torch.empty(n, dtype=torch.bool)
    rows = _chunk_rows(m)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        part = torch.addmm(fake_sq, real[start:stop], fake.T, beta=1.0, alpha=-2.0)
        thr = real_thr[start:stop, None]
        counts += (part < thr).sum(dim=0, dtype=torch.int32)
        covered[start:stop] = part.amin(dim=1) < real_thr[start:stop]
        # d_ij^2 < s_j^2  <=>  (|y_j|^2 - 2 x_i.y_j) - s_j^2 < -|x_i|^2
        recalled[start:stop] = part.sub_(fake_r2).amin(dim=1) < -real_sq[start:stop]
    return counts, recalled, covered


def prdc(real_features: Any, fake_features: Any, k: int = 5, real_radii: Any = None) -> dict[str, float]:
    """Precision, recall, density and coverage of fake against real features (k-NN balls, Euclidean).

    With d_ij = ||x_i - y_j|| (x_i real, i <= N; y_j fake, j <= M), r_i the distance of
    x_i to its k-th nearest real neighbour and s_j that of y_j among the fakes
    (:func:`knn_radii`)::

        precision = (1/M) sum_j 1[ exists i: d_ij < r_i ]
        recall    = (1/N) sum_i 1[ exists j: d_ij < s_j ]
        density   = (1/(kM)) sum_j sum_i 1[ d_ij < r_i ]
        coverage  = (1/N) sum_i 1[ exists j: d_ij < r_i ]

    exactly as ``prdc.compute_prdc`` (the authors' reference implementation; its
    precision and recall are those of Kynkäänniemi et al. 2019) computes them, with
    the same strict inequalities. Results agree with it to float32 rounding: a pair
    whose distance is within ~1e-7 relative of a radius may fall on the other side.

    ``real_radii``: the real set's radii for the same ``k``
    (``knn_radii(real_features, k)``), computed once for a fixed real set; when
    given, only the fake set's radii and the real x fake distances are computed and
    the result is identical to passing None. Needs N > k (when the real radii are
    computed) and M > k.

    Implementation: torch, float32, in row chunks of the distance matrices (a few MiB
    whatever N, M), one matmul per chunk (``addmm``; ``torch.cdist`` would add a
    clamp and a square root over every element) and ``topk`` over the k column groups of
    :func:`_kth_smallest` for the radii.
    ``prdc.compute_prdc`` builds three full N x N / N x M float32 matrices with
    scikit-learn (1.2 GB at N = M = 10,000). Measured on one thread (one core of a
    shared 2-core machine, torch 2.13 CPU; ``benchmarks/bench_quality_metrics.py``,
    N = M = 10,000, D = 128, k = 5, median of 3): ``prdc.compute_prdc`` 7.2 s; this
    function 1.04 s, and 0.70 s with cached ``real_radii`` (the same four values).

    Reference: M. F. Naeem, S. J. Oh, Y. Uh, Y. Choi, J. Yoo, "Reliable Fidelity and
    Diversity Metrics for Generative Models", ICML 2020
    (https://github.com/clovaai/generative-evaluation-prdc); T. Kynkäänniemi,
    T. Karras, S. Laine, J. Lehtinen, T. Aila, "Improved Precision and Recall Metric
    for Assessing Generative Models", NeurIPS 2019.
    """
    real = _features(real_features, "real_features")
    fake = _features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise LandscapeError(
            f"real_features has {real.shape[1]} features per sample but fake_features has {fake.shape[1]}; "
            "they must match."
        )
    _check_k(k, fake.shape[0], "fake_features")
    if real_radii is None:
        _check_k(k, real.shape[0], "real_features")
        r = torch.from_numpy(knn_radii(real, k))
    else:
        _check_positive_int(k, "k")
        r = _radii_tensor(real_radii, real.shape[0])
    s = torch.from_numpy(knn_radii(fake, k))
    counts, recalled, covered = _cross_counts(_centred(real, real), _centred(fake, real), r, s)
    return {
        "precision": float((counts > 0).double().mean()),
        "recall": float(recalled.double().mean()),
        "density": float(counts.sum()) / (k * fake.shape[0]),
        "coverage": float(covered.double().mean()),
    }
