"""The test suite finds the datasets as the CLI does and skips, saying why, when they are absent.

Each test runs pytest in a subprocess on a tiny test module next to a copy of this
folder's conftest.py, with the data root pointed at folders that hold nothing, part of
the datasets, or (when available) the real ones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

TINY_TESTS = '''
import pytest


def test_uses_shared_data(shared_data):
    assert (shared_data / "MNIST").is_dir()


@pytest.mark.parametrize("data", ["mnist", "cifar10"])
def test_each_dataset(shared_data, data):
    assert shared_data.is_dir()


@pytest.mark.needs_data("fashion-mnist")
def test_marked():
    pass


def test_fixture_asked_for_by_name(request):  # not seen before setup: the fixture itself skips
    assert (request.getfixturevalue("shared_data") / "MNIST").is_dir()
'''


def run_tiny_suite(tmp_path: Path, data_env: str | None) -> subprocess.CompletedProcess[str]:
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(HERE / "conftest.py", suite / "conftest.py")
    (suite / "test_tiny.py").write_text(TINY_TESTS)
    env = {k: v for k, v in os.environ.items() if k != "LANDSCAPE_DATA"}
    env["OMP_NUM_THREADS"] = "1"
    if data_env is not None:
        env["LANDSCAPE_DATA"] = data_env
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "test_tiny.py"],
        cwd=suite, env=env, capture_output=True, text=True, timeout=300,
    )


def outcomes(result: subprocess.CompletedProcess[str]) -> tuple[dict[str, str], list[str]]:
    """From the '-rA' summary: test id -> PASSED/FAILED/ERROR, and the SKIPPED lines (which carry the reasons)."""
    others, skipped = {}, []
    for line in result.stdout.splitlines():
        word = line.split(" ", 1)[0]
        if word == "SKIPPED":
            skipped.append(line)
        elif word in ("PASSED", "FAILED", "ERROR"):
            others[line.split()[1]] = word
    return others, skipped


def fake_mnist(root: Path) -> None:
    """The four MNIST file names (empty files): enough for the data root to 'hold' MNIST."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"")


def test_an_empty_data_root_skips_with_the_reason(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_tiny_suite(tmp_path, str(empty))
    assert result.returncode == 0, result.stdout + result.stderr  # skipped, not failed or errored
    others, skipped = outcomes(result)
    assert others == {} and result.stdout.strip().splitlines()[-1].startswith("=") and " 5 skipped " in result.stdout
    assert any(f": MNIST was not found under the data root {empty} ($LANDSCAPE_DATA)" in line for line in skipped)
    assert all("set LANDSCAPE_DATA" in line and "`landscape data fetch " in line for line in skipped)


def test_without_landscape_data_the_default_dot_data_is_searched(tmp_path):
    result = run_tiny_suite(tmp_path, None)  # cwd: the suite folder, which has no ./data
    assert result.returncode == 0, result.stdout + result.stderr
    expected = f"under the data root {tmp_path / 'suite' / 'data'} (default ./data)"
    others, skipped = outcomes(result)
    assert others == {} and len(skipped) >= 1 and all(expected in line for line in skipped)


def test_each_test_is_skipped_only_for_the_datasets_it_needs(tmp_path):
    root = tmp_path / "root"
    fake_mnist(root)
    result = run_tiny_suite(tmp_path, str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    others, skipped = outcomes(result)
    assert others == {
        "test_tiny.py::test_uses_shared_data": "PASSED",
        "test_tiny.py::test_each_dataset[mnist]": "PASSED",
        "test_tiny.py::test_fixture_asked_for_by_name": "PASSED",
    }
    assert len(skipped) == 2
    assert any("CIFAR-10 was not found" in line and "landscape data fetch cifar10" in line for line in skipped)
    assert any("Fashion-MNIST was not found" in line and "landscape data fetch fashion-mnist" in line for line in skipped)


def test_the_real_data_root_runs_the_tests(tmp_path, require_dataset):
    root = require_dataset("mnist", "fashion-mnist", "cifar10")
    result = run_tiny_suite(tmp_path, str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    others, skipped = outcomes(result)
    assert skipped == [] and set(others.values()) == {"PASSED"} and len(others) == 5
