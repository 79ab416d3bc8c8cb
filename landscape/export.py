"""Export a run's per-iteration metrics to CSV, Parquet or TensorBoard event files.

Run files are HDF5 in this project's own layout, which other tools do not read;
exporting hands the ``/metrics`` table (every field the run has, GAN or not) to
the tools people already use: a spreadsheet or R (CSV), pandas, polars or
DuckDB with dtypes kept (Parquet), or TensorBoard's scalar dashboard.

The export reads the run through :class:`landscape.reader.Run`, which copies the
table when it opens the file, so a run that is still being written exports every
row flushed so far and its writer is never disturbed. Outputs are written under
a temporary name and then moved into place, so a failed export never leaves half
a file and never destroys an output it was asked to replace.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from landscape.errors import LandscapeError, unknown_choice

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from landscape.reader import Run

#: The export formats, in the order they are offered.
FORMATS: tuple[str, ...] = ("csv", "parquet", "tensorboard")

#: Output file suffixes that name a format.
SUFFIX_FORMATS: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

#: The optional dependency each format needs: (module to import, package to install, extra of landscape).
REQUIREMENTS: dict[str, tuple[str, str, str]] = {
    "parquet": ("pyarrow", "pyarrow", "parquet"),
    "tensorboard": ("tensorboard", "tensorboard", "tensorboard"),
}

_TITLES = {"csv": "CSV", "parquet": "Parquet", "tensorboard": "TensorBoard"}

#: Prefix of the event files TensorBoard writes; a folder holding only these is a previous export.
EVENT_FILE_PREFIX = "events.out.tfevents."


class ExportError(LandscapeError):
    """An export that cannot be done: unknown format, output in the way, missing optional package."""


def check_format(fmt: str) -> str:
    """The format name in lower case; a one-sentence ExportError unless it is one of :data:`FORMATS`."""
    name = str(fmt).lower()
    if name not in FORMATS:
        raise ExportError(unknown_choice("export format", fmt, FORMATS))
    return name


def format_for_path(path: str | os.PathLike | None) -> str:
    """The format an output path's suffix names (``.csv``, ``.parquet``), else ``"csv"``."""
    if path is None:
        return "csv"
    return SUFFIX_FORMATS.get(Path(path).suffix.lower(), "csv")


def default_output(run_path: str | os.PathLike, fmt: str) -> Path:
    """Where an export goes when no output is given: next to the run file, named after it.

    ``<stem>.csv``, ``<stem>.parquet``, or the folder ``<stem>-tensorboard/``.
    """
    run_path = Path(run_path)
    fmt = check_format(fmt)
    name = f"{run_path.stem}-tensorboard" if fmt == "tensorboard" else f"{run_path.stem}.{fmt}"
    return run_path.with_name(name)


def require_package(fmt: str) -> None:
    """A one-sentence ExportError, saying what to install, unless the optional package ``fmt`` needs imports."""
    if fmt not in REQUIREMENTS:
        return
    import importlib

    module, package, extra = REQUIREMENTS[fmt]
    try:
        importlib.import_module(module)
    except ImportError:
        raise ExportError(
            f"Exporting to {_TITLES[fmt]} needs the {package} package, which is not installed; "
            f"install it with pip install 'landscape[{extra}]'."
        ) from None


