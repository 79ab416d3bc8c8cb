"""Sample-quality metrics (``analysis.quality.metrics``): ground truths, independent formulas, the prdc reference."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance
import scipy.stats
import torch

from analysis.quality import (
    class_distribution,
    class_kl,
    classes_covered,
    feature_statistics,
    frechet_distance,
    inception_score,
    inception_score_std,
    knn_radii,
    prdc,
)
from analysis.quality import metrics
from landscape.errors import LandscapeError

KEYS = ("precision", "recall", "density", "coverage")


def one_sentence(excinfo: pytest.ExceptionInfo) -> str:
    """The error's message, checked to be one line ending with a full stop."""
    message = str(excinfo.value)
    assert "\n" not in message and message.endswith("."), message
    return message


def random_spd(rng: np.random.Generator, dim: int) -> np.ndarray:
    a = rng.standard_normal((dim, dim))
    return a @ a.T / dim + 0.1 * np.eye(dim)


def psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def reference_fd(mu1, s1, mu2, s2) -> float:
    """||mu1-mu2||^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2): the symmetric form, by eigendecompositions only."""
    r = psd_sqrt(s1)
    middle = np.linalg.eigvalsh(r @ s2 @ r)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.clip(middle, 0, None))))


def gaussian(rng: np.random.Generator, n: int, dim: int, shift: float = 0.0) -> np.ndarray:
    return (rng.standard_normal((n, dim)) + shift).astype(np.float32)


def reference_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    prdc_package = pytest.importorskip("prdc")
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the sample counts
        return {key: float(v) for key, v in prdc_package.compute_prdc(real, fake, k).items()}


# --------------------------------------------------------------------------- Fréchet distance


def test_frechet_matches_closed_form_of_known_gaussians():
    rng = np.random.default_rng(0)
    dim = 12
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)
    s1, s2 = random_spd(rng, dim), random_spd(rng, dim)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference_fd(mu1, s1, mu2, s2), rel=1e-9)
    # commuting (diagonal) covariances: sum (sqrt a - sqrt b)^2
    a, b = rng.uniform(0.5, 3, dim), rng.uniform(0.5, 3, dim)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_frechet_from_samples_converges_to_closed_form():
    rng = np.random.default_rng(1)
    dim = 4
    mu1, mu2 = np.zeros(dim), np.full(dim, 0.5)
    s1, s2 = random_spd(rng, dim), random_spd(rng, dim)
    truth = reference_fd(mu1, s1, mu2, s2)

    def mean_error(n: int, replicates: int = 6) -> float:
        errors = []
        for _ in range(replicates):
            x = rng.multivariate_normal(mu1, s1, size=n)
            y = rng.multivariate_normal(mu2, s2, size=n)
            errors.append(abs(frechet_distance(*feature_statistics(x), *feature_statistics(y)) - truth))
        return float(np.mean(errors))

    small, large = mean_error(200), mean_error(50_000)
    assert large < 0.01 * truth
    assert large < small / 4  # the error shrinks like 1/sqrt(n): 16 times here


def test_frechet_of_identical_statistics_is_zero_and_never_negative():
    rng = np.random.default_rng(2)
    mu, sigma = feature_statistics(gaussian(rng, 500, 32))
    d = frechet_distance(mu, sigma, mu, sigma)
    assert 0.0 <= d < 1e-8 * np.trace(sigma)


def test_frechet_is_symmetric():
    rng = np.random.default_rng(3)
    a = feature_statistics(gaussian(rng, 400, 16))
    b = feature_statistics(gaussian(rng, 300, 16, shift=0.3) * 1.5)
    assert frechet_distance(*a, *b) == pytest.approx(frechet_distance(*b, *a), rel=1e-9)
    assert frechet_distance(*a, *b) > 1.0


def test_frechet_of_singular_covariances_is_finite_and_close_to_the_symmetric_form():
    rng = np.random.default_rng(4)
    a = feature_statistics(gaussian(rng, 10, 32))  # rank 9 < 32
    b = feature_statistics(gaussian(rng, 12, 32, shift=0.2))
    d = frechet_distance(*a, *b)
    assert math.isfinite(d) and d > 0
    assert d == pytest.approx(reference_fd(*a, *b), rel=1e-3)


def test_feature_statistics_are_float64_mean_and_unbiased_covariance_for_arrays_and_tensors():
    rng = np.random.default_rng(5)
    x = gaussian(rng, 50, 6)
    mu, sigma = feature_statistics(x)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(axis=0), rtol=1e-12)
    centred = x.astype(np.float64) - mu
    np.testing.assert_allclose(sigma, centred.T @ centred / 49, rtol=1e-10)
    mu_t, sigma_t = feature_statistics(torch.from_numpy(x))
    np.testing.assert_array_equal(mu_t, mu)
    np.testing.assert_array_equal(sigma_t, sigma)


