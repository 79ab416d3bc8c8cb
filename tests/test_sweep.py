"""`landscape sweep`: a spec's runs on a Dask LocalCluster (2 workers), indexed, skipped, resumed, failed apart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landscape import open_run, open_sweep
from landscape.config import TrainConfig
from landscape.errors import LandscapeError
from landscape.resume import resume_path
from landscape.sweeps.index import prepare_folder
from landscape.sweeps.spec import SpecError, load_spec, parse_spec
from trainers import record

TINY = {"arch": "vanilla", "dataset": "mnist", "epochs": 2, "batch_size": 64, "subset": 1024, "hessian_every": 0,
        "quality_every": 0, "device": "cpu"}


def write_spec(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def toml_base(settings: dict) -> str:
    import json

    return "[base]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())


def landscape(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "landscape", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout)


# ---------------------------------------------------------------------- the spec
def test_grid_and_runs_expand_into_named_runs():
    spec = parse_spec({"base": TINY, "grid": {"optimizer": ["sgd", "adam"], "seed": [0, 1]},
                       "runs": [{"optimizer": "rmsprop", "lr_g": 1e-4}, {"name": "custom", "seed": 7}]})
    names = [run.name for run in spec.runs]
    assert names[:4] == ["optimizer-sgd_seed-0", "optimizer-sgd_seed-1", "optimizer-adam_seed-0", "optimizer-adam_seed-1"]
    assert names[4] == "optimizer-rmsprop_lr_g-0.0001" and names[5] == "custom"
    assert spec.factors == ("optimizer", "seed", "lr_g")
    assert spec.runs[4].config.lr_g == 1e-4 and spec.runs[4].factors["seed"] == 0  # the base's value
    assert parse_spec(spec.tables).digest == spec.digest  # names and digest are stable


@pytest.mark.parametrize("tables, message", [
    ({"base": {**TINY, "epocs": 2}, "grid": {"seed": [0]}}, r"unknown setting 'epocs' \(did you mean epochs\?\)"),
    ({"base": TINY, "grid": {"optimiser": ["sgd"]}}, r"\[grid\] has an unknown setting 'optimiser' \(did you mean optimizer"),
    ({"base": TINY, "grid": {"seed": []}}, "empty list"),
    ({"base": TINY, "grid": {"seed": 3}}, "must be a list of values"),
    ({"base": TINY}, "has no runs"),
    ({"base": TINY, "grid": {"seed": [0]}, "sweep": {}}, r"unknown table \[sweep\]"),
    ({"base": TINY, "grid": {"optimizer": ["sgd", "adamw"]}}, "run optimizer-adamw: Unknown optimizer"),
    ({"base": TINY, "grid": {"batch_size": [64, -1]}}, "run batch_size--1: batch_size must be a whole number"),
    ({"base": TINY, "runs": [{"seed": 1}, {"seed": 1}]}, "both named seed-1"),
])
def test_bad_specs_are_refused_naming_the_run(tables, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(tables)


def test_spec_file_errors(tmp_path):
    with pytest.raises(SpecError, match="No such sweep spec"):
        load_spec(tmp_path / "missing.toml")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(write_spec(tmp_path / "bad.toml", "[base\narch = 1"))


def test_a_folder_holds_one_sweep(tmp_path):
    one = parse_spec({"base": TINY, "grid": {"seed": [0, 1]}})
    other = parse_spec({"base": TINY, "grid": {"seed": [0, 2]}})
    folder = prepare_folder(one, tmp_path / "sweep")
    assert prepare_folder(one, folder) == folder  # the same sweep again: fine
    with pytest.raises(SpecError, match="holds another sweep's runs"):
        prepare_folder(other, folder)
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "mine.h5").write_bytes(b"")
    with pytest.raises(SpecError, match=r"not this sweep's \(e.g. mine.h5\)"):
        prepare_folder(one, loose)


# ---------------------------------------------------------------------- on Dask
def test_cli_sweep_runs_indexes_and_then_skips(tmp_path, shared_data):
    spec = write_spec(tmp_path / "tiny.toml", toml_base({**TINY, "data_dir": str(shared_data)})
                      + '[grid]\noptimizer = ["adam", "sgd"]\nseed = [0, 1]\n')
    out = tmp_path / "out"
    first = landscape("sweep", str(spec), "--out", str(out), "--workers", "2")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "dashboard http" in first.stdout and "4 finished" in first.stdout
    index = pd.read_csv(out / "sweep.csv")
    assert list(index.columns) == ["run", "optimizer", "seed", "status", "iterations", "planned", "seconds",
                                   "reason", "path"]
    assert (index["status"] == "finished").all() and (index["iterations"] == 32).all()
    assert sorted(p.name for p in out.glob("*.h5")) == sorted(index["path"])
    assert not list(out.glob("*.resume"))
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.h5")}

    again = landscape("sweep", str(spec), "--out", str(out), "--workers", "2")
    assert again.returncode == 0 and "4 skipped" in again.stdout, again.stdout + again.stderr
    assert stamps == {p.name: p.stat().st_mtime_ns for p in out.glob("*.h5")}  # not touched

    sweep = open_sweep(out)
    assert sweep.factors == ("optimizer", "seed") and len(sweep) == 4
    assert {"run", "optimizer", "seed"} <= set(sweep.tidy().columns)


def test_cli_refuses_an_unreachable_scheduler_quickly(tmp_path, shared_data):
    spec = write_spec(tmp_path / "tiny.toml", toml_base({**TINY, "data_dir": str(shared_data)})
                      + "[grid]\nseed = [0]\n")
    start = time.monotonic()
    result = landscape("sweep", str(spec), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9")
    assert time.monotonic() - start < 30
    assert result.returncode == 2 and "Cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    bad = landscape("sweep", str(spec), "--out", str(tmp_path / "out"), "--scheduler", "nowhere")
    assert bad.returncode == 2 and "--scheduler must be local or a Dask scheduler address" in bad.stderr


def rows_on_disk(path: Path) -> int:
    """Rows of a run file being written (0 while a flush makes it briefly unreadable)."""
    try:
        return open_run(path).n_iterations
    except (OSError, LandscapeError):
        return 0


@pytest.fixture(scope="module")
def client():
    from trainers.sweep import dask_client

    with dask_client("local", workers=2, threads_per_run=1) as c:
        yield c


def test_failing_run_is_marked_and_the_others_finish(tmp_path, client, shared_data):
    from trainers.sweep import run_sweep

    spec = parse_spec({"base": {**TINY, "data_dir": str(shared_data)},
                       "runs": [{"seed": 0}, {"seed": 1, "subset": 10 ** 6}, {"seed": 2}]})
    folder = prepare_folder(spec, tmp_path / "sweep")
    states = {s.name: s for s in run_sweep(spec, folder, client)}
    assert states["seed-0"].status == states["seed-2"].status == "finished"
    failed = states["seed-1_subset-1000000"]
    assert failed.status == "failed" and "subset 1000000 is larger than mnist's 60000" in failed.reason


def test_worker_killed_mid_run_is_rescheduled_and_resumed_bit_for_bit(tmp_path, client, shared_data):
    """SIGKILL the worker process running a run: Dask reschedules it, and it resumes from its resume state."""
    from trainers.sweep import run_sweep

    long = {**TINY, "epochs": 10, "batch_size": 32, "subset": 4096, "resume_every": 40, "data_dir": str(shared_data)}
    spec = parse_spec({"base": long, "grid": {"seed": [3]}})
    folder = prepare_folder(spec, tmp_path / "sweep")
    path = folder / spec.runs[0].file_name
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(states=run_sweep(spec, folder, client)))
    worker.start()
    deadline = time.monotonic() + 120
    while not (resume_path(path).exists() and rows_on_disk(path) > 100):
        assert time.monotonic() < deadline and worker.is_alive()
        time.sleep(0.05)
    busy = [addr for addr, keys in client.processing().items() if keys]
    pids = client.run(os.getpid, workers=busy)
    assert len(pids) == 1
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    worker.join(timeout=300)
    state = result["states"][0]
    assert state.status == "finished", state.reason
    killed = open_run(path)
    assert killed.attrs.get("resumed"), "the run must have been resumed, not restarted"

    reference = tmp_path / "reference.h5"
    record(TrainConfig(**long, seed=3, threads=1), reference)
    expected = open_run(reference)
    for column in expected.metrics.columns.drop("time"):
        np.testing.assert_array_equal(killed.metrics[column].to_numpy(), expected.metrics[column].to_numpy())
