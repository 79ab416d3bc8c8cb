"""The GAN variants end to end: each records a file that `lgc`, `report` and `hessian` accept, and the
training rules each variant adds hold in the recorded run."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.quality.toy_coverage import ToyCoverage
from landscape import open_run
from landscape.config import TrainConfig
from trainers import record

TINY = dict(subset=256, batch_size=32, max_iters=10, epochs=2, hessian_every=0, device="cpu", threads=1)

VARIANTS = {
    "minimax": dict(loss="minimax"),
    "lsgan": dict(loss="lsgan"),
    "wgan": dict(loss="wgan"),
    "wgan-gp": dict(loss="wgan-gp"),
    "hinge": dict(loss="hinge", d_steps=2),
    "smoothing": dict(smooth_real=(0.8, 1.1), smooth_fake=(0.0, 0.3)),
    "unroll": dict(unroll=2),
    "conditional": dict(conditional=True),
    "ring8": dict(arch="mlp", dataset="ring8", subset=None, batch_size=256, max_iters=12),
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, shared_data) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("variants")
    paths = {}
    for name, settings in VARIANTS.items():
        config = TrainConfig(**{**TINY, "data_dir": str(shared_data), **settings})
        # a toy's exact coverage is a measurement like any other: the run gets it when it is passed in
        measurements = [ToyCoverage()] if name == "ring8" else []
        summary = record(config, folder / f"{name}.h5", measurements=measurements)
        assert summary.status == "finished", (name, summary.message)
        paths[name] = folder / f"{name}.h5"
    return paths


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_is_drawn_reported_and_its_hessian_estimated(recorded, name, tmp_path) -> None:
    from typer.testing import CliRunner

    from landscape.cli import app

    path = str(recorded[name])
    runner = CliRunner()
    lgc = runner.invoke(app, ["lgc", path, "--out", str(tmp_path / "lgc.png")])
    assert lgc.exit_code == 0, lgc.output
    report = runner.invoke(app, ["report", path])
    assert report.exit_code == 0, report.output
    hessian = runner.invoke(app, ["hessian", path, "--network", "d", "--k", "2", "--steps", "last"])
    assert hessian.exit_code == 0, hessian.output
    stored = open_run(path).hessian()
    assert set(stored["network"]) == {"d"} and np.isfinite(stored["lambda_max"]).all()


def test_config_fields_and_recorded_fields_follow_the_loss(recorded) -> None:
    gp = open_run(recorded["wgan-gp"])
    assert gp.config["loss"] == "wgan-gp" and gp.config["d_steps"] == 5 and gp.config["gp_weight"] == 10.0
    assert gp.config["optimizer"] == "adam" and gp.config["betas"] == [0.5, 0.9] and gp.config["lr_g"] == 1e-4
    m = gp.metrics
    assert {"wasserstein", "d_gp"} <= set(m.columns)
    np.testing.assert_allclose(m["wasserstein"], -(m["d_loss_real"] + m["d_loss_fake"]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m["d_loss"], m["d_loss_real"] + m["d_loss_fake"] + m["d_gp"], rtol=1e-5, atol=1e-6)
    assert (m["d_gp"] >= 0).all()
    wgan = open_run(recorded["wgan"])
    assert wgan.config["optimizer"] == "rmsprop" and wgan.config["clip"] == 0.01 and "d_gp" not in wgan.metrics


def test_every_critic_update_is_recorded_and_the_generator_rows_line_up(recorded) -> None:
    m = open_run(recorded["hinge"]).metrics  # d_steps 2: G updates at even steps, before that row's D update
    assert len(m) == 10 and m["d_loss"].notna().all()
    g_rows = m["g_loss"].notna().to_numpy()
    assert g_rows.tolist() == [step % 2 == 0 for step in m["step"]]
    tidy = open_run(recorded["hinge"]).tidy()
    assert (tidy["network"] == "g").sum() == 5 and (tidy["network"] == "d").sum() == 10


def test_critic_outputs_are_scores_and_bce_outputs_probabilities(recorded) -> None:
    ns_like = open_run(recorded["minimax"]).metrics
    assert ((ns_like["d_out_real"] > 0) & (ns_like["d_out_real"] < 1)).all()
    gp = open_run(recorded["wgan-gp"]).metrics  # raw critic means: the Wasserstein estimate is their difference
    np.testing.assert_allclose(gp["wasserstein"], gp["d_out_real"] - gp["d_out_fake"], rtol=1e-5, atol=1e-6)


def test_weight_clipping_keeps_every_critic_weight_in_range(recorded) -> None:
    run = open_run(recorded["wgan"])
    step = run.checkpoint_steps[-1]
    weights = [w for w in run.checkpoint(step, "d").values() if w.dtype.kind == "f" and w.ndim > 0]
    assert weights and max(float(np.abs(w).max()) for w in weights) <= 0.01 + 1e-7


def test_unroll_zero_is_bitwise_the_plain_gan(shared_data, tmp_path) -> None:
    base = TrainConfig(**{**TINY, "max_iters": 4, "data_dir": str(shared_data)})
    record(base, tmp_path / "plain.h5")
    record(base.replace(unroll=0), tmp_path / "k0.h5")
    a, b = open_run(tmp_path / "plain.h5").metrics, open_run(tmp_path / "k0.h5").metrics
    cols = [c for c in a.columns if c != "time"]
    assert a[cols].equals(b[cols])


def test_unrolling_changes_the_generator_step(shared_data, tmp_path) -> None:
    base = TrainConfig(**{**TINY, "max_iters": 3, "data_dir": str(shared_data)})
    record(base, tmp_path / "plain.h5")
    record(base.replace(unroll=3), tmp_path / "k3.h5")
    a, b = open_run(tmp_path / "plain.h5").metrics, open_run(tmp_path / "k3.h5").metrics
    assert a["g_loss"].iloc[0] != b["g_loss"].iloc[0]  # G's loss is taken through the unrolled D


def test_conditional_run_keeps_probe_labels_and_draws_one_row_per_class(recorded) -> None:
    run = open_run(recorded["conditional"])
    labels = run.probe_labels()
    assert labels is not None and labels.dtype == np.int64 and len(labels) == len(run.probe()[0])
    grid = run.sample(run.sample_epochs[-1])
    assert grid.shape[0] == 10 * (28 + 2) + 2  # ten rows of 28-pixel images, 2-pixel gaps
    assert run.meta("networks")["g"]["n_classes"] == 10


def test_a_toy_run_stores_points_and_its_coverage(recorded) -> None:
    run = open_run(recorded["ring8"])
    points = run.sample(run.sample_epochs[-1])
    assert points.shape == (2500, 2) and points.dtype == np.float32
    quality = run.quality
    assert set(quality["metric"]) == {"modes_covered", "high_quality"} and (quality["n"] == 2500).all()
    covered = quality[quality["metric"] == "modes_covered"]["value"]
    assert ((covered >= 0) & (covered <= 8)).all()


@pytest.mark.parametrize("name", ["ring8", "conditional"])
def test_samples_command_draws_points_or_grids(recorded, name, tmp_path) -> None:
    from typer.testing import CliRunner

    from landscape.cli import app

    out = tmp_path / "samples.png"
    result = CliRunner().invoke(app, ["samples", str(recorded[name]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0


def test_samples_of_an_epoch_not_stored_is_one_sentence(recorded, tmp_path) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "landscape", "samples", str(recorded["ring8"]), "--epoch", "99",
                             "--out", str(tmp_path / "s.png")], capture_output=True, text=True)
    assert result.returncode == 2 and "epoch 99" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "s.png").exists()
