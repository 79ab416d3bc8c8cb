"""LandscapeCallback on a real Lightning GAN (manual optimisation) trained on real MNIST, then the CLI on its file."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F
from typer.testing import CliRunner

lightning = pytest.importorskip("lightning", reason="the lightning extra: pip install -e '.[lightning]'")

from landscape import open_run  # noqa: E402
from landscape.cli import app  # noqa: E402
from landscape.config import TrainConfig  # noqa: E402
from landscape.integrations.lightning import LandscapeCallback  # noqa: E402

runner = CliRunner()


class TinyGAN(lightning.LightningModule):
    """The vanilla GAN of landscape (so landscape can rebuild it), trained the Lightning way: manual optimisation."""

    def __init__(self, config: TrainConfig, d_every: int = 1, g_every: int = 1) -> None:
        super().__init__()
        from trainers.models import build_models

        self.automatic_optimization = False
        self.cfg = config
        self.generator, self.discriminator = build_models(config)
        self.g_every, self.d_every = g_every, d_every
        self.seen: dict[str, list[float]] = {"g_loss": [], "g_grad_norm": [], "d_loss": [], "d_grad_norm": []}

    def configure_optimizers(self):  # noqa: ANN201 - Lightning's
        betas = self.cfg.betas
        return (torch.optim.Adam(self.generator.parameters(), lr=self.cfg.lr_g, betas=betas),
                torch.optim.Adam(self.discriminator.parameters(), lr=self.cfg.lr_d, betas=betas))

    def _norm(self, module: torch.nn.Module) -> float:
        return float(torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in module.parameters()])))

    def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201 - Lightning's
        (real,) = batch
        opt_g, opt_d = self.optimizers()
        z = torch.rand(real.shape[0], self.cfg.z_dim) * 2 - 1
        fake = self.generator(z)
        out: dict[str, torch.Tensor] = {}
        if batch_idx % self.g_every == 0:
            self.toggle_optimizer(opt_g)
            logits = self.discriminator(fake)
            g_loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            opt_g.zero_grad()
            self.manual_backward(g_loss)
            self.seen["g_loss"].append(g_loss.item())
            self.seen["g_grad_norm"].append(self._norm(self.generator))
            opt_g.step()
            self.untoggle_optimizer(opt_g)
        if batch_idx % self.d_every == 0:
            self.toggle_optimizer(opt_d)
            logits_real, logits_fake = self.discriminator(real), self.discriminator(fake.detach())
            d_loss = (F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
                      + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake)))
            opt_d.zero_grad()
            self.manual_backward(d_loss)
            self.seen["d_loss"].append(d_loss.item())
            self.seen["d_grad_norm"].append(self._norm(self.discriminator))
            opt_d.step()
            self.untoggle_optimizer(opt_d)
            out = {"d_out_real": torch.sigmoid(logits_real).mean().detach(),
                   "d_out_fake": torch.sigmoid(logits_fake).mean().detach()}
        return out


def _loader(shared_data, n: int = 512, batch_size: int = 64):
    from landscape.data import load_dataset, to_unit_range

    images = to_unit_range(load_dataset("mnist", root=shared_data).images[:n])
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images), batch_size=batch_size, shuffle=True,
                                       drop_last=True)


def _trainer(callback: LandscapeCallback, epochs: int = 2):
    return lightning.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                             callbacks=[callback])


@pytest.mark.needs_data("mnist")
def test_callback_records_each_player_and_the_cli_reads_the_file(tmp_path, shared_data, one_torch_thread) -> None:
    torch.manual_seed(0)
    config = TrainConfig(arch="vanilla", dataset="mnist", batch_size=64, subset=512, epochs=2, probe_size=32)
    module = TinyGAN(config)
    path = tmp_path / "lightning.h5"
    callback = LandscapeCallback(path, config, stages=4)
    _trainer(callback).fit(module, _loader(shared_data))

    # the hooks fire under manual optimisation: one backward and one optimizer step per player per batch
    assert callback.hook_calls == {"on_before_backward": 32, "on_before_optimizer_step": 32, "on_train_batch_end": 16}
    run = open_run(path)
    assert run.status == "finished" and len(run.metrics) == 16
    assert run.metrics["step"].tolist() == list(range(16)) and run.metrics["epoch"].tolist() == [1] * 8 + [2] * 8
    for field, seen in module.seen.items():  # the callback's values are the module's own, batch by batch
        np.testing.assert_allclose(run.metrics[field].to_numpy(), seen, rtol=1e-5, err_msg=field)
    assert {"d_out_real", "d_out_fake"} <= set(run.metrics.columns)
    assert ((run.metrics["d_out_real"] > 0) & (run.metrics["d_out_real"] < 1)).all()
    assert [n.key for n in run.networks][:2] == ["g", "d"]
    assert run.checkpoint_steps == [0, 4, 8, 12, 16]  # the boundaries of 4 stages of 16 batches
    g_last = run.checkpoint(16, "g")
    assert all(np.array_equal(g_last[k], v.numpy()) for k, v in module.generator.state_dict().items())
    assert TrainConfig.from_dict(run.config).to_dict() == config.to_dict()
    real, z = run.probe()
    assert real.shape == (32, 1, 28, 28) and z.shape == (32, config.z_dim) and np.abs(z).max() <= 1

    figure = tmp_path / "lgc.png"
    result = runner.invoke(app, ["lgc", str(path), "--out", str(figure)])
    assert result.exit_code == 0, result.output
    assert figure.stat().st_size > 0
    result = runner.invoke(app, ["report", str(path), "--stages", "4"])
    assert result.exit_code == 0, result.output
    assert "generator" in result.output and "discriminator" in result.output
    result = runner.invoke(app, ["hessian", str(path), "--steps", "last", "--k", "2", "--trace-products", "0",
                                 "--density-vectors", "0", "--device", "cpu", "--stages", "4"])
    assert result.exit_code == 0, result.output
    estimates = open_run(path).hessian()
    assert sorted(set(estimates["network"])) == ["d", "g"] and set(estimates["step"]) == {16}
    assert np.isfinite(estimates["lambda_max"]).all()


@pytest.mark.needs_data("mnist")
def test_critic_only_batches_have_nan_generator_fields(tmp_path, shared_data, one_torch_thread) -> None:
    """G steps every 2nd batch (as WGAN code does); a module of its own names no rebuildable architecture."""
    torch.manual_seed(1)
    config = TrainConfig(arch="vanilla", dataset="mnist", batch_size=64, subset=256, epochs=1)
    module = TinyGAN(config, g_every=2)
    path = tmp_path / "critic.h5"
    callback = LandscapeCallback(path, {"model": "my-gan", "lr": 1e-3}, stages=2)
    _trainer(callback, epochs=1).fit(module, _loader(shared_data, n=256))
    metrics = open_run(path).metrics
    assert len(metrics) == 4
    assert np.isnan(metrics["g_loss"].to_numpy()[1::2]).all() and np.isfinite(metrics["g_loss"].to_numpy()[::2]).all()
    assert np.isfinite(metrics["d_grad_norm"]).all()
    result = runner.invoke(app, ["report", str(path), "--stages", "2"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["hessian", str(path)])  # one sentence saying what such a run needs
    assert result.exit_code != 0 and "names no architecture" in str(result.exception)
    assert "add_checkpoint" in str(result.exception)


def test_players_must_match_the_optimizers(tmp_path, shared_data) -> None:
    from landscape.errors import LandscapeError

    config = TrainConfig(arch="vanilla", dataset="mnist", batch_size=64, subset=128, epochs=1)
    callback = LandscapeCallback(tmp_path / "x.h5", config, players=("g", "d", "e"))
    with pytest.raises(LandscapeError, match="players g, d, e but the module has 2 optimizer"):
        _trainer(callback, epochs=1).fit(TinyGAN(config), _loader(shared_data, n=128))
    with pytest.raises(LandscapeError, match="distinct"):
        LandscapeCallback(tmp_path / "y.h5", players=("g", "g"))
    assert not (tmp_path / "y.h5").exists()
