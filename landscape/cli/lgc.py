"""`landscape lgc`: draw loss-gradient clouds of one or more run files into an image.

A thin face over :func:`analysis.lgc.lgc_grid` (one row per run, one column per
network) and, with ``--timeline``, :func:`analysis.timeline.timeline`. It reads
runs that are still being written and runs whose writer was killed: a run file
holds every row up to its writer's last flush.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

FORMATS = {".png": "PNG", ".pdf": "PDF", ".svg": "SVG"}
NETWORKS = ("g", "d", "d_real", "d_fake")
PAPER_PANELS = ("g", "d_real", "d_fake", "d")


def check_output_path(path: Path, option: str = "--out") -> Path:
    """Fail early, in one sentence, on an output path that has no supported suffix or cannot be written."""
    from landscape.errors import LandscapeError

    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        shown = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise LandscapeError(f"Cannot write {path} ({shown}): give {option} a file name ending in .png, .pdf or .svg.")
    if path.is_dir():
        raise LandscapeError(
            f"Cannot write {path}: it is a directory; give {option} a file name such as {path / 'lgc.png'}."
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise LandscapeError(
            f"Cannot write {path}: the directory {parent} does not exist; create it or choose another path."
        )
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise LandscapeError(f"Cannot write {path}: permission denied; choose a path you can write to.")
    return path


def _save(fig, path: Path, dpi: int) -> None:
    from landscape.errors import LandscapeError

    try:
        fig.savefig(path, dpi=dpi, format=FORMATS[path.suffix.lower()].lower())
    except OSError as err:
        raise LandscapeError(f"Cannot write {path}: {err.strerror or err}; choose a path you can write to.") from None


def lgc(
    runs: Annotated[
        list[Path],
        typer.Argument(metavar="RUN.h5", help="Run files to draw, one row of panels each.", show_default=False),
    ],
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="Image to write: .png, .pdf or .svg. [default: <first run>-lgc.png]",
                     show_default=False),
    ] = None,
    network: Annotated[
        Optional[list[str]],
        typer.Option("--network", "-n", help="Network panel(s), repeatable: g, d, d_real, d_fake. "
                     "[default: the paper's panels g, d_real, d_fake, d]", show_default=False),
    ] = None,
    stages: Annotated[int, typer.Option(help="Number of equal training stages to colour.")] = 5,
    palette: Annotated[
        str, typer.Option(help="'paper' (purple, orange, black, green, yellow) or a matplotlib/seaborn palette.")
    ] = "paper",
    log_x: Annotated[bool, typer.Option("--log-x", help="Logarithmic loss axis.")] = False,
    log_y: Annotated[bool, typer.Option("--log-y", help="Logarithmic gradient-norm axis.")] = False,
    quantile_range: Annotated[
        Optional[tuple[float, float]],
        typer.Option(metavar="LOW HIGH", help="Bound the axes to these quantiles of each cloud, e.g. 0.01 0.99.",
                     show_default=False),
    ] = None,
    xlim: Annotated[
        Optional[tuple[float, float]],
        typer.Option(metavar="MIN MAX", help="Explicit loss-axis bounds.", show_default=False),
    ] = None,
    ylim: Annotated[
        Optional[tuple[float, float]],
        typer.Option(metavar="MIN MAX", help="Explicit gradient-norm-axis bounds.", show_default=False),
    ] = None,
    share_x: Annotated[bool, typer.Option("--share-x", help="Same loss axis in every panel of a column.")] = False,
    share_y: Annotated[
        bool, typer.Option("--share-y", help="Same gradient-norm axis in every panel of a column.")
    ] = False,
    dpi: Annotated[int, typer.Option(help="Resolution (PNG, and the rasterized clouds of PDF/SVG).")] = 150,
    title: Annotated[Optional[str], typer.Option(help="Title above the figure.", show_default=False)] = None,
    timeline: Annotated[
        Optional[Path],
        typer.Option(help="Also write loss and gradient norm against iteration (stages shaded) to this "
                     ".png/.pdf/.svg file.", show_default=False),
    ] = None,
) -> None:
    """Draw loss-gradient clouds: gradient norm against loss, one point per iteration, coloured by stage."""
    from landscape.cli.console import console
    from landscape.errors import LandscapeError

    networks = list(network) if network else list(PAPER_PANELS)
    for name in networks:
        if name not in NETWORKS:
            raise LandscapeError(f"Unknown network {name!r}: choose from {', '.join(NETWORKS)}.")
    if stages < 1:
        raise LandscapeError(f"--stages must be at least 1, got {stages}.")
    if not 10 <= dpi <= 2400:
        raise LandscapeError(f"--dpi must be between 10 and 2400, got {dpi}.")
    if quantile_range is not None:
        from analysis.lgc import check_quantile_range

        check_quantile_range(quantile_range)
    out = check_output_path(out if out is not None else Path(f"{runs[0].stem}-lgc.png"))
    if timeline is not None:
        check_output_path(timeline, "--timeline")

    from landscape.reader import open_runs

    collection = open_runs(runs)
    for run in collection:
        if run.n_iterations == 0:
            raise LandscapeError(
                f"{run.path} has no iterations yet; wait until the trainer has logged some, or check the path."
            )
        if run.status == "running" and run.writer_alive:
            console.print(
                f"Note: {run.path} is still being written; drawing its {run.n_iterations:,} iterations so far."
            )
        elif run.status == "running":
            console.print(f"Note: {run.path} says 'running' but its writer is gone (killed?); drawing its "
                          f"{run.n_iterations:,} recorded iterations.")
        elif run.status != "finished":
            console.print(f"Note: {run.path} ended {run.status}; drawing its {run.n_iterations:,} recorded iterations.")

    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, and no GUI backend is ever started
    import matplotlib.pyplot as plt

    from analysis.lgc import lgc_grid

    grid = lgc_grid(
        collection, networks, stages=stages, palette=palette, log_x=log_x, log_y=log_y,
        quantile_range=quantile_range, xlim=xlim, ylim=ylim,
        sharex="col" if share_x else False, sharey="col" if share_y else False, suptitle=title,
    )
    _save(grid.figure, out, dpi)
    plt.close(grid.figure)
    points = sum(run.n_iterations for run in collection) * len(networks)
    console.print(f"Wrote {out} ({len(collection)} run(s) x {len(networks)} panel(s), {points:,} points).")

    if timeline is not None:
        from analysis.timeline import timeline as timeline_figure

        fig = timeline_figure(collection, stages=stages, palette=palette, suptitle=title)
        _save(fig, timeline, dpi)
        plt.close(fig)
        console.print(f"Wrote {timeline} (loss and gradient norm against iteration).")
