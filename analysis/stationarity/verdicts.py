"""The verdict of a stationarity report: one headline and its evidence per (run, network).

The verdict is the last stage's trend of the log gradient norm
(:func:`analysis.stationarity.trend.stationarity_verdict`); the evidence is a few
sentences built from the report's tables (trend, medians, near-stationary counts,
loss trend, stagnation, the last Hessian estimate). This module writes that prose;
:mod:`analysis.stationarity.report` builds the tables and
:mod:`analysis.stationarity.render` lays everything out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from analysis.stationarity.trend import MIN_POINTS, SMALL_TREND, TOO_SHORT
from landscape.networks import title

COLUMNS = ["run", "network", "verdict", "stage", "whole_run", "headline", "evidence"]


def _pick(frame: pd.DataFrame, run: str, network: str, stage: Any, **extra: Any) -> pd.Series | None:
    mask = (frame["run"] == run) & (frame["network"] == network)
    mask &= frame["stage"].isna() if stage is pd.NA else frame["stage"] == stage
    for key, value in extra.items():
        mask &= frame[key] == value
    rows = frame[mask.fillna(False)]
    return None if rows.empty else rows.iloc[0]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def change_phrase(rel: float) -> str:
    """'falls 12.0%', 'rises 45.8%', or for changes beyond tenfold 'rises 2.5e+10-fold' (a percentage would be unreadable)."""
    if not math.isfinite(rel) or rel == 0:
        return "does not change"
    if rel < 0:
        return f"falls {_pct(-rel)}"
    return f"rises {_pct(rel)}" if rel <= 9 else f"rises {1 + rel:.3g}-fold"


def verdict_phrase(verdict: str, grad_norm_change: float) -> str:
    """The verdict as shown to people: a significant but small trend says how small, e.g. "(+6.7%)"."""
    if verdict == SMALL_TREND and math.isfinite(grad_norm_change):
        return f"{verdict} ({100 * grad_norm_change:+.1f}%)"
    return verdict


def _trend_phrase(row: pd.Series) -> str:
    if row["verdict"] == TOO_SHORT:
        return f"there are too few iterations for a trend test ({int(row['iterations'])}; at least {MIN_POINTS} needed)"
    return (f"the fitted gradient norm {change_phrase(row['grad_norm_change'])} (Theil-Sen slope of log norm {row['slope']:.3g}/iteration, 95% CI "
            f"[{row['slope_low']:.3g}, {row['slope_high']:.3g}]; Mann-Kendall tau {row['tau']:.3f}, "
            f"p = {row['p_value']:.2g}; {int(row['points_used']):,} of {int(row['iterations']):,} iterations tested)")


def verdict_table(summary: pd.DataFrame, near: pd.DataFrame, trends: pd.DataFrame, stagnation: pd.DataFrame,
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
        whole = verdict_phrase(t_all["verdict"], t_all["grad_norm_change"])
        headline = f"{title(network)}: {verdict_phrase(verdict, t_last['grad_norm_change'])}"
        headline += f" in the last stage (whole run: {whole})." if verdict == TOO_SHORT else "."
        text = [f"In the last stage (steps {s_last['first_step']}-{s_last['last_step']}) {_trend_phrase(t_last)}."]
        text.append(f"Its median gradient norm is {s_last['grad_norm_median']:.3g} (stage 1: "
                    f"{s_first['grad_norm_median']:.3g}); over the whole run: {t_all['verdict']}"
                    + (f" ({change_phrase(t_all['grad_norm_change'])})."
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
    return pd.DataFrame(rows, columns=COLUMNS)
