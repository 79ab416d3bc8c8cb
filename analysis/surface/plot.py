"""Drawing loss slices and gradient-walk clouds, in the seaborn style (take data and ``ax=``, return the Axes).

- :func:`surfaceplot`: a 1-D slice as a curve, a 2-D slice as filled contours; for a ``pca`` slice the
  stored checkpoints projected on the plane, drawn as a path with each checkpoint in its stage's colour
  (the paper's palette, :mod:`analysis.palettes`).
- :func:`surface3dplot`: a 2-D slice as a 3-D surface (on a ``projection="3d"`` Axes).
- :func:`surface_figure`: the contour and the 3-D surface side by side (a 1-D slice: the curve).
- :func:`stages_figure`: slices at several checkpoints (the stage boundaries) on one row, one colour scale.
- :func:`walkplot`: gradient walks as a loss-gradient cloud (loss on x, gradient norm on y, as
  :func:`analysis.lgc.lgcplot` draws training), over the training cloud of the same stage in grey.

Loss colours are logarithmic when every loss is positive and they span more than a factor of 20
(the slices of a GAN's losses often span several decades); ``log=False`` or ``True`` forces either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.palettes import stage_colors
from analysis.surface.surface import Surface
from landscape.networks import label as network_label
from landscape.stages import DEFAULT_STAGES

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Colour of the training cloud behind gradient walks.
TRAINING_GREY = "0.75"


def _use_log(values: np.ndarray, log: bool | None) -> bool:
    finite = values[np.isfinite(values)]
    if log is not None:
        return bool(log) and finite.size > 0 and bool(np.all(finite > 0))
    return finite.size > 0 and bool(np.all(finite > 0)) and float(finite.max() / finite.min()) > 20


def _dirs_text(surface: Surface) -> str:
    if surface.dirs.startswith("to"):
        return f"line to step {surface.dirs[2:]}"
    names = {"filter": "filter-normalised random", "random": "random Gaussian", "hessian": "top Hessian eigenvector",
             "pca": "the checkpoints' principal"}
    return names.get(surface.dirs, surface.dirs)


def _axis_labels(surface: Surface) -> tuple[str, str]:
    if surface.dirs == "pca":
        explained = [surface.attrs.get(f"explained_{i}") for i in (1, 2)]
        return tuple(f"PC{i} ({e:.0%} of the path)" if e is not None else f"PC{i}"
                     for i, e in zip((1, 2), explained))  # type: ignore[return-value]
    if surface.dirs == "hessian":
        return tuple(f"eigenvector {i} (λ={surface.attrs.get(f'eigenvalue_{i}', float('nan')):.3g})"
                     for i in (1, 2))  # type: ignore[return-value]
    if surface.dirs.startswith("to"):
        return f"step {surface.step} → step {surface.dirs[2:]}", ""
    return "direction 1", "direction 2"


def path_stages(surface: Surface, run: Any = None, stages: int = DEFAULT_STAGES) -> np.ndarray:
    """The stage (1-based) of each checkpoint on a pca slice's path (all 1 without the run)."""
    steps = np.asarray(surface.arrays.get("path_steps", []), dtype=int)
    if run is None or not len(steps):
        return np.ones(len(steps), dtype=int)
    from landscape.reader import as_run

    return np.asarray(as_run(run).stage_of(steps.tolist(), stages), dtype=int)


