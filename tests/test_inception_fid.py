"""Papers' FID (`landscape quality --inception-fid`): the plumbing, end to end, with a random Inception network.

THE NUMBERS OF THESE TESTS MEAN NOTHING. Papers' Inception weights (pt_inception-2015-12-05-6726825d.pth)
cannot be downloaded here, so the test writes a weights file from a randomly initialised network of the
same architecture (torch-fidelity's Inception-v3, seeded), named random-init-inception-NOT-FOR-REPORTING.pth,
and measures a 2-iteration CIFAR-10 DCGAN with it on 10 generated and 10 real images. What is checked is the
path, not the value: the command accepts that file only with --any-inception-weights, stores the FID as its own
row (`/inception/<step>`, metric `inception_fd`, the file named by its SHA-256) apart from the domain classifier's
`/quality` rows, the value agrees with torchmetrics' FrechetInceptionDistance run on the same images with the same
file, and a missing or wrong file is one sentence.

torch-fidelity is not a test dependency: it requires torchvision, and the only torchvision for torch 2.13.0 on
PyPI is a CUDA build that fails to import on the CPU torch CI installs (and then `import torchmetrics` fails for
the other tests too). Without torch-fidelity the whole module is skipped with that reason, so the default suite
skips it, and CI (.ci/run) then runs it apart, as it can be run anywhere no matching torchvision can be had:
`pip install --no-deps --target DIR torch-fidelity`, then `PYTHONPATH=DIR python -m pytest -n 0
tests/test_inception_fid.py` (the Inception module needs only torch; landscape loads it without
torch-fidelity's package ``__init__``, before torchmetrics is imported here).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from landscape.data.roots import resolve_data_root
from landscape.errors import LandscapeError

try:
    from analysis.quality.inception import inception_class

    inception_class()
except LandscapeError as err:
    pytest.skip(f"torch-fidelity, not a test dependency (this module's docstring says why and how to run it), "
                f"cannot be imported: {err}", allow_module_level=True)

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.needs_data("cifar10"),
              pytest.mark.filterwarnings("ignore::UserWarning")]

#: The weights file the test makes: a random network, NOT papers' Inception weights. Its FIDs mean nothing.
RANDOM_WEIGHTS = "random-init-inception-NOT-FOR-REPORTING.pth"
#: Generated and real images per measurement: the CLI's minimum, so the test runs in seconds on one core.
N = 10


def landscape(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {**os.environ, "OMP_NUM_THREADS": "1", "LANDSCAPE_DATA": str(resolve_data_root()), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "landscape", *args], capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=600)


def one_sentence_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip() and "Warning" not in line]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory) -> Path:
    """A seeded, randomly initialised Inception-v3 of torch-fidelity's architecture: NOT papers' weights."""
    from analysis.quality.inception import write_random_inception_weights

    return write_random_inception_weights(tmp_path_factory.mktemp("inception") / RANDOM_WEIGHTS, seed=0)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A CIFAR-10 DCGAN recorded for 2 iterations of 16 images, no measurements: a real run file to measure."""
    from landscape.config import TrainConfig
    from trainers import record

    path = tmp_path_factory.mktemp("run") / "tiny.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a non-official copy of CIFAR-10 warns; the test does not mind
        record(TrainConfig(arch="dcgan", dataset="cifar10", max_iters=2, subset=256, batch_size=16, quality_every=0,
                           hessian_every=0, device="cpu"), path)
    return path


@pytest.fixture(scope="module")
def measured(tiny_run, random_weights) -> subprocess.CompletedProcess:
    return landscape("quality", str(tiny_run), "--steps", "last", "--samples", str(N), "--real-samples", str(N),
                     "--inception-weights", str(random_weights), "--any-inception-weights")


