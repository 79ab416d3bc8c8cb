"""Figure options for everyday use: draw order, stage small multiples, hue, readable log ticks, titles.

Each check reads the drawing back from matplotlib (collections in draw order, their
offsets and colours, rendered pixels, tick labels), so it tests what a user sees,
not which arguments were passed.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

import analysis.lgc as lgc_module  # noqa: E402
from analysis.hessian.plot import hessian_figure  # noqa: E402
from analysis.lgc import (  # noqa: E402
    FACET_BACKGROUND,
    ORDERS,
    lgc_figure,
    lgcplot,
    log_tick_values,
    readable_log_ticks,
)
from analysis.palettes import stage_colors  # noqa: E402
from analysis.timeline import timelineplot  # noqa: E402
from landscape import open_run, open_runs  # noqa: E402
from landscape.errors import LandscapeError  # noqa: E402
from landscape.stages import assign_stages, stage_labels  # noqa: E402
from test_lgc import write_run  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def synthetic(tmp_path):
    return write_run(tmp_path / "synthetic.h5", 1_000)


def cloud(n: int, k: int = 5, seed: int = 0, network: str = "g") -> pd.DataFrame:
    """One network's tidy frame of ``n`` iterations in ``k`` stages, all stages over the same region."""
    rng = np.random.default_rng(seed)
    step = np.arange(n)
    stage = assign_stages(n, k)
    return pd.DataFrame({
        "step": step, "epoch": step // 100, "stage": stage,
        "stage_label": pd.Categorical.from_codes(stage - 1, categories=stage_labels(step, stage, k), ordered=True),
        "network": network, "loss": rng.random(n) + 0.5, "grad_norm": rng.random(n) + 0.5,
    })


def in_draw_order(ax) -> list:
    """The Axes' collections in the order matplotlib draws them (by zorder, ties in the order added)."""
    return sorted(ax.collections, key=lambda artist: artist.get_zorder())


def pixel(ax, x: float, y: float) -> np.ndarray:
    """RGB (0..1) of the rendered figure at data point (x, y)."""
    fig = ax.figure
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())
    px, py = ax.transData.transform((x, y))
    return image[int(round(image.shape[0] - py)), int(round(px)), :3] / 255.0


def stage_of_colour(rgb, k: int = 5) -> int:
    colors = np.asarray(stage_colors(k))
    return int(np.argmin(np.abs(colors - np.asarray(rgb)[:3]).sum(axis=1))) + 1


def labelled_ticks(axis) -> list[str]:
    """Texts of the major tick labels that are shown inside the axis' view."""
    lo, hi = sorted(axis.get_view_interval())
    return [t.get_text() for t, loc in zip(axis.get_ticklabels(), axis.get_ticklocs())
            if t.get_text() and lo * (1 - 1e-9) <= loc <= hi * (1 + 1e-9)]


# ---------------------------------------------------------------------------- draw order
def test_order_stage_puts_later_stages_on_top_and_reverse_earlier_ones():
    frame = cloud(600, k=3)
    labels = list(frame["stage_label"].cat.categories)
    # every stage has a point at the same place: whichever is drawn last is the colour seen there
    frame.loc[[0, 200, 400], ["loss", "grad_norm"]] = 2.0
    for order, top, layers in (("stage", 3, labels), ("reverse", 1, labels[::-1])):
        fig, ax = plt.subplots(figsize=(3, 3), dpi=50)
        lgcplot(frame, "g", order=order, ax=ax, s=400, alpha=1.0, xlim=(0, 3), ylim=(0, 3))
        assert [c.get_label() for c in in_draw_order(ax)] == layers
        assert stage_of_colour(pixel(ax, 2.0, 2.0), 3) == top
        # the legend names the stages in stage order whatever the draw order
        assert [t.get_text() for t in ax.get_legend().get_texts()] == labels
        assert all(c.get_rasterized() for c in ax.collections)


def test_default_order_is_the_papers():
    frame = cloud(500)
    default, explicit = lgcplot(frame, "g", ax=plt.figure().gca()), lgcplot(frame, "g", order="stage",
                                                                          ax=plt.figure().gca())
    assert [c.get_label() for c in default.collections] == [c.get_label() for c in explicit.collections]
    assert [c.get_label() for c in default.collections] == list(frame["stage_label"].cat.categories)


