"""Training stages: the iterations of a run split into k equal consecutive parts.

The paper colours its loss-gradient clouds by fifths of training. This module is
the one owner of stage membership: which stage a recorded row or a training step
belongs to, where the stages start (the trainer checkpoints and estimates
curvature there), and how a stage is labelled. Every plot, report, CLI table and
the trainer's schedule call it, so "stage 3" means the same iterations everywhere.

Row i of n belongs to stage ``floor(i * k / n) + 1``: stage sizes differ by at
most one and every stage is non-empty when ``n >= k``. Stage s (1-based) therefore
starts at row ``ceil((s - 1) * n / k)``: :func:`stage_starts`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def _check_k(k: int) -> None:
    from landscape.errors import LandscapeError

    if k < 1:
        raise LandscapeError(f"The number of stages must be at least 1 (got {k}).")


def assign_stages(n_rows: int, k: int = 5) -> np.ndarray:
    """Stage number (1..k) of each of ``n_rows`` consecutive iterations."""
    _check_k(k)
    if n_rows <= 0:
        return np.zeros(0, dtype=np.int64)
    return (np.arange(n_rows, dtype=np.int64) * k) // n_rows + 1


def stage_starts(n_rows: int, k: int) -> list[int]:
    """The first row of each stage, then ``n_rows``: the k + 1 stage boundaries of a run of ``n_rows`` iterations.

    For a planned run these are the steps after which the trainer checkpoints:
    the weights at a boundary are those the next stage starts from.
    """
    _check_k(k)
    return [-(-s * n_rows // k) for s in range(k + 1)]


def stage_of_steps(recorded_steps: np.ndarray, steps: np.ndarray | list[int], k: int) -> np.ndarray:
    """The stage of each of ``steps`` in a run whose rows have ``recorded_steps`` (ascending).

    A step is in the stage of the last recorded iteration at or before it, so a
    checkpoint taken after the final iteration counts in the last stage. With no
    recorded iterations every step is in stage 1.
    """
    steps = np.asarray(steps, dtype=np.int64)
    n = len(recorded_steps)
    if n == 0:
        _check_k(k)
        return np.ones(len(steps), dtype=np.int64)
    rows = np.clip(np.searchsorted(np.asarray(recorded_steps), steps, side="right") - 1, 0, n - 1)
    return assign_stages(n, k)[rows]


def stage_labels(steps: np.ndarray, stage: np.ndarray, k: int) -> list[str]:
    """A label per stage naming its iteration range, e.g. ``"1: 0-9359"`` (``"3: empty"`` if none)."""
    labels = []
    for s in range(1, k + 1):
        members = steps[stage == s]
        labels.append(f"{s}: {members.min()}-{members.max()}" if len(members) else f"{s}: empty")
    return labels


def stage_count(tidy: pd.DataFrame) -> int:
    """How many stages a tidy frame was split into (from its stage labels, else its largest stage)."""
    import pandas as pd

    labels = tidy["stage_label"] if "stage_label" in tidy.columns else None
    if labels is not None and isinstance(labels.dtype, pd.CategoricalDtype):
        return len(labels.cat.categories)
    return int(tidy["stage"].max()) if len(tidy) else 0


def stage_label_map(tidy: pd.DataFrame) -> dict[int, str]:
    """The label of each stage of a tidy frame, from its ``stage_label`` column."""
    import pandas as pd

    labels = tidy["stage_label"]
    if isinstance(labels.dtype, pd.CategoricalDtype):
        return {i + 1: str(c) for i, c in enumerate(labels.cat.categories)}
    firsts = tidy.drop_duplicates("stage")
    return {int(s): str(lab) for s, lab in zip(firsts["stage"], firsts["stage_label"])}


__all__ = ["assign_stages", "stage_count", "stage_label_map", "stage_labels", "stage_of_steps", "stage_starts"]
