"""Sample quality of generators, from a domain classifier's outputs: ``analysis.quality``.

:mod:`~analysis.quality.metrics`: inception score, class distribution, KL and
coverage, Fréchet distance of features, precision / recall / density / coverage.
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

__all__ = [
    "class_distribution",
    "class_kl",
    "classes_covered",
    "feature_statistics",
    "frechet_distance",
    "inception_score",
    "inception_score_std",
    "knn_radii",
    "prdc",
]
