"""The run file: writer/reader round trip, stages, wrong files, atomic Hessian appends."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from landscape import open_run, open_runs
from landscape.errors import DivergedError, RunFileError
from landscape.runfile import GAN_FIELDS
from landscape.stages import assign_stages
from landscape.amend import append_hessian
from landscape.writer import RunWriter

CONFIG = {"arch": "vanilla", "dataset": "mnist", "epochs": 2, "betas": (0.9, 0.999)}


def _write(path, n=100, **kwargs):
    with RunWriter(path, CONFIG, GAN_FIELDS, **kwargs) as w:
        for i in range(n):
            w.log(i, epoch=i // 10, g_loss=torch.tensor(float(i)), g_grad_norm=2.0 * i, d_loss=np.float32(-i))
    return path


def test_round_trip_metrics_and_config(tmp_path):
    run = open_run(_write(tmp_path / "r.h5", n=1000, flush_rows=64))
    assert run.status == "finished"
    assert run.config == {**CONFIG, "betas": [0.9, 0.999]}
    assert run.n_iterations == 1000
    m = run.metrics
    assert list(m.columns) == ["step", "epoch", "time", *GAN_FIELDS]
    np.testing.assert_array_equal(m["step"], np.arange(1000))
    np.testing.assert_array_equal(m["epoch"], np.arange(1000) // 10)
    np.testing.assert_allclose(m["g_loss"], np.arange(1000))
    np.testing.assert_allclose(m["g_grad_norm"], 2.0 * np.arange(1000))
    np.testing.assert_allclose(m["d_loss"], -np.arange(1000))
    assert m["d_out_fake"].isna().all()  # a field never logged reads as NaN
    assert (np.diff(m["time"]) >= 0).all()
    assert run.attrs["format_version"] == 1 and run.attrs["torch_version"].startswith("2.")


def test_unknown_field_is_refused(tmp_path):
    with RunWriter(tmp_path / "r.h5", CONFIG, GAN_FIELDS) as w:
        with pytest.raises(KeyError, match="not a declared field"):
            w.log(0, nonsense=1.0)


def test_existing_file_is_not_overwritten(tmp_path):
    path = _write(tmp_path / "r.h5", n=5)
    with pytest.raises(RunFileError, match="already exists"):
        RunWriter(path, CONFIG)
    assert open_run(path).n_iterations == 5
    _write(path, n=7, overwrite=True)
    assert open_run(path).n_iterations == 7


def test_exception_keeps_rows_and_sets_status(tmp_path):
    path = tmp_path / "div.h5"
    with pytest.raises(DivergedError):
        with RunWriter(path, CONFIG) as w:
            for i in range(10):
                w.log(i, g_loss=1.0)
            raise DivergedError("nan")
    run = open_run(path)
    assert (run.status, run.n_iterations) == ("diverged", 10)
    path = tmp_path / "int.h5"
    with pytest.raises(KeyboardInterrupt):
        with RunWriter(path, CONFIG) as w:
            w.log(0, g_loss=1.0)
            raise KeyboardInterrupt
    assert open_run(path).status == "interrupted"


def test_optional_groups_round_trip(tmp_path):
    path = tmp_path / "r.h5"
    g = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    with RunWriter(path, CONFIG) as w:
        w.set_meta("networks", {"g": {"params": 10, "summary": "Linear"}})
        w.declare_layers("g", ["0.weight", "0.bias"])
        for i in range(20):
            w.log_layers("g", torch.tensor([i, 2.0 * i]))
            w.log(i, g_loss=1.0)
        w.set_probe(torch.ones(4, 1, 28, 28), torch.zeros(4, 20))
        w.add_checkpoint(19, {"g": g.state_dict(), "d": {"w": torch.arange(3.0)}})
        w.add_samples(1, np.full((8, 8, 1), 7, np.uint8))
        w.add_hessian(19, "d", {"top_values": np.array([3.0, 2.0])}, {"method": "eigsh", "converged": True, "tol": 1e-3})
    run = open_run(path)
    assert run.meta("networks") == {"g": {"params": 10, "summary": "Linear"}}
    layers = run.layer_norms("g")
    assert list(layers.columns) == ["0.weight", "0.bias"] and len(layers) == 20
    np.testing.assert_allclose(layers["0.bias"], 2.0 * np.arange(20))
    assert run.layer_norms("d") is None
    real, z = run.probe()
    assert real.shape == (4, 1, 28, 28) and z.shape == (4, 20)
    assert run.checkpoint_steps == [19]
    state = run.checkpoint(19, "g")
    assert set(state) == set(g.state_dict())
    np.testing.assert_array_equal(state["0.weight"], g.state_dict()["0.weight"].numpy())
    assert state["1.num_batches_tracked"].dtype == np.int64
    assert run.sample_epochs == [1] and run.sample(1).dtype == np.uint8
    hess = run.hessian()
    assert hess.loc[0, "method"] == "eigsh" and hess.loc[0, "converged"]
    np.testing.assert_array_equal(run.hessian_arrays(19, "d")["top_values"], [3.0, 2.0])
    with pytest.raises(RunFileError, match="no checkpoint at step 5"):
        run.checkpoint(5, "g")


def test_append_hessian_is_atomic_and_keeps_everything(tmp_path):
    path = _write(tmp_path / "r.h5", n=50)
    append_hessian(path, 49, "g", {"bottom_values": np.array([-1.0])}, {"classification": "saddle"})
    run = open_run(path)
    assert run.n_iterations == 50 and run.hessian_keys == [(49, "g")]
    assert run.hessian().loc[0, "classification"] == "saddle"
    assert not list(tmp_path.glob("*.tmp"))


def test_append_hessian_refuses_a_live_run(tmp_path):
    path = tmp_path / "live.h5"
    with RunWriter(path, CONFIG) as w:
        w.log(0, g_loss=1.0)
        w.flush()
        with pytest.raises(RunFileError, match="still being written"):
            append_hessian(path, 0, "g", {"v": np.zeros(1)}, {})


def test_reader_sees_flushed_rows_while_writer_is_open(tmp_path):
    path = tmp_path / "live.h5"
    w = RunWriter(path, CONFIG, flush_rows=10)
    for i in range(25):
        w.log(i, g_loss=1.0)
    run = open_run(path)  # the writer still holds the file
    assert run.status == "running" and run.writer_alive
    assert run.n_iterations == 20
    for i in range(25, 40):
        w.log(i, g_loss=1.0)
    w.close()
    assert open_run(path).n_iterations == 40


def test_a_read_that_meets_a_writer_mid_flush_is_repeated_and_a_damaged_file_gets_one_sentence(tmp_path):
    from landscape.runfile import read_run_file

    path = _write(tmp_path / "r.h5", n=3)
    failures = iter([RuntimeError("Unable to get group info (addr overflow)"), KeyError("metrics")])

    def read(handle):  # what h5py raises when a flush lands in the middle of a read
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return len(handle["metrics"])

    assert read_run_file(path, read) == 3

    def damaged(handle):
        raise OSError("Can't read data (wrong B-tree signature)")

    with pytest.raises(RunFileError, match=r"r.h5 could not be read \(Can't read data \(wrong B-tree signature\)\); "
                                           r"the file may be damaged."):
        read_run_file(path, damaged, retries=2)


def test_reads_of_a_run_another_process_is_flushing_never_fail(tmp_path):
    import subprocess
    import sys
    import time

    path = tmp_path / "live.h5"
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from landscape.writer import RunWriter\n"
        f"w = RunWriter({str(path)!r}, {{'arch': 'vanilla'}}, ['g_loss', 'd_loss'], flush_rows=1)\n"
        "end = time.monotonic() + 4\n"
        "i = 0\n"
        "while time.monotonic() < end:\n"
        "    w.log(i, g_loss=1.0, d_loss=2.0); i += 1\n"
        "w.close()\n"
    )])
    try:
        reads = 0
        while writer.poll() is None:
            if path.exists():
                try:
                    run = open_run(path)
                except RunFileError:  # being created: not yet a run file
                    assert reads == 0  # once it has been read, every read succeeds
                    continue
                np.testing.assert_array_equal(run.metrics["step"], np.arange(run.n_iterations))
                reads += 1
        assert writer.returncode == 0 and reads > 10
    finally:
        if writer.poll() is None:
            writer.kill()
    assert open_run(path).status == "finished"


def test_assign_stages_equal_parts():
    stages = assign_stages(46800, 5)
    assert np.bincount(stages)[1:].tolist() == [9360] * 5
    assert (np.diff(stages) >= 0).all()
    assert np.bincount(assign_stages(7, 5))[1:].tolist() == [2, 1, 2, 1, 1]
    assert len(assign_stages(0, 5)) == 0


def test_a_measurement_belongs_to_the_stage_of_its_last_iteration(tmp_path):
    """One rule (landscape.stages.measurement_stage) for checkpoints, Hessian estimates and quality measurements."""
    from analysis.runs import measured_stage
    from landscape.errors import LandscapeError
    from landscape.stages import DEFAULT_STAGES, check_stages, measurement_stage, stage_starts

    run = open_run(_write(tmp_path / "r.h5", n=10))
    boundaries = stage_starts(10, DEFAULT_STAGES)  # [0, 2, 4, 6, 8, 10]: where the trainer measures by default
    assert run.stage_of(boundaries).tolist() == [1, 1, 2, 3, 4, 5]  # each stage's end counts for that stage
    assert measured_stage(run, boundaries).tolist() == run.stage_of(boundaries).tolist()
    assert measurement_stage(np.arange(10), boundaries, DEFAULT_STAGES).tolist() == [1, 1, 2, 3, 4, 5]
    assert check_stages(3) == 3
    with pytest.raises(LandscapeError, match="--stages must be at least 1, got 0"):
        check_stages(0, "--stages")


def test_tidy_long_form(tmp_path):
    run = open_run(_write(tmp_path / "r.h5", n=100))
    tidy = run.tidy(stages=4)
    assert list(tidy.columns) == ["step", "epoch", "stage", "stage_label", "network", "loss", "grad_norm"]
    assert list(tidy["network"].cat.categories) == ["g", "d", "d_real", "d_fake"]
    g = tidy[tidy["network"] == "g"]
    assert len(g) == 100 and g["stage"].value_counts().sort_index().tolist() == [25] * 4
    assert list(tidy["stage_label"].cat.categories) == ["1: 0-24", "2: 25-49", "3: 50-74", "4: 75-99"]
    np.testing.assert_allclose(g["grad_norm"], 2.0 * np.arange(100))


def test_open_runs_stacks_with_config_columns(tmp_path):
    a = _write(tmp_path / "a.h5", n=10)
    b = _write(tmp_path / "b.h5", n=20)
    runs = open_runs([a, b])
    m = runs.metrics
    assert len(m) == 30 and set(m["run"]) == {"a", "b"}
    assert (m["arch"] == "vanilla").all() and "dataset" in m.columns
    tidy = runs.tidy()
    assert len(tidy) == 2 * 30  # d_real and d_fake were not recorded in these files: they have no rows
    assert tidy.groupby("run")["stage"].max().tolist() == [5, 5]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "No such run file"),
        (lambda p: p.write_text("hello"), "not an HDF5 file"),
        (lambda p: h5py.File(p, "w").close(), "not a landscape run file"),
    ],
)
def test_wrong_files_get_one_sentence(tmp_path, make, message):
    path = tmp_path / "x.h5"
    make(path)
    with pytest.raises(RunFileError, match=message):
        open_run(path)


def test_newer_format_version_is_refused(tmp_path):
    path = _write(tmp_path / "r.h5", n=3)
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(RunFileError, match="format version 99.*upgrade landscape"):
        open_run(path)


def test_log_accepts_tensors_without_keeping_graphs(tmp_path):
    x = torch.ones(3, requires_grad=True)
    with RunWriter(tmp_path / "r.h5", CONFIG, GAN_FIELDS) as w:
        w.log(0, g_loss=(x * 2).sum(), g_grad_norm=torch.tensor(1.5, dtype=torch.float64))
    m = open_run(tmp_path / "r.h5").metrics
    assert m.loc[0, "g_loss"] == 6.0 and m.loc[0, "g_grad_norm"] == 1.5


def test_one_adapter_for_runs_and_paths(tmp_path):
    """as_run / as_runs take a Run or a path (or several); anything else is one sentence, not a TypeError."""
    from landscape.reader import Run, as_run, as_runs

    path = _write(tmp_path / "r.h5", n=10)
    run = as_run(path)
    assert isinstance(run, Run) and as_run(run) is run
    assert [r.name for r in as_runs(path)] == ["r"]
    for bad in (42, None):
        with pytest.raises(RunFileError, match="run file"):
            as_run(bad)
    with pytest.raises(RunFileError, match="share the name"):
        as_runs([path, path])


def test_fields_come_from_the_first_log_when_not_declared(tmp_path):
    """As with TensorBoard's SummaryWriter: no declaration; the first log() fixes the fields."""
    path = tmp_path / "clf.h5"
    with RunWriter(path, {"model": "mlp"}) as w:
        assert w.fields == ()
        for i in range(30):
            w.log(i, clf_loss=torch.tensor(2.0 - i / 30), clf_grad_norm=1.0 + i, accuracy=i / 30)
        with pytest.raises(KeyError, match="first log"):
            w.log(30, learning_rate=0.1)  # a field the first call did not have
    run = open_run(path)
    assert run.fields == ["step", "epoch", "time", "clf_loss", "clf_grad_norm", "accuracy"]
    assert [n.key for n in run.networks] == ["clf"]  # <name>_loss + <name>_grad_norm make a network
    tidy = run.tidy(3)
    assert list(tidy["network"].cat.categories) == ["clf"] and len(tidy) == 30
    np.testing.assert_allclose(tidy["grad_norm"], 1.0 + np.arange(30))


def test_an_explicit_network_mapping_is_stored_with_the_run(tmp_path):
    path = tmp_path / "critic.h5"
    with RunWriter(path, {}, networks={"critic": ("critic_objective", "critic_gn")}) as w:
        for i in range(10):
            w.log(i, critic_objective=-float(i), critic_gn=0.5, g_loss=1.0, g_grad_norm=2.0)
    run = open_run(path)
    assert [(n.key, n.loss, n.grad_norm) for n in run.networks] == [
        ("critic", "critic_objective", "critic_gn"), ("g", "g_loss", "g_grad_norm")]
    assert set(run.tidy()["network"]) == {"critic", "g"}


def test_a_run_that_never_logged_has_no_fields_and_no_networks(tmp_path):
    RunWriter(tmp_path / "empty.h5", {}).close()
    run = open_run(tmp_path / "empty.h5")
    assert run.n_iterations == 0 and run.networks == [] and run.tidy().empty
