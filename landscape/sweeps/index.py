"""A sweep's folder: its spec, its run files and ``sweep.csv``, the index of its runs; and reading it back.

``landscape sweep SPEC.toml --out DIR`` keeps in ``DIR``:

- ``sweep.toml``: a copy of the spec the folder belongs to (a folder holds one sweep);
- ``<run name>.h5`` (and, while a run is unfinished, its ``.h5.resume`` state);
- ``sweep.csv``: one row per run: ``run``, its factor values, ``status``,
  ``iterations``, ``planned``, ``seconds`` (wall time), ``reason`` (why it failed)
  and ``path`` (relative to ``DIR``), rewritten in one rename after every change.

:func:`open_sweep` reads the folder back: the runs with their factors as columns of
every stacked frame.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from landscape.errors import LandscapeError, RunFileError
from landscape.reader import RunCollection, open_run
from landscape.sweeps.spec import SpecError, SweepSpec, load_spec

INDEX_NAME = "sweep.csv"
SPEC_NAME = "sweep.toml"
#: The columns of ``sweep.csv`` after ``run`` and the factors.
INDEX_COLUMNS = ("status", "iterations", "planned", "seconds", "reason", "path")
#: What a run's ``status`` in the index can be: a run file's status, or "pending" (not started) or
#: "failed" (an error stopped it; ``reason`` says which).
INDEX_STATUSES = ("pending", "running", "finished", "diverged", "interrupted", "incomplete", "failed")


def prepare_folder(spec: SweepSpec, folder: str | os.PathLike) -> Path:
    """Make ``folder`` the home of ``spec``'s sweep: create it, or check it holds this sweep and no other."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise SpecError(f"{folder} is a file; --out must be a folder for the sweep's runs.")
    copy = folder / SPEC_NAME
    if copy.exists():
        try:
            other = load_spec(copy)
        except SpecError:
            other = None
        if other is None or other.digest != spec.digest:
            raise SpecError(f"{folder} holds another sweep's runs (its {SPEC_NAME} differs from this spec); give "
                            "another --out folder.")
    elif folder.exists():
        names = {run.file_name for run in spec.runs}
        strays = sorted(p.name for p in folder.glob("*.h5") if p.name not in names)
        if strays:
            raise SpecError(f"{folder} holds run files that are not this sweep's (e.g. {strays[0]}); give another "
                            "--out folder.")
    folder.mkdir(parents=True, exist_ok=True)
    if not copy.exists():
        text = spec.source.read_text() if spec.source is not None else _spec_toml(spec.tables)
        _write_atomically(copy, text)
    return folder


def write_index(folder: str | os.PathLike, rows: Iterable[dict[str, Any]], factors: Iterable[str]) -> Path:
    """Write ``sweep.csv`` (run, factors, then :data:`INDEX_COLUMNS`) in one rename."""
    path = Path(folder) / INDEX_NAME
    columns = ["run", *factors, *INDEX_COLUMNS]
    frame = pd.DataFrame(list(rows), columns=columns)
    for column in ("iterations", "planned"):
        frame[column] = pd.to_numeric(frame[column]).astype("Int64")  # whole numbers, empty where unknown
    _write_atomically(path, frame.to_csv(index=False))
    return path


def read_index(folder: str | os.PathLike) -> pd.DataFrame:
    """``sweep.csv`` of the sweep in ``folder``; one sentence if there is none."""
    folder = Path(folder)
    path = folder / INDEX_NAME
    if not folder.is_dir():
        raise RunFileError(f"No such sweep folder: {folder}.")
    if not path.is_file():
        raise RunFileError(f"{folder} is not a sweep folder (it has no {INDEX_NAME}); run `landscape sweep SPEC.toml "
                           f"--out {folder}` first.")
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise RunFileError(f"{path} is damaged ({str(err).splitlines()[0]}).") from None


def is_sweep_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder with a ``sweep.csv``."""
    return (Path(path) / INDEX_NAME).is_file()


class Sweep(RunCollection):
    """The recorded runs of a sweep (a :class:`~landscape.reader.RunCollection`) with its factors and index.

    Stacked frames (``metrics``, ``tidy()``) carry a ``run`` column and every config
    setting, the factors among them, as columns. A factor never hides a data column,
    nor a data column a factor: a factor named like a data column (``loss``, the GAN
    loss, beside the tidy frame's numeric ``loss``) is the column ``cfg_loss`` in every
    stacked frame (:class:`~landscape.reader.RunCollection` states the rule);
    :attr:`factor_columns` names each factor's column, so
    ``sweep.tidy().groupby([sweep.factor_columns[f] for f in sweep.factors])`` groups by the factors.
    """

    def __init__(self, runs: Iterable[Any], folder: Path, factors: tuple[str, ...], index: pd.DataFrame) -> None:
        super().__init__(runs)
        self.folder = folder
        self.factors = factors
        self.index = index

    @property
    def factor_columns(self) -> dict[str, str]:
        """The column of each factor in the stacked frames: its name, or ``cfg_<name>`` where that is a data column."""
        return {factor: self.config_columns.get(factor, factor) for factor in self.factors}

    def __repr__(self) -> str:
        return f"Sweep({str(self.folder)!r}, runs={len(self)}, factors={list(self.factors)})"


def open_sweep(folder: str | os.PathLike) -> Sweep:
    """The runs of the sweep in ``folder`` that have a run file, with the sweep's factors and index."""
    folder = Path(folder)
    index = read_index(folder)
    missing = [c for c in ("run", *INDEX_COLUMNS) if c not in index.columns]
    if missing:
        raise RunFileError(f"{folder / INDEX_NAME} is not a sweep index (no {missing[0]} column).")
    start, stop = 1, list(index.columns).index(INDEX_COLUMNS[0])
    factors = tuple(index.columns[start:stop])
    runs = []
    for rel in index["path"]:
        path = folder / str(rel)
        if path.is_file():
            runs.append(open_run(path))
    if not runs:
        raise LandscapeError(f"The sweep in {folder} has no run files yet; run its `landscape sweep` first.")
    return Sweep(runs, folder, factors, index)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _spec_toml(tables: dict[str, Any]) -> str:
    """A spec's tables as TOML (for a spec given as tables rather than a file)."""
    import json

    lines = []
    for name in ("base", "grid"):
        if tables.get(name):
            lines.append(f"[{name}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in tables[name].items()]
            lines.append("")
    for run in tables.get("runs", []):
        lines.append("[[runs]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in run.items()]
        lines.append("")
    return "\n".join(lines)


__all__ = ["INDEX_COLUMNS", "INDEX_NAME", "INDEX_STATUSES", "SPEC_NAME", "Sweep", "is_sweep_folder", "open_sweep",
           "prepare_folder", "read_index", "write_index"]
