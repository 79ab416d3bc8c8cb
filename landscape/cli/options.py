"""Checks, writes and options shared by the CLI commands: output paths, figures, stage counts, and the
options of every command that measures at a run's checkpoints (``landscape hessian``, ``landscape quality``).

Each check fails early, before any run is read, with one sentence that names the
command-line option at fault.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer

from landscape.errors import LandscapeError

#: Figure formats by file suffix.
FIGURE_FORMATS = {".png": "PNG", ".pdf": "PDF", ".svg": "SVG"}


def check_writable(path: Path, option: str, example: str) -> Path:
    """One sentence unless ``path`` names a file that can be written (not a directory, parent exists, permitted)."""
    if path.is_dir():
        raise LandscapeError(f"Cannot write {path}: it is a directory; give {option} a file name such as {path / example}.")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise LandscapeError(f"Cannot write {path}: the directory {parent} does not exist; create it or choose another path.")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise LandscapeError(f"Cannot write {path}: permission denied; choose a path you can write to.")
    return path


def check_figure_path(path: Path, option: str = "--out") -> Path:
    """One sentence unless ``path`` is a writable .png, .pdf or .svg file name."""
    if path.suffix.lower() not in FIGURE_FORMATS:
        shown = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise LandscapeError(f"Cannot write {path} ({shown}): give {option} a file name ending in .png, .pdf or .svg.")
    return check_writable(path, option, "figure.png")


def check_text_path(path: Path, option: str = "--out") -> Path:
    """One sentence unless ``path`` is a writable file name."""
    return check_writable(path, option, "report.txt")


def check_stages(stages: int) -> int:
    """One sentence unless ``--stages`` is at least 1 (:func:`landscape.stages.check_stages` owns the rule)."""
    from landscape.stages import check_stages as check

    return check(stages, "--stages")


def save_figure(fig: Any, path: Path, dpi: int = 150) -> None:
    """Write a matplotlib Figure in the format its suffix names, and close it; one sentence if writing fails."""
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path, dpi=dpi, format=FIGURE_FORMATS[path.suffix.lower()].lower())
    except OSError as err:
        raise LandscapeError(f"Cannot write {path}: {err.strerror or err}; choose a path you can write to.") from None
    finally:
        plt.close(fig)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8); one sentence if writing fails."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise LandscapeError(f"Cannot write {path}: {err.strerror or err}; choose a path you can write to.") from None


def use_file_backend() -> None:
    """Draw into files only: no display needed, and no GUI backend is ever started."""
    import matplotlib

    matplotlib.use("Agg")


def choices(names: Any, complete: Any = None) -> dict[str, Any]:
    """``typer.Option`` keywords declaring a closed set of names: ``[a|b]`` in the help, and shell completion.

    The value is still checked by the library (one sentence with the nearest name on
    a typo); ``complete`` replaces the completion list when it should offer more
    (e.g. aliases) than the help shows.
    """
    names = [str(n) for n in names]
    offered = names if complete is None else [str(n) for n in complete]
    return {"metavar": "[" + "|".join(names) + "]", "autocompletion": lambda incomplete: _starting(offered, incomplete)}


def completion(names: Any) -> dict[str, Any]:
    """``typer.Option`` keywords offering ``names`` (or a function returning them) for shell completion only."""
    return {"autocompletion": lambda incomplete: _starting(names() if callable(names) else names, incomplete)}


def _starting(names: Any, incomplete: str) -> list[str]:
    return [n for n in names if n.startswith(incomplete)]


#: ``--threads`` of the commands that compute (record, hessian, report).
THREADS_HELP = ("CPU threads for PyTorch. (default: $OMP_NUM_THREADS if set, else 1 on a CPU, so that commands "
                "sharing a machine do not slow each other down)")


def check_threads(threads: int | None) -> int | None:
    """One sentence unless ``--threads`` is unset or at least 1."""
    if threads is not None and threads < 1:
        raise LandscapeError(f"--threads must be at least 1, got {threads}.")
    return threads


# ---------------------------------------------------------------------- measuring at checkpoints
# The options every command that measures at a run's stored checkpoints takes, defined once so
# that they read and behave the same in each: a new kind's command declares its parameters as
#
#     steps: StepsOption = None, stages: StagesOption = DEFAULT_STAGES, device: DeviceOption = "auto",
#     seed: SeedOption = 0, threads: ThreadsOption = None,
#
# and calls checkpoints_to_measure(run_file, steps, stages, threads, "<command>") and measuring(...).

#: ``--steps``: which checkpoints (:func:`parse_steps`).
StepsOption = Annotated[
    Optional[list[str]],
    typer.Option("--steps", metavar="STEPS", help="Checkpoint steps: all, first, last, or steps such as 0,936; "
                 "repeatable (--steps 0 --steps 936). (default: all)", show_default=False),
]
#: ``--stages``: the training stages of the stage column (and plot colours).
StagesOption = Annotated[int, typer.Option("--stages", help="Training stages for the stage column and plot colours.")]
#: ``--device``: where the networks are rebuilt and measured.
DeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.", metavar="DEVICE")]
#: ``--seed``: the measurement's own random draws (never the run's).
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the measurement's random draws (Hessian: the "
                                         "start vectors; quality: the generated samples' z).")]
#: ``--threads``: CPU threads for PyTorch.
ThreadsOption = Annotated[Optional[int], typer.Option("--threads", help=THREADS_HELP, show_default=False)]


def parse_steps(texts: str | list[str] | None, available: list[int], path: Any) -> list[int]:
    """The checkpoint steps that ``--steps`` names, checked against the run, in the order given, each once.

    Each value is ``all``, ``first``, ``last`` or steps separated by commas, and
    ``--steps`` may be repeated: ``--steps 0 --steps 936`` and ``--steps 0,936`` are
    the same. None means all.
    """
    if not available:
        raise LandscapeError(
            f"{path} has no checkpoints, so there are no weights to analyse; `landscape record` writes them at the "
            "stage boundaries, RunWriter.add_checkpoint in a loop of your own."
        )
    texts = ["all"] if not texts else [texts] if isinstance(texts, str) else texts
    named = {"all": list(available), "first": [available[0]], "last": [available[-1]]}
    steps: list[int] = []
    for text in texts:
        for part in text.strip().lower().split(","):
            part = part.strip()
            if part in named:
                chosen = named[part]
            else:
                try:
                    chosen = [int(part)]
                except ValueError:
                    raise LandscapeError(
                        f"--steps {text!r} is not understood: give all, first, last or checkpoint steps such as 0,936."
                    ) from None
                if chosen[0] not in available:
                    raise LandscapeError(
                        f"{path} has no checkpoint at step {chosen[0]}; stored steps: {', '.join(map(str, available))}."
                    )
            steps += [step for step in chosen if step not in steps]
    return steps


def checkpoints_to_measure(run_file: Path, steps: Optional[list[str]], command: str,
                           check: Any = None) -> tuple[Any, list[int]]:
    """The run at ``run_file`` and the checkpoint steps ``--steps`` chose; one sentence for a run that cannot be.

    ``check(run)`` (a kind's own check, e.g. that the generator can be rebuilt) runs before the
    steps are parsed. A run still being written is refused: its writer would lose the change.
    """
    from landscape.reader import open_run

    run = open_run(run_file)
    if check is not None:
        check(run)
    check_networks_loadable(run, command)
    chosen = parse_steps(steps, run.checkpoint_steps, run_file)
    if run.status == "running":
        raise LandscapeError(f"{run_file} is still being written; run `landscape {command}` after training ends.")
    return run, chosen


#: What a run written with RunWriter needs before a command can load its networks at a checkpoint.
OWN_RUN_NEEDS = ("checkpoints written with RunWriter.add_checkpoint and a config whose arch landscape can rebuild "
                 "({archs})")
#: Where to go instead for one's own model (``landscape hessian``).
OWN_MODEL_HESSIAN = ("for a model of your own, analysis.hessian.analyse(HessianVectorProduct(loss_fn, params)) estimates "
                     "the Hessian of any loss closure in Python")


def check_networks_loadable(run: Any, command: str) -> None:
    """One sentence when ``landscape <command>`` cannot rebuild the run's networks at a checkpoint: no
    checkpoints, or (a run written with RunWriter for one's own model) an architecture landscape does not know.

    The sentence says what such a run needs rather than a setting of `landscape record`, which
    always writes checkpoints (at the stage boundaries).
    """
    from landscape.config import ARCHS

    arch = run.config.get("arch")
    needs = OWN_RUN_NEEDS.format(archs=", ".join(ARCHS))
    own = f"; {OWN_MODEL_HESSIAN}" if command == "hessian" else ""
    if arch not in ARCHS:
        what = "has no checkpoints and its" if not run.checkpoint_steps else "is not a landscape GAN run: its"
        named = f"names the architecture {arch!r}" if arch is not None else "names no architecture"
        raise LandscapeError(f"{run.path} {what} config {named}, so `landscape {command}` cannot rebuild its networks; "
                             f"it needs {needs}{own}.")
    if not run.checkpoint_steps:
        raise LandscapeError(f"{run.path} has no checkpoints, so there are no weights to analyse: `landscape record` "
                             f"writes them at the stage boundaries, and a run written with RunWriter needs them written "
                             f"with RunWriter.add_checkpoint{own}.")


def check_measure_options(stages: int, threads: int | None) -> None:
    """The checks of ``--stages`` and ``--threads``, before any run is read."""
    check_stages(stages)
    check_threads(threads)


def measure_device(device: str) -> str:
    """``--device`` resolved (``auto``: cuda when available, else cpu); one sentence for a device that is not there."""
    from trainers.loop import resolve_device

    return str(resolve_device(device.strip().lower()))


@contextmanager
def measuring(run: Any, device: str, threads: int | None) -> Iterator[None]:
    """Run the measurements of a command with ``--threads`` (or the run's default) PyTorch threads."""
    from trainers.threads import resolve_threads, torch_threads

    with torch_threads(resolve_threads(threads, str(run.config.get("arch")), device.partition(":")[0])):
        yield
