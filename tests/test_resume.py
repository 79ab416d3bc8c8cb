"""Resuming a run: killed with SIGKILL at a random iteration, resumed, bit for bit the uninterrupted run."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from landscape import open_run
from landscape.config import TrainConfig
from landscape.errors import LandscapeError, RunFileError
from landscape.resume import resume_path
from trainers import record

# 1,280 iterations of the vanilla GAN: a few seconds on one thread.
SETTINGS = dict(arch="vanilla", dataset="mnist", epochs=10, batch_size=32, subset=4096, seed=5, resume_every=40,
                hessian_every=0, quality_every=0, device="cpu", threads=1)
FLAGS = ["--arch", "vanilla", "--data", "mnist", "--epochs", "10", "--batch-size", "32", "--subset", "4096",
         "--seed", "5", "--resume-every", "40", "--hessian-every", "0", "--quality-every", "0", "--device", "cpu",
         "--threads", "1"]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "landscape", *args]


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_same_run(resumed: Path, reference: Path) -> None:
    """Every metric row identical (wall time aside), the same checkpoints (weights included) and sample grids."""
    a, b = open_run(resumed), open_run(reference)
    assert a.status == b.status == "finished"
    assert list(a.metrics.columns) == list(b.metrics.columns)
    for column in a.metrics.columns.drop("time"):
        np.testing.assert_array_equal(a.metrics[column].to_numpy(), b.metrics[column].to_numpy(), err_msg=column)
    assert a.checkpoint_steps == b.checkpoint_steps and a.sample_epochs == b.sample_epochs
    for step in a.checkpoint_steps:
        for net in ("g", "d"):
            ca, cb = a.checkpoint(step, net), b.checkpoint(step, net)
            assert ca.keys() == cb.keys()
            for name in ca:
                np.testing.assert_array_equal(ca[name], cb[name])
    for epoch in a.sample_epochs:
        np.testing.assert_array_equal(a.sample(epoch), b.sample(epoch))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, shared_data) -> Path:
    """The uninterrupted run."""
    path = tmp_path_factory.mktemp("resume") / "reference.h5"
    summary = record(TrainConfig(**SETTINGS, data_dir=str(shared_data)), path)
    assert summary.status == "finished" and not resume_path(path).exists()  # a finished run keeps no state
    return path


def test_killed_at_a_random_iteration_resumes_bit_for_bit(tmp_path, reference, shared_data):
    path = tmp_path / "killed.h5"
    child = subprocess.Popen(cli("record", *FLAGS, "--out", str(path), "--data-dir", str(shared_data)),
                             env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not resume_path(path).exists():  # the step-0 state: training has started
        assert child.poll() is None, child.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(random.Random().uniform(0.3, 1.2))
    child.send_signal(signal.SIGKILL)
    child.wait()
    killed = open_run(path)
    assert killed.status == "incomplete" and 0 < killed.n_iterations < 1280, "the kill must land mid-run"

    result = subprocess.run(cli("record", "--resume", str(path), "--data-dir", str(shared_data)), env=env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Resumed from iteration" in result.stdout
    assert_same_run(path, reference)
    assert open_run(path).attrs["resumed"]  # the file says it was resumed, and from where
    assert not resume_path(path).exists()

    again = subprocess.run(cli("record", "--resume", str(path)), env=env(), capture_output=True, text=True)
    assert again.returncode == 2 and "is finished" in again.stdout + again.stderr
    assert "Traceback" not in again.stderr


def stopper(at: int):
    """A progress callback that stops the run (as Ctrl-C does) once it has done at least ``at`` iterations."""
    def stop_at(trainer) -> None:
        if trainer.step >= at:
            trainer.request_stop()

    return stop_at


def interrupted_run(path: Path, shared_data: Path, at: int, resume: bool = False, **changes) -> None:
    """A run stopped between iterations once it has done at least ``at`` iterations."""
    with pytest.raises(KeyboardInterrupt):
        record(TrainConfig(**{**SETTINGS, **changes}, data_dir=str(shared_data)), path, resume=resume,
               progress=stopper(at))


def test_rows_after_the_state_are_dropped_and_counted(tmp_path, reference, shared_data):
    path = tmp_path / "stopped.h5"
    interrupted_run(path, shared_data, at=200)  # a clean stop keeps the state of the step it stopped at
    early = resume_path(path).read_bytes()
    first = open_run(path).n_iterations
    interrupted_run(path, shared_data, at=first + 300, resume=True)  # past the checkpoint at 256 or 512
    later = open_run(path)
    resume_path(path).write_bytes(early)  # as if killed before any later state was written
    summary = record(TrainConfig(**SETTINGS, data_dir=str(shared_data)), path, resume=True)
    assert summary.status == "finished" and summary.resumed_from == first
    assert summary.dropped_rows == later.n_iterations - first >= 300
    history = open_run(path).attrs["resumed"]
    assert f'"dropped_rows": {summary.dropped_rows}' in history
    assert_same_run(path, reference)


def test_resume_refuses_what_it_cannot_continue(tmp_path, reference, shared_data):
    config = TrainConfig(**SETTINGS, data_dir=str(shared_data))
    with pytest.raises(RunFileError, match="is finished"):
        record(config, reference, resume=True)
    with pytest.raises(RunFileError, match="No such run file"):
        record(config, tmp_path / "missing.h5", resume=True)

    path = tmp_path / "stopped.h5"
    interrupted_run(path, shared_data, at=100)
    sha = digest(path)
    with pytest.raises(RunFileError, match=r"another config \(lr_g"):
        record(config.replace(lr_g=2e-3), path, resume=True)
    assert digest(path) == sha  # refused before anything was written

    state = resume_path(path)
    good = state.read_bytes()
    state.write_bytes(good[: len(good) // 2] + bytes(len(good) - len(good) // 2))
    with pytest.raises(RunFileError, match="resume state of .* cannot be used"):
        record(config, path, resume=True)
    assert digest(path) == sha

    state.write_bytes(good)
    with h5py.File(path, "a") as handle:
        handle.attrs["run_id"] = "another run"
    with pytest.raises(RunFileError, match="belongs to another run"):
        record(config, path, resume=True)
    with h5py.File(path, "a") as handle:
        handle.attrs["format_version"] = 2
    with pytest.raises(RunFileError, match="format version 2"):
        record(config, path, resume=True)

    state.unlink()
    with h5py.File(path, "a") as handle:
        handle.attrs["format_version"] = 1
    with pytest.raises(RunFileError, match="has no resume state"):
        record(config, path, resume=True)


def test_resume_every_zero_writes_no_state(tmp_path, shared_data):
    path = tmp_path / "nostate.h5"
    interrupted_run(path, shared_data, at=1, resume_every=0)
    assert not resume_path(path).exists()


def test_cli_resume_takes_the_run_files_settings(tmp_path, reference):
    result = subprocess.run(cli("record", "--resume", str(reference), "--epochs", "3", "--lr-g", "0.1"), env=env(),
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "drop --epochs, --lr-g" in result.stdout + result.stderr and "Traceback" not in result.stderr
    missing = subprocess.run(cli("record", "--data", "mnist"), env=env(), capture_output=True, text=True)
    assert missing.returncode == 2 and "Missing option --arch" in missing.stdout + missing.stderr


def test_config_rejects_a_negative_resume_every():
    with pytest.raises(LandscapeError, match="resume_every must be a whole number >= 0"):
        TrainConfig(resume_every=-1)
