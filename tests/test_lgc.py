"""Loss-gradient clouds (analysis.lgc) and their time view (analysis.timeline).

The central check reads the drawing back from matplotlib's artists: on a real
short training run, every iteration is one point of exactly one PathCollection
per panel, at (loss, gradient norm), in the colour of the stage the run's tidy
frame puts it in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from analysis.lgc import (  # noqa: E402
    emptiest_corner,
    lgc_figure,
    lgc_grid,
    lgcplot,
    marker_style,
    quantile_limits,
)
from analysis.palettes import PAPER_COLORS, stage_colors  # noqa: E402
from analysis.timeline import timeline, timeline_figure, timelineplot  # noqa: E402
from landscape import open_run, open_runs  # noqa: E402
from landscape.errors import LandscapeError  # noqa: E402
from landscape.networks import NETWORKS, PAPER_PANELS, label  # noqa: E402
from landscape.writer import RunWriter  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LANDSCAPE_DATA", REPO.parent / "shared" / "data"))
RECORD_ITERS = 60


# ---------------------------------------------------------------------------- run files
def record_short_run(path: Path) -> Path:
    """A real run: `landscape record` trains a vanilla GAN on MNIST for a few iterations (once per session)."""
    if path.exists():
        return path
    cmd = [sys.executable, "-m", "landscape", "record", "--arch", "vanilla", "--data", "mnist",
           "--data-dir", str(SHARED_DATA), "--subset", "1024", "--max-iters", str(RECORD_ITERS), "--hessian-every", "0", "--out", str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return path


def write_run(path: Path, n: int, *, config: dict | None = None, seed: int = 0, close: bool = True,
              nan_rows: int = 0) -> RunWriter | Path:
    """A run file written through RunWriter with GAN-like values (for edge cases a real run rarely shows)."""
    rng = np.random.default_rng(seed)
    config = config or {"arch": "dcgan", "dataset": "cifar10", "optimizer": "adam"}
    writer = RunWriter(path, config)
    for i in range(n):
        t = i / max(n, 1)
        d_real, d_fake = 0.3 + rng.random() * (1 - t), 0.2 + rng.gamma(2, 0.1)
        values = dict(
            g_loss=0.7 + 2 * t + rng.gamma(2, 0.2), g_grad_norm=rng.lognormal(0, 0.5) * (1 + t),
            d_loss=d_real + d_fake, d_loss_real=d_real, d_loss_fake=d_fake, d_grad_norm=rng.lognormal(0, 0.5),
            d_grad_norm_real=rng.lognormal(-0.5, 0.5), d_grad_norm_fake=rng.lognormal(-0.3, 0.5),
            d_out_real=0.6, d_out_fake=0.3,
        )
        if i >= n - nan_rows:
            values["g_loss"] = float("nan")
        writer.log(i, epoch=i // 50, **values)
    writer.flush()
    if not close:
        return writer
    writer.close(status="finished")
    return path


@pytest.fixture(scope="session")
def recorded(tmp_path_factory) -> Path:
    return record_short_run(tmp_path_factory.getbasetemp() / "recorded.h5")


@pytest.fixture
def synthetic(tmp_path) -> Path:
    return write_run(tmp_path / "synthetic.h5", 1_000)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------------------- reading artists back
def drawn_points(ax) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, offsets N x 2, facecolors RGB) of each scatter layer on ``ax``."""
    out = []
    for coll in ax.collections:
        offsets = np.asarray(coll.get_offsets(), dtype=np.float64)
        out.append((coll.get_label(), offsets, np.asarray(coll.get_facecolors())[:, :3]))
    return out


def assert_every_iteration_once_in_stage_colour(ax, tidy: pd.DataFrame, network: str, palette: str = "paper"):
    rows = tidy[tidy["network"] == network]
    k = len(tidy["stage_label"].cat.categories)
    colors = stage_colors(k, palette)
    layers = drawn_points(ax)
    assert sum(len(off) for _, off, _ in layers) == len(rows)  # nothing extra, nothing missing
    labels = list(tidy["stage_label"].cat.categories)
    for label, offsets, facecolors in layers:
        stage = labels.index(label) + 1
        assert len(facecolors) == 1 and np.allclose(facecolors[0], colors[stage - 1])
        expected = rows.loc[rows["stage"] == stage, ["loss", "grad_norm"]].to_numpy(dtype=np.float64)
        # the same multiset of points: each of the stage's iterations exactly once
        got = offsets[np.lexsort(offsets.T[::-1])]
        want = expected[np.lexsort(expected.T[::-1])]
        np.testing.assert_array_equal(got, want)
    assert len({label for label, _, _ in layers}) == len(layers)  # one layer per stage


