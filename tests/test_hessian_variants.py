"""The Hessian's loss closure for every GAN loss the trainer knows, conditional GANs and WGAN-GP's penalty.

Tiny float64 MLPs (z 3-dim -> 4-dim data) built here with torch.nn: every closure value is compared
with the loss assembled by hand from ``trainers.losses``, the WGAN-GP critic's Hessian-vector
product (third-order autograd: the penalty already holds D's input gradient) with a central finite
difference of its gradient, and ``estimate`` / ``HessianEstimates`` are checked to take the loss, the
penalty weight and the probe labels from the run or the trainer.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from analysis.hessian import HessianVectorProduct, check_deterministic, estimate, estimate_models, gan_loss
from analysis.hessian import measurement as hook_module
from analysis.hessian.gan import GP_SEED
from landscape.errors import LandscapeError
from landscape.reader import Run
from trainers import losses
from trainers.losses import LOSSES, d_loss_parts, g_loss, gradient_penalty

pytestmark = pytest.mark.usefixtures("one_torch_thread")

Z, X, N, CLASSES = 3, 4, 8, 3


def mlp(n_in: int, n_out: int, hidden: int = 5, act: type[nn.Module] = nn.LeakyReLU, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, hidden), act(), nn.Linear(hidden, n_out)).double()


def gan(act: type[nn.Module] = nn.LeakyReLU) -> tuple[nn.Module, nn.Module]:
    return mlp(Z, X, act=nn.Tanh, seed=0), mlp(X, 1, hidden=6, act=act, seed=1)


def probe(seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn(N, X, generator=gen, dtype=torch.float64)
    z = torch.rand(N, Z, generator=gen, dtype=torch.float64) * 2 - 1
    return real, z


class CondG(nn.Module):
    """A conditional generator: forward(z, labels) with a label embedding."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(4)
        self.embed = nn.Embedding(CLASSES, 2)
        self.net = nn.Sequential(nn.Linear(Z + 2, 5), nn.Tanh(), nn.Linear(5, X))
        self.double()

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, self.embed(labels)], dim=1))


class CondD(nn.Module):
    """A conditional critic: forward(x, labels) with a label embedding; records the labels it got."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.embed = nn.Embedding(CLASSES, 2)
        self.net = nn.Sequential(nn.Linear(X + 2, 6), nn.LeakyReLU(0.2), nn.Linear(6, 1))
        self.seen: list[torch.Tensor] = []
        self.double()

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.seen.append(labels.detach().clone())
        return self.net(torch.cat([x, self.embed(labels)], dim=1))


def labels_of(seed: int = 7) -> torch.Tensor:
    return torch.randint(0, CLASSES, (N,), generator=torch.Generator().manual_seed(seed))


def value(closure) -> float:
    """The closure's loss as a float."""
    return float(closure.loss_fn().detach())


def gp_weight_for(loss: str) -> float | None:
    return 7.5 if loss == "wgan-gp" else None


def by_hand_d(g, d, real, z, loss, gp_weight=None, labels=None):
    call = (lambda net, x: net(x)) if labels is None else (lambda net, x: net(x, labels))
    with torch.no_grad():
        fake = call(g, z)
        total = sum(d_loss_parts(call(d, real), call(d, fake), loss))
        if loss != "wgan-gp":
            return total
    with torch.enable_grad():
        rng = torch.Generator().manual_seed(GP_SEED)
        penalty = gradient_penalty(lambda x: call(d, x), real, fake, generator=rng)
    return total + gp_weight * penalty.detach()


# ----------------------------------------------------------------------------- values
@pytest.mark.parametrize("loss", LOSSES)
def test_d_closure_is_the_hand_assembled_loss(loss):
    g, d = gan()
    real, z = probe()
    closure = gan_loss(g, d, real, z, "d", loss=loss, gp_weight=gp_weight_for(loss))
    expected = by_hand_d(g, d, real, z, loss, gp_weight_for(loss))
    assert value(closure) == pytest.approx(float(expected), rel=1e-14, abs=1e-15)


@pytest.mark.parametrize("loss", LOSSES)
def test_g_closure_is_g_loss(loss):
    g, d = gan()
    real, z = probe()
    closure = gan_loss(g, d, real, z, "g", loss=loss, gp_weight=gp_weight_for(loss))
    with torch.no_grad():
        expected = g_loss(d(g(z)), loss)
    assert value(closure) == float(expected)  # the penalty is D's alone: no term in G's loss


def test_hinge_g_closure_is_minus_mean_critic_score():
    g, d = gan()
    real, z = probe()
    closure = gan_loss(g, d, real, z, "g", loss="hinge")
    with torch.no_grad():
        expected = -d(g(z)).mean()
    assert value(closure) == pytest.approx(float(expected), rel=1e-15)


