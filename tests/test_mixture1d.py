"""Berard et al.'s 1-D mixture (toy ``mixture1d``, arch ``mlp100``): the data, its coverage measure, the networks,
the recipe (full-batch, fixed-z extragradient), the CLI end to end and the example on a tiny budget."""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from landscape.config import TrainConfig
from landscape.data.toys import (
    CORE_SHARE_NEEDED,
    MIXTURE1D_TRAIN_SIZE,
    TOYS,
    core_share,
    exact_high_quality,
    mixture_cdf,
    mixture_pdf,
    sample_toy,
    toy_dataset,
    toy_quality,
)
from landscape.errors import LandscapeError
from trainers import losses
from trainers.loop import GANTrainer
from trainers.models import build_models, count_params

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "COLUMNS": "200"}


def landscape(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "landscape", *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout, cwd=REPO)


# --- the data and its measure -------------------------------------------------------------------------


def test_the_data_is_two_unit_gaussians_at_minus_and_plus_two() -> None:
    spec = TOYS["mixture1d"]
    assert (spec.dim, spec.shape, spec.n_modes, spec.std, spec.train_size) == (1, (1,), 2, 1.0, 10_000)
    data = toy_dataset("mixture1d", seed=0)
    assert data.points.shape == (MIXTURE1D_TRAIN_SIZE, 1) and data.points.dtype == torch.float32
    x, labels = data.points[:, 0].double(), data.labels
    assert abs(labels.double().mean().item() - 0.5) < 0.02  # balanced (SE 0.005)
    for label, mu in enumerate((-2.0, 2.0)):
        part = x[labels == label]
        assert abs(part.mean().item() - mu) < 0.05 and abs(part.std().item() - 1.0) < 0.04
    assert torch.equal(toy_dataset("mixture1d", seed=0).points, data.points)  # same seed, same points
    assert not torch.equal(toy_dataset("mixture1d", seed=1).points, data.points)


def test_the_exact_constants() -> None:
    phi = lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2)))  # noqa: E731
    assert math.isclose(exact_high_quality("mixture1d"), phi(3) - phi(-7), rel_tol=1e-12)  # union [-5, 5]
    assert math.isclose(exact_high_quality("mixture1d"), 0.99865, abs_tol=1e-5)
    assert math.isclose(core_share("mixture1d"), 0.5 * (phi(1) - phi(-1)) + 0.5 * (phi(5) - phi(3)), rel_tol=1e-12)
    grid = np.linspace(-8, 8, 4001)
    assert abs(np.trapezoid(mixture_pdf("mixture1d", grid), grid) - 1) < 1e-6
    assert mixture_cdf("mixture1d", 0.0) == pytest.approx(0.5) and mixture_cdf("mixture1d", 8.0) == pytest.approx(1)


def test_coverage_on_exact_collapsed_and_diverged_points() -> None:
    rng = torch.Generator().manual_seed(3)
    exact = toy_quality(sample_toy("mixture1d", 2500, generator=rng), "mixture1d")
    assert exact["modes_covered"] == 2 and exact["n_modes"] == 2 and exact["n"] == 2500
    se = math.sqrt(exact_high_quality("mixture1d") * (1 - exact_high_quality("mixture1d")) / 2500)
    assert abs(exact["high_quality"] - exact_high_quality("mixture1d")) < 4 * se
    assert exact["ks"] < 1.63 / math.sqrt(2500)  # the KS test's 1% level
    between = toy_quality(0.5 * torch.randn(2500, 1, generator=rng), "mixture1d")
    assert between["modes_covered"] == 0 and between["high_quality"] == 1.0 and between["ks"] > 0.3
    one = toy_quality(2 + torch.randn(2500, 1, generator=rng), "mixture1d")
    assert one["modes_covered"] == 1 and one["ks"] > 0.4
    assert CORE_SHARE_NEEDED * core_share("mixture1d") == pytest.approx(0.171, abs=1e-3)
    diverged = toy_quality(np.full((10, 1), np.nan), "mixture1d")
    assert diverged["high_quality"] == 0 and diverged["modes_covered"] == 0 and diverged["ks"] == 1.0
    with pytest.raises(LandscapeError, match=r"shape \(n, 1\)"):
        toy_quality(np.zeros((5, 2)), "mixture1d")


# --- the networks and the recipe ----------------------------------------------------------------------


def test_the_recipe_and_networks_are_the_authors() -> None:
    cfg = TrainConfig(arch="mlp100", dataset="mixture1d")
    assert (cfg.z_dim, cfg.z_dist, cfg.batch_size, cfg.optimizer, cfg.lr_g, cfg.lr_d) == (
        100, "normal", 10_000, "sgd", 1e-2, 1e-1)
    assert cfg.extragradient and cfg.z_per_point and cfg.loss == "ns" and cfg.d_steps == 1 and cfg.image_shape == (1,)
    gp = TrainConfig(arch="mlp100", dataset="mixture1d", loss="wgan-gp")
    assert (gp.optimizer, gp.lr_g, gp.lr_d, gp.d_steps, gp.gp_weight) == ("sgd", 1e-2, 1e-1, 1, 1e-3)
    assert not TrainConfig().extragradient and not TrainConfig().z_per_point  # the paper's setup is untouched
    torch.manual_seed(0)
    g, d = build_models(cfg)
    assert (count_params(g), count_params(d)) == (100 * 100 + 100 + 100 + 1, 100 + 100 + 100 + 1)
    assert [m.out_features for m in g if isinstance(m, torch.nn.Linear)] == [100, 1]
    assert g(torch.randn(7, 100)).shape == (7, 1) and d(torch.randn(7, 1)).shape == (7,)
    bound = 1 / math.sqrt(100)  # PyTorch's default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert g.hidden1.weight.abs().max() <= bound and g.hidden1.weight.abs().max() > 0.9 * bound


