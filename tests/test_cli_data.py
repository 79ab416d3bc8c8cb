"""`landscape data list` and `landscape data fetch`: real subprocesses for the user-facing
paths (exit codes, one-line errors, no tracebacks) and an in-process run of a download
from a local HTTP server through the CLI."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
from typer.testing import CliRunner

from landscape.data import registry
from landscape.data.registry import DatasetSpec, Digest, Download, Layout



@pytest.fixture
def env(tmp_path):
    """The environment for a subprocess: a private checksum cache, no data root from outside, wide output."""
    environ = {k: v for k, v in os.environ.items() if k != "LANDSCAPE_DATA"}
    environ.update(LANDSCAPE_CACHE=str(tmp_path / "cache"), COLUMNS="200", NO_COLOR="1")
    return environ


def landscape(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "landscape", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.strip("│┃ ").startswith(name + " "))


def test_list_shared(env, require_dataset):
    shared = require_dataset("mnist", "fashion-mnist", "cifar10")  # the data root as the CLI finds it
    result = landscape("data", "list", "--data-dir", str(shared), env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"Data root: {shared}" in out
    assert "MNIST/raw" in row(out, "mnist") and "official (4 files match)" in row(out, "mnist")
    assert "FashionMNIST/raw" in row(out, "fashion-mnist") and "official" in row(out, "fashion-mnist")
    cifar = row(out, "cifar10")
    assert "cifar-10-batches-bin" in cifar and "binary" in cifar and "not official (6 of 6 files differ)" in cifar


def test_list_empty_root_uses_env_var(tmp_path, env):
    env["LANDSCAPE_DATA"] = str(tmp_path / "empty")
    result = landscape("data", "list", env=env)
    assert result.returncode == 0, result.stderr
    assert "$LANDSCAPE_DATA" in result.stdout
    for name in ("mnist", "fashion-mnist", "cifar10"):
        assert "missing" in row(result.stdout, name)


def test_list_defaults_to_dot_data(tmp_path, env):
    result = landscape("data", "list", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"Data root: {tmp_path / 'data'}" in result.stdout


def test_list_shows_unreadable_files(tmp_path, env):
    folder = tmp_path / "MNIST" / "raw"
    folder.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (folder / f"{name}.gz").write_bytes(gzip.compress(b"\x00" * 100)[:30])  # truncated gzip
    result = landscape("data", "list", "--data-dir", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    assert "unreadable" in row(result.stdout, "mnist")


def test_fetch_unknown_dataset(env):
    line = assert_one_line_error(landscape("data", "fetch", "imagenet", env=env))
    assert "imagenet" in line and "mnist, fashion-mnist, cifar10" in line


def test_fetch_refuses_to_overwrite_differing_files(tmp_path, env):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name in [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]:
        (folder / name).write_bytes(bytes(3073))
    line = assert_one_line_error(landscape("data", "fetch", "cifar-10", "--data-dir", str(tmp_path), env=env))
    assert str(folder) in line and "--force" in line


def test_fetch_reports_a_corrupt_file(tmp_path, env):
    folder = tmp_path / "MNIST" / "raw"
    folder.mkdir(parents=True)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    line = assert_one_line_error(landscape("data", "fetch", "mnist", "--data-dir", str(tmp_path), env=env))
    assert "train-images-idx3-ubyte.gz" in line and "corrupt gzip" in line and "--force" in line


def test_fetch_is_idempotent_on_official_files(tmp_path, env, require_dataset):
    shutil.copytree(require_dataset("mnist") / "MNIST", tmp_path / "MNIST")  # a private copy: nothing is downloaded
    result = landscape("data", "fetch", "MNIST", "--data-dir", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    assert "already present" in result.stdout and "matches the official checksums" in result.stdout


MNIST_GZ = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

#: `landscape data fetch ...` with every mirror of the real registry moved to a closed port on 127.0.0.1 (offline)
OFFLINE_LANDSCAPE = """
import dataclasses, sys
from landscape.cli import main
from landscape.data import registry
dead = sys.argv.pop(1)
for key, spec in list(registry.DATASETS.items()):
    layouts = tuple(
        dataclasses.replace(layout, downloads=tuple(
            dataclasses.replace(d, urls=tuple(dead + url.rsplit("/", 1)[1] for url in d.urls)) for d in layout.downloads))
        for layout in spec.layouts)
    registry.DATASETS[key] = dataclasses.replace(spec, layouts=layouts)
