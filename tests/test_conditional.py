"""Class-conditional networks (Mirza & Osindero 2014), the labels argument, and the WGAN-GP critic's normalisation.

The paper's unconditional networks must stay exactly as they were: same parameter counts, same
layers, and the same weights for a seed (the sums below pin them).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from landscape.config import TrainConfig
from landscape.errors import LandscapeError
from trainers.models import build_models, count_params, load_weights, network_info

PAPER_PARAMS = {
    ("vanilla", "mnist"): (81_184, 78_601),
    ("vanilla", "cifar10"): (312_272, 307_401),
    ("dcgan", "mnist"): (804_832, 1_039_539),
    ("dcgan", "cifar10"): (848_672, 1_042_754),
}

# Trainable parameters of the conditional pairs (as documented in trainers/models.py's docstring).
CONDITIONAL_PARAMS = {
    ("vanilla", "mnist"): (82_284, 79_701),  # +10*100 first-layer weights, +10*10 embedding, in G and in D
    ("vanilla", "cifar10"): (313_372, 308_501),
    ("dcgan", "mnist"): (867_652, 1_048_979),  # G +10*128*7*7 + 10*10; D +64*5*5 (extra channel) + 10*28*28
    ("dcgan", "cifar10"): (930_692, 1_054_594),  # G +10*128*8*8 + 10*10; D +64*5*5 + 10*32*32
}

# Weight fingerprints of the unconditional networks, computed with the code as it was before the
# conditional variants and the labels argument were added (torch.manual_seed(1234), then
# build_models({"arch": arch, "dataset": dataset})): the float64 sum and absolute sum of every
# floating-point tensor of each state_dict, and the next torch.rand(1) draw after building both
# networks (so the RNG is consumed exactly as before). Any change to the layers, their order or
# their initialisation moves them.
BASELINE = {
    ("vanilla", "mnist"): {
        "g": (13.466719654975691, 3455.0631467647013),
        "d": (-7.631277270105954, 3250.4944488791166),
        "next_rand": 0.763098418712616,
    },
    ("vanilla", "cifar10"): {
        "g": (-5.0125208736399, 6897.723991418073),
        "d": (-7.241992942618673, 6697.790440684428),
        "next_rand": 0.8262616395950317,
    },
    ("dcgan", "mnist"): {
        "g": (12997.79971095659, 26138.67409139257),
        "d": (929.392709543924, 14941.680620289926),
        "next_rand": 0.9840177297592163,
    },
    ("dcgan", "cifar10"): {
        "g": (16827.888227059724, 30321.147697733097),
        "d": (924.1145537108087, 15043.887217713413),
        "next_rand": 0.8508389592170715,
    },
}
STATE_KEYS = {"vanilla": (3, 4), "dcgan": (25, 25)}  # state_dict entries of (G, D) before the change


def _fingerprint(net: nn.Module) -> tuple[float, float]:
    tensors = [v.double() for v in net.state_dict().values() if v.is_floating_point()]
    return sum(t.sum().item() for t in tensors), sum(t.abs().sum().item() for t in tensors)


def _labels(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64)


# ------------------------------------------------------------------ unconditional: unchanged
@pytest.mark.parametrize(("arch", "dataset"), sorted(BASELINE))
@pytest.mark.parametrize("loss", ["ns", "lsgan"])
def test_unconditional_networks_are_unchanged_bit_for_bit(arch: str, dataset: str, loss: str) -> None:
    torch.manual_seed(1234)
    g, d = build_models({"arch": arch, "dataset": dataset, "loss": loss})
    next_rand = torch.rand(1).item()
    expected = BASELINE[(arch, dataset)]
    assert (count_params(g), count_params(d)) == PAPER_PARAMS[(arch, dataset)]
    assert (len(g.state_dict()), len(d.state_dict())) == STATE_KEYS[arch]
    assert _fingerprint(g) == pytest.approx(expected["g"], rel=1e-12)
    assert _fingerprint(d) == pytest.approx(expected["d"], rel=1e-12)
    assert next_rand == expected["next_rand"]
    assert not any(isinstance(m, nn.Embedding) for net in (g, d) for m in net.modules())


def test_n_classes_is_ignored_when_unconditional() -> None:
    torch.manual_seed(1234)
    g, d = build_models({"arch": "vanilla"}, n_classes=7)
    assert _fingerprint(g) == pytest.approx(BASELINE[("vanilla", "mnist")]["g"], rel=1e-12)
    assert g.n_classes == d.n_classes == 0


def test_unconditional_network_info_is_as_before() -> None:
    cfg = {"arch": "vanilla", "dataset": "mnist"}
    info = network_info(*build_models(cfg), cfg)
    assert set(info["g"]) == set(info["d"]) == {"params", "summary"}
    assert "conditional" not in info["g"]["summary"]


# ------------------------------------------------------------------ conditional networks
@pytest.mark.parametrize(("arch", "dataset"), sorted(CONDITIONAL_PARAMS))
def test_conditional_parameter_counts(arch: str, dataset: str) -> None:
    g, d = build_models({"arch": arch, "dataset": dataset, "conditional": True})
    assert (count_params(g), count_params(d)) == CONDITIONAL_PARAMS[(arch, dataset)]
    h, w = TrainConfig(dataset=dataset).image_shape[1:]
    assert tuple(g.embed.weight.shape) == (10, 10)
    assert tuple(d.embed.weight.shape) == ((10, 10) if arch == "vanilla" else (10, h * w))
    # Fashion-MNIST has the MNIST shapes and ten classes too
    if dataset == "mnist":
        g2, d2 = build_models({"arch": arch, "dataset": "fashion-mnist", "conditional": True})
        assert (count_params(g2), count_params(d2)) == CONDITIONAL_PARAMS[(arch, dataset)]


def test_conditional_parameter_counts_do_not_change_with_wgan_gp() -> None:
    for arch, dataset in CONDITIONAL_PARAMS:
        g, d = build_models({"arch": arch, "dataset": dataset, "conditional": True, "loss": "wgan-gp"})
        assert (count_params(g), count_params(d)) == CONDITIONAL_PARAMS[(arch, dataset)]


def test_n_classes_comes_from_the_argument_else_the_dataset() -> None:
    g, d = build_models({"arch": "dcgan", "conditional": True}, n_classes=3)
    assert tuple(g.embed.weight.shape) == (3, 3) and tuple(d.embed.weight.shape) == (3, 28 * 28)
    assert g.fc.in_features == 20 + 3 and d.conv1.in_channels == 2
    g, d = build_models({"arch": "vanilla", "dataset": "cifar10", "conditional": True})
    assert g.n_classes == d.n_classes == 10 and d.hidden.in_features == 3 * 32 * 32 + 10
    for bad in (0, -1, 2.5, True):
        with pytest.raises(LandscapeError, match="classes"):
            build_models({"arch": "vanilla", "conditional": True}, n_classes=bad)


@pytest.mark.parametrize("arch", ["vanilla", "dcgan"])
def test_conditional_is_reproducible_for_a_seed(arch: str) -> None:
    nets = []
    for _ in range(2):
        torch.manual_seed(5)
        nets.append(build_models({"arch": arch, "conditional": True}))
    for a, b in zip(nets[0], nets[1]):
        for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(v, w), k


@pytest.mark.parametrize(("arch", "dataset"), sorted(CONDITIONAL_PARAMS))
def test_generator_output_changes_with_the_label(arch: str, dataset: str) -> None:
    torch.manual_seed(0)
    g, _ = build_models({"arch": arch, "dataset": dataset, "conditional": True})
    g.eval()  # BatchNorm on its running statistics: each sample on its own
    z = (torch.rand(1, 20) * 2 - 1).repeat(3, 1)
    with torch.no_grad():
        x = g(z, _labels(0, 1, 0))
    shape = TrainConfig(dataset=dataset).image_shape
    assert x.shape == (3, *shape) and x.abs().max() <= 1
    torch.testing.assert_close(x[0], x[2])  # same z, same label: same image
    assert (x[0] - x[1]).abs().max() > 1e-3  # same z, another label: another image


@pytest.mark.parametrize(("arch", "dataset"), sorted(CONDITIONAL_PARAMS))
def test_discriminator_output_changes_with_the_label(arch: str, dataset: str) -> None:
    torch.manual_seed(0)
    _, d = build_models({"arch": arch, "dataset": dataset, "conditional": True})
    d.eval()  # no dropout, BatchNorm on its running statistics
    shape = TrainConfig(dataset=dataset).image_shape
    x = (torch.rand(1, *shape) * 2 - 1).repeat(3, 1, 1, 1)
    with torch.no_grad():
        out = d(x, _labels(4, 9, 4))
    assert out.shape == (3,)
    torch.testing.assert_close(out[0], out[2])
    assert (out[0] - out[1]).abs() > 1e-4


@pytest.mark.parametrize("arch", ["vanilla", "dcgan"])
def test_conditional_pair_trains_its_embeddings(arch: str) -> None:
    torch.manual_seed(0)
    g, d = build_models({"arch": arch, "conditional": True})
    y = _labels(1, 2, 3, 4)
    d(g(torch.rand(4, 20), y), y).sum().backward()
    for net in (g, d):
        grad = net.embed.weight.grad
        assert grad is not None and grad[[1, 2, 3, 4]].abs().sum() > 0 and grad[[0, 5]].abs().sum() == 0


@pytest.mark.parametrize("arch", ["vanilla", "dcgan"])
def test_conditional_network_info_and_weights_round_trip(arch: str) -> None:
    cfg = {"arch": arch, "dataset": "mnist", "conditional": True}
    torch.manual_seed(1)
    g, d = build_models(cfg)
    info = network_info(g, d, cfg)
    assert (info["g"]["params"], info["d"]["params"]) == CONDITIONAL_PARAMS[(arch, "mnist")]
    assert info["g"]["n_classes"] == info["d"]["n_classes"] == 10
    assert info["g"]["embedding"] == [10, 10]
    assert info["d"]["embedding"] == ([10, 10] if arch == "vanilla" else [10, 784])
    for name in ("g", "d"):
        text = info[name]["summary"]
        assert text.splitlines()[2].startswith("embed ")  # the embedding runs first: first row
        assert text.splitlines()[-1] == f"conditional on 10 classes: {info[name]['label']}"
        assert f"{info[name]['params']:,}" in text
    assert "Embedding(10, 10), concatenated after z" in info["g"]["label"]
    torch.manual_seed(2)
    g2, d2 = build_models(cfg)  # a rebuilt run (load_models) gets the same shapes
    load_weights(g2, {k: v.numpy() for k, v in g.state_dict().items()})
    load_weights(d2, {k: v.numpy() for k, v in d.state_dict().items()})
    assert torch.equal(g2.embed.weight, g.embed.weight) and torch.equal(d2.embed.weight, d.embed.weight)


# ------------------------------------------------------------------ the labels argument
@pytest.mark.parametrize("arch", ["vanilla", "dcgan"])
def test_unconditional_networks_reject_labels(arch: str) -> None:
    g, d = build_models({"arch": arch})
    z, x = torch.rand(2, 20), torch.rand(2, 1, 28, 28)
    for net, inp in ((g, z), (d, x)):
        net(inp, None)  # labels=None is the unconditional call
        with pytest.raises(ValueError, match="unconditional") as err:
            net(inp, _labels(0, 1))
        assert "\n" not in str(err.value) and str(err.value).endswith(".")


@pytest.mark.parametrize("arch", ["vanilla", "dcgan"])
def test_conditional_networks_require_int64_labels_of_shape_n(arch: str) -> None:
    g, d = build_models({"arch": arch, "conditional": True})
    z, x = torch.rand(2, 20), torch.rand(2, 1, 28, 28)
    for net, inp in ((g, z), (d, x)):
        with pytest.raises(ValueError, match="needs labels") as err:
            net(inp)
        assert "\n" not in str(err.value) and str(err.value).endswith(".")
        for bad in (torch.tensor([0.0, 1.0]), _labels(0, 1, 2), _labels(0, 1).view(2, 1), torch.tensor([0, 1], dtype=torch.int32)):
            with pytest.raises(ValueError, match=r"int64 class indices of shape \(2,\)"):
                net(inp, bad)


# ------------------------------------------------------------------ the WGAN-GP critic
def test_wgan_gp_dcgan_critic_has_no_batchnorm_and_the_papers_weights() -> None:
    for dataset in ("mnist", "cifar10"):
        torch.manual_seed(1234)
        g, d = build_models({"arch": "dcgan", "dataset": dataset, "loss": "wgan-gp"})
        next_rand = torch.rand(1).item()
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())
        norms = [m for m in d.modules() if isinstance(m, nn.GroupNorm)]
        assert [(m.num_groups, m.num_channels, m.eps) for m in norms] == [(1, 64, 1e-3), (1, 128, 1e-3), (1, 256, 1e-3)]
        assert d.norm == "layer" and [n for n, _ in d.named_children()][1] == "ln1"
        # G keeps its BatchNorm; GroupNorm draws nothing, so every other weight is the paper's for the seed
        assert any(isinstance(m, nn.BatchNorm2d) for m in g.modules())
        assert count_params(d) == PAPER_PARAMS[("dcgan", dataset)][1]
        assert _fingerprint(g) == pytest.approx(BASELINE[("dcgan", dataset)]["g"], rel=1e-12)
        assert next_rand == BASELINE[("dcgan", dataset)]["next_rand"]
        torch.manual_seed(1234)
        _, d_bn = build_models({"arch": "dcgan", "dataset": dataset})
        for name in ("conv1", "conv2", "conv3", "conv4", "out"):
            assert torch.equal(getattr(d, name).weight, getattr(d_bn, name).weight), name


@pytest.mark.parametrize("loss", ["ns", "wgan", "hinge", "lsgan"])
def test_other_losses_keep_batchnorm(loss: str) -> None:
    _, d = build_models({"arch": "dcgan", "loss": loss})
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 3 and d.norm == "batch"


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_wgan_gp_critic_scores_each_sample_on_its_own(conditional: bool, mode: str) -> None:
    torch.manual_seed(0)
    cfg = {"arch": "dcgan", "dataset": "mnist", "loss": "wgan-gp", "dropout": 0.0, "conditional": conditional}
    _, d = build_models(cfg)
    d.train(mode == "train")
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    y = _labels(3, 1, 4, 1, 5, 9, 2, 6) if conditional else None
    with torch.no_grad():
        together = d(x, y)
        alone = d(x[:1], None if y is None else y[:1])
        other_batch = d(torch.cat([x[:1], -x[1:]]), y)
    torch.testing.assert_close(alone[0], together[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(other_batch[0], together[0], rtol=1e-5, atol=1e-5)


def test_batchnorm_critic_in_train_mode_does_mix_the_batch() -> None:
    # the contrast that motivates the layer normalisation: with BatchNorm, D(x)[0] depends on the batch
    torch.manual_seed(0)
    _, d = build_models({"arch": "dcgan", "dataset": "mnist", "dropout": 0.0})
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        a = d(x)[0]
        b = d(torch.cat([x[:1], -x[1:]]))[0]
    assert (a - b).abs() > 1e-4


def test_vanilla_discriminator_is_the_same_under_wgan_gp() -> None:
    torch.manual_seed(1234)
    _, d = build_models({"arch": "vanilla", "loss": "wgan-gp"})
    assert _fingerprint(d) == pytest.approx(BASELINE[("vanilla", "mnist")]["d"], rel=1e-12)
