"""The stationarity report: every table for one or more runs, with a verdict per network.

``stationarity_report(run)`` answers, per network (generator, discriminator and
the discriminator's real and fake parts), whether training is approaching a
stationary point: it summarises loss and gradient norm per stage, counts
near-stationary iterations, tests the trend of the log gradient norm and the
loss, finds stagnant stretches of the loss, and (where the run holds Hessian
estimates) reports curvature. Each table is a DataFrame; the verdicts and their
evidence are written by :mod:`analysis.stationarity.verdicts`, and ``to_text``,
``to_markdown`` and ``to_dict`` (:mod:`analysis.stationarity.render`) render the
same content for people and scripts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.quality.stages import KL_RISE, quality_changes, quality_frame, stage_quality
from analysis.stationarity.curvature import curvature_table
from analysis.stationarity.frames import prepare_tidy
from analysis.stationarity.stagnation import NOISE_FACTOR, stagnation_tables
from analysis.stationarity.summary import ABSOLUTE_THRESHOLD, RELATIVE_THRESHOLD, near_stationary, summarize
from analysis.stationarity.trend import MAX_POINTS, trend_table
from analysis.stationarity.verdicts import verdict_table
from landscape.errors import LandscapeError
from landscape.reader import as_runs
from landscape.stages import DEFAULT_STAGES

TABLES = ("verdicts", "summary", "near_stationary", "trends", "stagnation_summary", "stagnation", "curvature", "quality",
          "quality_changes")


@dataclass
class StationarityReport:
    """All tables of a stationarity report (DataFrames) plus the options and notes behind them.

    Tables: ``verdicts`` (one row per run x network: the last stage's verdict, the
    whole run's, a one-line ``headline`` and the ``evidence`` behind it), ``summary``, ``near_stationary``, ``trends``,
    ``stagnation_summary`` and ``stagnation`` (one row per stagnant stretch) and
    ``curvature`` (one row per Hessian estimate; empty if the run has none), ``quality`` (per run and stage:
    the stage's last sample-quality measurement beside the generator's and discriminator's loss and
    gradient-norm medians; empty without measurements) and ``quality_changes`` (per run: the stage where
    quality changes most, whether that is a collapse, and whether the landscape summaries change most
    in the same stage; :mod:`analysis.quality.stages`).
    ``runs`` describes each run; ``tidy`` is the frame everything was computed
    from (for plots; not part of ``to_dict``).
    """

    runs: pd.DataFrame
    options: dict[str, Any]
    verdicts: pd.DataFrame
    summary: pd.DataFrame
    near_stationary: pd.DataFrame
    trends: pd.DataFrame
    stagnation_summary: pd.DataFrame
    stagnation: pd.DataFrame
    curvature: pd.DataFrame
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)
    quality_changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    tidy: pd.DataFrame | None = field(default=None, repr=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The report's tables by name, in report order."""
        return {name: getattr(self, name) for name in TABLES}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content: runs, options, notes and every table as a list of records."""
        from analysis.stationarity.render import records

        return {"runs": records(self.runs), "options": dict(self.options), "notes": list(self.notes),
                **{name: records(table) for name, table in self.tables().items()}}

    def to_text(self) -> str:
        """A plain-text report: verdicts first, then the tables."""
        from analysis.stationarity.render import render

        return render(self, "text")

    def to_markdown(self) -> str:
        """A Markdown report: verdicts first, then the tables."""
        from analysis.stationarity.render import render

        return render(self, "markdown")


def stationarity_report(
    data: Any,
    *,
    stages: int = DEFAULT_STAGES,
    absolute_threshold: float = ABSOLUTE_THRESHOLD,
    relative_threshold: float = RELATIVE_THRESHOLD,
    alpha: float = 0.05,
    min_change: float = 0.1,
    max_points: int = MAX_POINTS,
    window: int | None = None,
    noise_factor: float = NOISE_FACTOR,
    stagnation_threshold: float | None = None,
    hessian_flatness: bool = True,
    name: str = "run",
) -> StationarityReport:
    """Build the stationarity report of a Run, several runs, or a tidy DataFrame.

    ``data`` is a ``Run`` or run-file path (its ``tidy(stages)`` decides stage
    membership, as for the LGC plots, and its Hessian estimates give the curvature
    table), a ``RunCollection`` or list of runs or paths, or a tidy DataFrame as produced by
    ``run.tidy(stages)`` (``name`` names it when it has no ``run`` column; a frame
    brings no Hessian estimates).

    Options: near-stationary iterations have a gradient norm below
    ``absolute_threshold`` or below ``relative_threshold`` x the first stage's
    median; a gradient-norm trend counts when its Mann-Kendall p < ``alpha`` and its
    Theil-Sen fit changes the norm by a factor of at least ``1 + min_change`` over
    the window; rank tests use an even subsample of at most ``max_points``
    iterations; stagnation uses a rolling window of ``window`` iterations (default:
    a hundredth of the run, 10..500) and a threshold of ``noise_factor`` x the
    loss's noise unless ``stagnation_threshold`` is given. ``hessian_flatness``
    lets the curvature table compute ||Hg|| from checkpoints when the stored
    estimates lack it.
    """
    runs = None if isinstance(data, pd.DataFrame) else list(as_runs(data))
    if runs is None:
        tidy = prepare_tidy(data, name=name)
        run_rows = [{"run": r, "path": None, "status": None, "iterations": int(len(part["step"].unique())),
                     "arch": None, "dataset": None} for r, part in tidy.groupby("run", sort=False)]
        curvature, _ = curvature_table([], stages)
        curvature_notes = ["No Hessian estimates: a DataFrame carries none; pass a Run to include curvature."]
    elif not runs:
        raise LandscapeError("No runs to report on; pass at least one run.")
    else:
        frames = []
        for run in runs:
            frame = run.tidy(stages)
            if frame.empty:
                raise LandscapeError(f"{run.path} has no recorded iterations, so there is nothing to report.")
            frame.insert(0, "run", run.name)
            frames.append(frame)
        tidy = prepare_tidy(pd.concat(frames, ignore_index=True), name=name)
        run_rows = [{"run": run.name, "path": str(run.path), "status": run.status,
                     "iterations": int(run.n_iterations), "arch": run.config.get("arch"),
                     "dataset": run.config.get("dataset")} for run in runs]
        curvature, curvature_notes = curvature_table(runs, stages, compute_missing=hessian_flatness)

    summary = summarize(tidy)
    near = near_stationary(tidy, absolute_threshold, relative_threshold)
    trends = trend_table(tidy, alpha=alpha, min_change=min_change, max_points=max_points)
    stretches, stagnation_summary = stagnation_tables(
        tidy, window=window, threshold=stagnation_threshold, noise_factor=noise_factor
    )
    options = {"stages": int(stages) if runs is not None else int(tidy["stage"].max()), "absolute_threshold": absolute_threshold,
               "relative_threshold": relative_threshold, "alpha": alpha, "min_change": min_change,
               "max_points": max_points, "window": window, "noise_factor": noise_factor,
               "stagnation_threshold": stagnation_threshold}
    notes = _notes(trends, stagnation_summary, options) + curvature_notes
    verdicts = verdict_table(summary, near, trends, stagnation_summary, curvature)
    quality, changes = quality_tables(runs or [], summary, stages)
    if not quality.empty:
        notes.append(f"Sample quality: each stage shows its last measurement; collapse is a drop in the classes (modes) "
                     f"covered or a rise of the class KL by at least {KL_RISE:g}; the landscape summaries' change is "
                     "the largest |log ratio| of consecutive stages' loss or gradient-norm medians of G and D.")
    return StationarityReport(pd.DataFrame(run_rows), options, verdicts, summary, near, trends,
                              stagnation_summary, stretches, curvature, quality, changes, notes, tidy)


def quality_tables(runs: list[Any], summary: pd.DataFrame, stages: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The report's quality tables: per stage, quality beside the loss and gradient-norm medians; per run, the changes."""
    per_stage = stage_quality(quality_frame(runs, stages))
    if per_stage.empty:
        return pd.DataFrame(), pd.DataFrame()
    staged = summary[summary["stage"].notna()].copy()
    staged["stage"] = staged["stage"].astype(int)
    beside = per_stage[["run", "stage"]].copy()
    for network in ("g", "d"):
        part = staged[staged["network"] == network][["run", "stage", "stage_label", "loss_median", "grad_norm_median"]]
        part = part.rename(columns={"loss_median": f"{network}_loss_median", "grad_norm_median": f"{network}_grad_norm_median"})
        if "stage_label" in beside.columns:
            part = part.drop(columns="stage_label")
        beside = beside.merge(part, on=["run", "stage"], how="left")
    table = beside.merge(per_stage, on=["run", "stage"], how="left")
    return table, quality_changes(per_stage, summary)


def _notes(trends: pd.DataFrame, stagnation: pd.DataFrame, options: dict[str, Any]) -> list[str]:
    notes = [
        f"Near-stationary: gradient norm below {options['absolute_threshold']:g} (absolute) or below "
        f"{options['relative_threshold']:g} x the network's stage-1 median gradient norm (relative).",
        f"Trends: Mann-Kendall test (Kendall's tau against the step) and Theil-Sen slope per iteration with a 95% "
        f"interval; a gradient-norm trend counts when p < {options['alpha']:g} and the fitted norm changes by a "
        f"factor of at least {1 + options['min_change']:g} over the window; a loss trend when p < {options['alpha']:g}.",
    ]
    sub = trends[trends["points_used"] < trends["iterations"]]
    if not sub.empty:
        notes.append(
            f"Rank tests use an even subsample of at most {options['max_points']:,} iterations per series "
            f"({len(sub)} of {len(trends)} series were subsampled, e.g. {int(sub['points_used'].iloc[0]):,} of "
            f"{int(sub['iterations'].iloc[0]):,}); this keeps Theil-Sen fast and thins autocorrelation."
        )
    whole = stagnation[stagnation["stage"].isna()]
    if not whole.empty:
        window = int(whole["window"].iloc[0])
        how = (f"{options['noise_factor']:g} x the loss's noise (robust std of its first differences / sqrt 2)"
               if options["stagnation_threshold"] is None else f"{options['stagnation_threshold']:g}")
        notes.append(f"Stagnation: stretches where the loss's rolling std over {window:,} iterations stays below "
                     f"{how} (after Bosman's stagnation measure); each stretch is at least one window long. A drift slower than "
                     f"about {math.sqrt(12 * (options['noise_factor'] ** 2 - 1)):.2g} x the noise per window counts as "
                     "stagnant window by window; a stretch's loss drift (the range of its windows' medians) shows it.")
    return notes