def test_losses_differ_from_each_other():
    g, d = gan()
    real, z = probe()
    values = {loss: value(gan_loss(g, d, real, z, "d", loss=loss, gp_weight=gp_weight_for(loss)))
              for loss in LOSSES}
    assert values["ns"] == values["minimax"]  # same D loss; their G losses differ
    assert len(set(values.values())) == len(LOSSES) - 1
    g_values = {loss: value(gan_loss(g, d, real, z, "g", loss=loss)) for loss in ("ns", "minimax", "lsgan")}
    assert len(set(g_values.values())) == 3


def test_wgan_gp_default_weight_is_the_config_default():
    g, d = gan()
    real, z = probe()
    default = value(gan_loss(g, d, real, z, "d", loss="wgan-gp"))
    assert default == pytest.approx(float(by_hand_d(g, d, real, z, "wgan-gp", 10.0)), rel=1e-14)


def test_gp_seed_changes_the_interpolates():
    g, d = gan()
    real, z = probe()
    a = value(gan_loss(g, d, real, z, "d", loss="wgan-gp", gp_weight=10.0))
    b = value(gan_loss(g, d, real, z, "d", loss="wgan-gp", gp_weight=10.0, gp_seed=GP_SEED + 1))
    assert a != b


def test_ns_default_is_the_old_closure_exactly():
    g, d = gan()
    real, z = probe()
    for network in ("g", "d"):
        old = gan_loss(g, d, real, z, network, g_loss_fn=losses.g_loss, d_loss_parts_fn=losses.d_loss_parts)
        new = gan_loss(g, d, real, z, network)
        named = gan_loss(g, d, real, z, network, loss="ns", gp_weight=None, probe_labels=None)
        assert torch.equal(old.loss_fn(), new.loss_fn()) and torch.equal(old.loss_fn(), named.loss_fn())
        v = torch.randn(sum(p.numel() for p in old.params), generator=torch.Generator().manual_seed(2),
                        dtype=torch.float64)
        hv_old = HessianVectorProduct(old.loss_fn, old.params)(v)
        assert torch.equal(hv_old, HessianVectorProduct(new.loss_fn, new.params)(v))
        assert torch.equal(hv_old, HessianVectorProduct(named.loss_fn, named.params)(v))


def test_overrides_still_win():
    g, d = gan()
    real, z = probe()

    def doubled_parts(r, f):
        a, b = losses.d_loss_parts(r, f, "lsgan")
        return 2 * a, 2 * b

    closure = gan_loss(g, d, real, z, "d", loss="lsgan", d_loss_parts_fn=doubled_parts)
    expected = 2 * by_hand_d(g, d, real, z, "lsgan")
    assert value(closure) == pytest.approx(float(expected), rel=1e-14)
    closure = gan_loss(g, d, real, z, "g", loss="hinge", g_loss_fn=lambda out: out.square().mean())
    with torch.no_grad():
        assert value(closure) == pytest.approx(float(d(g(z)).square().mean()), rel=1e-14)


def test_bad_loss_or_weight_is_one_sentence():
    g, d = gan()
    real, z = probe()
    with pytest.raises(LandscapeError, match="loss"):
        gan_loss(g, d, real, z, "d", loss="wasserstein")
    with pytest.raises(LandscapeError, match="gp_weight"):
        gan_loss(g, d, real, z, "d", loss="wgan", gp_weight=10.0)
    with pytest.raises(LandscapeError, match="gp_weight"):
        gan_loss(g, d, real, z, "d", loss="wgan-gp", gp_weight=-1.0)


# ----------------------------------------------------------------------------- determinism and curvature
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("network", ["g", "d"])
def test_every_loss_is_deterministic(loss, network):
    g, d = gan()
    real, z = probe()
    closure = gan_loss(g, d, real, z, network, loss=loss, gp_weight=gp_weight_for(loss))
    assert check_deterministic(closure.loss_fn, closure.params) == 0.0  # CPU double backward is bitwise reproducible


