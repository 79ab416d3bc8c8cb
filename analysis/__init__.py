"""Analysis of recorded runs: loss-gradient clouds, Hessian eigenvalues, stationarity reports.

Reads run files through ``landscape.reader`` only (never h5py).

The main functions are importable from here (``from analysis import lgc_figure``) as well
as from their modules (``analysis.lgc.lgc_figure``). They are imported on first use, so
``import analysis`` stays cheap (matplotlib, scipy and torch load only when a function
that needs them is used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it.
_LAZY = {
    # loss-gradient clouds and timelines
    "lgcplot": "analysis.lgc",
    "lgc_figure": "analysis.lgc",
    "lgc_grid": "analysis.lgc",
    "LGCGrid": "analysis.lgc",
    "readable_log_ticks": "analysis.lgc",
    "timelineplot": "analysis.timeline",
    "timeline_figure": "analysis.timeline",
    "qualityplot": "analysis.timeline",
    "stage_colors": "analysis.palettes",
    # Hessian eigenvalues
    "HessianEstimates": "analysis.hessian",
    "read_estimates": "analysis.hessian",
    "hessian_figure": "analysis.hessian.plot",
    # loss surfaces and gradient walks
    "compute_surface": "analysis.surface",
    "read_surface": "analysis.surface",
    "surfaceplot": "analysis.surface",
    "walkplot": "analysis.surface",
    "eigenvalueplot": "analysis.hessian.plot",
    "densityplot": "analysis.hessian.plot",
    # stationarity
    "stationarity_report": "analysis.stationarity",
    "StationarityReport": "analysis.stationarity",
    "stationarity_figure": "analysis.stationarity",
    "gradnormplot": "analysis.stationarity",
    "sweep_verdicts": "analysis.stationarity",
    # sample quality
    "ImageQuality": "analysis.quality",
    "ToyCoverage": "analysis.quality",
    "measure_checkpoint": "analysis.quality",
    "measure_generator": "analysis.quality",
    "get_reference": "analysis.quality",
    "quality_frame": "analysis.quality",
    "stage_quality": "analysis.quality",
    "quality_changes": "analysis.quality",
    # samples, toys, the measurements a recorded run makes
    "samples_figure": "analysis.samples",
    "toyplot": "analysis.toys",
    "coverageplot": "analysis.toys",
    "for_run": "analysis.measurements",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from analysis.hessian import HessianEstimates, read_estimates
    from analysis.hessian.plot import densityplot, eigenvalueplot, hessian_figure
    from analysis.measurements import for_run
    from analysis.lgc import LGCGrid, lgc_figure, lgc_grid, lgcplot, readable_log_ticks
    from analysis.palettes import stage_colors
    from analysis.quality import (
        ImageQuality,
        ToyCoverage,
        get_reference,
        measure_checkpoint,
        measure_generator,
        quality_changes,
        quality_frame,
        stage_quality,
    )
    from analysis.samples import samples_figure
    from analysis.surface import compute_surface, read_surface, surfaceplot, walkplot
    from analysis.stationarity import (
        StationarityReport,
        gradnormplot,
        stationarity_figure,
        stationarity_report,
        sweep_verdicts,
    )
    from analysis.timeline import qualityplot, timeline_figure, timelineplot
    from analysis.toys import coverageplot, toyplot


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
