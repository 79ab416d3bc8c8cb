"""Figures of the game dynamics, seaborn-style: each function takes data and ``ax=`` and returns the Axes.

- :func:`spectrumplot`: the stored eigenvalues of ``J`` in the complex plane, coloured by the
  stage they were taken in (the paper's palette, :func:`analysis.palettes.stage_colors`);
- :func:`rotationplot`: a measure (rotation, ``||v||`` relative to stage 1, smallest real part, ...)
  against step with the stages shaded and each estimate's label marked, to put under the
  loss-gradient cloud or the timeline of the same run;
- :func:`pathangleplot`: Berard et al.'s path angle (``||v||`` and the cosine along the line
  between two checkpoints);
- :func:`game_figure`: the spectrum beside the LGC of the same run, and the rotation under them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.palettes import stage_colors
from landscape.reader import as_run
from landscape.stages import DEFAULT_STAGES

#: The y-axis label of each measure :func:`rotationplot` draws.
MEASURES = {
    "rotation": "max |Im λ| / |λ|",
    "share_rotational": "share of λ with |Im| > |Re|",
    "v_rel": "‖v‖ / stage-1 median",
    "v_norm": "‖v‖ (probe batch)",
    "min_real": "smallest Re λ computed",
    "spectral_radius": "max |λ|",
    "max_imag": "max |Im λ|",
}


def eigenvalue_frame(run: Any, stages: int = DEFAULT_STAGES) -> pd.DataFrame:
    """Every stored eigenvalue of a run's game estimates, long: run, step, stage, which, real, imag."""
    from analysis.game.storage import KIND, game_eigenvalues_at

    run = as_run(run)
    steps = [step for step, _ in run.measurement_keys(KIND)]
    rows = []
    stage_of = dict(zip(steps, run.stage_of(steps, stages).tolist())) if steps else {}
    for step in steps:
        for which, values in game_eigenvalues_at(run, step).items():
            if which == "spectrum":
                continue
            rows += [{"run": run.name, "step": step, "stage": stage_of[step], "which": which, "real": float(v.real),
                      "imag": float(v.imag)} for v in values]
    return pd.DataFrame(rows, columns=["run", "step", "stage", "which", "real", "imag"])


def spectrumplot(data: Any, *, stages: int = DEFAULT_STAGES, palette: str = "paper", ax: Axes | None = None,
                 legend: bool = True, **scatter_kws: Any) -> Axes:
    """The eigenvalues of the game Jacobian in the complex plane, coloured by stage.

    ``data``: a run (or path) or :func:`eigenvalue_frame`'s frame. The imaginary axis (real part
    0) is drawn: with the toolkit's convention, points right of it are stable directions.
    """
    import matplotlib.pyplot as plt

    frame = eigenvalue_frame(data, stages) if not isinstance(data, pd.DataFrame) else data
    ax = ax if ax is not None else plt.gca()
    n = int(max(frame["stage"].max(), 1)) if len(frame) else 1
    colors = stage_colors(max(n, stages if not isinstance(data, pd.DataFrame) else n), palette)
    style = {"s": 28, "alpha": 0.85, "edgecolor": "white", "linewidth": 0.4, **scatter_kws}
    for stage, rows in frame.groupby("stage"):
        ax.scatter(rows["real"], rows["imag"], color=colors[int(stage) - 1], label=f"stage {int(stage)}", **style)
    ax.axvline(0, color="0.5", lw=0.8, zorder=0)
    ax.axhline(0, color="0.85", lw=0.6, zorder=0)
    ax.set_xlabel("Re λ (J of the gradients; > 0: stable direction)")
    ax.set_ylabel("Im λ")
    if legend and len(frame):
        ax.legend(frameon=False, fontsize="small")
    return ax


def stage_spans(run: Any, stages: int = DEFAULT_STAGES) -> list[tuple[int, float, float]]:
    """``(stage, first step, end)`` of each stage of a run, as the tidy frame assigns them."""
    tidy = as_run(run).tidy(stages)
    bounds = tidy.groupby("stage", observed=True)["step"].agg(["min", "max"]).sort_index()
    starts = bounds["min"].to_numpy()
    return [(int(s), float(row["min"]), float(starts[i + 1] if i + 1 < len(starts) else row["max"] + 1))
            for i, (s, row) in enumerate(bounds.iterrows())]


