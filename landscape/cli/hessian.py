"""`landscape hessian`: Hessian eigenvalue estimates at a run's checkpoints, stored in the run file.

A thin face over :mod:`analysis.hessian`: for each chosen checkpoint and network
it rebuilds the networks from the run's config and weights, estimates the
extreme eigenvalues, trace, spectral density and curvature class on the run's
probe batch, and writes each estimate into the run file as soon as it is done
(atomically, through ``landscape.amend.append_measurement``), so an interrupted
command keeps what it finished. Then it prints a table and, with ``--plot``,
draws eigenvalues against step and the spectral densities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from landscape.cli.options import (DeviceOption, SeedOption, StagesOption, StepsOption, ThreadsOption, choices,
                                   completion)
from landscape.networks import PARAMETER_NETWORKS
from landscape.stages import DEFAULT_STAGES

#: --network choices: one network that owns parameters, or all of them.
NETWORK_CHOICES = {**{key: [key] for key in PARAMETER_NETWORKS}, "both": list(PARAMETER_NETWORKS)}


def _methods() -> list[str]:
    """The eigenvalue methods, for shell completion (imports the analysis only when completing)."""
    from analysis.hessian.eigen import METHODS

    return list(METHODS)


def _check_options(k: int, network: str, method: str, tol: float, class_tol: float, plot: Optional[Path]) -> None:
    from analysis.hessian.eigen import METHODS
    from landscape.errors import LandscapeError, unknown_choice

    if network not in NETWORK_CHOICES:
        raise LandscapeError(unknown_choice("--network", network, NETWORK_CHOICES))
    if method not in METHODS:
        raise LandscapeError(unknown_choice("--method", method, METHODS))
    if k < 1:
        raise LandscapeError(f"--k must be at least 1, got {k}.")
    if not 0 < tol < 1:
        raise LandscapeError(f"--tol must be between 0 and 1 (relative to the largest |eigenvalue|), got {tol}.")
    if not 0 <= class_tol < 1:
        raise LandscapeError(f"--class-tol must be in [0, 1) (relative to the largest |eigenvalue|), got {class_tol}.")
    if plot is not None:
        from landscape.cli.options import check_figure_path

        check_figure_path(plot, "--plot")


def _table(rows: list[Any], stage_of: dict[int, int], class_tol: float) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title="Hessian estimates", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  show_edge=False, collapse_padding=True)
    for name, justify in [("step", "right"), ("stage", "right"), ("net", "left"), ("λ_min", "right"),
                          ("λ_max", "right"), ("conv.", "right"), ("trace±s.e.", "right"), ("class", "left"),
                          ("HVPs", "right")]:
        table.add_column(name, justify=justify, no_wrap=name in ("class", "trace±s.e."))
    for r in rows:
        eig = r.eigen
        n_conv = int(eig.converged.sum())
        conv = f"{n_conv}/{len(eig.converged)}"
        conv = conv if n_conv == len(eig.converged) else f"[red]{conv}[/]"
        tr = r.trace
        trace = "-" if tr is None else (f"{tr.value:.4g}" if tr.stderr == 0 else f"{tr.value:.3g}±{tr.stderr:.2g}")
        cls = r.classification
        label = cls.label if cls.label == cls.curvature else f"{cls.label} ({cls.curvature})"
        table.add_row(
            str(r.step), str(stage_of.get(r.step, "")), r.network, f"{eig.lambda_min:.4g}", f"{eig.lambda_max:.4g}", conv,
            trace, label, f"{r.n_hvp:,}",
        )
    methods = sorted({r.eigen.method for r in rows})
    seconds = sum(r.seconds for r in rows)
    table.caption = (f"Eigenvalues by {', '.join(methods)} in {seconds:.0f} s; conv.: residual ≤ tol × max|λ|. "
                     f"Class tolerance: |λ| ≤ {class_tol:g} × max|λ| counts as zero; singular: such eigenvalues "
                     "hold at least half the spectral mass (sign class in brackets).")
    table.caption_justify = "left"
    return table


def hessian(
    run_file: Annotated[Path, typer.Argument(metavar="RUN.h5", help="Run file with checkpoints and a probe batch.",
                                             show_default=False)],
    steps: StepsOption = None,
    k: Annotated[int, typer.Option("--k", help="Eigenvalues at each end of the spectrum.")] = 5,
    network: Annotated[
        str, typer.Option(help="g (generator), d (discriminator) or both.", **choices(NETWORK_CHOICES))
    ] = "both",
    plot: Annotated[
        Optional[Path],
        typer.Option(help="Also draw eigenvalues against step and spectral densities into this .png/.pdf/.svg.",
                     show_default=False),
    ] = None,
    method: Annotated[str, typer.Option(help="auto (exact up to --exact-max-params, else lanczos), lanczos, "
                                        "eigsh or exact.", metavar="METHOD", **completion(_methods))] = "auto",
    tol: Annotated[float, typer.Option(help="Converged when residual ≤ tol × max|eigenvalue|.")] = 1e-4,
    exact_max_params: Annotated[int, typer.Option("--exact-max-params",
                                                  help="Largest network for the exact (full Hessian) mode.")] = 5000,
    trace_products: Annotated[int, typer.Option("--trace-products", help="Hutch++ products for the trace (0: skip).")] = 30,
    density_vectors: Annotated[int, typer.Option("--density-vectors",
                                                 help="Random vectors for the spectral density (0: skip).")] = 4,
    density_steps: Annotated[int, typer.Option("--density-steps", help="Lanczos steps per density vector.")] = 40,
    class_tol: Annotated[float, typer.Option("--class-tol", help="Eigenvalues within class-tol × max|eigenvalue| "
                                             "of zero count as zero when classifying.")] = 1e-3,
    stages: StagesOption = DEFAULT_STAGES,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    threads: ThreadsOption = None,
) -> None:
    """Estimate Hessian eigenvalues (both ends), trace and spectral density at checkpoints; store them in the run."""
    from landscape.cli.console import console
    from landscape.cli.options import (check_measure_options, checkpoints_to_measure, measure_device, measuring,
                                       save_figure, use_file_backend)

    network = network.strip().lower()
    method = method.strip().lower()
    _check_options(k, network, method, tol, class_tol, plot)
    check_measure_options(stages, threads)

    from analysis.probe_loss import run_probe
    from landscape.reader import open_run

    run, chosen = checkpoints_to_measure(run_file, steps, "hessian")
    run_probe(run)
    device = measure_device(device)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from analysis.hessian import estimate, store

    networks = NETWORK_CHOICES[network]
    jobs = [(s, n) for s in chosen for n in networks]
    options = dict(method=method, tol=tol, exact_max_params=exact_max_params, trace_products=trace_products,
                   density_vectors=density_vectors, density_steps=density_steps, class_tol=class_tol, seed=seed)
    results = []
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[hvps]}"), TimeElapsedColumn(), console=console, transient=False)
    with progress, measuring(run, device, threads):
        task = progress.add_task("Hessian", total=len(jobs), hvps="")
        for step, net in jobs:
            progress.update(task, description=f"step {step} {net}")
            result = estimate(run, step, net, k, device=device,
                              on_product=lambda n: progress.update(task, hvps=f"{n} HVPs"), **options)
            store(result, run_file)
            results.append(result)
            progress.update(task, advance=1, hvps="")
    console.print(_table(results, dict(zip(chosen, run.stage_of(chosen, stages).tolist())), class_tol))
    console.print(f"Stored {len(results)} estimate(s) in [bold]{run_file}[/] under /hessian.", highlight=False,
                  soft_wrap=True)
    if plot is not None:
        use_file_backend()
        from analysis.hessian.plot import hessian_figure

        save_figure(hessian_figure(open_run(run_file), networks, stages=stages), plot)
        console.print(f"Wrote {plot}.", highlight=False, soft_wrap=True)

#: The commands this module adds to ``landscape`` (name -> function, or a typer app for a group); see landscape.cli.
COMMANDS = {"hessian": hessian}
