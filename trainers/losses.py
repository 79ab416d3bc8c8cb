"""Every GAN loss the toolkit trains, in one place, each formula with its reference.

The inputs are D's raw outputs (shape ``(N,)`` or ``(N, 1)``): logits for the
binary cross-entropy losses, unbounded scores for the others. Every loss is a
mean over the batch (all elements), as Keras' ``BinaryCrossentropy(from_logits=True)``.
The D loss is kept as its two parts, (real part, fake part), so the trainer can
record each part's loss and gradient norm; the D loss is their sum, plus, for
``wgan-gp``, ``gp_weight * gradient_penalty(...)``, which the caller adds.

=======  ======================  =======================  =========================
name     D real part             D fake part              G loss
=======  ======================  =======================  =========================
ns       BCE(D(x), 1)            BCE(D(G(z)), 0)          BCE(D(G(z)), 1)
minimax  BCE(D(x), 1)            BCE(D(G(z)), 0)          -BCE(D(G(z)), 0)
lsgan    0.5 mean((D(x) - 1)^2)  0.5 mean(D(G(z))^2)      0.5 mean((D(G(z)) - 1)^2)
wgan     -mean(D(x))             mean(D(G(z)))            -mean(D(G(z)))
wgan-gp  -mean(D(x))             mean(D(G(z)))            -mean(D(G(z)))
hinge    mean(relu(1 - D(x)))    mean(relu(1 + D(G(z))))  -mean(D(G(z)))
=======  ======================  =======================  =========================

References:

- ns, minimax: Goodfellow et al. 2014, "Generative Adversarial Nets" (NeurIPS). ``minimax`` is the
  original saturating game, G minimising log(1 - D(G(z))); ``ns`` is the non-saturating variant the
  same paper recommends in practice, G maximising log D(G(z)). ``ns`` is the paper's default here
  and ``g_loss(x)`` / ``d_loss_parts(r, f)`` without a loss name compute exactly what they always did.
- lsgan: Mao et al. 2017, "Least Squares Generative Adversarial Networks" (ICCV), the a-b-c = 0-1-1
  coding of their eq. (2) (fake label 0, real label 1, G's target 1), with their factor 1/2.
- wgan: Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN" (ICML); the weight clipping that keeps
  the critic Lipschitz is the optimiser's business, not the loss's.
- wgan-gp: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs" (NeurIPS): wgan's parts
  plus lambda times :func:`gradient_penalty`.
- hinge: Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, "Spectral Normalization for
  Generative Adversarial Networks" (ICLR).

Label smoothing (Salimans et al. 2016, "Improved Techniques for Training GANs": one-sided on the
real labels; two-sided also moves the fake labels off 0) applies only to the BCE losses: pass
per-sample targets from :func:`smoothing_targets` to :func:`d_loss_parts`.

This module imports only torch and ``landscape.errors`` (which imports nothing heavy): the
trainer's hot loop calls :func:`g_loss` and :func:`d_loss_parts` every iteration, so the
default loss is the first branch of a plain ``if`` chain.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from landscape.errors import LandscapeError, unknown_choice

__all__ = [
    "LOSSES",
    "LOSS_TITLES",
    "check_loss",
    "d_loss_parts",
    "d_output",
    "estimates_wasserstein",
    "g_loss",
    "gradient_penalty",
    "is_critic",
    "smoothing_targets",
    "uses_bce",
    "wasserstein_estimate",
]

#: every loss name the trainer accepts, the paper's default (non-saturating BCE) first
# the names and display titles are the config's (one owner per fact)
from landscape.config import BCE_LOSSES, CRITIC_LOSSES, LOSS_TITLES, LOSSES, WASSERSTEIN_LOSSES  # noqa: E402

_BCE = frozenset(BCE_LOSSES)
_CRITIC = frozenset(CRITIC_LOSSES)
_WASSERSTEIN = frozenset(WASSERSTEIN_LOSSES)


def check_loss(loss: str) -> None:
    """Raise :class:`LandscapeError` (one sentence listing the choices) when ``loss`` is not in :data:`LOSSES`.

    Call it where the user's choice enters (config, CLI) so a typo fails before training starts.
    """
    if loss not in LOSSES:
        raise LandscapeError(unknown_choice("loss", loss, LOSSES))


def is_critic(loss: str) -> bool:
    """True for wgan, wgan-gp and hinge, whose D is a critic.

    A critic's output is an unbounded score, not the logit of a probability, so it is never passed
    through a sigmoid and "D's accuracy" or "D(x) = 0.5" mean nothing for it.
    """
    check_loss(loss)
    return loss in _CRITIC


def estimates_wasserstein(loss: str) -> bool:
    """True for wgan and wgan-gp, whose critic's score gap estimates the Wasserstein-1 distance.

    Their runs record :func:`wasserstein_estimate` as ``wasserstein`` at every D step.
    """
    check_loss(loss)
    return loss in _WASSERSTEIN


def uses_bce(loss: str) -> bool:
    """True for ns and minimax, the binary cross-entropy losses: the only ones label smoothing applies to."""
    check_loss(loss)
    return loss in _BCE


def g_loss(d_fake: torch.Tensor, loss: str = "ns") -> torch.Tensor:
    """The generator's loss (to minimise) from D's raw outputs on a fake batch.

    - ns: BCE(D(G(z)), 1) = -mean(log sigmoid(D(G(z)))), the non-saturating loss (the default,
      bit-for-bit what this function computed before it took a loss name);
    - minimax: mean(log(1 - sigmoid(D(G(z))))) = -mean(softplus(D(G(z)))), computed stably;
    - lsgan: 0.5 * mean((D(G(z)) - 1)^2);
    - wgan, wgan-gp, hinge: -mean(D(G(z))).
    """
    if loss == "ns":
        return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
    if loss == "minimax":
        return -F.softplus(d_fake).mean()
    if loss == "lsgan":
        return 0.5 * (d_fake - 1).square().mean()
    if loss == "wgan" or loss == "wgan-gp" or loss == "hinge":
        return -d_fake.mean()
    check_loss(loss)
    raise AssertionError(f"loss {loss!r} is in LOSSES but g_loss has no branch for it")  # pragma: no cover


def _as_target(target: torch.Tensor, like: torch.Tensor, which: str) -> torch.Tensor:
    """``target`` as a tensor of ``like``'s shape, dtype and device (per-sample targets (N,) fit outputs (N, 1))."""
    if target.numel() != like.numel():
        raise ValueError(f"{which} has {target.numel()} elements but D's output has {like.numel()}; "
                         "give one target per sample")
    return target.to(dtype=like.dtype, device=like.device).reshape(like.shape)


