"""The time view of a loss-gradient cloud: loss and gradient norm against iteration.

An LGC shows where training went, not when. This companion plot draws the same
tidy-frame values against the iteration number, with each training stage shaded
in the colour the LGC gives it, so a cloud's purple blob can be matched to the
first fifth of the loss curve. Per-iteration values are noisy, so a rolling mean
is drawn over the raw (faint) curve once there are many iterations.

:func:`timelineplot` is axes-level (seaborn's convention: data + ``ax=``, returns the
Axes), so a timeline can go into any Axes of your own figure, e.g. beside a cloud::

    fig, (left, right) = plt.subplots(1, 2)
    lgcplot(run, "g", ax=left)
    timelineplot(run, "loss", ax=right)

:func:`timeline_figure` is figure-level: per run, loss and gradient norm stacked, and, for a
run with sample-quality measurements, a third panel with the quality metrics on the same
iteration axis (:func:`qualityplot`), so a collapse can be matched to the landscape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import warnings

import numpy as np
import pandas as pd

from analysis.lgc import readable_log_ticks
from analysis.palettes import stage_colors
from analysis.runs import check_networks, default_networks, run_data, single_run
from landscape.errors import LandscapeError, unknown_choice
from landscape.metric_names import QUALITY_SPANS, TIMELINE_QUALITY
from landscape.networks import PARAMETER_NETWORKS, label
from landscape.stages import stage_count, stage_label_map

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Line colours of the networks: blues for the generator, reds for the discriminator parts.
NETWORK_COLORS: dict[str, str] = {"g": "#1f5fbf", "d": "#c0392b", "d_real": "#e67e22", "d_fake": "#8e44ad"}

QUANTITIES = {"loss": "loss", "grad_norm": "gradient norm"}


def _rolling_window(n: int, smooth: int | str | None) -> int:
    if smooth is None or smooth == 0:
        return 1
    if smooth == "auto":
        return max(1, n // 200) if n > 2_000 else 1
    if isinstance(smooth, (int, np.integer)) and smooth >= 1:
        return int(smooth)
    raise LandscapeError(f"smooth must be 'auto', None or a positive number of iterations, got {smooth!r}.")


def shade_stages(ax: Axes, tidy: pd.DataFrame, palette: str = "paper", alpha: float = 0.12) -> list[Any]:
    """Shade each stage's iteration range on ``ax`` in its stage colour; returns legend handles."""
    colors = stage_colors(max(stage_count(tidy), 1), palette)
    bounds = tidy.groupby("stage", observed=True)["step"].agg(["min", "max"]).sort_index()
    starts = bounds["min"].to_numpy()
    for i, (s, row) in enumerate(bounds.iterrows()):
        # a stage runs from its first step up to the next stage's first step, so the shading has no gaps
        end = starts[i + 1] if i + 1 < len(starts) else row["max"] + 1
        ax.axvspan(row["min"], end, color=colors[int(s) - 1], alpha=alpha, lw=0, zorder=0)
    return shade_stages_handles(tidy, palette, alpha)


