"""One Hessian estimate of one network at one checkpoint, and its storage in a run file.

:func:`estimate` takes a run (or a path to one) and a checkpoint step, rebuilds the
networks from the run's config through ``trainers.models`` and uses the run's
probe batch; :func:`estimate_models` does the same for networks in memory (the
training loop calls it). Both return a :class:`HessianResult`;
:func:`to_record` turns it into the ``(arrays, attrs)`` that
``RunWriter.add_hessian`` / ``landscape.writer.append_hessian`` store under
``/hessian/<step>/<network>``, and :func:`from_record` / :func:`load_estimate`
read it back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from analysis.hessian.classify import Classification, classify
from analysis.hessian.density import SpectralDensity, exact_density, slq_density
from analysis.hessian.eigen import EXACT_MAX_PARAMS, EigenResult, extreme_eigenvalues
from analysis.hessian.gan import check_deterministic, gan_loss
from analysis.hessian.hvp import HessianVectorProduct
from analysis.hessian.trace import TraceEstimate, estimate_trace
from landscape.errors import LandscapeError

#: Version of the stored layout under /hessian/<step>/<network>.
RECORD_VERSION = 1


@dataclass
class HessianResult:
    """Everything estimated about one network's Hessian at one step."""

    network: str
    step: int | None
    n_params: int
    eigen: EigenResult
    trace_estimate: TraceEstimate | None
    density: SpectralDensity | None
    classification: Classification
    n_hvp: int
    seconds: float
    loss: float
    probe_size: int
    determinism_diff: float | None
    grad_norm: float = float("nan")  # ||g|| of the loss at these weights
    hg_norm: float = float("nan")  # ||H g||: with grad_norm, how much curvature the gradient direction sees

    # flat accessors (the names stored in the run file)
    @property
    def values(self) -> np.ndarray:
        """The k smallest then the k largest algebraic eigenvalues, ascending."""
        return self.eigen.values

    @property
    def residuals(self) -> np.ndarray:
        return self.eigen.residuals

    @property
    def converged(self) -> np.ndarray:
        return self.eigen.converged

    @property
    def method(self) -> str:
        return self.eigen.method

    @property
    def tolerance(self) -> float:
        return self.eigen.tol

    @property
    def lambda_min(self) -> float:
        return self.eigen.lambda_min

    @property
    def lambda_max(self) -> float:
        return self.eigen.lambda_max

    @property
    def trace(self) -> float:
        return float("nan") if self.trace_estimate is None else self.trace_estimate.value

    @property
    def trace_stderr(self) -> float:
        return float("nan") if self.trace_estimate is None else self.trace_estimate.stderr

    @property
    def density_grid(self) -> np.ndarray | None:
        return None if self.density is None else self.density.grid

    @property
    def density_values(self) -> np.ndarray | None:
        return None if self.density is None else self.density.values


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
    label = classify(eig.lambda_min, eig.lambda_max, near_zero_fraction=near_zero, tol_rel=class_tol, dominance=dominance)
    loss = hvp.loss()
    grad = hvp.gradient()
    hg = hvp(grad)
    return HessianResult(
        network=network,
        step=step,
        n_params=hvp.n,
        eigen=eig,
        trace_estimate=trace,
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
    on_product: Callable[[int], None] | None = None,
    **options: Any,
) -> HessianResult:
    """The Hessian estimate of ``network`` ("g" or "d") for networks in memory, on a probe batch.

    The networks are copied (their weights, buffers and gradients are never
    touched), so a training loop can call this between iterations. ``check``
    verifies determinism first (two products from fresh graphs must agree); the
    loss functions default to ``trainers.losses`` (see :func:`gan_loss`);
    ``options`` go to :func:`analyse` (``method``, ``tol``, ``trace_products``, ...);
    ``on_product(n)`` is called after every Hessian-vector product (progress bars).
    """
    start = time.perf_counter()
    closure = gan_loss(
        generator, discriminator, probe_real, probe_z, network, g_loss_fn=g_loss_fn, d_loss_parts_fn=d_loss_parts_fn
    )
    hvp = HessianVectorProduct(closure.loss_fn, closure.params, callback=on_product)
    diff = None
    if check:
        what = f"the {'generator' if network == 'g' else 'discriminator'} loss"
        diff = check_deterministic(closure.loss_fn, closure.params, what=what, hvp=hvp)
    checked = hvp.n_products + (1 if check else 0)  # the check's product on a second, fresh graph
    result = analyse(hvp, network=network, step=step, k=k, probe_size=closure.probe_size, determinism_diff=diff, **options)
    hvp.release()
    result.n_hvp += checked
    result.seconds = time.perf_counter() - start
    return result


def _as_run(run: Any):
    from landscape.reader import Run, open_run

    if isinstance(run, Run):
        return run
    if isinstance(run, (str, os.PathLike)):
        return open_run(run)
    return None