# --------------------------------------------------------------------------- inception score


def test_inception_score_of_confident_balanced_predictions_is_k():
    k = 10
    probs = np.eye(k)[np.arange(1000) % k]
    assert inception_score(probs) == pytest.approx(k, rel=1e-12)
    assert inception_score(probs, splits=5) == pytest.approx(k, rel=1e-12)
    assert inception_score_std(probs, splits=5) == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_identical_rows_is_one():
    row = np.random.default_rng(6).dirichlet(np.ones(7))
    assert inception_score(np.tile(row, (300, 1))) == pytest.approx(1.0, abs=1e-12)


def test_inception_score_matches_the_entropy_formula():
    # exp(E_x KL(p(y|x) || p(y))) = exp(H(p(y)) - E_x H(p(y|x))), over each split
    probs = np.random.default_rng(7).dirichlet(np.full(10, 0.3), size=503)

    def entropy_form(part: np.ndarray) -> float:
        return math.exp(scipy.stats.entropy(part.mean(axis=0)) - scipy.stats.entropy(part, axis=1).mean())

    assert inception_score(probs) == pytest.approx(entropy_form(probs), rel=1e-10)
    parts = [entropy_form(probs[i:j]) for i, j in [(0, 126), (126, 252), (252, 378), (378, 503)]]
    assert inception_score(probs, splits=4) == pytest.approx(np.mean(parts), rel=1e-10)
    assert inception_score_std(probs, splits=4) == pytest.approx(np.std(parts), rel=1e-8)
    assert inception_score(torch.from_numpy(probs).float()) == pytest.approx(entropy_form(probs), rel=1e-5)


# --------------------------------------------------------------------------- class distributions


def test_class_distribution_of_probs_and_labels():
    labels = np.array([0, 2, 2, 3, 3, 3])
    probs = np.eye(4)[labels] * 0.7 + 0.075
    expected = np.array([1, 0, 2, 3]) / 6
    np.testing.assert_allclose(class_distribution(labels, 4), expected)
    np.testing.assert_allclose(class_distribution(probs, 4), expected)
    np.testing.assert_allclose(class_distribution(torch.from_numpy(labels), 4), expected)


def test_class_kl_ground_truths():
    uniform = np.full(10, 0.1)
    one_class = np.eye(10)[3]
    assert class_kl(uniform, uniform) == pytest.approx(0.0, abs=1e-15)
    assert class_kl(one_class, uniform) == pytest.approx(math.log(10), rel=1e-12)
    assert class_kl(one_class, uniform) == pytest.approx(2.303, abs=5e-4)
    rng = np.random.default_rng(8)
    p, q = rng.dirichlet(np.ones(10)), rng.dirichlet(np.ones(10))
    assert class_kl(p, q) == pytest.approx(scipy.stats.entropy(p, q), rel=1e-12)
    assert class_kl(p * 1000, q * 7) == pytest.approx(class_kl(p, q), rel=1e-12)  # counts are normalised
    assert class_kl(np.array([0.5, 0.5, 0.0]), np.array([0.5, 0.0, 0.5])) == math.inf


def test_classes_covered_ground_truths():
    uniform = np.full(10, 0.1)
    assert classes_covered(uniform, uniform) == 10
    assert classes_covered(np.eye(10)[0], uniform) == 1
    gen = np.array([0.95, 0.05])
    real = np.array([0.9, 0.1])
    assert classes_covered(gen, real, min_share=0.5) == 2
    assert classes_covered(gen, real, min_share=0.6) == 1


# --------------------------------------------------------------------------- k-NN radii, prdc


def test_knn_radii_match_brute_force_and_prdc():
    rng = np.random.default_rng(9)
    x = gaussian(rng, 120, 10)
    d = scipy.spatial.distance.cdist(x.astype(np.float64), x.astype(np.float64))
    np.fill_diagonal(d, np.inf)
    for k in (1, 4, 119):
        np.testing.assert_allclose(knn_radii(x, k), np.sort(d, axis=1)[:, k - 1], rtol=2e-6)
    prdc_package = pytest.importorskip("prdc")
    np.testing.assert_allclose(
        knn_radii(x, 5), prdc_package.prdc.compute_nearest_neighbour_distances(x, 5), rtol=2e-6
    )


