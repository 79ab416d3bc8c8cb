"""`landscape report RUN.h5 [RUN2.h5 ...]` or `landscape report SWEEP`: is training approaching a stationary point?

A thin face over :func:`analysis.stationarity.stationarity_report`: a verdict per
network first, then the tables (per-stage summaries, near-stationary iterations,
trend tests, stagnation, curvature), as text, Markdown or JSON, on stdout or
into ``--out``; ``--figure`` draws gradient norm against iteration with the
stages shaded and the thresholds drawn. Given a sweep's folder, it prints one table
instead (:func:`analysis.stationarity.sweep_verdicts`): the factors, then each run's
verdicts and last sample quality, and the verdict counts per value of the first factor.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from landscape.cli.lgc import open_arguments, palette_names
from landscape.cli.options import THREADS_HELP, choices, completion
from landscape.stages import DEFAULT_STAGES

FORMATS = ("text", "markdown", "json")
SUFFIX_FORMATS = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".txt": "text"}


def _check_options(fmt: str, threshold: float, relative_threshold: float, alpha: float,
                   min_change: float, max_points: int, window: Optional[int], noise_factor: float) -> None:
    from landscape.errors import LandscapeError, unknown_choice

    checks = [
        (fmt in FORMATS, unknown_choice("--format", fmt, FORMATS)),
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
        typer.Argument(metavar="RUN.h5|SWEEP", help="Run files to report on (one section of every table each), or "
                       "a sweep's folder (one verdict table, factor columns first).", show_default=False),
    ],
    fmt: Annotated[
        Optional[str],
        typer.Option("--format", "-f", help="Output format. (default: from --out's suffix, .md or .json, else text)",
                     show_default=False, **choices(FORMATS)),
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
    stages: Annotated[int, typer.Option(help="Number of equal training stages (as in `landscape lgc`).")] = DEFAULT_STAGES,
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
        str, typer.Option(help="Stage colours of --figure: 'paper' or a matplotlib/seaborn palette.",
                          metavar="PALETTE", **completion(palette_names))
    ] = "paper",
    threads: Annotated[Optional[int], typer.Option(help=THREADS_HELP, show_default=False)] = None,
) -> None:
    """Report whether training approaches stationarity: verdicts per network, then per-stage tables.

    Given a sweep's folder: one table of every run's verdicts, factor columns first.
    """
    from landscape.cli.console import console, error_console
    from landscape.cli.options import (
        check_figure_path,
        check_stages,
        check_threads,
        check_text_path,
        save_figure,
        use_file_backend,
        write_text,
    )

    if fmt is None:
        fmt = SUFFIX_FORMATS.get(out.suffix.lower(), "text") if out is not None else "text"
    fmt = fmt.lower()
    check_stages(stages)
    check_threads(threads)
    _check_options(fmt, threshold, relative_threshold, alpha, min_change, max_points, window, noise_factor)
    if out is not None:
        check_text_path(out)
    if figure is not None:
        from analysis.palettes import stage_colors

        check_figure_path(figure, "--figure")
        stage_colors(stages, palette)  # an unknown palette fails before any run is read

    from landscape.sweeps.index import Sweep

    collection = open_arguments(runs, "report")
    sweep = isinstance(collection, Sweep)
    for run in collection:
        run.require_iterations()
        if run.status != "finished" and not sweep:  # a sweep's table has a status column
            error_console.print(f"Note: {run.path} is {run.status_text}; reporting its {run.n_iterations:,} "
                                "recorded iterations.", highlight=False, soft_wrap=True)

    from analysis.stationarity import stationarity_report, sweep_verdicts
    from trainers.threads import resolve_threads, torch_threads

    options = {"stages": stages, "absolute_threshold": threshold, "relative_threshold": relative_threshold,
               "alpha": alpha, "min_change": min_change, "max_points": max_points, "window": window,
               "noise_factor": noise_factor}
    with torch_threads(resolve_threads(threads, str(collection[0].config.get("arch")))):  # ||Hg|| from checkpoints
        result = sweep_verdicts(collection, **options) if sweep else stationarity_report(collection, **options)
    from analysis.game.report import game_section

    game = None if sweep else game_section(collection, stages, fmt)  # the game Jacobian's labels per stage
    if fmt == "json":
        import json

        data = result.to_dict()
        if game:
            data["game"] = game
        text = json.dumps(data, indent=2) + "\n"
    else:
        text = (result.to_markdown() if fmt == "markdown" else result.to_text()) + (game or "")

    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_text(out, text)
        what = f"a sweep of {len(collection)} run(s)" if sweep else f"{len(collection)} run(s)"
        console.print(f"Wrote {out} ({fmt}, {what}).", highlight=False)

    if figure is not None:
        use_file_backend()
        from analysis.stationarity import stationarity_figure

        save_figure(stationarity_figure(result.report if sweep else result, palette=palette), figure)
        (error_console if out is None else console).print(f"Wrote {figure}.", highlight=False)

#: The commands this module adds to ``landscape`` (name -> function, or a typer app for a group); see landscape.cli.
COMMANDS = {"report": report}
