"""Loss-gradient clouds (LGCs): the paper's central figure.

For one network, every training iteration is a point with its loss on x and its
gradient norm on y, coloured by training stage (Moses, Malan & Bosman, GECCO '21,
Figures 2-7). :func:`lgcplot` draws one cloud on one Axes (seaborn's axes-level
convention), coloured by stage or, with ``hue=``, by any column of the tidy frame
(e.g. ``hue="run"`` to compare runs in one panel); :func:`lgc_figure` lays out one
row per run and one column per network (figure-level), so a single call on the
paper's six runs draws its Figures 2-7, and with ``facet_stages=True`` gives each
stage its own panel over the whole cloud in grey.

Stage membership is never computed here: it comes from the run's tidy frame
(:meth:`landscape.reader.Run.tidy`, staged by :mod:`landscape.stages`), and the
network labels from :mod:`landscape.networks`. In the default draw order each stage
is one rasterized scatter layer (a PathCollection with the stage's colour and
label), later stages on top; ``order="reverse"`` draws them the other way round and
``order="shuffled"`` draws every point in one layer in a seeded random order, so no
stage systematically hides another. Vector outputs stay small and clouds of
millions of points render in about a second; marker size and alpha shrink as the
number of points grows so dense clouds stay readable.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from analysis.palettes import stage_colors
from analysis.runs import RunData, check_networks, default_networks, run_data, single_run
from landscape.errors import LandscapeError, unknown_choice
from landscape.networks import PAPER_PANELS
from landscape.networks import label as network_label
from landscape.reader import TIDY_FRAME_COLUMNS, no_iterations_message, setting_of_column
from landscape.stages import stage_count, stage_label_map

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Draw orders of a cloud's points: the paper's (later stages on top), the reverse, or one seeded random order.
ORDERS = ("stage", "reverse", "shuffled")

#: Seed of ``order="shuffled"``: the same data always gives the same picture.
SHUFFLE_SEED = 0

#: ``order="shuffled"`` draws up to this many points as one layer with a colour per point ...
SHUFFLE_EXACT = 50_000

#: ... and more as this many consecutive batches of the random order, one single-colour layer per stage each.
SHUFFLE_BATCHES = 32

#: A numeric ``hue`` column with more distinct values than this gets a continuous colour map, not one colour a level.
HUE_MAX_LEVELS = 10

#: Colour of the whole cloud behind each stage's points in ``lgc_figure(..., facet_stages=True)``.
FACET_BACKGROUND = "0.85"

STAGE_LEGEND_TITLE = "stage: iterations"


# ---------------------------------------------------------------------------- styling
def marker_style(n_points: int) -> tuple[float, float]:
    """Marker area (points^2, scatter's ``s``) and alpha for a cloud of ``n_points``.

    The diameter shrinks from 5 pt (<= 1,000 points) to 0.6 pt (10 million) and the
    alpha from 0.9 to 0.08, both as n^(-1/4): sparse clouds stay visible, dense
    ones show their density instead of a solid blob.
    """
    scale = (1_000 / max(int(n_points), 1)) ** 0.25
    diameter = float(np.clip(5.0 * scale, 0.6, 5.0))
    alpha = float(np.clip(0.9 * scale, 0.08, 0.9))
    return diameter**2, alpha


def check_order(order: str) -> str:
    """``order`` if it is one of :data:`ORDERS`, else one sentence naming the choices."""
    if not isinstance(order, str) or order not in ORDERS:
        raise LandscapeError(unknown_choice("order", order, ORDERS))
    return order


def check_quantile_range(quantile_range: Sequence[float]) -> tuple[float, float]:
    """The (low, high) quantiles as floats, or a one-sentence error unless 0 <= low < high <= 1."""
    try:
        lo_q, hi_q = (float(q) for q in quantile_range)
    except (TypeError, ValueError):
        raise LandscapeError(
            f"The quantile range must be two numbers such as (0.01, 0.99), got {quantile_range!r}."
        ) from None
    if not 0.0 <= lo_q < hi_q <= 1.0:
        raise LandscapeError(
            f"The quantile range must be two numbers with 0 <= low < high <= 1, got {lo_q:g} {hi_q:g}."
        )
    return lo_q, hi_q


def quantile_limits(values: np.ndarray, quantile_range: tuple[float, float], log: bool = False) -> tuple[float, float]:
    """Axis limits spanning the given quantiles of ``values`` plus a 5% margin (in log space for log axes)."""
    lo_q, hi_q = check_quantile_range(quantile_range)
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0 if log else True)]
    if not len(values):
        raise LandscapeError("No finite values to take a quantile range from.")
    if log:
        values = np.log10(values)
    lo, hi = np.quantile(values, [lo_q, hi_q])
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(lo) * 0.05, 0.05 if log else 1e-3)
    lo, hi = lo - pad, hi + pad
    return (10.0**lo, 10.0**hi) if log else (float(lo), float(hi))


_CORNERS = ("upper left", "upper right", "lower left", "lower right")


def emptiest_corner(ax: Axes, x: np.ndarray, y: np.ndarray, entries: int, sample: int = 20_000) -> str:
    """The Axes corner with the fewest points under a legend of ``entries`` rows.

    matplotlib's ``loc="best"`` tests every point against every candidate place
    (15 s for a million points); a random sample of at most ``sample`` points,
    counted in the four corner boxes, finds a free corner in milliseconds.
    Ties go to the upper left.
    """
    if len(x) > sample:
        pick = np.random.default_rng(0).choice(len(x), sample, replace=False)
        x, y = x[pick], y[pick]
    ax.get_xlim(), ax.get_ylim()  # settle autoscaled limits before using the data transform
    with np.errstate(all="ignore"):
        fx, fy = (ax.transData + ax.transAxes.inverted()).transform(np.column_stack([x, y])).T
    width, height = 0.4, min(0.9, 0.08 + 0.075 * entries)
    left, bottom = fx < width, fy < height
    right, top = fx > 1 - width, fy > 1 - height
    counts = [np.sum(top & left), np.sum(top & right), np.sum(bottom & left), np.sum(bottom & right)]
    return _CORNERS[int(np.argmin(counts))]


# ---------------------------------------------------------------------------- readable log axes
def log_tick_values(vmin: float, vmax: float) -> np.ndarray:
    """Major tick positions for a log axis from ``vmin`` to ``vmax`` with at least three inside any decade.

    matplotlib labels only powers of ten, so an axis spanning one decade shows one
    labelled tick or none. Here: under one decade, evenly spaced "nice" values (1.5,
    2, 2.5, ...); up to 2.5 decades, 1, 2 and 5 times each power of ten; up to 3
    decades, 1 and 3 times; beyond, the powers of ten (thinned when there are many).
    """
    from matplotlib.ticker import LogLocator, MaxNLocator

    vmin, vmax = sorted((float(vmin), float(vmax)))
    if not (np.isfinite(vmin) and np.isfinite(vmax) and vmin > 0 and vmax > vmin):
        return LogLocator(base=10.0, numticks=9).tick_values(max(vmin, 1e-300), max(vmax, 1e-300))
    decades = np.log10(vmax / vmin)
    if decades < 1:
        ticks = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(vmin, vmax)
        return ticks[ticks > 0]
    subs = (1.0, 2.0, 5.0) if decades < 2.5 else (1.0, 3.0) if decades < 3 else (1.0,)
    return LogLocator(base=10.0, subs=subs, numticks=12 if len(subs) == 1 else 30).tick_values(vmin, vmax)


def _readable_log_locator() -> Any:
    from matplotlib.ticker import LogLocator

    class ReadableLogLocator(LogLocator):
        """A LogLocator whose ticks come from :func:`log_tick_values` (limits and margins as LogLocator's)."""

        def __init__(self) -> None:
            super().__init__(base=10.0, subs=(1.0,), numticks=12)

        def tick_values(self, vmin: float, vmax: float) -> np.ndarray:
            return self.raise_if_exceeds(log_tick_values(vmin, vmax))

    return ReadableLogLocator()


def _plain_number(value: float, pos: Any = None) -> str:
    return f"{value:g}"


def readable_log_ticks(ax: Axes, axis: str = "both") -> Axes:
    """Label enough ticks on the log axes of ``ax`` (``"x"``, ``"y"`` or ``"both"``) to read values off.

    Every log axis gets at least three labelled major ticks per decade it spans
    (:func:`log_tick_values`), written as plain numbers (0.2, 0.5, 1, 2, 5; 1e-05
    for very small ones); the minor ticks stay unlabelled. Linear axes are left alone.
    ``lgcplot`` and ``timelineplot`` call it on their log axes; call it again after
    ``ax.set_xscale("log")`` on your own Axes. Returns the Axes.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if axis not in ("x", "y", "both"):
        raise LandscapeError(unknown_choice("axis", axis, ("x", "y", "both")))
    for name in ("x", "y") if axis == "both" else (axis,):
        target = ax.xaxis if name == "x" else ax.yaxis
        if target.get_scale() != "log":
            continue
        target.set_major_locator(_readable_log_locator())
        target.set_major_formatter(FuncFormatter(_plain_number))
        target.set_minor_formatter(NullFormatter())
    return ax


# ---------------------------------------------------------------------------- drawing a cloud
def _legend_handle(color: Any, label: str) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([], [], ls="none", marker="o", ms=6, mew=0, color=color, label=label)


def _cloud_arrays(rows: pd.DataFrame, log_x: bool, log_y: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (loss), y (gradient norm) and which points can be drawn (finite; positive on a log axis)."""
    x = rows["loss"].to_numpy(dtype=np.float64)
    y = rows["grad_norm"].to_numpy(dtype=np.float64)
    drawable = np.isfinite(x) & np.isfinite(y)
    if log_x:
        drawable &= x > 0
    if log_y:
        drawable &= y > 0
    return x, y, drawable


def _draw_levels(ax: Axes, x: np.ndarray, y: np.ndarray, codes: np.ndarray, drawable: np.ndarray,
                 colors: Sequence[Any], labels: Sequence[str], order: str, kws: dict[str, Any]) -> list[Any]:
    """Scatter points whose level is ``codes`` (1..L, 0: not drawn) in ``order``; legend handles in level order.

    "stage" and "reverse" draw one PathCollection per level (labelled, in level order or
    its reverse, so the last drawn is on top). "shuffled" draws the points in one seeded
    random order: up to :data:`SHUFFLE_EXACT` points as one PathCollection with a colour
    per point; beyond, as :data:`SHUFFLE_BATCHES` consecutive batches of that order, each
    drawn as one single-colour layer per level in a random level order (matplotlib
    draws a single-colour layer ~10x faster than a colour per point), so no level is
    systematically on top.
    """
    present = [lvl for lvl in range(1, len(colors) + 1) if np.any(drawable & (codes == lvl))]
    if order == "shuffled":
        rng = np.random.default_rng(SHUFFLE_SEED)
        picked = rng.permutation(np.flatnonzero(drawable & (codes > 0)))
        if 0 < len(picked) <= SHUFFLE_EXACT:
            rgb = np.asarray([tuple(c) for c in colors], dtype=np.float64)[codes[picked] - 1]
            ax.scatter(x[picked], y[picked], c=rgb, label="_shuffled", **kws)
        elif len(picked):
            batches = max(1, min(SHUFFLE_BATCHES, 1_000 // max(len(present), 1)))  # at most ~1,000 layers
            for batch in np.array_split(picked, batches):
                batch_codes = codes[batch]
                for lvl in rng.permutation(present):
                    members = batch[batch_codes == lvl]
                    if len(members):
                        ax.scatter(x[members], y[members], color=colors[lvl - 1], label="_shuffled", **kws)
    else:
        for lvl in present if order == "stage" else present[::-1]:
            members = drawable & (codes == lvl)
            ax.scatter(x[members], y[members], color=colors[lvl - 1], label=labels[lvl - 1], **kws)
    return [_legend_handle(colors[lvl - 1], labels[lvl - 1]) for lvl in present]


def _hue_frame(data: Any, stages: int | None) -> tuple[pd.DataFrame, str]:
    """The frame to colour by a column, and how messages name it: a frame as given, else the runs' tidy frames
    stacked with ``run`` and scalar config columns (as ``open_runs(paths).tidy()`` has them)."""
    runs = run_data(data, stages)  # checks the frame's columns and stage counts, or reads the runs
    if isinstance(data, pd.DataFrame):
        return data, runs[0].where if len(runs) == 1 else "The data"
    parts = []
    for run in runs:
        extra = {"run": run.name, **{key: value for key, value in run.config.items()
                                     if value is None or np.isscalar(value)}}
        parts.append(run.tidy.assign(**{key: value for key, value in extra.items() if key not in run.tidy.columns}))
    if not parts:
        raise LandscapeError("No runs to draw; pass at least one run file.")
    return pd.concat(parts, ignore_index=True), runs[0].where if len(runs) == 1 else "The data"


def _hue_palette(n: int, palette: str | None) -> list[Any]:
    """One colour per hue level: the named palette, else seaborn's default (tab10, husl beyond 10 levels)."""
    if palette is None:
        palette = "tab10" if n <= 10 else "husl"
    return stage_colors(max(n, 1), palette)


def _hue_levels(column: pd.Series, whole: pd.Series) -> list[Any] | None:
    """The levels of a categorical hue, in legend order (None for a numeric column with many values)."""
    if isinstance(whole.dtype, pd.CategoricalDtype):
        observed = set(pd.unique(whole.dropna()))
        return [c for c in whole.cat.categories if c in observed]
    values = whole.dropna()
    numeric = pd.api.types.is_numeric_dtype(whole.dtype) and not pd.api.types.is_bool_dtype(whole.dtype)
    unique = pd.unique(values)
    if numeric and len(unique) > HUE_MAX_LEVELS:
        return None
    return sorted(unique) if numeric or pd.api.types.is_bool_dtype(whole.dtype) else list(unique)


def _draw_hue(ax: Axes, x: np.ndarray, y: np.ndarray, drawable: np.ndarray, rows: pd.DataFrame,
              frame: pd.DataFrame, hue: str, palette: str | None, order: str, kws: dict[str, Any]) -> list[Any]:
    """Colour by the column ``hue``: one colour per level, or a continuous map for a numeric column."""
    column = rows[hue]
    levels = _hue_levels(column, frame[hue])
    if levels is not None:
        codes = pd.Categorical(column, categories=levels).codes.astype(np.int64) + 1  # NaN / unknown -> 0
        drawable &= codes > 0  # in place: the caller counts what was not drawn
        return _draw_levels(ax, x, y, codes, drawable, _hue_palette(len(levels), palette),
                            [str(level) for level in levels], order, kws)

    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.ticker import MaxNLocator

    values = column.to_numpy(dtype=np.float64)
    drawable &= np.isfinite(values)  # in place: the caller counts what was not drawn
    picked = np.flatnonzero(drawable)
    if order == "shuffled":
        picked = np.random.default_rng(SHUFFLE_SEED).permutation(picked)
    else:
        picked = picked[np.argsort(values[picked] if order == "stage" else -values[picked], kind="stable")]
    whole = frame[hue].to_numpy(dtype=np.float64)
    whole = whole[np.isfinite(whole)]
    norm = Normalize(float(whole.min()), float(whole.max())) if len(whole) else Normalize(0.0, 1.0)
    cmap = LinearSegmentedColormap.from_list(f"hue {hue}", stage_colors(256, palette or "viridis"))
    if len(picked):
        ax.scatter(x[picked], y[picked], c=values[picked], cmap=cmap, norm=norm, label=f"_hue {hue}", **kws)
    ticks = MaxNLocator(nbins=4).tick_values(norm.vmin, norm.vmax)
    ticks = [t for t in ticks if norm.vmin - 1e-9 * abs(norm.vmin) <= t <= norm.vmax + 1e-9 * abs(norm.vmax)]
    return [_legend_handle(cmap(norm(t)), f"{t:g}") for t in ticks] if len(picked) else []


def _lgcplot(
    data: Any, network: str, *, stages: int | None, palette: str | None, hue: str | None, order: str,
    log_x: bool, log_y: bool, xlim: Any, ylim: Any, quantile_range: tuple[float, float] | None,
    legend: bool | str, ax: Axes | None, scatter_kws: dict[str, Any],
) -> tuple[Axes, list[Any]]:
    """:func:`lgcplot`, also returning the legend handles (``lgc_figure`` puts them beside each row)."""
    import matplotlib.pyplot as plt

    check_order(order)
    if quantile_range is not None:
        check_quantile_range(quantile_range)
    if hue is None:
        run = single_run(data, stages, several="lgc_figure or in one panel with lgcplot(..., hue='run')")
        rows = run.network_rows(network)
    else:
        frame, where = _hue_frame(data, stages)
        if not isinstance(hue, str) or hue not in frame.columns:
            raise LandscapeError(unknown_choice("hue column", hue, frame.columns))
        if not len(frame):
            raise LandscapeError(no_iterations_message(where))
        recorded = [str(n) for n in pd.unique(frame["network"])]
        if network not in recorded:
            raise LandscapeError(unknown_choice("network", network, recorded))
        rows = frame[(frame["network"] == network).to_numpy()]
    if ax is None:
        ax = plt.gca()
    if not len(rows):
        raise LandscapeError(no_iterations_message(run.where if hue is None else where))

    x, y, drawable = _cloud_arrays(rows, log_x, log_y)
    size, alpha = marker_style(int(drawable.sum()))
    kws = {"s": size, "alpha": alpha, "linewidths": 0, "rasterized": True}
    kws.update(scatter_kws)
    if hue is None:
        stage = rows["stage"].to_numpy().astype(np.int64)
        labels = stage_label_map(run.tidy)
        k = max(stage_count(run.tidy), int(stage.max()))
        handles = _draw_levels(ax, x, y, stage, drawable, stage_colors(k, palette or "paper"),
                               [labels.get(s, str(s)) for s in range(1, k + 1)], order, kws)
        title = STAGE_LEGEND_TITLE
    else:
        stage_colors(1, palette or "paper")  # an unknown palette name is one sentence before anything is drawn
        handles = _draw_hue(ax, x, y, drawable, rows, frame, hue, palette, order, kws)
        title = hue
    n_drawn = int(drawable.sum())

    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    readable_log_ticks(ax)
    if quantile_range is not None and n_drawn:
        ax.set_xlim(quantile_limits(x[drawable], quantile_range, log_x))
        ax.set_ylim(quantile_limits(y[drawable], quantile_range, log_y))
    if xlim is not None:
        ax.set_xlim(*xlim)
    if ylim is not None:
        ax.set_ylim(*ylim)

    name = network_label(network, critic=hue is None and run.critic)
    ax.set_xlabel(f"loss ({name})")
    ax.set_ylabel(f"gradient norm ({name})")
    skipped = len(rows) - n_drawn
    if skipped:
        why = "non-finite, no hue value, or <= 0 on a log axis" if hue else "non-finite, or <= 0 on a log axis"
        ax.text(0.99, 0.01, f"{skipped:,} iteration(s) not drawn ({why})", transform=ax.transAxes, ha="right",
                va="bottom", fontsize="x-small", color="0.3")
    if legend and handles:
        loc = legend if isinstance(legend, str) else emptiest_corner(ax, x[drawable], y[drawable], len(handles))
        ax.legend(handles=handles, title=title, loc=loc, fontsize="small", title_fontsize="small")
    return ax, handles


# ---------------------------------------------------------------------------- axes-level
def lgcplot(
    data: Any,
    network: str = "g",
    *,
    stages: int | None = None,
    hue: str | None = None,
    palette: str | None = None,
    order: str = "stage",
    log_x: bool = False,
    log_y: bool = False,
    xlim: tuple[float | None, float | None] | None = None,
    ylim: tuple[float | None, float | None] | None = None,
    quantile_range: tuple[float, float] | None = None,
    legend: bool | str = True,
    ax: Axes | None = None,
    **scatter_kws: Any,
) -> Axes:
    """Draw the loss-gradient cloud of one network: loss (x) against gradient norm (y), coloured by stage.

    Parameters
    ----------
    data
        A Run, a run-file path, or a tidy DataFrame from ``run.tidy(stages)``
        (columns step, stage, stage_label, network, loss, grad_norm) of one run.
        With ``hue``, also several runs: a list of runs or paths, or
        ``open_runs(paths).tidy()``.
    network
        ``"g"``, ``"d"``, ``"d_real"`` or ``"d_fake"`` (or any network the run records).
    stages
        Number of equal training stages for a Run (default 5). A DataFrame keeps
        the stages it was built with; a different number here is an error.
    hue
        Colour by this column of the tidy frame instead of by stage, as seaborn's
        ``hue``: ``"run"`` compares runs in one panel; runs given as files or Run
        objects also get their config's columns (``"arch"``, ``"dataset"``,
        ``"optimizer"``, ...). Text and categorical columns, and numeric columns with
        at most 10 values, get one colour per value; other numeric columns
        (``"step"``, ``"epoch"``) a continuous colour map. The legend is titled with
        the column's name. Points without a value are not drawn (and counted).
    palette
        Stage colours: ``"paper"`` (the default: purple, orange, black, green,
        yellow) or any matplotlib / seaborn palette name. With ``hue``: seaborn's
        default (tab10, husl above 10 values; viridis for a continuous column) or
        the palette named.
    order
        Which points end up on top. ``"stage"`` (default, the paper's): one layer
        per stage, later stages on top; ``"reverse"``: earlier stages on top;
        ``"shuffled"``: the points in one random order (seeded, so the picture is
        reproducible), so no stage systematically hides another (see Returns for
        its layers). With ``hue`` the same applies to its values (for a continuous
        column: ascending, descending, shuffled).
    log_x, log_y
        Logarithmic axes (iterations with a non-positive value on a log axis are
        not drawn and are counted in a note). Log axes get at least three labelled
        ticks per decade (:func:`readable_log_ticks`).
    xlim, ylim
        Explicit axis bounds; either end may be None. They take precedence over
        ``quantile_range``.
    quantile_range
        ``(low, high)`` quantiles, e.g. ``(0.01, 0.99)``: bound both axes to that
        part of the cloud so a few outliers do not hide it. Default: unbounded
        (every point visible), as in the paper.
    legend
        Draw a legend naming each stage with its iteration range, or each hue
        value (``True``), or not (``False``); a string is used as the legend's ``loc``.
    ax
        Axes to draw on (default: the current Axes).
    scatter_kws
        Passed to :meth:`matplotlib.axes.Axes.scatter` (e.g. ``s``, ``alpha``,
        ``marker``), overriding the size and alpha picked from the number of points.

    Returns
    -------
    The Axes. With ``order="stage"`` or ``"reverse"`` each stage (or hue value) is
    one rasterized PathCollection labelled with its stage label, added in draw
    order (last on top). With ``order="shuffled"`` the layers are unlabelled: up to
    50,000 points are one PathCollection with a colour per point; larger clouds are
    32 consecutive batches of the random order, each one layer per stage in a
    random stage order (as fast as the default order). A continuous ``hue`` is one
    PathCollection with a colour per point (``fig.colorbar(ax.collections[0])``
    works; about 2 s per million points). Every layer is rasterized, and the legend
    always names each stage (or value) in order.
    """
    return _lgcplot(data, network, stages=stages, palette=palette, hue=hue, order=order, log_x=log_x, log_y=log_y,
                    xlim=xlim, ylim=ylim, quantile_range=quantile_range, legend=legend, ax=ax,
                    scatter_kws=scatter_kws)[0]


# ---------------------------------------------------------------------------- figure-level
@dataclass
class LGCGrid:
    """The result of :func:`lgc_figure` and :func:`lgc_grid`: the Figure and its Axes.

    ``axes`` has one row per run and one column per network; with
    ``facet_stages=True`` it has a third axis, one panel per stage
    (``axes[run, network, stage - 1]``), and ``stage_names`` lists the stages.
    Faceted by factors (``lgc_grid(data, row=..., col=...)``), ``row_names`` and
    ``col_names`` are the factor values (or the networks, without ``col``), ``row``
    and ``col`` the factors, ``network`` the one network of a grid with ``col``,
    ``panel_runs[(row value, column name)]`` the runs a panel pools, ``pooled`` the
    other factors whose values some panel pools (factor -> its values, e.g.
    ``{"optimizer": ["adam", "sgd"]}``) and ``note`` the line under the figure's title
    that says so (and names the one network of a grid with ``col``).
    """

    figure: Figure
    axes: np.ndarray
    row_names: list[Any] = field(default_factory=list)
    col_names: list[Any] = field(default_factory=list)
    row_titles: list[str] = field(default_factory=list)
    stage_names: list[str] = field(default_factory=list)
    row: str | None = None
    col: str | None = None
    network: str | None = None
    panel_runs: dict[tuple[Any, Any], list[str]] = field(default_factory=dict)
    pooled: dict[str, list[Any]] = field(default_factory=dict)
    note: str = ""

    @property
    def fig(self) -> Figure:
        """The Figure (seaborn's FacetGrid spelling)."""
        return self.figure

    @property
    def facet_stages(self) -> bool:
        """Whether each stage has its own panel."""
        return self.axes.ndim == 3

    def ax_for(self, run: str, network: str, stage: int | None = None) -> Any:
        """The Axes of one run (by name) and network; with stage facets, of one stage (1-based), or all of them.

        In a grid faceted by factors: the Axes of a row value and a column name (network or column value)."""
        cell = self.axes[self.row_names.index(run), self.col_names.index(network)]
        if stage is None:
            return cell
        if not self.facet_stages:
            raise LandscapeError("This figure has no stage panels; draw it with lgc_figure(..., facet_stages=True).")
        if not 1 <= int(stage) <= cell.shape[0]:
            raise LandscapeError(f"The stage must be between 1 and {cell.shape[0]}, got {stage}.")
        return cell[int(stage) - 1]

    def savefig(self, fname: str | os.PathLike, **kwargs: Any) -> None:
        """Save the figure, like ``FacetGrid.savefig`` (constrained layout already fits the legends)."""
        self.figure.savefig(fname, **kwargs)


def _share_groups(share: bool | str, nrows: int, ncols: int) -> list[list[tuple[int, int]]]:
    cells = [(r, c) for r in range(nrows) for c in range(ncols)]
    if share is True or share == "all":
        return [cells]
    if share == "row":
        return [[(r, c) for c in range(ncols)] for r in range(nrows)]
    if share == "col":
        return [[(r, c) for r in range(nrows)] for c in range(ncols)]
    return [[cell] for cell in cells]


def _check_figure_options(*, order: str, stages: int | None, palette: str, sharex: Any, sharey: Any,
                          quantile_range: Any, scatter_kws: dict[str, Any]) -> None:
    """The checks every figure-level LGC layout makes before reading a run (one sentence each)."""
    check_order(order)
    if "hue" in scatter_kws:
        raise LandscapeError("hue is an option of lgcplot (one panel, e.g. lgcplot(runs, 'g', hue='run')); "
                             "lgc_figure colours by stage, one row per run.")
    if quantile_range is not None:
        check_quantile_range(quantile_range)
    for share in (sharex, sharey):
        if share not in (False, None, True, "all", "row", "col"):
            raise LandscapeError(f"sharex/sharey must be False, True, 'all', 'row' or 'col', got {share!r}.")
    stage_colors(stages or 5, palette)  # an unknown palette fails before any run is read


def lgc_figure(
    runs: Any,
    networks: Sequence[str] | None = None,
    *,
    stages: int | None = None,
    palette: str = "paper",
    order: str = "stage",
    facet_stages: bool = False,
    sharex: bool | str = False,
    sharey: bool | str = False,
    log_x: bool = False,
    log_y: bool = False,
    xlim: tuple[float | None, float | None] | None = None,
    ylim: tuple[float | None, float | None] | None = None,
    quantile_range: tuple[float, float] | None = None,
    height: float = 3.0,
    aspect: float = 1.25,
    titles: bool = True,
    suptitle: str | None = None,
    annotate: str | None = None,
    **scatter_kws: Any,
) -> LGCGrid:
    """Lay out loss-gradient clouds: one row per run, one column per network.

    ``runs`` is a Run, a run-file path, a list of those (or a RunCollection), or a
    tidy frame with a ``run`` column (``open_runs(paths).tidy()``). ``networks``
    defaults to the paper's panels (generator, the discriminator's real and fake
    parts and the combined discriminator loss) for GAN runs, and to every network
    the runs record otherwise (a classifier's ``clf``, say). ``sharex``/``sharey`` are
    ``False``, ``True``/``"all"``, ``"row"`` or ``"col"`` (as in
    :func:`matplotlib.pyplot.subplots`): panels that share get the same limits,
    spanning all their clouds (or their quantile ranges). Each row is headed by its run's
    config (architecture, dataset, optimizer) and file name, each panel titled
    by its network, and each row has a legend naming the stages with that run's
    iteration ranges. ``order`` is :func:`lgcplot`'s draw order (``"stage"``,
    ``"reverse"``, ``"shuffled"``).

    ``facet_stages=True`` draws stage small multiples instead: for each run, one row
    of panels per network and one panel per stage, each showing that stage's points
    in its colour over the whole cloud in light grey; the panels of one run and
    network share their axes, so the stages compare at a glance (``grid.axes`` is
    then runs x networks x stages). The paper's layout stays the default. The
    remaining arguments are those of :func:`lgcplot`.

    ``annotate`` names a sample-quality metric (``"class_kl"``, ``"inception_score"``,
    ``"modes_covered"``, ...; see ``Run.quality``): each stage in a row's legend then shows
    that metric's last measurement in the stage, so a collapse can be read off the stage
    whose cloud it happened in.

    One call on the paper's six runs (vanilla and DCGAN on MNIST, Fashion-MNIST
    and CIFAR-10) draws its Figures 2-7, one row each.
    """
    import matplotlib.pyplot as plt

    if not isinstance(facet_stages, (bool, np.bool_)):
        raise LandscapeError(f"facet_stages must be True or False, got {facet_stages!r}.")
    _check_figure_options(order=order, stages=stages, palette=palette, sharex=sharex, sharey=sharey,
                          quantile_range=quantile_range, scatter_kws=scatter_kws)
    data = run_data(runs, stages)
    if not data:
        raise LandscapeError("No runs to draw; pass at least one run file.")
    networks = check_networks(data, default_networks(data, PAPER_PANELS) if networks is None else networks)
    if annotate is not None:
        check_annotation(data, annotate)
        if facet_stages:
            raise LandscapeError("annotate goes with the paper's layout (facet_stages=False), whose legends name the stages.")
    if facet_stages:
        return _stage_facets(data, networks, palette=palette, sharex=sharex, sharey=sharey, log_x=log_x,
                             log_y=log_y, xlim=xlim, ylim=ylim, quantile_range=quantile_range, height=height,
                             aspect=aspect, titles=titles, suptitle=suptitle, scatter_kws=scatter_kws)
    nrows, ncols = len(data), len(networks)
    # one subfigure per run: its title (architecture, dataset, optimizer, file) heads the row
    # and the panels are titled by network only, so titles stay short however many runs
    fig = plt.figure(figsize=(ncols * height * aspect + 1.6, nrows * (height + 0.3)), layout="constrained")
    rows = fig.subfigures(nrows, 1, squeeze=False)[:, 0]
    axes = np.array([row.subplots(1, ncols, squeeze=False)[0] for row in rows])
    row_titles = []
    for r, run in enumerate(data):
        handles: list[Any] = []
        for c, key in enumerate(networks):
            ax = axes[r, c]
            _, handles = _lgcplot(run.tidy, key, stages=None, palette=palette, hue=None, order=order, log_x=log_x,
                                  log_y=log_y, xlim=None, ylim=None, quantile_range=None, legend=False, ax=ax,
                                  scatter_kws=scatter_kws)
            if titles:
                ax.set_title(network_label(key, run.critic), fontsize="medium")
                ax.set_xlabel("loss")  # the title names the network
                ax.set_ylabel("gradient norm")
        heading = run.heading
        row_titles.append(heading)
        if titles and heading:
            rows[r].suptitle(heading, fontsize="large")
        title = STAGE_LEGEND_TITLE
        if annotate is not None:
            handles, title = annotate_stages(run, handles, annotate), f"{STAGE_LEGEND_TITLE}\n(last {metric_title(annotate)})"
        axes[r, -1].legend(handles=handles, title=title, loc="center left", bbox_to_anchor=(1.02, 0.5),
                           fontsize="small", title_fontsize="small", frameon=False)

    panels = axes[:, :, np.newaxis]
    rows_of = lambda r, c: data[r].network_rows(networks[c])  # noqa: E731
    _apply_limits(panels, rows_of, "x", sharex, log_x, quantile_range, xlim)
    _apply_limits(panels, rows_of, "y", sharey, log_y, quantile_range, ylim)
    if suptitle:
        fig.suptitle(suptitle)
    return LGCGrid(figure=fig, axes=axes, row_names=[r.name for r in data], col_names=networks,
                   row_titles=row_titles)


def metric_title(metric: str) -> str:
    """A quality metric's display name (:func:`landscape.metric_names.metric_title`)."""
    from landscape.metric_names import metric_title as title

    return title(metric)


def check_annotation(data: list[RunData], metric: str) -> None:
    """One sentence unless every run measured ``metric`` (a sample-quality metric)."""
    for run in data:
        present = list(dict.fromkeys(run.quality["metric"]))
        if not present:
            raise LandscapeError(f"{run.where} has no sample-quality measurements to annotate its stages with; make "
                                 "them with `landscape quality`.")
        if metric not in present:
            raise LandscapeError(unknown_choice("quality metric", metric, present))


def annotate_stages(run: RunData, handles: list[Any], metric: str) -> list[Any]:
    """Stage legend handles whose labels end with the stage's last value of ``metric`` ("-" where not measured)."""
    q = run.quality[run.quality["metric"] == metric].sort_values("step", kind="stable")
    values = {int(s): float(v) for s, v in q.groupby("stage")["value"].last().items()}
    by_label = {lab: s for s, lab in stage_label_map(run.tidy).items()}
    out = []
    for handle in handles:
        stage = by_label.get(handle.get_label())
        value = values.get(stage) if stage is not None else None
        text = "-" if value is None else (f"{value:.0f}" if metric.endswith("_covered") else f"{value:.3g}")
        out.append(_legend_handle(handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor(),
                                  f"{handle.get_label()}  [{text}]"))
    return out


def _stage_facets(data: list[RunData], networks: list[str], *, palette: str, sharex: bool | str, sharey: bool | str,
                  log_x: bool, log_y: bool, xlim: Any, ylim: Any, quantile_range: tuple[float, float] | None,
                  height: float, aspect: float, titles: bool, suptitle: str | None,
                  scatter_kws: dict[str, Any]) -> LGCGrid:
    """``lgc_figure(..., facet_stages=True)``: per run, one row per network and one panel per stage."""
    import matplotlib.pyplot as plt

    k = max(max(stage_count(run.tidy), int(run.tidy["stage"].max()) if len(run.tidy) else 1) for run in data)
    colors = stage_colors(k, palette)
    nnet = len(networks)
    panel_h = 0.8 * height
    fig = plt.figure(figsize=(k * panel_h * aspect + 1.8, len(data) * (nnet * (panel_h + 0.25) + 0.45)),
                     layout="constrained")
    subs = fig.subfigures(len(data), 1, squeeze=False)[:, 0]
    axes = np.array([sub.subplots(nnet, k, squeeze=False) for sub in subs])  # runs x networks x stages
    row_titles, stage_names = [], []
    for r, run in enumerate(data):
        labels = stage_label_map(run.tidy)
        names = [labels.get(s, str(s)) for s in range(1, k + 1)]
        stage_names = stage_names or names
        for c, key in enumerate(networks):
            rows = run.network_rows(key)
            x, y, drawable = _cloud_arrays(rows, log_x, log_y)
            stage = rows["stage"].to_numpy().astype(np.int64)
            everything = int(drawable.sum())
            size, _ = marker_style(everything)
            background = {"s": scatter_kws.get("s", size), "marker": scatter_kws.get("marker", "o"), "linewidths": 0,
                          "rasterized": scatter_kws.get("rasterized", True)}
            for s in range(1, k + 1):
                ax = axes[r, c, s - 1]
                members = drawable & (stage == s)
                ax.scatter(x[drawable], y[drawable], color=FACET_BACKGROUND, label="_every iteration", **background)
                kws = dict(zip(("s", "alpha"), marker_style(int(members.sum()))), linewidths=0, rasterized=True)
                kws.update(scatter_kws)
                ax.scatter(x[members], y[members], color=colors[s - 1], label=names[s - 1], **kws)
                if log_x:
                    ax.set_xscale("log")
                if log_y:
                    ax.set_yscale("log")
                readable_log_ticks(ax)
                if titles:
                    if c == 0:
                        ax.set_title(f"stage {names[s - 1]}", fontsize="medium", color=colors[s - 1])
                    ax.set_xlabel("loss" if c == nnet - 1 else "")
                    ax.set_ylabel(f"{network_label(key, run.critic)}\ngradient norm" if s == 1 else "")
                else:
                    ax.set_xlabel(f"loss ({network_label(key, run.critic)})")
                    ax.set_ylabel(f"gradient norm ({network_label(key, run.critic)})")
            skipped = len(rows) - everything
            if skipped:
                last = axes[r, c, -1]
                last.text(0.99, 0.01, f"{skipped:,} iteration(s) not drawn", transform=last.transAxes, ha="right",
                          va="bottom", fontsize="x-small", color="0.3")
        heading = run.heading
        row_titles.append(heading)
        if titles and heading:
            subs[r].suptitle(heading, fontsize="large")
        handles = [_legend_handle(colors[s - 1], names[s - 1]) for s in range(1, k + 1)]
        handles.append(_legend_handle(FACET_BACKGROUND, "every iteration"))
        axes[r, 0, -1].legend(handles=handles, title=STAGE_LEGEND_TITLE, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                              fontsize="small", title_fontsize="small", frameon=False)

    rows_of = lambda r, c: data[r].network_rows(networks[c])  # noqa: E731
    _apply_limits(axes, rows_of, "x", sharex, log_x, quantile_range, xlim)
    _apply_limits(axes, rows_of, "y", sharey, log_y, quantile_range, ylim)
    if suptitle:
        fig.suptitle(suptitle)
    return LGCGrid(figure=fig, axes=axes, row_names=[r.name for r in data], col_names=networks,
                   row_titles=row_titles, stage_names=stage_names)


def _apply_limits(panels: np.ndarray, rows_of: Callable[[int, int], pd.DataFrame], axis: str, share: bool | str,
                  log: bool, quantile_range: tuple[float, float] | None, explicit: Any,
                  empty: frozenset[tuple[int, int]] = frozenset()) -> None:
    """Set each panel's limits: explicit, else quantile-based, else autoscaled; one span per sharing group.

    ``panels`` is rows x columns x m (m = 1, or one panel per stage); the m panels of
    one cell always share. ``rows_of(r, c)`` is the tidy rows cell (r, c) draws (read
    for quantile ranges only); cells in ``empty`` draw nothing and join no span. Sharing means equal limits, set
    once the panels are drawn, rather than matplotlib's linked axes: linked axes in
    different subfigures redraw the whole figure on every limit change (minutes for a 6 x 4 grid).
    """
    column = "loss" if axis == "x" else "grad_norm"
    nrows, ncols = panels.shape[:2]
    for group in _share_groups(share, nrows, ncols):
        group = [cell for cell in group if cell not in empty]
        spans = []
        for r, c in group:
            if quantile_range is not None:
                rows = rows_of(r, c)
                spans.append(quantile_limits(rows[column].to_numpy(dtype=np.float64), quantile_range, log))
            else:
                spans += [ax.get_xlim() if axis == "x" else ax.get_ylim() for ax in panels[r, c]]
        if not spans:
            continue
        limits = (min(s[0] for s in spans), max(s[1] for s in spans))
        members = [ax for r, c in group for ax in panels[r, c]]
        for ax in members:
            setter = ax.set_xlim if axis == "x" else ax.set_ylim
            if len(members) > 1 or quantile_range is not None:
                setter(limits)
            if explicit is not None:
                setter(*explicit)


# ---------------------------------------------------------------------------- facets by factor (sweeps)
#: Tidy columns that vary within a run: a frame's other columns are settings to facet by.
_ROW_COLUMNS = frozenset(TIDY_FRAME_COLUMNS)


def _setting_value(value: Any) -> Any:
    """A setting as facets compare and show it: numpy scalars as Python ones, lists as JSON (as stacked frames do)."""
    import json

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(list(value) if isinstance(value, tuple) else value)
    return value


def _facet_key(value: Any) -> Any:
    """A hashable key under which NaN/None values meet."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def _facet_runs(data: Any, stages: int | None) -> tuple[list[RunData], list[dict[str, Any]], tuple[str, ...] | None]:
    """The runs to facet, each run's settings (config, or a frame's per-run columns) and the sweep's factors (None
    when ``data`` is not a sweep), in the sweep's index order."""
    from landscape.sweeps.index import Sweep, is_sweep_folder, open_sweep

    if isinstance(data, (str, os.PathLike)) and is_sweep_folder(data):
        data = open_sweep(data)
    factors = tuple(data.factors) if isinstance(data, Sweep) else None
    if isinstance(data, Sweep):
        order = {str(name): i for i, name in enumerate(data.index["run"])}
        data = sorted(data, key=lambda run: order.get(run.name, len(order)))
    runs = run_data(data, stages)
    if not runs:
        raise LandscapeError("No runs to draw; pass at least one run file.")
    if isinstance(data, pd.DataFrame):
        parts = ([part for _, part in data.groupby("run", sort=False, observed=True)] if "run" in data.columns
                 else [data])
        settings = []
        for run, part in zip(runs, parts):
            values = {}
            for column in part.columns:
                if column in _ROW_COLUMNS or not len(part):
                    continue
                try:
                    single = part[column].nunique(dropna=False) == 1
                except TypeError:  # unhashable cells (lists): compare them as JSON
                    single = part[column].map(_setting_value).nunique(dropna=False) == 1
                # a setting named like a data column is stacked as cfg_<name> (RunCollection): facet by its name
                values[setting_of_column(column)] = (_facet_key(_setting_value(part[column].iloc[0])) if single
                                                     else _VARIES)
            settings.append({**values, "run": run.name})
    else:
        settings = [{**{k: _setting_value(v) for k, v in run.config.items()}, "run": run.name} for run in runs]
    return runs, settings, factors


class _Varies:
    """Marks a frame column that takes several values within one run (no facet)."""

    def __repr__(self) -> str:
        return "<varies>"


_VARIES = _Varies()


def _check_factor(name: Any, option: str, settings: list[dict[str, Any]], factors: tuple[str, ...] | None) -> str:
    """``name`` if every run has one value of it; else one sentence listing the factors."""
    import difflib

    known = list(dict.fromkeys(key for values in settings for key in values))
    if isinstance(name, str) and name in known:
        varies = [values["run"] for values in settings if values.get(name) is _VARIES]
        if varies:
            raise LandscapeError(f"{option} {name!r} takes several values within run {varies[0]}; facet by a setting "
                                 "with one value per run (a config setting, e.g. optimizer or seed).")
        return name
    if factors is not None:
        listed = list(factors) or ["run"]
        where = f"this sweep's factors are {', '.join(listed)}"
    else:
        listed = [key for key in known if key != "run" and len({repr(_facet_key(values.get(key)))
                                                                  for values in settings}) > 1]
        where = (f"the settings these runs differ in are {', '.join(listed)}" if listed
                 else "these runs differ in no setting (facet by run, or by any config setting)")
    close = difflib.get_close_matches(str(name), listed or known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise LandscapeError(f"Unknown factor {name!r} for {option}{hint}; {where}.")


def _facet_levels(settings: list[dict[str, Any]], factor: str) -> list[Any]:
    """The values of ``factor`` in the order they first appear (the sweep's index order), not sorted."""
    return list(dict.fromkeys(_facet_key(values.get(factor)) for values in settings))


def _facet_text(factor: str, value: Any) -> str:
    """'optimizer = adam' (floats in short form)."""
    return f"{factor} = {_shown(value)}"


def _shown(value: Any) -> str:
    """A factor value as titles show it (floats in short form)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _pool(members: list[RunData], name: str) -> RunData | None:
    """Several runs as one: their tidy frames stacked, stages kept per run; None when no member has iterations.

    A stage keeps its label ("1: 0-6") when every member has the same iteration range, else it is just its number.
    """
    members = [run for run in members if len(run.tidy)]
    if not members:
        return None
    k = max(max(stage_count(run.tidy), int(run.tidy["stage"].max())) for run in members)
    maps = [stage_label_map(run.tidy) for run in members]
    labels = []
    for s in range(1, k + 1):
        seen = {m.get(s) for m in maps}
        labels.append(seen.pop() if len(seen) == 1 and None not in seen else str(s))
    networks = list(dict.fromkeys(key for run in members for key in run.networks))
    frame = pd.concat([run.tidy.assign(network=run.tidy["network"].astype(str)) for run in members],
                      ignore_index=True)
    frame["network"] = pd.Categorical(frame["network"], categories=networks, ordered=True)
    frame["stage_label"] = pd.Categorical.from_codes(frame["stage"].to_numpy(dtype=np.int64) - 1, categories=labels,
                                                     ordered=True)
    common = {key: value for key, value in members[0].config.items()
              if all(_setting_value(run.config.get(key)) == _setting_value(value) for run in members[1:])}
    return RunData(name=name, config=common, tidy=frame, status=members[0].status)


#: Settings that change nothing in a run's numbers: runs differing only in them are not "pooled over" them.
_NEUTRAL_SETTINGS = frozenset(("run", "data_dir", "resume_every"))


def _pooled_factors(settings: list[dict[str, Any]], members: list[list[int]], factors: tuple[str, ...] | None,
                    faceted: tuple[str | None, ...]) -> dict[str, list[Any]]:
    """The factors (a sweep's; for plain runs, any setting) other than the faceted ones that take several values
    within a panel, each with all its values in order: what the panels pool over, which the figure must say."""
    candidates = factors if factors is not None else list(dict.fromkeys(key for values in settings for key in values))
    pooled = {}
    for key in candidates:
        if key in faceted or key in _NEUTRAL_SETTINGS:
            continue
        if any(len({repr(_facet_key(settings[i].get(key))) for i in panel}) > 1 for panel in members):
            pooled[key] = list(dict.fromkeys(_facet_key(settings[i].get(key)) for panel in members for i in panel))
    return pooled


def pooled_text(pooled: dict[str, list[Any]]) -> str:
    """'pooled over optimizer: adam, sgd' (factors separated by '; '), or '' when nothing is pooled."""
    if not pooled:
        return ""
    return "pooled over " + "; ".join(f"{key}: {', '.join(_shown(v) for v in values)}" for key, values in pooled.items())


def _facet_grid(data: Any, row: str | None, col: str | None, network: str | Sequence[str] | None, *,
                stages: int | None, palette: str, order: str, sharex: bool | str, sharey: bool | str,
                log_x: bool, log_y: bool, xlim: Any, ylim: Any, quantile_range: tuple[float, float] | None,
                height: float, aspect: float, titles: bool, suptitle: str | None,
                scatter_kws: dict[str, Any]) -> LGCGrid:
    """:func:`lgc_grid` with ``row`` and/or ``col``: one panel per factor value (x network), pooling the runs."""
    import matplotlib.pyplot as plt

    _check_figure_options(order=order, stages=stages, palette=palette, sharex=sharex, sharey=sharey,
                          quantile_range=quantile_range, scatter_kws=scatter_kws)
    runs, settings, factors = _facet_runs(data, stages)
    row = _check_factor(row, "row", settings, factors) if row is not None else None
    col = _check_factor(col, "col", settings, factors) if col is not None else None
    if row is not None and row == col:
        raise LandscapeError(f"row and col are both {row!r}; facet the columns by another factor, or give only row.")
    if col is None:  # rows by factor, columns by network (as lgc_figure)
        wanted = [network] if isinstance(network, str) else network
        networks = check_networks(runs, default_networks(runs, PAPER_PANELS) if wanted is None else wanted)
    else:  # columns by factor: one network in every panel
        if network is not None and not isinstance(network, str):
            network = list(network)
            if len(network) != 1:
                raise LandscapeError(f"With col, every panel shows one network; give one network, not {len(network)}.")
            network = network[0]
        if network is None:
            network = "g" if all("g" in run.networks for run in runs if len(run.tidy)) else \
                default_networks(runs, PAPER_PANELS)[0]
        networks = check_networks(runs, [network])

    row_levels = _facet_levels(settings, row) if row is not None else [None]
    col_levels = _facet_levels(settings, col) if col is not None else list(networks)
    nrows, ncols = len(row_levels), len(col_levels)
    cells: dict[tuple[int, int], RunData] = {}
    panel_runs: dict[tuple[Any, Any], list[str]] = {}
    panel_members: list[list[int]] = []
    for r, rv in enumerate(row_levels):
        for c, cv in enumerate(col_levels):
            chosen = [i for i, values in enumerate(settings)
                      if (row is None or _facet_key(values.get(row)) == rv)
                      and (col is None or _facet_key(values.get(col)) == cv)]
            panel_members.append(chosen)
            members = [runs[i] for i in chosen]
            names = [run.name for run in members]
            panel_runs[(rv, cv)] = names
            text = " | ".join(_facet_text(f, v) for f, v in ((row, rv), (col, cv)) if f is not None)
            pooled = _pool(members, text)
            if pooled is not None:
                cells[(r, c)] = pooled

    fig = plt.figure(figsize=(ncols * height * aspect + 1.6, nrows * (height + 0.3)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    key_of = (lambda c: networks[0]) if col is not None else (lambda c: networks[c])  # noqa: E731
    row_titles = []
    for r, rv in enumerate(row_levels):
        handles: list[Any] = []
        for c, cv in enumerate(col_levels):
            ax, key = axes[r, c], key_of(c)
            pooled = cells.get((r, c))
            facet = " | ".join(_facet_text(f, v) for f, v in ((row, rv), (col, cv)) if f is not None)
            pooling = len(panel_runs[(rv, cv)])
            facet += f" ({pooling} runs)" if pooling > 1 else ""
            if pooled is None:
                ax.text(0.5, 0.5, "no runs" if not panel_runs[(rv, cv)] else "no iterations yet",
                        transform=ax.transAxes, ha="center", va="center", color="0.4")
                ax.set_xticks([])
                ax.set_yticks([])
            else:
                _, drawn = _lgcplot(pooled, key, stages=None, palette=palette, hue=None, order=order, log_x=log_x,
                                    log_y=log_y, xlim=None, ylim=None, quantile_range=None, legend=False, ax=ax,
                                    scatter_kws=scatter_kws)
                handles = drawn or handles
            if titles:
                critic = pooled.critic if pooled is not None else False
                if col is None:
                    ax.set_title(f"{facet}\n{network_label(key, critic)}" if row is not None
                                 else network_label(key, critic), fontsize="medium")
                    ax.set_xlabel("loss")  # the title names the network
                    ax.set_ylabel("gradient norm")
                else:
                    ax.set_title(facet, fontsize="medium")
        row_titles.append(_facet_text(row, rv) if row is not None else "")
        if handles:
            axes[r, -1].legend(handles=handles, title=STAGE_LEGEND_TITLE, loc="center left",
                               bbox_to_anchor=(1.02, 0.5), fontsize="small", title_fontsize="small", frameon=False)

    panels = axes[:, :, np.newaxis]
    rows_of = lambda r, c: cells[(r, c)].network_rows(key_of(c))  # noqa: E731
    empty = frozenset((r, c) for r in range(nrows) for c in range(ncols) if (r, c) not in cells)
    _apply_limits(panels, rows_of, "x", sharex, log_x, quantile_range, xlim, empty)
    _apply_limits(panels, rows_of, "y", sharey, log_y, quantile_range, ylim, empty)
    # say what the panels pool (a factor that varies within a panel) and, with col, the one network they show
    pooled = _pooled_factors(settings, panel_members, factors, (row, col))
    notes = [pooled_text(pooled)] if pooled else []
    if col is not None:
        critic = bool(cells) and all(cell.critic for cell in cells.values())
        notes.insert(0, f"{network_label(networks[0], critic)} in every panel")
    partial = [f"{run.name} {run.progress}" for run in runs if run.progress]
    if partial:  # a pooled panel's title cannot say it: the figure does
        notes.append(", ".join(partial[:2]) + (f" and {len(partial) - 2} more runs not finished"
                                               if len(partial) > 2 else ""))
    note = "; ".join(notes)
    if suptitle or note:
        fig.suptitle("\n".join(text for text in (suptitle, note) if text),
                     fontsize="large" if suptitle else "medium")
    return LGCGrid(figure=fig, axes=axes, row_names=row_levels, col_names=col_levels, row_titles=row_titles,
                   row=row, col=col, network=networks[0] if col is not None else None, panel_runs=panel_runs,
                   pooled=pooled, note=note)


def lgc_grid(
    data: Any,
    row: str | None = None,
    col: str | None = None,
    network: str | Sequence[str] | None = None,
    **kwargs: Any,
) -> LGCGrid:
    """Loss-gradient clouds faceted by a sweep's factors (seaborn's ``row=``/``col=``), pooling runs per value.

    ``data`` is a sweep (:func:`landscape.sweeps.open_sweep`, or its folder's path), a
    RunCollection or list of runs or run-file paths, or a tidy frame with the factor
    columns (``sweep.tidy()``). ``row`` and ``col`` name factors: any config setting
    (or a frame's column) with one value per run, or ``"run"``. Their values are laid
    out in the order they first appear (a sweep's index order, i.e. its spec's), and
    each panel draws every run with its values together (e.g. the three seeds of an
    optimizer), coloured by stage as :func:`lgc_figure` does (stages computed per run):

    - ``row`` only: one row per value, one column per network (``network``: a name or
      a list; default the paper's panels, as :func:`lgc_figure`);
    - ``row`` and ``col``: rows by ``row``, columns by ``col``, every panel showing one
      network (``network``, default the generator ``"g"``);
    - ``col`` only: one panel per value, one network.

    Panels are titled by their factor values ("optimizer = adam"); ``grid.panel_runs``
    names the runs each panel pools. The other keyword arguments are :func:`lgc_figure`'s
    (``stages``, ``palette``, ``order``, ``sharex``/``sharey``, ``log_x``/``log_y``,
    ``xlim``/``ylim``, ``quantile_range``, ``height``, ``aspect``, ``titles``,
    ``suptitle`` and scatter keywords); ``facet_stages`` and ``annotate`` go with one row
    per run and are refused here.

    Without ``row`` and ``col`` this is the deprecated first name of :func:`lgc_figure`
    (it warns, and ``lgc_grid(runs, networks)`` still works).
    """
    if row is None and col is None or (row is not None and not isinstance(row, str) and col is None):
        # the first release's lgc_grid(runs, networks, ...): lgc_figure under its old name
        warnings.warn("analysis.lgc.lgc_grid is deprecated; use lgc_figure.", DeprecationWarning, stacklevel=2)
        if row is not None:
            if "networks" in kwargs:
                raise LandscapeError("lgc_grid got networks twice (positionally and by name).")
            kwargs["networks"] = row
        if network is not None:
            if "networks" in kwargs:
                raise LandscapeError("Give network or networks, not both.")
            kwargs["networks"] = [network] if isinstance(network, str) else list(network)
        return lgc_figure(data, **kwargs)
    for name in ("facet_stages", "annotate"):
        if kwargs.get(name):
            raise LandscapeError(f"{name} goes with one row per run (lgc_figure); lgc_grid with row/col pools the "
                                 "runs of each factor value.")
        kwargs.pop(name, None)
    if "networks" in kwargs:
        if network is not None:
            raise LandscapeError("Give network or networks, not both.")
        network = kwargs.pop("networks")
    options = {"stages": None, "palette": "paper", "order": "stage", "sharex": False, "sharey": False,
               "log_x": False, "log_y": False, "xlim": None, "ylim": None, "quantile_range": None, "height": 3.0,
               "aspect": 1.25, "titles": True, "suptitle": None}
    options.update({key: kwargs.pop(key) for key in list(kwargs) if key in options})
    return _facet_grid(data, row, col, network, scatter_kws=kwargs, **options)
