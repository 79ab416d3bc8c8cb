"""`landscape sweep SPEC.toml --out DIR`: every run of a spec, on Dask, indexed in DIR/sweep.csv.

A thin face over :mod:`landscape.sweeps` (the spec and the folder) and
:mod:`trainers.sweep` (the runs on Dask): this module prepares the classifiers the
runs measure quality with, prints the Dask dashboard's address, shows a live
display (runs done / running / failed / skipped, each running run's iteration and
speed) and keeps ``sweep.csv`` current after every change.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer


def sweep(
    spec: Annotated[Path, typer.Argument(metavar="SPEC.toml", help="Sweep spec: [base] settings, a [grid] of "
                                         "values and/or [[runs]] tables.", show_default=False)],
    out: Annotated[
        Optional[Path], typer.Option(help="Folder for the runs and sweep.csv. (default: sweeps/SPEC-NAME)",
                                     show_default=False)
    ] = None,
    scheduler: Annotated[
        str, typer.Option(help="local: a Dask cluster on this machine; or the address of a running Dask "
                          "scheduler, e.g. tcp://HOST:8786.", metavar="local|tcp://HOST:PORT")
    ] = "local",
    workers: Annotated[
        Optional[int], typer.Option(help="Local cluster: worker processes, one run each at a time. (default: one "
                                    "per GPU, else CPU cores / --threads-per-run)", show_default=False)
    ] = None,
    threads_per_run: Annotated[
        Optional[int], typer.Option("--threads-per-run", help="CPU threads each run uses (unless the spec sets "
                                    "threads). (default: 1)", show_default=False)
    ] = None,
    log_every: Annotated[
        float, typer.Option("--log-every", help="Where stdout is not a terminal: print the sweep's state every this "
                            "many seconds.")
    ] = 30.0,
) -> None:
    """Run every run of a sweep spec on Dask, skipping finished runs and resuming unfinished ones."""
    from landscape.cli.console import console
    from landscape.errors import LandscapeError
    from landscape.sweeps.index import prepare_folder
    from landscape.sweeps.spec import load_spec

    if not log_every > 0:
        raise LandscapeError(f"--log-every must be a positive number of seconds, got {log_every:g}.")
    for name, value in (("--workers", workers), ("--threads-per-run", threads_per_run)):
        if value is not None and value < 1:
            raise LandscapeError(f"{name} must be a whole number >= 1, got {value}.")
    loaded = load_spec(spec)
    if scheduler == "local":  # a remote cluster's workers may see other folders
        from trainers.sweep import check_data

        check_data(loaded)
    folder = prepare_folder(loaded, out if out is not None else Path("sweeps") / spec.stem)
    prepare_classifiers(loaded, console)
    code = run_with_display(loaded, folder, scheduler, workers, threads_per_run, log_every, console)
    raise typer.Exit(code)


def prepare_classifiers(spec: Any, console: Any) -> None:
    """Find or train (once, here, with a bar) the classifier of each image dataset whose runs measure quality."""
    from analysis.quality.classifiers import resolve_reference
    from landscape.data.toys import is_toy

    seen = set()
    for run in spec.runs:
        cfg = run.config
        key = (cfg.dataset, cfg.data_dir)
        if is_toy(cfg.dataset) or cfg.quality_every == 0 or key in seen:
            continue
        seen.add(key)
        resolve_reference(cfg.dataset, cfg.data_dir, None, console,
                          skip="To run the sweep without the sample-quality metrics, set quality_every = 0 in its "
                               "[base] table.")


def run_with_display(spec: Any, folder: Path, scheduler: str, workers: Optional[int], threads_per_run: Optional[int],
                     log_every: float, console: Any) -> int:
    """Run the sweep with the live display and the index kept current; the exit code (1 if a run failed)."""
    from analysis.measurements import record_options
    from landscape.sweeps.index import read_index, is_sweep_folder, write_index
    from trainers.sweep import check_no_live_runs, dask_client, default_sizes, folder_lock, run_sweep

    previous = read_index(folder).set_index("run").to_dict("index") if is_sweep_folder(folder) else None
    gpus = _gpus(spec)
    threads = default_sizes(workers, threads_per_run, gpus)[1]

    def save(states: list[Any]) -> None:
        write_index(folder, [s.index_row() for s in states], spec.factors)

    with folder_lock(folder):
        check_no_live_runs(spec, folder)  # before the cluster starts
        _say(console, f"Sweep of {len(spec.runs)} runs into {folder} (factors: {', '.join(spec.factors) or 'none'})")
        start = time.monotonic()
        with dask_client(scheduler, workers=workers, threads_per_run=threads_per_run, gpus=gpus) as client:
            _say(console, f"Dask: {_cluster_line(client)}; dashboard {client.dashboard_link or 'off'}")
            try:
                with sweep_display(console, log_every) as show:
                    def on_change(states: list[Any]) -> None:
                        save(states)
                        show(states)

                    states = run_sweep(spec, folder, client, threads_per_run=threads, hooks=record_options,
                                       on_change=on_change, previous=previous, gpus=gpus)
            except KeyboardInterrupt:
                _say(console, f"[yellow]Stopped.[/] Every run file keeps its rows and a resume state; run the same "
                              f"command again to resume. Index: {folder / 'sweep.csv'}")
                return 130
    for state in states:
        if state.status in ("failed", "diverged"):
            _say(console, f"[red]{state.name} {state.status}:[/] {state.reason}")
    _say(console, f"{summary(states)} in {time.monotonic() - start:.0f} s. Index: [bold]{folder / 'sweep.csv'}[/]")
    _say(console, f"Next: [bold]landscape report {folder}[/] or [bold]landscape lgc {folder} --row FACTOR "
                  f"--out {folder / 'lgc.png'}[/]")
    return 1 if any(s.status in ("failed", "interrupted", "incomplete") for s in states) else 0


def summary(states: list[Any]) -> str:
    """``8 runs: 5 finished, 1 running, 1 failed, 1 skipped, 0 waiting``."""
    skipped = sum(s.skipped for s in states)
    finished = sum(s.status == "finished" and not s.skipped for s in states)
    running = sum(s.status == "running" for s in states)
    failed = sum(s.status in ("failed", "diverged") and not s.skipped for s in states)
    waiting = sum(s.status in ("pending", "incomplete", "interrupted") for s in states)
    return (f"{len(states)} runs: {finished} finished, {running} running, {failed} failed, {skipped} skipped, "
            f"{waiting} waiting")


@contextmanager
def sweep_display(console: Any, log_every: float) -> Iterator[Any]:
    """A callback showing the sweep's state: a live table on a terminal, a line every ``log_every`` s elsewhere."""
    if not console.is_terminal:
        last = -float("inf")
        ended: set[str] = set()

        def show_lines(states: list[Any]) -> None:
            nonlocal last
            for s in states:
                if s.name not in ended and not s.skipped and s.status in ("finished", "failed", "diverged"):
                    ended.add(s.name)
                    _say(console, f"{s.name}: {s.status}, {s.iterations:,} iterations"
                                  + (f" in {s.seconds:.0f} s" if s.seconds else ""))
            if time.monotonic() - last >= log_every:
                last = time.monotonic()
                _say(console, summary(states) + "".join(f"; {s.name} {_where(s)}" for s in states
                                                        if s.status == "running"))

        yield show_lines
        return
    from rich.live import Live

    live = Live(console=console, refresh_per_second=4, transient=False)
    with live:
        def show_live(states: list[Any]) -> None:
            live.update(_table(states))

        yield show_live