def load_models(run: Any, step: int, device: str | torch.device = "cpu") -> tuple[nn.Module, nn.Module]:
    """The (generator, discriminator) of ``run`` with the weights of its checkpoint at ``step``."""
    from trainers.models import build_models, load_weights

    run = _as_run(run)
    g, d = build_models(run.config)
    load_weights(g, run.checkpoint(step, "g"))
    load_weights(d, run.checkpoint(step, "d"))
    return g.to(device), d.to(device)


def estimate(
    run_or_models: Any,
    step: int | None,
    network: str,
    k: int = 5,
    *,
    probe: tuple[Any, Any] | None = None,
    device: str | torch.device = "cpu",
    **options: Any,
) -> HessianResult:
    """The Hessian estimate of ``network`` at checkpoint ``step``.

    ``run_or_models`` is a run (``landscape.open_run``), a path to a run file, or a
    ``(generator, discriminator)`` pair; for a pair pass ``probe=(real, z)``
    (``step`` is then only a label). With a run the networks are rebuilt from its
    config and checkpoint and the run's probe batch is used.
    """
    run = _as_run(run_or_models)
    if run is not None:
        if step is None:
            raise LandscapeError(f"Give a checkpoint step of {run.path}; stored steps: {run.checkpoint_steps}.")
        stored = run.probe()
        if stored is None:
            raise LandscapeError(f"{run.path} has no probe batch, so its Hessian cannot be estimated; record it again.")
        g, d = load_models(run, int(step), device)
        real, z = stored if probe is None else probe
    else:
        try:
            g, d = run_or_models
        except (TypeError, ValueError):
            raise LandscapeError("Pass a run, a run-file path or a (generator, discriminator) pair.") from None
        if probe is None:
            raise LandscapeError("Pass probe=(real_images, z) with a (generator, discriminator) pair.")
        real, z = probe
    return estimate_models(g, d, real, z, network, k, step=None if step is None else int(step), **options)


