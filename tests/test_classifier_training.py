"""Domain classifiers (trainers.classifier): seeded, deterministic training, cheap inference, stable recipe digests.

The default tests train MNIST on a tiny budget; ``-m slow`` trains each dataset's full
recipe and checks its accuracy target on the real test set (MNIST >= 99%,
Fashion-MNIST >= 90%, CIFAR-10 >= 75%; about 0.5, 1 and 5 minutes on one thread).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest
import torch

from landscape.data import load_dataset, to_unit_range
from trainers.classifier import (
    RECIPE_VERSION,
    RECIPES,
    ClassifierRecipe,
    DomainClassifier,
    build_classifier,
    classifier_arguments,
    classify,
    test_accuracy,
    train_classifier,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TARGETS = {"mnist": 0.99, "fashion-mnist": 0.90, "cifar10": 0.75}


@pytest.fixture(scope="module")
def mnist(shared_data):
    return load_dataset("mnist", root=shared_data, split="train"), load_dataset("mnist", root=shared_data, split="test")


@pytest.fixture(scope="module")
def small_model(mnist, one_torch_thread):
    """MNIST on a tiny budget: the first 10,000 training images, one epoch (about 2 s)."""
    train, _ = mnist
    return train_classifier(RECIPES["mnist"], train.images, train.labels, epochs=1, subset=10_000)


def test_tiny_budget_reaches_modest_accuracy(mnist, small_model):
    _, test = mnist
    assert not small_model.training
    assert test_accuracy(small_model, test.images, test.labels) >= 0.94  # measured 0.958-0.963 over seeds 0-3


def test_training_is_deterministic_and_leaves_global_rng_alone(mnist):
    train, _ = mnist
    recipe = replace(RECIPES["mnist"], batch_size=64)
    state = torch.get_rng_state()
    calls: list[tuple[int, int]] = []
    a = train_classifier(recipe, train.images, train.labels, epochs=2, subset=640, on_progress=lambda d, t: calls.append((d, t)))
    assert torch.equal(torch.get_rng_state(), state)
    b = train_classifier(recipe, train.images, train.labels, epochs=2, subset=640)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert calls == [(i, 20) for i in range(1, 21)]
    c = train_classifier(replace(recipe, seed=1), train.images, train.labels, epochs=2, subset=640)
    assert not torch.equal(c.state_dict()["head.weight"], sa["head.weight"])


def test_classify_shapes_probabilities_and_input_types(mnist, small_model):
    _, test = mnist
    images = test.images[:700]
    probs, feats = classify(small_model, images, batch_size=256)
    assert probs.shape == (700, 10) and probs.dtype == torch.float32
    assert feats.shape == (700, RECIPES["mnist"].feature_dim) and feats.dtype == torch.float32
    assert torch.allclose(probs.sum(1), torch.ones(700), atol=1e-5)
    assert (probs >= 0).all()
    probs_f, feats_f = classify(small_model, to_unit_range(images))
    assert torch.allclose(probs, probs_f, atol=1e-5) and torch.allclose(feats, feats_f, atol=1e-4)
    # the module's own entry points agree with classify (one pass for logits and features)
    with torch.no_grad():
        logits, f = small_model.logits_and_features(to_unit_range(images[:50]))
        assert torch.allclose(small_model(to_unit_range(images[:50])), logits, atol=1e-5)
        assert torch.allclose(small_model.features(to_unit_range(images[:50])), f, atol=1e-5)
    assert torch.allclose(torch.softmax(logits, 1), probs[:50], atol=1e-5)
    small_model.train()
    classify(small_model, images[:10])
    assert small_model.training  # the caller's mode is restored
    small_model.eval()


def test_constructor_arguments_rebuild_the_module(mnist, small_model):
    _, test = mnist
    args = json.loads(json.dumps(classifier_arguments(RECIPES["mnist"], (1, 28, 28))))
    rebuilt = DomainClassifier(**args)
    rebuilt.load_state_dict(small_model.state_dict())
    p1, f1 = classify(small_model, test.images[:100])
    p2, f2 = classify(rebuilt, test.images[:100])
    assert torch.equal(p1, p2) and torch.equal(f1, f2)


def test_build_is_seeded_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a = build_classifier(RECIPES["cifar10"], (3, 32, 32))
    b = build_classifier(RECIPES["cifar10"], (3, 32, 32))
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    logits, feats = a.eval().logits_and_features(torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2, 10) and feats.shape == (2, RECIPES["cifar10"].feature_dim)


def test_recipe_digest_is_stable_and_sensitive():
    assert set(RECIPES) == {"mnist", "fashion-mnist", "cifar10"}
    for name, recipe in RECIPES.items():
        assert recipe.dataset == name
        d = recipe.to_dict()
        assert json.loads(json.dumps(d)) == d
        assert ClassifierRecipe.from_dict(json.loads(json.dumps(d))) == recipe
        payload = json.dumps({"recipe": d, "version": RECIPE_VERSION}, sort_keys=True)
        assert recipe.digest() == hashlib.sha256(payload.encode()).hexdigest()[:16]
        assert recipe.digest() == replace(recipe).digest()
        assert len(recipe.digest()) == 16 and int(recipe.digest(), 16) >= 0
    base = RECIPES["mnist"]
    changed = {replace(base, seed=1).digest(), replace(base, lr=base.lr * 2).digest(), replace(base, epochs=base.epochs + 1).digest(),
               replace(base, widths=(16, 32)).digest(), replace(base, flip=True).digest()}
    assert base.digest() not in changed and len(changed) == 5
    assert len({r.digest() for r in RECIPES.values()}) == 3


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "cifar10"])
def test_full_recipe_reaches_target(shared_data, dataset):
    train = load_dataset(dataset, root=shared_data, split="train")
    test = load_dataset(dataset, root=shared_data, split="test")
    model = train_classifier(RECIPES[dataset], train.images, train.labels)
    assert test_accuracy(model, test.images, test.labels) >= TARGETS[dataset]
