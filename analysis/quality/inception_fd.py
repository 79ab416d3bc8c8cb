"""Inception FD: the Fréchet distance papers call FID, between generated images and a dataset's real test images.

The toolkit's own ``frechet_distance`` is measured in a small domain classifier's features
and compares only with itself; this is the number papers report for CIFAR-10: the Fréchet
distance (:func:`frechet_distance_psd`, the same formula) of the 2,048 pool features of
papers' Inception-v3 (:mod:`analysis.quality.inception`, torch-fidelity's network and the
weights file the user downloaded). Images go in as uint8 RGB, as a PNG would hold them
(generated images in [-1, 1] are rounded to 0..255; grey images repeat their channel).

The real side (the features' mean and covariance of the test images, the dataset's
fixed subset for ``n_real``) costs as much as the generated side, minutes on a CPU, so it
is cached under ``<landscape cache>/inception/``, keyed by the images and the weights.
A measurement of a run's checkpoint is stored as ``/inception/<step>`` (``inception_fd``,
``n``, ``n_real``, ``epoch``, ``seconds`` and ``classifier``: the weights by SHA-256), read
back with ``open_run(path).measurements("inception")``: kept apart from ``/quality``, whose
rows are the domain classifier's.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

import numpy as np

from analysis.quality.inception import BATCH, InceptionWeights, check_inception_weights, load_inception
from analysis.quality.metrics import feature_statistics
from landscape.errors import LandscapeError
from landscape.weights import WeightsFileError, cache_dir, load_weights, save_weights

#: The run-file group (``/inception/<step>``) and ``Run.measurements`` kind of Inception FD measurements.
KIND = "inception"
#: The metric's stored name: never ``frechet_distance`` (the domain classifier's, not comparable with papers).
METRIC = "inception_fd"
#: The ``kind`` of a cached real-side statistics file.
REAL_KIND = "inception-real-statistics"


def to_uint8_rgb(images: Any) -> Any:
    """N x C x H x W images (uint8, or float in [-1, 1]) as uint8 N x 3 x H x W: floats rounded to 0..255 as a PNG
    would store them, one channel repeated three times."""
    import torch

    x = torch.as_tensor(images)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise LandscapeError(f"Inception FD needs N x C x H x W images with 1 or 3 channels, got {tuple(x.shape)}.")
    if x.dtype != torch.uint8:
        x = ((x.float().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def inception_features(model: Any, images: Any, *, batch: int = BATCH) -> np.ndarray:
    """The 2,048 pool features (N x 2048, float64) of ``images`` under ``model`` (:func:`load_inception`)."""
    import torch

    device = next(model.parameters()).device
    x = to_uint8_rgb(images)
    out = []
    with torch.inference_mode():
        for start in range(0, int(x.shape[0]), batch):
            (features,) = model(x[start : start + batch].to(device))
            out.append(features.double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 2048))


def psd_sqrt(sigma: Any) -> np.ndarray:
    """The symmetric square root of a covariance (eigenvalues below 0 from rounding taken as 0)."""
    w, v = np.linalg.eigh(np.asarray(sigma, dtype=np.float64))
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance_psd(mu: Any, sigma: Any, mu_real: Any, sigma_real: Any, root_real: Any = None) -> float:
    """The Fréchet distance of :func:`analysis.quality.metrics.frechet_distance`, through symmetric eigenvalues.

    d^2 = ||mu - mu_r||^2 + Tr(sigma) + Tr(sigma_r) - 2 Tr (R sigma R)^{1/2},  R = sigma_r^{1/2},

    as sigma sigma_r and R sigma R have the same eigenvalues. Exact for singular covariances too (fewer images than
    2,048 features), where ``scipy.linalg.sqrtm`` of the product fails and is retried with ``eps * I``; and about ten
    times faster at D = 2,048 (two symmetric eigendecompositions, one of them cached with the real side as
    ``root_real``) than the two 15 s ``sqrtm`` calls of a singular 2,048 x 2,048 product on one thread here.
    """
    mu, mu_real = np.asarray(mu, dtype=np.float64), np.asarray(mu_real, dtype=np.float64)
    sigma, sigma_real = np.asarray(sigma, dtype=np.float64), np.asarray(sigma_real, dtype=np.float64)
    root = psd_sqrt(sigma_real) if root_real is None else np.asarray(root_real, dtype=np.float64)
    inner = root @ sigma @ root
    eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    diff = mu - mu_real
    d2 = float(diff @ diff + np.trace(sigma) + np.trace(sigma_real) - 2.0 * np.sqrt(np.clip(eigenvalues, 0, None)).sum())
    return max(d2, 0.0)


def real_indices(total: int, n_real: int | None = None) -> np.ndarray:
    """Which of ``total`` test images a real side of ``n_real`` uses: all, or a fixed random subset (seed 0), as the
    domain classifier's reference picks them."""
    n = total if n_real is None else int(n_real)
    if not 2 <= n <= total:
        raise LandscapeError(f"The real side needs between 2 and {total} test images, got {n}.")
    return np.arange(total) if n == total else np.sort(np.random.default_rng(0).permutation(total)[:n])