def export_run(
    run_or_path: Run | str | os.PathLike,
    fmt: str = "csv",
    out: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write a run's per-iteration metrics (:attr:`Run.metrics`) in another format and return the output path.

    - ``"csv"``: one row per iteration, one column per field (step, epoch, time, then the
      run's own fields), no index; a NaN (a field not logged at an iteration) is an empty cell.
    - ``"parquet"``: the same table with its dtypes kept (int64 step, int32 epoch, float32
      metrics), through pandas' pyarrow engine (``pip install 'landscape[parquet]'``).
    - ``"tensorboard"``: a folder of event files: every numeric field but ``step`` as a scalar
      at every iteration (``global_step=step``, wall time the run's start plus its ``time``
      column), and the run's config as text (``pip install 'landscape[tensorboard]'``).

    ``out`` defaults to :func:`default_output` (next to the run file). An existing output is
    replaced only with ``overwrite=True``; a folder is replaced only if it holds nothing but
    TensorBoard event files, so an export never deletes anything else. Every problem is a
    one-sentence :class:`LandscapeError` (a RunFileError for the run, ExportError otherwise).
    """
    from landscape.reader import as_run

    fmt = check_format(fmt)
    require_package(fmt)
    run = as_run(run_or_path).require_iterations()
    out = Path(out) if out is not None else default_output(run.path, fmt)
    check_output(out, fmt, overwrite=overwrite, run_path=run.path)

    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        if fmt == "csv":
            run.metrics.to_csv(tmp, index=False, lineterminator="\n")
        elif fmt == "parquet":
            run.metrics.to_parquet(tmp, engine="pyarrow", index=False)
        else:
            write_tensorboard(run, tmp)
        if out.is_dir():  # check_output made sure it holds nothing but event files
            _remove(out)
        os.replace(tmp, out)
    except OSError as err:
        raise ExportError(f"Cannot write {out}: {err.strerror or err}; choose an out path you can write to.") from None
    finally:
        _remove(tmp)
    return out


def check_output(out: Path, fmt: str, *, overwrite: bool = False, run_path: Path | None = None) -> Path:
    """A one-sentence ExportError unless ``out`` can take an export in ``fmt`` (``overwrite`` allowing)."""
    tensorboard = fmt == "tensorboard"
    if run_path is not None and out.exists() and Path(run_path).exists() and out.samefile(run_path):
        raise ExportError(f"Cannot export to {out}: it is the run file itself; choose another out path.")
    check_not_run_file(out, "choose another out path")
    if out.is_dir() and not tensorboard:
        raise ExportError(f"Cannot write {out}: it is a folder; give out a file name such as {out / 'metrics'}.{fmt}.")
    if out.exists() and not out.is_dir() and tensorboard:
        raise ExportError(f"Cannot write {out}: it is a file, and a TensorBoard export is a folder; choose another out path.")
    if out.exists() and not overwrite:
        raise ExportError(f"{out} already exists; choose another out path, or overwrite=True to replace it.")
    if tensorboard and out.is_dir() and not _holds_only_event_files(out):
        raise ExportError(f"{out} is a folder that holds more than TensorBoard event files; choose another out path.")
    parent = out.parent if str(out.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise ExportError(f"Cannot write {out}: {parent} is a file, not a folder; choose another out path.")
    if not parent.is_dir():
        raise ExportError(f"Cannot write {out}: the folder {parent} does not exist; create it or choose another out path.")
    if not os.access(parent, os.W_OK):
        raise ExportError(f"Cannot write {out}: permission denied; choose an out path you can write to.")
    return out


def check_not_run_file(out: Path, advice: str) -> None:
    """A one-sentence error if ``out`` is a run file: an export never replaces one, ``overwrite`` or not.

    A run being written gets the sentence every writer gets (``"... is still being
    written by process N; <advice>."``); a closed one, that it is a run file.
    """
    from landscape.errors import RunFileError
    from landscape.runfile import check_not_live, is_run_file

    if out.is_dir():
        return
    try:
        check_not_live(out, advice)
    except RunFileError as err:  # the output is at fault here, not the run exported
        raise ExportError(str(err)) from None
    if is_run_file(out):
        raise ExportError(f"{out} is a landscape run file, and an export never replaces one; {advice}.")


def write_tensorboard(run: Run, folder: str | os.PathLike) -> Path:
    """Write ``run``'s metrics and config as TensorBoard event files into ``folder`` (created if needed).

    One event per iteration carries every numeric field but ``step`` as a scalar
    (``global_step=step``), which is what ``SummaryWriter.add_scalar`` writes field by field,
    at a twelfth of the cost. Wall times are the run's start plus its ``time`` column, so
    TensorBoard's "relative" axis shows training time. The config is the text ``config``.
    """
    require_package("tensorboard")
    from tensorboard.compat.proto.summary_pb2 import Summary
    from torch.utils.tensorboard import SummaryWriter

    metrics = run.metrics
    fields = scalar_fields(metrics)
    steps = metrics["step"].to_numpy().tolist()
    walltimes = (_start_time(run) + metrics["time"].astype("float64").fillna(0.0)).to_numpy().tolist()
    columns = [metrics[name].astype("float64").to_numpy().tolist() for name in fields]
    writer = SummaryWriter(log_dir=str(folder), max_queue=1000, flush_secs=3600)
    try:
        writer.add_text("config", _config_text(run), global_step=0, walltime=walltimes[0] if walltimes else None)
        for i, (step, walltime) in enumerate(zip(steps, walltimes)):
            values = [Summary.Value(tag=name, simple_value=column[i]) for name, column in zip(fields, columns)]
            writer.file_writer.add_summary(Summary(value=values), step, walltime)
    finally:
        writer.close()
    return Path(folder)


def scalar_fields(metrics: pd.DataFrame) -> list[str]:
    """The fields a TensorBoard export writes as scalars: every numeric or boolean column but ``step``."""
    return [name for name, dtype in metrics.dtypes.items() if name != "step" and dtype.kind in "biuf"]


def _start_time(run: Run) -> float:
    """The run's start as a POSIX time (its ``created`` attribute), or 0 when it has none."""
    try:
        return datetime.fromisoformat(str(run.attrs.get("created", ""))).timestamp()
    except ValueError:
        return 0.0


def _config_text(run: Run) -> str:
    """The run's config as pretty JSON, indented to be a Markdown code block in TensorBoard's text tab."""
    text = json.dumps(run.config, indent=2, sort_keys=False)
    return "\n".join("    " + line for line in text.splitlines())


def _holds_only_event_files(folder: Path) -> bool:
    return all(entry.is_file() and entry.name.startswith(EVENT_FILE_PREFIX) for entry in folder.iterdir())


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()

