"""Progress displays for long work: training a GAN (``trainers.record``'s ``progress=``) and a classifier.

Public library API, used by the CLI (``landscape record``, ``landscape classifier train``) and by
scripts such as the examples:

- :func:`training_progress`: the ``progress(trainer)`` callback of ``trainers.record``, as a context
  manager: a rich bar on a terminal, one plain line every ``log_every`` seconds elsewhere;
- :class:`batch_progress`: the ``on_progress(done, total)`` callback of a classifier's training;
- :func:`show_notes`: one ``Note:`` line per setting a trainer resolved differently from its config.

Each takes the rich console to print on (default: a new one on stdout).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def _console(console: Any) -> Any:
    if console is not None:
        return console
    from rich.console import Console

    return Console()


def say(console: Any, text: str) -> None:
    """One line on ``console``; soft wrap so that paths are never broken or elided (users copy them)."""
    console.print(text, highlight=False, soft_wrap=True)


def show_notes(trainer: Any, console: Any = None, rewrite: Callable[[str], str] | None = None) -> None:
    """One ``Note:`` line per setting the trainer resolved differently from the config's request (``trainer.notes``).

    ``rewrite(note)``: how a note is shown (``landscape record`` names its flags in place of the setting names).
    """
    console = _console(console)
    for note in trainer.notes:
        say(console, f"Note: {rewrite(note) if rewrite is not None else note}")


def clock(seconds: float) -> str:
    """``h:mm:ss`` of a number of seconds (``0:02:57``)."""
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@contextmanager
def training_progress(console: Any = None, log_every: float = 30.0) -> Iterator[Any]:
    """The progress callback for ``trainers.record``: a rich bar on a terminal, plain lines elsewhere.

    Where stdout is not a terminal (a log file, nohup, SLURM, CI) a bar cannot redraw, so
    one line is printed every ``log_every`` seconds and at the end. Both show training
    speed without the time spent in Hessian estimates (``GANTrainer.training_rate``).
    """
    console = _console(console)
    if console.is_terminal:
        with _progress_bar(console) as update:
            yield update
        return
    last, last_step = -math.inf, -1

    def update(tr: Any) -> None:
        nonlocal last, last_step
        now = time.monotonic()
        done = tr.step >= tr.schedule.total_iters
        if tr.step != last_step and (now - last >= log_every or done):
            last, last_step = now, tr.step
            say(console, progress_line(tr))

    yield update


def progress_line(tr: Any) -> str:
    """``vanilla mnist: step 3,000/46,800 (6%), 247.1 it/s on 1 CPU thread, eta 0:02:57, g 3.152 d 0.105``."""
    cfg, total = tr.config, tr.schedule.total_iters
    rate = tr.training_rate()
    parts = [f"{cfg.arch} {cfg.dataset}: step {tr.step:,}/{total:,} ({100 * tr.step / max(total, 1):.0f}%)"]
    parts.append(f"{rate:.1f} it/s on {_threads(cfg.threads)}, eta {clock((total - tr.step) / rate)}" if rate
                 else f"starting on {_threads(cfg.threads)}")
    losses = _losses(tr)
    return ", ".join(parts) + (f", {losses}" if losses else "")


def _threads(n: int | None) -> str:
    return f"{n} CPU thread{'s' if n != 1 else ''}"


def _losses(tr: Any) -> str:
    return "  ".join(f"{k.split('_')[0]} {v:.3f}" for k, v in tr.latest_losses().items())


@contextmanager
def _progress_bar(console: Any) -> Iterator[Any]:
    """A rich progress bar (training iterations/s, ETA, latest losses) and the callback that updates it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("eta {task.fields[eta]}"),
        TextColumn("{task.fields[losses]}"),
        console=console,
        refresh_per_second=5,
    )
    task = None

    def update(tr: Any) -> None:
        nonlocal task
        if task is None:  # the first call: the trainer knows the plan now
            cfg = tr.config
            task = progress.add_task(f"{cfg.arch} {cfg.dataset}, {_threads(cfg.threads)}",
                                     total=tr.schedule.total_iters, rate="", eta="-:--:--", losses="")
            progress.start()
        rate = tr.training_rate()
        eta = clock((tr.schedule.total_iters - tr.step) / rate) if rate else "-:--:--"
        progress.update(task, completed=tr.step, rate=f"{rate:.1f} it/s" if rate else "", eta=eta, losses=_losses(tr))

    try:
        yield update
    finally:
        progress.stop()


class batch_progress:  # noqa: N801 - used as a context manager like a function
    """Progress over training batches; the context value is the ``on_progress(done, total)`` callback.

    On a terminal, a rich bar. Where stdout is not a terminal (a log file, nohup, SLURM, CI) a bar cannot
    redraw and printed nothing for the minutes a classifier trains, so, like `landscape record`'s training,
    one plain line at the first batch, every ``log_every`` seconds and at the last:
    ``Training the cifar10 classifier: batch 1,200/9,780 (12%), 3.7 batches/s, eta 0:38:40``.
    """

    def __init__(self, what: str, console: Any = None, log_every: float = 30.0) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        self.console = console = _console(console)
        self.what = what
        self.log_every = log_every
        self.plain = not console.is_terminal
        self.progress = Progress(TextColumn(f"Training the {what}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("batches"), TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                                 transient=True)
        self.task: Any = None
        self.started = self.last = 0.0

    def __enter__(self) -> Any:
        self.started, self.last = time.monotonic(), -math.inf
        if not self.plain:
            self.progress.start()
        return self.tick

    def tick(self, done: int, total: int) -> None:
        if self.plain:
            self._line(done, total)
            return
        if self.task is None:
            self.task = self.progress.add_task("train", total=total)
        self.progress.update(self.task, completed=done, total=total)

    def _line(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not (done >= total or done <= 1 or now - self.last >= self.log_every):
            return
        self.last = now
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 and done > 1 else 0.0
        speed = f", {rate:.1f} batches/s, eta {clock((total - done) / rate)}" if rate else ""
        say(self.console, f"Training the {self.what}: batch {done:,}/{total:,} ({100 * done / max(total, 1):.0f}%)"
                          f"{speed}")

    def __exit__(self, *exc: Any) -> None:
        if not self.plain:
            self.progress.stop()


__all__ = ["batch_progress", "clock", "progress_line", "say", "show_notes", "training_progress"]
