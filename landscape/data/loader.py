"""Loading a whole dataset split into memory as uint8 tensors.

``load_dataset("mnist")`` reads the split's files in one pass each, straight into
numpy arrays (no per-image Python work), and wraps them as torch tensors without
copying. The same pass feeds the content checksum, so checking that the files are
the official release costs only the hashing, and nothing at all once the verdict
is cached (see :mod:`landscape.data.checksums`). Files that differ from the
official release still load, with one :class:`DatasetChecksumWarning`.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from landscape.data.checksums import ContentCheck, DatasetChecksumWarning, cached_digest, store_digest
from landscape.data.cifar import read_cifar_binary, read_cifar_python
from landscape.data.idx import read_idx
from landscape.data.locate import locate_split
from landscape.data.registry import SPLITS, DatasetSpec, Layout, get_spec
from landscape.data.roots import resolve_data_root
from landscape.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass(frozen=True, repr=False, eq=False)
class Dataset:
    """One split of a dataset, fully in memory.

    ``images`` is a uint8 tensor (N, C, H, W), ``labels`` an int64 tensor (N,).
    ``official`` is True when every file matched the official checksums, False when
    some differ (a warning was issued), None when no official digest is known.
    """

    name: str
    split: str
    images: "torch.Tensor"
    labels: "torch.Tensor"
    shape: tuple[int, int, int]
    classes: tuple[str, ...]
    folder: Path
    layout: str
    official: bool | None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __repr__(self) -> str:
        c, h, w = self.shape
        content = {True: "official content", False: "NOT the official content", None: "unverified content"}[self.official]
        return f"Dataset({self.name}, {self.split}, {len(self)} x {c}x{h}x{w}, {self.layout} layout in {self.folder}, {content})"


def to_unit_range(images: "torch.Tensor | np.ndarray") -> "torch.Tensor":
    """uint8 pixels 0..255 -> float32 in [-1, 1] (x / 127.5 - 1), the scaling the paper's GANs train on."""
    import torch

    tensor = torch.as_tensor(images)
    if tensor.dtype != torch.uint8:
        raise TypeError(f"to_unit_range expects uint8 images, got {tensor.dtype}")
    return tensor.to(torch.float32).div_(127.5).sub_(1.0)


class _Hashers:
    """Hashers for the files whose digest is not cached yet; digests are stored when done."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.pending: dict[Path, Any] = {}
        self.checks: list[ContentCheck] = []

    def __call__(self, path: Path) -> Any | None:
        expected = self.layout.content.get(_logical_name(path))
        if expected is None:
            self.checks.append(ContentCheck(path, None, None))
            return None
        digest = cached_digest(path, expected.algorithm)
        if digest is not None:
            self.checks.append(ContentCheck(path, expected, digest))
            return None
        hasher = hashlib.new(expected.algorithm)
        self.pending[path] = hasher
        return hasher

    def finish(self) -> list[ContentCheck]:
        for path, hasher in self.pending.items():
            expected = self.layout.content[_logical_name(path)]
            digest = hasher.hexdigest()
            store_digest(path, expected.algorithm, digest)
            self.checks.append(ContentCheck(path, expected, digest))
        self.pending.clear()
        return self.checks


def _logical_name(path: Path) -> str:
    return path.name[:-3] if path.suffix == ".gz" else path.name


def _read_idx_split(spec: DatasetSpec, paths: list[Path], hint: str, hashers: _Hashers) -> tuple[np.ndarray, np.ndarray]:
    images_path, labels_path = paths
    images = read_idx(images_path, ndim=3, hint=hint, hasher=hashers(images_path))
    labels = read_idx(labels_path, ndim=1, hint=hint, hasher=hashers(labels_path))
    _, height, width = spec.shape
    if images.shape[1:] != (height, width):
        raise DataError(
            f"{images_path} holds {images.shape[1]}x{images.shape[2]} images, not the {height}x{width} "
            f"of {spec.title}; {hint}."
        )
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path.name} holds {len(labels)} labels; {hint}."
        )
    if labels.size and int(labels.max()) >= len(spec.classes):
        raise DataError(f"{labels_path} holds label {int(labels.max())}, outside 0-{len(spec.classes) - 1}; {hint}.")
    return images.reshape(-1, *spec.shape), labels.astype(np.int64)


def _warn_if_unofficial(spec: DatasetSpec, folder: Path, checks: list[ContentCheck]) -> bool | None:
    differing = [check.path.name for check in checks if check.matches is False]
    if differing:
        shown = ", ".join(differing[:3]) + (", ..." if len(differing) > 3 else "")
        message = (
            f"{spec.title} in {folder} is not the official release ({len(differing)} of {len(checks)} files differ "
            f"from the official checksums: {shown}); it loads, but results are not comparable with published ones "
            f"(`landscape data fetch {spec.name} --force` replaces it)."
        )
        warnings.warn(DatasetChecksumWarning(message, spec.name, folder), stacklevel=3)
        return False
    if checks and all(check.matches for check in checks):
        return True
    return None


def load_dataset(
    name: str,
    root: str | os.PathLike[str] | None = None,
    split: str = "train",
    *,
    spec: DatasetSpec | None = None,
) -> Dataset:
    """Load one split of a dataset fully into memory.

    ``root`` is the data root (default ``$LANDSCAPE_DATA``, else ``./data``); the
    files are looked up in the layouts torchvision uses. ``spec`` overrides the
    registry entry (tests, custom mirrors). Raises DataError with one sentence for
    missing or malformed files; warns once (DatasetChecksumWarning) when the files
    are not the official release.
    """
    import torch

    spec = spec or get_spec(name)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}.")
    data_root = resolve_data_root(root)
    layout, folder, paths = locate_split(spec, split, data_root)
    hint = f"delete it and run `landscape data fetch {spec.name}` with the same data root to get the official file"
    hashers = _Hashers(layout)
    if layout.reader == "idx":
        images, labels = _read_idx_split(spec, paths, hint, hashers)
    elif layout.reader == "cifar-binary":
        images, labels = read_cifar_binary(paths, hint=hint, hasher_for=hashers)
    elif layout.reader == "cifar-python":
        images, labels = read_cifar_python(paths, hint=hint, hasher_for=hashers)
    else:  # pragma: no cover - registry error
        raise ValueError(f"unknown reader {layout.reader!r}")
    official = _warn_if_unofficial(spec, folder, hashers.finish())
    return Dataset(
        name=spec.name,
        split=split,
        images=torch.from_numpy(images),
        labels=torch.from_numpy(labels),
        shape=spec.shape,
        classes=spec.classes,
        folder=folder,
        layout=layout.name,
        official=official,
    )
