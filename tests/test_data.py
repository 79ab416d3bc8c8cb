"""landscape.data: loaders on the shared datasets and on small files (good and corrupted),
the checksum verdict and its cache, data-root resolution, and verified downloads from a
local HTTP server (good files, wrong checksums, unsafe archives)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import socket
import tarfile
import threading
import urllib.request
import warnings
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
import torch

from landscape.data import (
    DATASETS,
    DatasetChecksumWarning,
    canonical_name,
    load_dataset,
    resolve_data_root,
    to_unit_range,
)
from landscape.data import checksums
from landscape.data.cifar import RECORD
from landscape.data.download import fetch, safe_extract
from landscape.data.registry import DatasetSpec, Digest, Download, Layout
from landscape.errors import DataError

ignore_checksums = pytest.mark.filterwarnings("ignore::landscape.data.DatasetChecksumWarning")


@pytest.fixture(autouse=True)
def private_checksum_cache(tmp_path_factory, monkeypatch):
    """Every test gets an empty checksum cache (on disk and in memory)."""
    monkeypatch.setenv("LANDSCAPE_CACHE", str(tmp_path_factory.mktemp("cache")))
    checksums.clear_memory_cache()
    yield
    checksums.clear_memory_cache()


# ---------------------------------------------------------------- file builders


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes((0, 0, 8, array.ndim)) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_mnist(root: Path, *, n: int = 12, gz: bool = True, size: int = 28, seed: int = 0) -> dict[str, np.ndarray]:
    """A tiny MNIST-layout dataset under root/MNIST/raw; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n, size, size), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n // 2, size, size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n // 2, dtype=np.uint8),
    }
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            write(root / "MNIST" / "raw" / f"{name}.gz", gzip.compress(data))
        else:
            write(root / "MNIST" / "raw" / name, data)
    return arrays


