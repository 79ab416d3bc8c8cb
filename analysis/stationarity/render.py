"""Rendering a StationarityReport as plain text, Markdown or JSON-ready records.

Text and Markdown show the same content: a header naming the runs and options,
one verdict paragraph per network, then each table with numbers rounded for
reading (the DataFrames and ``to_dict`` keep full precision).
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from landscape.networks import NETWORKS

if TYPE_CHECKING:  # pragma: no cover
    from analysis.stationarity.report import StationarityReport

#: Stagnant stretches shown per (run, network) in text and Markdown (JSON has all).
STRETCHES_SHOWN = 10


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as JSON-ready dicts (NaN and <NA> become None, numpy scalars Python ones)."""
    return [{key: _plain(value) for key, value in row.items()} for row in frame.astype(object).to_dict("records")]


def _num(x: Any, spec: str = ".3g") -> str:
    if x is None or x is pd.NA or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return format(x, spec)


def _count(n: Any, frac: Any) -> str:
    return f"{int(n):,} ({100 * float(frac):.1f}%)"


def _stage(row: pd.Series) -> str:
    return str(row["stage_label"])


def _summary(frame: pd.DataFrame, with_run: bool) -> pd.DataFrame:
    rows = [{"run": r["run"], "network": r["network"], "stage": _stage(r), "iters": f"{int(r['iterations']):,}",
             "grad median": _num(r["grad_norm_median"]),
             "grad IQR": f"{_num(r['grad_norm_q1'])}-{_num(r['grad_norm_q3'])}",
             "grad min (step)": f"{_num(r['grad_norm_min'])} ({_num(r['grad_norm_min_step'], 'd')})",
             "loss median": _num(r["loss_median"]), "loss IQR": f"{_num(r['loss_q1'])}-{_num(r['loss_q3'])}",
             "loss min (step)": f"{_num(r['loss_min'])} ({_num(r['loss_min_step'], 'd')})"}
            for _, r in frame.iterrows()]
    return _finish(rows, with_run)


def _near(frame: pd.DataFrame, with_run: bool) -> pd.DataFrame:
    rows = [{"run": r["run"], "network": r["network"], "stage": _stage(r), "iters": f"{int(r['iterations']):,}",
             f"below {r['absolute_threshold']:g}": _count(r["below_absolute"], r["fraction_absolute"]),
             "relative threshold": f"{_num(r['relative_threshold'])} ({r['relative']:g} x stage-1 median)",
             "below relative": _count(r["below_relative"], r["fraction_relative"])}
            for _, r in frame.iterrows()]
    return _finish(rows, with_run)


def _trends(frame: pd.DataFrame, with_run: bool) -> pd.DataFrame:
    rows = []
    for _, r in frame.iterrows():
        grad = r["quantity"] == "log_grad_norm"
        change = (f"{100 * r['grad_norm_change']:+.1f}% norm" if grad and pd.notna(r["grad_norm_change"])
                  else _num(r["change"], "+.3g"))
        rows.append({"run": r["run"], "network": r["network"], "stage": _stage(r),
                     "series": "log grad norm" if grad else "loss",
                     "points": f"{int(r['points_used']):,}/{int(r['iterations']):,}",
                     "tau": _num(r["tau"], ".3f"), "p": _num(r["p_value"], ".2g"),
                     "slope/iter [95% CI]": f"{_num(r['slope'])} [{_num(r['slope_low'])}, {_num(r['slope_high'])}]",
                     "fitted change": change, "verdict": r["verdict"]})
    return _finish(rows, with_run)


def _stagnation_summary(frame: pd.DataFrame, with_run: bool) -> pd.DataFrame:
    rows = [{"run": r["run"], "network": r["network"], "stage": _stage(r), "iters": f"{int(r['iterations']):,}",
             "stagnant": _count(r["stagnant"], r["fraction"]), "stretches": int(r["stretches"]),
             "longest": f"{int(r['longest']):,}", "window": int(r["window"]), "noise": _num(r["noise"]),
             "threshold": _num(r["threshold"])} for _, r in frame.iterrows()]
    return _finish(rows, with_run)


def _stretches(frame: pd.DataFrame, with_run: bool) -> pd.DataFrame:
    shown = (frame.sort_values("iterations", ascending=False, kind="stable")
             .groupby(["run", "network"], sort=False).head(STRETCHES_SHOWN)
             .sort_values(["run", "start_step"], kind="stable"))
    order = {net: i for i, net in enumerate(NETWORKS)}
    shown = shown.iloc[np.argsort([order.get(n, 99) for n in shown["network"]], kind="stable")]
    rows = [{"run": r["run"], "network": r["network"], "steps": f"{int(r['start_step'])}-{int(r['end_step'])}",
             "iterations": f"{int(r['iterations']):,}",
             "stages": f"{int(r['start_stage'])}" + (f"-{int(r['end_stage'])}" if r["end_stage"] != r["start_stage"] else ""),
             "loss median": _num(r["loss_median"]), "loss std": _num(r["loss_std"]),
             "loss drift": _num(r["loss_drift"])} for _, r in shown.iterrows()]
    return _finish(rows, with_run)


