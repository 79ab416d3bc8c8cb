"""The datasets landscape knows: where they live on disk, where they come from, and their checksums.

Each :class:`DatasetSpec` lists one or more on-disk *layouts* in order of
preference (CIFAR-10 has a binary and a python-pickle layout); every layout names
its folder under the data root, the files of each split, the official digests of
the files' uncompressed content, and the downloads that produce it. The folder and
file names are the ones torchvision and the official archives use, so a data root
shared with torchvision works as is.

Sources of the digests:

- MNIST / Fashion-MNIST ``.gz`` MD5s: torchvision's ``MNIST.resources`` and
  ``FashionMNIST.resources``; uncompressed-content MD5s: measured on the official
  files (they also identify the recompressed copies, whose ``.gz`` bytes differ).
- CIFAR-10 archives: the MD5s published on https://www.cs.toronto.edu/~kriz/cifar.html;
  python-layout batch MD5s: torchvision's ``CIFAR10.train_list``/``test_list``;
  binary-layout ``.bin`` SHA-1s: Apache MXNet's ``gluon.data.vision.CIFAR10``
  (the official page publishes no per-file digests for the binary version).

Tests (and users behind a proxy) can build a spec of their own and pass it to
:func:`landscape.data.download.fetch` or :func:`landscape.data.loader.load_dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from landscape.data.toys import TOYS
from landscape.errors import DataError, unknown_choice

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Digest:
    """An expected digest of a file's (uncompressed) content."""

    algorithm: str  # a hashlib name: "md5" or "sha1"
    hexdigest: str


@dataclass(frozen=True)
class Download:
    """One file to download: tried from each URL in turn, kept only if its MD5 matches."""

    filename: str
    md5: str
    urls: tuple[str, ...]
    archive: bool = False  # a tar archive to extract into the data root (then deleted)


@dataclass(frozen=True)
class Layout:
    """One on-disk layout of a dataset, relative to the data root."""

    name: str  # shown to users: "idx", "binary", "python"
    folder: str  # posix path relative to the data root
    reader: str  # "idx" | "cifar-binary" | "cifar-python"
    splits: Mapping[str, tuple[str, ...]]  # split -> file names (IDX names without ".gz")
    content: Mapping[str, Digest]  # file name -> official digest of its uncompressed content
    downloads: tuple[Download, ...] = ()

    def files(self) -> tuple[str, ...]:
        """Every data file of the layout, all splits, in order."""
        return tuple(name for split in self.splits.values() for name in split)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its shape, classes and the layouts it can be read from (preferred first)."""

    name: str
    title: str
    shape: tuple[int, int, int]  # C, H, W
    classes: tuple[str, ...]
    layouts: tuple[Layout, ...]
    aliases: tuple[str, ...] = field(default=())

    @property
    def fetch_layout(self) -> Layout:
        """The layout ``landscape data fetch`` downloads: the first one that has downloads."""
        for layout in self.layouts:
            if layout.downloads:
                return layout
        raise DataError(f"dataset {self.name!r} has no download source; place its files under the data root by hand.")


def _idx_layout(folder: str, mirrors: tuple[str, ...], gz_md5: dict[str, str], content_md5: dict[str, str]) -> Layout:
    splits = {
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    downloads = tuple(
        Download(filename=f"{name}.gz", md5=gz_md5[name], urls=tuple(f"{mirror}{name}.gz" for mirror in mirrors))
        for split in splits.values()
        for name in split
    )
    content = {name: Digest("md5", md5) for name, md5 in content_md5.items()}
    return Layout("idx", folder, "idx", MappingProxyType(splits), MappingProxyType(content), downloads)


MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FASHION_MNIST_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
CIFAR10_BINARY_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_PYTHON_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"

MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    shape=(1, 28, 28),
    classes=tuple(str(digit) for digit in range(10)),
    layouts=(
        _idx_layout(
            "MNIST/raw",
            MNIST_MIRRORS,
            gz_md5={
                "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
            },
            content_md5={
                "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
                "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
                "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
                "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
            },
        ),
    ),
)

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    shape=(1, 28, 28),
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    layouts=(
        _idx_layout(
            "FashionMNIST/raw",
            FASHION_MNIST_MIRRORS,
            gz_md5={
                "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
            },
            content_md5={
                "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
                "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
                "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
            },
        ),
    ),
    aliases=("fashionmnist", "fashion_mnist"),
)

_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))

CIFAR10 = DatasetSpec(
    name="cifar10",
    title="CIFAR-10",
    shape=(3, 32, 32),
    classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    layouts=(
        Layout(
            name="binary",
            folder="cifar-10-batches-bin",
            reader="cifar-binary",
            splits=MappingProxyType({"train": tuple(f"{b}.bin" for b in _CIFAR_TRAIN), "test": ("test_batch.bin",)}),
            content=MappingProxyType(
                {
                    "data_batch_1.bin": Digest("sha1", "aadd24acce27caa71bf4b10992e9e7b2d74c2540"),
                    "data_batch_2.bin": Digest("sha1", "c0ba65cce70568cd57b4e03e9ac8d2a5367c1795"),
                    "data_batch_3.bin": Digest("sha1", "1dd00a74ab1d17a6e7d73e185b69dbf31242f295"),
                    "data_batch_4.bin": Digest("sha1", "aab85764eb3584312d3c7f65fd2fd016e36a258e"),
                    "data_batch_5.bin": Digest("sha1", "26e2849e66a845b7f1e4614ae70f4889ae604628"),
                    "test_batch.bin": Digest("sha1", "67eb016db431130d61cd03c7ad570b013799c88c"),
                }
            ),
            downloads=(
                Download(
                    "cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", (CIFAR10_BINARY_URL,), archive=True
                ),
            ),
        ),
        Layout(
            name="python",
            folder="cifar-10-batches-py",
            reader="cifar-python",
            splits=MappingProxyType({"train": _CIFAR_TRAIN, "test": ("test_batch",)}),
            content=MappingProxyType(
                {
                    "data_batch_1": Digest("md5", "c99cafc152244af753f735de768cd75f"),
                    "data_batch_2": Digest("md5", "d4bba439e000b95fd0a9bffe97cbabec"),
                    "data_batch_3": Digest("md5", "54ebc095f3ab1f0389bbae665268c751"),
                    "data_batch_4": Digest("md5", "634d18415352ddfa80567beed471001a"),
                    "data_batch_5": Digest("md5", "482c414d41f54cd18b22e5b47cb7c3cb"),
                    "test_batch": Digest("md5", "40351d587109b95175f43aff81a1287e"),
                }
            ),
            downloads=(
                Download(
                    "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", (CIFAR10_PYTHON_URL,), archive=True
                ),
            ),
        ),
    ),
    aliases=("cifar-10", "cifar_10"),
)

#: Every dataset by its canonical name. Tests may monkeypatch entries with specs of their own.
DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (MNIST, FASHION_MNIST, CIFAR10)}


def canonical_name(name: str) -> str:
    """The registry name for ``name`` (case-insensitive, aliases accepted); DataError if unknown."""
    key = name.strip().lower()
    for spec in DATASETS.values():
        if key == spec.name or key in spec.aliases:
            return spec.name
    if key in TOYS:  # the 2-D toys: generated from the seed, no files
        return key
    raise DataError(unknown_choice("dataset", name, (*DATASETS, *TOYS)))


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` registered under ``name`` or one of its aliases (image datasets: files on disk)."""
    key = canonical_name(name)
    if key in TOYS:
        raise DataError(f"{key} is a 2-D toy drawn from the run's seed; it has no files to fetch or load from disk.")
    return DATASETS[key]
