"""The GAN as a game on its probe batch: a thin layer over :mod:`analysis.probe_loss` and :mod:`analysis.game.analyse`.

Player 1 is the generator (parameters theta, loss ``L_G``), player 2 the discriminator
(phi, ``L_D``); both losses are :func:`analysis.probe_loss.gan_loss`'s, in its *joint* mode
(both closures share one pair of deterministic copies and are functions of both networks'
parameters: the D closure makes its fakes inside), so the game sees exactly the loss the
Hessian estimates see, for every loss variant: dropout off, BatchNorm on the probe batch's
statistics, fixed z, a conditional run's labels, WGAN-GP's penalty with fixed interpolates.

One caveat of the penalty: ``trainers.losses.gradient_penalty`` detaches the fakes, so the
penalty's dependence on G through the interpolates is not in ``d v_D / d theta`` (the critic's
own block, ``H_D``, has all of it).

- :func:`game_models`: the :class:`~analysis.game.operator.GameJacobian` of networks in memory;
- :func:`estimate_game_models` / :func:`estimate_game`: one estimate (networks in memory / a
  run's checkpoint);
- :func:`path_angle`: Berard et al.'s path angle between two checkpoints.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from analysis.game.analyse import GameResult, analyse_game
from analysis.game.operator import GameJacobian
from analysis.probe_loss import deterministic_copy, gan_loss, loss_options, run_probe, run_probe_labels
from landscape.errors import LandscapeError

#: ``analyse_game`` options (the rest of ``**options`` goes to the probe loss).
ANALYSE_OPTIONS = ("k", "which", "method", "tol", "blocks", "label_tol", "seed", "exact_max_params")


def game_models(generator: nn.Module, discriminator: nn.Module, probe_real: Any, probe_z: Any, *,
                callback: Callable[[int], None] | None = None, **loss: Any) -> GameJacobian:
    """The game of two networks on a probe batch (copies: the caller's weights are never touched).

    ``loss`` goes to :func:`analysis.probe_loss.gan_loss` (``loss=``, ``gp_weight=``, ``probe_labels=``,
    ``g_loss_fn=``, ``d_loss_parts_fn=``).
    """
    g, d = deterministic_copy(generator), deterministic_copy(discriminator)
    side_g = gan_loss(g, d, probe_real, probe_z, "g", joint=True, copy_modules=False, **loss)
    side_d = gan_loss(g, d, probe_real, probe_z, "d", joint=True, copy_modules=False, **loss)
    return GameJacobian(side_g.loss_fn, side_g.params, side_d.loss_fn, side_d.params, callback=callback)


def _split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    analyse = {key: options.pop(key) for key in list(options) if key in ANALYSE_OPTIONS}
    return analyse, options


def check_deterministic_game(op: GameJacobian, make: Callable[[], GameJacobian], seed: int = 0) -> float:
    """Two ``J^T u`` products from independently built graphs: their relative difference (one sentence if too big)."""
    from analysis.hessian.gan import DETERMINISM_EPS_UNITS

    u = torch.randn(op.n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    a = op.rmatvec(u).double()
    other = make()
    b = other.rmatvec(u).double()
    other.release()
    norm = float(torch.linalg.vector_norm(a))
    rel = float(torch.linalg.vector_norm(a - b)) / norm if norm > 0 else float(torch.linalg.vector_norm(a - b))
    limit = DETERMINISM_EPS_UNITS * float(torch.finfo(op.dtype).eps)
    if not np.isfinite(rel) or rel > limit:
        raise LandscapeError(f"The game Jacobian is not deterministic: two identical products differ by {rel:.2g} "
                             f"(relative, limit {limit:.1g}); remove random layers other than dropout.")
    return rel


def estimate_game_models(generator: nn.Module, discriminator: nn.Module, probe_real: Any, probe_z: Any, *,
                         step: int | None = None, check: bool = True,
                         on_product: Callable[[int], None] | None = None, **options: Any) -> GameResult:
    """One estimate of the game of two networks in memory on a probe batch (:func:`analyse_game`'s options:
    ``k``, ``which``, ``method``, ``tol``, ``blocks``, ``label_tol``, ``seed``; the rest: the probe loss's)."""
    start = time.perf_counter()
    analyse, loss = _split_options(dict(options))
    op = game_models(generator, discriminator, probe_real, probe_z, callback=on_product, **loss)
    if check:
        check_deterministic_game(op, lambda: game_models(generator, discriminator, probe_real, probe_z, **loss))
    result = analyse_game(op, step=step, **analyse)
    op.release()
    result.seconds = time.perf_counter() - start
    return result


def estimate_game(run: Any, step: int, *, device: str | torch.device = "cpu", **options: Any) -> GameResult:
    """One estimate of the game at the checkpoint ``step`` of a run (its probe batch, loss and labels)."""
    from landscape.reader import as_run
    from trainers.models import load_models

    run = as_run(run)
    real, z = run_probe(run)
    if "probe_labels" not in options:
        options["probe_labels"] = run_probe_labels(run)
    analyse, loss = _split_options(dict(options))
    g, d = load_models(run, int(step), device)
    return estimate_game_models(g, d, real, z, step=int(step), **analyse, **loss_options(run.config, options=loss))


# ---------------------------------------------------------------------- path angle
@dataclass
class PathAngle:
    """Berard et al.'s path angle: ``||v||`` and ``cos(v, w_B - w_A)`` along ``w_A + alpha (w_B - w_A)``."""

    alpha: np.ndarray
    v_norm: np.ndarray
    cosine: np.ndarray  # of the joint field
    cosine_1: np.ndarray  # of player 1's part (the generator's) with its part of the path
    cosine_2: np.ndarray  # of player 2's part (the discriminator's)
    step_a: int | None
    step_b: int | None
    distance: float  # ||w_B - w_A||


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    na, nb = float(torch.linalg.vector_norm(a)), float(torch.linalg.vector_norm(b))
    return float(torch.dot(a, b)) / (na * nb) if na > 0 and nb > 0 else float("nan")


def path_angle_models(g_a: nn.Module, d_a: nn.Module, g_b: nn.Module, d_b: nn.Module, probe_real: Any, probe_z: Any,
                      *, points: int = 100, alpha_range: tuple[float, float] = (-0.1, 1.1),
                      step_a: int | None = None, step_b: int | None = None, **loss: Any) -> PathAngle:
    """The game field along the straight line between two pairs of networks (A at alpha 0, B at 1).

    At each alpha the copies' parameters are set to ``w_A + alpha (w_B - w_A)`` and ``v`` is
    evaluated there (no second-order graph: one gradient of each player per point).
    """
    if points < 2:
        raise LandscapeError(f"--path-points must be at least 2, got {points}.")
    g, d = deterministic_copy(g_a), deterministic_copy(d_a)
    side_g = gan_loss(g, d, probe_real, probe_z, "g", joint=True, copy_modules=False, **loss)
    side_d = gan_loss(g, d, probe_real, probe_z, "d", joint=True, copy_modules=False, **loss)
    params = side_g.params + side_d.params
    named_b = dict(g_b.named_parameters()), dict(d_b.named_parameters())
    start = [p.detach().clone() for p in params]
    end = [named_b[0][n].detach().to(p) for n, p in zip(side_g.names, side_g.params)] + [
        named_b[1][n].detach().to(p) for n, p in zip(side_d.names, side_d.params)]
    direction = torch.cat([(b - a).reshape(-1) for a, b in zip(start, end)]).double()
    n1 = sum(p.numel() for p in side_g.params)
    alphas = np.linspace(alpha_range[0], alpha_range[1], int(points))
    norms, cos, cos1, cos2 = [], [], [], []
    for alpha in alphas:
        with torch.no_grad():
            for p, a, b in zip(params, start, end):
                p.copy_(a + float(alpha) * (b - a))
        gg = torch.autograd.grad(side_g.loss_fn(), side_g.params, allow_unused=True)
        gd = torch.autograd.grad(side_d.loss_fn(), side_d.params, allow_unused=True)
        v = torch.cat([(torch.zeros_like(p) if t is None else t).reshape(-1)
                       for t, p in zip(list(gg) + list(gd), params)]).double()
        norms.append(float(torch.linalg.vector_norm(v)))
        cos.append(_cos(v, direction))
        cos1.append(_cos(v[:n1], direction[:n1]))
        cos2.append(_cos(v[n1:], direction[n1:]))
    return PathAngle(alphas, np.asarray(norms), np.asarray(cos), np.asarray(cos1), np.asarray(cos2), step_a, step_b,
                     float(torch.linalg.vector_norm(direction)))


def path_angle(run: Any, step_a: int, step_b: int, *, points: int = 100, device: str | torch.device = "cpu",
               alpha_range: tuple[float, float] = (-0.1, 1.1), **options: Any) -> PathAngle:
    """Berard et al.'s path angle between the checkpoints ``step_a`` and ``step_b`` of a run, on its probe batch."""
    from landscape.reader import as_run
    from trainers.models import load_models

    run = as_run(run)
    real, z = run_probe(run)
    if "probe_labels" not in options:
        options["probe_labels"] = run_probe_labels(run)
    g_a, d_a = load_models(run, int(step_a), device)
    g_b, d_b = load_models(run, int(step_b), device)
    return path_angle_models(g_a, d_a, g_b, d_b, real, z, points=points, alpha_range=alpha_range, step_a=int(step_a),
                             step_b=int(step_b), **loss_options(run.config, options=options))


__all__ = ["PathAngle", "check_deterministic_game", "estimate_game", "estimate_game_models", "game_models",
           "path_angle", "path_angle_models"]