def real_statistics(dataset: str, weights: InceptionWeights, model: Any, *, n_real: int | None = None,
                    data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Mean, covariance and the covariance's square root of the Inception features of ``dataset``'s test images
    (``n_real`` of them, default all), and their number: computed once per images and weights, then cached."""
    from landscape.data import load_dataset

    test = load_dataset(dataset, root=data_dir, split="test")
    chosen = real_indices(len(test), n_real)
    images = test.images[chosen]
    digest = hashlib.sha256(np.ascontiguousarray(images.numpy()).tobytes()).hexdigest()
    path = cache_dir() / "inception" / f"real-{test.name}-{len(chosen)}-{digest[:16]}-{weights.sha256[:16]}.h5"
    if path.is_file():
        try:
            arrays, meta = load_weights(path)
            if meta.get("kind") == REAL_KIND and meta.get("weights") == weights.sha256 and meta.get("images") == digest:
                return arrays["mu"], arrays["sigma"], arrays["root"], int(meta["n"])
        except WeightsFileError:
            pass  # a damaged cache file is computed again
    mu, sigma = feature_statistics(inception_features(model, images))
    root = psd_sqrt(sigma)
    save_weights(path, {"mu": mu, "sigma": sigma, "root": root},
                 {"kind": REAL_KIND, "dataset": test.name, "n": len(chosen), "images": digest,
                  "weights": weights.sha256})
    return mu, sigma, root, len(chosen)


def inception_fd(
    images: Any,
    dataset: str,
    weights: str | os.PathLike | InceptionWeights | None = None,
    *,
    n_real: int | None = None,
    data_dir: str | os.PathLike | None = None,
    device: Any = "cpu",
    allow_other: bool = False,
) -> tuple[float, int]:
    """Papers' FID of ``images`` (N x C x H x W, uint8 or float in [-1, 1]) against ``dataset``'s test images, and
    the number of real images used.

    ``weights``: the Inception weights file (default :func:`~analysis.quality.inception.inception_weights_path`),
    refused in one sentence when missing, not papers' file (unless ``allow_other``) or not Inception-v3 weights.
    Compare values only at equal sample sizes: the FD is biased upwards at small n.
    """
    checked = weights if isinstance(weights, InceptionWeights) else check_inception_weights(weights,
                                                                                            allow_other=allow_other)
    model = load_inception(checked, device)
    if int(images.shape[0]) < 2:
        raise LandscapeError(f"Inception FD needs at least 2 generated images, got {int(images.shape[0])}.")
    mu_real, sigma_real, root_real, n = real_statistics(dataset, checked, model, n_real=n_real, data_dir=data_dir)
    mu, sigma = feature_statistics(inception_features(model, images))
    return frechet_distance_psd(mu, sigma, mu_real, sigma_real, root_real), n


def measure_inception_checkpoint(
    run: Any,
    step: int,
    weights: InceptionWeights,
    *,
    n: int | None = None,
    n_real: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    store: bool = True,
) -> dict[str, float]:
    """Papers' FID of the generator of ``run`` at checkpoint ``step`` (``n`` images, default the run's
    ``quality_samples``, from the seeded z the quality measurements use) against its dataset's test images; with
    ``store``, written atomically as ``/inception/<step>`` with the weights' identity."""
    from analysis.quality.checkpoints import check_rebuildable, epoch_of_step, load_generator
    from analysis.quality.measure import generate
    from landscape.amend import append_measurement
    from landscape.data.registry import get_spec
    from landscape.data.toys import is_toy
    from landscape.measurements import quality_record

    check_rebuildable(run)
    dataset = str(run.config["dataset"])
    if is_toy(dataset):
        raise LandscapeError(f"{dataset} is a 2-D toy: it has no images to measure Inception FD on.")
    start = time.monotonic()
    n = int(n if n is not None else run.config.get("quality_samples", 10_000))
    g = load_generator(run, step, device)
    images = generate(g, run.config, n, seed=seed, n_classes=len(get_spec(dataset).classes))
    value, used = inception_fd(images, dataset, weights, n_real=n_real, data_dir=run.config.get("data_dir"),
                               device=device)
    values = {METRIC: value}
    if store:
        record = quality_record(step, values, n, epoch_of_step(run, step),
                                {"n_real": used, "classifier": weights.identity, "seconds": time.monotonic() - start})
        append_measurement(run.path, KIND, record)
    return values


__all__ = ["KIND", "METRIC", "frechet_distance_psd", "inception_features", "inception_fd",
           "measure_inception_checkpoint", "psd_sqrt", "real_indices", "real_statistics", "to_uint8_rgb"]
