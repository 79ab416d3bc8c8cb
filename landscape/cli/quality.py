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

from landscape.cli.options import THREADS_HELP

CLASSIFIER_HELP = ("Domain classifier weights file (from `landscape classifier train --out`). (default: the cached "
                   "one for the run's dataset, trained on first use)")


def resolve_reference(dataset: str, data_dir: Any, classifier: Optional[Path], console: Any) -> Any:
    """The run's quality reference: ``--classifier``'s file, else the cache's, else one trained now (with a bar)."""
    from analysis.quality.classifiers import get_reference, load_reference
    from landscape.errors import LandscapeError

    if classifier is not None:
        ref = load_reference(classifier)
        if ref.dataset != dataset:
            raise LandscapeError(f"{classifier} is a {ref.dataset} classifier, but the run's images are {dataset}; "
                                 f"give a {dataset} classifier.")
        return ref
    from landscape.cli.classifier import batch_progress

    def on_train(note: str) -> None:
        console.print(f"Note: {note}", highlight=False, soft_wrap=True)

    with batch_progress(f"{dataset} classifier") as tick:
        return get_reference(dataset, data_dir=data_dir, on_train=on_train, on_progress=tick)


def describe(values: dict[str, float]) -> str:
    """``IS 8.91, class KL 0.012, 10 classes, FD 4.1, precision 0.81, recall 0.62`` (or a toy's modes)."""
    if "modes_covered" in values:
        return f"{int(values['modes_covered'])} modes covered, {100 * values['high_quality']:.0f}% high quality"
    return (f"IS {values['inception_score']:.2f}, class KL {values['class_kl']:.3f}, "
            f"{int(values['classes_covered'])} classes, FD {values['frechet_distance']:.3g}, "
            f"precision {values['precision']:.2f}, recall {values['recall']:.2f}")


def quality(
    run_file: Annotated[Path, typer.Argument(metavar="RUN.h5", help="Run file with checkpoints.", show_default=False)],
    steps: Annotated[
        Optional[list[str]],
        typer.Option(metavar="STEPS", help="Checkpoint steps: all, first, last, or steps such as 0,936; repeatable. "
                     "(default: all)", show_default=False),
    ] = None,
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
    seed: Annotated[int, typer.Option(help="Seed of the generated samples' z.")] = 0,
    stages: Annotated[int, typer.Option(help="Training stages for the stage column.")] = 5,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.", metavar="DEVICE")] = "auto",
    threads: Annotated[Optional[int], typer.Option(help=THREADS_HELP, show_default=False)] = None,
) -> None:
    """Measure sample quality (Inception Score, class KL, Frechet distance, precision/recall) at checkpoints; store it."""
    from landscape.cli.console import console
    from landscape.cli.hessian import parse_steps
    from landscape.cli.options import check_stages, check_threads
    from landscape.errors import LandscapeError

    check_stages(stages)
    check_threads(threads)
    for name, value in (("--samples", samples), ("--real-samples", real_samples)):
        if value is not None and value < 10:
            raise LandscapeError(f"{name} must be at least 10, got {value}.")
    from landscape.reader import open_run

    run = open_run(run_file)
    from analysis.quality.checkpoints import check_rebuildable

    check_rebuildable(run)
    chosen = parse_steps(steps, run.checkpoint_steps, run_file)
    if run.status == "running":
        raise LandscapeError(f"{run_file} is still being written; run `landscape quality` after training ends.")
    from landscape.data.toys import is_toy

    dataset = str(run.config["dataset"])
    toy = is_toy(dataset)
    reference = None
    if not toy:
        reference = resolve_reference(dataset, run.config.get("data_dir"), classifier, console)
        from analysis.quality.classifiers import check_sample_size

        check_sample_size(samples if samples is not None else int(run.config.get("quality_samples", 10_000)),
                          reference, "generated")
        if real_samples is not None:
            check_sample_size(real_samples, reference, "real")
    from trainers.loop import resolve_device
    from trainers.threads import resolve_threads, torch_threads

    device = str(resolve_device(device.strip().lower()))
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from analysis.quality.checkpoints import measure_checkpoint
    from analysis.runs import measured_stage

    results = []
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)
    with progress, torch_threads(resolve_threads(threads, str(run.config.get("arch")), device.partition(":")[0])):
        task = progress.add_task("quality", total=len(chosen))
        for step in chosen:
            progress.update(task, description=f"step {step}")
            values = measure_checkpoint(run, step, reference, n=samples, n_real=real_samples, seed=seed, device=device)
            results.append((step, values))
            progress.update(task, advance=1)
    console.print(_table(results, dict(zip(chosen, measured_stage(run, chosen, stages).tolist()))))
    console.print(legend(reference), highlight=False, soft_wrap=True)
    console.print(f"Stored {len(results)} measurement(s) in [bold]{run_file}[/] under /quality.", highlight=False,
                  soft_wrap=True)


def legend(reference: Any) -> str:
    """What the table's short column names mean, and which classifier measured."""
    if reference is None:
        return "modes: modes covered; HQ: fraction of points within 3 standard deviations of a mode."
    return (f"{reference.dataset} classifier at {100 * reference.accuracy:.2f}% test accuracy. IS: classifier Inception "
            "Score; KL: KL(p_gen || p_real) of predicted classes; classes: classes covered; FD (Frechet distance), "
            "precision, recall, density and coverage on its penultimate features against the real test images.")


def _table(results: list[tuple[int, dict[str, float]]], stage_of: dict[int, int]) -> Any:
    from rich import box
    from rich.table import Table

    from analysis.quality.measure import METRIC_SHORT

    names = list(results[0][1]) if results else []
    table = Table(title="Sample quality", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                  collapse_padding=True)
    table.add_column("step", justify="right")
    table.add_column("stage", justify="right")
    for name in names:
        table.add_column(METRIC_SHORT.get(name, name), justify="right")
    for step, values in results:
        cells = [f"{int(v)}" if name in ("classes_covered", "modes_covered") else f"{v:.4g}" for name, v in values.items()]
        table.add_row(str(step), str(stage_of.get(step, "")), *cells)
    return table