def _curvature(frame: pd.DataFrame, with_run: bool) -> pd.DataFrame:
    rows = [{"run": r["run"], "network": r["network"], "step": int(r["step"]), "stage": _num(r["stage"], "d"),
             "class": r["curvature_class"] + (f" ({r['sign_class']})" if r["sign_class"] not in (None, r["curvature_class"])
                                              and not pd.isna(r["sign_class"]) else ""), "lambda min": _num(r["lambda_min"]), "lambda max": _num(r["lambda_max"]),
             "||g||": _num(r["grad_norm"]), "||Hg||": _num(r["hg_norm"]), "flatness": _num(r["flatness"]),
             "from": r["flatness_source"]} for _, r in frame.iterrows()]
    return _finish(rows, with_run)


def _quality(frame: pd.DataFrame, with_run: bool) -> pd.DataFrame:
    from landscape.metric_names import COUNTED as counted
    from landscape.metric_names import METRIC_TITLES

    if frame.empty:
        return frame
    metrics = [m for m in METRIC_TITLES if m in frame.columns]
    rows = []
    for _, r in frame.iterrows():
        row = {"run": r["run"], "stage": r.get("stage_label", r["stage"]), "step": f"{int(r['step']):,}",
               "G loss": _num(r.get("g_loss_median")), "G grad": _num(r.get("g_grad_norm_median")),
               "D loss": _num(r.get("d_loss_median")), "D grad": _num(r.get("d_grad_norm_median"))}
        for m in metrics:
            row[METRIC_TITLES[m]] = f"{int(r[m])}" if m in counted and pd.notna(r[m]) else _num(r[m])
        rows.append(row)
    return _finish(rows, with_run)


def _finish(rows: list[dict], with_run: bool) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if not with_run and "run" in frame.columns:
        frame = frame.drop(columns="run")
    return frame


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of a frame of strings (no extra dependency)."""
    cells = [[str(c) for c in frame.columns]] + [[str(v).replace("|", "\\|") for v in row] for row in frame.to_numpy()]
    widths = [max(len(row[i]) for row in cells) for i in range(len(frame.columns))]
    line = lambda row: "| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells[1:])])


def _header(report: "StationarityReport") -> list[str]:
    lines = []
    for r in report.runs.to_dict("records"):
        what = ", ".join(str(v) for v in (r.get("arch"), r.get("dataset")) if v)
        status = f", status {r['status']}" if r.get("status") else ""
        lines.append(f"{r['run']}: {r['iterations']:,} iterations{status}" + (f" ({what})" if what else ""))
    o = report.options
    lines.append(f"Options: {o['stages']} stages; near-stationary below {o['absolute_threshold']:g} or "
                 f"{o['relative_threshold']:g} x stage-1 median; alpha {o['alpha']:g}; min change "
                 f"{100 * o['min_change']:g}%; at most {o['max_points']:,} points per rank test")
    return lines


def render(report: "StationarityReport", fmt: str) -> str:
    """The report as ``"text"`` or ``"markdown"``: verdicts first, then the tables, then notes."""
    with_run = len(report.runs) > 1
    md = fmt == "markdown"
    sections = [
        ("Gradient norm and loss by stage", _summary(report.summary, with_run)),
        ("Near-stationary iterations", _near(report.near_stationary, with_run)),
        ("Trends (Mann-Kendall, Theil-Sen)", _trends(report.trends, with_run)),
        ("Stagnation of the loss", _stagnation_summary(report.stagnation_summary, with_run)),
        (f"Longest stagnant stretches (at most {STRETCHES_SHOWN} per network)", _stretches(report.stagnation, with_run)),
        ("Curvature at checkpoints (Hessian estimates)", _curvature(report.curvature, with_run)),
    ]
    if not report.quality.empty:
        sections.append(("Sample quality by stage (last measurement; loss and gradient-norm medians beside)",
                         _quality(report.quality, with_run)))
    findings = [(f"{r['run']}: " if with_run else "") + r["finding"] for r in report.quality_changes.to_dict("records")]
    out: list[str] = []
    if md:
        out += ["# Stationarity report", "", *[f"- {line}" for line in _header(report)], "", "## Verdicts", ""]
        out += [f"- **{r['run'] + ' / ' if with_run else ''}{r['headline']}** {r['evidence']}"
                for r in report.verdicts.to_dict("records")]
    else:
        out += ["STATIONARITY REPORT", *_header(report), "", "VERDICTS"]
        for r in report.verdicts.to_dict("records"):
            prefix = f"[{r['run']}] " if with_run else ""
            out.append(textwrap.fill(f"{prefix}{r['headline']} {r['evidence']}", width=110, initial_indent="* ", subsequent_indent="  "))
    if findings:
        out += ["", "## Sample quality and the landscape", ""] if md else ["", "SAMPLE QUALITY AND THE LANDSCAPE"]
        out += [f"- {f}" if md else textwrap.fill(f, width=110, initial_indent="* ", subsequent_indent="  ")
                for f in findings]
    for title, table in sections:
        out.append("")
        out += [f"## {title}", ""] if md else [title.upper()]
        if table.empty:
            out.append("(none)")
        else:
            out.append(markdown_table(table) if md else table.to_string(index=False))
    out += ["", "## Notes", ""] if md else ["", "NOTES"]
    out += [f"- {note}" if md else textwrap.fill(note, width=110, initial_indent="- ", subsequent_indent="  ")
            for note in report.notes]
    return "\n".join(out) + "\n"
