"""Per-network, per-stage summaries of loss and gradient norm, and near-stationary counts.

Both functions take the normalised tidy frame of :func:`analysis.stationarity.frames.prepare_tidy`
(columns run, network, stage, stage_label, step, loss, grad_norm) and return one
row per (run, network, stage) plus a whole-run row per (run, network) whose
``stage`` is missing (<NA>) and whose ``stage_label`` is "all".
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd

from analysis.stationarity.frames import iter_parts, stage_table

#: Default absolute gradient-norm threshold for a near-stationary iteration.
ABSOLUTE_THRESHOLD = 1e-2
#: Default threshold relative to the first stage's median gradient norm.
RELATIVE_THRESHOLD = 0.1


def _min_at(values: pd.Series, steps: pd.Series) -> tuple[float, float]:
    finite = values[np.isfinite(values.to_numpy(dtype=np.float64))]
    if finite.empty:
        return math.nan, math.nan
    at = finite.idxmin()
    return float(finite[at]), float(steps[at])


def _describe(prefix: str, values: pd.Series, steps: pd.Series) -> dict[str, float]:
    v = values.to_numpy(dtype=np.float64)
    v = v[np.isfinite(v)]
    q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75]) if len(v) else (math.nan,) * 3
    low, at = _min_at(values, steps)
    return {f"{prefix}_median": float(med), f"{prefix}_q1": float(q1), f"{prefix}_q3": float(q3),
            f"{prefix}_min": low, f"{prefix}_min_step": at}


def _table(tidy: pd.DataFrame, row: Callable[[pd.DataFrame, pd.DataFrame], dict]) -> pd.DataFrame:
    rows = []
    for run, network, series, parts in iter_parts(tidy):
        for stage, label, part in parts:
            rows.append({"run": run, "network": network, "stage": stage, "stage_label": label,
                         "iterations": len(part), "first_step": int(part["step"].iloc[0]),
                         "last_step": int(part["step"].iloc[-1]), **row(part, series)})
    return stage_table(rows)


def summarize(tidy: pd.DataFrame) -> pd.DataFrame:
    """Median, quartiles and minimum (with the step where it occurs) of loss and gradient norm."""

    def row(part: pd.DataFrame, _series: pd.DataFrame) -> dict:
        return {**_describe("grad_norm", part["grad_norm"], part["step"]),
                **_describe("loss", part["loss"], part["step"])}

    frame = _table(tidy, row)
    for col in ("grad_norm_min_step", "loss_min_step"):
        if col in frame:
            frame[col] = frame[col].astype("Int64")
    return frame


def first_stage_median(series: pd.DataFrame) -> float:
    """Median gradient norm of the first stage of one (run, network) series."""
    first = series[series["stage"] == series["stage"].min()]["grad_norm"].to_numpy(dtype=np.float64)
    first = first[np.isfinite(first)]
    return float(np.median(first)) if len(first) else math.nan


def near_stationary(
    tidy: pd.DataFrame,
    absolute: float = ABSOLUTE_THRESHOLD,
    relative: float = RELATIVE_THRESHOLD,
) -> pd.DataFrame:
    """Count and fraction of iterations whose gradient norm is below each threshold.

    ``absolute`` is a gradient norm; ``relative`` multiplies the first stage's
    median gradient norm of the same network (so the relative threshold, stated in
    the ``relative_threshold`` column, differs per network).
    """

    def row(part: pd.DataFrame, series: pd.DataFrame) -> dict:
        norms = part["grad_norm"].to_numpy(dtype=np.float64)
        rel_threshold = relative * first_stage_median(series)
        below_abs = int(np.sum(norms < absolute))
        below_rel = int(np.sum(norms < rel_threshold))
        n = max(len(norms), 1)
        return {"absolute_threshold": float(absolute), "below_absolute": below_abs,
                "fraction_absolute": below_abs / n, "relative": float(relative),
                "relative_threshold": rel_threshold, "below_relative": below_rel,
                "fraction_relative": below_rel / n}

    return _table(tidy, row)
