"""Stagnation: stretches of training where the loss stops moving beyond its noise.

After Bosman's stagnation measure: a stretch of iterations stagnates when the
loss's moving variability (its standard deviation over a sliding window of
``window`` iterations) stays below a noise threshold. Minibatch losses are noisy
even when nothing changes, so the default threshold is a multiple
(``noise_factor``) of the loss's own iteration-to-iteration noise, estimated
robustly from first differences (which a slow trend barely touches):
``noise = 1.4826 * MAD(diff(loss)) / sqrt(2)``. A window whose standard
deviation is within that multiple of the noise shows no movement beyond it.

Every iteration covered by at least one quiet window is stagnant, so a plateau of
length L is found with length about L (not L - window); stretches are therefore at
least ``window`` iterations long.

The measure works at the scale of the window: a drift slower than about
``noise * sqrt(12 * (noise_factor**2 - 1))`` per window (3.9 x the noise for the
default factor) stays inside the noise band window by window, so a long stretch
can still drift or wander in total; each stretch's ``loss_drift`` (the range of
the medians of its consecutive windows) shows how much.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.stationarity.frames import iter_parts, stage_table

#: Default multiple of the noise level below which a window counts as quiet.
NOISE_FACTOR = 1.5


def default_window(n_iterations: int) -> int:
    """The default window: a hundredth of the run, at least 10 and at most 500 iterations.

    For the paper's 46,800-iteration runs that is 468, one epoch.
    """
    return int(min(500, max(10, n_iterations // 100)))


def noise_level(loss: np.ndarray) -> float:
    """Robust standard deviation of the iteration-to-iteration noise of ``loss`` (from first differences)."""
    y = np.asarray(loss, dtype=np.float64)
    d = np.diff(y[np.isfinite(y)])
    if len(d) == 0:
        return math.nan
    mad = np.median(np.abs(d - np.median(d)))
    return float(1.4826 * mad / math.sqrt(2.0))


def rolling_std(loss: np.ndarray, window: int) -> np.ndarray:
    """Standard deviation of the ``window`` iterations ending at each iteration (NaN before the first full window)."""
    return pd.Series(np.asarray(loss, dtype=np.float64)).rolling(window, min_periods=window).std().to_numpy()


def stagnant_mask(loss: np.ndarray, window: int, threshold: float) -> np.ndarray:
    """True for each iteration inside at least one window whose loss std is below ``threshold``."""
    n = len(loss)
    mask = np.zeros(n, dtype=bool)
    if n < window or not math.isfinite(threshold):
        return mask
    quiet_ends = np.flatnonzero(rolling_std(loss, window) < threshold)
    if len(quiet_ends) == 0:
        return mask
    cover = np.zeros(n + 1, dtype=np.int64)
    np.add.at(cover, quiet_ends - window + 1, 1)
    np.add.at(cover, quiet_ends + 1, -1)
    return np.cumsum(cover[:n]) > 0


def segments(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) positions, end inclusive, of each run of True in ``mask``."""
    padded = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def _drift(part: np.ndarray, window: int) -> float:
    """Range (max - min) of the medians of consecutive ``window``-iteration blocks of a stretch.

    Near zero on a true plateau; large when the loss drifted or wandered more slowly
    than the window can see.
    """
    blocks = [part[i : i + window] for i in range(0, len(part) - window + 1, window)] or [part]
    medians = [np.nanmedian(b) for b in blocks if np.isfinite(b).any()]
    return float(max(medians) - min(medians)) if medians else math.nan


def stagnation_segments(
    loss: np.ndarray,
    steps: np.ndarray | None = None,
    *,
    window: int | None = None,
    threshold: float | None = None,
    noise_factor: float = NOISE_FACTOR,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Stagnant stretches of one loss series.

    Returns a frame with one row per stretch (start, end, start_step, end_step,
    iterations, loss_median, loss_std, loss_drift: see :func:`_drift`) and the settings used: window, noise, threshold
    (``noise_factor * noise`` unless ``threshold`` is given).
    """
    loss = np.asarray(loss, dtype=np.float64)
    steps = np.arange(len(loss)) if steps is None else np.asarray(steps)
    window = default_window(len(loss)) if window is None else int(window)
    noise = noise_level(loss)
    threshold = noise_factor * noise if threshold is None else float(threshold)
    rows = []
    for start, end in segments(stagnant_mask(loss, window, threshold)):
        part = loss[start : end + 1]
        rows.append(
            {
                "start": start,
                "end": end,
                "start_step": int(steps[start]),
                "end_step": int(steps[end]),
                "iterations": end - start + 1,
                "loss_median": float(np.nanmedian(part)),
                "loss_std": float(np.nanstd(part)),
                "loss_drift": _drift(part, window),
            }
        )
    columns = ["start", "end", "start_step", "end_step", "iterations", "loss_median", "loss_std", "loss_drift"]
    return pd.DataFrame(rows, columns=columns), {"window": window, "noise": noise, "threshold": threshold}


def stagnation_tables(
    tidy: pd.DataFrame,
    *,
    window: int | None = None,
    threshold: float | None = None,
    noise_factor: float = NOISE_FACTOR,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stagnant stretches of each (run, network) loss, and a per-stage summary of them.

    The first frame has one row per stretch (run, network, start_step, end_step,
    iterations, start_stage, end_stage, loss_median, loss_std, loss_drift). The second has one
    row per (run, network, stage) plus a whole-run row (stage <NA>, label "all"):
    stagnant iterations and their fraction, the number of stretches touching the
    stage, the longest stretch's part inside it, and the window, noise and
    threshold used. Stretches are found on the whole run, so one may cross a
    stage boundary.
    """
    stretch_rows, summary_rows = [], []
    for run, network, series, parts in iter_parts(tidy):
        loss = series["loss"].to_numpy(dtype=np.float64)
        stages = series["stage"].to_numpy()
        found, used = stagnation_segments(loss, series["step"].to_numpy(), window=window,
                                          threshold=threshold, noise_factor=noise_factor)
        mask = np.zeros(len(loss), dtype=bool)
        for row in found.itertuples(index=False):
            mask[row.start : row.end + 1] = True
            stretch_rows.append({"run": run, "network": network, "start_step": row.start_step,
                                 "end_step": row.end_step, "iterations": row.iterations,
                                 "start_stage": int(stages[row.start]), "end_stage": int(stages[row.end]),
                                 "loss_median": row.loss_median, "loss_std": row.loss_std,
                                 "loss_drift": row.loss_drift})
        for stage, label, _part in parts:
            inside = np.ones(len(loss), dtype=bool) if stage is pd.NA else stages == stage
            pieces = segments(mask & inside)
            lengths = [b - a + 1 for a, b in pieces]
            summary_rows.append({"run": run, "network": network, "stage": stage, "stage_label": label,
                                 "iterations": int(inside.sum()), "stagnant": int(sum(lengths)),
                                 "fraction": sum(lengths) / max(int(inside.sum()), 1),
                                 "stretches": len(pieces), "longest": max(lengths, default=0),
                                 "window": used["window"], "noise": used["noise"],
                                 "threshold": used["threshold"]})
    columns = ["run", "network", "start_step", "end_step", "iterations", "start_stage", "end_stage",
               "loss_median", "loss_std", "loss_drift"]
    return pd.DataFrame(stretch_rows, columns=columns), stage_table(summary_rows)
