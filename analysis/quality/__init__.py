"""Sample quality of generators, measured next to the landscape: ``analysis.quality``.

- :mod:`~analysis.quality.metrics`: the metrics on a domain classifier's outputs: classifier Inception
  Score, class distribution, KL and coverage, Frechet distance of features, precision / recall /
  density / coverage (each with its formula and reference);
- :mod:`~analysis.quality.classifiers`: the per-dataset domain classifiers, trained once and cached
  (:func:`get_reference`), with the real test set's features they compare against;
- :mod:`~analysis.quality.measure`: generate, classify, compute every metric (:func:`measure_generator`);
- :mod:`~analysis.quality.measurement`: image quality as a measurement kind (``record(..., measurements=[ImageQuality(ref)])``);
- :mod:`~analysis.quality.toy_coverage`: a 2-D toy's exact quality as a measurement kind (:class:`ToyCoverage`);
- :mod:`~analysis.quality.checkpoints`: the measurement at a run's checkpoints, stored atomically;
- :mod:`~analysis.quality.stages`: quality per training stage beside the landscape, and where it changes most.
"""

from analysis.quality.metrics import (
    class_distribution,
    class_kl,
    classes_covered,
    feature_statistics,
    frechet_distance,
    inception_score,
    inception_score_std,
    knn_radii,
    prdc,
)
from analysis.quality.classifiers import (QualityReference, get_reference, load_reference, resolve_reference,
                                         train_reference)
from analysis.quality.measure import IMAGE_METRICS, METRIC_TITLES, measure_generator, measure_images
from analysis.quality.measurement import ImageQuality
from analysis.quality.toy_coverage import TOY_METRICS, ToyCoverage
from analysis.quality.checkpoints import measure_checkpoint
from analysis.quality.stages import quality_changes, quality_frame, stage_quality

__all__ = [
    "IMAGE_METRICS",
    "ImageQuality",
    "METRIC_TITLES",
    "QualityReference",
    "TOY_METRICS",
    "ToyCoverage",
    "class_distribution",
    "class_kl",
    "classes_covered",
    "feature_statistics",
    "frechet_distance",
    "get_reference",
    "inception_score",
    "inception_score_std",
    "knn_radii",
    "load_reference",
    "measure_checkpoint",
    "measure_generator",
    "measure_images",
    "prdc",
    "quality_changes",
    "quality_frame",
    "resolve_reference",
    "stage_quality",
    "train_reference",
]
