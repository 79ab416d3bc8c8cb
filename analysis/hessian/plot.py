"""Plots of Hessian estimates: extreme eigenvalues against training step, and spectral densities.

Both follow seaborn's axes-level convention (data + ``ax=``, return the Axes) and
colour by training stage with the LGC's palette (``analysis.palettes``: the
paper's purple, orange, black, green, yellow), so an estimate's colour matches
the stage of the loss-gradient cloud it sits in. :func:`hessian_figure` lays out
both for the networks of one run (what ``landscape hessian --plot`` draws), titled
with the run's heading ("Vanilla GAN, MNIST, Adam (quickstart)").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from analysis.hessian.storage import read_estimates
from analysis.palettes import stage_colors
from analysis.runs import RunData
from landscape.errors import LandscapeError
from landscape.networks import PARAMETER_NETWORKS, label
from landscape.reader import as_run
from landscape.stages import DEFAULT_STAGES

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Marker and legend label of each end of the spectrum.
ENDS = {"lambda_max": ("^", r"$\lambda_{max}$ (largest)"), "lambda_min": ("v", r"$\lambda_{min}$ (smallest)")}

#: Line style joining a network's estimates: solid for the discriminator, dashed for the generator (dotted: others).
LINESTYLES = {"d": "-", "g": "--"}
_STYLE_NAMES = {"-": "solid", "--": "dashed", ":": "dotted"}


def _axes(ax: "Axes | None") -> "Axes":
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    return ax


def _require(data: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise LandscapeError(f"The {what} data lacks column(s) {', '.join(missing)}; use analysis.hessian.read_estimates.")


def _stages(data: pd.DataFrame, stages: int | None) -> int:
    if stages is not None:
        return int(stages)
    return int(data["stage"].max()) if "stage" in data.columns and len(data) else 1


def eigenvalueplot(
    data: pd.DataFrame,
    *,
    network: str | None = None,
    ax: "Axes | None" = None,
    stages: int | None = None,
    palette: str = "paper",
    symlog: bool = False,
) -> "Axes":
    """Largest and smallest eigenvalue of each estimate against training step.

    ``data`` has one row per estimate with ``step``, ``network``, ``stage``,
    ``lambda_min`` and ``lambda_max`` (:func:`analysis.hessian.read_estimates`).
    Points are coloured by stage (upward triangles: lambda_max, downward:
    lambda_min), a grey line joins each end through the steps (solid for the
    discriminator, dashed for the generator, dotted for other networks), and a dotted
    line marks zero. The legend explains the markers, the stage colours and the line
    styles. ``symlog`` uses a symmetric log axis for spectra spanning decades.
    """
    _require(data, ["step", "network", "lambda_min", "lambda_max"], "eigenvalue")
    ax = _axes(ax)
    frame = data if network is None else data[data["network"] == network]
    if frame.empty:
        raise LandscapeError(f"No Hessian estimates of network {network!r} to plot; run `landscape hessian` first.")
    frame = frame.sort_values("step")
    if "stage" not in frame.columns:
        frame = frame.assign(stage=1)
    k = _stages(frame, stages)
    colors = stage_colors(k, palette)
    linestyles = LINESTYLES
    for (net, part), (marker, _label) in [((n, e), ENDS[e]) for n in frame["network"].unique() for e in ENDS]:
        rows = frame[frame["network"] == net]
        ax.plot(rows["step"], rows[part], color="0.6", lw=1, ls=linestyles.get(net, ":"), zorder=1)
        for stage, group in rows.groupby("stage"):
            ax.scatter(group["step"], group[part], marker=marker, s=40, color=colors[int(stage) - 1],
                       edgecolor="white", linewidth=0.5, zorder=2)
    ax.axhline(0.0, color="0.3", lw=0.8, ls=":", zorder=0)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker=m, ls="", color="0.3", label=lab) for m, lab in ENDS.values()]
    present = sorted(int(s) for s in frame["stage"].unique())
    handles += [Line2D([], [], marker="o", ls="", color=colors[s - 1], label=f"stage {s}") for s in present]
    for net in frame["network"].unique():
        style = linestyles.get(net, ":")
        handles.append(Line2D([], [], color="0.6", ls=style, label=f"{label(net)} ({_STYLE_NAMES[style]} line)"))
    ax.legend(handles=handles, fontsize="small", frameon=False)
    if symlog:
        scale = float(np.nanmax(np.abs(frame[["lambda_min", "lambda_max"]].to_numpy())))
        ax.set_yscale("symlog", linthresh=max(scale * 1e-2, 1e-12))
    ax.margins(x=0.05, y=0.08)
    ax.set_xlabel("training step")
    ax.set_ylabel("Hessian eigenvalue")
    if network is not None:
        ax.set_title(f"{label(network)}: extreme eigenvalues")
    return ax


def density_frame(run: Any, network: str | None = None, stages: int = DEFAULT_STAGES) -> pd.DataFrame:
    """Long form of a run's stored spectral densities: step, network, stage, eigenvalue, density."""
    run = as_run(run)
    index = read_estimates(run, stages)
    parts = []
    for _, row in index.iterrows():
        if network is not None and row["network"] != network:
            continue
        arrays = run.hessian_arrays(int(row["step"]), str(row["network"]))
        if "density_grid" not in arrays:
            continue
        parts.append(pd.DataFrame({
            "step": int(row["step"]), "network": row["network"], "stage": int(row["stage"]),
            "eigenvalue": arrays["density_grid"], "density": arrays["density_values"],
        }))
    if not parts:
        return pd.DataFrame(columns=["step", "network", "stage", "eigenvalue", "density"])
    return pd.concat(parts, ignore_index=True)