def test_the_command_stores_an_inception_fd_row_apart_from_the_classifier_rows(tiny_run, random_weights, measured):
    from landscape import open_run

    assert measured.returncode == 0, measured.stderr
    assert "FID" in measured.stdout and "NOT PAPERS' INCEPTION WEIGHTS" in measured.stdout
    run = open_run(tiny_run)
    step = run.checkpoint_steps[-1]
    rows = run.measurements("inception")
    assert len(rows) == 1
    row = rows.iloc[0]
    digest = hashlib.sha256(random_weights.read_bytes()).hexdigest()
    assert row["step"] == step and row["n"] == N and row["n_real"] == N
    assert row["classifier"] == f"inception-v3-other-weights@sha256:{digest}"  # never mistaken for papers' weights
    assert np.isfinite(row["inception_fd"]) and row["inception_fd"] > 0  # a value; it means nothing
    quality = run.quality
    assert "inception_fd" not in set(quality["metric"]) and "frechet_distance" in set(quality["metric"])
    assert quality["classifier"].str.startswith("landscape-cifar10-v1@sha256:").all()


def test_the_value_agrees_with_torchmetrics_on_the_same_images_and_file(tiny_run, random_weights, measured):
    """torchmetrics' FrechetInceptionDistance runs torch-fidelity's network too (NoTrainInceptionV3): given the same
    weights file and the same uint8 images it must give the stored value to 1e-4 relative."""
    from torchmetrics.image.fid import FrechetInceptionDistance, NoTrainInceptionV3

    from analysis.quality.checkpoints import load_generator
    from analysis.quality.inception_fd import real_indices, to_uint8_rgb
    from analysis.quality.measure import generate
    from landscape import open_run
    from landscape.data import load_dataset

    run = open_run(tiny_run)
    step = run.checkpoint_steps[-1]
    stored = float(run.measurements("inception")["inception_fd"].iloc[0])
    fake = to_uint8_rgb(generate(load_generator(run, step), run.config, N, seed=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = load_dataset("cifar10", split="test")
    real = test.images[real_indices(len(test), N)]
    network = NoTrainInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(random_weights),
                                 antialias=False)  # torch-fidelity's TensorFlow-1 resize, as papers' FID (the default,
    # torch's antialiased bilinear resize, moves these features by up to 6%)
    fid = FrechetInceptionDistance(feature=network, normalize=False)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    assert stored == pytest.approx(float(fid.compute()), rel=1e-4)


def test_a_missing_weights_file_says_where_to_get_it_and_where_to_put_it(tiny_run, tmp_path):
    line = one_sentence_error(landscape("quality", str(tiny_run), "--inception-fid",
                                        env={"LANDSCAPE_CACHE": str(tmp_path / "cache"),
                                             "LANDSCAPE_INCEPTION_WEIGHTS": ""}))
    where = tmp_path / "cache" / "inception" / "pt_inception-2015-12-05-6726825d.pth"
    assert "does not exist" in line and str(where) in line
    assert "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" in line


def test_a_file_that_is_not_papers_weights_is_refused_in_one_sentence(tiny_run, random_weights):
    line = one_sentence_error(landscape("quality", str(tiny_run), "--inception-weights", str(random_weights)))
    assert "is not the FID Inception weights file" in line and "--any-inception-weights" in line


def test_weights_of_another_network_are_refused_in_one_sentence(tiny_run, tmp_path):
    other = tmp_path / "other.pth"
    torch.save(torch.nn.Linear(3, 2).state_dict(), other)
    line = one_sentence_error(landscape("quality", str(tiny_run), "--inception-weights", str(other),
                                        "--any-inception-weights"))
    assert "does not hold the weights of torch-fidelity's Inception-v3" in line


def test_a_file_that_is_not_a_torch_file_is_one_sentence(tmp_path):
    from analysis.quality.inception import check_inception_weights
    from landscape.weights import WeightsFileError

    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a weights file")
    with pytest.raises(WeightsFileError, match="is not a PyTorch weights file"):
        check_inception_weights(junk, allow_other=True)