def cifar_records(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def cifar_bin(pixels: np.ndarray, labels: np.ndarray) -> bytes:
    return np.concatenate([labels[:, None], pixels], axis=1).astype(np.uint8).tobytes()


def make_cifar_bin(root: Path, n: int = 7) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = root / "cifar-10-batches-bin"
    out = {}
    for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
        pixels, labels = cifar_records(n, seed=i)
        write(folder / name, cifar_bin(pixels, labels))
        out[name] = (pixels, labels)
    return out


def cifar_pickle(pixels: np.ndarray, labels: np.ndarray, protocol: int = 2, extra: dict | None = None) -> bytes:
    # the official batches are Python 2 pickles (protocol 2) of a dict with bytes keys
    entry = {b"batch_label": b"training batch 1 of 5", b"labels": [int(x) for x in labels], b"data": pixels}
    entry[b"filenames"] = [f"img_{i}.png".encode() for i in range(len(labels))]
    entry.update(extra or {})
    return pickle.dumps(entry, protocol=protocol)


def make_cifar_py(root: Path, n: int = 7, protocol: int = 2) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = root / "cifar-10-batches-py"
    out = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        pixels, labels = cifar_records(n, seed=10 + i)
        write(folder / name, cifar_pickle(pixels, labels, protocol))
        out[name] = (pixels, labels)
    return out


def load_error(*args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        load_dataset(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message, "a user error must be one line"
    return message


# ---------------------------------------------------------------- names and roots


def test_names_and_aliases():
    assert set(DATASETS) == {"mnist", "fashion-mnist", "cifar10"}
    for alias, name in [
        ("MNIST", "mnist"),
        ("fashionmnist", "fashion-mnist"),
        ("fashion_mnist", "fashion-mnist"),
        ("Fashion-MNIST", "fashion-mnist"),
        ("cifar-10", "cifar10"),
        ("cifar10", "cifar10"),
    ]:
        assert canonical_name(alias) == name
    with pytest.raises(DataError, match="mnist, fashion-mnist, cifar10"):
        canonical_name("imagenet")


def test_data_root_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LANDSCAPE_DATA", raising=False)
    assert resolve_data_root() == tmp_path / "data"
    monkeypatch.setenv("LANDSCAPE_DATA", str(tmp_path / "env"))
    assert resolve_data_root() == tmp_path / "env"
    assert resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_root("rel") == tmp_path / "rel"


@ignore_checksums
def test_env_var_is_used_by_load(tmp_path, monkeypatch):
    arrays = make_mnist(tmp_path)
    monkeypatch.setenv("LANDSCAPE_DATA", str(tmp_path))
    ds = load_dataset("mnist")
    assert torch.equal(ds.images[:, 0], torch.from_numpy(arrays["train-images-idx3-ubyte"]))


def test_unknown_split(tmp_path):
    assert "choose one of train, test" in load_error("mnist", tmp_path, split="validation")


def test_to_unit_range():
    x = torch.tensor([[0, 1, 127, 128, 255]], dtype=torch.uint8)
    y = to_unit_range(x)
    assert y.dtype == torch.float32
    assert y[0, 0].item() == -1.0 and y[0, -1].item() == 1.0
    assert torch.equal(y, x.float() / 127.5 - 1)
    assert torch.allclose(y, (x.double() / 127.5 - 1).float(), atol=1e-7)
    with pytest.raises(TypeError):
        to_unit_range(torch.zeros(2, dtype=torch.float32))


# ---------------------------------------------------------------- shared datasets


@pytest.fixture(scope="module")
def shared(data_root, tmp_path_factory):
    """``shared(name, split)``: a split of a dataset under the data root (found as the CLI finds it), loaded
    once, with the checksum warnings its load raised. Tests call ``require_dataset(name)`` first (skip if absent)."""
    loaded = {}
    cache = tmp_path_factory.mktemp("shared-cache")

    def load(name: str, split: str):
        if (name, split) not in loaded:
            with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                mp.setenv("LANDSCAPE_CACHE", str(cache))
                checksums.clear_memory_cache()
                ds = load_dataset(name, data_root, split)
                loaded[name, split] = (ds, [w for w in caught if issubclass(w.category, DatasetChecksumWarning)])
            checksums.clear_memory_cache()
        return loaded[name, split]

    return load


EXPECTED = {
    ("mnist", "train"): (60000, (1, 28, 28), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]),
    ("mnist", "test"): (10000, (1, 28, 28), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]),
    ("fashion-mnist", "train"): (60000, (1, 28, 28), [6000] * 10),
    ("fashion-mnist", "test"): (10000, (1, 28, 28), [1000] * 10),
    ("cifar10", "train"): (50000, (3, 32, 32), [5000] * 10),
    ("cifar10", "test"): (10000, (3, 32, 32), [1000] * 10),
}


@pytest.mark.parametrize("key", list(EXPECTED), ids=lambda k: f"{k[0]}-{k[1]}")
def test_shared_datasets(shared, require_dataset, key):
    require_dataset(key[0])
    ds, caught = shared(*key)
    count, shape, class_counts = EXPECTED[key]
    assert ds.name == key[0] and ds.split == key[1] and len(ds) == count
    assert ds.shape == shape
    assert ds.images.shape == (count, *shape) and ds.images.dtype == torch.uint8
    assert ds.images.is_contiguous()
    assert ds.labels.shape == (count,) and ds.labels.dtype == torch.int64
    assert int(ds.labels.min()) == 0 and int(ds.labels.max()) == 9
    assert torch.bincount(ds.labels, minlength=10).tolist() == class_counts
    assert 0 < ds.images[:1000].float().mean().item() < 255
    if key[0] == "cifar10":  # the shared copy is a JPEG re-encoding: loads, with one warning
        assert ds.official is False
        assert len(caught) == 1
        message = str(caught[0].message)
        assert "\n" not in message and "CIFAR-10" in message and "--force" in message
    else:  # recompressed .gz, but the uncompressed content is the official release
        assert ds.official is True
        assert caught == []


def test_shared_mnist_first_image_is_a_five(shared, require_dataset):
    require_dataset("mnist")
    ds, _ = shared("mnist", "train")
    assert ds.labels[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known start of MNIST's training set


# ---------------------------------------------------------------- IDX loaders on small files


@ignore_checksums
@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_idx_round_trip(tmp_path, gz):
    arrays = make_mnist(tmp_path, gz=gz)
    for split, prefix in [("train", "train"), ("test", "t10k")]:
        ds = load_dataset("mnist", tmp_path, split)
        images = arrays[f"{prefix}-images-idx3-ubyte"]
        assert ds.images.shape == (len(images), 1, 28, 28)
        assert torch.equal(ds.images[:, 0], torch.from_numpy(images))
        assert torch.equal(ds.labels, torch.from_numpy(arrays[f"{prefix}-labels-idx1-ubyte"].astype(np.int64)))


@ignore_checksums
def test_raw_file_preferred_over_gz(tmp_path):
    make_mnist(tmp_path, gz=True, seed=1)
    raw = make_mnist(tmp_path, gz=False, seed=2)
    ds = load_dataset("mnist", tmp_path)
    assert torch.equal(ds.images[:, 0], torch.from_numpy(raw["train-images-idx3-ubyte"]))


def test_small_files_are_not_official(tmp_path):
    make_mnist(tmp_path)
    with pytest.warns(DatasetChecksumWarning, match="MNIST .* not the official release") as record:
        ds = load_dataset("mnist", tmp_path, "test")
    assert len(record) == 1 and ds.official is False


def test_missing_dataset_says_how_to_fetch(tmp_path):
    message = load_error("mnist", tmp_path)
    assert str(tmp_path) in message
    assert "landscape data fetch mnist" in message and "LANDSCAPE_DATA" in message


def test_missing_labels_file(tmp_path):
    make_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz").unlink()
    message = load_error("mnist", tmp_path)
    assert "incomplete" in message and "train-labels-idx1-ubyte" in message
    assert "landscape data fetch mnist" in message


IMAGES_GZ = "MNIST/raw/train-images-idx3-ubyte.gz"
LABELS_GZ = "MNIST/raw/train-labels-idx1-ubyte.gz"


def corrupt_truncated_gzip(root: Path) -> str:
    path = root / IMAGES_GZ
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return "truncated or corrupt gzip"


def corrupt_not_gzip(root: Path) -> str:
    (root / IMAGES_GZ).write_bytes(b"this is not gzip data at all")
    return "truncated or corrupt gzip"


def corrupt_magic(root: Path) -> str:
    array = np.zeros((12, 28, 28), dtype=np.uint8)
    data = bytearray(idx_bytes(array))
    data[2] = 0x0D  # float instead of unsigned byte
    (root / IMAGES_GZ).write_bytes(gzip.compress(bytes(data)))
    return "is not an IDX image file"


def corrupt_labels_given_as_images(root: Path) -> str:
    (root / IMAGES_GZ).write_bytes((root / LABELS_GZ).read_bytes())
    return "is not an IDX image file"


def corrupt_short_data(root: Path) -> str:
    data = idx_bytes(np.zeros((12, 28, 28), dtype=np.uint8))
    (root / IMAGES_GZ).write_bytes(gzip.compress(data[:-100]))
    return "is truncated: its header declares 12x28x28"


def corrupt_extra_data(root: Path) -> str:
    data = idx_bytes(np.zeros((12, 28, 28), dtype=np.uint8)) + b"\x00" * 7
    (root / IMAGES_GZ).write_bytes(gzip.compress(data))
    return "more data than its header declares"


def corrupt_header_cut(root: Path) -> str:
    (root / IMAGES_GZ).write_bytes(gzip.compress(bytes((0, 0, 8, 3, 0, 0))))
    return "ends inside its IDX header"


def corrupt_count_mismatch(root: Path) -> str:
    (root / LABELS_GZ).write_bytes(gzip.compress(idx_bytes(np.zeros(11, dtype=np.uint8))))
    return "holds 12 images but train-labels-idx1-ubyte.gz holds 11 labels"


def corrupt_image_size(root: Path) -> str:
    (root / IMAGES_GZ).write_bytes(gzip.compress(idx_bytes(np.zeros((12, 32, 32), dtype=np.uint8))))
    return "holds 32x32 images, not the 28x28 of MNIST"


def corrupt_label_range(root: Path) -> str:
    (root / LABELS_GZ).write_bytes(gzip.compress(idx_bytes(np.full(12, 200, dtype=np.uint8))))
    return "holds label 200, outside 0-9"


@ignore_checksums
@pytest.mark.parametrize(
    "corrupt",
    [
        corrupt_truncated_gzip,
        corrupt_not_gzip,
        corrupt_magic,
        corrupt_labels_given_as_images,
        corrupt_short_data,
        corrupt_extra_data,
        corrupt_header_cut,
        corrupt_count_mismatch,
        corrupt_image_size,
        corrupt_label_range,
    ],
    ids=lambda f: f.__name__.removeprefix("corrupt_"),
)
def test_malformed_idx(tmp_path, corrupt):
    make_mnist(tmp_path)
    expected = corrupt(tmp_path)
    message = load_error("mnist", tmp_path)
    assert expected in message
    assert "MNIST/raw/train-" in message  # names the file
    assert "landscape data fetch mnist" in message  # says what to do


@ignore_checksums
def test_malformed_raw_idx_truncated(tmp_path):
    make_mnist(tmp_path, gz=False)
    path = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    message = load_error("mnist", tmp_path, "test")
    assert str(path) in message and "is truncated" in message


# ---------------------------------------------------------------- CIFAR-10 on small files


@ignore_checksums
def test_cifar_binary_round_trip(tmp_path):
    batches = make_cifar_bin(tmp_path)
    train = load_dataset("cifar10", tmp_path, "train")
    pixels = np.concatenate([batches[f"data_batch_{k}.bin"][0] for k in range(1, 6)])
    labels = np.concatenate([batches[f"data_batch_{k}.bin"][1] for k in range(1, 6)])
    assert train.images.shape == (35, 3, 32, 32) and train.layout == "binary"
    assert torch.equal(train.images, torch.from_numpy(pixels.reshape(-1, 3, 32, 32)))
    assert torch.equal(train.labels, torch.from_numpy(labels.astype(np.int64)))
    # the red plane comes first, row-major
    assert train.images[0, 0, 0, 1].item() == pixels[0, 1]
    assert train.images[0, 1, 0, 0].item() == pixels[0, 1024]
    test = load_dataset("cifar10", tmp_path, "test")
    assert len(test) == 7


@ignore_checksums
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_python_round_trip(tmp_path, protocol):
    batches = make_cifar_py(tmp_path, protocol=protocol)
    test = load_dataset("cifar10", tmp_path, "test")
    pixels, labels = batches["test_batch"]
    assert test.layout == "python"
    assert torch.equal(test.images, torch.from_numpy(pixels.reshape(-1, 3, 32, 32)))
    assert torch.equal(test.labels, torch.from_numpy(labels.astype(np.int64)))
    assert len(load_dataset("cifar10", tmp_path, "train")) == 35


@ignore_checksums
def test_cifar_binary_preferred_over_python(tmp_path):
    make_cifar_py(tmp_path)
    bins = make_cifar_bin(tmp_path)
    test = load_dataset("cifar10", tmp_path, "test")
    assert test.layout == "binary"
    assert torch.equal(test.labels, torch.from_numpy(bins["test_batch.bin"][1].astype(np.int64)))


@ignore_checksums
def test_cifar_wrong_record_length(tmp_path):
    make_cifar_bin(tmp_path)
    path = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    path.write_bytes(path.read_bytes() + b"\x00")
    message = load_error("cifar10", tmp_path)
    assert str(path) in message and f"not a whole number of {RECORD}-byte CIFAR-10 records" in message


@ignore_checksums
def test_cifar_label_out_of_range(tmp_path):
    make_cifar_bin(tmp_path)
    pixels, labels = cifar_records(3)
    labels[1] = 10
    path = write(tmp_path / "cifar-10-batches-bin" / "test_batch.bin", cifar_bin(pixels, labels))
    message = load_error("cifar10", tmp_path, "test")
    assert str(path) in message and "label 10" in message


@ignore_checksums
def test_cifar_incomplete(tmp_path):
    make_cifar_bin(tmp_path)
    (tmp_path / "cifar-10-batches-bin" / "data_batch_4.bin").unlink()
    message = load_error("cifar10", tmp_path)
    assert "incomplete" in message and "data_batch_4.bin" in message
    assert len(load_dataset("cifar10", tmp_path, "test")) == 7  # the test split is still complete


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@ignore_checksums
def test_cifar_pickle_that_runs_code_is_refused(tmp_path):
    make_cifar_py(tmp_path)
    marker = tmp_path / "pwned"
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(pickle.dumps({b"data": _RunsCode(marker), b"labels": []}, protocol=2))
    message = load_error("cifar10", tmp_path, "test")
    assert "refused to unpickle" in message and str(path) in message and "system" in message
    assert not marker.exists()


@ignore_checksums
@pytest.mark.parametrize(
    "payload, expected",
    [
        (lambda p, l: pickle.dumps([p, l], protocol=2), "holds a list where"),
        (lambda p, l: cifar_pickle(p, l, extra={b"extra": {1, 2}}), "reference to __builtin__.set"),
        (lambda p, l: cifar_pickle(p, l, extra={b"extra": {b"nested": 1}}), "entry 'extra' is not"),
        (lambda p, l: cifar_pickle(p, l, extra={b"extra": np.array([object()], dtype=object)}), "object-dtype array"),
        (lambda p, l: cifar_pickle(p[:, :100], l), "no uint8 'data' array of shape (N, 3072)"),
        (lambda p, l: cifar_pickle(p, l[:-1]), "has 2 'labels' for 3 images"),
        (lambda p, l: cifar_pickle(p, l)[:-20], "is not a readable CIFAR-10 pickle"),
        (lambda p, l: b"garbage", "is not a readable CIFAR-10 pickle"),
    ],
    ids=["list", "set", "dict-value", "object-array", "data-shape", "label-count", "truncated", "garbage"],
)
def test_cifar_pickle_with_unexpected_content(tmp_path, payload, expected):
    make_cifar_py(tmp_path)
    pixels, labels = cifar_records(3)
    path = write(tmp_path / "cifar-10-batches-py" / "test_batch", payload(pixels, labels))
    message = load_error("cifar10", tmp_path, "test")
    assert expected in message and str(path) in message


# ---------------------------------------------------------------- checksum verdict and its cache


def tiny_spec(base_url: str = "http://127.0.0.1:9/", files: dict[str, bytes] | None = None, *, mirrors=None, md5s=None) -> DatasetSpec:
    """A two-file IDX dataset whose official digests are those of ``files`` (name -> uncompressed bytes)."""
    files = files or tiny_files()
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    mirrors = mirrors or (base_url,)
    md5s = md5s or {}
    downloads = tuple(
        Download(f"{n}.gz", md5s.get(n, hashlib.md5(gzip.compress(files[n], mtime=0)).hexdigest()), tuple(f"{m}{n}.gz" for m in mirrors))
        for n in names
    )
    layout = Layout(
        name="idx",
        folder="Tiny/raw",
        reader="idx",
        splits=MappingProxyType({"train": names[:2], "test": names[2:]}),
        content=MappingProxyType({n: Digest("md5", hashlib.md5(files[n]).hexdigest()) for n in names}),
        downloads=downloads,
    )
    return DatasetSpec("tiny", "Tiny", (1, 28, 28), tuple("0123456789"), (layout,))


def tiny_files(seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)),
        "train-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, 6, dtype=np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)),
        "t10k-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, 4, dtype=np.uint8)),
    }


