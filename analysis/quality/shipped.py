"""The reference domain classifiers shipped with landscape: loaded without training, pinned by SHA-256.

Quality numbers are only comparable between machines and labs if everyone measures
with the same network (the reason the field fixed one Inception network for FID).
The classifiers of MNIST, Fashion-MNIST and CIFAR-10 were therefore trained once, by
the committed recipes and seeds (:data:`trainers.classifier.RECIPES`, written by
``python -m trainers.ship_classifiers``), and ship as package data in
``analysis/quality/reference/<dataset>.h5``: float16 weights (inference upcasts them to
float32) with their metadata. :data:`SHIPPED` pins each file's SHA-256; a file whose
bytes differ is refused in one sentence, never silently replaced by a local training.

The real side of the comparison (the penultimate features of the user's test set) is
computed from the test set on disk on first use (a second or two) and cached in
``<cache>/classifiers/real-<name>-<sha256[:12]>-<test data digest>.h5``, together with
the shipped network's accuracy on that copy of the test set.

Every quality row records the classifier as ``<name>@sha256:<file digest>``
(:attr:`QualityReference.key`), so two rows measured by the same network say so.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from landscape.errors import DataError, LandscapeError
from landscape.weights import WeightsFileError, load_weights, save_weights

#: Where the shipped weight files are (package data).
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"

#: dataset -> (classifier name, SHA-256 of the shipped file's bytes). Test accuracy (float16 weights, on the test
#: sets on disk where they were trained): see :data:`SHIPPED_ACCURACY`.
SHIPPED: dict[str, tuple[str, str]] = {
    "mnist": ("landscape-mnist-v1", "fe053c2d32411c482d2b15df10f77b804f3b90eb83d17f01f272530d58ea77d5"),
    "fashion-mnist": ("landscape-fashion-mnist-v1", "a33c5219dc883b49ae0e7bdfc82593eaf375b816e37db94f1ba5dbce1fb7bd24"),
    "cifar10": ("landscape-cifar10-v1", "52df2be187f1724e852d1fba3f04a3d611f2dd54aaf7fa85fd7b3b8d1f85d4f6"),
}

#: dataset -> test accuracy of the shipped float16 weights as measured when they were made (the CIFAR-10 figure is
#: on the JPEG re-encoded copy of CIFAR-10 they were trained on; its accuracy on the official test set is unknown).
SHIPPED_ACCURACY: dict[str, float] = {
    "mnist": 0.9920,
    "fashion-mnist": 0.9213,
    "cifar10": 0.8385,
}

#: The ``kind`` of a shipped classifier's file, and of the cached real-side file.
SHIPPED_KIND = "shipped-domain-classifier"
REAL_KIND = "reference-real-features"


def shipped_path(dataset: str) -> Path | None:
    """The shipped weights file of ``dataset`` (canonical name), or None for a dataset without one or a package
    installed without its data files."""
    if dataset not in SHIPPED:
        return None
    path = REFERENCE_DIR / f"{dataset}.h5"
    return path if path.is_file() else None


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_shipped_model(dataset: str) -> tuple[Any, dict[str, Any]]:
    """The shipped classifier of ``dataset`` (float32, eval mode) and its metadata, after checking the pinned
    SHA-256; one sentence if the file is missing or not the one landscape shipped."""
    import torch

    from trainers.classifier import DomainClassifier

    path = shipped_path(dataset)
    if path is None:
        raise LandscapeError(f"landscape ships no {dataset} classifier file here (looked in {REFERENCE_DIR}).")
    name, pinned = SHIPPED[dataset]
    digest = file_sha256(path)
    if digest != pinned:
        raise WeightsFileError(f"{path} is not the {name} classifier landscape shipped (its SHA-256 is {digest[:16]}..., "
                               f"expected {pinned[:16]}...); reinstall landscape.")
    arrays, meta = load_weights(path)
    if meta.get("kind") != SHIPPED_KIND:
        raise WeightsFileError(f"{path} holds no shipped domain classifier; reinstall landscape.")
    model = DomainClassifier(**meta["arguments"])
    state = {}
    for key, array in arrays.items():
        if key.startswith("model/"):
            tensor = torch.from_numpy(np.array(array))
            state[key[len("model/"):]] = tensor.float() if tensor.is_floating_point() else tensor
    model.load_state_dict(state)
    model.eval()
    return model, {**meta, "sha256": digest, "file": str(path)}


def classifier_id(name: str, digest: str) -> str:
    """How a quality row names a shipped classifier: ``<name>@sha256:<digest>``."""
    return f"{name}@sha256:{digest}"


def _real_cache(name: str, digest: str, test_digest: str) -> Path:
    from analysis.quality.classifiers import classifiers_dir

    return classifiers_dir() / f"real-{name}-{digest[:12]}-{test_digest}.h5"


def shipped_reference(dataset: str, data_dir: str | os.PathLike | None = None) -> Any:
    """The :class:`~analysis.quality.classifiers.QualityReference` of ``dataset``'s shipped classifier: the network
    from package data, the real side from the cache or, on a fresh cache, computed from the test set on disk when a
    measurement first needs it (then cached), so that a first run starts training without waiting for it.

    Without the test set on disk, a single cached real side for this classifier is used; with none, one sentence.
    """
    from analysis.quality.classifiers import QualityReference, classifiers_dir
    from landscape.data import load_dataset
    from trainers.classifier import classify

    model, meta = load_shipped_model(dataset)
    name, digest = meta["name"], meta["sha256"]
    key = classifier_id(name, digest)
    try:
        test = load_dataset(dataset, root=data_dir, split="test")
    except DataError as err:
        found = sorted(classifiers_dir().glob(f"real-{name}-{digest[:12]}-*.h5"))
        if len(found) != 1:
            raise LandscapeError(f"There is no {dataset} test set to compare generated images with: {err}") from None
        path = found[0]
        arrays, real_meta = load_weights(path)
    else:
        h = hashlib.sha256()
        for tensor in (test.images, test.labels):
            h.update(tensor.contiguous().numpy().tobytes())
        path = _real_cache(name, digest, h.hexdigest()[:16])
        arrays = real_meta = None
        if path.is_file():
            try:
                arrays, real_meta = load_weights(path)
            except WeightsFileError:  # damaged: computed again below
                arrays = None
        if arrays is None or real_meta.get("classifier") != key:
            # computed when a measurement first needs it, not now: a run starts training without waiting for it
            def compute(test: Any = test, path: Path = path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
                probs, features = classify(model, test.images)
                labels = test.labels.long()
                accuracy = float((probs.argmax(1) == labels).float().mean())
                arrays = {"real/features": features.numpy().astype(np.float32),
                          "real/labels": labels.numpy().astype(np.int64)}
                real_meta = {"kind": REAL_KIND, "classifier": key, "test_accuracy": accuracy,
                             "test_images": len(test), "test_data_digest": path.stem.rsplit("-", 1)[-1]}
                try:
                    save_weights(path, arrays, real_meta)
                except OSError:  # a read-only cache: computed again next time
                    pass
                return arrays, real_meta

            full = {**meta, "key": key, "identity": key, "shipped": True, "real_cache": str(path.with_suffix("")),
                    "default_recipe": True, "subset": None, "test_images": len(test),
                    "shipped_test_accuracy": float(meta["test_accuracy"])}
            full.pop("test_accuracy")
            return _LazyRealSide(dataset, model, full, Path(meta["file"]), compute, len(test))
    full = {**meta, "key": key, "identity": key, "shipped": True, "real_cache": str(path.with_suffix("")),
            "default_recipe": True, "subset": None, "test_accuracy": float(real_meta["test_accuracy"]),
            "test_images": int(real_meta["test_images"]), "shipped_test_accuracy": float(meta["test_accuracy"])}
    return QualityReference(dataset, model, full, np.asarray(arrays["real/features"], dtype=np.float32),
                            np.asarray(arrays["real/labels"], dtype=np.int64), Path(meta["file"]))


def _lazy_reference_class() -> type:
    from analysis.quality.classifiers import QualityReference

    class LazyRealSide(QualityReference):
        """A shipped classifier whose real side (features, labels, accuracy on this test set) is computed on first
        access, then cached on disk; everything else (model, identity, ``n_real``) is there at once."""

        def __init__(self, dataset: str, model: Any, meta: dict[str, Any], path: Path,
                     compute: Any, n_real: int) -> None:
            self._compute, self._arrays, self._n_real_lazy = compute, None, int(n_real)
            super().__init__(dataset, model, meta, None, None, path)

        def _real(self) -> dict[str, np.ndarray]:
            if self._arrays is None:
                arrays, real_meta = self._compute()
                self.meta["test_accuracy"] = float(real_meta["test_accuracy"])
                self._arrays = {"features": np.asarray(arrays["real/features"], dtype=np.float32),
                                "labels": np.asarray(arrays["real/labels"], dtype=np.int64)}
            return self._arrays

        @property  # type: ignore[override]
        def real_features(self) -> np.ndarray:
            return self._real()["features"]

        @real_features.setter
        def real_features(self, value: Any) -> None:  # the dataclass __init__ passes None: computed later
            pass

        @property  # type: ignore[override]
        def real_labels(self) -> np.ndarray:
            return self._real()["labels"]

        @real_labels.setter
        def real_labels(self, value: Any) -> None:
            pass

        @property
        def n_real(self) -> int:
            return self._n_real_lazy

        @property
        def accuracy(self) -> float:
            self._real()
            return float(self.meta["test_accuracy"])

    return LazyRealSide


def _LazyRealSide(*args: Any) -> Any:  # noqa: N802 - a class, built on first use (classifiers imports this module)
    return _lazy_reference_class()(*args)

__all__ = ["REFERENCE_DIR", "SHIPPED", "SHIPPED_ACCURACY", "classifier_id", "file_sha256", "load_shipped_model",
           "shipped_path", "shipped_reference"]