def timelineplot(
    data: Any,
    y: str = "loss",
    *,
    networks: Sequence[str] | None = None,
    stages: int | None = None,
    palette: str = "paper",
    smooth: int | str | None = "auto",
    log_y: bool = False,
    legend: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Draw ``y`` ("loss" or "grad_norm") of each network against the iteration, stages shaded.

    ``data`` is a Run, a run-file path or one run's tidy frame
    (:func:`analysis.runs.run_data`). ``smooth`` is a rolling-mean window in
    iterations ("auto": n/200 above 2,000 iterations, None: raw values only).
    ``log_y`` uses a log axis with at least three labelled ticks per decade
    (:func:`analysis.lgc.readable_log_ticks`). ``ax`` is the Axes to draw on (default:
    the current Axes), so ``timelineplot(run, "loss", ax=ax)`` draws into a figure of
    your own. Returns the Axes.
    """
    import matplotlib.pyplot as plt

    if y not in QUANTITIES:
        raise LandscapeError(unknown_choice("quantity", y, QUANTITIES))
    run = single_run(data, stages, several="timeline_figure")
    networks = check_networks([run], default_networks([run], PARAMETER_NETWORKS) if networks is None else networks)
    if ax is None:
        ax = plt.gca()
    stage_handles = shade_stages(ax, run.tidy, palette)
    line_handles = []
    for key in networks:
        rows = run.network_rows(key)
        steps = rows["step"].to_numpy()
        values = rows[y].to_numpy(dtype=np.float64)
        window = _rolling_window(len(rows), smooth)
        color = NETWORK_COLORS.get(key, "0.2")
        if window > 1:
            ax.plot(steps, values, color=color, lw=0.4, alpha=0.25, rasterized=True)
            smoothed = pd.Series(values).rolling(window, min_periods=1, center=True).mean().to_numpy()
            (line,) = ax.plot(steps, smoothed, color=color, lw=1.4, label=f"{label(key, run.critic)} (mean of {window})")
        else:
            (line,) = ax.plot(steps, values, color=color, lw=0.8, label=label(key, run.critic),
                              rasterized=len(rows) > 2_000)
        line_handles.append(line)
    if log_y:
        ax.set_yscale("log")
        readable_log_ticks(ax, "y")
    ax.set_xlabel("iteration")
    ax.set_ylabel(QUANTITIES[y])
    no_offset(ax)
    ax.margins(x=0)
    if legend:
        ax.legend(handles=line_handles + stage_handles, fontsize="small", loc="best", ncols=2)
    return ax


#: The quality metrics a timeline's quality panel shows by default (left axis, right axis) and, per metric, the
#: smallest y span it shows and the floor: :mod:`landscape.metric_names` (its ``TIMELINE_QUALITY``, ``QUALITY_SPANS``).
DEFAULT_QUALITY = TIMELINE_QUALITY
QUALITY_COLORS = ("#2c3e50", "#16a085")


def no_offset(ax: Axes) -> None:
    """Plain tick labels on ``ax``'s y axis: no "+1" or "1e-5+2.33" offset, which makes tiny changes look large."""
    from matplotlib.ticker import ScalarFormatter

    formatter = ax.yaxis.get_major_formatter()
    if isinstance(formatter, ScalarFormatter):  # a log axis has its own formatter, which never offsets
        formatter.set_useOffset(False)


def at_least_span(ax: Axes, span: float, floor: float | None = None) -> None:
    """Widen ``ax``'s y limits to at least ``span`` around the data's middle (not below ``floor``), so that
    a metric that barely moves is drawn as a flat line."""
    low, high = ax.get_ylim()
    if not (span > 0 and high - low < span):
        return
    middle = (low + high) / 2
    low = middle - span / 2
    if floor is not None and low < floor:
        low = floor - span / 20  # the points at the floor stay clear of the frame
    ax.set_ylim(low, low + span)


def qualityplot(
    data: Any,
    metric: str = "class_kl",
    *,
    stages: int | None = None,
    palette: str = "paper",
    shade: bool = True,
    color: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw one sample-quality ``metric`` of a run against the iteration at which it was measured, stages shaded.

    ``data`` is a Run or a run-file path with quality measurements (``Run.quality``;
    ``landscape record`` makes them at the sample epochs, ``landscape quality`` at checkpoints).
    ``shade=False`` leaves the stage shading out (a second metric on a twin axis). Returns the Axes.
    """
    import matplotlib.pyplot as plt

    from landscape.metric_names import METRIC_TITLES

    run = single_run(data, stages, several="timeline_figure")
    quality = run.quality
    if quality.empty:
        raise LandscapeError(f"{run.where} has no sample-quality measurements; make them with `landscape quality` "
                             "or record with quality_every.")
    present = list(dict.fromkeys(quality["metric"]))
    if metric not in present:
        raise LandscapeError(unknown_choice("quality metric", metric, present))
    if ax is None:
        ax = plt.gca()
    if shade:
        shade_stages(ax, run.tidy, palette)
    rows = quality[quality["metric"] == metric].sort_values("step")
    color = color or QUALITY_COLORS[0]
    ax.plot(rows["step"], rows["value"], marker="o", ms=4, lw=1.2, color=color, label=METRIC_TITLES.get(metric, metric))
    ax.set_ylabel(METRIC_TITLES.get(metric, metric), color=color)
    no_offset(ax)
    at_least_span(ax, *QUALITY_SPANS.get(metric, (0.0, None)))
    ax.set_xlabel("iteration")
    if len(run.tidy):
        ax.set_xlim(run.tidy["step"].min(), run.tidy["step"].max() + 1)
    return ax


def default_quality_metrics(quality: pd.DataFrame) -> tuple[str, ...]:
    """The metrics a quality panel shows for a run's measurements (class KL and Inception Score; a toy's modes)."""
    present = set(quality["metric"])
    for names in DEFAULT_QUALITY.values():
        if names[0] in present:
            return tuple(n for n in names if n in present)
    return tuple(dict.fromkeys(quality["metric"]))[:2]


def timeline_figure(
    runs: Any,
    networks: Sequence[str] | None = None,
    *,
    quality: Sequence[str] | bool | None = None,
    stages: int | None = None,
    palette: str = "paper",
    smooth: int | str | None = "auto",
    log_y: bool = False,
    height: float = 2.6,
    width: float = 11.0,
    suptitle: str | None = None,
) -> Figure:
    """Figure with, per run, its loss and its gradient norm against iteration (two stacked panels), and a
    sample-quality panel under them.

    ``runs`` is anything :func:`analysis.lgc.lgc_figure` takes. Panels share the
    iteration axis within a run; the stage shading and its legend use the same
    colours as the run's loss-gradient clouds. ``quality``: None draws the quality panel
    when a run has measurements (class KL on the left axis, Inception Score on the right;
    a toy's modes covered and high-quality fraction), False never, or one or two metric names.
    """
    import matplotlib.pyplot as plt

    data = run_data(runs, stages)
    if not data:
        raise LandscapeError("No runs to draw; pass at least one run file.")
    networks = check_networks(data, default_networks(data, PARAMETER_NETWORKS) if networks is None else networks)
    panels = _quality_panels(data, quality)
    n_panels = 2 + bool(any(panels))
    fig, axes = plt.subplots(n_panels * len(data), 1, figsize=(width, n_panels * len(data) * height), squeeze=False,
                             layout="constrained")
    for r, run in enumerate(data):
        top, bottom = axes[n_panels * r, 0], axes[n_panels * r + 1, 0]
        bottom.sharex(top)
        timelineplot(run.tidy, "loss", networks=networks, palette=palette, smooth=smooth, log_y=log_y, ax=top,
                     legend=False)
        timelineplot(run.tidy, "grad_norm", networks=networks, palette=palette, smooth=smooth, log_y=log_y,
                     ax=bottom, legend=False)
        top.tick_params(labelbottom=False)
        top.set_xlabel("")
        if n_panels == 3:
            _quality_panel(run, panels[r], axes[n_panels * r + 2, 0], top, palette)
            bottom.tick_params(labelbottom=False)
            bottom.set_xlabel("")
        top.set_title(run.heading, fontsize="medium")
        lines = [h for h in top.get_lines() if not h.get_label().startswith("_")]
        patches = shade_stages_handles(run.tidy, palette)
        top.legend(handles=lines, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
        bottom.legend(handles=patches, title="stage: iterations", loc="center left", bbox_to_anchor=(1.01, 0.5),
                      fontsize="small", title_fontsize="small", frameon=False)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def _quality_panels(data: list[Any], quality: Sequence[str] | bool | None) -> list[tuple[str, ...]]:
    """The metrics of each run's quality panel (empty: none), checked against what the runs measured."""
    if quality is False:
        return [() for _ in data]
    if quality is None or quality is True:
        if quality is True and all(run.quality.empty for run in data):
            raise LandscapeError("No run has sample-quality measurements to draw; make them with `landscape quality`.")
        return [default_quality_metrics(run.quality) if not run.quality.empty else () for run in data]
    names = (quality,) if isinstance(quality, str) else tuple(quality)
    if not 1 <= len(names) <= 2:
        raise LandscapeError(f"quality takes one or two metric names (left and right axis), got {len(names)}.")
    for run in data:
        present = list(dict.fromkeys(run.quality["metric"]))
        for name in names:
            if name not in present:
                if not present:
                    raise LandscapeError(f"{run.where} has no sample-quality measurements to draw.")
                raise LandscapeError(unknown_choice("quality metric", name, present))
    return [names for _ in data]


def _quality_panel(run: Any, metrics: tuple[str, ...], ax: Axes, top: Axes, palette: str) -> None:
    ax.sharex(top)
    if not metrics:
        shade_stages(ax, run.tidy, palette)
        ax.text(0.5, 0.5, "no sample-quality measurements", transform=ax.transAxes, ha="center", va="center",
                color="0.4")
        ax.set_yticks([])
        return
    qualityplot(run, metrics[0], ax=ax, palette=palette)
    lines = ax.get_lines()
    if len(metrics) > 1:
        twin = ax.twinx()
        qualityplot(run, metrics[1], ax=twin, shade=False, color=QUALITY_COLORS[1])
        lines = lines + twin.get_lines()
    # above the panel, not at its right: the twin axis's tick labels and label sit there and ran into it
    ax.legend(handles=lines, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=len(lines), fontsize="small",
              frameon=False, borderaxespad=0.2)


def shade_stages_handles(tidy: pd.DataFrame, palette: str = "paper", alpha: float = 0.12) -> list[Any]:
    """Legend handles for the stage shading of :func:`shade_stages` (without drawing anything)."""
    from matplotlib.patches import Patch

    k = stage_count(tidy)
    colors = stage_colors(max(k, 1), palette)
    labels = stage_label_map(tidy)
    present = sorted(int(s) for s in pd.unique(tidy["stage"]))
    return [Patch(color=colors[s - 1], alpha=min(1.0, alpha * 3), label=labels.get(s, str(s))) for s in present]


def timeline(*args: Any, **kwargs: Any) -> Figure:
    """Deprecated name of :func:`timeline_figure` (the README's first examples used it)."""
    warnings.warn("analysis.timeline.timeline is deprecated; use timeline_figure.", DeprecationWarning, stacklevel=2)
    return timeline_figure(*args, **kwargs)
