"""One live writer per run file: --force, export, sweep, resume and amend refuse a file a live writer holds,
writers started at the same moment never share one, and a writer whose file is replaced or removed under it
says so and keeps its rows elsewhere (issue 23, item 1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from landscape.amend import append_hessian
from landscape.errors import LandscapeError, RunFileError, RunFileReplacedError
from landscape.export import ExportError, export_run
from landscape.reader import open_run
from landscape.resume import resume_path
from landscape.runlock import lock_path
from landscape.writer import RunWriter

#: A record that lasts (it is stopped by the test): tiny batches of 1,024 MNIST images, nothing measured.
LONG_RECORD = ("record", "--arch", "vanilla", "--data", "mnist", "--subset", "1024", "--epochs", "5000",
               "--hessian-every", "0", "--quality-every", "0", "--log-every", "0.5")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}


def landscape(*args: str | os.PathLike, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "landscape", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=timeout)


def start_record(out: Path, log: Path) -> subprocess.Popen:
    """``landscape record ... --out out`` in the background, its output into ``log``; returns once it has rows."""
    with open(log, "w") as fh:
        child = subprocess.Popen([sys.executable, "-m", "landscape", *LONG_RECORD, "--out", str(out)],
                                 stdout=fh, stderr=subprocess.STDOUT, env=ENV)
    wait_for(lambda: out.exists() and _rows(out) > 0, child, log, "the first record to write rows")
    return child


def wait_for(condition, child: subprocess.Popen, log: Path, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if child.poll() is not None:
            raise AssertionError(f"the record ended ({child.returncode}) before {what}: {log.read_text()}")
        if time.monotonic() > deadline:
            child.kill()
            raise AssertionError(f"timed out waiting for {what}: {log.read_text()}")
        time.sleep(0.1)


def _rows(path: Path) -> int:
    try:
        return open_run(path).n_iterations
    except LandscapeError:  # not there, or not yet readable
        return 0


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def finished_run(path: Path, rows: int = 5, **config) -> Path:
    with RunWriter(path, {"arch": "vanilla", **config}, ["g_loss", "d_loss"]) as w:
        for i in range(rows):
            w.log(i, g_loss=float(i), d_loss=-float(i))
    return path


# ---------------------------------------------------------------------- the race, through the real CLI
def test_force_onto_a_live_record_is_refused_and_the_live_run_goes_on(tmp_path, shared_data):
    live, log = tmp_path / "live.h5", tmp_path / "first.log"
    first = start_record(live, log)
    try:
        run_id = open_run(live).attrs["run_id"]
        assert resume_path(live).exists()  # the first run's resume state, written at its start
        second = landscape(*LONG_RECORD[:-2], "--epochs", "1", "--out", live, "--force")
        line = one_line_error(second)
        assert f"{live} is still being written by process {first.pid}; stop it before replacing it" in line
        assert "Recorded" not in second.stdout
        rows = _rows(live)
        wait_for(lambda: _rows(live) > rows, first, log, "the live run's rows to grow")  # still its file
        assert open_run(live).attrs["run_id"] == run_id and open_run(live).status == "running"
        assert resume_path(live).exists()  # the refused run removed nothing
    finally:
        first.send_signal(signal.SIGINT)  # a clean stop: "interrupted", every row kept
        first.wait(timeout=60)
    assert first.returncode == 130, log.read_text()
    run = open_run(live)
    assert run.status == "interrupted" and run.attrs["run_id"] == run_id and run.config["epochs"] == 5000
    np.testing.assert_array_equal(run.metrics["step"], np.arange(run.n_iterations))
    assert not lock_path(live).exists()  # the writer's lock goes with it


def test_a_record_whose_file_is_replaced_says_so_and_keeps_its_rows(tmp_path, shared_data):
    live, log = tmp_path / "live.h5", tmp_path / "first.log"
    other = finished_run(tmp_path / "other.h5", rows=3)
    first = start_record(live, log)
    try:
        run_id = open_run(live).attrs["run_id"]
        os.replace(other, live)  # what a writer that takes no lock (or `cp`, `mv`) does
        first.wait(timeout=60)  # it notices at its next flush (within a second) and stops
    finally:
        if first.poll() is None:
            first.kill()
    out = log.read_text()
    assert first.returncode == 2, out
    assert "Recorded" not in out and "Traceback" not in out
    rescued = tmp_path / f"live.orphaned-{first.pid}.h5"
    assert (f"{live} was replaced by another file while this run was writing it, so it does not hold this run; "
            f"{rescued} holds the run's ") in " ".join(out.split()), out
    kept = open_run(rescued)
    assert kept.attrs["run_id"] == run_id and kept.status == "interrupted" and kept.n_iterations > 0
    assert f"{kept.n_iterations:,} recorded rows instead" in " ".join(out.split())
    np.testing.assert_array_equal(kept.metrics["step"], np.arange(kept.n_iterations))
    assert open_run(live).n_iterations == 3  # the file that replaced it is left alone
    # its resume state went with its rows, so the run can be resumed there
    assert ", with its resume state, so it can be resumed from there." in " ".join(out.split())
    assert resume_path(rescued).exists() and not resume_path(live).exists()


# ---------------------------------------------------------------------- the library
def test_a_writer_whose_file_is_removed_raises_and_saves_its_rows(tmp_path):
    path = tmp_path / "x.h5"
    w = RunWriter(path, {"arch": "vanilla"}, ["g_loss"], flush_rows=10)
    for i in range(15):
        w.log(i, g_loss=1.0)
    path.unlink()
    with pytest.raises(RunFileReplacedError, match=r"x.h5 was removed while this run was writing it; close the "
                                                   r"writer to save the run's 20 recorded rows elsewhere"):
        for i in range(15, 25):
            w.log(i, g_loss=1.0)
    with pytest.raises(RunFileReplacedError, match=r"was removed while this run was writing it; .*orphaned-\d+\.h5 "
                                                   r"holds the run's 20 recorded rows instead") as caught:
        w.close()
    kept = open_run(caught.value.rescued)
    assert kept.n_iterations == 20 and kept.status == "finished"
    assert not path.exists() and not lock_path(path).exists()


def test_a_live_file_refuses_every_other_writer(tmp_path):
    path, done = tmp_path / "live.h5", finished_run(tmp_path / "done.h5")
    me = f"{path} is still being written by process {os.getpid()}; "
    with RunWriter(path, {"arch": "vanilla"}, ["g_loss"], flush_rows=2) as w:
        for i in range(4):
            w.log(i, g_loss=1.0)
        with pytest.raises(RunFileError, match=me + "stop it before replacing it"):
            RunWriter(path, {}, overwrite=True)
        with pytest.raises(RunFileError, match=me + "stop it before resuming it"):
            RunWriter.reopen(path, 2, 0)
        with pytest.raises(RunFileError, match=me + "wait until the run ends"):
            append_hessian(path, 0, "g", {"v": np.zeros(1)}, {})
        with pytest.raises(ExportError, match=me + "choose another out path"):
            export_run(done, "csv", path, overwrite=True)
        for i in range(4, 8):
            w.log(i, g_loss=2.0)
    run = open_run(path)
    assert run.status == "finished" and run.n_iterations == 8  # every row of the live run, nothing else
    with pytest.raises(ExportError, match="is a landscape run file, and an export never replaces one"):
        export_run(done, "csv", path, overwrite=True)  # closed, but a run file all the same


def test_writers_started_at_the_same_moment_never_share_a_file(tmp_path):
    path = tmp_path / "r.h5"
    n = 6
    barrier, guard = threading.Barrier(n), threading.Lock()
    holding, most, outcomes = 0, 0, []

    def writer(k: int, overwrite: bool) -> None:
        nonlocal holding, most
        barrier.wait()
        try:
            w = RunWriter(path, {"k": k}, ["g_loss"], overwrite=overwrite)
        except RunFileError as err:
            outcomes.append(str(err))
            return
        with guard:
            holding += 1
            most = max(most, holding)
        try:
            w.log(0, g_loss=float(k))
            time.sleep(0.3)
        finally:
            with guard:
                holding -= 1
            w.close()
            outcomes.append("wrote")

    for overwrite in (False, True):
        threads = [threading.Thread(target=writer, args=(k, overwrite)) for k in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert most == 1, outcomes
        if not overwrite:  # the file did not exist: exactly one creates it
            assert outcomes.count("wrote") == 1, outcomes
        assert all(o == "wrote" or "still being written by process" in o or "already exists" in o for o in outcomes)
        assert open_run(path).status == "finished"
        outcomes.clear()


def test_a_killed_writers_lock_is_stale_and_taken_over(tmp_path):
    path = tmp_path / "killed.h5"
    code = ("import os, signal, sys\nfrom landscape.writer import RunWriter\n"
            "w = RunWriter(sys.argv[1], {'arch': 'vanilla'}, ['g_loss'], flush_rows=1)\n"
            "w.log(0, g_loss=1.0)\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert subprocess.run([sys.executable, "-c", code, str(path)], env=ENV).returncode == -signal.SIGKILL
    assert lock_path(path).exists()  # left behind, unlocked
    assert open_run(path).status == "incomplete"
    with RunWriter(path, {"arch": "vanilla"}, ["g_loss"], overwrite=True) as w:
        w.log(0, g_loss=2.0)
    assert open_run(path).status == "finished" and not lock_path(path).exists()


# ---------------------------------------------------------------------- the other commands
def test_export_force_onto_a_live_run_is_refused(tmp_path):
    done, live = finished_run(tmp_path / "done.h5"), tmp_path / "live.h5"
    with RunWriter(live, {"arch": "vanilla"}, ["g_loss"], flush_rows=1) as w:
        w.log(0, g_loss=1.0)
        line = one_line_error(landscape("export", done, "--out", live, "--force"))
        assert f"{live} is still being written by process {os.getpid()}; choose another --out." in line
        w.log(1, g_loss=1.0)
    assert open_run(live).n_iterations == 2


def test_sweep_onto_a_folder_whose_run_is_live_is_refused(tmp_path, shared_data):
    from landscape.sweeps.spec import load_spec
    from trainers.sweep import run_one

    spec_file = tmp_path / "s.toml"
    spec_file.write_text('[base]\narch = "vanilla"\ndataset = "mnist"\nepochs = 1\nsubset = 256\nhessian_every = 0\n'
                         'quality_every = 0\ndevice = "cpu"\n[grid]\nseed = [0]\n')
    spec, folder = load_spec(spec_file), tmp_path / "sweep"
    folder.mkdir()
    run = spec.runs[0]
    path = folder / run.file_name
    with RunWriter(path, {"arch": "vanilla"}, ["g_loss"], flush_rows=1) as w:
        w.log(0, g_loss=1.0)
        line = one_line_error(landscape("sweep", spec_file, "--out", folder, timeout=180))
        assert f"run {run.name}: {path} is still being written by process {os.getpid()}; stop it before" in line
        # a writer that starts after that check: the sweep's task is refused by the lock, and says why
        result = run_one(run.config.to_dict(), str(path))
        assert result["status"] == "failed" and f"still being written by process {os.getpid()}" in result["reason"]
        w.log(1, g_loss=1.0)
    assert open_run(path).n_iterations == 2 and open_run(path).config == {"arch": "vanilla"}
