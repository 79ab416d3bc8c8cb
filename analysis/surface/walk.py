"""Progressive gradient walks around a checkpoint: the loss-gradient cloud as Bosman et al. sample it.

Bosman, Engelbrecht & Helbig (Neurocomputing 2020; Malan's 2021 survey) sample a loss landscape
with *progressive gradient walks* and draw the (loss, gradient norm) of every point visited as a
loss-gradient cloud. Here every walk starts at the weights of a stored checkpoint of one player
(the other network fixed) and takes ``steps`` steps on the probe-batch loss
(:mod:`analysis.probe_loss`). The rule implemented, for each weight ``w_j`` at each step::

    w_j <- w_j - sign(dL/dw_j) * u_j * F * R_j,    u_j ~ U(0, 1) independently,

where ``F`` is ``--step-size`` and ``R_j`` the initialisation range of ``w_j``'s tensor: the width
``2 sqrt(6 / (fan_in + fan_out))`` of the Glorot-uniform interval the networks are initialised from
(:func:`trainers.layers.keras_init`) for tensors of two or more dimensions; a bias takes the range
of its own layer's weight, and a tensor of one dimension with no such weight (a normalisation
layer's scale and shift) that of the nearest weight tensor before it. A component whose gradient is
exactly zero does not move (sign 0). So each step moves each weight by at most ``F * R_j``, against
the sign of its gradient component, by an amount drawn afresh; the walks differ only in their draws
(one ``torch.Generator`` seeded with ``seed``). The loss and the gradient's 2-norm over all of the
network's trainable parameters are recorded at the start and after every step.

On a quadratic ``L = (1/2) w'Aw`` a step changes the loss by ``-sum_j |g_j| u_j F R_j`` to first
order, whose expectation ``-(F/2) sum_j |g_j| R_j`` is negative: the walks go downhill in
expectation while ``F R_j`` is small against the curvature (tested in ``tests/test_surface.py``).

Stored as the measurement kind ``"walk"``: ``/walk/<step>/<network>`` with arrays ``loss`` and
``grad_norm`` (walks x (steps + 1)) and ``init_range`` (one per parameter tensor).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from analysis.surface.evaluate import BatchedLoss
from landscape.errors import LandscapeError
from landscape.measurements import Record

#: The measurement kind of gradient walks.
KIND = "walk"
#: The rule, as stored with every walk.
RULE = "w_j -= sign(g_j) * U(0,1) * step_size * init_range_j (Bosman et al. 2020 progressive gradient walk)"


def init_ranges(module: nn.Module, names: list[str]) -> np.ndarray:
    """The initialisation range (see the module docstring) of each named parameter tensor of ``module``."""
    params = dict(module.named_parameters())
    widths: dict[str, float] = {}
    for name in names:
        p = params[name]
        if p.dim() >= 2:
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(p)
            widths[name] = 2.0 * float(np.sqrt(6.0 / (fan_in + fan_out)))
    out, last = [], None
    for name in names:
        if name in widths:
            last = widths[name]
            out.append(widths[name])
            continue
        sibling = name.rpartition(".")[0] + ".weight" if "." in name else "weight"
        width = widths.get(sibling, last)
        if width is None:  # no weight before it: the first weight after it
            width = next((widths[n] for n in names if n in widths), 1.0)
        out.append(width)
    return np.asarray(out, dtype=np.float64)


@dataclass
class Walks:
    """Gradient walks from one checkpoint: loss and gradient norm at every point visited (walks x (steps + 1))."""

    step: int
    network: str
    walks: int
    steps: int
    step_size: float
    seed: int
    loss: np.ndarray
    grad_norm: np.ndarray
    init_range: np.ndarray
    seconds: float = 0.0
    batch: str = "probe"
    attrs: dict[str, Any] = field(default_factory=dict)

    def record(self) -> Record:
        """The measurement record, ``/walk/<step>/<network>``."""
        attrs = {"walks": self.walks, "steps": self.steps, "step_size": float(self.step_size), "seed": self.seed,
                 "batch": self.batch, "seconds": float(self.seconds), "rule": RULE,
                 "start_loss": float(self.loss[0, 0]), "start_grad_norm": float(self.grad_norm[0, 0]),
                 "end_loss_mean": float(np.mean(self.loss[:, -1])), **self.attrs}
        return Record(int(self.step), attrs, {"loss": self.loss, "grad_norm": self.grad_norm,
                                              "init_range": self.init_range}, network=self.network)


def check_walk_options(walks: int, steps: int, step_size: float) -> None:
    """One sentence unless there is at least one walk of at least one step and 0 < step size <= 1."""
    if walks < 1:
        raise LandscapeError(f"--walks must be at least 1, got {walks}.")
    if steps < 1:
        raise LandscapeError(f"--steps must be at least 1, got {steps}.")
    if not (np.isfinite(step_size) and 0 < step_size <= 1):
        raise LandscapeError(f"--step-size must be above 0 and at most 1 (a fraction of the initialisation range), "
                             f"got {step_size:g}.")


def walk_batched(batched: BatchedLoss, ranges: np.ndarray, *, walks: int = 20, steps: int = 100,
                 step_size: float = 0.01, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(loss, gradient norm), each walks x (steps + 1), of progressive gradient walks from ``batched.center``.

    ``ranges`` is the initialisation range of each parameter tensor (:func:`init_ranges`), in the
    loss's parameter order. The walks advance together: one batched gradient evaluation per step.
    The weights move in the network's own float32 (a step is at most ``step_size`` of an
    initialisation range, far above float32's resolution), updated in place with one buffer of
    draws: the update, not the gradients, was a third of a step's time in float64.
    """
    check_walk_options(walks, steps, step_size)
    dtype = torch.float64 if batched.dtype == torch.float64 else torch.float32
    bound = torch.cat([torch.full((size,), step_size * float(r), dtype=dtype)
                       for size, r in zip(batched.sizes, ranges)])
    generator = torch.Generator().manual_seed(int(seed))
    flats = batched.center.to("cpu", dtype)[None, :].repeat(walks, 1)
    draws = torch.empty_like(flats)
    loss = np.empty((walks, steps + 1))
    norm = np.empty((walks, steps + 1))
    for t in range(steps + 1):
        values, grads = batched.values_and_gradients(flats, dtype=dtype)
        loss[:, t] = values.numpy()
        norm[:, t] = torch.linalg.vector_norm(grads, dim=1, dtype=torch.float64).numpy()
        if t == steps:
            break
        draws.uniform_(0.0, 1.0, generator=generator).mul_(bound).mul_(grads.sign_())
        flats.sub_(draws)
    return loss, norm