def test_shuffled_draws_every_point_once_in_its_colour_in_one_random_order():
    frame = cloud(2_000)
    ax = lgcplot(frame, "g", order="shuffled")
    (layer,) = ax.collections  # up to 50,000 points: one layer, a colour per point
    assert layer.get_rasterized()
    offsets, colours = np.asarray(layer.get_offsets()), np.asarray(layer.get_facecolors())[:, :3]
    assert len(offsets) == len(colours) == 2_000
    # each point once, in the colour of its own stage
    where = {(x, y): s for x, y, s in frame[["loss", "grad_norm", "stage"]].itertuples(index=False)}
    drawn_stage = np.array([where[tuple(p)] for p in offsets])
    np.testing.assert_allclose(colours, np.asarray(stage_colors(5))[drawn_stage - 1])
    assert sorted(map(tuple, offsets)) == sorted(where)
    # no stage systematically drawn last: each stage's mean position in the draw order is about the middle
    rank = np.arange(len(drawn_stage)) / len(drawn_stage)
    for s in range(1, 6):
        assert abs(rank[drawn_stage == s].mean() - 0.5) < 0.05
    # the legend still names each stage; the order is seeded (the same picture every time)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(frame["stage_label"].cat.categories)
    again = lgcplot(frame, "g", order="shuffled", ax=plt.figure().gca())
    np.testing.assert_array_equal(again.collections[0].get_offsets(), offsets)


def test_shuffled_large_clouds_are_batches_of_single_colour_layers(monkeypatch):
    """Above SHUFFLE_EXACT points the random order is drawn in batches (one layer per stage each), for speed."""
    monkeypatch.setattr(lgc_module, "SHUFFLE_EXACT", 500)
    frame = cloud(5_000)
    ax = lgcplot(frame, "g", order="shuffled")
    layers = in_draw_order(ax)
    assert 5 < len(layers) <= 5 * lgc_module.SHUFFLE_BATCHES
    assert all(c.get_rasterized() and len(np.unique(c.get_facecolors(), axis=0)) == 1 for c in layers)
    stages = [stage_of_colour(c.get_facecolors()[0]) for c in layers]
    points = np.concatenate([c.get_offsets() for c in layers])
    assert len(points) == 5_000 and len(np.unique(points, axis=0)) == 5_000
    # batches interleave the stages and each batch has its own stage order: the last drawn varies
    per_batch = [stages[i:i + 5] for i in range(0, len(stages), 5)]
    assert len({batch[-1] for batch in per_batch}) >= 3
    assert stages != sorted(stages)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(frame["stage_label"].cat.categories)


def test_lgc_figure_order_and_bad_orders(synthetic):
    grid = lgc_figure(synthetic, networks=("g", "d"), order="reverse")
    labels = list(open_run(synthetic).tidy()["stage_label"].cat.categories)
    for ax in grid.axes[0]:
        assert [c.get_label() for c in in_draw_order(ax)] == labels[::-1]
    # the row legend stays in stage order
    assert [t.get_text() for t in grid.axes[0, -1].get_legend().get_texts()] == labels
    shuffled = lgc_figure(synthetic, networks=("g",), order="shuffled")
    assert len(shuffled.axes[0, 0].collections) == 1
    assert [t.get_text() for t in shuffled.axes[0, -1].get_legend().get_texts()] == labels
    assert ORDERS == ("stage", "reverse", "shuffled")
    for bad in ("random", None, 3):
        with pytest.raises(LandscapeError, match=r"Unknown order .*choose one of stage, reverse, shuffled"):
            lgcplot(synthetic, "g", order=bad)
    with pytest.raises(LandscapeError, match=r"Unknown order 'revers' \(did you mean 'reverse'\?\)"):
        lgc_figure(synthetic, order="revers")


