"""The toy WGAN-GP as its authors published it (Gulrajani et al. 2017, gan_toy.py): arch mlp512 on ring8-wgan-gp."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from landscape.config import TrainConfig
from landscape.data.toys import TOYS, toy_dataset, toy_quality
from landscape.errors import LandscapeError


def test_the_recipe_is_the_published_settings() -> None:
    cfg = TrainConfig(arch="mlp512", dataset="ring8-wgan-gp", loss="wgan-gp")
    assert (cfg.z_dim, cfg.z_dist, cfg.batch_size) == (2, "normal", 256)
    assert (cfg.optimizer, cfg.lr_g, cfg.lr_d, cfg.betas) == ("adam", 1e-4, 1e-4, (0.5, 0.9))
    assert (cfg.d_steps, cfg.gp_weight, cfg.dropout) == (5, 0.1, 0.0)
    assert TrainConfig(arch="mlp", dataset="ring8", loss="wgan-gp").gp_weight == 10.0  # Metz-sized toys: the paper's
    assert TrainConfig(arch="mlp512", dataset="ring8", loss="wgan-gp", gp_weight=10.0).gp_weight == 10.0  # given wins
    assert cfg.replace(loss="ns").gp_weight is None and cfg.replace(loss="ns").d_steps == 1


def test_the_data_is_ring8_divided_by_1_414() -> None:
    ring, scaled = TOYS["ring8"], TOYS["ring8-wgan-gp"]
    np.testing.assert_allclose(np.array(scaled.centres) * 1.414, np.array(ring.centres), atol=1e-12)
    assert math.isclose(scaled.std * 1.414, ring.std)
    points = toy_dataset("ring8-wgan-gp", seed=0, n=20_000).points.numpy()
    assert abs(np.linalg.norm(points, axis=1).mean() - 2 / 1.414) < 1e-3
    assert toy_quality(points, "ring8-wgan-gp")["modes_covered"] == 8  # exact samples cover every mode
    assert toy_quality(points, "ring8-wgan-gp")["high_quality"] > 0.98
    assert toy_quality(points * 1.414, "ring8")["high_quality"] == toy_quality(points, "ring8-wgan-gp")["high_quality"]


def test_the_networks_are_3_x_512_relu_with_tflib_he_init() -> None:
    from trainers.models import build_models

    torch.manual_seed(0)
    g, d = build_models(TrainConfig(arch="mlp512", dataset="ring8-wgan-gp", loss="wgan-gp"))
    for net, first, last in ((g, 2, 2), (d, 2, 1)):
        linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
        assert [(m.in_features, m.out_features) for m in linears] == [(first, 512), (512, 512), (512, 512), (512, last)]
        assert sum(isinstance(m, torch.nn.ReLU) for m in net.modules()) == 3
        for m in linears[:-1]:  # 'he': uniform, std sqrt(2 / fan_in)
            bound = math.sqrt(3 * 2 / m.in_features)
            assert m.weight.abs().max() <= bound and m.weight.abs().max() > 0.95 * bound
            assert abs(float(m.weight.std()) / math.sqrt(2 / m.in_features) - 1) < 0.05
            assert not m.bias.any()
        out = linears[-1]  # tflib's default ('glorot'): std sqrt(2 / (fan_in + fan_out))
        assert out.weight.abs().max() <= math.sqrt(3 * 2 / (out.in_features + out.out_features))
    assert g(torch.randn(5, 2)).shape == (5, 2) and d(torch.randn(5, 2)).shape == (5,)
    assert d[0].factor == 1.0  # the critic reads the points as they are


def test_toy_architectures_and_datasets_go_together() -> None:
    with pytest.raises(LandscapeError, match="arch mlp512 does not train on dataset mnist"):
        TrainConfig(arch="mlp512", dataset="mnist")
    with pytest.raises(LandscapeError, match="mlp or mlp512"):
        TrainConfig(arch="vanilla", dataset="ring8-wgan-gp")
    TrainConfig(arch="mlp512", dataset="grid25", loss="wgan-gp")  # any toy


def test_record_trains_the_recipe_from_the_cli(tmp_path) -> None:
    from landscape import open_run

    out = tmp_path / "gp.h5"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["record", "--arch", "mlp512", "--data", "ring8-wgan-gp", "--loss", "wgan-gp", "--max-iters", "10",
            "--device", "cpu", "--hessian-every", "0", "--out", str(out)]
    result = subprocess.run([sys.executable, "-m", "landscape", *args], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    run = open_run(out)
    assert run.status == "finished" and run.n_iterations == 10
    assert run.config["gp_weight"] == 0.1 and np.isfinite(run.metrics["d_gp"]).all()
    assert int(run.metrics["g_loss"].notna().sum()) == 2  # a generator step every 5th critic step
