"""Training stages: the iterations of a run split into equal consecutive parts.

The paper colours its loss-gradient clouds by fifths of training. Every plot and
report takes stage membership from here (through ``Run.tidy``), so they agree.
"""

from __future__ import annotations

import numpy as np


def assign_stages(n_rows: int, k: int = 5) -> np.ndarray:
    """Stage number (1..k) of each of ``n_rows`` iterations: k equal consecutive parts.

    Row i belongs to stage ``floor(i * k / n_rows) + 1``, so stage sizes differ by
    at most one and every stage is non-empty when ``n_rows >= k``.
    """
    if k < 1:
        raise ValueError("the number of stages must be at least 1")
    if n_rows <= 0:
        return np.zeros(0, dtype=np.int64)
    return (np.arange(n_rows, dtype=np.int64) * k) // n_rows + 1


def stage_labels(steps: np.ndarray, stage: np.ndarray, k: int) -> list[str]:
    """A label per stage naming its iteration range, e.g. ``"1: 0-9359"`` (``"3: empty"`` if none)."""
    labels = []
    for s in range(1, k + 1):
        members = steps[stage == s]
        labels.append(f"{s}: {members.min()}-{members.max()}" if len(members) else f"{s}: empty")
    return labels