# ---------------------------------------------------------------------------- stage small multiples
def test_facet_stages_one_panel_per_stage_over_the_grey_cloud(tmp_path):
    a = write_run(tmp_path / "a.h5", 500, config={"arch": "vanilla", "dataset": "mnist", "optimizer": "adam"})
    b = write_run(tmp_path / "b.h5", 300, seed=1)
    grid = lgc_figure([a, b], networks=("g", "d"), stages=4, facet_stages=True)
    assert grid.facet_stages and grid.axes.shape == (2, 2, 4)
    assert grid.stage_names == list(open_run(a).tidy(4)["stage_label"].cat.categories)
    colours = stage_colors(4)
    for r, path in enumerate((a, b)):
        tidy = open_run(path).tidy(4)
        for c, network in enumerate(("g", "d")):
            rows = tidy[tidy["network"] == network]
            panels = grid.axes[r, c]
            for s, ax in enumerate(panels, start=1):
                background, points = ax.collections
                # the whole cloud in light grey behind, the stage's own points in its colour on top
                assert len(background.get_offsets()) == len(rows)
                assert np.allclose(background.get_facecolors()[0][:3], to_rgb(FACET_BACKGROUND))
                want = rows.loc[rows["stage"] == s, ["loss", "grad_norm"]].to_numpy(dtype=np.float64)
                got = np.asarray(points.get_offsets())
                assert len(got) == len(want) > 0
                np.testing.assert_array_equal(got[np.lexsort(got.T[::-1])], want[np.lexsort(want.T[::-1])])
                assert np.allclose(points.get_facecolors()[0][:3], colours[s - 1])
                assert in_draw_order(ax) == [background, points]
                assert background.get_rasterized() and points.get_rasterized()
            # the stages of one run and network share their axes
            assert len({ax.get_xlim() for ax in panels}) == 1 and len({ax.get_ylim() for ax in panels}) == 1
            assert grid.ax_for(path.stem, network, 2) is panels[1]
    assert [ax.get_title() for ax in grid.axes[0, 0]] == [f"stage {name}" for name in grid.stage_names]
    assert grid.row_titles == ["Vanilla GAN, MNIST, Adam (a)", "DCGAN, CIFAR-10, Adam (b)"]
    # the paper's layout stays the default
    assert lgc_figure(a, networks=("g",)).axes.shape == (1, 1)


def test_facet_stages_with_limits_and_sharing(tmp_path):
    a = write_run(tmp_path / "a.h5", 400)
    b = write_run(tmp_path / "b.h5", 400, seed=3)
    grid = lgc_figure([a, b], networks=("g",), facet_stages=True, sharex="col", log_y=True,
                      quantile_range=(0.05, 0.95), ylim=(0.1, 10))
    xlims = {ax.get_xlim() for ax in grid.axes[:, 0].ravel()}
    assert len(xlims) == 1  # shared across runs (sharex="col") and stages
    assert all(ax.get_ylim() == pytest.approx((0.1, 10)) and ax.get_yscale() == "log" for ax in grid.axes.ravel())


def test_facet_stages_bad_values(synthetic):
    for bad in ("yes", 1, None):
        with pytest.raises(LandscapeError, match="facet_stages must be True or False"):
            lgc_figure(synthetic, facet_stages=bad)
    grid = lgc_figure(synthetic, networks=("g",))
    with pytest.raises(LandscapeError, match="no stage panels"):
        grid.ax_for("synthetic", "g", 1)


# ---------------------------------------------------------------------------- hue
def test_hue_run_compares_runs_in_one_panel(tmp_path):
    a = write_run(tmp_path / "a.h5", 300, config={"arch": "vanilla", "dataset": "mnist", "optimizer": "adam"})
    b = write_run(tmp_path / "b.h5", 500, seed=2, config={"arch": "dcgan", "dataset": "mnist", "optimizer": "sgd"})
    stacked = open_runs([a, b]).tidy()
    with pytest.raises(LandscapeError, match="holds 2 runs"):
        lgcplot(stacked, "g")  # without hue, one run per panel as before
    ax = lgcplot(stacked, "g", hue="run")
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "run"
    assert [t.get_text() for t in legend.get_texts()] == ["a", "b"]
    layers = {c.get_label(): c for c in ax.collections}
    assert set(layers) == {"a", "b"}
    assert len(layers["a"].get_offsets()) == 300 and len(layers["b"].get_offsets()) == 500
    # seaborn's default palette, not the stage colours
    for name, colour in zip(("a", "b"), stage_colors(2, "tab10")):
        assert np.allclose(layers[name].get_facecolors()[0][:3], colour)
    g = stacked[(stacked["run"] == "b") & (stacked["network"] == "g")]
    np.testing.assert_array_equal(np.sort(layers["b"].get_offsets()[:, 0]), np.sort(g["loss"].to_numpy(np.float64)))
    # runs given as paths get run and config columns; a named palette; the draw order applies to the values
    ax = lgcplot([a, b], "d", hue="optimizer", palette="colorblind", order="reverse", ax=plt.figure().gca())
    assert ax.get_legend().get_title().get_text() == "optimizer"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["adam", "sgd"]
    assert [c.get_label() for c in in_draw_order(ax)] == ["sgd", "adam"]
    assert np.allclose(ax.collections[0].get_facecolors()[0][:3], stage_colors(2, "colorblind")[1])


