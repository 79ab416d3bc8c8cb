"""Gradient norm against iteration, log scale, stages shaded, near-stationary thresholds drawn.

``gradnormplot`` draws one (run, network) series on an Axes, seaborn style
(data + ``ax=``, returns the Axes); ``stationarity_figure`` lays out one panel per
network and run for a :class:`StationarityReport`. Stage colours come from
:mod:`analysis.palettes`, the same as the loss-gradient clouds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.stationarity.stagnation import default_window
from landscape.errors import LandscapeError
from landscape.networks import title as network_title

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from analysis.stationarity.report import StationarityReport


def gradnormplot(
    data: pd.DataFrame,
    *,
    ax: "Axes | None" = None,
    absolute_threshold: float | None = None,
    relative_threshold: float | None = None,
    relative: float | None = None,
    palette: str = "paper",
    smooth: int | None = None,
    title: str | None = None,
) -> "Axes":
    """Plot one network's gradient norm (columns step, stage, grad_norm) against the step on a log y axis.

    Stages are shaded in their colours, the raw norm is drawn thin and its rolling
    median over ``smooth`` iterations (default: the stagnation window) thick, and
    the absolute and relative thresholds as horizontal lines (``relative_threshold``
    is the gradient norm already multiplied out; ``relative``, the factor, only
    labels it).
    """
    import matplotlib.pyplot as plt

    from analysis.palettes import stage_colors

    ax = plt.gca() if ax is None else ax
    data = data.sort_values("step", kind="stable")
    steps = data["step"].to_numpy()
    norms = data["grad_norm"].to_numpy(dtype=np.float64)
    norms = np.where(norms > 0, norms, np.nan)  # a log axis cannot show zero or negative norms
    stages = data["stage"].to_numpy()
    k = int(stages.max())
    colors = stage_colors(k, palette)
    for stage in range(1, k + 1):
        members = steps[stages == stage]
        if len(members):
            ax.axvspan(members.min() - 0.5, members.max() + 0.5, color=colors[stage - 1], alpha=0.15, lw=0,
                       label=f"stage {stage}")
    ax.plot(steps, norms, color="0.35", lw=0.5, alpha=0.6, label="gradient norm")
    window = default_window(len(norms)) if smooth is None else int(smooth)
    if 1 < window < len(norms):
        median = pd.Series(norms).rolling(window, center=True, min_periods=max(1, window // 2)).median()
        ax.plot(steps, median, color="tab:blue", lw=1.5, label=f"rolling median ({window} it.)")
    if absolute_threshold is not None and absolute_threshold > 0:
        ax.axhline(absolute_threshold, color="tab:red", ls="--", lw=1, label=f"absolute threshold {absolute_threshold:g}")
    if relative_threshold is not None and np.isfinite(relative_threshold) and relative_threshold > 0:
        what = f"{relative:g} x stage-1 median" if relative is not None else f"{relative_threshold:.3g}"
        ax.axhline(relative_threshold, color="tab:cyan", ls=":", lw=1.5, label=f"relative threshold ({what})")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("gradient norm")
    if title:
        ax.set_title(title)
    return ax


def stationarity_figure(report: "StationarityReport | Any", *, palette: str = "paper", **options: Any) -> "Figure":
    """One panel per (run, network): gradient norm against iteration with stages and thresholds.

    Takes a :class:`StationarityReport` (thresholds as in the report), or anything
    :func:`stationarity_report` takes (built with ``options``).
    """
    import matplotlib.pyplot as plt

    from analysis.stationarity.report import StationarityReport, stationarity_report

    if not isinstance(report, StationarityReport):
        report = stationarity_report(report, **options)
    if report.tidy is None:
        raise LandscapeError("This report carries no tidy frame to draw; build it with stationarity_report().")
    tidy = report.tidy
    runs = list(dict.fromkeys(tidy["run"]))
    networks = list(dict.fromkeys(tidy["network"]))
    fig, axes = plt.subplots(len(runs), len(networks), figsize=(4.2 * len(networks), 3.2 * len(runs)),
                             squeeze=False, sharex="row", constrained_layout=True)
    near = report.near_stationary
    whole = near[near["stage"].isna()].set_index(["run", "network"])
    for i, run in enumerate(runs):
        for j, network in enumerate(networks):
            part = tidy[(tidy["run"] == run) & (tidy["network"] == network)]
            rel = whole["relative_threshold"].get((run, network), np.nan)
            title = network_title(network) + (f"\n{run}" if len(runs) > 1 else "")
            gradnormplot(part, ax=axes[i, j], absolute_threshold=report.options["absolute_threshold"],
                               relative_threshold=rel, relative=report.options["relative_threshold"],
                               palette=palette, title=title)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 5), fontsize="small")
    return fig
