"""Stationarity reports: is GAN training approaching a stationary point, per network and stage?

``stationarity_report(run)`` builds every table (summaries, near-stationary
counts, trend tests, stagnation, curvature) and a verdict per network;
``plot_gradient_norm`` / ``report_figure`` draw gradient norm against iteration
with the stages shaded. The statistics also work on plain arrays
(:func:`trend_test`, :func:`stagnation_segments`).
"""

from analysis.stationarity.figure import plot_gradient_norm, report_figure
from analysis.stationarity.report import StationarityReport, stationarity_report
from analysis.stationarity.stagnation import noise_level, stagnant_mask, stagnation_segments
from analysis.stationarity.trend import Trend, direction_verdict, stationarity_verdict, trend_test

__all__ = [
    "StationarityReport",
    "Trend",
    "direction_verdict",
    "noise_level",
    "plot_gradient_norm",
    "report_figure",
    "stagnant_mask",
    "stagnation_segments",
    "stationarity_report",
    "stationarity_verdict",
    "trend_test",
]
