"""The reference classifiers shipped as package data: pinned bytes, documented accuracy, loaded without training.

Issue 27: classifiers trained on each user's machine made quality numbers incomparable between machines
and cost minutes before a first iteration. The shipped files must be the ones pinned in
``analysis.quality.shipped.SHIPPED`` (SHA-256 of their bytes), small, float16, made by the committed recipes,
and still as accurate on each test set as documented; `get_reference` must load them without training,
and every quality row must name the classifier by name and hash.
"""

from __future__ import annotations

import pytest

from analysis.quality import shipped
from analysis.quality.shipped import SHIPPED, SHIPPED_ACCURACY, file_sha256, load_shipped_model, shipped_path
from landscape.weights import WeightsFileError, load_weights
from trainers.classifier import RECIPES, test_accuracy

pytestmark = [pytest.mark.usefixtures("one_torch_thread")]


def test_every_recipe_dataset_ships_a_small_float16_file_with_its_pinned_hash():
    assert set(SHIPPED) == set(RECIPES) == set(SHIPPED_ACCURACY)
    total = 0
    for dataset, (name, pinned) in SHIPPED.items():
        path = shipped_path(dataset)
        assert path is not None and path.name == f"{dataset}.h5", dataset
        assert file_sha256(path) == pinned, f"{path} is not the pinned file"
        total += path.stat().st_size
        arrays, meta = load_weights(path)
        assert meta["name"] == name and meta["dataset"] == dataset
        assert meta["recipe"] == RECIPES[dataset].to_dict() and meta["recipe_digest"] == RECIPES[dataset].digest()
        floats = [a for key, a in arrays.items() if a.dtype.kind == "f"]
        assert floats and all(a.dtype.name == "float16" for a in floats)
        assert meta["test_accuracy"] == pytest.approx(SHIPPED_ACCURACY[dataset], abs=5e-5)
    assert total < 10 * 2**20


@pytest.mark.parametrize("dataset", sorted(RECIPES))
def test_shipped_classifier_is_as_accurate_as_documented(dataset, require_dataset):
    from landscape.data import load_dataset

    root = require_dataset(dataset)
    test = load_dataset(dataset, root=root, split="test")
    model, meta = load_shipped_model(dataset)
    accuracy = test_accuracy(model, test.images, test.labels)
    # the same weights on the same images: equal up to float rounding on another CPU (a few borderline images)
    assert accuracy >= SHIPPED_ACCURACY[dataset] - 0.003, (dataset, accuracy)


def test_a_changed_shipped_file_is_refused_in_one_sentence(tmp_path, monkeypatch):
    raw = bytearray(shipped_path("mnist").read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (tmp_path / "mnist.h5").write_bytes(bytes(raw))
    monkeypatch.setattr(shipped, "REFERENCE_DIR", tmp_path)
    with pytest.raises(WeightsFileError, match="is not the landscape-mnist-v1 classifier landscape shipped") as err:
        load_shipped_model("mnist")
    assert "\n" not in str(err.value)


def test_get_reference_loads_the_shipped_classifier_without_training(tmp_path, monkeypatch, shared_data):
    import analysis.quality.classifiers as classifiers

    monkeypatch.setenv("LANDSCAPE_CACHE", str(tmp_path / "fresh"))

    def no_training(*args, **kwargs):
        raise AssertionError("a shipped classifier must not be trained")

    monkeypatch.setattr(classifiers, "train_reference", no_training)
    ref = classifiers.get_reference("mnist", data_dir=shared_data)
    name, pinned = SHIPPED["mnist"]
    assert ref.identity == f"{name}@sha256:{pinned}" and ref.meta["shipped"]
    assert ref.accuracy == pytest.approx(SHIPPED_ACCURACY["mnist"], abs=0.003)
    assert ref.real_features.shape == (10_000, 128)
    cached = list((tmp_path / "fresh" / "classifiers").glob("real-landscape-mnist-v1-*.h5"))
    assert len(cached) == 1  # the real side, computed once from the test set
    again = classifiers.get_reference("mnist", data_dir=shared_data)
    assert (again.real_features == ref.real_features).all()
    # what derives from the real side only (k-NN radii, KID's real-real kernel sums) is kept on disk too: the same
    # numbers in the next process, without recomputing them
    radii, sums = ref.real_side(2000)["radii"], ref.kid_real_sums(2000, 500)
    derived = sorted(p.name for p in (tmp_path / "fresh" / "classifiers" / "derived").glob("*.h5"))
    assert len(derived) == 2 and derived[0].endswith("-kid-2000-500.h5") and derived[1].endswith("-radii-2000.h5")
    third = classifiers.get_reference("mnist", data_dir=shared_data)
    assert (third.real_side(2000)["radii"] == radii).all() and third.kid_real_sums(2000, 500) == sums
    # the locally trained route stays for own recipes: shipped=False never loads the shipped file
    with pytest.raises(AssertionError, match="must not be trained"):
        classifiers.get_reference("mnist", data_dir=shared_data, shipped=False)


def test_quality_rows_name_the_classifier_by_name_and_hash(tmp_path, shared_data):
    from analysis.quality.classifiers import get_reference
    from analysis.quality.measurement import ImageQuality
    from landscape import open_run
    from landscape.config import TrainConfig
    from trainers import record

    ref = get_reference("mnist", data_dir=shared_data)
    config = TrainConfig(arch="vanilla", dataset="mnist", epochs=1, batch_size=64, subset=256, stages=1,
                         quality_every=4, quality_samples=200, hessian_every=0, device="cpu", data_dir=str(shared_data))
    record(config, tmp_path / "run.h5", measurements=[ImageQuality(ref)])
    q = open_run(tmp_path / "run.h5").quality
    assert not q.empty and {"kid", "kid_std", "frechet_distance"} <= set(q["metric"])
    assert set(q["classifier"]) == {f"landscape-mnist-v1@sha256:{SHIPPED['mnist'][1]}"}
