"""The sample-quality metrics, one row each: the single owner of their names, titles and display rules.

Every module that names a quality metric (the measurement in ``analysis.quality``, the stage tables,
the timeline's quality panel, the report and sweep tables, the LGC legends, ``landscape quality``'s
table) reads it from :data:`QUALITY_METRICS`, never restates it.

**A new metric is one new row** of :data:`QUALITY_METRICS` (name, title, short column name, whether a
larger value is better, which datasets it is measured on, and the smallest y span a timeline panel
shows): ``IMAGE_METRICS``, ``TOY_METRICS``, ``METRIC_TITLES``, ``METRIC_SHORT``, ``HIGHER_IS_BETTER``,
``COUNTED`` and ``QUALITY_SPANS`` follow. (Computing it is :mod:`analysis.quality.metrics`' and
:func:`analysis.quality.measure.measure_outputs`'.)

Core (no torch, no analysis): the 2-D toys' exact measure in :mod:`landscape.data.toys` uses the
names too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QualityMetric:
    """One sample-quality metric as stored in a run file's ``/quality`` group and shown everywhere."""

    #: The stored name (a ``/quality`` attribute, ``Run.quality``'s ``metric`` column).
    name: str
    #: Display name (tables, figure labels): ``"Inception Score"``.
    title: str
    #: Short column name for narrow tables (terminal output): ``"IS"``.
    short: str
    #: Whether a larger value is better (None: neither, e.g. density's ideal is 1).
    higher_is_better: bool | None
    #: ``"image"`` (a domain classifier's measure of an image run), ``"toy"`` (a 2-D toy's exact measure) or
    #: ``"inception"`` (papers' Inception-v3 FID, measured on request only and stored as ``/inception/<step>``).
    kind: str
    #: The smallest y span a timeline's quality panel shows for it and its floor (None: none): a change of 1e-4
    #: in the Inception Score must look like nothing, not fill the panel. About a tenth of its usual range.
    span: tuple[float, float | None]
    #: A count (classes, modes), shown as a whole number.
    counted: bool = False


#: THE table: every quality metric, in display order (image metrics first, as a measurement stores them).
QUALITY_METRICS: tuple[QualityMetric, ...] = (
    QualityMetric("inception_score", "Inception Score", "IS", True, "image", (0.5, 1.0)),
    QualityMetric("class_kl", "class KL", "KL", False, "image", (0.2, 0.0)),
    QualityMetric("classes_covered", "classes covered", "classes", True, "image", (2.0, 0.0), counted=True),
    QualityMetric("frechet_distance", "Frechet distance", "FD", False, "image", (1.0, 0.0)),
    QualityMetric("kid", "KID", "KID", False, "image", (0.01, None)),  # unbiased: slightly negative when alike
    QualityMetric("kid_std", "KID std", "KID sd", None, "image", (0.001, 0.0)),
    QualityMetric("precision", "precision", "prec.", True, "image", (0.1, 0.0)),
    QualityMetric("recall", "recall", "recall", True, "image", (0.1, 0.0)),
    QualityMetric("density", "density", "dens.", None, "image", (0.1, 0.0)),
    QualityMetric("coverage", "coverage", "cover.", True, "image", (0.1, 0.0)),
    # papers' FID (Inception-v3 features, analysis.quality.inception_fd), stored apart as /inception/<step>
    QualityMetric("inception_fd", "Inception FD (papers' FID)", "FID", False, "inception", (1.0, 0.0)),
    QualityMetric("modes_covered", "modes covered", "modes", True, "toy", (2.0, 0.0), counted=True),
    QualityMetric("high_quality", "high-quality fraction", "HQ", True, "toy", (0.1, 0.0)),
)

_BY_NAME = {m.name: m for m in QUALITY_METRICS}

#: What a measurement on an image dataset stores, in display order.
IMAGE_METRICS: tuple[str, ...] = tuple(m.name for m in QUALITY_METRICS if m.kind == "image")
#: What a 2-D toy's exact measure stores.
TOY_METRICS: tuple[str, ...] = tuple(m.name for m in QUALITY_METRICS if m.kind == "toy")
#: Display names of every metric (tables, figure labels).
METRIC_TITLES: dict[str, str] = {m.name: m.title for m in QUALITY_METRICS}
#: Short column names for narrow tables (terminal output).
METRIC_SHORT: dict[str, str] = {m.name: m.short for m in QUALITY_METRICS}
#: Whether a larger value is better (None: neither, e.g. density's ideal is 1).
HIGHER_IS_BETTER: dict[str, bool | None] = {m.name: m.higher_is_better for m in QUALITY_METRICS}
#: The metrics that count something (shown as whole numbers).
COUNTED: tuple[str, ...] = tuple(m.name for m in QUALITY_METRICS if m.counted)
#: Per metric, the smallest y span a timeline's quality panel shows and the metric's floor.
QUALITY_SPANS: dict[str, tuple[float, float | None]] = {m.name: m.span for m in QUALITY_METRICS}

#: The two metrics each kind of run is judged by first (stage tables, the report's findings, a timeline's quality
#: panel: left axis, right axis): how far the class mix is from the real one and how many classes it covers; a toy's
#: modes and high-quality fraction.
PRIMARY: dict[str, tuple[str, str]] = {"image": ("class_kl", "classes_covered"),
                                       "toy": ("high_quality", "modes_covered")}
#: The two metrics a timeline's quality panel shows by default: left axis, right axis.
TIMELINE_QUALITY: dict[str, tuple[str, str]] = {"image": ("class_kl", "inception_score"),
                                                "toy": ("modes_covered", "high_quality")}


def metric(name: str) -> QualityMetric:
    """The row of metric ``name`` (a KeyError for a name that is not a quality metric)."""
    return _BY_NAME[name]


def metric_title(name: str) -> str:
    """The display name of ``name``; an unknown name (a metric a newer landscape stored) as it is."""
    row = _BY_NAME.get(name)
    return row.title if row is not None else name


__all__ = ["COUNTED", "HIGHER_IS_BETTER", "IMAGE_METRICS", "METRIC_SHORT", "METRIC_TITLES", "PRIMARY",
           "QUALITY_METRICS", "QUALITY_SPANS", "QualityMetric", "TIMELINE_QUALITY", "TOY_METRICS", "metric",
           "metric_title"]
