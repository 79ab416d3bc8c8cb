"""`landscape export` and :func:`landscape.export.export_run`: CSV, Parquet and TensorBoard round trips,
runs of any fields, runs still being written, and one-sentence user errors from the real command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from landscape import open_run
from landscape.errors import LandscapeError, RunFileError
from landscape.export import ExportError, default_output, export_run, scalar_fields
from landscape.runfile import GAN_FIELDS
from landscape.writer import RunWriter

REPO = Path(__file__).resolve().parents[1]
CONFIG = {"arch": "vanilla", "dataset": "mnist", "lr": 2e-4, "betas": (0.5, 0.999)}
#: A run that is not a GAN: its own field names and dtypes, an integer field among them.
PLAIN_FIELDS = {"loss": "<f4", "grad_norm": "<f4", "accuracy": "<f4", "lr": "<f8", "n_correct": "<i8"}


def write_gan_run(path: Path, n: int = 120) -> Path:
    """A GAN run whose d_out_* fields are never logged (NaN), as the trainers write it."""
    rng = np.random.default_rng(0)
    with RunWriter(path, CONFIG, GAN_FIELDS, flush_rows=32) as w:
        for i in range(n):
            g, d = rng.standard_normal(2).astype(np.float32)
            w.log(i, epoch=i // 40, g_loss=g, g_grad_norm=abs(g) * 1e-3, d_loss=d, d_loss_real=d / 3,
                  d_loss_fake=2 * d / 3, d_grad_norm=abs(d), d_grad_norm_real=1e6 * abs(d), d_grad_norm_fake=0.1)
    return path


def write_plain_run(path: Path, n: int = 90) -> Path:
    with RunWriter(path, {"model": "mlp", "task": "classification"}, fields=PLAIN_FIELDS, flush_rows=16) as w:
        for i in range(n):
            w.log(10 * i, epoch=i // 30, loss=1.0 / (i + 1), grad_norm=0.5 ** (i % 7), accuracy=i / n,
                  lr=0.1 * 0.99**i, n_correct=3 * i)
    return path


def landscape(*args: str | os.PathLike, cwd: Path | None = None, hide: str | None = None) -> subprocess.CompletedProcess:
    """Run the real command; ``hide`` makes an optional package unimportable in it."""
    env = dict(os.environ, COLUMNS="200", OMP_NUM_THREADS="1")  # keep rich from wrapping the one-line messages
    head = [sys.executable, "-m", "landscape"]
    if hide:
        code = (f"import sys; sys.modules[{hide!r}] = None; sys.argv = ['landscape', *sys.argv[1:]]; "
                "from landscape.cli import main; main()")
        head = [sys.executable, "-c", code]
    return subprocess.run([*head, *map(str, args)], capture_output=True, text=True, cwd=cwd or REPO, env=env,
                          timeout=120)


def assert_one_sentence_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and lines[0].endswith("."), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def read_tensorboard(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def assert_same_as_csv(path: Path, metrics: pd.DataFrame) -> None:
    """The CSV has the run's columns in order and its values exactly (float32 read back as float64)."""
    frame = pd.read_csv(path)
    assert list(frame.columns) == list(metrics.columns)
    for name in metrics.columns:
        kind = metrics[name].dtype.kind
        assert frame[name].dtype == (np.int64 if kind in "iu" else np.float64), name
        np.testing.assert_array_equal(frame[name].astype(metrics[name].dtype), metrics[name], err_msg=name)


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory) -> Path:
    return write_gan_run(tmp_path_factory.mktemp("gan") / "gan.h5")


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory) -> Path:
    return write_plain_run(tmp_path_factory.mktemp("plain") / "plain.h5")


# ---------------------------------------------------------------------------------------------- the library
@pytest.mark.parametrize("which", ["gan_run", "plain_run"])
def test_csv_and_parquet_equal_the_metrics_column_by_column(which, request, tmp_path):
    run = open_run(request.getfixturevalue(which))
    metrics = run.metrics
    assert export_run(run, "csv", tmp_path / "m.csv") == tmp_path / "m.csv"
    assert_same_as_csv(tmp_path / "m.csv", metrics)

    export_run(run.path, "parquet", tmp_path / "m.parquet")
    frame = pd.read_parquet(tmp_path / "m.parquet")
    pd.testing.assert_frame_equal(frame, metrics)  # dtypes kept: int64 step, int32 epoch, float32 metrics
    assert frame["epoch"].dtype == np.int32 and frame["time"].dtype == np.float64
    if which == "gan_run":
        assert frame["d_out_fake"].isna().all() and frame["g_loss"].dtype == np.float32
    else:
        assert list(frame.columns) == ["step", "epoch", "time", *PLAIN_FIELDS]
        assert frame["n_correct"].dtype == np.int64 and frame["lr"].dtype == np.float64
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


