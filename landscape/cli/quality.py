"""`landscape quality`: sample quality of a run's generator at its stored checkpoints, stored in the run file.

A thin face over :mod:`analysis.quality`: the dataset's domain classifier comes
from the cache (trained on first use, with a progress bar and a note), each chosen
checkpoint's generator is rebuilt and measured, and each measurement is written
into the run file's ``/quality`` group as soon as it is done (atomically), so an
interrupted command keeps what it finished. Then a table is printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from landscape.cli.options import DeviceOption, SeedOption, StagesOption, StepsOption, ThreadsOption
from landscape.stages import DEFAULT_STAGES

CLASSIFIER_HELP = ("Domain classifier weights file (from `landscape classifier train --out`). (default: the cached "
                   "one for the run's dataset, trained on first use)")
INCEPTION_FID_HELP = ("Also measure papers' FID (Inception-v3 features, torch-fidelity's network; needs its weights "
                      "file), stored apart as /inception/<step>, metric inception_fd. Minutes per 1,000 images on a "
                      "CPU.")
INCEPTION_WEIGHTS_HELP = ("The Inception weights file pt_inception-2015-12-05-6726825d.pth (implies --inception-fid). "
                          "(default: $LANDSCAPE_INCEPTION_WEIGHTS, else <landscape cache>/inception/)")
ANY_WEIGHTS_HELP = ("Accept an Inception weights file that is not papers' (another SHA-256); its FIDs compare with "
                    "nothing published, and the rows name the file by its SHA-256.")


def quality(
    run_file: Annotated[Path, typer.Argument(metavar="RUN.h5", help="Run file with checkpoints.", show_default=False)],
    steps: StepsOption = None,
    samples: Annotated[
        Optional[int],
        typer.Option(help="Generated images per measurement. (default: the run's quality_samples, 10,000)",
                     show_default=False),
    ] = None,
    real_samples: Annotated[
        Optional[int], typer.Option("--real-samples", help="Real test images compared. (default: all, 10,000)",
                                    show_default=False)
    ] = None,
    classifier: Annotated[Optional[Path], typer.Option(help=CLASSIFIER_HELP, show_default=False)] = None,
    inception_fid: Annotated[bool, typer.Option("--inception-fid", help=INCEPTION_FID_HELP)] = False,
    inception_weights: Annotated[
        Optional[Path], typer.Option("--inception-weights", help=INCEPTION_WEIGHTS_HELP, show_default=False)
    ] = None,
    any_inception_weights: Annotated[bool, typer.Option("--any-inception-weights", help=ANY_WEIGHTS_HELP)] = False,
    seed: SeedOption = 0,
    stages: StagesOption = DEFAULT_STAGES,
    device: DeviceOption = "auto",
    threads: ThreadsOption = None,
) -> None:
    """Measure sample quality (IS, class KL, FD, precision/recall; papers' FID on request) at checkpoints; store it."""
    from landscape.cli.console import console
    from landscape.cli.options import check_measure_options, checkpoints_to_measure, measure_device, measuring
    from landscape.errors import LandscapeError

    check_measure_options(stages, threads)
    for name, value in (("--samples", samples), ("--real-samples", real_samples)):
        if value is not None and value < 10:
            raise LandscapeError(f"{name} must be at least 10, got {value}.")
    from analysis.quality.checkpoints import check_rebuildable

    run, chosen = checkpoints_to_measure(run_file, steps, "quality", check=check_rebuildable)
    from landscape.data.toys import is_toy

    dataset = str(run.config["dataset"])
    toy = is_toy(dataset)
    weights = None  # papers' Inception weights, checked before anything is measured
    if inception_fid or inception_weights is not None or any_inception_weights:
        weights = _inception_weights(dataset, toy, inception_weights, any_inception_weights)
    reference = None
    if not toy:
        from analysis.quality.classifiers import check_sample_size, resolve_reference

        reference = resolve_reference(dataset, run.config.get("data_dir"), classifier, console)
        check_sample_size(samples if samples is not None else int(run.config.get("quality_samples", 10_000)),
                          reference, "generated")
        if real_samples is not None:
            check_sample_size(real_samples, reference, "real")
    device = measure_device(device)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from analysis.quality.checkpoints import measure_checkpoint
    from analysis.runs import measured_stage

    results = []
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)
    with progress, measuring(run, device, threads):
        task = progress.add_task("quality", total=len(chosen))
        for step in chosen:
            progress.update(task, description=f"step {step}")
            values = measure_checkpoint(run, step, reference, n=samples, n_real=real_samples, seed=seed, device=device)
            if weights is not None:
                from analysis.quality.inception_fd import measure_inception_checkpoint

                progress.update(task, description=f"step {step}: Inception FD")
                values = {**values, **measure_inception_checkpoint(run, step, weights, n=samples, n_real=real_samples,
                                                                   seed=seed, device=device)}
            results.append((step, values))
            progress.update(task, advance=1)
    console.print(_table(results, dict(zip(chosen, measured_stage(run, chosen, stages).tolist()))))
    console.print(legend(reference), highlight=False, soft_wrap=True)
    where = "/quality" if weights is None else "/quality and /inception (open_run(path).measurements('inception'))"
    if weights is not None:
        console.print(inception_legend(weights), highlight=False, soft_wrap=True)
    console.print(f"Stored {len(results)} measurement(s) in [bold]{run_file}[/] under {where}.", highlight=False,
                  soft_wrap=True)


