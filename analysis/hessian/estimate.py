"""One Hessian estimate of one network: :func:`estimate` (a run's checkpoint) and :func:`estimate_models`.

:func:`estimate` takes a run (or a path to one) and a checkpoint step, rebuilds the
networks from the run's config (``trainers.models.load_models``) and uses the
run's probe batch and loss (``loss``, ``gp_weight``, a conditional run's probe
labels); :func:`estimate_models` does the same for networks in memory (the
training loop's hook calls it). Both return a :class:`HessianResult`, built
by :func:`analyse` from any Hessian-vector product. Storing results in a run file
is :mod:`analysis.hessian.storage`'s job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from analysis.hessian.classify import Classification, curvature_class
from analysis.hessian.density import SpectralDensity, exact_density, slq_density
from analysis.hessian.eigen import EXACT_MAX_PARAMS, EigenResult, extreme_eigenvalues
from analysis.hessian.gan import check_deterministic
from analysis.hessian.hvp import HessianVectorProduct
from analysis.hessian.trace import TraceEstimate, estimate_trace
from analysis.probe_loss import gan_loss, loss_options, run_probe, run_probe_labels
from landscape.errors import LandscapeError
from landscape.networks import label

@dataclass
class HessianResult:
    """Everything estimated about one network's Hessian at one step."""

    network: str
    step: int | None
    n_params: int
    eigen: EigenResult  # extreme eigenvalues (eigen.lambda_min, eigen.lambda_max), residuals, method
    trace: TraceEstimate | None  # trace.value, trace.stderr; None when skipped
    density: SpectralDensity | None
    classification: Classification
    n_hvp: int
    seconds: float
    loss: float
    probe_size: int
    determinism_diff: float | None
    grad_norm: float = float("nan")  # ||g|| of the loss at these weights
    hg_norm: float = float("nan")  # ||H g||: with grad_norm, how much curvature the gradient direction sees


def analyse(
    hvp: HessianVectorProduct,
    *,
    network: str = "",
    step: int | None = None,
    k: int = 5,
    method: str = "auto",
    tol: float = 1e-4,
    exact_max_params: int = EXACT_MAX_PARAMS,
    trace_products: int = 30,
    density_vectors: int = 4,
    density_steps: int = 40,
    class_tol: float = 1e-3,
    dominance: float = 0.5,
    seed: int = 0,
    probe_size: int = 0,
    determinism_diff: float | None = None,
    keep_vectors: bool = False,
) -> HessianResult:
    """Extreme eigenvalues, trace, density and classification of any Hessian behind ``hvp``.

    In exact mode (``method="exact"``, or ``"auto"`` with at most ``exact_max_params``
    parameters) the trace and density come from the full spectrum; otherwise from
    Hutch++ (``trace_products`` products, 0 to skip) and SLQ (``density_vectors`` x
    ``density_steps`` products, 0 vectors to skip). The eigenvectors (2k vectors of
    the network's size) are dropped unless ``keep_vectors``.
    """
    start = time.perf_counter()
    before = hvp.n_products
    eig = extreme_eigenvalues(hvp, k, method=method, tol=tol, seed=seed, exact_max_params=exact_max_params)
    if not keep_vectors:
        eig.vectors = None
    if eig.spectrum is not None:
        spectrum = eig.spectrum
        trace = TraceEstimate(float(spectrum.sum()), 0.0, 0, "exact")
        density = exact_density(spectrum)
    else:
        trace = estimate_trace(hvp, trace_products, seed=seed + 1) if trace_products > 0 else None
        density = slq_density(hvp, n_vectors=density_vectors, steps=density_steps, seed=seed + 2) if density_vectors > 0 else None
    scale = max(abs(eig.lambda_min), abs(eig.lambda_max))
    near_zero = None if density is None else density.mass_within(class_tol * scale)
    label = curvature_class(eig.lambda_min, eig.lambda_max, near_zero_fraction=near_zero, tol_rel=class_tol,
                            dominance=dominance)
    loss = hvp.loss()
    grad = hvp.gradient()
    hg = hvp(grad)
    return HessianResult(
        network=network,
        step=step,
        n_params=hvp.n,
        eigen=eig,
        trace=trace,
        density=density,
        classification=label,
        n_hvp=hvp.n_products - before,
        seconds=time.perf_counter() - start,
        loss=loss,
        probe_size=probe_size,
        determinism_diff=determinism_diff,
        grad_norm=float(torch.linalg.vector_norm(grad.double())),
        hg_norm=float(torch.linalg.vector_norm(hg.double())),
    )


