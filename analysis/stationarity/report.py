"""The stationarity report: every table for one or more runs, with a verdict per network.

``stationarity_report(run)`` answers, per network (generator, discriminator and
the discriminator's real and fake parts), whether training is approaching a
stationary point: it summarises loss and gradient norm per stage, counts
near-stationary iterations, tests the trend of the log gradient norm and the
loss, finds stagnant stretches of the loss, and (where the run holds Hessian
estimates) reports curvature. Each table is a DataFrame; ``to_text``,
``to_markdown`` and ``to_dict`` render the same content for people and scripts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from analysis.stationarity.curvature import curvature_table
from analysis.stationarity.frames import NETWORK_NAMES, prepare_tidy
from analysis.stationarity.stagnation import NOISE_FACTOR, stagnation_tables
from analysis.stationarity.summary import ABSOLUTE_THRESHOLD, RELATIVE_THRESHOLD, near_stationary, summarize
from analysis.stationarity.trend import MAX_POINTS, MIN_POINTS, TOO_SHORT, trend_table
from landscape.errors import LandscapeError

TABLES = ("verdicts", "summary", "near_stationary", "trends", "stagnation_summary", "stagnation", "curvature")


@dataclass
class StationarityReport:
    """All tables of a stationarity report (DataFrames) plus the options and notes behind them.

    Tables: ``verdicts`` (one row per run x network: the last stage's verdict, the
    whole run's, a one-line ``headline`` and the ``evidence`` behind it), ``summary``, ``near_stationary``, ``trends``,
    ``stagnation_summary`` and ``stagnation`` (one row per stagnant stretch) and
    ``curvature`` (one row per Hessian estimate; empty if the run has none).
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
    stages: int = 5,
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

    ``data`` is a ``Run`` (its ``tidy(stages)`` decides stage membership, as for the
    LGC plots, and its Hessian estimates give the curvature table), a
    ``RunCollection`` or list of runs, or a tidy DataFrame as produced by
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
    runs = _as_runs(data)
    if runs is None:
        tidy = prepare_tidy(data, name=name)
        run_rows = [{"run": r, "path": None, "status": None, "iterations": int(len(part["step"].unique())),
                     "arch": None, "dataset": None} for r, part in tidy.groupby("run", sort=False)]
        curvature, _ = curvature_table([], tidy)
        curvature_notes = ["No Hessian estimates: a DataFrame carries none; pass a Run to include curvature."]
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
        curvature, curvature_notes = curvature_table(runs, tidy, compute_missing=hessian_flatness)

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
    verdicts = _verdicts(summary, near, trends, stagnation_summary, curvature)
    return StationarityReport(pd.DataFrame(run_rows), options, verdicts, summary, near, trends,
                              stagnation_summary, stretches, curvature, notes, tidy)


def _as_runs(data: Any) -> list | None:
    """The runs in ``data`` (a Run, a RunCollection or a sequence of runs), or None for a DataFrame."""
    if isinstance(data, pd.DataFrame):
        return None
    if hasattr(data, "tidy") and hasattr(data, "hessian") and hasattr(data, "metrics"):
        return [data]
    if isinstance(data, Sequence) and data and all(hasattr(r, "tidy") and hasattr(r, "hessian") for r in data):
        return list(data)
    raise TypeError("stationarity_report takes a Run, a RunCollection or list of runs, or a tidy DataFrame.")


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


def _pick(frame: pd.DataFrame, run: str, network: str, stage: Any, **extra: Any) -> pd.Series | None:
    mask = (frame["run"] == run) & (frame["network"] == network)
    mask &= frame["stage"].isna() if stage is pd.NA else frame["stage"] == stage
    for key, value in extra.items():
        mask &= frame[key] == value
    rows = frame[mask.fillna(False)]
    return None if rows.empty else rows.iloc[0]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _change_phrase(rel: float) -> str:
    """'falls 12.0%', 'rises 45.8%', or for changes beyond tenfold 'rises 2.5e+10-fold' (a percentage would be unreadable)."""
    if not math.isfinite(rel) or rel == 0:
        return "does not change"
    if rel < 0:
        return f"falls {_pct(-rel)}"
    return f"rises {_pct(rel)}" if rel <= 9 else f"rises {1 + rel:.3g}-fold"


def _trend_phrase(row: pd.Series) -> str:
    if row["verdict"] == TOO_SHORT:
        return f"there are too few iterations for a trend test ({int(row['iterations'])}; at least {MIN_POINTS} needed)"
    return (f"the fitted gradient norm {_change_phrase(row['grad_norm_change'])} (Theil-Sen slope of log norm {row['slope']:.3g}/iteration, 95% CI "
            f"[{row['slope_low']:.3g}, {row['slope_high']:.3g}]; Mann-Kendall tau {row['tau']:.3f}, "
            f"p = {row['p_value']:.2g}; {int(row['points_used']):,} of {int(row['iterations']):,} iterations tested)")


def _verdicts(summary: pd.DataFrame, near: pd.DataFrame, trends: pd.DataFrame, stagnation: pd.DataFrame,
              curvature: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, network): the last stage's gradient-norm verdict and the sentences giving its evidence."""
    rows = []
    for (run, network), part in summary.groupby(["run", "network"], sort=False):
        last = int(part["stage"].max())
        t_last = _pick(trends, run, network, last, quantity="log_grad_norm")
        t_all = _pick(trends, run, network, pd.NA, quantity="log_grad_norm")
        loss_last = _pick(trends, run, network, last, quantity="loss")
        s_last, s_first = _pick(summary, run, network, last), _pick(summary, run, network, int(part["stage"].min()))
        n_last = _pick(near, run, network, last)
        st = _pick(stagnation, run, network, pd.NA)
        verdict = t_last["verdict"]
        headline = f"{network} ({NETWORK_NAMES.get(network, network)}): {verdict}"
        headline += f" in the last stage (whole run: {t_all['verdict']})." if verdict == TOO_SHORT else "."
        text = [f"In the last stage (steps {s_last['first_step']}-{s_last['last_step']}) {_trend_phrase(t_last)}."]
        text.append(f"Its median gradient norm is {s_last['grad_norm_median']:.3g} (stage 1: "
                    f"{s_first['grad_norm_median']:.3g}); over the whole run: {t_all['verdict']}"
                    + (f" ({_change_phrase(t_all['grad_norm_change'])})."
                       if math.isfinite(t_all["grad_norm_change"]) else "."))
        text.append(f"Near-stationary in the last stage: {n_last['below_absolute']:,} of {n_last['iterations']:,} "
                    f"iterations ({_pct(n_last['fraction_absolute'])}) below {n_last['absolute_threshold']:g}, "
                    f"{n_last['below_relative']:,} ({_pct(n_last['fraction_relative'])}) below "
                    f"{n_last['relative_threshold']:.3g} ({n_last['relative']:g} x stage-1 median).")
        if loss_last is not None and loss_last["verdict"] != TOO_SHORT:
            text.append(f"Loss in the last stage: {loss_last['verdict']} (slope {loss_last['slope']:.3g}/iteration, "
                        f"p = {loss_last['p_value']:.2g}).")
        if st is not None:
            text.append(f"Loss stagnant in {st['stretches']} stretch{'es' if st['stretches'] != 1 else ''} "
                        f"({_pct(st['fraction'])} of iterations; longest {st['longest']:,} iterations).")
        cur = curvature[(curvature["run"] == run) & (curvature["network"] == network)] if not curvature.empty else curvature
        if not cur.empty:
            c = cur.sort_values("step").iloc[-1]
            ratio = c.get("flatness")
            text.append(f"Last Hessian estimate (step {int(c['step'])}): {c['curvature_class']}"
                        + (f", gradient-flatness ratio {ratio:.3g}." if ratio is not None and np.isfinite(ratio) else "."))
        rows.append({"run": run, "network": network, "verdict": verdict, "stage": last,
                     "whole_run": t_all["verdict"], "headline": headline, "evidence": " ".join(text)})
    return pd.DataFrame(rows, columns=["run", "network", "verdict", "stage", "whole_run", "headline", "evidence"])
