"""The instrumented training loop: what it records, and that it records it right."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from landscape import open_run
from landscape.config import TrainConfig
from landscape.errors import DivergedError, LandscapeError
from landscape.runfile import GAN_FIELDS
from landscape.writer import RunWriter
from trainers import losses
from trainers.loop import GANTrainer
from trainers.schedule import Schedule
from trainers.models import build_models


def _images(n: int, shape=(1, 28, 28), seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _record(path, config: TrainConfig, images: torch.Tensor) -> GANTrainer:
    with RunWriter(path, config.to_dict()) as writer:
        trainer = GANTrainer(config, images, writer)
        trainer.run()
    return trainer


def _tiny(**changes) -> TrainConfig:
    base = dict(arch="vanilla", dataset="mnist", epochs=2, batch_size=32, device="cpu")
    return TrainConfig(**{**base, **changes})


def test_schedule_matches_the_paper() -> None:
    mnist = Schedule.plan(TrainConfig(), 60_000)
    assert (mnist.iters_per_epoch, mnist.total_iters) == (468, 46_800)
    assert mnist.checkpoint_steps == [0, 9360, 18720, 28080, 37440, 46800]
    assert mnist.sample_epochs == [1, 25, 50, 75, 100]
    cifar = Schedule.plan(TrainConfig(dataset="cifar10"), 50_000)
    assert (cifar.iters_per_epoch, cifar.total_iters) == (390, 39_000)
    short = Schedule.plan(TrainConfig(max_iters=1000), 60_000)
    assert (short.total_iters, short.epochs, short.sample_epochs) == (1000, 3, [1, 2, 3])


def test_hessian_steps_default_to_the_stage_boundaries() -> None:
    assert Schedule.plan(TrainConfig(), 60_000).hessian_steps == [0, 9360, 18720, 28080, 37440, 46800]
    assert Schedule.plan(TrainConfig(hessian_every=0), 60_000).hessian_steps == []
    every = Schedule.plan(TrainConfig(max_iters=1000, hessian_every=300), 60_000)
    assert every.hessian_steps == [0, 300, 600, 900, 1000]


def test_records_every_iteration(tmp_path) -> None:
    cfg = _tiny()
    trainer = _record(tmp_path / "r.h5", cfg, _images(200))  # 6 full batches of 32 per epoch
    run = open_run(tmp_path / "r.h5")
    m = run.metrics
    assert run.status == "finished" and trainer.step == 12
    assert list(m["step"]) == list(range(12))
    assert list(m["epoch"]) == [1] * 6 + [2] * 6
    assert set(GAN_FIELDS) <= set(m.columns)
    assert np.isfinite(m[list(GAN_FIELDS)].to_numpy()).all()
    np.testing.assert_allclose(m["d_loss"], m["d_loss_real"] + m["d_loss_fake"], rtol=1e-6)
    assert m["d_out_real"].between(0, 1).all() and m["d_out_fake"].between(0, 1).all()
    assert (m["time"].diff().dropna() >= 0).all()
    # the config, the networks and the schedule are stored with the run
    assert run.config == cfg.to_dict()
    assert run.meta("networks")["g"]["params"] == 81_184
    assert run.meta("schedule")["iters_per_epoch"] == 6


@pytest.mark.parametrize("share", [True, False])
def test_metrics_equal_a_straightforward_computation(share: bool) -> None:
    """Norms from the split backward equal those of the plain textbook computation."""
    cfg = _tiny(arch="dcgan", batch_size=8, epochs=1, share_fake_pass=share)
    trainer = GANTrainer(cfg, _images(16))
    g0, d0 = copy.deepcopy(trainer.g), copy.deepcopy(trainer.d)
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    z = torch.rand(8, 20) * 2 - 1
    rng = torch.get_rng_state()
    ours = trainer.train_step(real, z)

    torch.set_rng_state(rng)  # the same dropout masks, drawn in the same order
    opt_g = torch.optim.Adam(g0.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    fake = g0(z)
    d_fake = d0(fake)
    g_loss = losses.g_loss(d_fake)
    g_loss.backward(retain_graph=True)
    g_norm = torch.cat([p.grad.flatten() for p in g0.parameters()]).norm()
    opt_g.step()
    d_real = d0(real)
    if not share:  # a second forward on the same fakes, as the paper's code does
        d_fake = d0(fake.detach())
    loss_real, loss_fake = losses.d_loss_parts(d_real, d_fake)
    flat = lambda ps: torch.cat([p.flatten() for p in ps])  # noqa: E731
    grad_real = flat(torch.autograd.grad(loss_real, d0.parameters(), retain_graph=True))
    grad_fake = flat(torch.autograd.grad(loss_fake, d0.parameters(), retain_graph=True))
    grad_total = flat(torch.autograd.grad(loss_real + loss_fake, d0.parameters(), retain_graph=True))

    expect = {
        "g_loss": g_loss,
        "g_grad_norm": g_norm,
        "d_loss_real": loss_real,
        "d_loss_fake": loss_fake,
        "d_loss": loss_real + loss_fake,
        "d_grad_norm_real": grad_real.norm(),
        "d_grad_norm_fake": grad_fake.norm(),
        "d_grad_norm": grad_total.norm(),
        "d_out_real": torch.sigmoid(d_real).mean(),
        "d_out_fake": torch.sigmoid(d_fake).mean(),
    }
    for name, value in expect.items():
        torch.testing.assert_close(ours[name], value.detach(), rtol=1e-5, atol=1e-6, msg=name)
    # G was updated with the same gradients; D's optimizer applied the total
    for p, q in zip(trainer.g.parameters(), g0.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(flat(p.grad for p in trainer.d.parameters()), grad_total, rtol=1e-5, atol=1e-6)


def test_same_seed_same_metrics_other_seed_other_metrics(tmp_path) -> None:
    images = _images(200)
    frames = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        _record(tmp_path / f"{name}.h5", _tiny(seed=seed), images)
        frames.append(open_run(tmp_path / f"{name}.h5").metrics.drop(columns="time"))
    a, b, c = frames
    assert a.equals(b)
    assert not a.equals(c)
    ra, rb = open_run(tmp_path / "a.h5"), open_run(tmp_path / "b.h5")
    np.testing.assert_array_equal(ra.sample(2), rb.sample(2))
    np.testing.assert_array_equal(ra.probe()[1], rb.probe()[1])


def test_checkpoints_samples_and_probe(tmp_path) -> None:
    cfg = _tiny(epochs=4, probe_size=16)
    trainer = _record(tmp_path / "r.h5", cfg, _images(200))  # 24 iterations
    run = open_run(tmp_path / "r.h5")
    assert run.checkpoint_steps == [0, 5, 10, 15, 20, 24]  # every fifth, ceil'd, and the end
    final = run.checkpoint(24, "g")
    for name, value in trainer.g.state_dict().items():
        np.testing.assert_array_equal(final[name], value.numpy())
    assert not np.array_equal(run.checkpoint(0, "d")["hidden.weight"], run.checkpoint(24, "d")["hidden.weight"])
    assert run.sample_epochs == [1, 2, 3, 4]
    assert run.sample(4).dtype == np.uint8 and run.sample(4).shape[-1] == 1
    real, z = run.probe()
    assert real.shape == (16, 1, 28, 28) and z.shape == (16, 20)
    assert real.min() >= -1 and real.max() <= 1 and np.abs(z).max() <= 1


def test_max_iters_and_subset(tmp_path) -> None:
    trainer = _record(tmp_path / "r.h5", _tiny(epochs=100, max_iters=9, subset=100), _images(1000))
    run = open_run(tmp_path / "r.h5")
    assert trainer.step == 9 and len(run.metrics) == 9
    assert run.meta("schedule")["iters_per_epoch"] == 3  # 100 images, batches of 32
    assert run.metrics["epoch"].max() == 3
    assert run.checkpoint_steps[-1] == 9 and run.sample_epochs == [1, 2, 3]


def test_layer_norms_combine_to_the_global_norms(tmp_path) -> None:
    _record(tmp_path / "r.h5", _tiny(layer_norms=True, epochs=1), _images(100))
    run = open_run(tmp_path / "r.h5")
    for net in ("g", "d"):
        layers = run.layer_norms(net)
        names = [n for n, _ in build_models({"arch": "vanilla"})[0 if net == "g" else 1].named_parameters()]
        assert list(layers.columns) == names and len(layers) == 3
        combined = np.sqrt((layers.to_numpy(dtype=np.float64) ** 2).sum(axis=1))
        np.testing.assert_allclose(combined, run.metrics[f"{net}_grad_norm"], rtol=1e-5)


def test_run_applies_the_configs_matmul_precision_to_a_trainer_built_directly(monkeypatch) -> None:
    """TF32 is the trainer's business (GANTrainer.run), not only trainers.record's: no GPU needed to see it asked for."""
    import contextlib

    import trainers.loop

    asked = []

    @contextlib.contextmanager
    def spy(precision: str):
        asked.append(precision)
        yield

    monkeypatch.setattr(trainers.loop, "matmul_precision", spy)
    trainer = GANTrainer(_tiny(epochs=1), _images(100))
    trainer.run(until=1)
    assert asked == ["fp32"] and trainer.step == 1


def test_run_can_continue_in_pieces() -> None:
    cfg = _tiny(epochs=3)
    whole = GANTrainer(cfg, _images(100))
    whole.run()
    pieces = GANTrainer(cfg, _images(100))
    pieces.run(until=4)
    pieces.run(until=5)
    pieces.run()
    assert whole.step == pieces.step == 9
    for p, q in zip(whole.g.parameters(), pieces.g.parameters()):
        assert torch.equal(p, q)


def test_a_genuinely_diverging_run_stops_as_diverged(tmp_path) -> None:
    cfg = _tiny(optimizer="sgd", lr_g=1e30, lr_d=1e30, epochs=5)
    with pytest.raises(DivergedError, match="diverged"):
        _record(tmp_path / "r.h5", cfg, _images(200))
    run = open_run(tmp_path / "r.h5")
    assert run.status == "diverged"
    m = run.metrics
    assert len(m) >= 2 and math.isfinite(m["g_loss"].iloc[0])
    assert not np.isfinite(m[["g_loss", "d_loss"]].iloc[-1]).all()  # stopped at the first bad row
    assert np.isfinite(m[["g_loss", "d_loss"]].iloc[:-1]).all(axis=None)


def test_stop_request_interrupts_between_iterations(tmp_path) -> None:
    cfg = _tiny(epochs=5)
    seen = []

    def progress(trainer: GANTrainer) -> None:
        seen.append(trainer.step)
        if trainer.step >= 3:
            trainer.request_stop()

    with pytest.raises(KeyboardInterrupt):
        with RunWriter(tmp_path / "r.h5", cfg.to_dict()) as writer:
            trainer = GANTrainer(cfg, _images(200), writer)
            trainer.run(progress=progress, progress_every=0)
    run = open_run(tmp_path / "r.h5")
    assert run.status == "interrupted" and len(run.metrics) == trainer.step == 3


def test_thread_count_resolution(monkeypatch):
    """--threads wins, then $OMP_NUM_THREADS / $MKL_NUM_THREADS, then the measured default (1 on a CPU)."""
    from trainers.threads import available_cores, resolve_threads

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    assert resolve_threads(None, "vanilla") == resolve_threads(None, "dcgan") == 1
    assert resolve_threads(3, "dcgan") == 3
    assert resolve_threads(None, "dcgan", "cuda") == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert resolve_threads(None, "vanilla") == 2 and resolve_threads(4, "vanilla") == 4
    assert available_cores() >= 1


def test_record_stores_and_applies_the_thread_count(tmp_path, shared_data, monkeypatch):
    import torch

    from trainers import record

    seen = []
    config = TrainConfig(subset=256, batch_size=64, max_iters=2, hessian_every=0, device="cpu", threads=2,
                         data_dir=str(shared_data))
    before = torch.get_num_threads()
    summary = record(config, tmp_path / "r.h5", progress=lambda t: seen.append(torch.get_num_threads()))
    assert summary.config.threads == 2 and open_run(tmp_path / "r.h5").config["threads"] == 2
    assert set(seen) == {2} and torch.get_num_threads() == before  # applied while training, restored after
    with pytest.raises(LandscapeError, match="threads"):
        TrainConfig(threads=0)


def test_bf16_trains_in_float32_state_and_records_float32(tmp_path, shared_data, one_torch_thread):
    """precision bf16: forward passes in bfloat16; weights, losses, norms and Hessians stay float32."""
    from analysis.hessian import HessianEstimates
    from trainers import record
    from trainers.precision import cpu_has_bf16

    if cpu_has_bf16() is False:
        pytest.skip("this CPU has no bfloat16 units")
    seen = []
    config = TrainConfig(subset=256, batch_size=64, max_iters=4, stages=1, hessian_every=4, hessian_k=2,
                         probe_size=16, precision="bf16", device="cpu", data_dir=str(shared_data))
    summary = record(config, tmp_path / "bf16.h5", measurements=[HessianEstimates(on_result=seen.append)])
    run = open_run(tmp_path / "bf16.h5")
    assert summary.status == "finished" and run.config["precision"] == "bf16"
    m = run.metrics
    assert all(m[name].dtype == np.float32 and np.isfinite(m[name]).all() for name in GAN_FIELDS)
    assert ((m["d_out_real"] > 0) & (m["d_out_real"] < 1)).all()
    assert all(w.dtype == np.float32 for w in run.checkpoint(4, "d").values() if w.dtype.kind == "f")
    assert {r.network for r in seen} == {"g", "d"} and all(r.determinism_diff == 0.0 for r in seen)  # float32


def test_bf16_dcgan_is_channels_last_and_its_checkpoints_load_back(tmp_path, shared_data, one_torch_thread):
    """bf16 keeps DCGAN's convolutions channels-last (the fast layout); the stored weights are the trained ones."""
    from trainers import record
    from trainers.models import build_models
    from trainers.precision import cpu_has_bf16

    if cpu_has_bf16() is False:
        pytest.skip("this CPU has no bfloat16 units")
    config = TrainConfig(arch="dcgan", subset=64, batch_size=16, max_iters=2, stages=1, hessian_every=0,
                         probe_size=8, precision="bf16", device="cpu", data_dir=str(shared_data))
    from landscape.data import load_dataset

    trainer = GANTrainer(config, load_dataset("mnist", root=shared_data).images[:64])
    convs = [p for p in trainer.d.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert all(p.is_contiguous() for p in build_models(config)[1].parameters())  # fp32 layout untouched elsewhere
    record(config, tmp_path / "cl.h5")
    run = open_run(tmp_path / "cl.h5")
    _, d = build_models(run.config)
    d.load_state_dict({k: torch.as_tensor(v) for k, v in run.checkpoint(2, "d").items()})
    assert all(np.isfinite(v).all() for v in run.checkpoint(2, "d").values() if v.dtype.kind == "f")


def test_bf16_changes_the_arithmetic_and_fp32_is_untouched(shared_data, one_torch_thread):
    from landscape.data import load_dataset

    images = load_dataset("mnist", root=shared_data).images[:256]
    config = TrainConfig(subset=256, batch_size=64, max_iters=3, device="cpu", data_dir=str(shared_data))
    losses_by = {}
    for precision in ("fp32", "bf16", "fp32"):
        trainer = GANTrainer(config.replace(precision=precision), images)
        trainer.run()
        losses_by.setdefault(precision, []).append(float(trainer.latest["g_loss"]))
    assert losses_by["fp32"][0] == losses_by["fp32"][1]  # float32 stays bit for bit
    assert losses_by["bf16"][0] != losses_by["fp32"][0]  # bfloat16 products really ran
    assert abs(losses_by["bf16"][0] - losses_by["fp32"][0]) < 0.05 * abs(losses_by["fp32"][0])


def test_tf32_on_a_cpu_is_one_sentence():
    from trainers.precision import check_precision

    with pytest.raises(LandscapeError, match="tf32"):
        check_precision("tf32", "cpu")
    with pytest.raises(LandscapeError, match="precision"):
        TrainConfig(precision="fp16")
