"""Plots of the toys: generated points over the mixture's modes, and modes covered over training.

Both are axes-level (seaborn's convention: data first, ``ax=None`` for the current Axes,
the Axes returned), so they go into any figure of your own::

    fig, (left, right) = plt.subplots(1, 2)
    toyplot(g(z).detach(), "grid25", ax=left)
    coverageplot(frame, hue="run", ax=right)     # columns step (or epoch), modes_covered, run

:func:`toyplot` marks each mode centre and draws its 3-standard-deviation circle, the
region in which :func:`landscape.data.toys.toy_quality` counts a point as high quality; for a
1-D toy (``mixture1d``) it draws a histogram of the points' density over the mixture's exact
density instead (:func:`densityplot`), the mode centres marked;
:func:`coverageplot` draws ``modes_covered`` (that function's count) against training
time, with the toy's number of modes as a dashed line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.palettes import PAPER_COLORS, stage_colors
from landscape.data.toys import QUALITY_STDS, TOYS, mixture_pdf, mode_centres, toy_spec
from landscape.errors import LandscapeError
from landscape.metric_names import METRIC_TITLES

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

#: Colour of generated points (and of a single coverage line): the paper's purple.
POINT_COLOR = PAPER_COLORS["purple"]
#: Colour of the mode centres and their 3-std circles.
CENTRE_COLOR = PAPER_COLORS["black"]


def _points(points: Any, dim: int = 2) -> np.ndarray:
    points = getattr(points, "points", points)  # a ToyData
    if hasattr(points, "detach"):
        points = points.detach().cpu().numpy()
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != dim:
        raise LandscapeError(f"toyplot needs points of shape (n, {dim}) for a {dim}-D toy, got shape {array.shape}.")
    return array


def toy_limit(name: str) -> float:
    """Half-width of the square :func:`toyplot` shows: a quarter beyond the outermost mode (2.5 for ring8, 5 for
    grid25); on the line, 4 standard deviations beyond it (6 for mixture1d)."""
    centres = mode_centres(name)
    if toy_spec(name).dim == 1:
        return float(np.abs(centres).max()) + 4.0 * toy_spec(name).std
    return 1.25 * float(np.abs(centres).max())


def densityplot(
    points: Any,
    name: str,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    bins: int = 60,
    color: Any = None,
) -> Axes:
    """The density of generated 1-D ``points`` (n, 1) as a histogram over the exact density of toy ``name``.

    The histogram is normalised (area 1) on :func:`toy_limit`'s range, the points outside it
    counted in the normalisation (so a diverged generator's histogram sinks); the mixture's exact
    density is the black line, each mode centre a dotted vertical line. Returns the Axes.
    """
    import matplotlib.pyplot as plt

    spec = toy_spec(name)
    x = _points(points, 1)[:, 0]
    ax = plt.gca() if ax is None else ax
    lim = toy_limit(name)
    edges = np.linspace(-lim, lim, bins + 1)
    finite = x[np.isfinite(x)]
    counts, _ = np.histogram(finite, bins=edges)
    density = counts / max(len(x), 1) / np.diff(edges)
    ax.stairs(density, edges, fill=True, alpha=0.55, color=POINT_COLOR if color is None else color,
              label="generated")
    grid = np.linspace(-lim, lim, 400)
    ax.plot(grid, mixture_pdf(name, grid), color=CENTRE_COLOR, lw=1.1, label="data (exact)")
    for (c,) in mode_centres(name):
        ax.axvline(c, color=CENTRE_COLOR, ls=":", lw=0.8, alpha=0.6)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("$x$")
    ax.set_ylabel("density")
    ax.set_title(spec.title if title is None else title)
    return ax


def toyplot(
    points: Any,
    name: str,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    s: float = 2.0,
    alpha: float = 0.3,
    color: Any = None,
    centres: bool = True,
) -> Axes:
    """Scatter generated 2-D ``points`` (n, 2: array, tensor or ToyData) over the modes of toy ``name``.

    Each mode centre is marked (x) with its 3-standard-deviation circle drawn faintly; the
    aspect is equal and the limits a quarter beyond the outermost modes (:func:`toy_limit`),
    so a collapsed or diverged generator's points may fall outside. ``title`` defaults to
    the toy's title ("" for none). ``s``, ``alpha`` and ``color`` style the points (many
    points are rasterized). A 1-D toy's points (n, 1) are drawn by :func:`densityplot`
    (a histogram over the exact density). Returns the Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    spec = toy_spec(name)
    if spec.dim == 1:
        return densityplot(points, name, ax=ax, title=title, color=color)
    xy = _points(points)
    ax = plt.gca() if ax is None else ax
    ax.scatter(xy[:, 0], xy[:, 1], s=s, alpha=alpha, color=POINT_COLOR if color is None else color,
               linewidths=0, rasterized=len(xy) > 5_000, label="generated", zorder=2)
    if centres:
        c = mode_centres(name)
        radius = QUALITY_STDS * spec.std
        for x, y in c:
            ax.add_patch(Circle((x, y), radius, fill=False, color=CENTRE_COLOR, alpha=0.35, lw=0.6, zorder=3))
        ax.plot(c[:, 0], c[:, 1], ls="none", marker="x", ms=4, mew=0.8, color=CENTRE_COLOR, label="mode centre",
                zorder=4)
    lim = toy_limit(name)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(spec.title if title is None else title)
    return ax