def d_loss_parts(
    d_real: torch.Tensor,
    d_fake: torch.Tensor,
    loss: str = "ns",
    *,
    real_target: torch.Tensor | None = None,
    fake_target: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(real part, fake part) of the discriminator's loss from its raw outputs; the D loss is their sum.

    - ns, minimax: BCE(D(x), 1) and BCE(D(G(z)), 0) on logits; with ``real_target`` /
      ``fake_target`` (per-sample label-smoothing targets, one per sample, e.g. from
      :func:`smoothing_targets`) BCE against those instead. ``None`` gives exactly 1 and 0,
      bit-for-bit the loss this function computed before it took these arguments;
    - lsgan: 0.5 * mean((D(x) - 1)^2) and 0.5 * mean(D(G(z))^2);
    - wgan, wgan-gp: -mean(D(x)) and mean(D(G(z))) (wgan-gp's penalty is added by the caller:
      ``gp_weight * gradient_penalty(d, real, fake)``);
    - hinge: mean(relu(1 - D(x))) and mean(relu(1 + D(G(z)))).

    Targets with a loss other than ns or minimax raise ``ValueError``: smoothing a label only
    means something for a loss that has labels.
    """
    if loss == "ns" or loss == "minimax":
        if real_target is None:
            real_target = torch.ones_like(d_real)
        else:
            real_target = _as_target(real_target, d_real, "real_target")
        if fake_target is None:
            fake_target = torch.zeros_like(d_fake)
        else:
            fake_target = _as_target(fake_target, d_fake, "fake_target")
        real = F.binary_cross_entropy_with_logits(d_real, real_target)
        fake = F.binary_cross_entropy_with_logits(d_fake, fake_target)
        return real, fake
    check_loss(loss)
    if real_target is not None or fake_target is not None:
        raise ValueError(f"label-smoothing targets apply only to the BCE losses (ns, minimax), not to {loss!r}")
    if loss == "lsgan":
        return 0.5 * (d_real - 1).square().mean(), 0.5 * d_fake.square().mean()
    if loss == "wgan" or loss == "wgan-gp":
        return -d_real.mean(), d_fake.mean()
    if loss == "hinge":
        return F.relu(1 - d_real).mean(), F.relu(1 + d_fake).mean()
    raise AssertionError(f"loss {loss!r} is in LOSSES but d_loss_parts has no branch for it")  # pragma: no cover


def d_output(d_out: torch.Tensor, loss: str = "ns") -> torch.Tensor:
    """What a run records per sample as ``d_out_real`` / ``d_out_fake``, from D's raw output.

    For the BCE losses (ns, minimax) D's output is a logit, and the record is ``sigmoid(logit)``,
    D's probability that the sample is real. For lsgan, wgan, wgan-gp and hinge it is D's raw
    output unchanged (the same tensor), a score; for the critics (:func:`is_critic`) the "critic score".
    """
    if loss == "ns" or loss == "minimax":
        return torch.sigmoid(d_out)
    check_loss(loss)
    return d_out


def wasserstein_estimate(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """mean(D(x)) - mean(D(G(z))): the critic's estimate of the Wasserstein-1 distance (Arjovsky et al. 2017).

    It is minus the wgan D loss; it estimates W1 (up to the critic's Lipschitz constant) only
    when the critic is near-optimal and (near-)1-Lipschitz, as with wgan's clipping or wgan-gp.
    """
    return d_real.mean() - d_fake.mean()


def gradient_penalty(
    d: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    detach_fake: bool = True,
) -> torch.Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017, eq. 3), NOT multiplied by lambda: the caller multiplies by gp_weight.

    mean over the batch of ``(||grad_xhat D(xhat)||_2 - 1)^2`` with ``xhat = eps * real + (1 - eps) * fake``,
    one ``eps ~ U[0, 1)`` per sample, of shape ``(N, 1, 1, ...)`` broadcast over the sample's other
    dimensions, drawn by ``torch.rand(..., generator=generator, device=real.device)`` in ``real``'s
    (floating) dtype. Works for images ``(N, C, H, W)`` and flat inputs ``(N, D)`` (2-D toy points).

    ``real`` and ``fake`` are detached (the penalty is a function of D's parameters only, G gets no
    gradient from it; ``detach_fake=False`` keeps ``fake``'s graph, for the game Jacobian, whose
    block d(grad_D L_D)/d(G's parameters) includes the penalty's dependence on the fakes) and the input gradient is taken with ``create_graph=True`` so the penalty can be
    back-propagated to D's parameters. The per-sample gradients come from one backward of
    ``D(xhat).sum()``, which is exact only when D treats samples independently: no batch
    normalisation in training mode in the critic (the paper's advice too; use layer norm or none).
    """
    real = real.detach()
    if detach_fake:
        fake = fake.detach()
    dtype = real.dtype if real.is_floating_point() else torch.get_default_dtype()
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=generator, device=real.device, dtype=dtype)
    xhat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    out = d(xhat)
    (grad,) = torch.autograd.grad(out.sum(), xhat, create_graph=True)
    norms = torch.linalg.vector_norm(grad.reshape(grad.shape[0], -1), ord=2, dim=1)
    return (norms - 1).square().mean()


def smoothing_targets(
    n: int,
    low: float,
    high: float,
    *,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``n`` float32 label targets drawn uniformly from [low, high]; ``low == high`` gives the constant.

    For one-sided smoothing of the real labels (e.g. 0.8-1.1, or 0.9-0.9 for the constant 0.9 of
    Salimans et al. 2016) and two-sided smoothing that also moves the fake labels (e.g. 0.0-0.3).
    The constant case draws nothing, so it leaves ``generator`` (or the global RNG) untouched.
    Targets outside [0, 1] (as 1.1) are allowed: BCE on logits stays defined, but its minimum is no
    longer 0, so a smoothed D loss can be negative.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not low <= high:
        raise ValueError(f"smoothing range low={low} must not exceed high={high}")
    if low == high:
        return torch.full((n,), float(low), dtype=torch.float32, device=device)
    u = torch.rand(n, generator=generator, device=device, dtype=torch.float32)
    return u * (high - low) + low