def _table(states: list[Any]) -> Any:
    """The live view: the summary line, then a row per running or failed run."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    for column in ("run", "status", "iteration", "speed"):
        table.add_column(column, justify="right" if column in ("iteration", "speed") else "left")
    for s in states:
        planned = f"/{s.planned:,}" if s.planned else ""
        if s.status == "running":
            table.add_row(s.name, "running", f"{s.step:,}{planned}", f"{s.rate:.0f} it/s" if s.rate else "")
        elif s.status in ("failed", "diverged") and not s.skipped:
            table.add_row(s.name, f"[red]{s.status}[/]", f"{s.iterations:,}{planned}", "")
    return Group(Text(summary(states)), table) if table.row_count else Text(summary(states))


def _where(state: Any) -> str:
    planned = f"/{state.planned:,}" if state.planned else ""
    rate = f" at {state.rate:.0f} it/s" if state.rate else ""
    return f"{state.step:,}{planned}{rate}"


def _cluster_line(client: Any) -> str:
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    return f"{len(workers)} workers, {threads} runs at a time, scheduler {client.scheduler.address}"


def _gpus(spec: Any) -> int:
    """GPUs on this machine for runs that want one (none asked for: 0, and torch is not needed to know)."""
    if not any(run.config.device != "cpu" for run in spec.runs):
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _say(console: Any, text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True)

#: The commands this module adds to ``landscape`` (name -> function, or a typer app for a group); see landscape.cli.
COMMANDS = {"sweep": sweep}
