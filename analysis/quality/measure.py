"""Measuring a generator's sample quality: generate, classify, compare with the real test set.

``measure_generator(g, config, reference)`` draws ``n`` images from a generator
(a fixed, seeded z, so two measurements of one run differ only by the weights),
passes them through the dataset's domain classifier and computes every metric of
:mod:`analysis.quality.metrics` against the real test set of the
:class:`~analysis.quality.classifiers.QualityReference`. A 2-D toy needs no
classifier: its exact measure is another measurement kind,
:class:`~analysis.quality.toy_coverage.ToyCoverage`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from analysis.quality import metrics
from analysis.quality.classifiers import PRDC_K, QualityReference, check_sample_size
from landscape.data.toys import is_toy
from landscape.errors import LandscapeError
from landscape.metric_names import HIGHER_IS_BETTER, IMAGE_METRICS, METRIC_SHORT, METRIC_TITLES  # re-exported:
# the metric table is landscape.metric_names' (one row per metric); these names stay importable from here

#: Images generated per forward pass.
GENERATE_BATCH = 1000


def measure_outputs(probs: Any, features: Any, reference: QualityReference, n_real: int | None = None) -> dict[str, float]:
    """Every image metric of generated images given their classifier outputs (probabilities, penultimate features)."""
    real = reference.real_side(n_real)
    probs = np.asarray(probs, dtype=np.float64)
    features = np.asarray(features, dtype=np.float32)
    p_gen = metrics.class_distribution(probs, reference.n_classes)
    mu, sigma = metrics.feature_statistics(features)
    values = {
        "inception_score": metrics.inception_score(probs),
        "class_kl": metrics.class_kl(p_gen, real["p_real"]),
        "classes_covered": metrics.classes_covered(p_gen, real["p_real"]),
        "frechet_distance": metrics.frechet_distance(mu, sigma, real["mu"], real["sigma"]),
    }
    values["kid"], values["kid_std"] = metrics.kernel_inception_distance(
        real["features"], features, real_sums=reference.kid_real_sums(n_real, int(features.shape[0])))
    values.update(metrics.prdc(real["features"], features, k=PRDC_K, real_radii=real["radii"]))
    return {name: float(values[name]) for name in IMAGE_METRICS}


def measure_images(images: Any, reference: QualityReference, n_real: int | None = None) -> dict[str, float]:
    """Every image metric of a batch of images (uint8, or float in [-1, 1]; N x C x H x W)."""
    from trainers.classifier import classify

    images = torch.as_tensor(images)
    check_sample_size(int(images.shape[0]), reference, "generated")
    probs, features = classify(reference.model_on(images.device), images)
    return measure_outputs(probs.cpu().numpy(), features.cpu().numpy(), reference, n_real)


def generate(g: torch.nn.Module, config: Any, n: int, *, seed: int = 0, n_classes: int = 10) -> torch.Tensor:
    """``n`` samples of a generator in inference mode, from a z drawn with ``seed`` (the run's z distribution);
    a conditional generator is asked for every class equally often. Training mode is restored afterwards."""
    from trainers.loop import sample_z

    cfg = _config(config)
    device = next(g.parameters()).device
    rng = torch.Generator().manual_seed(int(seed))
    z = sample_z(n, cfg, torch.device("cpu"), rng)
    labels = torch.arange(n) % n_classes if cfg.conditional else None
    was_training = g.training
    g.eval()
    out = []
    try:
        with torch.inference_mode():
            for start in range(0, n, GENERATE_BATCH):
                zb = z[start : start + GENERATE_BATCH].to(device)
                if labels is None:
                    out.append(g(zb).float())
                else:
                    out.append(g(zb, labels[start : start + GENERATE_BATCH].to(device)).float())
    finally:
        g.train(was_training)
    return torch.cat(out)


def measure_generator(
    g: torch.nn.Module,
    config: Any,
    reference: QualityReference | None = None,
    *,
    n: int | None = None,
    n_real: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """The sample quality of image generator ``g`` of a run with ``config`` (a TrainConfig or its dict).

    ``n`` generated images (default ``config.quality_samples``) against ``n_real`` real test
    images (default: all) in ``reference``'s terms. A 2-D toy's quality is
    :class:`~analysis.quality.toy_coverage.ToyCoverage`'s, without a classifier.
    """
    cfg = _config(config)
    if is_toy(cfg.dataset):
        raise LandscapeError(f"{cfg.dataset} is a 2-D toy: its quality is the exact measure of "
                             "analysis.quality.toy_coverage.ToyCoverage, not a classifier's.")
    if reference is None:
        raise ValueError("an image dataset's quality needs its QualityReference (analysis.quality.get_reference)")
    n = int(n if n is not None else cfg.quality_samples)
    check_sample_size(n, reference, "generated")
    if n_real is not None:
        check_sample_size(int(n_real), reference, "real")
    images = generate(g, cfg, n, seed=seed, n_classes=reference.n_classes)
    return measure_images(images, reference, n_real)


def sample_sizes(config: Any, reference: QualityReference, n: int | None = None,
                 n_real: int | None = None) -> tuple[int, int]:
    """(generated, real) sample sizes a measurement of an image run with ``config`` uses."""
    cfg = _config(config)
    return int(n if n is not None else cfg.quality_samples), int(n_real if n_real is not None else reference.n_real)


def describe(values: dict[str, float]) -> str:
    """``IS 8.91, class KL 0.012, 10 classes, FD 4.1, KID 0.0021, precision 0.81, recall 0.62`` (or a toy's modes)."""
    if "modes_covered" in values:
        return f"{int(values['modes_covered'])} modes covered, {100 * values['high_quality']:.0f}% high quality"
    return (f"IS {values['inception_score']:.2f}, class KL {values['class_kl']:.3f}, "
            f"{int(values['classes_covered'])} classes, FD {values['frechet_distance']:.3g}"
            + (f", KID {values['kid']:.3g}" if "kid" in values else "") + ", "
            f"precision {values['precision']:.2f}, recall {values['recall']:.2f}")


def _config(config: Any) -> Any:
    from landscape.config import TrainConfig

    if isinstance(config, TrainConfig):
        return config
    return TrainConfig.from_dict(dict(config), strict=False)


__all__ = [
    "HIGHER_IS_BETTER",
    "IMAGE_METRICS",
    "METRIC_SHORT",
    "METRIC_TITLES",
    "describe",
    "generate",
    "measure_generator",
    "measure_images",
    "measure_outputs",
    "sample_sizes",
]
