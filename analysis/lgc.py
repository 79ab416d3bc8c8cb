"""Loss-gradient clouds (LGCs): the paper's central figure.

For one network, every training iteration is a point with its loss on x and its
gradient norm on y, coloured by training stage (Moses, Malan & Bosman, GECCO '21,
Figures 2-7). :func:`lgcplot` draws one cloud on one Axes (seaborn's axes-level
convention); :func:`lgc_figure` lays out one row per run and one column per network
(figure-level), so a single call on the paper's six runs draws its Figures 2-7.

Stage membership is never computed here: it comes from the run's tidy frame
(:meth:`landscape.reader.Run.tidy`, staged by :mod:`landscape.stages`), and the
network labels from :mod:`landscape.networks`. Each stage is one rasterized
scatter layer (a PathCollection with the
stage's colour and label), so vector outputs stay small and clouds of millions of
points render in seconds; marker size and alpha shrink as the number of points
grows so dense clouds stay readable.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from analysis.palettes import stage_colors
from analysis.runs import RunData, check_networks, default_networks, run_data, single_run
from landscape.errors import LandscapeError
from landscape.networks import PAPER_PANELS
from landscape.networks import label as network_label
from landscape.reader import no_iterations_message
from landscape.stages import stage_count, stage_label_map

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


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


# ---------------------------------------------------------------------------- axes-level
def lgcplot(
    data: Any,
    network: str = "g",
    *,
    stages: int | None = None,
    palette: str = "paper",
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
    network
        ``"g"``, ``"d"``, ``"d_real"`` or ``"d_fake"``.
    stages
        Number of equal training stages for a Run (default 5). A DataFrame keeps
        the stages it was built with; a different number here is an error.
    palette
        ``"paper"`` (purple, orange, black, green, yellow) or any matplotlib /
        seaborn palette name.
    log_x, log_y
        Logarithmic axes (iterations with a non-positive value on a log axis are
        not drawn and are counted in a note).
    xlim, ylim
        Explicit axis bounds; either end may be None. They take precedence over
        ``quantile_range``.
    quantile_range
        ``(low, high)`` quantiles, e.g. ``(0.01, 0.99)``: bound both axes to that
        part of the cloud so a few outliers do not hide it. Default: unbounded
        (every point visible), as in the paper.
    legend
        Draw a legend naming each stage with its iteration range (``True``), or
        not (``False``); a string is used as the legend's ``loc``.
    ax
        Axes to draw on (default: the current Axes).
    scatter_kws
        Passed to :meth:`matplotlib.axes.Axes.scatter` (e.g. ``s``, ``alpha``,
        ``marker``), overriding the size and alpha picked from the number of points.

    Returns
    -------
    The Axes. Each stage is one PathCollection labelled with its stage label,
    drawn in stage order (later stages on top) and rasterized.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    run = single_run(data, stages)
    rows = run.network_rows(network)
    if ax is None:
        ax = plt.gca()

    if not len(rows):
        raise LandscapeError(no_iterations_message(run.where))
    x = rows["loss"].to_numpy(dtype=np.float64)
    y = rows["grad_norm"].to_numpy(dtype=np.float64)
    stage = rows["stage"].to_numpy()
    drawable = np.isfinite(x) & np.isfinite(y)
    if log_x:
        drawable &= x > 0
    if log_y:
        drawable &= y > 0
    n_drawn = int(drawable.sum())

    labels = stage_label_map(run.tidy)
    k = max(stage_count(run.tidy), int(stage.max()))
    colors = stage_colors(k, palette)
    size, alpha = marker_style(n_drawn)
    kws = {"s": size, "alpha": alpha, "linewidths": 0, "rasterized": True}
    kws.update(scatter_kws)

    handles = []
    for s in range(1, k + 1):
        members = drawable & (stage == s)
        if not members.any():
            continue
        label = labels.get(s, str(s))
        ax.scatter(x[members], y[members], color=colors[s - 1], label=label, **kws)
        handles.append(Line2D([], [], ls="none", marker="o", ms=6, mew=0, color=colors[s - 1], label=label))

    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    if quantile_range is not None and n_drawn:
        ax.set_xlim(quantile_limits(x[drawable], quantile_range, log_x))
        ax.set_ylim(quantile_limits(y[drawable], quantile_range, log_y))
    if xlim is not None:
        ax.set_xlim(*xlim)
    if ylim is not None:
        ax.set_ylim(*ylim)

    name = network_label(network)
    ax.set_xlabel(f"loss ({name})")
    ax.set_ylabel(f"gradient norm ({name})")
    skipped = len(rows) - n_drawn
    if skipped:
        ax.text(
            0.99, 0.01, f"{skipped:,} iteration(s) not drawn (non-finite, or <= 0 on a log axis)",
            transform=ax.transAxes, ha="right", va="bottom", fontsize="x-small", color="0.3",
        )
    if legend and handles:
        loc = legend if isinstance(legend, str) else emptiest_corner(ax, x[drawable], y[drawable], len(handles))
        ax.legend(handles=handles, title="stage: iterations", loc=loc, fontsize="small", title_fontsize="small")
    return ax


# ---------------------------------------------------------------------------- figure-level
@dataclass
class LGCGrid:
    """The result of :func:`lgc_figure`: the Figure and its Axes (one row per run, one column per network)."""

    figure: Figure
    axes: np.ndarray
    row_names: list[str] = field(default_factory=list)
    col_names: list[str] = field(default_factory=list)
    row_titles: list[str] = field(default_factory=list)

    @property
    def fig(self) -> Figure:
        """The Figure (seaborn's FacetGrid spelling)."""
        return self.figure

    def ax_for(self, run: str, network: str) -> Axes:
        """The Axes of one run (by name) and network."""
        return self.axes[self.row_names.index(run), self.col_names.index(network)]

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


def lgc_figure(
    runs: Any,
    networks: Sequence[str] | None = None,
    *,
    stages: int | None = None,
    palette: str = "paper",
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
    iteration ranges. The remaining arguments are those of :func:`lgcplot`.

    One call on the paper's six runs (vanilla and DCGAN on MNIST, Fashion-MNIST
    and CIFAR-10) draws its Figures 2-7, one row each.
    """
    import matplotlib.pyplot as plt

    if quantile_range is not None:
        check_quantile_range(quantile_range)
    stage_colors(stages or 5, palette)  # an unknown palette fails before any run is read
    data = run_data(runs, stages)
    if not data:
        raise LandscapeError("No runs to draw; pass at least one run file.")
    networks = check_networks(data, default_networks(data, PAPER_PANELS) if networks is None else networks)
    nrows, ncols = len(data), len(networks)
    # one subfigure per run: its title (architecture, dataset, optimizer, file) heads the row
    # and the panels are titled by network only, so titles stay short however many runs
    fig = plt.figure(figsize=(ncols * height * aspect + 1.6, nrows * (height + 0.3)), layout="constrained")
    rows = fig.subfigures(nrows, 1, squeeze=False)[:, 0]
    axes = np.array([row.subplots(1, ncols, squeeze=False)[0] for row in rows])
    for share in (sharex, sharey):
        if share not in (False, None, True, "all", "row", "col"):
            raise LandscapeError(f"sharex/sharey must be False, True, 'all', 'row' or 'col', got {share!r}.")
    row_titles = []
    for r, run in enumerate(data):
        for c, key in enumerate(networks):
            ax = axes[r, c]
            lgcplot(run.tidy, key, palette=palette, log_x=log_x, log_y=log_y, legend=False, ax=ax, **scatter_kws)
            if titles:
                ax.set_title(network_label(key), fontsize="medium")
                ax.set_xlabel("loss")  # the title names the network
                ax.set_ylabel("gradient norm")
        heading = run.heading
        row_titles.append(heading)
        if titles and heading:
            rows[r].suptitle(heading, fontsize="large")
        last = axes[r, -1]
        handles = [
            plt.Line2D([], [], ls="none", marker="o", ms=6, mew=0, color=coll.get_facecolor()[0][:3],
                       label=coll.get_label())
            for coll in last.collections
        ]
        last.legend(handles=handles, title="stage: iterations", loc="center left", bbox_to_anchor=(1.02, 0.5),
                    fontsize="small", title_fontsize="small", frameon=False)

    _apply_limits(axes, data, networks, "x", sharex, log_x, quantile_range, xlim)
    _apply_limits(axes, data, networks, "y", sharey, log_y, quantile_range, ylim)
    if suptitle:
        fig.suptitle(suptitle)
    return LGCGrid(figure=fig, axes=axes, row_names=[r.name for r in data], col_names=networks,
                   row_titles=row_titles)


def _apply_limits(axes: np.ndarray, data: list[RunData], networks: list[str], axis: str, share: bool | str,
                  log: bool, quantile_range: tuple[float, float] | None, explicit: Any) -> None:
    """Set each panel's limits: explicit, else quantile-based, else autoscaled; one span per sharing group.

    Sharing means equal limits, set once the panels are drawn, rather than matplotlib's
    linked axes: linked axes in different subfigures redraw the whole figure on every
    limit change (minutes for a 6 x 4 grid).
    """
    column = "loss" if axis == "x" else "grad_norm"
    nrows, ncols = axes.shape
    for group in _share_groups(share, nrows, ncols):
        spans = []
        for r, c in group:
            if quantile_range is not None:
                rows = data[r].network_rows(networks[c])
                spans.append(quantile_limits(rows[column].to_numpy(dtype=np.float64), quantile_range, log))
            else:
                spans.append(axes[r, c].get_xlim() if axis == "x" else axes[r, c].get_ylim())
        limits = (min(s[0] for s in spans), max(s[1] for s in spans))
        for r, c in group:
            setter = axes[r, c].set_xlim if axis == "x" else axes[r, c].set_ylim
            if len(group) > 1 or quantile_range is not None:
                setter(limits)
            if explicit is not None:
                setter(*explicit)


def lgc_grid(*args: Any, **kwargs: Any) -> LGCGrid:
    """Deprecated name of :func:`lgc_figure` (the README's first examples used it)."""
    warnings.warn("analysis.lgc.lgc_grid is deprecated; use lgc_figure.", DeprecationWarning, stacklevel=2)
    return lgc_figure(*args, **kwargs)
