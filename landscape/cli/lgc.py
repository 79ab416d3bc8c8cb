"""`landscape lgc`: draw loss-gradient clouds of one or more run files, or of a sweep, into an image.

A thin face over :func:`analysis.lgc.lgc_figure` (one row per run, one column per
network), :func:`analysis.lgc.lgc_grid` (``--row``/``--col``: one panel per factor
value, pooling the runs that share it) and, with ``--timeline``,
:func:`analysis.timeline.timeline_figure`. The argument may be a sweep's folder
(``landscape sweep SPEC.toml --out DIR``). It reads runs that are still being written
and runs whose writer was killed: a run file holds every row up to its writer's last flush.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from landscape.cli.options import choices, completion
from landscape.networks import NETWORKS
from landscape.stages import DEFAULT_STAGES

#: Draw orders of ``--order`` (the library's ``analysis.lgc.ORDERS``; a test checks they agree).
ORDERS = ("stage", "reverse", "shuffled")


if TYPE_CHECKING:  # pragma: no cover
    from landscape.reader import RunCollection


def open_arguments(paths: list[Path], command: str) -> "RunCollection":
    """The runs the positional arguments name: a sweep (one argument, a sweep's folder) or run files.

    A sweep's runs that have not recorded an iteration yet are left out (with a note on
    stderr), so a sweep can be looked at while it runs; one sentence when none has.
    """
    from landscape.cli.console import error_console
    from landscape.errors import LandscapeError
    from landscape.reader import open_runs
    from landscape.sweeps.index import Sweep, is_sweep_folder, open_sweep

    if len(paths) == 1 and is_sweep_folder(paths[0]):
        sweep = open_sweep(paths[0])
        empty = [run.name for run in sweep if run.n_iterations == 0]
        if len(empty) == len(sweep):
            raise LandscapeError(f"No run of the sweep in {paths[0]} has recorded an iteration yet; wait until its "
                                 "runs have logged some.")
        if empty:
            error_console.print(f"Note: leaving out {len(empty)} run(s) of the sweep with no iterations yet "
                                f"({', '.join(empty[:3])}{', ...' if len(empty) > 3 else ''}).", highlight=False,
                                soft_wrap=True)
            sweep = Sweep([run for run in sweep if run.n_iterations > 0], sweep.folder, sweep.factors, sweep.index)
        return sweep
    folders = [path for path in paths if is_sweep_folder(path)]
    if folders:
        raise LandscapeError(f"{folders[0]} is a sweep's folder; give it alone (landscape {command} {folders[0]}), "
                             "or give run files.")
    return open_runs(paths)


def say_what_panels_hold(grid: Any, row: Optional[str], col: Optional[str], network_given: bool) -> None:
    """On stderr, one line each: the factors a faceted grid pools within its panels (and the flag that would
    separate one), and, with --col and no --network, the one network every panel shows. The figure says both
    under its title (``grid.note``)."""
    from analysis.lgc import pooled_text
    from landscape.cli.console import error_console

    if grid.pooled:
        first = next(iter(grid.pooled))
        free = "--col" if col is None else "--row" if row is None else None
        how = (f"give {free} {first} to separate them" if free is not None
               else "draw them apart with `landscape lgc` on the run files, one row each")
        error_console.print(f"Note: each panel pools runs that differ in {', '.join(grid.pooled)} "
                            f"({pooled_text(grid.pooled)}); {how}.", highlight=False, soft_wrap=True)
    if col is not None and not network_given:
        from landscape.networks import label

        error_console.print(f"Note: with --col every panel shows one network, the {label(grid.network, False)} "
                            f"({grid.network}); choose another with --network.", highlight=False, soft_wrap=True)


def palette_names() -> list[str]:
    """Palette names for shell completion (imports matplotlib and seaborn only when completing)."""
    from analysis.palettes import palette_names as names

    return names()


def lgc(
    runs: Annotated[
        list[Path],
        typer.Argument(metavar="RUN.h5|SWEEP", help="Run files to draw, one row of panels each; or a sweep's folder "
                       "(`landscape sweep --out`).", show_default=False),
    ],
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="Image to write: .png, .pdf or .svg. (default: <first run>-lgc.png)",
                     show_default=False),
    ] = None,
    network: Annotated[
        Optional[list[str]],
        typer.Option("--network", "-n", metavar="NAME", **completion(NETWORKS),
                     help=f"Network panel(s), repeatable: {', '.join(NETWORKS)} for a GAN run, or any network the "
                     "run records. (default: the paper's panels g, d_real, d_fake, d for a GAN run, else every "
                     "network it records)", show_default=False),
    ] = None,
    row: Annotated[
        Optional[str],
        typer.Option("--row", metavar="FACTOR", help="One row of panels per value of this factor (a sweep's factor, "
                     "or any config setting, e.g. optimizer), each panel pooling the runs with that value; the "
                     "columns are the networks, or --col's values.", show_default=False),
    ] = None,
    col: Annotated[
        Optional[str],
        typer.Option("--col", metavar="FACTOR", help="One column per value of this factor, every panel showing one "
                     "network (--network, default g).", show_default=False),
    ] = None,
    stages: Annotated[int, typer.Option(help="Number of equal training stages to colour.")] = DEFAULT_STAGES,
    palette: Annotated[
        str, typer.Option(help="'paper' (purple, orange, black, green, yellow) or a matplotlib/seaborn palette.",
                          metavar="PALETTE", **completion(palette_names))
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
    order: Annotated[
        str, typer.Option(help="Which points end up on top: stage (later stages on top, the paper's), reverse "
                          "(earlier stages on top) or shuffled (one random, seeded order: no stage hides another).",
                          **choices(ORDERS))
    ] = "stage",
    facet_stages: Annotated[
        bool, typer.Option("--facet-stages", help="One panel per stage for each run and network, the whole cloud "
                           "in light grey behind the stage's points, axes shared within a run and network.")
    ] = False,
    share_x: Annotated[bool, typer.Option("--share-x", help="Same loss axis in every panel of a column.")] = False,
    share_y: Annotated[
        bool, typer.Option("--share-y", help="Same gradient-norm axis in every panel of a column.")
    ] = False,
    dpi: Annotated[int, typer.Option(help="Resolution (PNG, and the rasterized clouds of PDF/SVG).")] = 150,
    title: Annotated[Optional[str], typer.Option(help="Title above the figure.", show_default=False)] = None,
    timeline: Annotated[
        Optional[Path],
        typer.Option(help="Also write loss and gradient norm against iteration (stages shaded) to this "
                     ".png/.pdf/.svg file, with a sample-quality panel when the run has measurements.",
                     show_default=False),
    ] = None,
    annotate: Annotated[
        Optional[str],
        typer.Option(help="Show a sample-quality metric (class_kl, inception_score, classes_covered, "
                     "frechet_distance, recall, ...; a toy's modes_covered) beside each stage in the legends: its "
                     "last measurement in that stage.", metavar="METRIC", show_default=False),
    ] = None,
) -> None:
    """Draw loss-gradient clouds: gradient norm against loss, one point per iteration, coloured by stage.

    Give a sweep's folder and --row/--col to compare its factors: each panel pools the runs with one value.
    """
    from landscape.cli.console import console
    from landscape.cli.options import check_figure_path, check_stages, save_figure, use_file_backend
    from landscape.errors import LandscapeError

    check_stages(stages)
    if order not in ORDERS:
        from landscape.errors import unknown_choice

        raise LandscapeError(unknown_choice("--order", order, ORDERS))
    if not 10 <= dpi <= 2400:
        raise LandscapeError(f"--dpi must be between 10 and 2400, got {dpi}.")
    from analysis.lgc import check_quantile_range
    from analysis.palettes import stage_colors

    stage_colors(stages, palette)  # an unknown palette fails before any run is read
    if quantile_range is not None:
        check_quantile_range(quantile_range)
    out = check_figure_path(out if out is not None else Path(f"{runs[0].stem}-lgc.png"))
    if timeline is not None:
        check_figure_path(timeline, "--timeline")

    faceted = row is not None or col is not None
    if faceted:
        given = "--row" if row is not None else "--col"
        if facet_stages:
            raise LandscapeError(f"--facet-stages draws one row per run; it does not go with {given}.")
        if annotate is not None:
            raise LandscapeError(f"--annotate labels one run's stages per row; it does not go with {given}.")
        if row is not None and row == col:
            raise LandscapeError(f"--row and --col are both {row}; give --col another factor, or leave it out.")
        if col is not None and network and len(network) > 1:
            raise LandscapeError(f"With --col every panel shows one network; give --network once, not {len(network)} "
                                 "times.")

    from landscape.sweeps.index import Sweep

    collection = open_arguments(runs, "lgc")
    for run in collection:
        run.require_iterations()
        if run.status != "finished" and not isinstance(collection, Sweep):
            console.print(f"Note: {run.path} is {run.status_text}; drawing its {run.n_iterations:,} recorded "
                          "iterations.", highlight=False, soft_wrap=True)

    use_file_backend()
    shared = {"stages": stages, "palette": palette, "log_x": log_x, "log_y": log_y, "quantile_range": quantile_range,
              "xlim": xlim, "ylim": ylim, "order": order, "sharex": "col" if share_x else False,
              "sharey": "col" if share_y else False, "suptitle": title}
    if faceted:
        from analysis.lgc import lgc_grid

        grid = lgc_grid(collection, row=row, col=col, network=list(network) if network else None, **shared)
        say_what_panels_hold(grid, row, col, network_given=bool(network))
    else:
        from analysis.lgc import lgc_figure

        grid = lgc_figure(collection, list(network) if network else None, facet_stages=facet_stages,
                          annotate=annotate.strip().lower() if annotate else None, **shared)
    save_figure(grid.figure, out, dpi)
    networks = 1 if col is not None else len(grid.col_names)
    points = sum(run.n_iterations for run in collection) * networks
    if faceted:
        nrows, ncols = grid.axes.shape[:2]
        by = ", ".join(f"{what} by {factor}" for what, factor in (("rows", row), ("columns", col)) if factor)
        console.print(f"Wrote {out} ({nrows} x {ncols} panel(s), {by}; {len(collection)} run(s), {points:,} points).")
    else:
        layout = (f"{networks} network(s) x {grid.axes.shape[2]} stage panel(s)" if facet_stages
                  else f"{networks} panel(s)")
        console.print(f"Wrote {out} ({len(collection)} run(s) x {layout}, {points:,} points).")

    if timeline is not None:
        from analysis.timeline import timeline_figure

        fig = timeline_figure(collection, stages=stages, palette=palette, suptitle=title)
        save_figure(fig, timeline, dpi)
        quality = any(not run.quality.empty for run in collection)
        what = "loss, gradient norm and sample quality" if quality else "loss and gradient norm"
        console.print(f"Wrote {timeline} ({what} against iteration).")

#: The commands this module adds to ``landscape`` (name -> function, or a typer app for a group); see landscape.cli.
COMMANDS = {"lgc": lgc}