def _time_column(frame: pd.DataFrame, x: str | None) -> str:
    if x is not None:
        if x not in frame.columns:
            raise LandscapeError(f"coverageplot has no column {x!r} for x; the frame has {', '.join(map(str, frame.columns))}.")
        return x
    for candidate in ("step", "epoch"):
        if candidate in frame.columns:
            return candidate
    raise LandscapeError("coverageplot needs a 'step' or 'epoch' column (or name one as x).")


def _n_modes(frame: pd.DataFrame, n_modes: int | None) -> int | None:
    """The toy's number of modes: given, else from an ``n_modes`` column or a single toy in ``dataset``/``toy``."""
    if n_modes is not None:
        return int(n_modes)
    if "n_modes" in frame.columns:
        values = pd.unique(frame["n_modes"].dropna())
        if len(values) == 1:
            return int(values[0])
    for column in ("dataset", "toy"):
        if column in frame.columns:
            values = pd.unique(frame[column].dropna())
            if len(values) == 1 and values[0] in TOYS:
                return TOYS[values[0]].n_modes
    return None


def _hue_levels(values: pd.Series, order: list[Any] | None) -> list[Any]:
    if order is not None:
        return list(order)
    levels = list(pd.unique(values.dropna()))
    return sorted(levels) if pd.api.types.is_numeric_dtype(values) else levels


def coverageplot(
    frame: pd.DataFrame,
    *,
    ax: Axes | None = None,
    hue: str | None = None,
    hue_order: list[Any] | None = None,
    x: str | None = None,
    n_modes: int | None = None,
    palette: str = "colorblind",
    legend: bool = True,
) -> Axes:
    """Draw modes covered over training from a tidy frame: columns ``step`` (or ``epoch``) and ``modes_covered``.

    ``hue`` names a column (such as ``run``) that gets one line per value, coloured from
    ``palette`` (:func:`analysis.palettes.stage_colors`), in ``hue_order`` (default as
    seaborn orders: numbers sorted, anything else in order of appearance). The total number of modes is drawn
    as a dashed line when it is known: ``n_modes``, else an ``n_modes`` column with one
    value, else a ``dataset`` (or ``toy``) column naming one toy. ``x`` overrides the time
    column. Returns the Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not isinstance(frame, pd.DataFrame):
        raise LandscapeError(f"coverageplot needs a pandas DataFrame, got {type(frame).__name__}.")
    if "modes_covered" not in frame.columns:
        raise LandscapeError("coverageplot needs a 'modes_covered' column (from landscape.data.toys.toy_quality).")
    if hue is not None and hue not in frame.columns:
        raise LandscapeError(f"coverageplot has no column {hue!r} for hue; the frame has {', '.join(map(str, frame.columns))}.")
    time = _time_column(frame, x)
    ax = plt.gca() if ax is None else ax
    if hue is None:
        groups = [(None, frame)]
        colors = [POINT_COLOR]
    else:
        levels = _hue_levels(frame[hue], hue_order)
        groups = [(level, frame[frame[hue] == level]) for level in levels]
        colors = stage_colors(len(levels), palette) if levels else []
    for (level, rows), color in zip(groups, colors):
        rows = rows.sort_values(time, kind="stable")
        ax.plot(rows[time].to_numpy(), rows["modes_covered"].to_numpy(dtype=np.float64), color=color, lw=1.4,
                marker="o" if len(rows) <= 40 else None, ms=3, label=None if level is None else str(level))
    total = _n_modes(frame, n_modes)
    if total is not None:
        ax.axhline(total, color=CENTRE_COLOR, ls="--", lw=1, alpha=0.7, label=f"all {total} modes")
        ax.set_ylim(-0.3, total + 0.7)
    else:
        ax.set_ylim(bottom=-0.3)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("iteration" if time == "step" else time)
    ax.set_ylabel(METRIC_TITLES["modes_covered"])
    if legend and (hue is not None or total is not None):
        ax.legend(fontsize="small", loc="best", title=hue)
    return ax


__all__ = ["CENTRE_COLOR", "POINT_COLOR", "coverageplot", "densityplot", "toy_limit", "toyplot"]
