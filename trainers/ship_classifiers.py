"""Train the reference domain classifiers that ship with landscape, once, by the committed recipes and seeds.

The sample-quality metrics (classifier IS, class KL, Frechet distance, KID, PRDC)
are only comparable between machines and labs if everyone measures with the *same*
network, as the field fixed one Inception network for FID. So the classifiers of
:data:`trainers.classifier.RECIPES` are trained here once and their weights are
committed as package data (``analysis/quality/reference/<dataset>.h5``), pinned by
SHA-256 in :mod:`analysis.quality.reference`. Users never run this; it documents and
reproduces how the shipped files were made::

    OMP_NUM_THREADS=1 python -m trainers.ship_classifiers mnist fashion-mnist cifar10 \
        --out analysis/quality/reference

Each file holds the float16 weights (half the bytes; inference upcasts them to
float32) and JSON metadata: the recipe, its digest, the digest of the training data
copy it saw, and the test accuracy *of the float16 weights* on the test set on disk
here. Training the same recipe on other hardware gives other weights (float
rounding and thread counts differ), which is why the files are shipped, not the
recipe alone.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainers.classifier import RECIPES, DomainClassifier, classifier_arguments, test_accuracy, train_classifier

#: The ``kind`` of a shipped classifier's weights file (a cached, user-trained one is ``domain-classifier``).
SHIPPED_KIND = "shipped-domain-classifier"


def _split_digest(split: Any) -> str:
    h = hashlib.sha256()
    for tensor in (split.images, split.labels):
        h.update(tensor.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def half_state(model: DomainClassifier) -> dict[str, np.ndarray]:
    """The model's state as numpy arrays: floating tensors in float16, counters as they are."""
    out = {}
    for name, value in model.state_dict().items():
        array = value.detach().cpu().contiguous().numpy()
        out[f"model/{name}"] = array.astype(np.float16) if np.issubdtype(array.dtype, np.floating) else array
    return out


def from_half(arguments: dict[str, Any], arrays: dict[str, np.ndarray]) -> DomainClassifier:
    """The float32 classifier rebuilt from :func:`half_state`'s arrays (eval mode)."""
    model = DomainClassifier(**arguments)
    state = {}
    for name, array in arrays.items():
        if name.startswith("model/"):
            tensor = torch.from_numpy(np.array(array))
            state[name[len("model/"):]] = tensor.float() if tensor.is_floating_point() else tensor
    model.load_state_dict(state)
    return model.eval()


def ship(dataset: str, out_dir: Path, data_dir: str | None = None) -> Path:
    """Train ``dataset``'s classifier by its recipe, store its float16 weights in ``out_dir/<dataset>.h5``."""
    from landscape.data import load_dataset
    from landscape.weights import save_weights

    recipe = RECIPES[dataset]
    train = load_dataset(dataset, root=data_dir, split="train")
    test = load_dataset(dataset, root=data_dir, split="test")
    start = time.monotonic()
    model = train_classifier(recipe, train.images, train.labels)
    seconds = time.monotonic() - start
    arguments = classifier_arguments(recipe, tuple(test.shape))
    arrays = half_state(model)
    accuracy32 = test_accuracy(model, test.images, test.labels)
    accuracy = test_accuracy(from_half(arguments, arrays), test.images, test.labels)
    meta = {
        "kind": SHIPPED_KIND, "name": f"landscape-{dataset}-v1", "dataset": dataset, "recipe": recipe.to_dict(),
        "recipe_digest": recipe.digest(), "arguments": arguments, "n_classes": len(test.classes),
        "feature_dim": int(recipe.feature_dim), "dtype": "float16",
        "train_data_digest": _split_digest(train), "test_data_digest": _split_digest(test),
        "data_official": bool(train.official), "train_images": len(train), "test_images": len(test),
        "test_accuracy": accuracy, "test_accuracy_float32": accuracy32, "train_seconds": seconds,
        "threads": torch.get_num_threads(), "torch": torch.__version__, "machine": platform.machine(),
        "created": time.strftime("%Y-%m-%d"),
    }
    path = save_weights(out_dir / f"{dataset}.h5", arrays, meta)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"{dataset}: {100 * accuracy:.2f}% (float16; float32 {100 * accuracy32:.2f}%) on {len(test):,} test images, "
          f"trained in {seconds:.0f} s on {torch.get_num_threads()} thread(s); {path} {path.stat().st_size:,} bytes "
          f"sha256 {digest}", flush=True)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", nargs="+", choices=sorted(RECIPES))
    parser.add_argument("--out", type=Path, required=True, help="folder for <dataset>.h5")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    for dataset in args.datasets:
        ship(dataset, args.out, args.data_dir)


if __name__ == "__main__":
    main()
