"""LandscapeTracker under a real Accelerator: a GAN trained on real MNIST, then the CLI on its file; main process only."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch.nn import functional as F
from typer.testing import CliRunner

accelerate = pytest.importorskip("accelerate", reason="the accelerate extra: pip install -e '.[accelerate]'")

from landscape import open_run  # noqa: E402
from landscape.cli import app  # noqa: E402
from landscape.config import TrainConfig  # noqa: E402
from landscape.integrations.accelerate import LandscapeTracker  # noqa: E402

runner = CliRunner()


def _grad_norm(module: torch.nn.Module) -> torch.Tensor:
    return torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in module.parameters()]))


@pytest.mark.needs_data("mnist")
def test_tracker_records_an_accelerate_gan_and_the_cli_reads_the_file(tmp_path, shared_data, one_torch_thread) -> None:
    from landscape.data import load_dataset, to_unit_range
    from trainers.models import build_models

    torch.manual_seed(0)
    config = TrainConfig(arch="vanilla", dataset="mnist", batch_size=64, subset=512, epochs=2, probe_size=32)
    path = tmp_path / "accelerate.h5"
    tracker = LandscapeTracker(path, config)
    accelerator = accelerate.Accelerator(cpu=True, log_with=tracker)
    accelerator.init_trackers("tiny-gan", config={"note": "from init_trackers", "lr_g": 0.5})
    g, d = build_models(config)
    opt_g = torch.optim.Adam(g.parameters(), lr=config.lr_g, betas=config.betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=config.lr_d, betas=config.betas)
    images = to_unit_range(load_dataset("mnist", root=shared_data).images[: config.subset])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images), batch_size=64, shuffle=True,
                                         drop_last=True)
    g, d, opt_g, opt_d, loader = accelerator.prepare(g, d, opt_g, opt_d, loader)
    own = accelerator.get_tracker("landscape", unwrap=True)
    own.set_probe(images[:32], torch.rand(32, config.z_dim) * 2 - 1)
    own.add_checkpoint(0, {"g": g.state_dict(), "d": d.state_dict()})
    step, seen = 0, []
    for epoch in (1, 2):
        for (real,) in loader:
            fake = g(torch.rand(real.shape[0], config.z_dim) * 2 - 1)
            logits = d(fake)
            g_loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            opt_g.zero_grad()
            accelerator.backward(g_loss)
            g_norm = _grad_norm(g)
            opt_g.step()
            accelerator.log({"g_loss": g_loss.detach(), "g_grad_norm": g_norm, "epoch": epoch}, step=step)
            real_logits, fake_logits = d(real), d(fake.detach())
            d_loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                      + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
            d.zero_grad()
            opt_d.zero_grad()
            accelerator.backward(d_loss)
            d_norm = _grad_norm(d)
            opt_d.step()
            # D's values in a call of their own, to the same step: one row; a nested dict is flattened
            accelerator.log({"d_loss": d_loss.item(), "d_grad_norm": d_norm,
                             "d_out": {"real": torch.sigmoid(real_logits).mean(), "fake": torch.sigmoid(fake_logits).mean()}},
                            step=step)
            seen.append((g_loss.item(), float(g_norm), d_loss.item(), float(d_norm)))
            step += 1
            if step % 8 == 0:
                own.add_checkpoint(step, {"g": g.state_dict(), "d": d.state_dict()})
    with pytest.warns(UserWarning, match="'late' was not in the first row"):
        accelerator.log({"late": 1.0, "g_loss": 0.0}, step=step)
        accelerator.log({"d_loss": 0.0}, step=step + 1)  # writes step's row
    accelerator.end_training()

    run = open_run(path)
    assert run.status == "finished" and len(run.metrics) == 18
    m = run.metrics.iloc[:16]
    assert m["step"].tolist() == list(range(16)) and m["epoch"].tolist() == [1] * 8 + [2] * 8
    np.testing.assert_allclose(m[["g_loss", "g_grad_norm", "d_loss", "d_grad_norm"]].to_numpy(), np.array(seen),
                               rtol=1e-5)
    assert ((m["d_out_real"] > 0) & (m["d_out_real"] < 1)).all() and "late" not in run.metrics.columns
    assert run.config["note"] == "from init_trackers" and run.config["lr_g"] == config.lr_g  # config= wins
    assert run.checkpoint_steps == [0, 8, 16]
    assert [n.key for n in run.networks][:2] == ["g", "d"]

    figure = tmp_path / "lgc.png"
    result = runner.invoke(app, ["lgc", str(path), "--out", str(figure)])
    assert result.exit_code == 0, result.output
    assert figure.stat().st_size > 0
    result = runner.invoke(app, ["report", str(path), "--stages", "2"])
    assert result.exit_code == 0, result.output
    assert "generator" in result.output
    result = runner.invoke(app, ["hessian", str(path), "--steps", "16", "--network", "g", "--k", "2",
                                 "--trace-products", "0", "--density-vectors", "0", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert np.isfinite(open_run(path).hessian()["lambda_max"]).all()


WORKER = """
import sys, torch
from accelerate import Accelerator
from landscape.integrations.accelerate import LandscapeTracker

accelerator = Accelerator(cpu=True, log_with=LandscapeTracker(sys.argv[1], {"what": "two processes"}))
accelerator.init_trackers("ddp")
for step in range(3):
    accelerator.log({"x_loss": float(accelerator.process_index), "x_grad_norm": step + 0.5}, step=step)
accelerator.wait_for_everyone()
accelerator.end_training()
"""


def test_only_the_main_process_writes(tmp_path) -> None:
    """Two real processes (torch.distributed, gloo on the CPU) log different values; the file holds rank 0's."""
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    path = tmp_path / "ddp.h5"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             str(script), str(path)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    run = open_run(path)
    assert run.status == "finished" and run.config == {"what": "two processes"}
    assert run.metrics["x_loss"].tolist() == [0.0, 0.0, 0.0]  # rank 1 logged 1.0: not written
    assert run.metrics["x_grad_norm"].tolist() == [0.5, 1.5, 2.5]
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".h5") == ["ddp.h5"]
