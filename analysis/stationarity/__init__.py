"""Stationarity reports: is GAN training approaching a stationary point, per network and stage?

``stationarity_report(run)`` builds every table (summaries, near-stationary
counts, trend tests, stagnation, curvature) and a verdict per network;
``gradnormplot`` (axes-level) / ``stationarity_figure`` draw gradient norm against
iteration with the stages shaded; ``sweep_verdicts(sweep)`` lays a sweep's verdicts
out as one table, factor columns first. The statistics also work on plain arrays
(:func:`trend_test`, :func:`stagnation_segments`).
"""

from analysis.stationarity.figure import gradnormplot, stationarity_figure
from analysis.stationarity.report import StationarityReport, stationarity_report
from analysis.stationarity.sweep import SweepVerdicts, sweep_verdicts
from analysis.stationarity.stagnation import noise_level, stagnant_mask, stagnation_segments
from analysis.stationarity.trend import Trend, direction_verdict, stationarity_verdict, trend_test
from analysis.stationarity.verdicts import verdict_phrase

__all__ = [
    "StationarityReport",
    "SweepVerdicts",
    "Trend",
    "direction_verdict",
    "gradnormplot",
    "noise_level",
    "stagnant_mask",
    "stagnation_segments",
    "stationarity_report",
    "stationarity_figure",
    "stationarity_verdict",
    "sweep_verdicts",
    "trend_test",
    "verdict_phrase",
]
