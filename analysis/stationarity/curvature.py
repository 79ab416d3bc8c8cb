"""Curvature at the checkpoints: the Hessian helper's class and the gradient-flatness ratio.

Where a run holds Hessian estimates (``run.hessian()``, one row per step x
network), each becomes a row: the curvature class (convex, concave, saddle,
singular/flat) and the extreme eigenvalues as stored, plus the gradient-flatness
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

COLUMNS = ["run", "network", "step", "stage", "curvature_class", "lambda_min", "lambda_max", "hessian_norm",
           "grad_norm", "hg_norm", "flatness", "flatness_source"]

_CLASS_KEYS = ("curvature_class", "classification", "class", "curvature", "label")
_MAX_KEYS = ("lambda_max", "max_eigenvalue", "top_eigenvalue", "eig_max", "largest")
_MIN_KEYS = ("lambda_min", "min_eigenvalue", "bottom_eigenvalue", "eig_min", "smallest")
_HG_KEYS = ("hg_norm", "hessian_grad_norm", "hvp_grad_norm", "norm_hg")
_G_KEYS = ("grad_norm", "gradient_norm", "probe_grad_norm", "g_norm")
_EIG_ARRAYS = ("eigenvalues", "values", "top", "bottom", "largest", "smallest")


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


def _compute_hg(run: Any, step: int, network: str) -> tuple[float, float] | None:
    """(||g||, ||H g||) at a checkpoint on the probe batch, via analysis.hessian, or None if it offers no way."""
    try:
        from analysis.hessian import gradient_and_hvp  # provided by the Hessian helper, if at all
    except ImportError:
        return None
    g, hg = gradient_and_hvp(run, step, network)
    return float(np.linalg.norm(g)), float(np.linalg.norm(hg))


def _stage_at(stage_of: pd.Series, step: int) -> Any:
    """The stage of ``step``, or of the last iteration before it (a checkpoint may follow the last iteration)."""
    if stage_of.empty:
        return pd.NA
    pos = int(np.clip(stage_of.index.searchsorted(step, side="right") - 1, 0, len(stage_of) - 1))
    return int(stage_of.iloc[pos])


def curvature_table(runs: list, tidy: pd.DataFrame, *, compute_missing: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """One row per stored Hessian estimate of the runs, and notes on what could not be given."""
    rows, notes = [], []
    uncomputed = 0
    for run in runs:
        estimates = run.hessian()
        if estimates.empty:
            continue
        stage_of = tidy[tidy["run"] == run.name].drop_duplicates("step").set_index("step")["stage"].sort_index()
        for row in estimates.to_dict("records"):
            step, network = int(row["step"]), str(row["network"])
            lo, hi = _extremes(run, row)
            h_norm = max(abs(lo), abs(hi)) if math.isfinite(lo) and math.isfinite(hi) else math.nan
            g_norm, hg_norm = _float(_first(row, _G_KEYS)), _float(_first(row, _HG_KEYS))
            source = "stored"
            if not (math.isfinite(g_norm) and math.isfinite(hg_norm)):
                computed = _compute_hg(run, step, network) if compute_missing else None
                if computed is None:
                    source, uncomputed = "unavailable", uncomputed + 1
                else:
                    (g_norm, hg_norm), source = computed, "computed"
            flat = hg_norm / (h_norm * g_norm) if source != "unavailable" and h_norm > 0 and g_norm > 0 else math.nan
            rows.append({"run": run.name, "network": network, "step": step,
                         "stage": _stage_at(stage_of, step),
                         "curvature_class": _first(row, _CLASS_KEYS) or "unknown", "lambda_min": lo,
                         "lambda_max": hi, "hessian_norm": h_norm, "grad_norm": g_norm, "hg_norm": hg_norm,
                         "flatness": flat, "flatness_source": source})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["stage"] = frame["stage"].astype("Int64")
    if runs and frame.empty:
        notes.append("No Hessian estimates in the run file(s): run `landscape hessian RUN.h5` to add curvature.")
    if uncomputed:
        notes.append(f"{uncomputed} Hessian estimate(s) carry no ||Hg|| and it could not be computed here, so only "
                     "their curvature class is reported (gradient-flatness ratio left blank).")
    return frame, notes
