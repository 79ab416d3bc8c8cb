"""Checks and writes shared by the CLI commands: output paths, figures, stage counts.

Each check fails early, before any run is read, with one sentence that names the
command-line option at fault.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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
    """One sentence unless ``--stages`` is at least 1."""
    if stages < 1:
        raise LandscapeError(f"--stages must be at least 1, got {stages}.")
    return stages


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
