"""trainers.losses: every GAN loss against values computed by hand with plain Python math.

The logits are fixed small lists; the expected values use only ``math.log`` / ``math.exp``, so a
mistake in a formula cannot cancel against the same mistake in torch.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from landscape.errors import LandscapeError
from trainers import losses

REAL = [-2.0, 0.5, 3.0]
FAKE = [1.5, -0.25, -4.0]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def bce(x: float, t: float) -> float:
    """Binary cross-entropy of logit ``x`` against target ``t``: -(t log s + (1 - t) log(1 - s))."""
    s = sigmoid(x)
    return -(t * math.log(s) + (1 - t) * math.log(1 - s))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def t(values, dtype=torch.float64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


# --------------------------------------------------------------------------- names


def test_the_names_and_titles() -> None:
    assert losses.LOSSES == ("ns", "minimax", "lsgan", "wgan", "wgan-gp", "hinge")
    assert losses.LOSS_TITLES == {
        "ns": "non-saturating GAN", "minimax": "minimax GAN", "lsgan": "LSGAN",
        "wgan": "WGAN", "wgan-gp": "WGAN-GP", "hinge": "hinge GAN",
    }
    assert [name for name in losses.LOSSES if losses.is_critic(name)] == ["wgan", "wgan-gp", "hinge"]
    assert [name for name in losses.LOSSES if losses.uses_bce(name)] == ["ns", "minimax"]
    assert [name for name in losses.LOSSES if losses.estimates_wasserstein(name)] == ["wgan", "wgan-gp"]
    for name in losses.LOSSES:
        losses.check_loss(name)


@pytest.mark.parametrize("call", [
    lambda: losses.check_loss("wgangp"),
    lambda: losses.is_critic("wgangp"),
    lambda: losses.uses_bce("wgangp"),
    lambda: losses.g_loss(t(FAKE), "wgangp"),
    lambda: losses.d_loss_parts(t(REAL), t(FAKE), "wgangp"),
    lambda: losses.d_output(t(REAL), "wgangp"),
])
def test_an_unknown_loss_is_a_landscape_error_naming_the_choices(call) -> None:
    with pytest.raises(LandscapeError) as info:
        call()
    message = str(info.value)
    assert "Unknown loss 'wgangp'" in message and "did you mean 'wgan-gp'?" in message
    assert "ns, minimax, lsgan, wgan, wgan-gp, hinge" in message


# --------------------------------------------------------------------------- the default is today's loss


@pytest.mark.parametrize("shape", [(3,), (3, 1)])
def test_the_default_is_bitwise_bce_on_logits_against_ones_and_zeros(shape) -> None:
    real, fake = torch.tensor(REAL).reshape(shape), torch.tensor(FAKE).reshape(shape)
    g = losses.g_loss(fake)
    assert torch.equal(g, F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake)))
    assert torch.equal(g, losses.g_loss(fake, "ns"))
    r, f = losses.d_loss_parts(real, fake)
    assert torch.equal(r, F.binary_cross_entropy_with_logits(real, torch.ones_like(real)))
    assert torch.equal(f, F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    r2, f2 = losses.d_loss_parts(real, fake, "ns", real_target=None, fake_target=None)
    assert torch.equal(r, r2) and torch.equal(f, f2)
    assert g.dtype == r.dtype == f.dtype == torch.float32 and g.dim() == 0


def test_the_default_is_differentiable_and_stable() -> None:
    fake = torch.tensor([-200.0, 200.0], requires_grad=True)
    g = losses.g_loss(fake)
    assert torch.isfinite(g)
    g.backward()
    assert torch.isfinite(fake.grad).all()


# --------------------------------------------------------------------------- each loss by hand


EXPECTED = {
    #          G loss                                  D real part                          D fake part
    "ns": (mean(bce(x, 1) for x in FAKE), mean(bce(x, 1) for x in REAL), mean(bce(x, 0) for x in FAKE)),
    "minimax": (mean(math.log(1 - sigmoid(x)) for x in FAKE),
                mean(bce(x, 1) for x in REAL), mean(bce(x, 0) for x in FAKE)),
    "lsgan": (0.5 * mean((x - 1) ** 2 for x in FAKE), 0.5 * mean((x - 1) ** 2 for x in REAL),
              0.5 * mean(x ** 2 for x in FAKE)),
    "wgan": (-mean(FAKE), -mean(REAL), mean(FAKE)),
    "wgan-gp": (-mean(FAKE), -mean(REAL), mean(FAKE)),
    "hinge": (-mean(FAKE), mean(max(0.0, 1 - x) for x in REAL), mean(max(0.0, 1 + x) for x in FAKE)),
}


def test_the_hand_values_are_what_the_formulas_say() -> None:
    """A spot check of the table itself: BCE(x, 1) = log(1 + e^-x), hinge's clipping, minimax's sign."""
    assert bce(-2.0, 1) == pytest.approx(math.log(1 + math.exp(2.0)))
    assert EXPECTED["hinge"][1] == pytest.approx((3.0 + 0.5 + 0.0) / 3)
    assert EXPECTED["hinge"][2] == pytest.approx((2.5 + 0.75 + 0.0) / 3)
    assert EXPECTED["minimax"][0] == pytest.approx(-EXPECTED["ns"][2])


@pytest.mark.parametrize("loss", losses.LOSSES)
@pytest.mark.parametrize("shape", [(3,), (3, 1)])
def test_each_loss_against_hand_computed_values(loss, shape) -> None:
    expected_g, expected_real, expected_fake = EXPECTED[loss]
    real, fake = t(REAL).reshape(shape), t(FAKE).reshape(shape)
    g = losses.g_loss(fake, loss)
    r, f = losses.d_loss_parts(real, fake, loss)
    for got in (g, r, f):
        assert got.dim() == 0 and got.dtype == torch.float64
    assert g.item() == pytest.approx(expected_g, rel=1e-12, abs=1e-12)
    assert r.item() == pytest.approx(expected_real, rel=1e-12, abs=1e-12)
    assert f.item() == pytest.approx(expected_fake, rel=1e-12, abs=1e-12)


def test_minimax_saturates_where_ns_does_not() -> None:
    """The reason ns exists: for a fake D rejects confidently, minimax's G gradient vanishes."""
    x = torch.tensor([-10.0], dtype=torch.float64, requires_grad=True)
    (grad_ns,) = torch.autograd.grad(losses.g_loss(x, "ns"), x)
    (grad_mm,) = torch.autograd.grad(losses.g_loss(x, "minimax"), x)
    assert grad_ns.item() == pytest.approx(-(1 - sigmoid(-10.0)), rel=1e-12)  # about -1
    assert grad_mm.item() == pytest.approx(-sigmoid(-10.0), rel=1e-12)  # about -4.5e-5
    assert torch.isfinite(losses.g_loss(torch.tensor([1e4, -1e4]), "minimax"))


