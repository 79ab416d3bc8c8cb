"""`landscape surface` and `landscape walk`: loss slices and gradient-walk clouds around a run's checkpoints.

Thin faces over :mod:`analysis.surface`. ``surface`` evaluates one player's probe loss on a 1-D or
2-D grid of directions around a checkpoint (filter-normalised, random, top Hessian eigenvectors,
the checkpoints' PCA plane, or the line to another checkpoint), storing the grid in the run file
as it goes (atomically, every ``--save-every`` seconds and when interrupted), so Ctrl-C keeps what
it has and the same command continues it. ``walk`` samples progressive gradient walks from a
checkpoint and draws them as a loss-gradient cloud over the training cloud of that stage.
Every refusal is one sentence, before the run file is changed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from landscape.cli.options import DeviceOption, StagesOption, ThreadsOption, choices
from landscape.networks import PARAMETER_NETWORKS
from landscape.stages import DEFAULT_STAGES

#: ``--step``: the checkpoint(s) to measure around.
StepOption = Annotated[
    list[str],
    typer.Option("--step", metavar="STEP", help="Checkpoint step to measure around: a step such as 936, first, "
                 "last, or all (every checkpoint: with --plot, one panel each, side by side); repeatable."),
]
NetworkOption = Annotated[str, typer.Option("--network", help="g (generator) or d (discriminator).",
                                            **choices(PARAMETER_NETWORKS))]
PlotOption = Annotated[Optional[Path], typer.Option("--plot", help="Also draw into this .png/.pdf/.svg.",
                                                    show_default=False)]


def _check_network(network: str) -> str:
    from landscape.errors import LandscapeError, unknown_choice

    network = network.strip().lower()
    if network not in PARAMETER_NETWORKS:
        raise LandscapeError(unknown_choice("--network", network, PARAMETER_NETWORKS))
    return network


def _parse_batch(text: str) -> Any:
    from landscape.errors import LandscapeError

    text = str(text).strip().lower()
    if text == "probe":
        return "probe"
    try:
        value = int(text)
    except ValueError:
        raise LandscapeError(f"--batch must be probe or a number of images, got {text!r}.") from None
    if value < 1:
        raise LandscapeError(f"--batch must be probe or a number of images of at least 1, got {value}.")
    return value


def surface(
    run_file: Annotated[Path, typer.Argument(metavar="RUN.h5", help="Run file with checkpoints and a probe batch.",
                                             show_default=False)],
    step: StepOption,
    network: NetworkOption = "g",
    dirs: Annotated[str, typer.Option("--dirs", metavar="[filter|random|hessian|pca|to:STEP]",
                                      help="Directions: filter-normalised random (Li et al.), random Gaussian, top "
                                           "Hessian eigenvectors, the checkpoints' PCA plane, or the line to the "
                                           "checkpoint STEP.")] = "filter",
    dims: Annotated[int, typer.Option("--dims", help="1 (a curve) or 2 (a plane).")] = 2,
    grid: Annotated[int, typer.Option("--grid", help="Grid points per side (2 to 1,001).")] = 41,
    value_range: Annotated[Optional[tuple[float, float]], typer.Option(
        "--range", metavar="LOW HIGH", help="Coordinate range of each axis. (default: -1 1; to:STEP -0.5 1.5; pca "
                                            "the checkpoints' extent and 20%)", show_default=False)] = None,
    batch: Annotated[str, typer.Option("--batch", help="probe (the run's probe batch) or N images of the run's "
                                                       "dataset with N fresh z.")] = "probe",
    plot: PlotOption = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random directions (and of a --batch N draw).")] = 0,
    save_every: Annotated[float, typer.Option("--save-every", help="Seconds between writes of the grid so far into "
                                                                   "the run file.")] = 30.0,
    hessian_products: Annotated[int, typer.Option("--hessian-products", help="Most Hessian-vector products for "
                                                                             "--dirs hessian.")] = 400,
    stages: StagesOption = DEFAULT_STAGES,
    device: DeviceOption = "cpu",
    threads: ThreadsOption = None,
) -> None:
    """Evaluate a player's loss on a 1-D or 2-D slice around a checkpoint; store it in the run and draw it."""
    from landscape.cli.console import console
    from landscape.cli.options import (check_figure_path, check_measure_options, checkpoints_to_measure,
                                       measure_device, measuring, save_figure, use_file_backend)
    from landscape.errors import LandscapeError

    network = _check_network(network)
    from analysis.surface.surface import check_grid, dirs_label, parse_dirs

    kind, other = parse_dirs(dirs)
    check_grid(grid, dims, value_range)
    batch_value = _parse_batch(batch)
    if save_every <= 0:
        raise LandscapeError(f"--save-every must be above 0 seconds, got {save_every:g}.")
    if hessian_products < 4:
        raise LandscapeError(f"--hessian-products must be at least 4, got {hessian_products}.")
    if plot is not None:
        check_figure_path(plot, "--plot")
    check_measure_options(stages, threads)
    run, chosen = checkpoints_to_measure(run_file, step, "surface")
    device = measure_device(device)

    from analysis.surface.read import stored_surface
    from analysis.surface.surface import fill_surface, plan_surface, resume_from
    from landscape.amend import append_measurement

    done = []
    with measuring(run, device, threads):
        for s in chosen:
            plan = plan_surface(run, s, network, dirs=dirs, dims=dims, grid=grid, value_range=value_range,
                                batch=batch_value, seed=seed, device=device, hessian_products=hessian_products)
            surf = plan.surface
            if resume_from(plan, stored_surface(run_file, s, network, dirs_label(kind, other), dims)):
                console.print(f"Continuing the stored {surf.key} surface at step {s:,}: {surf.points_done:,} of "
                              f"{surf.loss.size:,} points done.", highlight=False)
            last = [time.monotonic()]

            def save(current: Any) -> None:
                if time.monotonic() - last[0] >= save_every:
                    append_measurement(run_file, "surface", current.record())
                    last[0] = time.monotonic()

            try:
                fill_surface(plan, on_chunk=save)
            except KeyboardInterrupt:
                append_measurement(run_file, "surface", surf.record())
                console.print(f"Interrupted: stored {surf.points_done:,} of {surf.loss.size:,} points of the "
                              f"{surf.key} surface at step {s:,}; run the same command to continue.", highlight=False)
                raise typer.Exit(130) from None
            append_measurement(run_file, "surface", surf.record())
            rate = surf.loss.size / max(surf.seconds, 1e-9)
            console.print(f"step {s:,} {network}: {surf.key}, loss {surf.center_loss:.4g} at the checkpoint, "
                          f"{float(surf.loss.min()):.4g} to {float(surf.loss.max()):.4g} on the grid "
                          f"({surf.loss.size:,} points in {surf.seconds:.1f} s, {rate:,.0f}/s).", highlight=False)
            done.append(surf)
    console.print(f"Stored {len(done)} surface(s) in [bold]{run_file}[/] under /surface.", highlight=False,
                  soft_wrap=True)
    if plot is not None:
        use_file_backend()
        from analysis.surface.plot import stages_figure, surface_figure

        fig = surface_figure(done[0], run=run, stages=stages) if len(done) == 1 else \
            stages_figure(done, run=run, stages=stages)
        save_figure(fig, plot)
        console.print(f"Wrote {plot}.", highlight=False, soft_wrap=True)