sys.argv[0] = "landscape"
main()
"""


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def offline_landscape(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", OFFLINE_LANDSCAPE, closed_port_url(), *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
    )


def test_offline_fetch_leaves_the_root_as_it_was_and_names_every_file(tmp_path, env):
    empty = tmp_path / "EMPTY"
    empty.mkdir()
    result = offline_landscape("data", "fetch", "mnist", "--data-dir", str(empty), env=env)
    line = assert_one_line_error(result)
    assert result.returncode == 2
    assert list(empty.iterdir()) == []  # no EMPTY/MNIST/raw left behind
    assert f"all 4 MNIST files ({', '.join(MNIST_GZ)})" in line and "127.0.0.1:" in line
    assert "machine with internet access" in line and f"place the official files in {empty / 'MNIST' / 'raw'} by hand" in line


def test_offline_fetch_to_the_default_root_creates_no_data_folder(tmp_path, env):
    work = tmp_path / "work"
    work.mkdir()
    result = offline_landscape("data", "fetch", "cifar10", env=env, cwd=work)  # no --data-dir, no $LANDSCAPE_DATA: ./data
    line = assert_one_line_error(result)
    assert "cifar-10-binary.tar.gz" in line and f"extract the official cifar-10-binary.tar.gz into {work / 'data'}" in line
    assert "$LANDSCAPE_DATA" in line and "--data-dir" in line  # issue 23: a copy elsewhere is one setting away
    assert list(work.iterdir()) == []


def test_data_without_command_shows_help(env):
    result = landscape("data", env=env)
    assert "list" in result.stdout and "fetch" in result.stdout
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- a download through the CLI


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def tiny_registered(tmp_path, monkeypatch):
    """A tiny IDX dataset 'tiny' served from 127.0.0.1 and registered in the registry."""
    monkeypatch.setenv("LANDSCAPE_CACHE", str(tmp_path / "cache"))
    www = tmp_path / "www"
    www.mkdir()
    rng = np.random.default_rng(0)
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    arrays = [
        rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 6, dtype=np.uint8),
        rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 4, dtype=np.uint8),
    ]
    raw = {
        n: bytes((0, 0, 8, a.ndim)) + np.asarray(a.shape, dtype=">u4").tobytes() + a.tobytes()
        for n, a in zip(names, arrays)
    }
    for n, data in raw.items():
        (www / f"{n}.gz").write_bytes(gzip.compress(data, mtime=0))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    layout = Layout(
        name="idx",
        folder="Tiny/raw",
        reader="idx",
        splits=MappingProxyType({"train": names[:2], "test": names[2:]}),
        content=MappingProxyType({n: Digest("md5", hashlib.md5(d).hexdigest()) for n, d in raw.items()}),
        downloads=tuple(
            Download(f"{n}.gz", hashlib.md5((www / f"{n}.gz").read_bytes()).hexdigest(), (f"{base}{n}.gz",))
            for n in names
        ),
    )
    monkeypatch.setitem(registry.DATASETS, "tiny", DatasetSpec("tiny", "Tiny", (1, 28, 28), tuple("0123456789"), (layout,)))
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_cli_fetch_downloads_then_says_already_present(tmp_path, tiny_registered, monkeypatch):
    from landscape.cli import app
    from landscape.cli.console import console

    monkeypatch.setattr(console, "width", 200)  # in-process: the console's width was fixed when it was made

    runner = CliRunner()
    root = tmp_path / "root"
    first = runner.invoke(app, ["data", "fetch", "tiny", "--data-dir", str(root)])
    assert first.exit_code == 0, first.output
    assert "Downloaded and verified" in first.output and "train-images-idx3-ubyte.gz" in first.output
    assert len(list((root / "Tiny" / "raw").glob("*.gz"))) == 4
    second = runner.invoke(app, ["data", "fetch", "tiny", "--data-dir", str(root)])
    assert second.exit_code == 0 and "already present" in second.output
    listing = runner.invoke(app, ["data", "list", "--data-dir", str(root)], env={"COLUMNS": "200"})
    assert listing.exit_code == 0
    assert "official (4 files match)" in row(listing.output, "tiny")


def test_an_unofficial_copy_is_named_once_per_command(tmp_path, env):
    """Issue 23: a command loading several splits of a copy that is not the official release (training data and
    the classifier's test set) printed the warning once per split, three times for `landscape record` on CIFAR-10."""
    from test_data import make_mnist

    make_mnist(tmp_path / "root", n=40)
    result = landscape("classifier", "train", "--data", "mnist", "--epochs", "1", "--subset", "20", "--data-dir",
                       str(tmp_path / "root"), "--out", str(tmp_path / "c.h5"), env=env)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1 and "not the official release" in warnings[0], result.stderr