def whole_row_radii(features: np.ndarray, k: int) -> np.ndarray:
    """k-NN radii as the toolkit computed them before the grouped selection: ``topk`` over every whole row of each
    chunk of the (centred, float32) distance matrix; the chunks as in ``analysis.quality.metrics``."""
    x = torch.from_numpy(features.astype(np.float32))
    x = x - x.to(torch.float64).mean(dim=0).to(torch.float32)
    n, sq = x.shape[0], (x * x).sum(dim=1)
    kth, rows = torch.empty(n), metrics._chunk_rows(n)
    for start in range(0, n, rows):
        part = torch.addmm(sq, x[start:start + rows], x.T, beta=1.0, alpha=-2.0)
        idx = torch.arange(part.shape[0])
        part[idx, idx + start] = float("inf")
        kth[start:start + rows] = part.topk(k, dim=1, largest=False, sorted=False).values.amax(dim=1)
    return (kth + sq).clamp_min_(0.0).sqrt_().numpy()


@pytest.mark.parametrize("n, dim, k", [(3000, 128, 5), (1000, 16, 1), (700, 8, 10), (300, 4, 5), (200, 32, 3)])
def test_knn_radii_are_bitwise_the_whole_row_selection(n, dim, k):
    """The k-th smallest from the k groups with the smallest minima is the whole row's, to the bit (old vs new);
    n = 3,000 has a ragged tail of 56 columns, n = 300 and 200 fall back to the whole row (too few groups)."""
    x = np.maximum(gaussian(np.random.default_rng(n), n, dim), 0) * 3 + 1  # ReLU-like, with duplicated zeros
    np.testing.assert_array_equal(knn_radii(x, k), whole_row_radii(x, k))


def test_kth_smallest_handles_ties_and_small_values_crowded_into_one_group():
    g = torch.Generator().manual_seed(0)
    part = torch.rand(6, 1000, generator=g) + 1
    part[0, 64:70] = 0.5  # every one of the 5 smallest in one group
    part[1, ::64] = 0.25  # one small value per group, equal: ties between groups
    part[2, 990:] = -1.0  # the smallest in the ragged tail
    part[3] = 2.0  # all equal
    part[4, 5] = float("inf")
    expected = part.topk(5, dim=1, largest=False, sorted=False).values.amax(dim=1)
    assert torch.equal(metrics._kth_smallest(part, 5), expected)
    assert metrics._kth_smallest(part, 5)[:4].tolist() == [0.5, 0.25, -1.0, 2.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "n, m, dim, k, shift",
    [(300, 200, 16, 5, 0.3), (150, 260, 32, 3, 0.0), (200, 200, 8, 1, 1.0), (257, 129, 64, 10, 0.5)],
)
def test_prdc_equals_reference_implementation(seed, n, m, dim, k, shift):
    rng = np.random.default_rng(seed)
    real, fake = gaussian(rng, n, dim), gaussian(rng, m, dim, shift) * 1.2
    ours, ref = prdc(real, fake, k), reference_prdc(real, fake, k)
    assert set(ours) == set(KEYS)
    for key in KEYS:
        assert ours[key] == pytest.approx(ref[key], rel=1e-6, abs=1e-12), key
    assert 0 < ours["precision"] < 1 and 0 < ours["coverage"] < 1  # a non-trivial comparison


def test_prdc_equals_reference_far_from_the_origin_and_in_small_chunks(monkeypatch):
    # ReLU-like features sit far from 0: float32 |x|^2 + |y|^2 - 2x.y would lose the distances without centring
    rng = np.random.default_rng(10)
    real, fake = gaussian(rng, 240, 16) + 1000, gaussian(rng, 180, 16, 0.4) + 1000
    ref = reference_prdc(real, fake, 4)
    monkeypatch.setattr(metrics, "_CHUNK_ELEMENTS", 1000)  # chunks of 4 to 5 rows, a ragged last one
    ours = prdc(real, fake, 4)
    for key in KEYS:
        assert ours[key] == pytest.approx(ref[key], rel=1e-6), key


def test_prdc_of_two_samples_of_one_gaussian_is_near_one():
    rng = np.random.default_rng(11)
    result = prdc(gaussian(rng, 2000, 4), gaussian(rng, 2000, 4), k=5)
    assert result["precision"] > 0.95 and result["recall"] > 0.95
    assert result["coverage"] > 0.93  # expected 1 - 2^-k = 0.97 (Naeem et al. 2020)
    assert result["density"] == pytest.approx(1.0, abs=0.1)