@pytest.mark.parametrize("which", ["gan_run", "plain_run"])
def test_tensorboard_has_every_field_at_every_step_and_the_config(which, request, tmp_path):
    run = open_run(request.getfixturevalue(which))
    metrics = run.metrics
    folder = export_run(run, "tensorboard", tmp_path / "tb")
    assert [p.name[:20] for p in folder.iterdir()] == ["events.out.tfevents."]
    acc = read_tensorboard(folder)
    fields = [name for name in metrics.columns if name != "step"]
    assert scalar_fields(metrics) == fields
    assert sorted(acc.Tags()["scalars"]) == sorted(fields)
    for name in fields:
        events = acc.Scalars(name)
        np.testing.assert_array_equal([e.step for e in events], metrics["step"], err_msg=name)
        np.testing.assert_array_equal(np.array([e.value for e in events], np.float32),
                                      metrics[name].to_numpy().astype(np.float32), err_msg=name)
    (text,) = acc.Tensors("config/text_summary")
    assert json.loads(text.tensor_proto.string_val[0].decode()) == run.config
    walltimes = np.array([e.wall_time for e in acc.Scalars("time")])
    np.testing.assert_allclose(walltimes - walltimes[0], metrics["time"] - metrics["time"].iloc[0], atol=1e-3)


def test_a_run_still_being_written_exports_its_flushed_rows(tmp_path):
    path = tmp_path / "live.h5"
    writer = RunWriter(path, CONFIG, flush_rows=10)
    try:
        for i in range(25):
            writer.log(i, g_loss=float(i))
        out = export_run(path, "parquet", tmp_path / "live.parquet")
        np.testing.assert_array_equal(pd.read_parquet(out)["g_loss"], np.arange(20, dtype=np.float32))
        writer.log(25, g_loss=25.0)  # the writer was not disturbed
    finally:
        writer.close()
    assert open_run(path).n_iterations == 26


def test_outputs_are_replaced_only_when_asked(gan_run, tmp_path):
    out = tmp_path / "m.csv"
    out.write_text("keep me\n")
    with pytest.raises(ExportError, match="already exists.*overwrite=True"):
        export_run(gan_run, "csv", out)
    assert out.read_text() == "keep me\n"
    export_run(gan_run, "csv", out, overwrite=True)
    assert len(pd.read_csv(out)) == 120

    folder = export_run(gan_run, "tensorboard", tmp_path / "tb")
    export_run(gan_run, "tensorboard", folder, overwrite=True)  # a previous export: replaced, not added to
    assert len(list(folder.iterdir())) == 1 and len(read_tensorboard(folder).Scalars("g_loss")) == 120
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "paper.tex").write_text("precious")
    with pytest.raises(ExportError, match="more than TensorBoard event files"):
        export_run(gan_run, "tensorboard", tmp_path / "notes", overwrite=True)
    assert (tmp_path / "notes" / "paper.tex").read_text() == "precious"


def test_library_errors_are_one_sentence_landscape_errors(gan_run, tmp_path, monkeypatch):
    empty = tmp_path / "empty.h5"
    RunWriter(empty, CONFIG).close()
    cases = [
        (RunFileError, "No such run file", lambda: export_run(tmp_path / "nope.h5", "csv")),
        (RunFileError, "has no iterations yet", lambda: export_run(empty, "csv")),
        (ExportError, "Unknown export format 'xlsx'", lambda: export_run(gan_run, "xlsx")),
        (ExportError, "it is the run file itself", lambda: export_run(gan_run, "csv", gan_run, overwrite=True)),
        (ExportError, "does not exist", lambda: export_run(gan_run, "csv", tmp_path / "no" / "m.csv")),
        (ExportError, "it is a folder", lambda: export_run(gan_run, "csv", tmp_path)),
    ]
    for kind, fragment, call in cases:
        with pytest.raises(kind, match=fragment) as info:
            call()
        assert isinstance(info.value, LandscapeError) and str(info.value).count(". ") == 0
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ExportError, match=r"pip install 'landscape\[parquet\]'"):
        export_run(gan_run, "parquet", tmp_path / "m.parquet")
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(ExportError, match=r"pip install 'landscape\[tensorboard\]'"):
        export_run(gan_run, "tensorboard", tmp_path / "tb")
    assert not list(tmp_path.glob("m.*")) and not (tmp_path / "tb").exists()