# ---------------------------------------------------------------------------- the central property
def test_recorded_run_every_iteration_drawn_once_in_its_stage_colour(recorded):
    run = open_run(recorded)
    assert run.n_iterations == RECORD_ITERS
    tidy = run.tidy(5)
    grid = lgc_figure(run)
    assert grid.axes.shape == (1, len(PAPER_PANELS))
    for network, ax in zip(PAPER_PANELS, grid.axes[0]):
        assert_every_iteration_once_in_stage_colour(ax, tidy, network)
        assert len(ax.collections) == 5
    # the paper's colours, stage 1 purple ... stage 5 yellow
    first = grid.axes[0, 0].collections
    assert [tuple(c.get_facecolors()[0][:3]) for c in first] == [to_rgb(c) for c in PAPER_COLORS.values()]


def test_lgcplot_on_recorded_run_each_network(recorded):
    run = open_run(recorded)
    tidy = run.tidy(5)
    for network in NETWORKS:
        fig, ax = plt.subplots()
        assert lgcplot(run, network, ax=ax) is ax
        assert_every_iteration_once_in_stage_colour(ax, tidy, network)
        assert ax.get_xlabel() == f"loss ({label(network)})"


def test_stage_membership_comes_from_the_tidy_frame(synthetic):
    """A frame whose stages were edited is drawn with the edited stages: the plot never re-stages."""
    tidy = open_run(synthetic).tidy(5)
    tidy.loc[tidy["step"] < 10, "stage"] = 5
    ax = lgcplot(tidy, "g")
    assert_every_iteration_once_in_stage_colour(ax, tidy, "g")


# ---------------------------------------------------------------------------- options do what they claim
@pytest.mark.parametrize("k", [1, 3, 7])
def test_stages_option_sets_colours_and_legend(synthetic, k):
    run = open_run(synthetic)
    ax = lgcplot(run, "d", stages=k)
    assert len(ax.collections) == k
    colors = {tuple(np.round(c.get_facecolors()[0][:3], 6)) for c in ax.collections}
    assert len(colors) == k
    legend = ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == list(run.tidy(k)["stage_label"].cat.categories)
    assert texts[0].startswith("1: 0-") and texts[-1].endswith("-999")
    assert_every_iteration_once_in_stage_colour(ax, run.tidy(k), "d")


def test_frame_with_other_stage_count_is_refused(synthetic):
    tidy = open_run(synthetic).tidy(5)
    with pytest.raises(LandscapeError, match="5 stages, not 3"):
        lgcplot(tidy, "g", stages=3)


@pytest.mark.parametrize("palette", ["viridis", "colorblind", "paper"])
def test_palette_option(synthetic, palette):
    ax = lgcplot(synthetic, "g", palette=palette)
    got = [c.get_facecolors()[0][:3] for c in ax.collections]
    np.testing.assert_allclose(got, stage_colors(5, palette))
    if palette != "paper":
        assert not np.allclose(got, stage_colors(5, "paper"))


def test_unknown_palette_is_one_sentence(synthetic):
    with pytest.raises(LandscapeError, match="Unknown palette 'no-such-palette'"):
        lgcplot(synthetic, "g", palette="no-such-palette")


def test_log_axes(synthetic):
    ax = lgcplot(synthetic, "g")
    assert (ax.get_xscale(), ax.get_yscale()) == ("linear", "linear")
    ax = lgcplot(synthetic, "g", log_x=True, ax=plt.figure().gca())
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "linear")
    ax = lgcplot(synthetic, "g", log_y=True, ax=plt.figure().gca())
    assert (ax.get_xscale(), ax.get_yscale()) == ("linear", "log")