def test_hue_on_stage_label_and_a_continuous_column(synthetic):
    tidy = open_run(synthetic).tidy()
    ax = lgcplot(tidy, "g", hue="stage_label")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(tidy["stage_label"].cat.categories)
    assert ax.get_legend().get_title().get_text() == "stage_label"
    # a numeric column with many values: one layer, a colour map, values in draw order (ascending)
    ax = lgcplot(tidy, "g", hue="step", ax=plt.figure().gca())
    (layer,) = ax.collections
    np.testing.assert_array_equal(layer.get_array(), np.arange(1_000))
    assert layer.get_rasterized() and ax.get_legend().get_title().get_text() == "step"
    assert len(ax.get_legend().get_texts()) >= 3
    reverse = lgcplot(tidy, "g", hue="step", order="reverse", ax=plt.figure().gca())
    np.testing.assert_array_equal(reverse.collections[0].get_array(), np.arange(1_000)[::-1])
    # a numeric column with few values is one colour per value; points without a value are counted, not drawn
    tidy["seed"] = np.where(tidy["step"] < 10, np.nan, tidy["step"] % 3)
    ax = lgcplot(tidy, "g", hue="seed", ax=plt.figure().gca())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0.0", "1.0", "2.0"]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 990
    assert any("10 iteration(s) not drawn" in t.get_text() for t in ax.texts)


def test_hue_errors(synthetic, tmp_path):
    with pytest.raises(LandscapeError, match=r"Unknown hue column 'rn' \(did you mean 'run'\?\)"):
        lgcplot(synthetic, "g", hue="rn")
    with pytest.raises(LandscapeError, match="Unknown hue column 'run'"):
        lgcplot(open_run(synthetic).tidy(), "g", hue="run")  # one run's own frame has no run column
    with pytest.raises(LandscapeError, match="Unknown network 'q'"):
        lgcplot(synthetic, "q", hue="run")
    with pytest.raises(LandscapeError, match="Unknown palette"):
        lgcplot(synthetic, "g", hue="run", palette="no-such-palette")
    with pytest.raises(LandscapeError, match="has no iterations yet"):
        lgcplot(write_run(tmp_path / "empty.h5", 0), "g", hue="run")
    with pytest.raises(LandscapeError, match="hue is an option of lgcplot"):
        lgc_figure(synthetic, hue="run")


# ---------------------------------------------------------------------------- readable log axes
@pytest.mark.parametrize("span", [(1.0, 10.0), (0.3, 3.0), (0.04, 0.4), (2.0, 5.0), (1e-3, 1e3)])
def test_log_axes_have_at_least_three_labelled_ticks(span):
    frame = cloud(300)
    ax = lgcplot(frame, "g", log_x=True, log_y=True, xlim=span, ylim=span)
    ax.figure.canvas.draw()
    for axis in (ax.xaxis, ax.yaxis):
        labels = labelled_ticks(axis)
        assert len(labels) >= 3, labels
        assert all("$" not in text for text in labels)  # plain numbers, not 10^k mathtext
    assert not any(t.get_text() for t in ax.yaxis.get_minorticklabels())


def test_log_tick_values_over_many_spans():
    rng = np.random.default_rng(0)
    for _ in range(500):
        lo = 10 ** rng.uniform(-6, 4)
        hi = lo * 10 ** rng.uniform(0.3, 8)
        ticks = log_tick_values(lo, hi)
        inside = ticks[(ticks >= lo) & (ticks <= hi)]
        assert len(inside) >= (3 if hi / lo >= 10 else 2), (lo, hi, ticks)
        assert len(inside) <= 16


