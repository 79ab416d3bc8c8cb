"""Shared test fixtures: where the shared datasets are, and small run files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    env = os.environ.get("LANDSCAPE_DATA")
    if env:
        return Path(env).resolve()
    return (REPO.parent / "shared" / "data").resolve()


SHARED_DATA = _shared_data()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The dataset root holding MNIST, Fashion-MNIST and CIFAR-10 (../shared/data or $LANDSCAPE_DATA)."""
    if not (SHARED_DATA / "MNIST").exists():
        pytest.fail(f"the shared datasets were not found at {SHARED_DATA}; set LANDSCAPE_DATA")
    return SHARED_DATA


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny problems run on one thread: OpenMP hand-offs cost 10-20x on a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
