"""One verdict table for a sweep: the stationarity verdicts of every run beside its factor values.

``sweep_verdicts(sweep)`` builds the stationarity report of all the sweep's runs at
once (:func:`~analysis.stationarity.report.stationarity_report`, so the verdicts are
exactly those of ``landscape report``) and lays the verdicts out as one table: the
factor columns first, then one row per run and network with its last stage's
verdict, the whole run's, the last stage's median gradient norm and, where the runs
measured sample quality, the last Inception Score and class KL. Runs of the index
without iterations (pending, failed, just started) get one row with their status.
A second, small table counts the verdicts per value of the first factor.
"""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.stationarity.render import markdown_table, records
from analysis.stationarity.report import StationarityReport, stationarity_report
from analysis.stationarity.trend import APPROACHING, MOVING_AWAY, NO_TREND, SMALL_TREND, TOO_SHORT
from landscape.errors import LandscapeError
from landscape.metric_names import METRIC_SHORT, METRIC_TITLES
from landscape.reader import RunCollection, as_runs
from landscape.stages import DEFAULT_STAGES

#: Sample-quality metrics whose last value the table shows, when any run measured them.
QUALITY_METRICS = ("inception_score", "class_kl")
#: Verdicts in the order the summary counts them.
VERDICT_ORDER = (APPROACHING, SMALL_TREND, NO_TREND, MOVING_AWAY, TOO_SHORT)
#: Column headers of the text and Markdown tables.
HEADERS = {"grad_norm_median": "grad median (last stage)", "whole_run": "whole run",
           "inception_score": METRIC_SHORT["inception_score"], "class_kl": METRIC_TITLES["class_kl"],
           "median_grad_norm": "median grad (last stage)"}


@dataclass
class SweepVerdicts:
    """The verdicts of a sweep's runs, one table, with the factor values as its first columns.

    ``table``: one row per (run, network): the factors, ``run``, ``network``,
    ``status``, ``verdict`` (the last stage's trend of the log gradient norm),
    ``whole_run`` (the same over the whole run), ``grad_norm_median`` (the last
    stage's median gradient norm) and the last value of each of
    :data:`QUALITY_METRICS` the runs measured (per run, so the same on its network rows).
    ``summary``: per value of the first factor and network, the runs, how many got each
    verdict and ``median_grad_norm``, the median of their ``grad_norm_median``. ``report`` is the full report the
    verdicts come from (None when no run has iterations).
    """

    factors: tuple[str, ...]
    table: pd.DataFrame
    summary: pd.DataFrame
    report: StationarityReport | None
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content: the factors, the report's options, both tables as records, and the notes."""
        options = dict(self.report.options) if self.report is not None else {}
        return {"sweep": self.source, "factors": list(self.factors), "options": options,
                "verdicts": records(self.table), "summary": records(self.summary), "notes": list(self.notes)}

    def to_text(self) -> str:
        """The verdict table (and the summary) as plain text."""
        return self._render(markdown=False)

    def to_markdown(self) -> str:
        """The verdict table (and the summary) as Markdown."""
        return self._render(markdown=True)

    def _render(self, markdown: bool) -> str:
        runs = self.table["run"].nunique()
        head = (f"{self.source}: " if self.source else "") + f"{runs} run(s)"
        head += f"; factors {', '.join(self.factors)}" if self.factors else ""
        title = "Verdicts: the last stage's trend of the log gradient norm, per run and network"
        by = f"By {self.factors[0]}: verdict counts and the median last-stage gradient norm" if self.factors else ""

        def table(frame: pd.DataFrame) -> str:
            return markdown_table(_shown(frame)) if markdown else _shown(frame).to_string(index=False)

        def heading(text: str) -> list[str]:
            return ["", f"## {text}", ""] if markdown else ["", text.upper()]

        out = ["# Sweep stationarity report", "", head] if markdown else ["SWEEP STATIONARITY REPORT", head]
        out += [*heading(title), table(self.table)]
        if not self.summary.empty:
            out += [*heading(by), table(self.summary)]
        if self.notes:
            out += heading("Notes")
            out += [f"- {note}" if markdown else textwrap.fill(note, width=110, initial_indent="- ",
                                                              subsequent_indent="  ") for note in self.notes]
        return "\n".join(out) + "\n"