def estimate_models(
    generator: nn.Module,
    discriminator: nn.Module,
    probe_real: torch.Tensor | np.ndarray,
    probe_z: torch.Tensor | np.ndarray,
    network: str,
    k: int = 5,
    *,
    step: int | None = None,
    check: bool = True,
    g_loss_fn: Callable | None = None,
    d_loss_parts_fn: Callable | None = None,
    loss: str = "ns",
    gp_weight: float | None = None,
    probe_labels: torch.Tensor | np.ndarray | None = None,
    on_product: Callable[[int], None] | None = None,
    **options: Any,
) -> HessianResult:
    """The Hessian estimate of ``network`` ("g" or "d") for networks in memory, on a probe batch.

    The networks are copied (their weights, buffers and gradients are never
    touched), so a training loop can call this between iterations. ``check``
    verifies determinism first (two products from fresh graphs must agree); the
    loss is ``loss`` (a ``TrainConfig.loss``, with ``gp_weight`` for wgan-gp, whose
    critic Hessian includes the gradient penalty) from ``trainers.losses``, unless
    ``g_loss_fn`` / ``d_loss_parts_fn`` override it; ``probe_labels`` are a
    conditional GAN's probe classes (see :func:`gan_loss`, which also says what the
    Hessian is of under label smoothing and unrolling);
    ``options`` go to :func:`analyse` (``method``, ``tol``, ``trace_products``, ...);
    ``on_product(n)`` is called after every Hessian-vector product (progress bars).
    """
    start = time.perf_counter()
    closure = gan_loss(
        generator, discriminator, probe_real, probe_z, network, g_loss_fn=g_loss_fn, d_loss_parts_fn=d_loss_parts_fn,
        loss=loss, gp_weight=gp_weight, probe_labels=probe_labels,
    )
    hvp = HessianVectorProduct(closure.loss_fn, closure.params, callback=on_product)
    diff = None
    if check:
        what = f"the {label(network)} loss"
        diff = check_deterministic(closure.loss_fn, closure.params, what=what, hvp=hvp)
    checked = hvp.n_products + (1 if check else 0)  # the check's product on a second, fresh graph
    result = analyse(hvp, network=network, step=step, k=k, probe_size=closure.probe_size, determinism_diff=diff, **options)
    hvp.release()
    result.n_hvp += checked
    result.seconds = time.perf_counter() - start
    return result


def estimate(
    run: Any,
    step: int,
    network: str,
    k: int = 5,
    *,
    probe: tuple[Any, Any] | None = None,
    device: str | torch.device = "cpu",
    **options: Any,
) -> HessianResult:
    """The Hessian estimate of ``network`` ("g" or "d") at the checkpoint ``step`` of a run.

    ``run`` is a :class:`~landscape.reader.Run` or the path of a run file; the
    networks are rebuilt from its config and checkpoint, and its probe batch is
    used unless ``probe=(real, z)`` is given. The loss is the run's: ``loss`` and
    ``gp_weight`` from its config (a run file older than the loss variants has no
    ``loss``: "ns"), and a conditional run's probe classes (``Run.probe_labels()``)
    go to both networks; ``loss=``, ``gp_weight=`` or ``probe_labels=`` in
    ``options`` replace the run's (give ``probe_labels`` with a ``probe`` of another
    size). ``options`` go to :func:`estimate_models`.
    """
    from landscape.reader import as_run
    from trainers.models import load_models

    run = as_run(run)
    real, z = probe if probe is not None else run_probe(run)
    if "probe_labels" not in options:
        options["probe_labels"] = run_probe_labels(run)
    options = loss_options(run.config, options=options)
    g, d = load_models(run, int(step), device)
    return estimate_models(g, d, real, z, network, k, step=int(step), **options)


#: The run's probe batch, checked (:func:`analysis.probe_loss.run_probe`; the name this module always had).
require_probe = run_probe