def surfaceplot(surface: Surface, *, run: Any = None, stages: int = DEFAULT_STAGES, palette: str = "paper",
                cmap: str = "viridis", levels: int = 20, log: bool | None = None, vmin: float | None = None,
                vmax: float | None = None, path: bool = True, colorbar: bool = True, ax: Axes | None = None,
                **kwargs: Any) -> Axes:
    """Draw one slice on ``ax``: a 1-D curve or 2-D filled contours (with the training path for ``pca``).

    ``run`` (a Run or path) gives the checkpoints' stages for the path colours (``stages`` equal
    stages, ``palette`` as :func:`analysis.palettes.stage_colors`); ``vmin``/``vmax`` fix the colour
    scale (to share it between panels); ``kwargs`` go to ``plot`` (1-D) or ``contourf`` (2-D).
    Points not evaluated (an interrupted slice) are left blank. Returns the Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib import colors as mcolors

    ax = ax if ax is not None else plt.gca()
    xlabel, ylabel = _axis_labels(surface)
    title = f"{network_label(surface.network)} loss, step {surface.step:,}"
    if surface.dims == 1:
        ax.plot(surface.alpha, surface.loss, color=kwargs.pop("color", "C0"), **kwargs)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{network_label(surface.network)} loss")
        if _use_log(surface.loss, log):
            ax.set_yscale("log")
        if surface.dirs.startswith("to"):
            ax.axvline(0, color="0.6", lw=0.8, ls=":")
            ax.axvline(1, color="0.6", lw=0.8, ls=":")
        ax.set_title(title)
        return ax
    loss = np.ma.masked_invalid(surface.loss.T)  # rows: beta, columns: alpha
    finite = surface.loss[np.isfinite(surface.loss)]
    lo = vmin if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    hi = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    use_log = _use_log(np.array([lo, hi]), log) if lo > 0 else False
    if use_log:
        bounds = np.geomspace(lo, hi, levels + 1)
        norm = mcolors.LogNorm(lo, hi)
    else:
        bounds = np.linspace(lo, hi if hi > lo else lo + 1, levels + 1)
        norm = mcolors.Normalize(bounds[0], bounds[-1])
    filled = ax.contourf(surface.alpha, surface.beta, np.clip(loss, bounds[0], bounds[-1]), levels=bounds,
                         cmap=cmap, norm=norm, **kwargs)
    ax.contour(surface.alpha, surface.beta, loss, levels=bounds[::2], colors="white", linewidths=0.4, alpha=0.5)
    ax.plot([0], [0], marker="*", color="white", markeredgecolor="black", markersize=10, zorder=4)
    coords = surface.arrays.get("path_coords")
    if path and coords is not None and len(coords):
        order = np.argsort(np.asarray(surface.arrays["path_steps"]))
        coords = np.asarray(coords)[order]
        stage_of = path_stages(surface, run, stages)[order]
        colours = stage_colors(stages, palette)
        ax.plot(coords[:, 0], coords[:, 1], color="0.3", lw=1, zorder=3)
        named = set()
        for (x, y), stage in zip(coords, stage_of):
            text = None if int(stage) in named else f"stage {int(stage)}"
            named.add(int(stage))
            ax.scatter([x], [y], color=colours[int(stage) - 1], edgecolor="white", s=40, zorder=5, label=text)
        ax.legend(title="checkpoints", fontsize=7, title_fontsize=7, loc="best", framealpha=0.7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(filled, ax=ax, label=f"{network_label(surface.network)} loss", format="%.3g")
    return ax


def surface3dplot(surface: Surface, *, cmap: str = "viridis", log: bool | None = None, ax: Axes | None = None,
                  **kwargs: Any) -> Axes:
    """Draw a 2-D slice as a 3-D surface on ``ax`` (a ``projection="3d"`` Axes; made when None).

    With a logarithmic scale (see the module docstring) the height is log10 of the loss. Returns the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        ax = plt.gcf().add_subplot(projection="3d")
    a, b = np.meshgrid(surface.alpha, surface.beta, indexing="ij")
    height = surface.loss
    use_log = _use_log(height, log)
    if use_log:
        height = np.log10(height)
    ax.plot_surface(a, b, np.ma.masked_invalid(height), cmap=cmap, linewidth=0, antialiased=True, rcount=60,
                    ccount=60, **kwargs)
    xlabel, ylabel = _axis_labels(surface)
    ax.set_xlabel(xlabel.split(" (")[0])
    ax.set_ylabel(ylabel.split(" (")[0])
    ax.set_zlabel(("log10 " if use_log else "") + f"{network_label(surface.network)} loss")
    return ax


def surface_figure(surface: Surface, *, run: Any = None, stages: int = DEFAULT_STAGES, palette: str = "paper",
                   log: bool | None = None) -> Figure:
    """A slice on its own: the curve (1-D), or the contour plot with the 3-D surface beside it (2-D)."""
    import matplotlib.pyplot as plt

    if surface.dims == 1:
        fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
        surfaceplot(surface, run=run, log=log, ax=ax)
    else:
        fig = plt.figure(figsize=(11, 4.6), layout="constrained")
        ax = fig.add_subplot(1, 2, 1)
        surfaceplot(surface, run=run, stages=stages, palette=palette, log=log, ax=ax)
        surface3dplot(surface, log=log, ax=fig.add_subplot(1, 2, 2, projection="3d"))
    fig.suptitle(f"{_dirs_text(surface)} directions, {surface.batch} batch"
                 + (f" — {surface.points_done:,} of {surface.loss.size:,} points" if not surface.complete else ""))
    return fig