def _cell(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if isinstance(value, (float, np.floating)):
        return format(float(value), ".3g")
    return str(value)


def _shown(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as strings for reading: numbers to 3 significant digits, missing values as '-'."""
    shown = frame.astype(object).map(_cell) if len(frame) else frame.astype(object)
    return shown.rename(columns=HEADERS)


def _setting(value: Any) -> Any:
    """A config value as a table cell (lists as JSON, as stacked frames hold them)."""
    if isinstance(value, np.generic):
        value = value.item()
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _resolve(data: Any, factors: Any) -> tuple[RunCollection, tuple[str, ...], pd.DataFrame | None, str]:
    """The runs, the factors, the sweep's index (None for plain runs) and how to name the source."""
    from landscape.sweeps.index import Sweep, is_sweep_folder, open_sweep

    if isinstance(data, (str, os.PathLike)) and is_sweep_folder(data):
        data = open_sweep(data)
    if isinstance(data, Sweep):
        runs, index, source = data, data.index, str(data.folder)
        known = tuple(data.factors)
    else:
        runs, index, source = as_runs(data), None, ""
        if not runs:
            raise LandscapeError("No runs to report on; pass a sweep or at least one run.")
        keys = list(dict.fromkeys(key for run in runs for key in run.config))
        known = tuple(key for key in keys if len({repr(_setting(run.config.get(key))) for run in runs}) > 1)
    if factors is None:
        return runs, known, index, source
    factors = (factors,) if isinstance(factors, str) else tuple(factors)
    settings = set(known) | {key for run in runs for key in run.config}
    for name in factors:
        if name not in settings:
            listed = ", ".join(known) if known else "none (the runs share every setting)"
            raise LandscapeError(f"Unknown factor {name!r}; the factors are {listed}.")
    return runs, factors, index, source


def _last_quality(run: Any) -> dict[str, float]:
    """The last measured value of each of :data:`QUALITY_METRICS` in a run."""
    quality = run.quality
    if quality.empty:
        return {}
    quality = quality[quality["metric"].isin(QUALITY_METRICS)].sort_values("step", kind="stable")
    return {str(metric): float(value) for metric, value in quality.groupby("metric")["value"].last().items()}


def sweep_verdicts(data: Any, *, factors: str | tuple[str, ...] | list[str] | None = None, stages: int = DEFAULT_STAGES,
                   **options: Any) -> SweepVerdicts:
    """The stationarity verdicts of a sweep's runs as one table, factor columns first.

    ``data`` is a sweep (:func:`landscape.sweeps.open_sweep`) or its folder's path, or
    a RunCollection or list of runs or run-file paths; ``factors`` default to the
    sweep's (for plain runs: the config settings they differ in). ``stages`` and
    ``options`` are :func:`~analysis.stationarity.report.stationarity_report`'s
    (``absolute_threshold``, ``alpha``, ``window``, ...), so the verdicts are those
    ``landscape report`` gives each run. Runs without iterations are not tested: they
    get one row with their status (a sweep's pending or failed runs, from its index).
    """
    runs, factors, index, source = _resolve(data, factors)
    ready = RunCollection(run for run in runs if run.n_iterations > 0)
    report = stationarity_report(ready, stages=stages, **options) if ready else None

    values: dict[str, dict[str, Any]] = {}
    status: dict[str, str] = {}
    reasons: dict[str, str] = {}
    names: list[str] = []
    if index is not None:
        for row in index.to_dict("records"):
            name = str(row["run"])
            names.append(name)
            values[name] = {f: _setting(row.get(f)) for f in factors}
            status[name] = str(row.get("status"))
            reason = row.get("reason")
            if isinstance(reason, str) and reason.strip():
                reasons[name] = reason.strip()
    for run in runs:
        if run.name not in values:
            names.append(run.name)
        index_values = values.get(run.name, {})
        values[run.name] = {f: index_values.get(f, _setting(run.config.get(f))) for f in factors}
        status[run.name] = run.status  # the run file knows best (the index lags a running sweep)

    verdicts = report.verdicts if report is not None else pd.DataFrame(columns=["run", "network"])
    summary = report.summary if report is not None else pd.DataFrame(columns=["run", "network", "stage"])
    by_run = {run.name: run for run in ready}
    quality = {name: _last_quality(run) for name, run in by_run.items()}
    metrics = [m for m in QUALITY_METRICS if any(m in q for q in quality.values())]

    rows = []
    for name in names:
        base = {**values[name], "run": name}
        mine = verdicts[verdicts["run"] == name]
        if name not in by_run or mine.empty:
            rows.append({**base, "network": None, "status": status.get(name), "verdict": None, "whole_run": None,
                         "grad_norm_median": np.nan, **{m: np.nan for m in metrics}})
            continue
        for v in mine.to_dict("records"):
            last = summary[(summary["run"] == name) & (summary["network"] == v["network"])
                           & (summary["stage"] == v["stage"])]
            rows.append({**base, "network": v["network"], "status": status.get(name), "verdict": v["verdict"],
                         "whole_run": v["whole_run"],
                         "grad_norm_median": float(last["grad_norm_median"].iloc[0]) if len(last) else np.nan,
                         **{m: quality[name].get(m, np.nan) for m in metrics}})
    columns = [*factors, "run", "network", "status", "verdict", "whole_run", "grad_norm_median", *metrics]
    table = pd.DataFrame(rows, columns=columns)

    notes = []
    if report is not None:
        notes.append(f"verdict: the trend of the log gradient norm in the last of {report.options['stages']} stages "
                     "(Mann-Kendall and Theil-Sen, as `landscape report`); whole run: the same over every iteration; "
                     "grad median: the last stage's median gradient norm"
                     + (f"; {', '.join(metrics)}: the last measurement" if metrics else "") + ".")
    waiting = [name for name in names if name not in by_run]
    if waiting:
        notes.append(f"{len(waiting)} run(s) have no iterations to test yet: "
                     + ", ".join(f"{n} ({status.get(n)}{': ' + reasons[n] if n in reasons else ''})"
                                 for n in waiting[:5]) + (", ..." if len(waiting) > 5 else "") + ".")
    return SweepVerdicts(tuple(factors), table, _summary(table, factors), report, source, notes)


def _summary(table: pd.DataFrame, factors: tuple[str, ...]) -> pd.DataFrame:
    """Per value of the first factor (in table order) and network: runs, verdict counts, median last-stage norm."""
    tested = table[table["verdict"].notna()]
    if not factors or tested.empty:
        return pd.DataFrame()
    first = factors[0]
    present = [v for v in VERDICT_ORDER if v in set(tested["verdict"])]
    present += [v for v in dict.fromkeys(tested["verdict"]) if v not in present]
    rows = []
    for (value, network), part in tested.groupby([first, "network"], sort=False, dropna=False):
        counts = part["verdict"].value_counts()
        rows.append({first: value, "network": network, "runs": int(part["run"].nunique()),
                     **{v: int(counts.get(v, 0)) for v in present},
                     "median_grad_norm": float(part["grad_norm_median"].median())})
    return pd.DataFrame(rows)


__all__ = ["QUALITY_METRICS", "SweepVerdicts", "sweep_verdicts"]
