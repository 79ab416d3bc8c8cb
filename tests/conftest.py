"""Shared test fixtures: where the datasets are (found as the CLI finds them), and small helpers.

The data root follows the CLI's rules (``landscape.data.roots``): ``$LANDSCAPE_DATA``,
else ``./data`` in the folder pytest runs in. A test that needs a dataset which is not
there is skipped, with the root that was searched and what to do, never failed: the
CI sets ``LANDSCAPE_DATA=../shared/data`` (``.ci/run``), elsewhere run
``landscape data fetch mnist`` (and ``fashion-mnist``, ``cifar10``) or point
``LANDSCAPE_DATA`` at a folder that holds them.

Tests that use ``shared_data`` need MNIST; one parametrized over ``data``/``dataset``
also needs that dataset, and ``@pytest.mark.needs_data("cifar10", ...)`` names others.

Sample quality needs a domain classifier per dataset: MNIST, Fashion-MNIST and CIFAR-10 use the
classifiers shipped with landscape (``analysis.quality.shipped``), as users' runs do, so nothing is
trained. The suite never touches the user's cache: ``$LANDSCAPE_CACHE`` points at a temporary
folder (the shipped classifiers' real-side features are computed into it once). A dataset with a
recipe but no shipped file would get a quick classifier (two epochs on 20,000 images) planted there
before the first test that needs data.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path
from typing import Callable

import pytest

from landscape.data.locate import dataset_status
from landscape.data.registry import canonical_name, get_spec
from landscape.data.roots import resolve_data_root_with_source
from landscape.errors import DataError

REPO = Path(__file__).resolve().parents[1]

#: the data root as `landscape` would resolve it now, and where that came from ("$LANDSCAPE_DATA", "default ./data")
DATA_ROOT, DATA_ROOT_SOURCE = resolve_data_root_with_source()
SHARED_DATA = DATA_ROOT  # the older name


def missing_dataset_reason(name: str, root: Path = DATA_ROOT) -> str | None:
    """Why ``name`` cannot be loaded from ``root`` (a skip reason), or None when its files are all there."""
    spec = get_spec(name)
    if dataset_status(spec, root).complete:
        return None
    where = f"the data root {root} ({DATA_ROOT_SOURCE})" if root == DATA_ROOT else f"{root}"
    return (
        f"{spec.title} was not found under {where}; set LANDSCAPE_DATA to a folder that holds the datasets "
        f"or run `landscape data fetch {spec.name}`"
    )


def require_datasets(*names: str, root: Path = DATA_ROOT) -> Path:
    """``root`` if every dataset in ``names`` is there; otherwise skip the test, saying which one and what to do."""
    for name in names:
        reason = missing_dataset_reason(name, root)
        if reason is not None:
            pytest.skip(reason)
    return root


#: Quick classifiers: epochs and training images (real classifiers on a small budget: MNIST ~98%).
QUICK_CLASSIFIER = {"epochs": 2, "subset": 20_000}
_planted: set[str] = set()


#: Set by the first pytest process of a run (the xdist controller, or a plain run): the cache every worker shares.
SHARED_CACHE_VAR = "LANDSCAPE_TEST_CACHE"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_data(*names): the test needs these datasets under the data root (else skipped)")
    # xdist workers start after the controller's configure and inherit its environment: one cache for all of them,
    # so a quick classifier is planted once per run, not once per worker
    if os.environ.get("PYTEST_XDIST_WORKER") is None or SHARED_CACHE_VAR not in os.environ:
        os.environ[SHARED_CACHE_VAR] = tempfile.mkdtemp(prefix="landscape-test-cache-")
    os.environ["LANDSCAPE_CACHE"] = os.environ[SHARED_CACHE_VAR]
    if os.environ.get("PYTEST_XDIST_WORKER") is not None:
        # one thread per worker (and for the commands it starts): two workers on default threads slow each
        # other 5-10x on a 2-core machine
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)


def plant_quick_classifiers() -> None:
    """Before the first test that needs data: a quick classifier for every dataset under the data root (a test
    may record on more datasets than it declares, and a miss would train the full recipe, minutes)."""
    from analysis.quality.shipped import shipped_path
    from trainers.classifier import RECIPES

    for name in RECIPES:
        if shipped_path(name) is None and missing_dataset_reason(name) is None:  # shipped ones need no training
            plant_quick_classifier(name)


def plant_quick_classifier(name: str) -> None:
    """Train ``name``'s classifier on a small budget into the cache, under the full recipe's key (once per session)."""
    if name in _planted:
        return
    _planted.add(name)
    import torch

    from analysis.quality.classifiers import cache_key, classifiers_dir, data_digest, load_splits, train_reference
    from trainers.classifier import RECIPES

    if name not in RECIPES:
        return
    from landscape.errors import LandscapeError

    try:
        splits = load_splits(name, DATA_ROOT)
    except LandscapeError:  # files that are there but cannot be read: the test itself says what happens then
        return
    path = classifiers_dir() / f"{cache_key(name, RECIPES[name], data_digest(*splits))}.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{name}.lock", "w") as lock:  # xdist workers share the cache: one trains, others wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                train_reference(name, data=splits, out=path, **QUICK_CLASSIFIER)
            finally:
                torch.set_num_threads(before)


def _needed_datasets(item: pytest.Item) -> list[str]:
    needed: list[str] = []
    if "shared_data" in getattr(item, "fixturenames", ()):
        needed.append("mnist")
        params = getattr(getattr(item, "callspec", None), "params", {})
        for key in ("data", "dataset"):
            value = params.get(key)
            if isinstance(value, str):
                try:
                    needed.append(canonical_name(value))
                except DataError:  # not a dataset name: the test decides what to do with it
                    pass
    for marker in item.iter_markers("needs_data"):
        needed.extend(canonical_name(name) for name in marker.args)
    return list(dict.fromkeys(needed))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip, before its fixtures run, a test whose datasets are not under the data root."""
    needed = _needed_datasets(item)
    if needed:
        require_datasets(*needed)
        plant_quick_classifiers()


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The data root as the CLI resolves it ($LANDSCAPE_DATA, else ./data); it may hold nothing."""
    return DATA_ROOT


@pytest.fixture(scope="session")
def require_dataset() -> Callable[..., Path]:
    """``require_dataset("cifar10")``: the data root, or skip the test when that dataset is not there."""
    return require_datasets


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The data root holding the datasets ($LANDSCAPE_DATA, else ./data, as for the CLI); skips without MNIST."""
    return require_datasets("mnist")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny problems run on one thread: OpenMP hand-offs cost 10-20x on a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