def test_quantile_range_bounds_the_cloud(synthetic):
    tidy = open_run(synthetic).tidy()
    g = tidy[tidy["network"] == "g"]
    full = lgcplot(tidy, "g", ax=plt.figure().gca())
    ax = lgcplot(tidy, "g", quantile_range=(0.05, 0.95), ax=plt.figure().gca())
    lo, hi = ax.get_xlim()
    q05, q95 = np.quantile(g["loss"], [0.05, 0.95])
    margin = 0.05 * (q95 - q05)
    assert lo == pytest.approx(q05 - margin) and hi == pytest.approx(q95 + margin)
    # narrower than the unbounded view, which shows every point
    assert full.get_xlim()[0] <= g["loss"].min() and full.get_xlim()[1] >= g["loss"].max()
    assert hi - lo < np.diff(full.get_xlim())[0]
    ylo, yhi = ax.get_ylim()
    assert ylo > g["grad_norm"].min() - 1e-9 and yhi < g["grad_norm"].max()
    # explicit bounds win over the quantile range, either end may be left open
    ax = lgcplot(tidy, "g", quantile_range=(0.05, 0.95), xlim=(0, 10), ylim=(None, 50), ax=plt.figure().gca())
    assert ax.get_xlim() == (0, 10) and ax.get_ylim()[1] == 50


def test_quantile_limits_on_log_axis_and_bad_range():
    values = np.array([0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0])
    lo, hi = quantile_limits(values, (0.0, 1.0), log=True)
    assert 0 < lo < 1e-3 and 10 < hi < 20  # non-positive values ignored, margins in log space
    with pytest.raises(LandscapeError, match="0 <= low < high <= 1"):
        quantile_limits(values, (0.9, 0.1))


def test_marker_size_and_alpha_follow_the_number_of_points(tmp_path):
    sizes = [marker_style(n) for n in (100, 10_000, 1_000_000, 100_000_000)]
    areas, alphas = zip(*sizes)
    assert list(areas) == sorted(areas, reverse=True) and areas[0] > areas[-1]
    assert list(alphas) == sorted(alphas, reverse=True) and alphas[0] > alphas[-1]
    small = lgcplot(write_run(tmp_path / "small.h5", 100), "g", ax=plt.figure().gca())
    large = lgcplot(write_run(tmp_path / "large.h5", 5_000), "g", ax=plt.figure().gca())
    for ax, n in ((small, 100), (large, 5_000)):
        area, alpha = marker_style(n)
        for coll in ax.collections:
            assert coll.get_sizes()[0] == pytest.approx(area)
            assert coll.get_alpha() == pytest.approx(alpha)
    # explicit style wins
    ax = lgcplot(tmp_path / "small.h5", "g", s=50, alpha=1.0, ax=plt.figure().gca())
    assert ax.collections[0].get_sizes()[0] == 50 and ax.collections[0].get_alpha() == 1.0


def test_legend_goes_to_the_emptiest_corner():
    """The legend is placed from a sample of the points (matplotlib's "best" takes 15 s at a million points)."""
    rng = np.random.default_rng(0)
    x, y = rng.random(50_000), rng.random(50_000)
    crowded = ~((x > 0.6) & (y < 0.4))  # nothing in the lower right
    ax = plt.figure().gca()
    ax.scatter(x[crowded], y[crowded])
    assert emptiest_corner(ax, x[crowded], y[crowded], entries=5) == "lower right"
    tidy = pd.DataFrame({
        "step": np.arange(400), "stage": np.repeat([1, 2], 200), "stage_label": np.repeat(["1: 0-199", "2: 200-399"], 200),
        "network": "g", "loss": np.r_[rng.random(399), 5.0], "grad_norm": np.r_[rng.random(399), 5.0],
    })
    ax = lgcplot(tidy, "g", ax=plt.figure().gca())
    assert ax.get_legend()._loc == 2  # upper left: the one outlier is upper right
    ax = lgcplot(tidy, "g", legend="lower center", ax=plt.figure().gca())
    assert ax.get_legend()._loc == 8