@pytest.mark.parametrize("changes, words", [
    (dict(arch="vanilla"), "arch vanilla does not train on dataset mixture1d"),
    (dict(arch="mlp"), "arch mlp makes 2-D points and dataset mixture1d is 1-D; use arch mlp100"),
    (dict(optimizer="adam"), "extragradient takes plain gradient steps"),
    (dict(d_steps=2), "extragradient steps both players together"),
])
def test_impossible_settings_are_one_sentence(changes, words) -> None:
    with pytest.raises(LandscapeError, match=words):
        TrainConfig(**{"arch": "mlp100", "dataset": "mixture1d", **changes})
    with pytest.raises(LandscapeError, match="arch mlp100 makes 1-D points and dataset ring8 is 2-D"):
        TrainConfig(arch="mlp100", dataset="ring8")


def _trainer(**changes) -> GANTrainer:
    values = dict(arch="mlp100", dataset="mixture1d", epochs=1, probe_size=64, device="cpu", hessian_every=0,
                  quality_every=0)
    values.update(changes)
    data = toy_dataset("mixture1d", seed=0)
    return GANTrainer(TrainConfig(**values), data.points, labels=data.labels, n_classes=2)


def test_one_iteration_is_one_extragradient_step() -> None:
    trainer = _trainer(batch_size=256)
    g0, d0 = copy.deepcopy(trainer.g), copy.deepcopy(trainer.d)
    real = trainer.images[:256]
    z = trainer.z_table[:256]

    def grads(g, d):
        fake = g(z)
        gg = torch.autograd.grad(losses.g_loss(d(fake), "ns"), list(g.parameters()))
        parts = losses.d_loss_parts(d(real), d(fake.detach()), "ns")
        gd = torch.autograd.grad(parts[0] + parts[1], list(d.parameters()))
        return gg, gd

    look_g, look_d = copy.deepcopy(g0), copy.deepcopy(d0)
    gg, gd = grads(g0, d0)
    with torch.no_grad():
        for p, q in zip(look_g.parameters(), gg):
            p -= 1e-2 * q
        for p, q in zip(look_d.parameters(), gd):
            p -= 1e-1 * q
    gg, gd = grads(look_g, look_d)  # the step's gradients, at the look-ahead point, applied from the start
    metrics = trainer.train_step(real, z)
    for p0, p, q in zip(g0.parameters(), trainer.g.parameters(), gg):
        torch.testing.assert_close(p, p0 - 1e-2 * q, rtol=1e-5, atol=1e-6)
    for p0, p, q in zip(d0.parameters(), trainer.d.parameters(), gd):
        torch.testing.assert_close(p, p0 - 1e-1 * q, rtol=1e-5, atol=1e-6)
    norm = torch.linalg.vector_norm(torch.cat([q.flatten() for q in gg]))
    torch.testing.assert_close(metrics["g_grad_norm"], norm, rtol=1e-5, atol=1e-7)  # the recorded norm is the applied


def test_z_per_point_pairs_the_probe_with_its_own_z() -> None:
    trainer = _trainer(probe_size=10_000)
    assert trainer.z_table.shape == (10_000, 100)
    # the probe is the whole set: every training (point, z) pair, in some order
    order_real = torch.argsort(trainer.probe_real[:, 0])
    order_train = torch.argsort(trainer.images[:, 0])
    torch.testing.assert_close(trainer.probe_z[order_real], trainer.z_table[order_train])
    assert not _trainer(z_per_point=False).z_table


# --- the CLI and the example --------------------------------------------------------------------------


def test_record_samples_and_game_through_the_cli(tmp_path) -> None:
    run = tmp_path / "m.h5"
    proc = landscape("record", "--arch", "mlp100", "--data", "mixture1d", "--epochs", "4", "--hessian-every", "0",
                     "--out", str(run))
    assert proc.returncode == 0, proc.stderr
    from landscape.reader import open_run

    r = open_run(run)
    assert r.status == "finished" and r.n_iterations == 4 and r.sample(4).shape == (2500, 1)
    assert set(r.quality["metric"]) >= {"modes_covered", "high_quality"}
    proc = landscape("samples", str(run), "--out", str(tmp_path / "s.png"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "s.png").stat().st_size > 10_000
    proc = landscape("game", str(run), "--steps", "last", "--k", "2")
    assert proc.returncode == 0, proc.stderr
    assert "Stored 1 estimate" in proc.stdout and open_run(run).game["step"].tolist() == [4]


@pytest.mark.parametrize("arch, words", [("vanilla", "does not train on --data mixture1d"),
                                         ("mlp", "1-D; use --arch mlp100")])
def test_wrong_arch_is_one_sentence_exit_2(tmp_path, arch, words) -> None:
    proc = landscape("record", "--arch", arch, "--data", "mixture1d", "--out", str(tmp_path / "b.h5"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and words in lines[0]
    assert not (tmp_path / "b.h5").exists()


def test_the_example_runs_on_a_tiny_budget(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "examples/game_mixture.py", "--iters", "20", "--probe-size", "200",
                           "--measure-at", "0", "20", "--out", str(tmp_path)], capture_output=True, text=True,
                          env=ENV, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    summary = (tmp_path / "summary.md").read_text()
    assert summary.count("| 0 |") == 2 and summary.count("| 20 |") == 2  # checkpoint and look-ahead tables
    assert "**Verdict at the last checkpoint's look-ahead point:**" in summary
    assert "look-ahead     20:" in proc.stdout and "checkpoint     20:" in proc.stdout
    assert (tmp_path / "spectrum.png").stat().st_size > 20_000 and (tmp_path / "runs" / "mixture1d.h5").exists()