def test_timelineplot_log_axis_and_linear_axes_untouched(synthetic):
    ax = timelineplot(synthetic, "grad_norm", log_y=True, smooth=None)
    ax.set_ylim(1, 10)
    ax.figure.canvas.draw()
    assert len(labelled_ticks(ax.yaxis)) >= 3
    linear = lgcplot(synthetic, "g", ax=plt.figure().gca())
    before = type(linear.xaxis.get_major_locator())
    readable_log_ticks(linear)
    assert type(linear.xaxis.get_major_locator()) is before
    with pytest.raises(LandscapeError, match="Unknown axis 'z'"):
        readable_log_ticks(linear, "z")


# ---------------------------------------------------------------------------- timelines in your own Axes
def test_timelineplot_draws_into_a_users_axes(synthetic):
    run = open_run(synthetic)
    fig, (left, right) = plt.subplots(1, 2)
    assert lgcplot(run, "g", ax=left) is left
    assert timelineplot(run, "loss", ax=right) is right
    assert [line.get_label() for line in right.get_lines()] == ["generator", "discriminator"]
    assert len(right.patches) == 5 and right.get_legend() is not None
    assert not left.get_lines() and len(left.collections) == 5  # the other Axes untouched
    plt.sca(left)
    assert timelineplot(run, "grad_norm", networks=("g",), smooth=None, legend=False, ax=None) is left


# ---------------------------------------------------------------------------- Hessian figure
def test_hessian_figure_title_and_line_style_legend(tmp_path):
    writer = write_run(tmp_path / "quick.h5", 100, close=False,
                       config={"arch": "vanilla", "dataset": "mnist", "optimizer": "adam"})
    grid = np.linspace(-1, 3, 50)
    for step in (0, 50, 99):
        for network in ("g", "d"):
            values = np.array([-0.1 - step / 1e3, 2.0 + step / 100])
            writer.add_hessian(step, network, {"values": values, "density_grid": grid,
                                               "density_values": np.exp(-grid**2)},
                               {"lambda_min": float(values[0]), "lambda_max": float(values[1])})
    writer.close()
    fig = hessian_figure(tmp_path / "quick.h5")
    assert fig._suptitle.get_text() == "Vanilla GAN, MNIST, Adam (quick)"
    top = [ax for ax in fig.axes if ax.get_title().endswith("extreme eigenvalues")]
    assert len(top) == 2
    for ax in top:
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any("lambda_{max}" in t for t in texts) and any("lambda_{min}" in t for t in texts)
        network = "generator" if ax.get_title().startswith("generator") else "discriminator"
        style = "dashed" if network == "generator" else "solid"
        (entry,) = [h for h in ax.get_legend().legend_handles if h.get_label().startswith(network)]
        assert entry.get_label() == f"{network} ({style} line)"
        assert entry.get_linestyle() == ("--" if style == "dashed" else "-")
        # the lines drawn have the style the legend names
        assert {line.get_linestyle() for line in ax.get_lines() if line.get_color() == "0.6"} == {entry.get_linestyle()}