def test_scatter_is_rasterized_so_vector_files_stay_small(tmp_path):
    run = write_run(tmp_path / "big.h5", 20_000)
    ax = lgcplot(run, "g")
    assert all(coll.get_rasterized() for coll in ax.collections)
    ax.figure.savefig(tmp_path / "raster.svg", dpi=72)
    vector = lgcplot(run, "g", rasterized=False, ax=plt.figure().gca())
    vector.figure.savefig(tmp_path / "vector.svg", dpi=72)
    raster_svg, vector_svg = (tmp_path / "raster.svg").read_text(), (tmp_path / "vector.svg").read_text()
    assert "<image" in raster_svg  # the cloud is embedded as an image ...
    assert raster_svg.count("<use ") < 1_000 <= 20_000 <= vector_svg.count("<use ")  # ... not as 20,000 markers
    assert (tmp_path / "raster.svg").stat().st_size * 5 < (tmp_path / "vector.svg").stat().st_size


def test_non_finite_iterations_are_counted_not_drawn(tmp_path):
    run = open_run(write_run(tmp_path / "nan.h5", 200, nan_rows=3))
    ax = lgcplot(run, "g")
    assert sum(len(c.get_offsets()) for c in ax.collections) == 197
    assert any("3 iteration(s) not drawn" in t.get_text() for t in ax.texts)


# ---------------------------------------------------------------------------- errors a user can make
def test_unknown_network_and_empty_run(tmp_path, synthetic):
    with pytest.raises(LandscapeError, match="Unknown network 'q'"):
        lgcplot(synthetic, "q")
    with pytest.raises(LandscapeError, match="Unknown network 'x'"):
        lgc_figure(synthetic, networks=["g", "x"])
    empty = write_run(tmp_path / "empty.h5", 0)
    with pytest.raises(LandscapeError, match="has no iterations yet"):
        lgcplot(empty, "g")
    with pytest.raises(LandscapeError, match="has no iterations yet"):
        lgc_figure(empty)


def test_several_runs_need_the_grid(tmp_path, synthetic):
    other = write_run(tmp_path / "other.h5", 300, seed=1)
    stacked = open_runs([synthetic, other]).tidy()
    with pytest.raises(LandscapeError, match="holds 2 runs"):
        lgcplot(stacked, "g")


# ---------------------------------------------------------------------------- the grid
def test_grid_rows_columns_titles_and_row_legends(tmp_path):
    a = write_run(tmp_path / "a.h5", 500, config={"arch": "vanilla", "dataset": "mnist", "optimizer": "adam"})
    b = write_run(tmp_path / "b.h5", 800, config={"arch": "dcgan", "dataset": "fashion-mnist", "optimizer": "sgd"})
    grid = lgc_figure([a, b], networks=("g", "d"))
    assert grid.axes.shape == (2, 2) and grid.row_names == ["a", "b"] and grid.col_names == ["g", "d"]
    # each row is headed by its run's config and name, each panel titled by its network
    assert grid.row_titles == ["Vanilla GAN, MNIST, Adam (a)", "DCGAN, Fashion-MNIST, SGD (b)"]
    headings = [sub._suptitle.get_text() for sub in grid.figure.subfigs]
    assert headings == grid.row_titles
    assert [ax.get_title() for ax in grid.axes[1]] == ["generator", "discriminator"]
    # each row's legend names that run's own iteration ranges
    assert grid.axes[0, 1].get_legend().get_texts()[-1].get_text().endswith("-499")
    assert grid.axes[1, 1].get_legend().get_texts()[-1].get_text().endswith("-799")
    for (r, run), (c, network) in [((r, p), (c, n)) for r, p in enumerate((a, b)) for c, n in enumerate(("g", "d"))]:
        assert_every_iteration_once_in_stage_colour(grid.axes[r, c], open_run(run).tidy(), network)
    # the stacked frame of open_runs draws the same grid, titled from its config columns
    framed = lgc_figure(open_runs([a, b]).tidy(), networks=("g", "d"))
    assert framed.row_titles == grid.row_titles
    path = tmp_path / "grid.png"
    grid.savefig(path, dpi=40)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_grid_shared_axes_with_quantile_range_span_the_group(tmp_path):
    a = write_run(tmp_path / "a.h5", 500, seed=1)
    b = write_run(tmp_path / "b.h5", 500, seed=2)
    grid = lgc_figure([a, b], networks=("g", "d"), sharex="col", sharey="col", quantile_range=(0.1, 0.9))
    for c, network in enumerate(("g", "d")):
        top, bottom = grid.axes[0, c], grid.axes[1, c]
        assert top.get_xlim() == bottom.get_xlim() and top.get_ylim() == bottom.get_ylim()
        frames = [open_run(p).tidy() for p in (a, b)]
        spans = [quantile_limits(f.loc[f["network"] == network, "loss"].to_numpy(), (0.1, 0.9)) for f in frames]
        assert top.get_xlim() == pytest.approx((min(s[0] for s in spans), max(s[1] for s in spans)))
    assert grid.axes[0, 0].get_xlim() != grid.axes[0, 1].get_xlim()  # columns stay independent
    free = lgc_figure([a, b], networks=("g",), quantile_range=(0.1, 0.9))
    assert free.axes[0, 0].get_xlim() != free.axes[1, 0].get_xlim()
    # without a quantile range, shared limits span every cloud of the group
    rows = lgc_figure([a, b], networks=("g", "d"), sharey="row")
    for r in range(2):
        assert rows.axes[r, 0].get_ylim() == rows.axes[r, 1].get_ylim()
        for ax in rows.axes[r]:
            ys = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
            assert ax.get_ylim()[0] <= ys.min() and ax.get_ylim()[1] >= ys.max()
    with pytest.raises(LandscapeError, match="sharex/sharey"):
        lgc_figure([a], sharex="diagonal")