def gradient_walks(run: Any, step: int, network: str, *, walks: int = 20, steps: int = 100, step_size: float = 0.01,
                   seed: int = 0, device: str = "cpu") -> Walks:
    """Progressive gradient walks from the checkpoint ``step`` of a run, on its probe batch (not stored)."""
    from analysis.probe_loss import run_loss
    from landscape.reader import as_run
    from trainers.models import load_models

    check_walk_options(walks, steps, step_size)
    run = as_run(run)
    if int(step) not in run.checkpoint_steps:
        raise LandscapeError(f"{run.path} has no checkpoint at step {step}; stored steps: "
                             f"{', '.join(map(str, run.checkpoint_steps)) or 'none'}.")
    g, d = load_models(run, int(step), device)
    closure = run_loss(g, d, run, network)
    batched = BatchedLoss(closure)
    ranges = init_ranges(batched.module.own, [n[len("own."):] for n in batched.names])
    start = time.perf_counter()
    loss, norm = walk_batched(batched, ranges, walks=walks, steps=steps, step_size=step_size, seed=seed)
    return Walks(int(step), network, walks, steps, float(step_size), int(seed), loss, norm, ranges,
                 time.perf_counter() - start)


def walks_frame(run: Any, network: str | None = None) -> Any:
    """The stored walks of a run as a tidy DataFrame: one row per point visited.

    Columns: step (the checkpoint), network, walk, walk_step, loss, grad_norm.
    """
    import pandas as pd

    from landscape.reader import as_run

    run = as_run(run)
    frames = []
    for step, net in run.measurement_keys(KIND):
        if network is not None and net != network:
            continue
        arrays = run.measurement_arrays(KIND, step, net)
        w, m = arrays["loss"].shape
        frames.append(pd.DataFrame({"step": step, "network": net, "walk": np.repeat(np.arange(w), m),
                                    "walk_step": np.tile(np.arange(m), w), "loss": arrays["loss"].ravel(),
                                    "grad_norm": arrays["grad_norm"].ravel()}))
    columns = ["step", "network", "walk", "walk_step", "loss", "grad_norm"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


__all__ = ["KIND", "RULE", "Walks", "check_walk_options", "gradient_walks", "init_ranges", "walk_batched",
           "walks_frame"]
