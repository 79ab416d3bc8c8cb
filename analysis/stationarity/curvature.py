"""Curvature at the checkpoints: the Hessian helper's class and the gradient-flatness ratio.

Where a run holds Hessian estimates (``run.hessian()``, one row per step x
network, as ``analysis.hessian`` stores them), each becomes a row: the curvature
class (convex, concave, saddle, singular, flat; with the sign-only class beside
it) and the extreme eigenvalues as stored, plus the gradient-flatness
ratio ``||H g|| / (||H|| ||g||)`` with ``||H||`` the largest |eigenvalue|. The
ratio is in [0, 1]: near 0 the gradient lies in directions the Hessian barely
bends (a gradient-flat region, where a small gradient does not mean a stationary
point), near 1 it points along the sharpest curvature.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
import pandas as pd

from landscape.networks import NETWORKS

COLUMNS = ["run", "network", "step", "stage", "curvature_class", "sign_class", "lambda_min", "lambda_max", "hessian_norm",
           "grad_norm", "hg_norm", "flatness", "flatness_source"]

# Names in /hessian/<step>/<network> as analysis.hessian.to_record writes them (record_version 1);
# grad_norm and hg_norm are used when an estimate carries them, else computed from the checkpoint.
_CLASS_KEYS = ("classification", "curvature")
_MAX_KEYS = ("lambda_max",)
_MIN_KEYS = ("lambda_min",)
_HG_KEYS = ("hg_norm",)
_G_KEYS = ("grad_norm",)
_EIG_ARRAYS = ("values", "spectrum")


def _first(row: dict[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        value = row.get(key)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            return value
    return None


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _extremes(run: Any, row: dict[str, Any]) -> tuple[float, float]:
    """(lambda_min, lambda_max) from the stored attributes, else from the stored eigenvalue arrays."""
    lo, hi = _float(_first(row, _MIN_KEYS)), _float(_first(row, _MAX_KEYS))
    if math.isfinite(lo) and math.isfinite(hi):
        return lo, hi
    try:
        arrays = run.hessian_arrays(int(row["step"]), str(row["network"]))
    except Exception:  # noqa: BLE001 - a damaged or partial estimate leaves the extremes unknown
        return lo, hi
    values = [np.ravel(np.asarray(arrays[k], dtype=np.float64)) for k in _EIG_ARRAYS if k in arrays]
    values = np.concatenate(values) if values else np.zeros(0)
    values = values[np.isfinite(values)]
    if len(values):
        lo = lo if math.isfinite(lo) else float(values.min())
        hi = hi if math.isfinite(hi) else float(values.max())
    return lo, hi


def gradient_and_hessian_gradient(run: Any, step: int, network: str) -> tuple[float, float]:
    """(||g||, ||H g||) of ``network``'s loss at checkpoint ``step`` on the run's probe batch.

    The same deterministic loss the Hessian estimates use (:mod:`analysis.probe_loss`:
    networks rebuilt from the checkpoint, dropout off, BatchNorm on the probe
    batch's statistics), so the ratio refers to the Hessian whose eigenvalues are
    stored. Costs one gradient and one Hessian-vector product.
    """
    from analysis.hessian import HessianVectorProduct
    from analysis.probe_loss import run_loss
    from landscape.errors import LandscapeError
    from trainers.models import load_models

    if run.probe() is None:
        raise LandscapeError(f"{run.path} has no probe batch, so ||Hg|| cannot be computed.")
    generator, discriminator = load_models(run, step)
    loss = run_loss(generator, discriminator, run, network)
    hvp = HessianVectorProduct(loss.loss_fn, loss.params)
    grad = hvp.gradient()
    hg = hvp(grad)
    hvp.release()
    return float(grad.double().norm()), float(hg.double().norm())


def _compute_hg(run: Any, step: int, network: str) -> tuple[tuple[float, float] | None, str | None]:
    """(||g||, ||Hg||) or None, and why not."""
    from landscape.errors import LandscapeError

    if step not in getattr(run, "checkpoint_steps", []):
        return None, f"no checkpoint at step {step}"
    try:
        return gradient_and_hessian_gradient(run, step, network), None
    except LandscapeError as err:
        return None, str(err)


def curvature_table(runs: list, stages: int, *, compute_missing: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """One row per stored Hessian estimate of the runs, and notes on what could not be given.

    ||g|| and ||Hg|| come from the estimate's attributes (``grad_norm``,
    ``hg_norm``) when stored; otherwise, with ``compute_missing``, from the
    checkpoint through :func:`gradient_and_hessian_gradient`.
    """
    rows, notes, missing = [], [], []
    for run in runs:
        estimates = run.hessian()
        if estimates.empty:
            continue
        stage_of = dict(zip(estimates["step"], run.stage_of(estimates["step"], stages))) if run.n_iterations else {}
        for row in estimates.to_dict("records"):
            step, network = int(row["step"]), str(row["network"])
            lo, hi = _extremes(run, row)
            h_norm = max(abs(lo), abs(hi)) if math.isfinite(lo) and math.isfinite(hi) else math.nan
            g_norm, hg_norm = _float(_first(row, _G_KEYS)), _float(_first(row, _HG_KEYS))
            source = "stored"
            if not (math.isfinite(g_norm) and math.isfinite(hg_norm)):
                computed, why = _compute_hg(run, step, network) if compute_missing else (None, "not asked for")
                if computed is None:
                    source = "unavailable"
                    missing.append(f"{run.name} step {step} {network}: {why}")
                else:
                    (g_norm, hg_norm), source = computed, "computed"
            flat = hg_norm / (h_norm * g_norm) if source != "unavailable" and h_norm > 0 and g_norm > 0 else math.nan
            rows.append({"run": run.name, "network": network, "step": step, "stage": stage_of.get(step, pd.NA),
                         "curvature_class": _first(row, _CLASS_KEYS) or "unknown",
                         "sign_class": row.get("curvature") if "classification" in row else None,
                         "lambda_min": lo, "lambda_max": hi, "hessian_norm": h_norm, "grad_norm": g_norm,
                         "hg_norm": hg_norm, "flatness": flat, "flatness_source": source})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if not frame.empty:
        order = {net: i for i, net in enumerate(NETWORKS)}
        runs_order = {run.name: i for i, run in enumerate(runs)}
        key = [(runs_order[r], s, order.get(n, 99)) for r, s, n in zip(frame["run"], frame["step"], frame["network"])]
        frame = frame.iloc[sorted(range(len(frame)), key=key.__getitem__)].reset_index(drop=True)
    frame["stage"] = frame["stage"].astype("Int64")
    if runs and frame.empty:
        notes.append("No Hessian estimates in the run file(s): run `landscape hessian RUN.h5` to add curvature.")
    if not frame.empty:
        notes.append("Curvature: the Hessian estimates' class (sign class in brackets where it differs) and the "
                     "gradient-flatness ratio ||Hg|| / (||H|| ||g||), ||H|| = max |eigenvalue|, g = the loss "
                     "gradient on the probe batch at the checkpoint: near 0 the gradient lies in flat directions "
                     "(a gradient-flat region), near 1 along the sharpest curvature.")
    if missing:
        notes.append(f"{len(missing)} Hessian estimate(s) have no ||Hg||, so only their curvature class is "
                     f"reported ({'; '.join(missing[:3])}{'; ...' if len(missing) > 3 else ''}).")
    return frame, notes