# --------------------------------------------------------------------------- label-smoothing targets


@pytest.mark.parametrize("loss", ["ns", "minimax"])
@pytest.mark.parametrize("shape", [(3,), (3, 1)])
def test_targets_give_bce_against_those_targets(loss, shape) -> None:
    real_target, fake_target = [0.9, 1.1, 0.8], [0.0, 0.3, 0.1]
    real, fake = t(REAL).reshape(shape), t(FAKE).reshape(shape)
    r, f = losses.d_loss_parts(real, fake, loss, real_target=t(real_target), fake_target=t(fake_target))
    assert r.item() == pytest.approx(mean(bce(x, y) for x, y in zip(REAL, real_target)), rel=1e-12)
    assert f.item() == pytest.approx(mean(bce(x, y) for x, y in zip(FAKE, fake_target)), rel=1e-12)
    # one side only: the other keeps its exact label
    r1, f1 = losses.d_loss_parts(real, fake, loss, real_target=t(real_target))
    assert torch.equal(r1, r) and torch.equal(f1, losses.d_loss_parts(real, fake, loss)[1])


def test_targets_follow_the_outputs_dtype_and_must_be_one_per_sample() -> None:
    real, fake = torch.tensor(REAL).reshape(3, 1), torch.tensor(FAKE).reshape(3, 1)
    r, _ = losses.d_loss_parts(real, fake, real_target=losses.smoothing_targets(3, 0.9, 0.9))
    assert r.dtype == torch.float32
    assert r.item() == pytest.approx(mean(bce(x, 0.9) for x in REAL), rel=1e-6)
    with pytest.raises(ValueError, match="one target per sample"):
        losses.d_loss_parts(real, fake, real_target=torch.ones(4))


@pytest.mark.parametrize("loss", ["lsgan", "wgan", "wgan-gp", "hinge"])
def test_targets_with_a_non_bce_loss_raise(loss) -> None:
    with pytest.raises(ValueError, match="BCE"):
        losses.d_loss_parts(t(REAL), t(FAKE), loss, real_target=t([0.9] * 3))
    with pytest.raises(ValueError, match="BCE"):
        losses.d_loss_parts(t(REAL), t(FAKE), loss, fake_target=t([0.1] * 3))


