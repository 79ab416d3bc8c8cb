"""`landscape hessian` and the run-file side of analysis.hessian, on real (tiny) training runs.

The runs are recorded by the trainers (a few iterations on a subset of MNIST
from the data root, probe batch of 16) so the networks, checkpoints and
probe are exactly what users get. Error paths run the real console script in a
subprocess: ``landscape.cli.main`` turns user errors into one line on stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from analysis.hessian import estimate, load_estimate, read_estimates, store, to_record
from analysis.hessian.classify import LABELS
from landscape import open_run
from landscape.config import TrainConfig
from landscape.data.roots import resolve_data_root
from landscape.writer import RunWriter

DATA = str(resolve_data_root())  # where the CLI looks: $LANDSCAPE_DATA, else ./data
FAST = ["--k", "2", "--trace-products", "6", "--density-vectors", "1", "--density-steps", "8"]
FAST_OPTIONS = dict(trace_products=6, density_vectors=1, density_steps=8)
#: one thread: the networks are small here and oversubscribed OpenMP threads are 10x slower on a busy machine
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "LANDSCAPE_DATA": DATA}


pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.needs_data("mnist")]


def tiny_config(arch: str = "vanilla", **changes) -> TrainConfig:
    values = dict(arch=arch, dataset="mnist", batch_size=32, subset=256, max_iters=4, epochs=1, stages=2,
                  probe_size=16, device="cpu", data_dir=DATA)
    values.update(changes)
    return TrainConfig(**values)


def record_run(path: Path, config: TrainConfig) -> Path:
    from landscape.data import load_dataset
    from trainers.loop import GANTrainer

    images = load_dataset("mnist", root=DATA).images
    with RunWriter(path, config.to_dict()) as writer:
        GANTrainer(config, images, writer).run()
    return path


@pytest.fixture(scope="module")
def vanilla_run(tmp_path_factory) -> Path:
    return record_run(tmp_path_factory.mktemp("runs") / "vanilla.h5", tiny_config())


def landscape(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "landscape", *args], capture_output=True, text=True, env=ENV,
                          timeout=600)


def copy_run(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


# ----------------------------------------------------------------------------- the command
def test_hessian_command_stores_estimates_and_plots(vanilla_run, tmp_path):
    run_file = copy_run(vanilla_run, tmp_path / "run.h5")
    plot = tmp_path / "hessian.png"
    assert open_run(run_file).checkpoint_steps == [0, 2, 4]
    proc = landscape("hessian", str(run_file), "--steps", "last", "--network", "both", *FAST, "--plot", str(plot))
    assert proc.returncode == 0, proc.stderr
    assert "Hessian estimates" in proc.stdout and "Stored 2 estimate(s)" in proc.stdout
    assert "0.001 × max|λ|" in proc.stdout  # the classification tolerance is stated
    assert plot.stat().st_size > 10_000

    run = open_run(run_file)
    frame = run.hessian()
    assert sorted(zip(frame["step"], frame["network"])) == [(4, "d"), (4, "g")]
    for _, row in frame.iterrows():
        assert row["lambda_min"] < 0 < row["lambda_max"]  # GAN losses: saddles at these weights
        assert row["all_converged"] and row["classification"] in LABELS
        assert row["n_params"] == {"g": 81_184, "d": 78_601}[row["network"]]
        assert row["probe_size"] == 16 and row["determinism_diff"] == 0.0
    # the command computes what the Python API computes for the same checkpoint and probe
    stored = load_estimate(run, 4, "d")
    fresh = estimate(run_file, 4, "d", 2, **FAST_OPTIONS)
    np.testing.assert_allclose(stored.eigen.values, fresh.eigen.values, rtol=1e-6)
    assert stored.classification.label == fresh.classification.label
    # the residual bound holds for the stored values: each is within its residual of an eigenvalue
    assert np.all(stored.eigen.residuals <= stored.eigen.tol * stored.eigen.scale)


def test_estimates_via_writer_and_plots(vanilla_run, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.hessian.plot import density_frame, densityplot, eigenvalueplot

    run_file = copy_run(vanilla_run, tmp_path / "run.h5")
    results = [estimate(run_file, step, "g", 2, **FAST_OPTIONS) for step in (0, 4)]
    for result in results:
        store(result, run_file)  # atomically, through append_hessian
    # the training loop's route: (arrays, attrs) into an open writer
    arrays, attrs = to_record(results[0])
    with RunWriter(tmp_path / "live.h5", {"arch": "vanilla"}) as writer:
        writer.add_hessian(0, "g", arrays, attrs)
    assert np.array_equal(open_run(tmp_path / "live.h5").hessian_arrays(0, "g")["values"], results[0].eigen.values)

    table = read_estimates(run_file)
    assert list(table["step"]) == [0, 4]
    # the stage of a measurement's last iteration (step 0: stage 1); the final one (step 4 of 4) in the last stage
    from landscape.stages import assign_stages

    assert list(table["stage"]) == [1, assign_stages(4, 5)[-1]]
    fig, axes = plt.subplots(1, 2)
    assert eigenvalueplot(table, network="g", ax=axes[0]) is axes[0]
    dens = density_frame(run_file, network="g")
    assert set(dens["step"]) == {0, 4}
    assert densityplot(dens, ax=axes[1]) is axes[1]
    assert len(axes[1].lines) >= 2
    plt.close(fig)


def test_help_is_quick_to_reach():
    proc = landscape("hessian", "--help")
    assert proc.returncode == 0
    assert "--network" in proc.stdout and "--steps" in proc.stdout


# ----------------------------------------------------------------------------- errors
def assert_user_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_error_missing_file(tmp_path):
    assert_user_error(landscape("hessian", str(tmp_path / "nope.h5")), "nope.h5")


def test_error_bad_steps_in_a_subprocess(vanilla_run):
    assert_user_error(landscape("hessian", str(vanilla_run), "--steps", "3"), "no checkpoint at step 3", "0, 2, 4")


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["--steps", "soon"], ["--steps"]),
        (["--network", "x"], ["--network"]),
        (["--k", "0"], ["--k"]),
        (["--method", "qr"], ["--method"]),
        (["--tol", "2"], ["--tol"]),
        (["--plot", "out.txt"], ["--plot", ".png"]),
    ],
)
def test_error_bad_options(vanilla_run, args, fragments):
    """In-process (the subprocess tests above cover main()'s one-line printing): the right sentence is raised."""
    from typer.testing import CliRunner

    from landscape.cli import app
    from landscape.errors import LandscapeError

    result = CliRunner().invoke(app, ["hessian", str(vanilla_run), *args])
    assert isinstance(result.exception, LandscapeError), result.output
    message = str(result.exception)
    assert "\n" not in message and all(f in message for f in fragments), message


def test_error_no_checkpoints_or_no_probe(tmp_path):
    cfg = tiny_config()
    no_ckpt = tmp_path / "no-ckpt.h5"
    with RunWriter(no_ckpt, cfg.to_dict()):
        pass
    assert_user_error(landscape("hessian", str(no_ckpt)), "no checkpoints")

    from trainers.models import build_models

    g, d = build_models(cfg)
    no_probe = tmp_path / "no-probe.h5"
    with RunWriter(no_probe, cfg.to_dict()) as writer:
        writer.add_checkpoint(0, {"g": g.state_dict(), "d": d.state_dict()})
    assert_user_error(landscape("hessian", str(no_probe)), "no probe batch")


# ----------------------------------------------------------------------------- DCGAN
@pytest.mark.slow
def test_hessian_command_on_dcgan(tmp_path):
    run_file = record_run(tmp_path / "dcgan.h5", tiny_config("dcgan", max_iters=2, stages=1, probe_size=8))
    proc = landscape("hessian", str(run_file), "--steps", "last", "--network", "both", *FAST)
    assert proc.returncode == 0, proc.stderr
    frame = open_run(run_file).hessian()
    assert sorted(frame["network"]) == ["d", "g"]
    assert frame["all_converged"].all()
    assert set(frame["n_params"]) == {804_832, 1_039_539}


def test_training_hook_stores_estimates_at_the_planned_steps(tmp_path) -> None:
    """The Hessian measurement (as `landscape record` makes it) stores both networks at every planned step."""
    from analysis.hessian import HessianEstimates
    from trainers import record

    config = tiny_config(max_iters=6, hessian_every=3, hessian_k=2)
    path = tmp_path / "hooked.h5"
    seen: list[tuple[int, str]] = []
    summary = record(config, path, measurements=[HessianEstimates(on_result=lambda r: seen.append((r.step, r.network)))])
    assert summary.status == "finished" and summary.config.hessian_every == 3 and summary.notes == []
    assert seen == [(s, n) for s in (0, 3, 6) for n in ("g", "d")]
    table = read_estimates(path)
    assert sorted(zip(table["step"], table["network"])) == [(s, n) for s in (0, 3, 6) for n in ("d", "g")]
    assert open_run(path).meta("schedule")["hessian_steps"] == [0, 3, 6]
    # an estimate made during training equals one made afterwards from the stored checkpoint
    during = load_estimate(path, 6, "d")
    after = estimate(path, step=6, network="d", k=2)
    np.testing.assert_allclose(during.eigen.values, after.eigen.values, rtol=1e-4,
                               atol=1e-6 * abs(after.eigen.values).max())


def test_hessian_every_zero_means_no_calls_and_no_measurement_means_none(tmp_path) -> None:
    from landscape.measurements import Measurement
    from trainers import record

    class Calls(Measurement):
        kind = "hessian"

        def __call__(self, trainer):
            calls.append(trainer.step)
            return []

    config = tiny_config(max_iters=2, hessian_every=0)
    calls: list[int] = []
    summary = record(config, tmp_path / "none.h5", measurements=[Calls()])  # never called
    assert calls == [] and read_estimates(tmp_path / "none.h5").empty
    assert open_run(tmp_path / "none.h5").meta("schedule")["hessian_steps"] == []
    # asked for (the default: stage boundaries) but no measurement to make them: resolved to 0, stored, and said
    summary = record(tiny_config(max_iters=2), tmp_path / "no-hook.h5")
    assert summary.config.hessian_every == 0 and "no hessian measurements" in summary.notes[0]
    assert open_run(tmp_path / "no-hook.h5").config["hessian_every"] == 0


def test_a_runwriter_run_of_ones_own_model_is_told_what_it_needs(tmp_path):
    """Issue 23: `landscape hessian` on a RunWriter run said "record it with checkpoints (stages > 0)", a setting
    RunWriter does not have. Now: what such a run needs, and analyse(hvp) for one's own model; its figures' title
    names it once ("mygan", not "mygan (mygan)")."""
    from analysis.runs import run_data

    own = tmp_path / "mygan.h5"
    with RunWriter(own, {"arch": "mygan"}) as writer:
        for i in range(10):
            writer.log(i, g_loss=1.0, d_loss=1.0, g_grad_norm=1.0, d_grad_norm=1.0)
    result = landscape("hessian", str(own))
    assert_user_error(result, "RunWriter.add_checkpoint", "a config whose arch landscape can rebuild",
                      "analysis.hessian.analyse(HessianVectorProduct(loss_fn, params))")
    assert "stages" not in result.stderr
    no_ckpt = tmp_path / "no-ckpt.h5"
    with RunWriter(no_ckpt, tiny_config().to_dict()):
        pass
    result = landscape("hessian", str(no_ckpt))
    assert_user_error(result, "no checkpoints", "RunWriter.add_checkpoint")
    assert "stages >" not in result.stderr
    assert run_data(own)[0].heading == "mygan"