def test_run_being_written_is_drawn_up_to_its_last_flush(tmp_path):
    writer = write_run(tmp_path / "live.h5", 120, close=False)
    try:
        ax = lgcplot(tmp_path / "live.h5", "g")
        assert sum(len(c.get_offsets()) for c in ax.collections) == 120
    finally:
        writer.close(status="finished")


# ---------------------------------------------------------------------------- the time view
def test_timelineplot_shades_stages_in_their_colours(synthetic):
    run = open_run(synthetic)
    ax = timelineplot(run, "grad_norm", networks=("g", "d", "d_fake"), stages=4, smooth=None)
    spans = [p for p in ax.patches]
    assert len(spans) == 4
    for s, (patch, colour) in enumerate(zip(spans, stage_colors(4)), start=1):
        assert np.allclose(patch.get_facecolor()[:3], colour)
        steps = run.tidy(4).query("stage == @s and network == 'g'")["step"]
        x0 = patch.get_x() if hasattr(patch, "get_x") else patch.get_xy()[0][0]
        assert x0 == steps.min()
    lines = [line for line in ax.get_lines()]
    assert len(lines) == 3
    np.testing.assert_array_equal(lines[0].get_ydata(), run.metrics["g_grad_norm"].to_numpy(dtype=np.float64))
    assert ax.get_ylabel() == "gradient norm"


def test_timeline_figure_and_smoothing(tmp_path, synthetic):
    other = write_run(tmp_path / "o.h5", 3_000, seed=4)
    fig = timeline_figure([synthetic, other], networks=("g",))
    assert len(fig.axes) == 4  # loss and gradient norm per run
    long_loss = fig.axes[2]
    raw, smooth = long_loss.get_lines()
    assert len(raw.get_xdata()) == len(smooth.get_xdata()) == 3_000
    assert np.std(smooth.get_ydata()) < np.std(raw.get_ydata())  # the rolling mean is smoother
    with pytest.raises(LandscapeError, match="Unknown quantity"):
        timelineplot(synthetic, "nope")


def test_deprecated_figure_names_still_draw(synthetic):
    """lgc_grid and timeline, the names the first README promised, stay as thin deprecated aliases."""
    with pytest.warns(DeprecationWarning, match="lgc_figure"):
        grid = lgc_grid(synthetic, networks=("g",))
    assert grid.axes.shape == (1, 1)
    with pytest.warns(DeprecationWarning, match="timeline_figure"):
        fig = timeline(synthetic, networks=("g",))
    assert len(fig.axes) == 2
    plt.close("all")