def _inception_weights(dataset: str, toy: bool, path: Optional[Path], allow_other: bool) -> Any:
    """The checked Inception weights for ``--inception-fid``, and the network's library importable: one sentence
    before anything is measured if either is missing."""
    from landscape.errors import LandscapeError

    if toy:
        raise LandscapeError(f"--inception-fid measures images; {dataset} is a 2-D toy.")
    from analysis.quality.inception import check_inception_weights, inception_class, load_inception

    inception_class()
    weights = check_inception_weights(path, allow_other=allow_other)
    load_inception(weights)  # its tensors fit the network: refused now, not after the classifier's measurements
    return weights


def inception_legend(weights: Any) -> str:
    """What the FID column is, which weights measured it, and a plain warning when they are not papers'."""
    text = (f"FID: Inception FD (papers' FID) in the features of {weights.identity[:48]}..., against the dataset's "
            "test images; not comparable with FD, the domain classifier's.")
    if not weights.official:
        text += " THESE ARE NOT PAPERS' INCEPTION WEIGHTS: the FIDs mean nothing outside this file."
    return text


def legend(reference: Any) -> str:
    """What the table's short column names mean, and which classifier measured."""
    if reference is None:
        return "modes: modes covered; HQ: fraction of points within 3 standard deviations of a mode."
    return (f"{reference.dataset} classifier {reference.key} at {100 * reference.accuracy:.2f}% test accuracy. IS: "
            "classifier Inception Score; KL: KL(p_gen || p_real) of predicted classes; classes: classes covered; FD "
            "(Frechet distance), KID (kernel distance, mean and sd over 100 subsets of 1,000), precision, recall, "
            "density and coverage on its penultimate features against the real test images.")


def _table(results: list[tuple[int, dict[str, float]]], stage_of: dict[int, int]) -> Any:
    from rich import box
    from rich.table import Table

    from landscape.metric_names import COUNTED, METRIC_SHORT

    names = list(results[0][1]) if results else []
    table = Table(title="Sample quality", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                  collapse_padding=True)
    table.add_column("step", justify="right")
    table.add_column("stage", justify="right")
    for name in names:
        table.add_column(METRIC_SHORT.get(name, name), justify="right")
    for step, values in results:
        cells = [f"{int(v)}" if name in COUNTED else f"{v:.4g}" for name, v in values.items()]
        table.add_row(str(step), str(stage_of.get(step, "")), *cells)
    return table

#: The commands this module adds to ``landscape`` (name -> function, or a typer app for a group); see landscape.cli.
COMMANDS = {"quality": quality}