@pytest.mark.parametrize("act", [nn.LeakyReLU, nn.ReLU, nn.Softplus])
def test_wgan_gp_hvp_matches_finite_difference_of_gradient(act):
    g, d = gan(act)
    real, z = probe()
    closure = gan_loss(g, d, real, z, "d", loss="wgan-gp", gp_weight=10.0)
    hvp = HessianVectorProduct(closure.loss_fn, closure.params)
    v = torch.randn(hvp.n, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    v /= torch.linalg.vector_norm(v)
    hv = hvp(v)
    assert float(torch.linalg.vector_norm(hv)) > 1e-3  # the penalty's curvature is really there

    def gradient() -> torch.Tensor:
        grads = torch.autograd.grad(closure.loss_fn(), closure.params, allow_unused=True)
        return torch.cat([(gr if gr is not None else torch.zeros_like(p)).reshape(-1)
                          for gr, p in zip(grads, closure.params)])

    h = 1e-5
    offsets = torch.split(v, [p.numel() for p in closure.params])
    with torch.no_grad():
        for p, o in zip(closure.params, offsets):
            p.add_(h * o.view_as(p))
    plus = gradient()
    with torch.no_grad():
        for p, o in zip(closure.params, offsets):
            p.sub_(2 * h * o.view_as(p))
    minus = gradient()
    fd = (plus - minus) / (2 * h)
    rel = float(torch.linalg.vector_norm(hv - fd) / torch.linalg.vector_norm(hv))
    assert rel < 1e-5


def test_wgan_gp_penalty_changes_the_hessian():
    g, d = gan(nn.Softplus)
    real, z = probe()
    v = torch.randn(sum(p.numel() for p in d.parameters()), generator=torch.Generator().manual_seed(1),
                    dtype=torch.float64)
    plain = gan_loss(g, d, real, z, "d", loss="wgan")
    penalised = gan_loss(g, d, real, z, "d", loss="wgan-gp", gp_weight=10.0)
    a = HessianVectorProduct(plain.loss_fn, plain.params)(v)
    b = HessianVectorProduct(penalised.loss_fn, penalised.params)(v)
    assert float(torch.linalg.vector_norm(a - b)) > 1e-3 * float(torch.linalg.vector_norm(b))


@pytest.mark.parametrize("loss", ["ns", "wgan-gp", "hinge"])
def test_estimate_models_takes_the_variant(loss):
    g, d = gan(nn.Softplus)
    real, z = probe()
    result = estimate_models(g, d, real, z, "d", k=2, loss=loss, gp_weight=gp_weight_for(loss), method="exact")
    assert result.loss == pytest.approx(float(by_hand_d(g, d, real, z, loss, gp_weight_for(loss))), rel=1e-12)
    assert result.determinism_diff == 0.0


# ----------------------------------------------------------------------------- conditional
@pytest.mark.parametrize("loss", ["ns", "wgan-gp"])
def test_conditional_networks_get_the_labels(loss):
    g, d = CondG(), CondD()
    real, z = probe()
    y = labels_of()
    closure = gan_loss(g, d, real, z, "d", loss=loss, gp_weight=gp_weight_for(loss), probe_labels=y.numpy())
    copy_d = closure.modules[1]
    copy_d.seen.clear()
    conditioned = value(closure)
    assert len(copy_d.seen) == (3 if loss == "wgan-gp" else 2)  # real, fake (and the interpolates)
    assert all(torch.equal(s, y) for s in copy_d.seen)  # all with the probe labels
    assert conditioned == pytest.approx(float(by_hand_d(g, d, real, z, loss, gp_weight_for(loss), labels=y)), rel=1e-14)
    assert check_deterministic(closure.loss_fn, closure.params) == 0.0

    other = (y + 1) % CLASSES
    changed = gan_loss(g, d, real, z, "d", loss=loss, gp_weight=gp_weight_for(loss), probe_labels=other)
    assert value(changed) != conditioned

    g_closure = gan_loss(g, d, real, z, "g", loss=loss, probe_labels=y)
    with torch.no_grad():
        expected = g_loss(d(g(z, y), y), loss)
    assert value(g_closure) == float(expected)
    assert value(gan_loss(g, d, real, z, "g", loss=loss, probe_labels=other)) != float(expected)


def test_probe_labels_must_fit_the_probe():
    g, d = CondG(), CondD()
    real, z = probe()
    with pytest.raises(LandscapeError, match="labels"):
        gan_loss(g, d, real, z, "d", probe_labels=labels_of()[:3])
    with pytest.raises(LandscapeError, match="labels"):
        gan_loss(g, d, real, z, "d", probe_labels=torch.zeros(N))


# ----------------------------------------------------------------------------- wiring: estimate and the hook
def fake_run(config: dict, real, z, labels=None) -> Run:
    run = Run.__new__(Run)  # a Run without a file: only what estimate reads
    run.path = "fake.h5"
    run.config = config
    run.probe = lambda: (real.numpy(), z.numpy())
    run.probe_labels = lambda: None if labels is None else labels.numpy()
    return run


def test_estimate_takes_loss_weight_and_labels_from_the_run(monkeypatch):
    import trainers.models

    real, z = probe()
    g, d = gan(nn.Softplus)
    monkeypatch.setattr(trainers.models, "load_models", lambda run, step, device="cpu": (g, d))
    old = estimate(fake_run({}, real, z), 0, "d", k=2, method="exact")  # an old run file: no loss key
    assert old.loss == pytest.approx(float(by_hand_d(g, d, real, z, "ns")), rel=1e-12)
    run = fake_run({"loss": "wgan-gp", "gp_weight": 3.0}, real, z)
    gp = estimate(run, 0, "d", k=2, method="exact")
    assert gp.loss == pytest.approx(float(by_hand_d(g, d, real, z, "wgan-gp", 3.0)), rel=1e-12)

    cg, cd = CondG(), CondD()
    y = labels_of()
    monkeypatch.setattr(trainers.models, "load_models", lambda run, step, device="cpu": (cg, cd))
    run = fake_run({"loss": "hinge", "gp_weight": None, "conditional": True}, real, z, y)
    cond = estimate(run, 0, "d", k=2, method="exact")
    assert cond.loss == pytest.approx(float(by_hand_d(cg, cd, real, z, "hinge", labels=y)), rel=1e-12)
    with pytest.raises(LandscapeError, match="conditional"):
        estimate(fake_run({"conditional": True}, real, z), 0, "d", k=2, method="exact")


def test_hook_passes_the_trainer_loss_and_labels(monkeypatch):
    calls = []

    def recorder(g, d, real, z, network, k, **kwargs):
        calls.append(kwargs)
        raise LandscapeError("not estimated here")

    monkeypatch.setattr(hook_module, "estimate_models", recorder)
    real, z = probe()
    y = labels_of()
    trainer = SimpleNamespace(g=None, d=None, probe_real=real, probe_z=z, step=5, probe_labels=y,
                              config=SimpleNamespace(hessian_k=2, loss="wgan-gp", gp_weight=10.0))
    hook_module.HessianEstimates()(trainer)
    assert [c["loss"] for c in calls] == ["wgan-gp", "wgan-gp"]
    assert all(c["gp_weight"] == 10.0 and c["probe_labels"] is y for c in calls)

    calls.clear()
    bare = SimpleNamespace(g=None, d=None, probe_real=real, probe_z=z, step=5, config=SimpleNamespace(hessian_k=2))
    hook_module.HessianEstimates(method="exact")(bare)  # a trainer from before the loss variants
    assert calls and all(c == {"loss": "ns", "gp_weight": None, "probe_labels": None, "step": 5, "method": "exact"}
                         for c in calls)


def test_options_replace_the_run_and_trainer_loss(monkeypatch):
    import trainers.models

    real, z = probe()
    g, d = gan(nn.Softplus)
    monkeypatch.setattr(trainers.models, "load_models", lambda run, step, device="cpu": (g, d))
    run = fake_run({"loss": "wgan-gp", "gp_weight": 3.0}, real, z)
    plain = estimate(run, 0, "d", k=2, method="exact", loss="wgan")  # the critic without its penalty
    assert plain.loss == pytest.approx(float(by_hand_d(g, d, real, z, "wgan")), rel=1e-12)

    calls = []
    monkeypatch.setattr(hook_module, "estimate_models", lambda *a, **kwargs: calls.append(kwargs))
    monkeypatch.setattr(hook_module, "as_record", lambda result: None)
    trainer = SimpleNamespace(g=None, d=None, probe_real=real, probe_z=z, step=5, probe_labels=None, writer=None,
                              config=SimpleNamespace(hessian_k=2, loss="wgan-gp", gp_weight=10.0))
    hook_module.HessianEstimates(loss="wgan")(trainer)
    assert calls and all(c["loss"] == "wgan" and c["gp_weight"] is None for c in calls)


def test_hook_estimates_a_conditional_wgan_gp_trainer(monkeypatch):
    stored = []
    real, z = probe()
    y = labels_of()
    g, d = CondG(), CondD()
    trainer = SimpleNamespace(g=g, d=d, probe_real=real, probe_z=z, step=1, probe_labels=y, writer=None,
                              config=SimpleNamespace(hessian_k=1, loss="wgan-gp", gp_weight=2.0))
    skipped = []
    records = hook_module.HessianEstimates(on_result=stored.append, on_skip=lambda *a: skipped.append(a), method="exact")(trainer)
    assert [(r.step, r.network) for r in records] == [(1, "g"), (1, "d")]
    assert not skipped and [r.network for r in stored] == ["g", "d"]
    assert stored[1].loss == pytest.approx(float(by_hand_d(g, d, real, z, "wgan-gp", 2.0, labels=y)), rel=1e-12)
    assert np.isfinite(stored[1].eigen.lambda_min)


def test_plain_f_is_used_not_the_smoothed_targets():
    # label smoothing is training-time only: the D closure of ns is BCE against exactly 1 and 0
    g, d = gan()
    real, z = probe()
    with torch.no_grad():
        fake = g(z)
        exact = F.binary_cross_entropy_with_logits(d(real), torch.ones(N, 1, dtype=torch.float64)) \
            + F.binary_cross_entropy_with_logits(d(fake), torch.zeros(N, 1, dtype=torch.float64))
    assert value(gan_loss(g, d, real, z, "d", loss="ns")) == float(exact)
