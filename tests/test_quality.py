"""Sample quality next to the landscape: classifiers' weight files, ground truth, recording, the commands.

The domain classifier here is the MNIST one shipped with landscape
(:mod:`analysis.quality.shipped`), which `landscape record` and `landscape quality` load
without training; the real side is computed once into the suite's temporary cache.
Ground truth comes from real images: two disjoint halves of the test set must look
alike, a "generator" made of real images of one class must look collapsed, noise far off.
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from analysis.quality.classifiers import get_reference, load_reference
from analysis.quality.measure import IMAGE_METRICS, measure_images
from landscape import open_run
from landscape.config import TrainConfig
from landscape.data import load_dataset
from landscape.data.roots import resolve_data_root
from landscape.errors import LandscapeError
from landscape.weights import WeightsFileError, load_weights, save_weights

DATA = str(resolve_data_root())
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "LANDSCAPE_DATA": DATA, "COLUMNS": "200"}

pytestmark = [pytest.mark.usefixtures("one_torch_thread")]


def landscape(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "landscape", *args], capture_output=True, text=True,
                          env=env or ENV, timeout=600)


def one_sentence_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------- weights files
def test_weights_file_round_trip_and_tampering_is_refused(tmp_path):
    arrays = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.ones(3)}
    path = save_weights(tmp_path / "w.h5", arrays, {"kind": "test", "accuracy": 0.99})
    loaded, meta = load_weights(path)
    assert meta == {"kind": "test", "accuracy": 0.99}
    np.testing.assert_array_equal(loaded["w"], arrays["w"])
    # flip one byte of the float data: the digest no longer matches
    raw = bytearray(path.read_bytes())
    needle = np.float32(11).tobytes()
    at = raw.rfind(needle)
    assert at > 0
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(WeightsFileError, match="digest does not match"):
        load_weights(path)


def test_weights_file_that_is_not_one_is_refused(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(WeightsFileError, match="damaged"):
        load_weights(junk)
    with pytest.raises(WeightsFileError, match="does not exist"):
        load_weights(tmp_path / "missing.h5")


# ---------------------------------------------------------------------- ground truth
@pytest.fixture(scope="module")
def reference(shared_data):
    return get_reference("mnist", data_dir=shared_data, train=False)


@pytest.fixture(scope="module")
def test_images(shared_data):
    return load_dataset("mnist", root=shared_data, split="test")


def test_the_classifier_is_a_real_one(reference):
    assert reference.accuracy > 0.9
    assert reference.real_features.shape[0] == reference.n_real == 10_000


def test_real_images_score_as_real_data(reference, test_images):
    """Two disjoint halves of the test set: no KL, every class, far closer than noise, recall/coverage near 1."""
    others = np.setdiff1d(np.arange(10_000), reference.real_indices(5000))
    halves = measure_images(test_images.images[torch.from_numpy(others)], reference, n_real=5000)
    assert set(halves) == set(IMAGE_METRICS)
    assert halves["class_kl"] < 0.01
    assert halves["classes_covered"] == 10
    assert halves["recall"] > 0.9 and halves["coverage"] > 0.9 and halves["precision"] > 0.9
    assert 0.8 < halves["density"] < 1.2
    assert halves["inception_score"] > 8
    noise = torch.rand(5000, 1, 28, 28) * 2 - 1
    noisy = measure_images(noise, reference, n_real=5000)
    assert noisy["frechet_distance"] > 20 * halves["frechet_distance"]
    assert noisy["recall"] < 0.05 and noisy["coverage"] < 0.05
    # (not precision: noise's features fall inside a real image's k-NN ball, so its precision can be high)


def test_a_one_class_generator_scores_as_collapsed(reference, test_images):
    threes = test_images.images[test_images.labels == 3][:1000]
    values = measure_images(threes, reference)
    assert values["class_kl"] == pytest.approx(math.log(10), abs=0.3)
    assert values["classes_covered"] == 1
    assert values["recall"] < 0.2
    assert values["inception_score"] < 1.5


def test_sample_sizes_beyond_the_test_set_are_refused(reference, test_images):
    with pytest.raises(LandscapeError, match="more than mnist's 10000 test images"):
        reference.real_side(20_000)
    with pytest.raises(LandscapeError, match="too few"):
        measure_images(test_images.images[:3], reference)


# ---------------------------------------------------------------------- during training and after
@pytest.fixture(scope="module")
def quality_run(tmp_path_factory, shared_data, reference):
    """A tiny vanilla MNIST run measured every 20 iterations on 1,000 samples (steps 20, 40, 60)."""
    from analysis.quality.measurement import ImageQuality
    from trainers import record

    config = TrainConfig(arch="vanilla", dataset="mnist", epochs=3, batch_size=128, subset=2560, stages=3,
                         quality_every=20, quality_samples=1000, hessian_every=0, device="cpu", data_dir=str(shared_data))
    seen = []
    path = tmp_path_factory.mktemp("quality") / "run.h5"
    record(config, path, measurements=[ImageQuality(reference, on_result=lambda s, v, t: seen.append(s))])
    assert seen == [20, 40, 60]
    return path


def test_record_measures_quality_at_its_quality_steps(quality_run, reference):
    run = open_run(quality_run)
    q = run.quality
    assert sorted(q["step"].unique()) == [20, 40, 60]
    assert set(q["metric"]) == set(IMAGE_METRICS)
    assert (q["n"] == 1000).all() and (q["n_real"] == 10_000).all()
    assert q.groupby("step")["epoch"].first().tolist() == [1, 2, 3]
    assert run.config["quality_every"] == 20
    assert run.meta("schedule")["quality_steps"] == [20, 40, 60]


def test_quality_steps_default_to_the_sample_epochs_and_zero_means_never():
    from trainers.schedule import Schedule

    base = dict(arch="vanilla", dataset="mnist", epochs=100, batch_size=128)
    plan = Schedule.plan(TrainConfig(**base), 60_000)
    assert plan.quality_steps == [468 * e for e in (1, 25, 50, 75, 100)]
    assert Schedule.plan(TrainConfig(**base, quality_every=0), 60_000).quality_steps == []
    assert Schedule.plan(TrainConfig(**base, quality_every=10_000), 60_000).quality_steps == [10_000, 20_000, 30_000,
                                                                                                40_000, 46_800]


def test_landscape_quality_measures_checkpoints_and_keeps_the_file_whole(quality_run, tmp_path):
    path = tmp_path / "run.h5"
    path.write_bytes(quality_run.read_bytes())
    before = open_run(path)
    result = landscape("quality", str(path), "--steps", "first,last", "--samples", "500")
    assert result.returncode == 0, result.stderr
    assert "Sample quality" in result.stdout and "classifier Inception Score" in result.stdout
    after = open_run(path)
    q = after.quality
    assert {0, 60} <= set(q["step"])
    assert (q[q["step"] == 0]["n"] == 500).all()
    assert q[q["step"] == 0]["epoch"].iloc[0] == 0
    pd.testing.assert_frame_equal(before.metrics, after.metrics)
    # both far from real images (5,000 real test images score 0.36 against the other 5,000), and measured anew
    # (a 60-iteration generator is not yet better than the untrained one in the shipped classifier's features)
    fd = q[q["metric"] == "frechet_distance"].set_index("step")["value"]
    assert fd[0] > 50 and fd[60] > 50 and fd[0] != fd[60]


def test_landscape_quality_bad_input_leaves_the_run_untouched(quality_run, tmp_path):
    path = tmp_path / "run.h5"
    path.write_bytes(quality_run.read_bytes())
    before = digest(path)
    line = one_sentence_error(landscape("quality", str(path), "--samples", "20000"))
    assert "more than mnist's 10000 test images" in line
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"garbage")
    line = one_sentence_error(landscape("quality", str(path), "--classifier", str(bad)))
    assert "damaged" in line
    line = one_sentence_error(landscape("quality", str(path), "--steps", "7"))
    assert "no checkpoint at step 7" in line
    assert digest(path) == before


def test_a_run_whose_generator_cannot_be_rebuilt_is_refused(tmp_path):
    from landscape.writer import RunWriter

    path = tmp_path / "clf.h5"
    with RunWriter(path, {"model": "mlp", "dataset": "mnist"}) as writer:
        writer.log(0, epoch=1, clf_loss=1.0, clf_grad_norm=2.0)
        writer.add_checkpoint(0, {"clf": {"w": np.zeros(3)}})
    before = digest(path)
    line = one_sentence_error(landscape("quality", str(path)))
    assert "cannot be rebuilt" in line
    assert digest(path) == before


def test_no_classifier_and_no_data_is_one_sentence(tmp_path, shared_data, monkeypatch):
    """A run recorded without quality, measured later on a machine with neither a classifier nor the data."""
    from trainers import record

    path = tmp_path / "run.h5"
    monkeypatch.setenv("LANDSCAPE_DATA", str(shared_data))
    record(TrainConfig(arch="vanilla", dataset="mnist", epochs=1, batch_size=128, subset=256, stages=1,
                       quality_every=0, hessian_every=0, device="cpu"), path)
    before = digest(path)
    env = {**ENV, "LANDSCAPE_CACHE": str(tmp_path / "empty-cache"), "LANDSCAPE_DATA": str(tmp_path / "no-data")}
    line = one_sentence_error(landscape("quality", str(path), env=env))
    assert "no mnist test set to compare generated images with" in line  # the shipped classifier needs no training
    assert digest(path) == before
    line = one_sentence_error(landscape("classifier", "train", "--data", "mnist", env=env))
    assert "MNIST" in line or "mnist" in line


def test_the_report_sets_quality_beside_the_landscape(quality_run):
    from analysis.stationarity import stationarity_report

    report = stationarity_report(quality_run, stages=3)
    assert list(report.quality["stage"]) == [1, 2, 3]
    assert {"g_loss_median", "d_grad_norm_median", "class_kl", "recall"} <= set(report.quality.columns)
    assert len(report.quality_changes) == 1
    row = report.quality_changes.iloc[0]
    # the shipped MNIST classifier (issue 27) sees this 60-iteration generator's blobs as one class at every
    # measurement: no quality change to place, and the report says so (a collapse found: the test below)
    assert row["quality_stage"] is None and row["change"] == 0 and "does not change" in row["finding"]
    assert row["landscape_stage"] in (2, 3) and not row["same_stage"]
    text = report.to_text()
    assert "SAMPLE QUALITY AND THE LANDSCAPE" in text and "SAMPLE QUALITY BY STAGE" in text
    assert report.to_dict()["quality"][0]["stage"] == 1


def test_quality_changes_finds_a_collapse_and_the_stage_it_shares():
    from analysis.quality.stages import quality_changes

    per_stage = pd.DataFrame({"run": "r", "stage": [1, 2, 3], "step": [10, 20, 30], "class_kl": [0.02, 0.03, 0.9],
                              "classes_covered": [10, 10, 4]})
    summary = pd.DataFrame({"run": "r", "network": ["g"] * 3 + ["d"] * 3, "stage": [1, 2, 3] * 2,
                            "grad_norm_median": [1.0, 1.1, 5.0, 1.0, 1.0, 1.0], "loss_median": [1.0] * 6})
    row = quality_changes(per_stage, summary).iloc[0]
    assert row["collapse"] and row["quality_stage"] == 3 and row["landscape_stage"] == 3 and row["same_stage"]
    assert "Collapse in stage 3" in row["finding"] and "classes covered 10 -> 4" in row["finding"]
    summary.loc[1, "grad_norm_median"] = 50.0  # now the landscape moves most in stage 2
    row = quality_changes(per_stage, summary).iloc[0]
    assert row["landscape_stage"] == 2 and not row["same_stage"] and "a different stage" in row["finding"]


def test_timeline_has_a_quality_panel_and_the_clouds_an_annotation(quality_run):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.lgc import lgc_figure
    from analysis.timeline import timeline_figure

    fig = timeline_figure(quality_run, stages=3)
    labels = {ax.get_ylabel() for ax in fig.axes}
    assert {"class KL", "Inception Score", "loss", "gradient norm"} <= labels
    kl_axis = next(ax for ax in fig.axes if ax.get_ylabel() == "class KL")
    assert list(kl_axis.get_lines()[0].get_xdata()) == [20, 40, 60]
    plt.close(fig)
    grid = lgc_figure(quality_run, stages=3, annotate="classes_covered")
    legend = grid.axes[0, -1].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert len(texts) == 3 and all(t.endswith("]") for t in texts)
    assert "classes covered" in legend.get_title().get_text()
    plt.close(grid.figure)
    with pytest.raises(LandscapeError, match="Unknown quality metric"):
        lgc_figure(quality_run, stages=3, annotate="sharpness")


# ---------------------------------------------------------------------- classifiers: commands and cache
def test_classifier_train_and_list(tmp_path, shared_data):
    out = tmp_path / "clf.h5"
    env = {**ENV, "LANDSCAPE_CACHE": str(tmp_path / "cache")}
    result = landscape("classifier", "train", "--data", "mnist", "--epochs", "1", "--subset", "2000", "--out",
                       str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert "% on the 10,000 test images" in result.stdout
    ref = load_reference(out)
    assert ref.meta["subset"] == 2000 and ref.meta["recipe"]["epochs"] == 1 and ref.accuracy > 0.6
    listed = landscape("classifier", "list")
    assert listed.returncode == 0 and "mnist" in listed.stdout and "%" in listed.stdout
    line = one_sentence_error(landscape("classifier", "train", "--data", "ring8", env=env))
    assert "has no domain classifier" in line


def test_get_reference_trains_once_on_a_miss_then_uses_the_cache(tmp_path, shared_data, monkeypatch):
    import analysis.quality.classifiers as classifiers

    monkeypatch.setenv("LANDSCAPE_CACHE", str(tmp_path / "cache"))
    calls, notes = [], []
    real_train = classifiers.train_reference

    def quick_train(dataset, **kwargs):
        calls.append(dataset)
        return real_train(dataset, epochs=1, subset=1000, **kwargs)

    monkeypatch.setattr(classifiers, "train_reference", quick_train)
    first = classifiers.get_reference("mnist", data_dir=shared_data, on_train=notes.append, shipped=False)
    assert calls == ["mnist"] and len(notes) == 1 and "once" in notes[0]
    assert first.path.parent == tmp_path / "cache" / "classifiers"
    # the quick train stored under its own key (another recipe); put it where the full recipe's would be
    from trainers.classifier import RECIPES

    splits = classifiers.load_splits("mnist", shared_data)
    target = classifiers.classifiers_dir() / f"{classifiers.cache_key('mnist', RECIPES['mnist'], classifiers.data_digest(*splits))}.h5"
    first.path.rename(target)
    second = classifiers.get_reference("mnist", data_dir=shared_data, on_train=notes.append, shipped=False)
    assert calls == ["mnist"] and second.path == target


def test_record_refuses_bad_quality_options_before_writing_anything(tmp_path, shared_data):
    """Too many quality samples, or another dataset's classifier: one sentence, and no run file."""
    out = tmp_path / "run.h5"
    base = ["record", "--arch", "vanilla", "--data", "mnist", "--max-iters", "3", "--subset", "256", "--batch-size", "64",
            "--hessian-every", "0", "--out", str(out)]
    line = one_sentence_error(landscape(*base, "--quality-samples", "20000"))
    assert "20000 generated samples are more than mnist's 10000 test images" in line
    assert not out.exists()
    fashion = tmp_path / "fashion.h5"
    trained = landscape("classifier", "train", "--data", "fashion-mnist", "--epochs", "1", "--subset", "500", "--out",
                        str(fashion))
    assert trained.returncode == 0, trained.stderr
    line = one_sentence_error(landscape(*base, "--classifier", str(fashion)))
    assert "is a fashion-mnist classifier" in line and "mnist" in line
    assert not out.exists()
    result = landscape(*base, "--quality-every", "0")
    assert result.returncode == 0, result.stderr
    assert open_run(out).quality.empty


def test_steady_quality_is_not_tied_to_a_landscape_stage():
    """Issue 23: "Sample quality does not change ... (class KL 2.33 throughout), the same stage in which the
    landscape summaries change most" linked a stage to a quality that has none."""
    from analysis.quality.stages import quality_changes

    per_stage = pd.DataFrame({"run": "r", "stage": [1, 2, 3], "step": [10, 20, 30],
                              "class_kl": [2.3301, 2.3304, 2.3302], "classes_covered": [1, 1, 1]})
    summary = pd.DataFrame({"run": "r", "network": ["g"] * 3 + ["d"] * 3, "stage": [1, 2, 3] * 2,
                            "grad_norm_median": [1.0, 1.1, 5.0, 1.0, 1.0, 1.0], "loss_median": [1.0] * 6})
    row = quality_changes(per_stage, summary).iloc[0]
    finding = row["finding"]
    assert finding.startswith("Sample quality does not change from stage to stage (class KL 2.33 throughout)")
    assert "same stage" not in finding and "different stage" not in finding
    assert "the landscape summaries change most in stage 3" in finding
    assert not row["same_stage"] and row["quality_stage"] is None and not row["collapse"]