def test_official_content_loads_without_warning(tmp_path):
    files = tiny_files()
    for name, data in files.items():
        write(tmp_path / "Tiny" / "raw" / f"{name}.gz", gzip.compress(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_dataset("tiny", tmp_path, spec=tiny_spec(files=files))
    assert ds.official is True and len(ds) == 6


def test_checksum_cache_is_used_and_invalidated(tmp_path):
    files = tiny_files()
    spec = tiny_spec(files=files)
    other = tiny_files(seed=1)
    paths = {n: write(tmp_path / "Tiny" / "raw" / n, other[n]) for n in files}  # not the "official" content
    with pytest.warns(DatasetChecksumWarning):
        assert load_dataset("tiny", tmp_path, spec=spec).official is False
    cache = json.loads(checksums.cache_file().read_text())
    key = f"{paths['train-images-idx3-ubyte'].resolve()}::md5"
    assert cache[key]["digest"] == hashlib.md5(other["train-images-idx3-ubyte"]).hexdigest()

    # a cached digest for the file's current size and mtime is trusted without rehashing:
    # plant the official digests and the same (unchanged) files now count as official
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        cache[f"{paths[name].resolve()}::md5"]["digest"] = spec.layouts[0].content[name].hexdigest
    checksums.cache_file().write_text(json.dumps(cache))
    checksums.clear_memory_cache()
    assert load_dataset("tiny", tmp_path, spec=spec).official is True

    # touching a file (new mtime) invalidates its entry: it is hashed again and found to differ
    stat = paths["train-images-idx3-ubyte"].stat()
    os.utime(paths["train-images-idx3-ubyte"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.warns(DatasetChecksumWarning, match="1 of 2 files differ"):
        assert load_dataset("tiny", tmp_path, spec=spec).official is False


def test_unwritable_cache_only_costs_a_rehash(tmp_path, monkeypatch):
    blocker = write(tmp_path / "not-a-dir", b"")
    monkeypatch.setenv("LANDSCAPE_CACHE", str(blocker / "landscape"))  # the cache folder cannot be created
    files = tiny_files()
    for name, data in files.items():
        write(tmp_path / "Tiny" / "raw" / name, data)
    assert load_dataset("tiny", tmp_path, spec=tiny_spec(files=files)).official is True


# ---------------------------------------------------------------- downloads from a local server


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www; yields (base_url, folder, requests)."""
    www = tmp_path / "www"
    www.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(www)))
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", www, httpd.requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def serve_tiny(www: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        write(www / f"{name}.gz", gzip.compress(data, mtime=0))


def test_fetch_downloads_verifies_and_is_idempotent(tmp_path, server):
    base, www, requests = server
    files = tiny_files()
    serve_tiny(www, files)
    spec = tiny_spec(base, files)
    root = tmp_path / "root"
    result = fetch("tiny", root, spec=spec)
    assert not result.already_present and len(result.downloaded) == 4 and result.official
    assert sorted(p.name for p in (root / "Tiny" / "raw").iterdir()) == sorted(f"{n}.gz" for n in files)
    ds = load_dataset("tiny", root, "test", spec=spec)
    assert ds.official is True and len(ds) == 4
    assert len(requests) == 4
    again = fetch("tiny", root, spec=spec)
    assert again.already_present and again.downloaded == []
    assert len(requests) == 4  # nothing downloaded the second time
    forced = fetch("tiny", root, spec=spec, force=True)
    assert not forced.already_present and len(forced.downloaded) == 4 and forced.official
    assert len(requests) == 8


def test_fetch_needs_a_writable_root(tmp_path):
    blocker = write(tmp_path / "file", b"")
    with pytest.raises(DataError, match="cannot write to .*choose a writable data root"):
        fetch("tiny", blocker, spec=tiny_spec())


def test_fetch_falls_back_to_the_next_mirror(tmp_path, server):
    base, www, requests = server
    files = tiny_files()
    serve_tiny(www, files)
    spec = tiny_spec(files=files, mirrors=(f"{base}gone/", base))
    result = fetch("tiny", tmp_path / "root", spec=spec)
    assert result.official and len(result.downloaded) == 4
    assert sum(r.startswith("/gone/") for r in requests) == 4


def test_fetch_downloads_only_missing_files(tmp_path, server):
    base, www, requests = server
    files = tiny_files()
    serve_tiny(www, files)
    root = tmp_path / "root"
    write(root / "Tiny" / "raw" / "train-images-idx3-ubyte", files["train-images-idx3-ubyte"])  # present, raw, official
    result = fetch("tiny", root, spec=tiny_spec(base, files))
    assert "train-images-idx3-ubyte.gz" not in result.downloaded and len(result.downloaded) == 3
    assert result.official


def test_fetch_refuses_and_deletes_a_wrong_checksum(tmp_path, server):
    base, www, _ = server
    files = tiny_files()
    serve_tiny(www, files)
    spec = tiny_spec(base, files, md5s={"t10k-images-idx3-ubyte": "0" * 32})
    root = tmp_path / "root"
    with pytest.raises(DataError) as info:
        fetch("tiny", root, spec=spec)
    message = str(info.value)
    assert "refused and deleted" in message and "t10k-images-idx3-ubyte.gz" in message and "\n" not in message
    left = {p.name for p in (root / "Tiny" / "raw").iterdir()}
    assert "t10k-images-idx3-ubyte.gz" not in left and not any(n.endswith(".part") for n in left)


TINY_GZ = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def closed_port_url() -> str:
    """A URL on 127.0.0.1 whose port nothing listens on (connection refused): a mirror that cannot be reached."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_fetch_reports_unreachable_sources(tmp_path, server):
    base, _, requests = server  # serves nothing: every URL is a 404
    with pytest.raises(DataError) as info:
        fetch("tiny", tmp_path / "root", spec=tiny_spec(base))
    message = str(info.value)
    assert message.startswith(f"could not download all 4 Tiny files ({', '.join(TINY_GZ)}): ")
    assert "HTTP 404" in message and "\n" not in message
    assert len(requests) == 4  # the server answered, so every file was asked for
    assert not (tmp_path / "root").exists()  # the fetch created the root and removed it again, empty


def test_offline_fetch_leaves_an_empty_root_as_it_was_and_names_every_file(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    with pytest.raises(DataError) as info:
        fetch("tiny", root, spec=tiny_spec(closed_port_url()))
    message = str(info.value)
    assert list(root.iterdir()) == []  # no Tiny/raw left behind
    assert message.startswith(f"could not download all 4 Tiny files ({', '.join(TINY_GZ)}): 127.0.0.1:")
    assert "refused" in message.lower() and "\n" not in message  # the reason: connection refused
    assert "check the network connection" in message and "machine with internet access" in message
    assert f"place the official files in {root / 'Tiny' / 'raw'} by hand" in message


def test_offline_fetch_into_a_missing_root_creates_nothing(tmp_path):
    root = tmp_path / "deep" / "root"
    with pytest.raises(DataError, match="could not download all 4 Tiny files"):
        fetch("tiny", root, spec=tiny_spec(closed_port_url()))
    assert list(tmp_path.iterdir()) == []


def test_offline_fetch_keeps_a_root_that_holds_other_things(tmp_path):
    write(tmp_path / "MNIST" / "raw" / "keep.txt", b"x")
    with pytest.raises(DataError):
        fetch("tiny", tmp_path, spec=tiny_spec(closed_port_url()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MNIST"] and (tmp_path / "MNIST" / "raw" / "keep.txt").exists()


def test_an_unreachable_mirror_is_tried_once_then_skipped(tmp_path, server, monkeypatch):
    base, www, requests = server
    files = tiny_files()
    serve_tiny(www, files)
    dead = closed_port_url()
    tried: list[str] = []
    real_urlopen = urllib.request.urlopen

    def counting_urlopen(request, *args, **kwargs):
        tried.append(request.full_url)
        return real_urlopen(request, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", counting_urlopen)
    result = fetch("tiny", tmp_path / "root", spec=tiny_spec(files=files, mirrors=(dead, base)))
    assert result.official and len(result.downloaded) == 4
    assert sum(url.startswith(dead) for url in tried) == 1 and len(requests) == 4


def test_partial_fetch_keeps_verified_files_and_names_the_missing_one(tmp_path, server):
    base, www, _ = server
    files = tiny_files()
    serve_tiny(www, files)
    (www / "t10k-labels-idx1-ubyte.gz").unlink()  # a 404 for one file only
    root = tmp_path / "root"
    with pytest.raises(DataError) as info:
        fetch("tiny", root, spec=tiny_spec(base, files))
    message = str(info.value)
    assert message.startswith("could not download 1 of 4 Tiny files (t10k-labels-idx1-ubyte.gz): ")
    assert "the verified files are kept" in message
    assert sorted(p.name for p in (root / "Tiny" / "raw").iterdir()) == sorted(TINY_GZ[:3])


def test_fetch_keeps_differing_files_unless_forced(tmp_path, server):
    base, www, requests = server
    files = tiny_files()
    serve_tiny(www, files)
    spec = tiny_spec(base, files)
    root = tmp_path / "root"
    stale = tiny_files(seed=5)
    for name, data in stale.items():
        write(root / "Tiny" / "raw" / name, data)  # raw files that are not the official content
    with pytest.raises(DataError, match="differ from the official release .*--force"):
        fetch("tiny", root, spec=spec)
    assert requests == []
    result = fetch("tiny", root, force=True, spec=spec)
    assert result.official and len(result.downloaded) == 4
    assert load_dataset("tiny", root, spec=spec).official is True  # stale raw copies were replaced


# archives (the CIFAR-10 path): a tiny binary-layout dataset packed as a tar.gz


def tar_bytes(entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                name, data = entry
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def archive_spec(base: str, archive: bytes, batches: dict[str, bytes]) -> DatasetSpec:
    layout = Layout(
        name="binary",
        folder="tiny-batches-bin",
        reader="cifar-binary",
        splits=MappingProxyType({"train": ("data_batch_1.bin",), "test": ("test_batch.bin",)}),
        content=MappingProxyType({n: Digest("sha1", hashlib.sha1(d).hexdigest()) for n, d in batches.items()}),
        downloads=(Download("tiny.tar.gz", hashlib.md5(archive).hexdigest(), (f"{base}tiny.tar.gz",), archive=True),),
    )
    return DatasetSpec("tinycifar", "TinyCIFAR", (3, 32, 32), tuple("0123456789"), (layout,))


def tiny_batches() -> dict[str, bytes]:
    return {"data_batch_1.bin": cifar_bin(*cifar_records(5, 1)), "test_batch.bin": cifar_bin(*cifar_records(3, 2))}


def test_fetch_extracts_a_verified_archive(tmp_path, server):
    base, www, requests = server
    batches = tiny_batches()
    archive = tar_bytes([(f"tiny-batches-bin/{n}", d) for n, d in batches.items()] + [("tiny-batches-bin/readme.html", b"hi")])
    write(www / "tiny.tar.gz", archive)
    root = tmp_path / "root"
    result = fetch("tinycifar", root, spec=archive_spec(base, archive, batches))
    assert result.downloaded == ["tiny.tar.gz"] and result.official
    assert sorted(p.name for p in root.iterdir()) == ["tiny-batches-bin"]  # archive and scratch folder gone
    ds = load_dataset("tinycifar", root, "train", spec=archive_spec(base, archive, batches))
    assert ds.official is True and len(ds) == 5
    assert fetch("tinycifar", root, spec=archive_spec(base, archive, batches)).already_present
    assert len(requests) == 1


def test_offline_archive_fetch_leaves_the_root_as_it_was(tmp_path):
    batches = tiny_batches()
    archive = tar_bytes([(f"tiny-batches-bin/{n}", d) for n, d in batches.items()])
    root = tmp_path / "empty"
    root.mkdir()
    with pytest.raises(DataError) as info:
        fetch("tinycifar", root, spec=archive_spec(closed_port_url(), archive, batches))
    message = str(info.value)
    assert message.startswith("could not download TinyCIFAR's tiny.tar.gz: 127.0.0.1:")
    assert f"extract the official tiny.tar.gz into {root} by hand" in message and "\n" not in message
    assert list(root.iterdir()) == []


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "bad, reason",
    [
        (("tiny-batches-bin/../../evil", b"boom"), "climbs out"),
        (("../evil", b"boom"), "climbs out"),
        (("/tmp/landscape-evil-absolute", b"boom"), "absolute"),
        (_link("tiny-batches-bin/link.bin", "/etc/passwd", tarfile.SYMTYPE), "a link"),
        (_link("tiny-batches-bin/hard.bin", "tiny-batches-bin/test_batch.bin", tarfile.LNKTYPE), "a link"),
        (_link("tiny-batches-bin/fifo", "", tarfile.FIFOTYPE), "not a regular file"),
    ],
    ids=["dotdot-nested", "dotdot", "absolute", "symlink", "hardlink", "fifo"],
)
def test_fetch_refuses_unsafe_archives(tmp_path, server, bad, reason):
    base, www, _ = server
    batches = tiny_batches()
    # the unsafe member comes last: nothing may be written even though safe members precede it
    archive = tar_bytes([(f"tiny-batches-bin/{n}", d) for n, d in batches.items()] + [bad])
    write(www / "tiny.tar.gz", archive)
    root = tmp_path / "deep" / "root"
    with pytest.raises(DataError) as info:
        fetch("tinycifar", root, spec=archive_spec(base, archive, batches))
    message = str(info.value)
    assert "refused to extract tiny.tar.gz" in message and reason in message and "\n" not in message
    assert not root.exists()  # archive deleted, scratch removed, nothing extracted, the root it made removed
    assert not (tmp_path / "deep" / "evil").exists() and not (tmp_path / "evil").exists()
    assert not Path("/tmp/landscape-evil-absolute").exists()


def test_safe_extract_rejects_a_corrupt_archive(tmp_path):
    archive = write(tmp_path / "broken.tar.gz", tar_bytes([("a/b.bin", b"x" * 5000)])[:40])
    with pytest.raises(DataError, match="not a readable tar archive"):
        safe_extract(archive, tmp_path / "out")


def test_checksum_cache_lives_with_the_classifiers_under_landscape_cache(tmp_path, monkeypatch):
    """Issue 23: $LANDSCAPE_CACHE moved the classifiers but not checksums.json; one folder holds both now."""
    from analysis.quality.classifiers import classifiers_dir

    monkeypatch.setenv("LANDSCAPE_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    files = tiny_files()
    for name, data in files.items():
        write(tmp_path / "root" / "Tiny" / "raw" / name, data)
    assert load_dataset("tiny", tmp_path / "root", spec=tiny_spec(files=files)).official is True
    assert checksums.cache_file() == tmp_path / "mine" / "checksums.json" == classifiers_dir().parent / "checksums.json"
    assert checksums.cache_file().exists() and not (tmp_path / "xdg").exists()
