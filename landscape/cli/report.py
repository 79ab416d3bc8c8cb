"""`landscape report RUN.h5 [RUN2.h5 ...]`: is training approaching a stationary point?

A thin face over :func:`analysis.stationarity.stationarity_report`: a verdict per
network first, then the tables (per-stage summaries, near-stationary iterations,
trend tests, stagnation, curvature), as text, Markdown or JSON, on stdout or
into ``--out``; ``--figure`` draws gradient norm against iteration with the
stages shaded and the thresholds drawn.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

FORMATS = ("text", "markdown", "json")
SUFFIX_FORMATS = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".txt": "text"}


def check_text_path(path: Path) -> Path:
    """Fail early, in one sentence, on an ``--out`` path that cannot be written."""
    from landscape.errors import LandscapeError

    if path.is_dir():
        raise LandscapeError(f"Cannot write {path}: it is a directory; give --out a file name such as {path / 'report.txt'}.")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise LandscapeError(f"Cannot write {path}: the directory {parent} does not exist; create it or choose another path.")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise LandscapeError(f"Cannot write {path}: permission denied; choose a path you can write to.")
    return path


def _check_options(fmt: str, stages: int, threshold: float, relative_threshold: float, alpha: float,
                   min_change: float, max_points: int, window: Optional[int], noise_factor: float) -> None:
    from landscape.errors import LandscapeError

    checks = [
        (fmt in FORMATS, f"Unknown --format {fmt!r}: choose text, markdown or json."),
        (stages >= 1, f"--stages must be at least 1, got {stages}."),
        (threshold >= 0, f"--threshold must be a gradient norm of 0 or more, got {threshold:g}."),
        (relative_threshold >= 0, f"--relative-threshold must be 0 or more, got {relative_threshold:g}."),
        (0 < alpha < 1, f"--alpha must be between 0 and 1, got {alpha:g}."),
        (min_change >= 0, f"--min-change must be 0 or more, got {min_change:g}."),
        (max_points >= 8, f"--max-points must be at least 8, got {max_points}."),
        (window is None or window >= 2, f"--window must be at least 2 iterations, got {window}."),
        (noise_factor > 0, f"--noise-factor must be positive, got {noise_factor:g}."),
    ]
    for ok, message in checks:
        if not ok:
            raise LandscapeError(message)


def report(
    runs: Annotated[
        list[Path],
        typer.Argument(metavar="RUN.h5", help="Run files to report on (one section of every table each).",
                       show_default=False),
    ],
    fmt: Annotated[
        Optional[str],
        typer.Option("--format", "-f", help="text, markdown or json. (default: from --out's suffix, .md or .json, "
                     "else text)", show_default=False),
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="Write the report to this file instead of stdout.", show_default=False),
    ] = None,
    figure: Annotated[
        Optional[Path],
        typer.Option(help="Also draw gradient norm against iteration (log scale, stages shaded, thresholds "
                     "drawn) into this .png/.pdf/.svg file.", show_default=False),
    ] = None,
    stages: Annotated[int, typer.Option(help="Number of equal training stages (as in `landscape lgc`).")] = 5,
    threshold: Annotated[
        float, typer.Option(help="Absolute gradient norm below which an iteration counts as near-stationary.")
    ] = 1e-2,
    relative_threshold: Annotated[
        float, typer.Option(help="Near-stationary threshold as a multiple of the network's stage-1 median "
                            "gradient norm.")
    ] = 0.1,
    alpha: Annotated[float, typer.Option(help="Significance level of the Mann-Kendall trend tests.")] = 0.05,
    min_change: Annotated[
        float, typer.Option(help="Smallest fitted relative change of the gradient norm over a stage that counts "
                            "as a trend (0.1 = 10%).")
    ] = 0.1,
    max_points: Annotated[
        int, typer.Option(help="Rank tests use an even subsample of at most this many iterations per series.")
    ] = 1000,
    window: Annotated[
        Optional[int],
        typer.Option(help="Stagnation window in iterations. (default: a hundredth of the run, 10 to 500)",
                     show_default=False),
    ] = None,
    noise_factor: Annotated[
        float, typer.Option(help="A window stagnates when the loss's std in it is below this multiple of the "
                            "loss's noise.")
    ] = 1.5,
    palette: Annotated[
        str, typer.Option(help="Stage colours of --figure: 'paper' or a matplotlib/seaborn palette.")
    ] = "paper",
) -> None:
    """Report whether training approaches stationarity: verdicts per network, then per-stage tables."""
    from landscape.cli.console import console, error_console
    from landscape.errors import LandscapeError

    if fmt is None:
        fmt = SUFFIX_FORMATS.get(out.suffix.lower(), "text") if out is not None else "text"
    fmt = fmt.lower()
    _check_options(fmt, stages, threshold, relative_threshold, alpha, min_change, max_points, window, noise_factor)
    if out is not None:
        check_text_path(out)
    if figure is not None:
        from landscape.cli.lgc import check_output_path

        check_output_path(figure, "--figure")

    from landscape.reader import open_runs

    collection = open_runs(runs)
    for run in collection:
        if run.n_iterations == 0:
            raise LandscapeError(f"{run.path} has no iterations yet; wait until the trainer has logged some, "
                                 "or check the path.")
        if run.status != "finished":
            error_console.print(f"Note: {run.path} is {run.status}; reporting its {run.n_iterations:,} "
                                "iterations so far.", highlight=False)

    from analysis.stationarity import stationarity_report

    result = stationarity_report(
        collection, stages=stages, absolute_threshold=threshold, relative_threshold=relative_threshold,
        alpha=alpha, min_change=min_change, max_points=max_points, window=window, noise_factor=noise_factor,
    )
    if fmt == "json":
        import json

        text = json.dumps(result.to_dict(), indent=2) + "\n"
    else:
        text = result.to_markdown() if fmt == "markdown" else result.to_text()

    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as err:
            raise LandscapeError(f"Cannot write {out}: {err.strerror or err}; choose a path you can write to.") from None
        console.print(f"Wrote {out} ({fmt}, {len(collection)} run(s)).", highlight=False)

    if figure is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from analysis.stationarity import report_figure

        fig = report_figure(result, palette=palette)
        try:
            fig.savefig(figure, dpi=150)
        except OSError as err:
            raise LandscapeError(f"Cannot write {figure}: {err.strerror or err}; choose a path you can write to.") from None
        finally:
            plt.close(fig)
        (error_console if out is None else console).print(f"Wrote {figure}.", highlight=False)