def test_timeline_axes_have_no_offset_and_a_flat_quality_metric_looks_flat(tmp_path):
    """Issue 23: an Inception Score moving by 1e-4 was drawn on a "+1" offset axis from 1.0001 to 1.00025, so it
    looked dramatic. No panel may use an offset, and the IS axis spans at least QUALITY_SPANS' minimum."""
    from analysis.timeline import QUALITY_SPANS, timeline_figure
    from landscape.runfile import GAN_FIELDS
    from landscape.writer import RunWriter

    path = tmp_path / "flat.h5"
    with RunWriter(path, {"arch": "vanilla", "dataset": "mnist"}, GAN_FIELDS) as writer:
        for i in range(300):
            writer.log(i, epoch=i // 100, g_loss=1.0 + 1e-5 * np.sin(i), d_loss=1.0, g_grad_norm=1.0 + 1e-5 * i,
                       d_grad_norm=2.0)
        for k, step in enumerate([99, 199, 299]):
            writer.add_quality(step, {"inception_score": 1.0001 + 7e-5 * k, "class_kl": 2.3301 + 1e-5 * k,
                                      "classes_covered": 1}, n=100)
    fig = timeline_figure(path, stages=3)
    fig.canvas.draw()
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert {"loss", "gradient norm", "class KL", "Inception Score"} <= set(labels)
    for ax in fig.axes:
        assert ax.yaxis.get_major_formatter().get_offset() == "", ax.get_ylabel()
    for name, metric in (("Inception Score", "inception_score"), ("class KL", "class_kl")):
        low, high = fig.axes[labels.index(name)].get_ylim()
        assert high - low >= QUALITY_SPANS[metric][0] - 1e-9, (name, low, high)
    is_axis = fig.axes[labels.index("Inception Score")]
    assert is_axis.get_ylim()[0] < 1.0001  # the measurements are inside the axis, not under its frame


# ---------------------------------------------------------------------------- runs that stopped short of their plan
def write_partial_run(path, status: str, rows: int = 59, planned: int | None = 39_000):
    """A run file that recorded ``rows`` of its ``planned`` iterations and was closed with ``status``."""
    from landscape.writer import RunWriter

    rng = np.random.default_rng(0)
    writer = RunWriter(path, {"arch": "vanilla", "dataset": "mnist", "optimizer": "adam", "loss": "ns"})
    if planned is not None:
        writer.set_meta("schedule", {"planned_iters": planned, "iters_per_epoch": 390})
    for step in range(rows):
        writer.log(step, epoch=step // 390, g_loss=1 + 0.1 * rng.normal(), g_grad_norm=np.exp(-step / 30),
                   d_loss=1.3 + 0.1 * rng.normal(), d_grad_norm=np.exp(0.3 * rng.normal()))
    writer.close(status)
    return path


@pytest.mark.parametrize("status", ["interrupted", "diverged"])
def test_a_partial_run_says_how_far_it_got_in_every_title(tmp_path, status):
    from analysis.timeline import timeline_figure

    run = open_run(write_partial_run(tmp_path / "part.h5", status))
    assert run.planned_iterations == 39_000
    expected = f"Vanilla GAN, MNIST, Adam (part), {status} at step 59 of 39,000"
    assert lgc_figure(run).row_titles == [expected]
    assert lgc_figure(run, facet_stages=True).row_titles == [expected]
    assert timeline_figure(run).axes[0].get_title() == expected


def test_a_partial_run_is_staged_by_its_plan_and_a_finished_run_by_its_rows(tmp_path):
    part = open_run(write_partial_run(tmp_path / "part.h5", "interrupted", rows=300, planned=1_000))
    tidy = part.tidy(5)
    # fifths of the 1,000 planned iterations: rows 0-199 stage 1, 200-299 stage 2, stages 3-5 not reached
    assert tidy.drop_duplicates("step")["stage"].value_counts().sort_index().to_dict() == {1: 200, 2: 100}
    assert list(tidy["stage_label"].cat.categories) == ["1: 0-199", "2: 200-299", "3: not reached",
                                                         "4: not reached", "5: not reached"]
    assert part.stage_of([150, 250, 299]).tolist() == [1, 2, 2]  # measurements are staged by the plan too
    # the same rows, finished (or with no plan): fifths of the rows, the paper's rule
    for name, status, planned in (("done", "finished", 300), ("plain", "interrupted", None)):
        run = open_run(write_partial_run(tmp_path / f"{name}.h5", status, rows=300, planned=planned))
        stages = run.tidy(5).drop_duplicates("step")["stage"].to_numpy()
        np.testing.assert_array_equal(stages, assign_stages(300, 5))
        assert run.progress_text == ("" if status == "finished" else "interrupted at step 300")


def test_a_grid_pooling_a_partial_run_says_so(tmp_path):
    from analysis.lgc import lgc_grid

    paths = [write_partial_run(tmp_path / "part.h5", "interrupted"),
             write_partial_run(tmp_path / "done.h5", "finished", planned=59)]
    grid = lgc_grid(paths, col="run")
    assert grid.note == "generator in every panel; part interrupted at step 59 of 39,000"