def test_smoothing_targets_range_mean_and_constant() -> None:
    gen = torch.Generator().manual_seed(0)
    real = losses.smoothing_targets(100_000, 0.8, 1.1, generator=gen)
    assert real.shape == (100_000,) and real.dtype == torch.float32
    assert real.min().item() >= 0.8 and real.max().item() <= 1.1
    assert real.min().item() < 0.801 and real.max().item() > 1.099
    assert real.mean().item() == pytest.approx(0.95, abs=0.003)  # sd of the mean about 0.0003
    fake = losses.smoothing_targets(100_000, 0.0, 0.3, generator=gen)
    assert fake.min().item() >= 0.0 and fake.max().item() <= 0.3
    assert fake.mean().item() == pytest.approx(0.15, abs=0.003)
    # reproducible from the seed
    again = losses.smoothing_targets(100_000, 0.8, 1.1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(real, again)
    # the constant draws nothing
    gen = torch.Generator().manual_seed(1)
    state = gen.get_state()
    constant = losses.smoothing_targets(5, 0.9, 0.9, generator=gen)
    assert constant.dtype == torch.float32 and torch.equal(constant, torch.full((5,), 0.9))
    assert torch.equal(gen.get_state(), state)
    assert losses.smoothing_targets(0, 0.0, 0.3).shape == (0,)
    with pytest.raises(ValueError):
        losses.smoothing_targets(5, 1.1, 0.8)


# --------------------------------------------------------------------------- what a run records


@pytest.mark.parametrize("loss", losses.LOSSES)
def test_d_output_is_a_probability_for_bce_and_the_raw_score_otherwise(loss) -> None:
    logits = t(REAL)
    out = losses.d_output(logits, loss)
    if loss in ("ns", "minimax"):
        assert out.tolist() == pytest.approx([sigmoid(x) for x in REAL], rel=1e-12)
    else:
        assert torch.equal(out, logits)
    assert torch.equal(losses.d_output(logits), torch.sigmoid(logits))


def test_wasserstein_estimate() -> None:
    w = losses.wasserstein_estimate(t(REAL), t(FAKE).reshape(3, 1))
    assert w.dim() == 0 and w.item() == pytest.approx(mean(REAL) - mean(FAKE), rel=1e-12)
    assert w.item() == pytest.approx(-sum(losses.d_loss_parts(t(REAL), t(FAKE), "wgan")).item(), rel=1e-12)


# --------------------------------------------------------------------------- the gradient penalty


@pytest.mark.parametrize("shape", [(6, 2), (4, 2, 3, 3)])
def test_the_penalty_of_a_linear_critic_is_exact(shape) -> None:
    """D(x) = <x, w> has gradient w at every xhat, so the penalty is (||w|| - 1)^2 whatever eps is."""
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(shape, generator=gen, dtype=torch.float64)
    fake = torch.randn(shape, generator=gen, dtype=torch.float64)
    w = torch.randn(shape[1:], generator=gen, dtype=torch.float64)

    def d(x):
        return (x * w).flatten(1).sum(1, keepdim=True)  # (N, 1), as a real D

    gp = losses.gradient_penalty(d, real, fake, generator=gen)
    norm = math.sqrt(sum(v * v for v in w.flatten().tolist()))
    assert gp.item() == pytest.approx((norm - 1) ** 2, rel=1e-12)
    # a unit-norm critic costs nothing
    w = w / w.norm()
    assert losses.gradient_penalty(d, real, fake).item() == pytest.approx(0.0, abs=1e-24)


class MLP(torch.nn.Module):
    """A small float64 critic: 2 -> 8 -> 1 with tanh."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng():  # leave the global RNG as other tests find it
            torch.manual_seed(seed)
            self.net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()

    def forward(self, x):
        return self.net(x)


def test_the_penalty_of_a_nonlinear_critic_matches_central_finite_differences() -> None:
    d = MLP()
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(5, 2, generator=gen, dtype=torch.float64)
    fake = torch.randn(5, 2, generator=gen, dtype=torch.float64)

    gp = losses.gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(42))

    # the same eps as the penalty drew: the same seed, shape, device and dtype
    eps = torch.rand((5, 1), generator=torch.Generator().manual_seed(42), dtype=torch.float64)
    xhat = (eps * real + (1 - eps) * fake).tolist()
    h = 1e-6
    terms = []
    with torch.no_grad():
        for point in xhat:
            grad = []
            for k in range(2):
                up, down = list(point), list(point)
                up[k] += h
                down[k] -= h
                grad.append((d(t([up])).item() - d(t([down])).item()) / (2 * h))
            terms.append((math.sqrt(sum(g * g for g in grad)) - 1) ** 2)
    assert gp.item() == pytest.approx(mean(terms), rel=1e-7)


def test_the_penalty_is_differentiable_in_the_critics_parameters_only() -> None:
    d = MLP(seed=1)
    real = torch.randn(5, 2, dtype=torch.float64)
    fake = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)  # as G's output: must get no gradient
    gp = losses.gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(0))
    assert gp.requires_grad and gp.dim() == 0
    grads = torch.autograd.grad(gp, list(d.parameters()), retain_graph=True, allow_unused=True)
    # the last layer's bias shifts D(x) but not its input gradient: it is the one parameter the penalty does not use
    assert [g is None for g in grads] == [False, False, False, True]
    assert all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads[:3])
    assert torch.autograd.grad(gp, fake, allow_unused=True, retain_graph=True) == (None,)
    # the penalty's gradient agrees with a finite difference along one weight
    weight = d.net[2].weight
    direction = torch.zeros_like(weight)
    direction[0, 3] = 1.0
    h = 1e-6

    def penalty() -> float:
        return losses.gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(0)).item()

    with torch.no_grad():
        weight += h * direction
    up = penalty()
    with torch.no_grad():
        weight -= 2 * h * direction
    down = penalty()
    with torch.no_grad():
        weight += h * direction
    assert grads[2][0, 3].item() == pytest.approx((up - down) / (2 * h), rel=1e-6)


def test_the_penalty_draws_eps_from_the_generator() -> None:
    d = MLP()
    real, fake = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    a = losses.gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(3))
    b = losses.gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(3))
    c = losses.gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