def stages_figure(surfaces: Sequence[Surface], *, run: Any = None, stages: int = DEFAULT_STAGES,
                  palette: str = "paper", log: bool | None = None) -> Figure:
    """Slices at several checkpoints (e.g. each stage boundary) on one row, with one colour (or y) scale.

    Each panel is titled with its step and the stage it starts (from ``run``), so the change of the
    surface over training is seen at a glance.
    """
    import matplotlib.pyplot as plt

    surfaces = sorted(surfaces, key=lambda s: s.step)
    n = len(surfaces)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, 3.3), layout="constrained", squeeze=False,
                             sharey=surfaces[0].dims == 1 if surfaces else False)
    values = np.concatenate([s.loss[np.isfinite(s.loss)].ravel() for s in surfaces]) if surfaces else np.zeros(1)
    lo, hi = float(values.min()), float(values.max())
    use_log = _use_log(values, log)
    stage_of = {}
    if run is not None:
        from landscape.reader import as_run

        run_ = as_run(run)
        steps = [s.step for s in surfaces]
        stage_of = dict(zip(steps, np.asarray(run_.stage_of(steps, stages)).tolist()))
    colours = stage_colors(stages, palette)
    for ax, s in zip(axes[0], surfaces):
        stage = stage_of.get(s.step)
        if s.dims == 1:
            surfaceplot(s, ax=ax, log=use_log, color=colours[stage - 1] if stage else "C0")
        else:
            surfaceplot(s, run=run, stages=stages, palette=palette, log=use_log, vmin=lo, vmax=hi, colorbar=False,
                        ax=ax)
            if ax is not axes[0][0]:
                ax.set_ylabel("")
        ax.set_title(f"step {s.step:,}" + (f" (stage {stage})" if stage else ""), fontsize=10)
    if surfaces and surfaces[0].dims == 2:
        fig.colorbar(axes[0][-1].collections[0], ax=axes[0].tolist(), label=f"{network_label(surfaces[0].network)} loss",
                     format="%.3g", fraction=0.02)
    if surfaces:
        s0 = surfaces[0]
        fig.suptitle(f"{network_label(s0.network)} loss along {_dirs_text(s0)} directions at each checkpoint")
    return fig


def walkplot(walks: Any, *, training: Any = None, color: Any = "C3", log_x: bool = False, log_y: bool = False,
             ax: Axes | None = None, **scatter_kws: Any) -> Axes:
    """Gradient walks as a loss-gradient cloud on ``ax``: loss (x) against gradient norm (y).

    ``walks`` is a :class:`~analysis.surface.walk.Walks` or a frame with ``loss`` and ``grad_norm``
    columns (:func:`analysis.surface.walk.walks_frame`, one step and network); ``training`` a tidy
    frame of the same network's training iterations (``run.tidy()``, rows of one stage), drawn first
    in grey. The walks' start (the checkpoint) is a star. Returns the Axes.
    """
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.gca()
    if hasattr(walks, "grad_norm") and not hasattr(walks, "columns"):
        loss, norm = np.asarray(walks.loss), np.asarray(walks.grad_norm)
    else:
        frame = walks.sort_values(["walk", "walk_step"]) if "walk" in walks else walks
        n = int(frame["walk"].nunique()) if "walk" in frame else 1
        loss = frame["loss"].to_numpy().reshape(n, -1)
        norm = frame["grad_norm"].to_numpy().reshape(n, -1)
    if training is not None and len(training):
        ax.scatter(training["loss"], training["grad_norm"], s=3, color=TRAINING_GREY, alpha=0.5, linewidths=0,
                   rasterized=True, label=f"training ({len(training):,} iterations)")
    kws = {"s": 6, "alpha": 0.6, "linewidths": 0, **scatter_kws}
    ax.scatter(loss.ravel(), norm.ravel(), color=color, rasterized=True,
               label=f"gradient walks ({loss.shape[0]} × {loss.shape[1] - 1} steps)" if loss.ndim == 2 else "walks",
               **kws)
    ax.scatter([loss.ravel()[0]], [norm.ravel()[0]], marker="*", s=120, color=color, edgecolor="black", zorder=5,
               label="checkpoint")
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("loss")
    ax.set_ylabel("gradient norm")
    ax.legend(loc="best", fontsize=8, frameon=False)
    return ax


def walks_figure(run: Any, steps: Sequence[int], network: str = "g", *, stages: int = DEFAULT_STAGES,
                 palette: str = "paper", log_x: bool = False, log_y: bool = False) -> Figure:
    """The stored gradient walks at ``steps`` (one panel each), each over its stage's training cloud in grey.

    The walks from the checkpoint at step s are coloured as the stage s ends (or, at step 0, starts)
    in the paper's palette, and drawn over the training iterations of that stage.
    """
    import matplotlib.pyplot as plt

    from analysis.surface.walk import walks_frame
    from landscape.reader import as_run

    run = as_run(run)
    steps = sorted(int(s) for s in steps)
    frame = walks_frame(run, network)
    tidy = run.tidy(stages) if run.n_iterations else None
    stage_of = dict(zip(steps, np.asarray(run.stage_of(steps, stages)).tolist()))
    colours = stage_colors(stages, palette)
    fig, axes = plt.subplots(1, len(steps), figsize=(4.2 * len(steps), 3.8), layout="constrained", squeeze=False)
    for ax, step in zip(axes[0], steps):
        stage = int(stage_of[step])
        training = None
        if tidy is not None:
            training = tidy[(tidy["network"] == network) & (tidy["stage"] == stage)]
        walkplot(frame[frame["step"] == step], training=training, color=colours[stage - 1], log_x=log_x,
                 log_y=log_y, ax=ax)
        ax.set_title(f"step {step:,} (stage {stage})", fontsize=10)
    fig.suptitle(f"{network_label(network)}: gradient walks (colour) and training (grey), loss against gradient norm")
    return fig


__all__ = ["path_stages", "stages_figure", "surface3dplot", "surface_figure", "surfaceplot", "walkplot",
           "walks_figure"]