def walk(
    run_file: Annotated[Path, typer.Argument(metavar="RUN.h5", help="Run file with checkpoints and a probe batch.",
                                             show_default=False)],
    step: StepOption,
    network: NetworkOption = "g",
    walks: Annotated[int, typer.Option("--walks", help="Number of walks.")] = 20,
    steps: Annotated[int, typer.Option("--steps", help="Steps per walk.")] = 100,
    step_size: Annotated[float, typer.Option("--step-size", help="Largest move of a weight per step, as a fraction "
                                                                 "of its initialisation range.")] = 0.01,
    plot: PlotOption = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the walks' random step lengths.")] = 0,
    stages: StagesOption = DEFAULT_STAGES,
    device: DeviceOption = "cpu",
    threads: ThreadsOption = None,
) -> None:
    """Sample progressive gradient walks from a checkpoint; store them and draw them over the training cloud."""
    from landscape.cli.console import console
    from landscape.cli.options import (check_figure_path, check_measure_options, checkpoints_to_measure,
                                       measure_device, measuring, save_figure, use_file_backend)

    network = _check_network(network)
    from analysis.surface.walk import check_walk_options, gradient_walks

    check_walk_options(walks, steps, step_size)
    if plot is not None:
        check_figure_path(plot, "--plot")
    check_measure_options(stages, threads)
    run, chosen = checkpoints_to_measure(run_file, step, "walk")
    from analysis.probe_loss import run_probe

    run_probe(run)
    device = measure_device(device)
    from landscape.amend import append_measurement

    done = []
    with measuring(run, device, threads):
        for s in chosen:
            result = gradient_walks(run, s, network, walks=walks, steps=steps, step_size=step_size, seed=seed,
                                    device=device)
            append_measurement(run_file, "walk", result.record())
            console.print(f"step {s:,} {network}: {walks} walks of {steps} steps in {result.seconds:.1f} s; loss "
                          f"{result.loss[0, 0]:.4g} -> {result.loss[:, -1].mean():.4g} (mean), gradient norm "
                          f"{result.grad_norm[0, 0]:.4g} -> {result.grad_norm[:, -1].mean():.4g}.", highlight=False)
            done.append(result)
    console.print(f"Stored {len(done)} walk set(s) in [bold]{run_file}[/] under /walk.", highlight=False,
                  soft_wrap=True)
    if plot is not None:
        use_file_backend()
        from analysis.surface.plot import walks_figure

        save_figure(walks_figure(run_file, [w.step for w in done], network, stages=stages), plot)
        console.print(f"Wrote {plot}.", highlight=False, soft_wrap=True)

#: The commands this module adds to ``landscape`` (name -> function, or a typer app for a group); see landscape.cli.
COMMANDS = {"surface": surface, "walk": walk}
