"""The domain classifiers behind the sample-quality metrics: trained once per dataset, cached, checked on load.

Inception-network metrics need weights downloaded at run time and mean little on
MNIST-like data, so landscape trains its own small CNN per dataset
(:mod:`trainers.classifier`: a fixed, seeded recipe) and compares generated images
with the real test set in that network's terms. A :class:`QualityReference` is one
such classifier together with what it saw on the real test set (penultimate
features, true labels), which every measurement compares against, so the real side
is computed once, at training time, and stored with the weights.

Cache: ``<cache>/classifiers/<dataset>-<recipe digest>-<data digest>.h5``
(:func:`landscape.weights.cache_dir`: ``$LANDSCAPE_CACHE``, else
``~/.cache/landscape``). The name changes with the recipe and with the data (a
re-encoded copy of a dataset gets its own classifier). Files are HDF5 without
pickle, with a SHA-256 digest checked on every load (:mod:`landscape.weights`).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from landscape.data.registry import canonical_name
from landscape.errors import DataError, LandscapeError
from landscape.weights import WeightsFileError, cache_dir, load_weights, save_weights

#: Neighbours of the k-NN balls of precision, recall, density and coverage (Naeem et al. 2020's default).
PRDC_K = 5
#: The ``kind`` of a domain classifier's weights file.
KIND = "domain-classifier"


def classifier_datasets() -> tuple[str, ...]:
    """The datasets that have a classifier recipe."""
    from trainers.classifier import RECIPES

    return tuple(RECIPES)


@dataclass
class QualityReference:
    """A trained domain classifier and the real test set's outputs it compares generated images against."""

    dataset: str
    model: Any  # trainers.classifier.DomainClassifier, eval mode, on the CPU
    meta: dict[str, Any]  # recipe, accuracy, seconds, digests, ... as stored
    real_features: np.ndarray  # (N, D) penultimate features of the real test images, float32
    real_labels: np.ndarray  # (N,) their true classes
    path: Path | None = None
    _stats: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)
    _models: dict[str, Any] = field(default_factory=dict, repr=False)
    _kid: dict[tuple[str, int, int], list[float]] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        """The cache key: dataset, recipe digest and data digest."""
        return str(self.meta["key"])

    @property
    def identity(self) -> str:
        """What a quality row names the classifier by: ``<name>@sha256:<digest of its weights file>`` (a shipped
        classifier: ``landscape-mnist-v1@sha256:...``; a cached or ``--out`` one: its cache key and file digest)."""
        return str(self.meta.get("identity") or self.meta["key"])

    @property
    def accuracy(self) -> float:
        """Held-out accuracy on the real test set."""
        return float(self.meta["test_accuracy"])

    @property
    def n_real(self) -> int:
        """Real test images available as the reference sample."""
        return int(self.real_labels.shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.meta["n_classes"])

    def real_indices(self, n_real: int | None = None) -> np.ndarray:
        """Which real test images a reference sample of ``n_real`` uses: all, or a fixed random subset
        (seed 0; the test sets are ordered, e.g. MNIST's first half is the easier one)."""
        n = self.n_real if n_real is None else int(n_real)
        check_sample_size(n, self, "real")
        if n == self.n_real:
            return np.arange(n)
        return np.sort(np.random.default_rng(0).permutation(self.n_real)[:n])

    def real_side(self, n_real: int | None = None) -> dict[str, Any]:
        """The reference sample's features (:meth:`real_indices`), their mean and covariance, k-NN radii and class
        shares. Computed once per sample size and kept."""
        from analysis.quality.metrics import feature_statistics, knn_radii

        n = self.n_real if n_real is None else int(n_real)
        if n not in self._stats:
            rows = self.real_indices(n)
            features = self.real_features[rows]
            mu, sigma = feature_statistics(features)
            counts = np.bincount(self.real_labels[rows], minlength=self.n_classes)
            radii = self._stored(f"radii-{n}", lambda: {"radii": knn_radii(features, PRDC_K)})["radii"]
            self._stats[n] = {"features": features, "mu": mu, "sigma": sigma, "radii": radii,
                              "p_real": counts / counts.sum()}
        return self._stats[n]

    def _stored(self, name: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Arrays derived from the real side only, kept on disk next to a shipped classifier's cached real side
        (``meta["real_cache"]``: ``derived/<its stem>-<name>.h5`` beside it) so that each run does not recompute them: the same numbers,
        computed once per machine. Without such a cache (or one that cannot be read or written): computed now."""
        stem = self.meta.get("real_cache")
        if not stem:
            return compute()
        path = Path(stem).parent / "derived" / f"{Path(stem).name}-{name}.h5"
        if path.is_file():
            try:
                arrays, meta = load_weights(path)
                if meta.get("kind") == "reference-derived" and meta.get("classifier") == self.identity:
                    return arrays
            except WeightsFileError:
                pass
        arrays = compute()
        try:
            save_weights(path, arrays, {"kind": "reference-derived", "classifier": self.identity, "name": name})
        except OSError:
            pass
        return arrays

    def kid_real_sums(self, n_real: int | None, n_generated: int) -> list[float]:
        """The real-real kernel sums of KID's default subsets (:func:`analysis.quality.metrics.kid_real_sums`) for
        ``n_generated`` generated images against the reference sample of ``n_real``: computed once, kept."""
        from analysis.quality import metrics

        n = self.n_real if n_real is None else int(n_real)
        key = ("kid", n, int(n_generated))
        if key not in self._kid:
            features = self.real_side(n)["features"]
            rows = [r for r, _ in metrics.kid_subsets(n, int(n_generated))]
            stored = self._stored(f"kid-{n}-{int(n_generated)}",
                                  lambda: {"sums": np.asarray(metrics.kid_real_sums(features, rows), dtype=np.float64)})
            self._kid[key] = [float(v) for v in stored["sums"]]
        return self._kid[key]

    def model_on(self, device: Any) -> Any:
        """The classifier on ``device`` (the CPU copy, or one copy per other device, made once)."""
        import torch

        device = torch.device(device)
        if device.type == "cpu":
            return self.model
        key = str(device)
        if key not in self._models:
            import copy

            self._models[key] = copy.deepcopy(self.model).to(device).eval()
        return self._models[key]


def check_sample_size(n: int, reference: QualityReference, side: str) -> None:
    """One sentence if ``n`` samples are more than the real test set holds (or too few for the k-NN metrics)."""
    what = "generated" if side == "generated" else "real"
    if n > reference.n_real:
        raise LandscapeError(f"{n} {what} samples are more than {reference.dataset}'s {reference.n_real} test images; "
                             f"use at most {reference.n_real}.")
    if n <= PRDC_K:
        raise LandscapeError(f"{n} {what} samples are too few: precision and recall need more than {PRDC_K}.")


# ---------------------------------------------------------------------- cache
def classifiers_dir() -> Path:
    """Where trained domain classifiers are cached."""
    return cache_dir() / "classifiers"


def data_digest(train: Any, test: Any) -> str:
    """SHA-256 (hex, 16 characters) of both splits' pixels and labels: which copy of a dataset a classifier saw."""
    h = hashlib.sha256()
    for split in (train, test):
        for tensor in (split.images, split.labels):
            h.update(tensor.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def cache_key(dataset: str, recipe: Any, digest: str) -> str:
    """``<dataset>-<recipe digest>-<data digest>``: the file stem of a cached classifier."""
    return f"{dataset}-{recipe.digest()}-{digest}"


def cached_classifiers() -> list[dict[str, Any]]:
    """Every cached classifier's metadata (plus ``path``, or ``error`` for a file that cannot be used), by name."""
    out = []
    for path in sorted(classifiers_dir().glob("*.h5")):
        try:
            _, meta = load_weights(path)
        except WeightsFileError as err:
            out.append({"path": path, "error": str(err)})
            continue
        if meta.get("kind") == KIND:
            out.append({**meta, "path": path})
    return out


def load_reference(path: str | os.PathLike) -> QualityReference:
    """A cached (or ``--out``-written) domain classifier, checked and rebuilt; one sentence if it cannot be used."""
    import torch

    from trainers.classifier import DomainClassifier

    arrays, meta = load_weights(path)
    if meta.get("kind") != KIND:
        raise WeightsFileError(f"{path} holds no domain classifier.")
    model = DomainClassifier(**meta["arguments"])
    state = {name[len("model/"):]: torch.from_numpy(np.array(a)) for name, a in arrays.items() if name.startswith("model/")}
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise WeightsFileError(f"{path} does not fit this landscape's classifier network; delete it to train "
                               "a new one.") from None
    model.eval()
    from analysis.quality.shipped import file_sha256

    meta = {**meta, "identity": f"{meta['key']}@sha256:{file_sha256(path)}"}
    return QualityReference(meta["dataset"], model, meta, arrays["real/features"].astype(np.float32),
                            arrays["real/labels"].astype(np.int64), Path(path))


def train_reference(
    dataset: str,
    *,
    data_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
    subset: int | None = None,
    out: str | os.PathLike | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    data: tuple[Any, Any] | None = None,
) -> QualityReference:
    """Train ``dataset``'s domain classifier with its recipe (``epochs``/``subset`` shorten it), measure it on
    the real test set and store it: at ``out``, else in the cache under its key.

    ``data`` = (train, test) splits already loaded; ``on_progress(done, total)`` after each batch.
    """
    from trainers.classifier import RECIPES, classifier_arguments, classify, test_accuracy, train_classifier

    dataset = canonical_name(dataset)
    recipe = _recipe(dataset)
    if epochs is not None:
        recipe = _replace(recipe, epochs=int(epochs))
    train, test = data if data is not None else load_splits(dataset, data_dir)
    digest = data_digest(train, test)
    start = time.monotonic()
    model = train_classifier(recipe, train.images, train.labels, subset=subset, on_progress=on_progress)
    seconds = time.monotonic() - start
    accuracy = test_accuracy(model, test.images, test.labels)
    _, features = classify(model, test.images)
    key = cache_key(dataset, recipe, digest)
    if subset is not None:
        key += f"-subset{int(subset)}"
    import torch

    meta = {
        "kind": KIND, "key": key, "dataset": dataset, "recipe": recipe.to_dict(), "recipe_digest": recipe.digest(),
        "default_recipe": recipe == RECIPES[dataset], "subset": subset, "data_digest": digest,
        "data_official": train.official, "test_accuracy": accuracy, "train_seconds": seconds,
        "train_images": len(train) if subset is None else min(int(subset), len(train)), "test_images": len(test),
        "n_classes": len(test.classes), "arguments": classifier_arguments(recipe, tuple(test.shape)),
        "feature_dim": int(features.shape[1]), "threads": torch.get_num_threads(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    arrays = {f"model/{name}": value for name, value in model.state_dict().items()}
    arrays["real/features"] = features.numpy().astype(np.float32)
    arrays["real/labels"] = test.labels.numpy().astype(np.int64)
    path = Path(out) if out is not None else classifiers_dir() / f"{key}.h5"
    save_weights(path, arrays, meta)
    from analysis.quality.shipped import file_sha256

    meta = {**meta, "identity": f"{key}@sha256:{file_sha256(path)}"}
    return QualityReference(dataset, model, meta, arrays["real/features"], arrays["real/labels"], path)


def get_reference(
    dataset: str,
    *,
    data_dir: str | os.PathLike | None = None,
    train: bool = True,
    on_train: Callable[[str], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    shipped: bool = True,
) -> QualityReference:
    """``dataset``'s domain classifier: the one shipped with landscape (:mod:`analysis.quality.shipped`: MNIST,
    Fashion-MNIST, CIFAR-10; loaded, never trained, so every machine measures with the same network), else the
    default recipe's from the cache, else trained now and cached.

    ``shipped=False`` skips the shipped network (a locally trained one; its numbers are comparable only with
    numbers measured by the same file). ``on_train(note)`` is called with a one-line note before training starts.
    Without the dataset on disk, a single cached classifier for it is used as it is; with none, one sentence says
    why there is nothing to measure with.
    """
    dataset = canonical_name(dataset)
    recipe = _recipe(dataset)
    if shipped:
        from analysis.quality.shipped import shipped_path, shipped_reference

        if shipped_path(dataset) is not None:
            return shipped_reference(dataset, data_dir)
    try:
        splits = load_splits(dataset, data_dir)
    except DataError as err:
        found = sorted(classifiers_dir().glob(f"{dataset}-{recipe.digest()}-*.h5"))
        found = [p for p in found if "-subset" not in p.stem]
        if len(found) == 1:
            return load_reference(found[0])
        raise LandscapeError(f"There is no {dataset} classifier to measure sample quality with yet, and none can be "
                             f"trained: {err}") from None
    key = cache_key(dataset, recipe, data_digest(*splits))
    path = classifiers_dir() / f"{key}.h5"
    if path.exists():
        return load_reference(path)
    if not train:
        raise LandscapeError(f"There is no {dataset} classifier to measure sample quality with yet (looked for {path}).")
    if on_train is not None:
        on_train(f"Training the {dataset} classifier for the sample-quality metrics once ({recipe.epochs} epochs; "
                 f"cached in {path.parent}).")
    return train_reference(dataset, data=splits, on_progress=on_progress)


def resolve_reference(dataset: str, data_dir: str | os.PathLike | None = None,
                      classifier: str | os.PathLike | None = None, console: Any = None,
                      skip: str | None = None) -> QualityReference:
    """A run's quality reference: ``classifier``'s file (checked to be ``dataset``'s), else :func:`get_reference`'s,
    trained now if need be with a progress display on ``console`` (a rich bar, or plain progress lines where stdout
    is not a terminal: :class:`landscape.progress.batch_progress`) and a one-line ``Note:`` first. ``skip``: a
    sentence added to that note on how to do without it (``--quality-every 0``), since training it takes minutes.

    ``landscape record``, ``landscape quality`` and ``landscape sweep`` use it, as scripts may."""
    from landscape.progress import batch_progress, say

    if classifier is not None:
        ref = load_reference(classifier)
        if ref.dataset != dataset:
            raise LandscapeError(f"{classifier} is a {ref.dataset} classifier, but the run's images are {dataset}; "
                                 f"give a {dataset} classifier.")
        return ref
    display = batch_progress(f"{dataset} classifier", console)

    def on_train(note: str) -> None:
        say(display.console, f"Note: {note}" + (f" {skip}" if skip else ""))

    with display as tick:
        return get_reference(dataset, data_dir=data_dir, on_train=on_train, on_progress=tick)


def load_splits(dataset: str, data_dir: str | os.PathLike | None = None) -> tuple[Any, Any]:
    """The training and test splits of ``dataset`` (one sentence if either is missing)."""
    from landscape.data import load_dataset

    _recipe(dataset)
    return load_dataset(dataset, root=data_dir, split="train"), load_dataset(dataset, root=data_dir, split="test")


def _recipe(dataset: str) -> Any:
    """The classifier recipe of ``dataset`` (aliases accepted); one sentence for a dataset without one."""
    from trainers.classifier import RECIPES

    name = canonical_name(dataset)
    if name not in RECIPES:
        raise LandscapeError(f"{name} has no domain classifier: sample-quality classifiers exist for "
                             f"{', '.join(RECIPES)} (the 2-D toys are measured exactly, without one).")
    return RECIPES[name]


def _replace(recipe: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(recipe, **changes)


__all__ = [
    "KIND",
    "PRDC_K",
    "QualityReference",
    "cache_key",
    "cached_classifiers",
    "check_sample_size",
    "classifier_datasets",
    "classifiers_dir",
    "data_digest",
    "get_reference",
    "load_reference",
    "load_splits",
    "resolve_reference",
    "train_reference",
]
