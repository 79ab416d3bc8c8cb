"""The 2-D Gaussian-mixture toys: samplers, the VEEGAN/PacGAN quality measure, the Metz et al. MLP GAN, the plots."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from analysis.toys import coverageplot, toy_limit, toyplot  # noqa: E402
from landscape.config import TrainConfig  # noqa: E402
from landscape.data.toys import (  # noqa: E402
    EXACT_HIGH_QUALITY,
    TOY_TRAIN_SIZE,
    TOYS,
    default_min_count,
    is_toy,
    mode_centres,
    sample_toy,
    toy_dataset,
    toy_quality,
)
from landscape.errors import DataError, LandscapeError  # noqa: E402
from trainers.mlp import METZ_MLP, METZ_MLP_NETWORKS, MLPDiscriminator, MLPGenerator  # noqa: E402
from trainers.models import count_params  # noqa: E402

NAMES = ("ring8", "grid25")


@pytest.fixture(scope="module")
def datasets():
    return {name: toy_dataset(name, seed=0) for name in NAMES}


# --- the mixtures -------------------------------------------------------------------------------


def test_the_toys_are_the_literature_mixtures():
    # then ring8 / 1.414 (test_toy_wgan_gp_recipe.py) and Berard et al.'s 1-D mixture (test_mixture1d.py)
    assert tuple(TOYS) == (*NAMES, "ring8-wgan-gp", "mixture1d")
    ring, grid = TOYS["ring8"], TOYS["grid25"]
    assert (ring.title, ring.std, ring.n_modes) == ("8 Gaussians (ring)", 0.02, 8)
    assert (grid.title, grid.std, grid.n_modes) == ("25 Gaussians (grid)", 0.05, 25)
    angles = 2 * np.pi * np.arange(8) / 8
    np.testing.assert_allclose(mode_centres("ring8"), np.c_[2 * np.cos(angles), 2 * np.sin(angles)], atol=1e-12)
    assert {tuple(c) for c in mode_centres("grid25")} == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert mode_centres("grid25").shape == (25, 2) and mode_centres("grid25").dtype == np.float64
    assert is_toy("ring8") and not is_toy("mnist") and not is_toy(None)


def test_unknown_toys_are_a_data_error_with_a_suggestion():
    with pytest.raises(DataError, match=r"Unknown dataset 'ring9' \(did you mean 'ring8'\?\); choose one of ring8, grid25, ring8-wgan-gp"):
        sample_toy("ring9", 10)
    for call in (lambda: mode_centres("grid"), lambda: toy_dataset("x", 0), lambda: toy_quality(np.zeros((1, 2)), "x")):
        with pytest.raises(DataError):
            call()


@pytest.mark.parametrize("name", NAMES)
def test_each_mode_has_the_right_centre_spread_and_frequency(datasets, name):
    data, spec = datasets[name], TOYS[name]
    k, centres = spec.n_modes, mode_centres(name)
    points, labels = data.points.double().numpy(), data.labels.numpy()
    assert data.points.dtype == torch.float32 and data.labels.dtype == torch.int64
    assert data.points.shape == (TOY_TRAIN_SIZE, 2) and len(data) == TOY_TRAIN_SIZE
    counts = np.bincount(labels, minlength=k)
    assert counts.shape == (k,) and labels.min() == 0 and labels.max() == k - 1
    # uniform mode frequencies: every count within 5 binomial standard deviations of n/k
    p = 1 / k
    assert np.all(np.abs(counts - TOY_TRAIN_SIZE * p) < 5 * math.sqrt(TOY_TRAIN_SIZE * p * (1 - p)))
    for mode in range(k):
        own = points[labels == mode]
        # the mean within 5 standard errors of the centre, per coordinate
        np.testing.assert_allclose(own.mean(axis=0), centres[mode], atol=5 * spec.std / math.sqrt(len(own)))
        # the spread is the spec's std (within 5%) in each coordinate, and isotropic
        np.testing.assert_allclose(own.std(axis=0, ddof=1), spec.std, rtol=0.05)
        assert abs(np.corrcoef(own.T)[0, 1]) < 0.1


def test_sampling_is_deterministic_given_the_generator():
    a = sample_toy("grid25", 1_000, generator=torch.Generator().manual_seed(3))
    b = sample_toy("grid25", 1_000, generator=torch.Generator().manual_seed(3))
    c = sample_toy("grid25", 1_000, generator=torch.Generator().manual_seed(4))
    assert a.dtype == torch.float32 and a.shape == (1_000, 2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert sample_toy("ring8", 0).shape == (0, 2)
    with pytest.raises(LandscapeError):
        sample_toy("ring8", -1)


def test_the_training_set_is_fixed_by_its_seed(datasets):
    again, other = toy_dataset("ring8", seed=0), toy_dataset("ring8", seed=1)
    assert torch.equal(again.points, datasets["ring8"].points) and torch.equal(again.labels, datasets["ring8"].labels)
    assert not torch.equal(other.points, again.points)
    small = toy_dataset("grid25", seed=7, n=512)
    assert len(small) == 512 and small.classes == tuple(f"mode {i}" for i in range(25))
    assert small.spec is TOYS["grid25"] and "grid25" in repr(small)


def test_importing_the_toys_does_not_import_torch():
    code = "import sys, landscape.data.toys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- the quality measure ------------------------------------------------------------------------


def test_the_exact_high_quality_fraction_is_the_2d_rayleigh_value():
    # P(|x - mu| < 3 sigma) for an isotropic 2-D Gaussian: the radius is Rayleigh, so 1 - exp(-9/2), not 0.997
    assert EXACT_HIGH_QUALITY == pytest.approx(1 - math.exp(-4.5)) == pytest.approx(0.98889, abs=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_exact_samples_cover_every_mode(datasets, name):
    q = toy_quality(datasets[name].points, name)
    k = TOYS[name].n_modes
    assert q["modes_covered"] == k and q["n_modes"] == k and q["n"] == TOY_TRAIN_SIZE
    assert q["min_count"] == 40  # 1 per 2,500 points, scaled to 100,000
    # binomial standard deviation at n = 100,000 is 0.00033: 0.002 is six of them
    assert q["high_quality"] == pytest.approx(EXACT_HIGH_QUALITY, abs=0.002)
    small = toy_quality(sample_toy(name, 2_500, generator=torch.Generator().manual_seed(1)), name)
    assert small["modes_covered"] == k and small["min_count"] == 1  # the literature's own setting
    assert small["high_quality"] == pytest.approx(EXACT_HIGH_QUALITY, abs=0.015)


@pytest.mark.parametrize("name", NAMES)
def test_samples_from_three_modes_cover_exactly_three(datasets, name):
    data = datasets[name]
    q = toy_quality(data.points[data.labels < 3], name)
    assert q["modes_covered"] == 3
    assert q["high_quality"] == pytest.approx(EXACT_HIGH_QUALITY, abs=0.005)


def test_far_noise_covers_nothing():
    rng = np.random.default_rng(0)
    for name in NAMES:
        q = toy_quality(rng.uniform(50, 60, size=(5_000, 2)), name)
        assert (q["modes_covered"], q["high_quality"], q["n"]) == (0, 0, 5_000)


def test_a_few_stray_points_do_not_cover_a_mode(datasets):
    data = datasets["ring8"]
    points = data.points[data.labels != 7]  # mode 7 missing ...
    stray = torch.tensor(mode_centres("ring8")[7], dtype=torch.float32).expand(10, 2)  # ... but for 10 exact hits
    q = toy_quality(torch.cat([points, stray]), "ring8")
    assert q["min_count"] == default_min_count(len(points) + 10) > 10
    assert q["modes_covered"] == 7
    assert toy_quality(torch.cat([points, stray]), "ring8", min_count=1)["modes_covered"] == 8


def test_quality_takes_arrays_and_tensors_and_survives_non_finite_points(datasets):
    points = datasets["grid25"].points[:3_000]
    assert toy_quality(points, "grid25") == toy_quality(points.numpy(), "grid25")
    assert toy_quality(points.double().requires_grad_(), "grid25") == toy_quality(points.tolist(), "grid25")
    broken = points.clone()
    broken[:100] = float("nan")
    broken[100:200] = float("inf")
    q = toy_quality(broken, "grid25")
    assert q["n"] == 3_000 and q["high_quality"] <= 2_800 / 3_000 and q["modes_covered"] == 25
    empty = toy_quality(np.zeros((0, 2)), "ring8")
    assert empty["modes_covered"] == 0 and math.isnan(empty["high_quality"])


def test_quality_rejects_bad_shapes_and_thresholds():
    with pytest.raises(DataError, match=r"shape \(n, 2\)"):
        toy_quality(np.zeros((5, 3)), "ring8")
    with pytest.raises(DataError):
        toy_quality(np.zeros(10), "ring8")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(LandscapeError, match="min_count"):
            toy_quality(np.zeros((5, 2)), "ring8", min_count=bad)
    assert [default_min_count(n) for n in (1, 2_500, 3_749, 3_750, 100_000)] == [1, 1, 1, 2, 40]


# --- the MLP GAN of Metz et al. -----------------------------------------------------------------


def test_the_mlp_networks_shapes_and_parameter_counts():
    torch.manual_seed(0)
    g, d = MLPGenerator(), MLPDiscriminator()
    # G: 256*128+128 + 128*128+128 + 128*2+2; D: 2*128+128 + 128+1
    assert (count_params(g), count_params(d)) == (49_666, 513)
    assert count_params(MLPDiscriminator(layers=2)) == 513 + 128 * 128 + 128
    assert count_params(MLPGenerator(z_dim=2, hidden=400, layers=4)) == 2 * 400 + 400 + 3 * (400 * 400 + 400) + 802
    z = torch.randn(7, 256)
    x = g(z)
    assert x.shape == (7, 2) and d(x).shape == (7,)
    assert d(x.view(7, 1, 2)).shape == (7,)  # trailing shapes flattened, as the vanilla discriminator does
    assert d(torch.zeros(1, 2)).shape == (1,)


def test_the_mlp_networks_are_initialised_as_metz_et_al():
    torch.manual_seed(0)
    g, d = MLPGenerator(), MLPDiscriminator()
    gain = METZ_MLP_NETWORKS["init_gain"]
    for net in (g, d):
        for layer in (m for m in net.modules() if isinstance(m, torch.nn.Linear)):
            w = layer.weight.detach()
            small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
            torch.testing.assert_close(small, gain**2 * torch.eye(small.shape[0]), atol=1e-5, rtol=0)
            assert torch.count_nonzero(layer.bias) == 0
    # the discriminator first scales its input by 1/4
    x = torch.randn(5, 2)
    torch.testing.assert_close(d(x), d.out(d.act1(d.hidden1(x / 4))).view(-1))


def test_the_mlp_discriminator_dropout_and_checks():
    torch.manual_seed(0)
    d = MLPDiscriminator(dropout=0.5).train()
    x = torch.randn(64, 2)
    assert not torch.equal(d(x), d(x))  # dropout active while training
    d.eval()
    assert torch.equal(d(x), d(x))
    with pytest.raises(LandscapeError):
        MLPDiscriminator(dropout=1.0)
    with pytest.raises(LandscapeError):
        MLPGenerator(layers=0)


def test_metz_settings_are_train_config_fields():
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(METZ_MLP) - fields == {"iterations"}
    assert METZ_MLP["z_dim"] == 256 and METZ_MLP["z_dist"] == "normal" and METZ_MLP["batch_size"] == 512
    assert (METZ_MLP["optimizer"], METZ_MLP["lr_g"], METZ_MLP["lr_d"], METZ_MLP["betas"][0]) == ("adam", 1e-4, 1e-4, 0.5)
    g = MLPGenerator(METZ_MLP["z_dim"])
    assert g.hidden1.in_features == 256 and g.out.out_features == 2


# --- the plots ----------------------------------------------------------------------------------


@pytest.fixture
def axes():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


@pytest.mark.parametrize("name", NAMES)
def test_toyplot_draws_every_point_over_the_modes(axes, name):
    points = sample_toy(name, 300, generator=torch.Generator().manual_seed(0))
    ax = toyplot(points, name, ax=axes)
    k = TOYS[name].n_modes
    assert ax is axes
    assert len(ax.collections) == 1 and len(ax.collections[0].get_offsets()) == 300
    assert len(ax.patches) == k  # the 3-std circles
    (centres,) = ax.lines
    assert len(centres.get_xdata()) == k
    lim = toy_limit(name)
    assert ax.get_xlim() == (-lim, lim) and ax.get_ylim() == (-lim, lim) and lim > np.abs(mode_centres(name)).max()
    assert ax.get_aspect() == 1.0 and ax.get_title() == TOYS[name].title


def test_toyplot_takes_arrays_and_toy_data_and_draws_on_the_current_axes(axes):
    ax = toyplot(np.zeros((5, 2)), "ring8", title="", centres=False)
    assert ax is axes and ax.get_title() == "" and not ax.patches and not ax.lines
    ax2 = toyplot(toy_dataset("ring8", seed=0, n=50), "ring8", ax=axes)
    assert len(ax2.collections[1].get_offsets()) == 50
    with pytest.raises(LandscapeError):
        toyplot(np.zeros((5, 3)), "ring8", ax=axes)


def test_coverageplot_draws_a_line_per_hue_level_and_the_total(axes):
    frame = pd.DataFrame(
        [{"run": f"seed {r}", "step": s, "modes_covered": min(25, s // 100 + r), "dataset": "grid25"}
         for r in range(3) for s in range(0, 2_000, 500)]
    )
    ax = coverageplot(frame, hue="run", ax=axes)
    assert ax is axes
    data_lines, total = ax.lines[:3], ax.lines[3:]
    assert len(ax.lines) == 4 and [line.get_label() for line in data_lines] == ["seed 0", "seed 1", "seed 2"]
    assert list(data_lines[0].get_xdata()) == [0, 500, 1000, 1500]  # sorted by step
    (dashed,) = total
    assert dashed.get_linestyle() == "--" and list(dashed.get_ydata()) == [25, 25]
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "modes covered"


def test_coverageplot_orders_hue_levels_as_seaborn_does(axes):
    frame = pd.DataFrame({"step": [0, 1, 0, 1, 0, 1], "modes_covered": [1, 2, 3, 4, 5, 6], "seed": [2, 2, 0, 0, 1, 1]})
    shuffled = frame.sample(frac=1, random_state=0)
    assert [line.get_label() for line in coverageplot(shuffled, hue="seed", ax=axes).lines] == ["0", "1", "2"]
    axes.clear()
    lines = coverageplot(shuffled, hue="seed", hue_order=[1, 0], ax=axes).lines
    assert [line.get_label() for line in lines] == ["1", "0"] and list(lines[0].get_ydata()) == [5, 6]


def test_coverageplot_with_epochs_and_no_known_total(axes):
    frame = pd.DataFrame({"epoch": [3, 1, 2], "modes_covered": [8.0, 2.0, 5.0]})
    ax = coverageplot(frame, ax=axes)
    (line,) = ax.lines
    assert list(line.get_xdata()) == [1, 2, 3] and list(line.get_ydata()) == [2, 5, 8]
    assert ax.get_xlabel() == "epoch"
    ax = coverageplot(frame, ax=axes, n_modes=8)
    assert len(ax.lines) == 3 and ax.lines[-1].get_linestyle() == "--"
    two = pd.DataFrame({"step": [0, 0], "modes_covered": [1, 2], "dataset": ["ring8", "grid25"]})
    plt.figure()
    assert len(coverageplot(two).lines) == 1  # two toys: no single total
    plt.close()
    with pytest.raises(LandscapeError, match="modes_covered"):
        coverageplot(pd.DataFrame({"step": [1]}), ax=axes)
    with pytest.raises(LandscapeError, match="'step' or 'epoch'"):
        coverageplot(pd.DataFrame({"modes_covered": [1]}), ax=axes)
    with pytest.raises(LandscapeError, match="hue"):
        coverageplot(frame, hue="run", ax=axes)