def densityplot(
    data: pd.DataFrame,
    *,
    network: str | None = None,
    ax: "Axes | None" = None,
    stages: int | None = None,
    palette: str = "paper",
    log: bool = True,
    floor: float = 1e-6,
) -> "Axes":
    """Spectral densities (one curve per estimate) coloured by stage.

    ``data`` is long form with ``step``, ``network``, ``stage``, ``eigenvalue``
    and ``density`` (:func:`density_frame`). ``log`` draws the density on a log
    axis (the outliers carry a tiny fraction of the mass), clipped at ``floor``
    times the largest density.
    """
    _require(data, ["step", "eigenvalue", "density"], "density")
    ax = _axes(ax)
    frame = data if network is None else data[data["network"] == network]
    if frame.empty:
        raise LandscapeError(f"No spectral densities of network {network!r} to plot; estimate them with density on.")
    if "stage" not in frame.columns:
        frame = frame.assign(stage=1)
    k = _stages(frame, stages)
    colors = stage_colors(k, palette)
    top = float(frame["density"].max())
    keys = ["network", "step"] if "network" in frame.columns else ["step"]
    for key, curve in frame.groupby(keys, sort=True):
        step = key[-1] if isinstance(key, tuple) else key
        stage = int(curve["stage"].iloc[0])
        y = np.maximum(curve["density"].to_numpy(), floor * top) if log else curve["density"].to_numpy()
        ax.plot(curve["eigenvalue"], y, color=colors[stage - 1], lw=1.2, label=f"step {step} (stage {stage})")
    if log:
        ax.set_yscale("log")
    ax.axvline(0.0, color="0.3", lw=0.8, ls=":")
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("spectral density")
    ax.legend(fontsize="x-small", frameon=False)
    if network is not None:
        ax.set_title(f"{label(network)}: spectral density")
    return ax


def hessian_figure(run: Any, networks: Sequence[str] = PARAMETER_NETWORKS, *, stages: int = DEFAULT_STAGES,
                   palette: str = "paper", symlog: bool = False) -> "Figure":
    """Eigenvalues against step (top row) and spectral densities (bottom row), one column per network.

    The figure is titled with the run's heading, e.g. "Vanilla GAN, MNIST, Adam (quickstart)"
    (architecture, dataset and optimizer from its config, then the file name); each
    eigenvalue panel's legend explains the markers (upward triangle: largest
    eigenvalue, downward: smallest), the stage colours and the line style (solid:
    discriminator, dashed: generator).
    """
    import matplotlib.pyplot as plt

    run = as_run(run)
    estimates = read_estimates(run, stages)
    networks = [n for n in networks if n in set(estimates.get("network", []))]
    if not networks:
        raise LandscapeError(f"{run.path} holds no Hessian estimates to plot; run `landscape hessian {run.path}` first.")
    densities = density_frame(run, stages=stages)
    fig, axes = plt.subplots(2, len(networks), figsize=(5.5 * len(networks), 8), squeeze=False,
                             layout="constrained")
    for col, net in enumerate(networks):
        eigenvalueplot(estimates, network=net, ax=axes[0, col], stages=stages, palette=palette, symlog=symlog)
        if (densities["network"] == net).any():
            densityplot(densities, network=net, ax=axes[1, col], stages=stages, palette=palette)
        else:
            axes[1, col].set_axis_off()
    fig.suptitle(RunData(name=run.name, config=dict(run.config), tidy=pd.DataFrame()).heading)
    return fig
