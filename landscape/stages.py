"""Training stages: the iterations of a run split into k equal consecutive parts.

The paper colours its loss-gradient clouds by fifths of training. This module is
the one owner of stage membership: which stage a recorded row or a training step
belongs to, where the stages start (the trainer checkpoints and estimates
curvature there), and how a stage is labelled. Every plot, report, CLI table and
the trainer's schedule call it, so "stage 3" means the same iterations everywhere.

Row i of n belongs to stage ``floor(i * k / n) + 1``: stage sizes differ by at
most one and every stage is non-empty when ``n >= k``. Stage s (1-based) therefore
starts at row ``ceil((s - 1) * n / k)``: :func:`stage_starts`.

A measurement made after ``s`` iterations (a checkpoint, a Hessian estimate, a
sample-quality measurement) belongs to the stage of its last iteration, row step
``s - 1`` (step 0: stage 1): :func:`measurement_stage`. A measurement at a stage's
end therefore describes the stage it ends, and the final one counts in the last stage.

The number of stages is :data:`DEFAULT_STAGES` (the paper's fifths) wherever none
is given, and :func:`check_stages` is the one check that a number of stages is usable.

Stages are parts of the *planned* run: ``n`` is the number of iterations the run was
planned for (its schedule's ``planned_iters``) whenever it recorded fewer. A run that
stopped short (interrupted, diverged, its writer gone) or is still running keeps the
stages its finished self would have, so the trainer's checkpoints and Hessian estimates
at the stage boundaries fall where the stages start, and a running run's stage colours
do not move as rows arrive. Its rows fill the first stages, the stage it stopped in
partly; a stage it has not reached has no rows (labelled ``"4: not reached"``). A
finished run recorded every planned iteration, so its stages are the k parts of its
rows, exactly as in the paper's figures. A run file with no plan (written by
``RunWriter`` alone, or an older file) is staged by the rows it has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


#: The paper's number of training stages (fifths of training): the default of every function and command
#: that splits a run into stages, and of the trainer's checkpoint schedule (``TrainConfig.stages``).
DEFAULT_STAGES = 5


def check_stages(k: int, what: str = "The number of stages") -> int:
    """``k`` as an int; one sentence naming ``what`` (e.g. ``"--stages"``) unless it is at least 1."""
    from landscape.errors import LandscapeError

    if int(k) < 1:
        raise LandscapeError(f"{what} must be at least 1, got {k}.")
    return int(k)


def _check_k(k: int) -> None:
    check_stages(k)


def staged_length(n_rows: int, planned: int | None = None) -> int:
    """The number of iterations the stages divide: the planned iterations of a run that recorded fewer (running,
    interrupted, diverged), else the rows recorded (a finished run, or a run file without a plan)."""
    return max(int(n_rows), int(planned or 0))


def assign_stages(n_rows: int, k: int = DEFAULT_STAGES, planned: int | None = None) -> np.ndarray:
    """Stage number (1..k) of each of ``n_rows`` consecutive iterations, in k equal parts of the planned run.

    ``planned`` is the run's planned iterations: with fewer rows recorded, the rows fall in the
    first stages of the plan (see the module's docstring); None or ``planned <= n_rows``: k equal
    parts of the rows.
    """
    _check_k(k)
    if n_rows <= 0:
        return np.zeros(0, dtype=np.int64)
    return (np.arange(n_rows, dtype=np.int64) * k) // staged_length(n_rows, planned) + 1


def stage_starts(n_rows: int, k: int) -> list[int]:
    """The first row of each stage, then ``n_rows``: the k + 1 stage boundaries of a run of ``n_rows`` iterations.

    For a planned run these are the steps after which the trainer checkpoints:
    the weights at a boundary are those the next stage starts from.
    """
    _check_k(k)
    return [-(-s * n_rows // k) for s in range(k + 1)]


def stage_of_steps(recorded_steps: np.ndarray, steps: np.ndarray | list[int], k: int,
                   planned: int | None = None) -> np.ndarray:
    """The stage of each iteration ``steps`` (row steps) in a run whose rows have ``recorded_steps`` (ascending),
    planned for ``planned`` iterations (:func:`assign_stages`).

    A step is in the stage of the last recorded iteration at or before it. With no
    recorded iterations every step is in stage 1. A measurement's step counts
    iterations done, not the iteration it follows: use :func:`measurement_stage` for it.
    """
    steps = np.asarray(steps, dtype=np.int64)
    n = len(recorded_steps)
    if n == 0:
        _check_k(k)
        return np.ones(len(steps), dtype=np.int64)
    rows = np.clip(np.searchsorted(np.asarray(recorded_steps), steps, side="right") - 1, 0, n - 1)
    return assign_stages(n, k, planned)[rows]


def measurement_stage(recorded_steps: np.ndarray, steps: np.ndarray | list[int], k: int,
                      planned: int | None = None) -> np.ndarray:
    """The stage of each measurement made after ``steps`` iterations: that of its last iteration (``step - 1``).

    The one rule for checkpoints, Hessian estimates and quality measurements (see the module docstring):
    a measurement at a stage's end counts for the stage it ends; step 0 (before any iteration) counts in
    stage 1, and a measurement after the final iteration in the last stage.
    """
    last = [max(int(s) - 1, 0) for s in np.asarray(steps, dtype=np.int64).tolist()]
    return stage_of_steps(recorded_steps, last, k, planned)


def stage_labels(steps: np.ndarray, stage: np.ndarray, k: int, planned: int | None = None) -> list[str]:
    """A label per stage naming its iteration range, e.g. ``"1: 0-9359"``; a stage without rows is
    ``"4: not reached"`` in a run that stopped short of its plan (``planned`` > rows), else ``"4: empty"``."""
    short = staged_length(len(steps), planned) > len(steps)
    labels = []
    for s in range(1, k + 1):
        members = steps[stage == s]
        labels.append(f"{s}: {members.min()}-{members.max()}" if len(members)
                      else f"{s}: not reached" if short else f"{s}: empty")
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


__all__ = ["DEFAULT_STAGES", "assign_stages", "check_stages", "measurement_stage", "stage_count", "stage_label_map",
           "stage_labels", "stage_of_steps", "stage_starts", "staged_length"]
