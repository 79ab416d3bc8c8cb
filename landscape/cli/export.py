"""`landscape export RUN.h5 --format csv|parquet|tensorboard`: a run's metrics for other tools.

A thin face over :func:`landscape.export.export_run`: every per-iteration field
of the run (GAN or not) to CSV, Parquet (pandas' pyarrow engine) or TensorBoard
event files, by default next to the run file. It checks its own options before
writing anything, naming the flag at fault, and reads runs that are still being
written (every row flushed so far).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from landscape.cli.options import choices
from landscape.export import FORMATS


def _check_options(fmt: str, out: Path, force: bool, run_path: Path) -> None:
    """One sentence naming the option at fault, before anything is written (``fmt`` is known)."""
    import os

    from landscape.errors import LandscapeError
    from landscape.export import EVENT_FILE_PREFIX, check_not_run_file

    if out.exists() and run_path.exists() and out.samefile(run_path):
        raise LandscapeError(f"Cannot export to {out}: it is the run file itself; choose another --out.")
    check_not_run_file(out, "choose another --out")  # a run file, live or not, is never an export's to replace
    folder = fmt == "tensorboard"
    if out.is_dir() and not folder:
        raise LandscapeError(f"Cannot write {out}: it is a folder; give --out a file name such as "
                             f"{out / 'metrics'}.{fmt}.")
    if out.exists() and not out.is_dir() and folder:
        raise LandscapeError(f"Cannot write {out}: it is a file, and --format tensorboard writes a folder; "
                             "give --out a folder name.")
    if out.exists() and not force:
        raise LandscapeError(f"{out} already exists; pass --force to replace it, or choose another --out.")
    if folder and out.is_dir() and any(not (entry.is_file() and entry.name.startswith(EVENT_FILE_PREFIX))
                                       for entry in out.iterdir()):
        raise LandscapeError(f"{out} is a folder that holds more than TensorBoard event files, so even --force "
                             "will not replace it; choose another --out.")
    parent = out.parent if str(out.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise LandscapeError(f"Cannot write {out}: {parent} is a file, not a folder; choose another --out.")
    if not parent.is_dir():
        raise LandscapeError(f"Cannot write {out}: the folder {parent} does not exist; create it or choose "
                             "another --out.")
    if not os.access(parent, os.W_OK):
        raise LandscapeError(f"Cannot write {out}: permission denied; choose an --out you can write to.")


def export(
    run_path: Annotated[
        Path, typer.Argument(metavar="RUN.h5", help="The run file to export.", show_default=False),
    ],
    fmt: Annotated[
        Optional[str],
        typer.Option("--format", "-f", help="Output format. (default: from --out's suffix, .csv or .parquet, "
                     "else csv)", show_default=False, **choices(FORMATS)),
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="File (csv, parquet) or folder (tensorboard) to write. (default: next "
                     "to the run: <stem>.csv, <stem>.parquet or <stem>-tensorboard/)", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output.")] = False,
) -> None:
    """Export a run's per-iteration metrics (every field) to CSV, Parquet or TensorBoard event files."""
    _export(run_path, fmt, out, force)


def _export(run_path: Path, fmt: Optional[str], out: Optional[Path], force: bool) -> None:
    """The command's work: options, the run, then :func:`landscape.export.export_run`; paths print as plain text."""
    from landscape.cli.console import console, error_console
    from landscape.errors import LandscapeError, unknown_choice
    from landscape.export import default_output, format_for_path, require_package

    fmt = (fmt if fmt is not None else format_for_path(out)).lower()
    if fmt not in FORMATS:
        raise LandscapeError(unknown_choice("--format", fmt, FORMATS))
    require_package(fmt)

    from landscape.reader import open_run

    run = open_run(run_path).require_iterations()  # a missing or wrong run file is the first thing to say
    out = out if out is not None else default_output(run_path, fmt)
    _check_options(fmt, out, force, run_path)
    if run.status == "running" and run.writer_alive:
        error_console.print(f"Note: {run.path} is still being written; exporting its {run.n_iterations:,} "
                            "iterations so far.", markup=False, highlight=False)
    elif run.status == "running":
        error_console.print(f"Note: {run.path} says 'running' but its writer is gone (killed?); exporting its "
                            f"{run.n_iterations:,} recorded iterations.", markup=False, highlight=False)
    elif run.status != "finished":
        error_console.print(f"Note: {run.path} ended {run.status}; exporting its {run.n_iterations:,} recorded "
                            "iterations.", markup=False, highlight=False)

    from landscape.export import export_run, scalar_fields

    written = export_run(run, fmt, out, overwrite=force)
    if fmt == "tensorboard":
        what = f"{run.n_iterations:,} steps x {len(scalar_fields(run.metrics))} scalars and the config"
    else:
        what = f"{run.n_iterations:,} rows x {len(run.fields)} fields"
    console.print(f"Wrote {written} ({fmt}, {what}).", markup=False, highlight=False, soft_wrap=True)

#: The commands this module adds to ``landscape`` (name -> function, or a typer app for a group); see landscape.cli.
COMMANDS = {"export": export}
