"""Unrolled GANs (Metz, Poole, Pfau & Sohl-Dickstein, ICLR 2017): the generator's loss through a
discriminator that has taken K more optimizer steps, differentiated through those steps.

The surrogate generator loss is ``f(G, D_K(G))`` where ``D_0`` is the current
discriminator and ``D_{k+1} = D_k + step(grad_D f(G, D_k))``, the step being D's own
optimizer (Adam, RMSprop, SGD, SGD with momentum) continued from its current state.
The gradient flows through every unrolled step back into G, second-order terms
included (``create_graph=True``), as in the paper (its Eq. 12 and Figure 1); the
real discriminator and its optimizer are not changed: the unrolled weights are
functions of D's parameters evaluated with ``torch.func.functional_call`` on copies
of D's buffers (BatchNorm running statistics), and D's own step follows as usual.

All K unrolled steps use the iteration's real batch and fakes, as the authors'
reference notebook does. The cost of one iteration grows about linearly in K
(each unrolled step is a D forward on both batches plus a double backward);
``benchmarks/bench_trainer.py --variants`` measures it. ``unroll=0`` never comes
here: the plain step is bit for bit the GAN without unrolling.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import ContextManager

import torch
from torch import nn
from torch.func import functional_call

from landscape.config import TrainConfig
from trainers import losses

#: Added under the square roots of Adam's and RMSprop's denominators: sqrt is not differentiable
#: at 0 (a parameter whose gradient is exactly 0), and this is far below ``eps`` (1e-7).
_SQRT_FLOOR = 1e-30


def unrolled_g_loss(
    d: nn.Module,
    opt_d: torch.optim.Optimizer,
    config: TrainConfig,
    real: torch.Tensor,
    fake: torch.Tensor,
    real_labels: torch.Tensor | None = None,
    fake_labels: torch.Tensor | None = None,
    autocast: Callable[[], ContextManager] = contextlib.nullcontext,
) -> torch.Tensor:
    """The generator loss through D unrolled ``config.unroll`` steps of its optimizer (graph kept to G)."""
    names = [n for n, p in d.named_parameters() if p.requires_grad]
    by_name = dict(d.named_parameters())
    params = {n: by_name[n] for n in names}
    buffers = {n: b.clone() for n, b in d.named_buffers()}  # BatchNorm statistics of the copies only
    state = _optimizer_state(opt_d, [by_name[n] for n in names])
    group = opt_d.param_groups[0]

    def forward(p: dict[str, torch.Tensor], x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        args = (x,) if labels is None else (x, labels)
        with autocast():
            return functional_call(d, ({**p, **buffers}), args).float()

    for _ in range(config.unroll):
        loss_real, loss_fake = losses.d_loss_parts(forward(params, real, real_labels),
                                                   forward(params, fake, fake_labels), config.loss)
        grads = torch.autograd.grad(loss_real + loss_fake, list(params.values()), create_graph=True)
        params = {n: _step(config.optimizer, params[n], g, state[i], group)
                  for i, (n, g) in enumerate(zip(names, grads))}
        if config.loss == "wgan":  # the clipping is part of the critic's update
            params = {n: p.clamp(-config.clip, config.clip) for n, p in params.items()}
    return losses.g_loss(forward(params, fake, fake_labels), config.loss)


def _optimizer_state(opt: torch.optim.Optimizer, params: list[nn.Parameter]) -> list[dict[str, torch.Tensor]]:
    """Each parameter's optimizer state, detached copies (the unrolled steps continue from it)."""
    out = []
    for p in params:
        st = opt.state.get(p, {})
        out.append({k: (v.detach().clone() if torch.is_tensor(v) else torch.tensor(float(v)))
                    for k, v in st.items()})
    return out


def _step(name: str, p: torch.Tensor, g: torch.Tensor, st: dict[str, torch.Tensor], group: dict) -> torch.Tensor:
    """One differentiable optimizer step of ``p`` with gradient ``g``; updates ``st`` with the new (graph) state."""
    lr = group["lr"]
    if name == "sgd":
        return p - lr * g
    if name == "sgd-momentum":  # PyTorch's SGD: buf = momentum * buf + g (buf = g at the first step)
        buf = st.get("momentum_buffer")
        buf = g if buf is None else group["momentum"] * buf + g
        st["momentum_buffer"] = buf
        return p - lr * buf
    if name == "rmsprop":  # PyTorch's RMSprop: v = alpha v + (1 - alpha) g^2; p -= lr g / (sqrt(v) + eps)
        alpha, eps = group["alpha"], group["eps"]
        v = alpha * st.get("square_avg", torch.zeros_like(p)) + (1 - alpha) * g * g
        st["square_avg"] = v
        return p - lr * g / ((v + _SQRT_FLOOR).sqrt() + eps)
    if name == "adam":  # PyTorch's Adam, bias-corrected
        (b1, b2), eps = group["betas"], group["eps"]
        t = float(st.get("step", torch.tensor(0.0))) + 1
        m = b1 * st.get("exp_avg", torch.zeros_like(p)) + (1 - b1) * g
        v = b2 * st.get("exp_avg_sq", torch.zeros_like(p)) + (1 - b2) * g * g
        st.update(exp_avg=m, exp_avg_sq=v, step=torch.tensor(t))
        denom = (v / (1 - b2**t) + _SQRT_FLOOR).sqrt() + eps
        return p - lr * (m / (1 - b1**t)) / denom
    raise ValueError(f"unknown optimizer {name!r}")  # pragma: no cover - TrainConfig validates


__all__ = ["unrolled_g_loss"]