# ---------------------------------------------------------------------------- storage
def to_record(result: HessianResult) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, attrs)`` for ``RunWriter.add_hessian(step, network, arrays, attrs)``."""
    eig, cls = result.eigen, result.classification
    arrays: dict[str, np.ndarray] = {
        "values": np.asarray(eig.values, dtype=np.float64),
        "residuals": np.asarray(eig.residuals, dtype=np.float64),
        "converged": np.asarray(eig.converged, dtype=bool),
    }
    if eig.spectrum is not None:
        arrays["spectrum"] = np.asarray(eig.spectrum, dtype=np.float64)
    if result.density is not None:
        arrays["density_grid"] = result.density.grid
        arrays["density_values"] = result.density.values
        arrays["density_nodes"] = result.density.nodes
        arrays["density_weights"] = result.density.weights
    tr = result.trace_estimate
    attrs: dict[str, Any] = {
        "record_version": RECORD_VERSION,
        "method": eig.method,
        "k": int(eig.k),
        "tolerance": float(eig.tol),
        "scale": float(eig.scale),
        "n_hvp": int(result.n_hvp),
        "n_params": int(result.n_params),
        "lambda_min": result.lambda_min,
        "lambda_max": result.lambda_max,
        "all_converged": bool(eig.all_converged),
        "max_residual": float(np.max(eig.residuals)) if len(eig.residuals) else 0.0,
        "trace": result.trace,
        "trace_stderr": result.trace_stderr,
        "trace_method": "none" if tr is None else tr.method,
        "classification": cls.label,
        "curvature": cls.curvature,
        "class_tol": float(cls.tol),
        "class_tol_rel": float(cls.tol_rel),
        "class_dominance": float(cls.dominance),
        "near_zero_fraction": float("nan") if cls.near_zero_fraction is None else float(cls.near_zero_fraction),
        "density_method": "none" if result.density is None else result.density.method,
        "density_sigma": float("nan") if result.density is None else float(result.density.sigma),
        "loss": float(result.loss),
        "grad_norm": float(result.grad_norm),
        "hg_norm": float(result.hg_norm),
        "probe_size": int(result.probe_size),
        "determinism_diff": float("nan") if result.determinism_diff is None else float(result.determinism_diff),
        "seconds": float(result.seconds),
    }
    return arrays, attrs


def from_record(arrays: dict[str, np.ndarray], attrs: dict[str, Any], step: int | None, network: str) -> HessianResult:
    """Rebuild a :class:`HessianResult` from what :func:`to_record` stored (vectors are not stored)."""
    values = np.asarray(arrays["values"], dtype=np.float64)
    eig = EigenResult(
        values=values,
        residuals=np.asarray(arrays["residuals"], dtype=np.float64),
        converged=np.asarray(arrays["converged"], dtype=bool),
        k=int(attrs["k"]),
        method=str(attrs["method"]),
        tol=float(attrs["tolerance"]),
        scale=float(attrs["scale"]),
        n_products=int(attrs["n_hvp"]),
        spectrum=arrays.get("spectrum"),
    )
    tr = None
    if attrs.get("trace_method", "none") != "none":
        tr = TraceEstimate(float(attrs["trace"]), float(attrs["trace_stderr"]), 0, str(attrs["trace_method"]))
    density = None
    if "density_grid" in arrays:
        density = SpectralDensity(
            arrays["density_grid"], arrays["density_values"], arrays["density_nodes"], arrays["density_weights"],
            float(attrs["density_sigma"]), 0, str(attrs.get("density_method", "slq")),
        )
    nz = attrs.get("near_zero_fraction")
    nz = None if nz is None or (isinstance(nz, float) and np.isnan(nz)) else float(nz)
    cls = Classification(
        str(attrs["classification"]), str(attrs["curvature"]), float(attrs["class_tol"]),
        float(attrs["class_tol_rel"]), float(eig.scale), nz, float(attrs.get("class_dominance", 0.5)),
    )
    det = attrs.get("determinism_diff")
    det = None if det is None or (isinstance(det, float) and np.isnan(det)) else float(det)
    return HessianResult(
        network=network, step=step, n_params=int(attrs["n_params"]), eigen=eig, trace_estimate=tr, density=density,
        classification=cls, n_hvp=int(attrs["n_hvp"]), seconds=float(attrs["seconds"]), loss=float(attrs["loss"]),
        probe_size=int(attrs["probe_size"]), determinism_diff=det,
        grad_norm=float(attrs.get("grad_norm", float("nan"))), hg_norm=float(attrs.get("hg_norm", float("nan"))),
    )


def store(result: HessianResult, target: Any, step: int | None = None) -> None:
    """Write ``result`` into a run: ``target`` is an open ``RunWriter`` or the path of a closed run file.

    A path is written atomically through ``landscape.writer.append_hessian``.
    """
    step = result.step if step is None else step
    if step is None:
        raise LandscapeError("A Hessian estimate needs a step to be stored; pass step=.")
    arrays, attrs = to_record(result)
    if hasattr(target, "add_hessian"):
        target.add_hessian(int(step), result.network, arrays, attrs)
        return
    from landscape.writer import append_hessian

    append_hessian(target, int(step), result.network, arrays, attrs)


def estimate_and_record(
    writer: Any,
    generator: nn.Module,
    discriminator: nn.Module,
    probe_real: torch.Tensor | np.ndarray,
    probe_z: torch.Tensor | np.ndarray,
    step: int,
    networks: tuple[str, ...] = ("g", "d"),
    k: int = 5,
    **options: Any,
) -> list[HessianResult]:
    """Estimate each network's Hessian and store it in an open ``RunWriter``: the training loop's hook.

    Call between iterations (e.g. at the stage boundaries or every N steps); the
    networks are copied, so training is unaffected. ``options`` go to
    :func:`estimate_models` / :func:`analyse`.
    """
    results = []
    for network in networks:
        result = estimate_models(generator, discriminator, probe_real, probe_z, network, k, step=step, **options)
        store(result, writer, step)
        results.append(result)
    return results


def load_estimate(run: Any, step: int, network: str) -> HessianResult:
    """Read one stored estimate back from a run (or a run-file path)."""
    run = _as_run(run)
    row = run.hessian()
    row = row[(row["step"] == step) & (row["network"] == network)]
    if row.empty:
        raise LandscapeError(f"{run.path} has no Hessian estimate of network {network!r} at step {step}.")
    attrs = {k: v for k, v in row.iloc[0].to_dict().items() if k not in ("step", "network")}
    return from_record(run.hessian_arrays(step, network), attrs, step, network)


def read_estimates(run: Any, stages: int = 5) -> "pd.DataFrame":  # noqa: F821
    """The stored estimates of a run, one row per (step, network), with a ``stage`` column.

    The stage of an estimate at step ``s`` is the stage of iteration ``s`` (the
    weights it starts from; the final checkpoint counts in the last stage), with the
    run's iterations split into ``stages`` equal parts as in the LGC; the
    stationarity report assigns them the same way.
    """
    from landscape.stages import assign_stages

    run = _as_run(run)
    frame = run.hessian()
    if frame.empty:
        frame["stage"] = []
        return frame
    n_iter = len(run.metrics)
    if n_iter:
        st = assign_stages(n_iter, stages)
        steps = run.metrics["step"].to_numpy()
        idx = np.clip(np.searchsorted(steps, frame["step"].to_numpy(), side="right") - 1, 0, n_iter - 1)
        frame["stage"] = st[idx]
    else:
        frame["stage"] = 1
    frame.insert(0, "run", run.name)
    return frame.sort_values(["network", "step"]).reset_index(drop=True)
