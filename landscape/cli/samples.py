"""`landscape samples`: draw what a run's generator made at its sample epochs into an image.

A thin face over :func:`analysis.samples.samples_figure`: image grids for the image
datasets, scatter plots over the mode centres (with the modes covered) for the 2-D toys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def samples(
    run: Annotated[Path, typer.Argument(metavar="RUN.h5", help="Run file.", show_default=False)],
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="Image to write: .png, .pdf or .svg. (default: <run>-samples.png)",
                     show_default=False),
    ] = None,
    epoch: Annotated[
        Optional[list[int]],
        typer.Option("--epoch", "-e", help="Sample epoch(s) to draw, repeatable. (default: every stored one)",
                     show_default=False),
    ] = None,
    dpi: Annotated[int, typer.Option(help="Resolution of a PNG.")] = 150,
) -> None:
    """Draw the generator's samples at the stored epochs (image grids, or a toy's points over its modes)."""
    from landscape.cli.console import console
    from landscape.cli.options import check_figure_path, save_figure, use_file_backend

    use_file_backend()
    from analysis.samples import samples_figure
    from landscape.reader import open_run

    path = out if out is not None else run.with_name(run.stem + "-samples.png")
    check_figure_path(path)
    fig = samples_figure(open_run(run), epoch)
    save_figure(fig, path, dpi=dpi)
    console.print(f"Wrote {path}", highlight=False, soft_wrap=True)

#: The commands this module adds to ``landscape`` (name -> function, or a typer app for a group); see landscape.cli.
COMMANDS = {"samples": samples}
