"""Sample quality next to the landscape: measurements per training stage, and where each changes most.

The question these tables answer: does a change in what the generator produces
(collapse: classes or modes dropped, the class KL rising) happen in the same
training stage as a change in the loss-gradient landscape (the per-stage medians
of loss and gradient norm)? Stages are the report's and the clouds' (equal parts
of the iterations, :mod:`landscape.stages`); a quality measurement belongs to the
stage of its last iteration (:func:`landscape.stages.measurement_stage`), so a measurement at the end of
a stage describes that stage.

- :func:`quality_frame`: every measurement of some runs, tidy, with its stage;
- :func:`stage_quality`: per run and stage, the stage's last measurement of each metric
  (what the generator made by the end of that stage);
- :func:`quality_changes`: per run, the stage where quality changes most, whether it is
  a collapse, the stage where the landscape summaries change most, and whether the two coincide.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from analysis.runs import measured_stage
from landscape.metric_names import METRIC_SHORT, METRIC_TITLES, PRIMARY
from landscape.reader import as_runs
from landscape.stages import DEFAULT_STAGES

# PRIMARY (landscape.metric_names, the one table of quality metrics): per kind of run, the metric whose change marks
# a collapse and the counted coverage metric.
#: A rise of the class KL by at least this many nats from one stage to the next counts as collapse.
KL_RISE = 0.05
#: A largest stage-to-stage change of the primary metric below this (nats of class KL; a toy's high-quality
#: fraction) is no change: the finding says quality is steady and sets no stage of it beside the landscape's.
STEADY = {"image": 0.01, "toy": 0.01}

QUALITY_COLUMNS = ["run", "step", "epoch", "stage", "metric", "value", "n", "n_real"]


def quality_frame(data: Any, stages: int = DEFAULT_STAGES) -> pd.DataFrame:
    """Every quality measurement of a Run, path or several, tidy: run, step, epoch, stage, metric, value, n, n_real."""
    frames = []
    for run in as_runs(data):
        q = run.quality
        if q.empty:
            continue
        q = q.copy()
        q.insert(0, "run", run.name)
        q.insert(3, "stage", measured_stage(run, q["step"].tolist(), stages))
        frames.append(q)
    if not frames:
        return pd.DataFrame(columns=QUALITY_COLUMNS)
    return pd.concat(frames, ignore_index=True)[QUALITY_COLUMNS]


def stage_quality(quality: pd.DataFrame) -> pd.DataFrame:
    """Per run and stage, the last measurement of each metric in that stage (wide: one column per metric, plus
    the step it was made at)."""
    if quality.empty:
        return pd.DataFrame(columns=["run", "stage", "step"])
    last = quality.sort_values("step", kind="stable").groupby(["run", "stage", "metric"], sort=False).tail(1)
    wide = last.pivot_table(index=["run", "stage"], columns="metric", values="value", aggfunc="last", sort=False)
    steps = last.groupby(["run", "stage"], sort=False)["step"].max().rename("step")
    out = pd.concat([steps, wide], axis=1).reset_index()
    order = {name: i for i, name in enumerate(dict.fromkeys(quality["run"]))}
    out = out.sort_values(["run", "stage"], key=lambda c: c.map(order) if c.name == "run" else c, kind="stable")
    out.columns.name = None
    return out.reset_index(drop=True)


def _kind(row: pd.Series) -> str | None:
    for kind, (primary, _) in PRIMARY.items():
        if primary in row.index and pd.notna(row[primary]):
            return kind
    return None


def landscape_change(summary: pd.DataFrame, run: str, networks: tuple[str, ...] = ("g", "d")) -> dict[int, tuple[float, str]]:
    """Per stage (from the second on), how much the landscape summaries moved from the previous stage, and what moved
    most: the largest of |log(median gradient norm ratio)| and |log(median loss ratio)| over ``networks``."""
    part = summary[(summary["run"] == run) & summary["stage"].notna() & summary["network"].isin(networks)]
    out: dict[int, tuple[float, str]] = {}
    for network, rows in part.groupby("network", sort=False):
        rows = rows.sort_values("stage")
        stages = rows["stage"].astype(int).to_numpy()
        for column, what in (("grad_norm_median", "gradient-norm median"), ("loss_median", "loss median")):
            values = rows[column].to_numpy(dtype=np.float64)
            for i in range(1, len(values)):
                a, b = abs(values[i - 1]), abs(values[i])
                if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
                    continue
                size = abs(math.log(b / a))
                if size > out.get(int(stages[i]), (-1.0, ""))[0]:
                    out[int(stages[i])] = (size, f"{network} {what} {values[i - 1]:.3g} -> {values[i]:.3g} "
                                                 f"(x{b / a:.2g})")
    return out


def quality_changes(per_stage: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Per run: the stage where quality changes most and whether that is a collapse, the stage where the landscape
    summaries change most, whether they are the same stage, and a sentence saying so.

    Quality change of a stage: the change of the primary metric (class KL; a toy's high-quality
    fraction) from the last measurement before the stage to the stage's last one. Collapse: classes
    (modes) covered drop, or the class KL rises by at least :data:`KL_RISE`. Steady quality (no collapse, and
    no change of at least :data:`STEADY`): ``quality_stage`` is None, ``same_stage`` False, and the sentence
    sets no stage of it beside the landscape's.
    """
    rows = []
    for run, part in per_stage.groupby("run", sort=False):
        part = part.sort_values("stage").reset_index(drop=True)
        kind = next((k for k in (_kind(r) for _, r in part.iterrows()) if k), None)
        if kind is None or len(part) < 2:
            continue
        primary, covered = PRIMARY[kind]
        changes = []
        for i in range(1, len(part)):
            before, after = part.iloc[i - 1], part.iloc[i]
            delta = float(after[primary] - before[primary])
            lost = float(before.get(covered, math.nan) - after.get(covered, math.nan))
            collapse = (lost >= 1) or (kind == "image" and delta >= KL_RISE)
            changes.append((abs(delta), int(after["stage"]), delta, lost, collapse, before, after))
        size, stage, delta, lost, collapse, before, after = max(changes, key=lambda c: (c[4], c[0]))
        land = landscape_change(summary, str(run))
        land_stage, (land_size, land_what) = (max(land.items(), key=lambda kv: kv[1][0]) if land
                                              else (None, (math.nan, "")))
        metric_words, cov_words = METRIC_TITLES[primary], METRIC_SHORT[covered]  # "class KL", "classes"
        change = (f"{metric_words} {before[primary]:.3g} -> {after[primary]:.3g}, {cov_words} covered "
                  f"{_int(before.get(covered))} -> {_int(after.get(covered))}")
        head = ("Collapse" if collapse else "The largest quality change") + f" in stage {stage} ({change})"
        steady = not collapse and size < STEADY[kind]
        if steady:
            # no stage where quality changes, so no stage to set beside the landscape's
            stage = None
            first = float(part.iloc[0][primary])
            head = f"Sample quality does not change from stage to stage ({metric_words} {first:.3g} throughout)"
        same = stage is not None and land_stage == stage
        if land_stage is None:
            finding = f"{head}; no landscape summary change to compare with."
        elif steady:
            finding = f"{head}; the landscape summaries change most in stage {land_stage} ({land_what})."
        elif same:
            finding = f"{head}, the same stage in which the landscape summaries change most ({land_what})."
        else:
            finding = (f"{head}; the landscape summaries change most in stage {land_stage} ({land_what}), "
                       "a different stage.")
        rows.append({"run": run, "quality_stage": stage, "primary_metric": primary, "change": delta,
                     "coverage_lost": lost, "collapse": bool(collapse), "landscape_stage": land_stage,
                     "landscape_change": land_size, "landscape_what": land_what, "same_stage": bool(same),
                     "finding": finding})
    columns = ["run", "quality_stage", "primary_metric", "change", "coverage_lost", "collapse", "landscape_stage",
               "landscape_change", "landscape_what", "same_stage", "finding"]
    return pd.DataFrame(rows, columns=columns)


def stage_values(quality: pd.DataFrame, run: str, metric: str) -> dict[int, float]:
    """Stage -> the stage's last value of ``metric`` for one run of a :func:`quality_frame` (for annotations)."""
    part = quality[(quality["run"] == run) & (quality["metric"] == metric)].sort_values("step", kind="stable")
    return {int(s): float(v) for s, v in part.groupby("stage")["value"].last().items()}


def _int(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else f"{int(value)}"


__all__ = ["KL_RISE", "quality_changes", "quality_frame", "stage_quality", "stage_values", "landscape_change"]