def test_prdc_of_far_apart_sets_is_zero():
    rng = np.random.default_rng(12)
    result = prdc(gaussian(rng, 300, 8), gaussian(rng, 300, 8, shift=100.0), k=5)
    assert result == {key: 0.0 for key in KEYS}


def test_prdc_with_cached_real_radii_is_identical():
    rng = np.random.default_rng(13)
    real, fake = gaussian(rng, 400, 32), gaussian(rng, 350, 32, 0.2)
    radii = knn_radii(real, 5)
    plain = prdc(real, fake, 5)
    assert prdc(real, fake, 5, real_radii=radii) == plain
    assert prdc(real, fake, 5, real_radii=torch.from_numpy(radii)) == plain
    assert prdc(torch.from_numpy(real), torch.from_numpy(fake), 5) == plain
    assert prdc(real, fake, 5, real_radii=radii * 2) != plain  # the radii are really used


# --------------------------------------------------------------------------- bad input


def test_mismatched_feature_dimensions_are_rejected():
    rng = np.random.default_rng(14)
    with pytest.raises(LandscapeError) as excinfo:
        prdc(gaussian(rng, 50, 8), gaussian(rng, 50, 9))
    assert "8" in one_sentence(excinfo) and "9" in str(excinfo.value)
    mu, sigma = feature_statistics(gaussian(rng, 50, 8))
    mu2, sigma2 = feature_statistics(gaussian(rng, 50, 9))
    with pytest.raises(LandscapeError) as excinfo:
        frechet_distance(mu, sigma, mu2, sigma2)
    one_sentence(excinfo)
    with pytest.raises(LandscapeError) as excinfo:
        frechet_distance(mu, sigma2, mu2, sigma2)
    one_sentence(excinfo)


def test_k_not_below_the_sample_count_is_rejected():
    rng = np.random.default_rng(15)
    few, many = gaussian(rng, 5, 4), gaussian(rng, 50, 4)
    for call in (lambda: knn_radii(few, 5), lambda: prdc(few, many, 5), lambda: prdc(many, few, 5)):
        with pytest.raises(LandscapeError) as excinfo:
            call()
        assert "k=5" in one_sentence(excinfo)
    with pytest.raises(LandscapeError) as excinfo:
        knn_radii(many, 0)
    one_sentence(excinfo)
    with pytest.raises(LandscapeError) as excinfo:
        prdc(many, many, 5, real_radii=np.ones(49))
    assert "49" in one_sentence(excinfo)


@pytest.mark.parametrize(
    "probs",
    [np.full(10, 0.1), np.full((2, 5, 2), 0.5), np.zeros((0, 10))],
    ids=["1-D", "3-D", "empty"],
)
def test_wrong_probability_shapes_are_rejected(probs):
    with pytest.raises(LandscapeError) as excinfo:
        inception_score(probs)
    one_sentence(excinfo)


def test_non_probabilities_and_wrong_class_counts_are_rejected():
    logits = np.random.default_rng(16).standard_normal((20, 10))
    with pytest.raises(LandscapeError, match="softmax") as excinfo:
        inception_score(logits)
    one_sentence(excinfo)
    with pytest.raises(LandscapeError, match="softmax"):
        inception_score(np.abs(logits))
    with pytest.raises(LandscapeError) as excinfo:
        class_distribution(np.full((4, 5), 0.2), 10)
    one_sentence(excinfo)
    with pytest.raises(LandscapeError) as excinfo:
        class_distribution(np.array([0, 3, 10]), 10)
    one_sentence(excinfo)
    with pytest.raises(LandscapeError) as excinfo:
        class_kl(np.full(10, 0.1), np.full(9, 1 / 9))
    one_sentence(excinfo)
    with pytest.raises(LandscapeError) as excinfo:
        inception_score(np.full((3, 2), 0.5), splits=4)
    one_sentence(excinfo)


def test_non_finite_values_are_rejected_with_the_row_count():
    rng = np.random.default_rng(17)
    x = gaussian(rng, 30, 4)
    x[[3, 7], 1] = np.nan
    x[9, 0] = np.inf
    for call in (lambda: prdc(x, gaussian(rng, 30, 4)), lambda: knn_radii(x), lambda: feature_statistics(x)):
        with pytest.raises(LandscapeError) as excinfo:
            call()
        assert "3 rows" in one_sentence(excinfo)
    probs = np.full((5, 2), 0.5)
    probs[2, 0] = np.nan
    with pytest.raises(LandscapeError) as excinfo:
        inception_score(probs)
    assert "1 row" in one_sentence(excinfo)
    with pytest.raises(LandscapeError) as excinfo:
        feature_statistics(x[:1])
    one_sentence(excinfo)