def test_default_outputs_sit_next_to_the_run():
    run = Path("runs") / "mnist-vanilla.h5"
    assert default_output(run, "csv") == Path("runs/mnist-vanilla.csv")
    assert default_output(run, "PARQUET") == Path("runs/mnist-vanilla.parquet")
    assert default_output(run, "tensorboard") == Path("runs/mnist-vanilla-tensorboard")


# ---------------------------------------------------------------------------------------------- the command
def test_command_writes_each_format_next_to_the_run_by_default(tmp_path):
    run = write_plain_run(tmp_path / "runs" / "plain.h5")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    result = landscape("export", run, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Wrote {tmp_path / 'runs' / 'plain.csv'} (csv, 90 rows x 8 fields)."
    assert_same_as_csv(tmp_path / "runs" / "plain.csv", open_run(run).metrics)

    result = landscape("export", run, "--format", "tensorboard", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert "plain-tensorboard (tensorboard, 90 steps x 7 scalars and the config)." in result.stdout
    assert len(read_tensorboard(tmp_path / "runs" / "plain-tensorboard").Scalars("accuracy")) == 90

    result = landscape("export", run, "-o", "out.parquet", cwd=elsewhere)  # the format from the suffix
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Wrote out.parquet (parquet, 90 rows x 8 fields)."
    pd.testing.assert_frame_equal(pd.read_parquet(elsewhere / "out.parquet"), open_run(run).metrics)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["plain-tensorboard", "plain.csv", "plain.h5"]
    assert list(elsewhere.iterdir()) == [elsewhere / "out.parquet"]


def test_command_refuses_an_existing_output_unless_forced(gan_run, tmp_path):
    out = tmp_path / "m[1].csv"  # brackets print as text, not as rich markup
    out.write_text("keep me\n")
    assert_one_sentence_error(landscape("export", gan_run, "--out", out), f"{out} already exists", "--force")
    assert out.read_text() == "keep me\n"
    result = landscape("export", gan_run, "--out", out, "--force")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Wrote {out} (csv, 120 rows x 13 fields)."
    assert_same_as_csv(out, open_run(gan_run).metrics)


@pytest.mark.parametrize("case", ["missing", "not-hdf5", "not-a-run", "no-iterations", "no-folder", "format",
                                  "folder", "no-pyarrow"])
def test_command_errors_are_one_sentence_and_exit_2(case, gan_run, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a run\n")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["x"] = np.arange(3)
    empty = tmp_path / "empty.h5"
    RunWriter(empty, CONFIG).close()
    args, fragments, hide = {
        "missing": ((tmp_path / "nope.h5",), ("No such run file",), None),
        "not-hdf5": ((text,), ("is not an HDF5 file",), None),
        "not-a-run": ((other,), ("not a landscape run file",), None),
        "no-iterations": ((empty,), ("has no iterations yet",), None),
        "no-folder": ((gan_run, "-o", tmp_path / "no" / "m.csv"), ("does not exist", "--out"), None),
        "format": ((gan_run, "--format", "xlsx"), ("Unknown --format 'xlsx'", "csv, parquet, tensorboard"), None),
        "folder": ((gan_run, "--out", tmp_path, "--force"), ("it is a folder", "--out"), None),
        "no-pyarrow": ((gan_run, "-f", "parquet", "-o", tmp_path / "m.parquet"),
                       ("needs the pyarrow package", "pip install 'landscape[parquet]'"), "pyarrow"),
    }[case]
    assert_one_sentence_error(landscape("export", *args, hide=hide), *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.h5", "notes.txt", "other.h5"]  # nothing written