def rotationplot(data: Any, y: str = "rotation", *, run: Any = None, stages: int = DEFAULT_STAGES,
                 palette: str = "paper", labels: bool = True, ax: Axes | None = None, **line_kws: Any) -> Axes:
    """A game measure against step, the stages shaded, each estimate's label written above its point.

    ``data``: a run (or path) or :func:`analysis.game.storage.read_game`'s frame (then pass ``run=``
    to shade the stages). ``y``: a column such as those of :data:`MEASURES`.
    """
    import matplotlib.pyplot as plt

    from analysis.game.storage import read_game

    if not isinstance(data, pd.DataFrame):
        run = data
        data = read_game(data, stages)
    ax = ax if ax is not None else plt.gca()
    if run is not None:
        spans = stage_spans(run, stages)
        colors = stage_colors(max(len(spans), 1), palette)
        for stage, start, end in spans:
            ax.axvspan(start, end, color=colors[stage - 1], alpha=0.12, lw=0, zorder=0)
    ax.plot(data["step"], data[y], marker="o", color=line_kws.pop("color", "0.15"), **{"lw": 1.2, **line_kws})
    if labels and "label" in data:
        short = {"local Nash candidate": "N", "locally stable": "S", "saddle of the game": "X", "rotational": "R"}
        for _, row in data.iterrows():
            text = "".join(short.get(part.strip(), "") for part in str(row["label"]).split(",")) or "–"
            ax.annotate(text, (row["step"], row[y]), textcoords="offset points", xytext=(0, 6), ha="center",
                        fontsize="x-small")
    ax.set_xlabel("step")
    ax.set_ylabel(MEASURES.get(y, y))
    return ax


def pathangleplot(path: Any, *, ax: Axes | None = None, players: bool = True) -> Axes:
    """Berard et al.'s path angle: ``||v||`` (left axis, log) and ``cos(v, path)`` (right axis) against alpha.

    ``path``: an :class:`analysis.game.PathAngle`. The checkpoints sit at alpha 0 and 1 (dotted lines).
    """
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.gca()
    ax.plot(path.alpha, path.v_norm, color="tab:blue", lw=1.5, label="‖v‖")
    ax.set_yscale("log")
    ax.set_xlabel("α (0: step {}, 1: step {})".format(path.step_a, path.step_b))
    ax.set_ylabel("‖v‖", color="tab:blue")
    for x in (0.0, 1.0):
        ax.axvline(x, color="0.6", ls=":", lw=0.8)
    twin = ax.twinx()
    twin.plot(path.alpha, path.cosine, color="tab:red", lw=1.5, label="cos(v, path)")
    if players:
        twin.plot(path.alpha, path.cosine_1, color="tab:red", lw=0.8, ls="--", label="generator part")
        twin.plot(path.alpha, path.cosine_2, color="tab:red", lw=0.8, ls=":", label="discriminator part")
    twin.axhline(0, color="0.8", lw=0.6)
    twin.set_ylim(-1.05, 1.05)
    twin.set_ylabel("cosine", color="tab:red")
    twin.legend(frameon=False, fontsize="x-small", loc="lower right")
    return ax


def game_figure(run: Any, *, stages: int = DEFAULT_STAGES, palette: str = "paper", lgc: bool = True) -> Figure:
    """The game spectrum over a run: eigenvalues in the complex plane beside the run's LGC (generator), and
    rotation and ``||v||`` against step with the stages shaded under them."""
    import matplotlib.pyplot as plt

    from analysis.game.storage import read_game

    run = as_run(run)
    frame = read_game(run, stages)
    fig = plt.figure(figsize=(11, 7.5), layout="constrained")
    grid = fig.add_gridspec(2, 2 if lgc else 1, height_ratios=[1.3, 1])
    spectrumplot(run, stages=stages, palette=palette, ax=fig.add_subplot(grid[0, 0]))
    if lgc:
        from analysis.lgc import lgcplot

        lgcplot(run, "g", stages=stages, palette=palette, ax=fig.add_subplot(grid[0, 1]))
    bottom = grid[1, :].subgridspec(1, 2)
    rotationplot(frame, "rotation", run=run, stages=stages, palette=palette, ax=fig.add_subplot(bottom[0, 0]))
    rotationplot(frame, "v_rel", run=run, stages=stages, palette=palette, labels=False, ax=fig.add_subplot(bottom[0, 1]))
    fig.suptitle(f"{run.name}: game Jacobian over training (labels: N Nash candidate, S locally stable, "
                 "X saddle of the game, R rotational)", fontsize="medium")
    return fig


__all__ = ["MEASURES", "eigenvalue_frame", "game_figure", "pathangleplot", "rotationplot", "spectrumplot",
           "stage_spans"]
