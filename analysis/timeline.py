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

:func:`timeline_figure` is figure-level: per run, loss and gradient norm stacked.
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
    ax.margins(x=0)
    if legend:
        ax.legend(handles=line_handles + stage_handles, fontsize="small", loc="best", ncols=2)
    return ax


def timeline_figure(
    runs: Any,
    networks: Sequence[str] | None = None,
    *,
    stages: int | None = None,
    palette: str = "paper",
    smooth: int | str | None = "auto",
    log_y: bool = False,
    height: float = 2.6,
    width: float = 11.0,
    suptitle: str | None = None,
) -> Figure:
    """Figure with, per run, its loss and its gradient norm against iteration (two stacked panels).

    ``runs`` is anything :func:`analysis.lgc.lgc_figure` takes. Panels share the
    iteration axis within a run; the stage shading and its legend use the same
    colours as the run's loss-gradient clouds.
    """
    import matplotlib.pyplot as plt

    data = run_data(runs, stages)
    if not data:
        raise LandscapeError("No runs to draw; pass at least one run file.")
    networks = check_networks(data, default_networks(data, PARAMETER_NETWORKS) if networks is None else networks)
    fig, axes = plt.subplots(2 * len(data), 1, figsize=(width, 2 * len(data) * height), squeeze=False,
                             layout="constrained")
    for r, run in enumerate(data):
        top, bottom = axes[2 * r, 0], axes[2 * r + 1, 0]
        bottom.sharex(top)
        timelineplot(run.tidy, "loss", networks=networks, palette=palette, smooth=smooth, log_y=log_y, ax=top,
                     legend=False)
        timelineplot(run.tidy, "grad_norm", networks=networks, palette=palette, smooth=smooth, log_y=log_y,
                     ax=bottom, legend=False)
        top.tick_params(labelbottom=False)
        top.set_xlabel("")
        top.set_title(run.heading, fontsize="medium")
        lines = [h for h in top.get_lines() if not h.get_label().startswith("_")]
        patches = shade_stages_handles(run.tidy, palette)
        top.legend(handles=lines, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
        bottom.legend(handles=patches, title="stage: iterations", loc="center left", bbox_to_anchor=(1.01, 0.5),
                      fontsize="small", title_fontsize="small", frameon=False)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


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
