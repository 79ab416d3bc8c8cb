"""KID next to the Fréchet distance, both checked against torchmetrics fed the very same features.

torchmetrics is a test-only dependency (the ``test`` extra). Its FrechetInceptionDistance and
KernelInceptionDistance accept any feature extractor; here the extractor is the identity on
feature rows, so both libraries see identical numbers and must agree to 1e-4 relative.
KID's subsets are drawn in torchmetrics' order (per subset a permutation of the real rows, then
of the generated rows), so ``torch.manual_seed(seed)`` before torchmetrics' compute draws the
same subsets as :func:`kid_subsets` with ``seed``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis.quality.metrics import (feature_statistics, frechet_distance, kernel_inception_distance, kid_real_sums,
                                      kid_subsets)
from landscape.errors import LandscapeError

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")]


class FeatureRows(torch.nn.Module):
    """The identity on (N, D) feature rows; for torchmetrics' probe image (N, 3, 299, 299) it returns N zero rows."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return x
        return torch.zeros(x.shape[0], self.dim, dtype=torch.float64)


def features(n: int, dim: int = 64, shift: float = 0.0, seed: int = 0) -> torch.Tensor:
    """ReLU'd Gaussian rows, like a classifier's penultimate activations, float64."""
    g = torch.Generator().manual_seed(seed)
    return torch.relu(torch.randn(n, dim, generator=g, dtype=torch.float64) + shift)


def test_frechet_distance_matches_torchmetrics():
    fid_module = pytest.importorskip("torchmetrics.image.fid")
    real, fake = features(1500, seed=1), features(1200, shift=0.3, seed=2)
    fid = fid_module.FrechetInceptionDistance(feature=FeatureRows(real.shape[1]), normalize=False)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    expected = float(fid.compute())
    ours = frechet_distance(*feature_statistics(fake.numpy()), *feature_statistics(real.numpy()))
    assert expected > 0.1
    assert ours == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("subsets,subset_size,shift", [(10, 400, 0.2), (1, 1000, 0.0), (5, 5000, 0.1)])
def test_kid_matches_torchmetrics_on_the_same_subsets(subsets, subset_size, shift):
    kid_module = pytest.importorskip("torchmetrics.image.kid")
    real, fake = features(1000, seed=3), features(900, shift=shift, seed=4)
    m = min(subset_size, 900)
    kid = kid_module.KernelInceptionDistance(feature=FeatureRows(real.shape[1]), subsets=subsets, subset_size=m,
                                             normalize=False)
    kid.update(real, real=True)
    kid.update(fake, real=False)
    torch.manual_seed(7)
    mean, std = (float(v) for v in kid.compute())
    ours = kernel_inception_distance(real, fake, subsets=subsets, subset_size=subset_size, seed=7)
    assert ours[0] == pytest.approx(mean, rel=1e-4, abs=1e-12)
    assert ours[1] == pytest.approx(std, rel=1e-4, abs=1e-12)
    if shift:
        assert mean > 0


def test_kid_is_near_zero_for_one_distribution_and_grows_with_the_shift():
    real = features(3000, seed=5)
    same = kernel_inception_distance(real, features(3000, seed=6), subsets=20, subset_size=500)
    near = kernel_inception_distance(real, features(3000, shift=0.1, seed=6), subsets=20, subset_size=500)
    far = kernel_inception_distance(real, features(3000, shift=0.5, seed=6), subsets=20, subset_size=500)
    assert abs(same[0]) < 3 * same[1]  # unbiased: centred on zero, either sign
    assert far[0] > near[0] > 0 and far[0] > 20 * abs(same[0])


def test_kid_with_cached_real_sums_is_identical_and_inputs_are_checked():
    real, fake = features(800, seed=8), features(700, shift=0.2, seed=9)
    rows = [r for r, _ in kid_subsets(800, 700, subsets=6, subset_size=300, seed=3)]
    cached = kernel_inception_distance(real, fake, subsets=6, subset_size=300, seed=3,
                                       real_sums=kid_real_sums(real, rows))
    assert cached == kernel_inception_distance(real, fake, subsets=6, subset_size=300, seed=3)
    with pytest.raises(LandscapeError, match="different dimensions"):
        kernel_inception_distance(real, fake[:, :10])
    with pytest.raises(LandscapeError, match="real_sums has 2 entries for 6 subsets"):
        kernel_inception_distance(real, fake, subsets=6, real_sums=[0.0, 1.0])
    with pytest.raises(LandscapeError, match="NaN"):
        bad = fake.clone()
        bad[3, 2] = float("nan")
        kernel_inception_distance(real, bad)
    assert np.isfinite(kernel_inception_distance(real[:2], fake[:2], subsets=2)[0])


def reference_kid(real: torch.Tensor, fake: torch.Tensor, subsets: int, subset_size: int, seed: int) -> tuple[float, float]:
    """KID as the toolkit computed it before the strip sums: per subset, the three whole m x m float64 kernel
    matrices, ``(x @ y.T / d + 1) ** 3``, summed (the diagonal left out of the same-side ones); features as
    float32 (what a classifier returns and what KID takes), the kernels in float64."""
    x, y = real.float().double(), fake.float().double()

    def kernel_sum(a: torch.Tensor, b: torch.Tensor, same: bool) -> float:
        k = torch.mm(a, b.T).div_(a.shape[1]).add_(1.0).pow_(3)
        return float(k.sum()) - (float(k.diagonal().sum()) if same else 0.0)

    values = []
    for r, f in kid_subsets(x.shape[0], y.shape[0], subsets, subset_size, seed):
        m = r.shape[0]
        kxx, kyy, kxy = kernel_sum(x[r], x[r], True), kernel_sum(y[f], y[f], True), kernel_sum(x[r], y[f], False)
        values.append((kxx + kyy) / (m * (m - 1)) - 2.0 * kxy / (m * m))
    return float(np.mean(values)), float(np.std(values))


@pytest.mark.parametrize("n,dim,subsets,subset_size,shift", [
    (1500, 128, 3, 1000, 0.2),  # the default subset size: four full strips, the classifiers' 128 features
    (900, 50, 5, 333, 0.1),  # a last strip of 83 rows, 1/d not a power of two
    (700, 128, 4, 600, 0.0),  # one distribution: KID near 0, a difference of nearly equal sums
])
def test_kid_strip_sums_equal_the_whole_matrix_products(n, dim, subsets, subset_size, shift):
    """The strip-wise, upper-triangle kernel sums change KID only by float64 rounding (old vs new on fixed features)."""
    real, fake = features(n, dim, seed=10), features(n, dim, shift=shift, seed=11)
    expected = reference_kid(real, fake, subsets, subset_size, seed=5)
    ours = kernel_inception_distance(real, fake, subsets=subsets, subset_size=subset_size, seed=5)
    scale = abs(expected[0]) + expected[1]  # rounding is relative to the sums, not to a KID that cancels to ~0
    assert ours[0] == pytest.approx(expected[0], rel=1e-12, abs=1e-12 * scale)
    assert ours[1] == pytest.approx(expected[1], rel=1e-10)
    rows = [r for r, _ in kid_subsets(n, n, subsets, subset_size, seed=5)]
    x = real.float().double()
    sums = [float(torch.mm(x[r], x[r].T).div_(dim).add_(1.0).pow_(3).sum()) - float(
        torch.mm(x[r], x[r].T).div_(dim).add_(1.0).pow_(3).diagonal().sum()) for r in rows]
    assert kid_real_sums(real, rows) == pytest.approx(sums, rel=1e-14)
