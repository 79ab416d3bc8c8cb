"""The paper's networks, their Keras-compatible layers, losses, optimizers and the run config."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from landscape.config import DATASETS, TrainConfig
from landscape.errors import LandscapeError
from trainers import losses
from trainers.layers import KerasDropout, SameConv2d, SameConvTranspose2d, same_padding
from trainers.models import build_models, count_params, load_weights, network_info
from trainers.optim import make_optimizers
from trainers.samples import default_sample_epochs, image_grid, sample_grid

# The paper's Tables 1 and 2: trainable parameters of each network.
PAPER_PARAMS = {
    ("vanilla", "mnist"): (81_184, 78_601),
    ("vanilla", "cifar10"): (312_272, 307_401),
    ("dcgan", "mnist"): (804_832, 1_039_539),
    ("dcgan", "cifar10"): (848_672, 1_042_754),
}


@pytest.mark.parametrize(("arch", "dataset"), sorted(PAPER_PARAMS))
def test_parameter_counts_match_the_paper(arch: str, dataset: str) -> None:
    g, d = build_models({"arch": arch, "dataset": dataset})
    assert (count_params(g), count_params(d)) == PAPER_PARAMS[(arch, dataset)]


def test_fashion_mnist_uses_the_mnist_shapes() -> None:
    for arch in ("vanilla", "dcgan"):
        g, d = build_models({"arch": arch, "dataset": "fashion-mnist"})
        assert (count_params(g), count_params(d)) == PAPER_PARAMS[(arch, "mnist")]


@pytest.mark.parametrize(("arch", "dataset"), sorted(PAPER_PARAMS))
def test_generator_and_discriminator_shapes(arch: str, dataset: str) -> None:
    cfg = TrainConfig(arch=arch, dataset=dataset)
    g, d = build_models(cfg)
    z = torch.rand(3, 20) * 2 - 1
    x = g(z)
    assert x.shape == (3, *cfg.image_shape)
    assert x.abs().max() <= 1  # tanh output
    assert d(x).shape == (3,)


def test_tf_same_padding_sizes() -> None:
    # TensorFlow: out = ceil(in / stride), extra padding after when the total is odd
    assert same_padding(28, 5, 2) == (1, 2)
    assert same_padding(14, 5, 2) == (1, 2)
    assert same_padding(32, 5, 2) == (1, 2)
    assert same_padding(28, 5, 1) == (2, 2)
    assert same_padding(7, 7, 1) == (3, 3)
    conv = SameConv2d(1, 1, 5, stride=2)
    assert conv(torch.zeros(1, 1, 28, 28)).shape[-2:] == (14, 14)
    assert conv(torch.zeros(1, 1, 14, 14)).shape[-2:] == (7, 7)
    assert conv(torch.zeros(1, 1, 32, 32)).shape[-2:] == (16, 16)
    assert conv(torch.zeros(1, 1, 16, 16)).shape[-2:] == (8, 8)
    deconv = SameConvTranspose2d(1, 1, 5, stride=2)
    assert deconv(torch.zeros(1, 1, 7, 7)).shape[-2:] == (14, 14)
    assert deconv(torch.zeros(1, 1, 8, 8)).shape[-2:] == (16, 16)


def _reference_same_conv(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """TensorFlow's documented SAME convolution, written out with loops (one channel)."""
    n = x.shape[0]
    k = w.shape[0]
    out = -(-n // stride)
    pad_before = max((out - 1) * stride + k - n, 0) // 2
    y = np.zeros((out, out))
    for i in range(out):
        for j in range(out):
            for a in range(k):
                for b in range(k):
                    r, c = i * stride - pad_before + a, j * stride - pad_before + b
                    if 0 <= r < n and 0 <= c < n:
                        y[i, j] += x[r, c] * w[a, b]
    return y


@pytest.mark.parametrize(("size", "stride"), [(8, 2), (7, 2), (6, 1)])
def test_same_conv_matches_tensorflow_alignment(size: int, stride: int) -> None:
    torch.manual_seed(0)
    conv = SameConv2d(1, 1, 5, stride=stride, bias=False)
    x = torch.randn(1, 1, size, size)
    ours = conv(x)[0, 0].detach().numpy()
    ref = _reference_same_conv(x[0, 0].numpy(), conv.weight[0, 0].detach().numpy(), stride)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride", [1, 2])
def test_same_conv_transpose_is_the_adjoint_of_same_conv(stride: int) -> None:
    # TF's Conv2DTranspose("same") is the input gradient of the "same" convolution
    torch.manual_seed(0)
    deconv = SameConvTranspose2d(3, 2, 5, stride=stride, bias=False)
    y = torch.randn(2, 3, 7, 7)
    big = torch.zeros(2, 2, 7 * stride, 7 * stride, requires_grad=True)
    conv_out = F.conv2d(F.pad(big, _pads(7 * stride, 5, stride)), deconv.weight, stride=stride)
    (grad,) = torch.autograd.grad(conv_out, big, grad_outputs=y)
    torch.testing.assert_close(deconv(y), grad, rtol=1e-5, atol=1e-5)


def _pads(size: int, k: int, s: int) -> tuple[int, int, int, int]:
    before, after = same_padding(size, k, s)
    return (before, after, before, after)


@pytest.mark.parametrize("arch", ["vanilla", "dcgan"])
def test_keras_initialisation_and_layer_defaults(arch: str) -> None:
    torch.manual_seed(0)
    g, d = build_models({"arch": arch, "dataset": "cifar10"})
    for net in (g, d):
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                if m.bias is not None:
                    assert torch.count_nonzero(m.bias) == 0
                fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(m.weight)
                limit = math.sqrt(6 / (fan_in + fan_out))
                assert m.weight.abs().max() <= limit
                assert m.weight.abs().max() > 0.9 * limit  # uniform over the whole range
            if isinstance(m, nn.LeakyReLU):
                assert m.negative_slope == 0.3
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                assert (m.momentum, m.eps) == (0.01, 1e-3)
            if isinstance(m, nn.Dropout):
                assert m.p == (0.5 if arch == "vanilla" else 0.3)


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_keras_dropout_drops_at_its_rate_scales_the_rest_and_passes_gradients(p: float) -> None:
    torch.manual_seed(0)
    layer = KerasDropout(p)
    x = torch.rand(400, 500) + 0.5  # no zeros of its own
    x.requires_grad_()
    y = layer(x)
    dropped = y == 0
    assert abs(dropped.float().mean().item() - p) < 0.005  # 200,000 draws: 5 standard errors ~ 0.005
    torch.testing.assert_close(y[~dropped], x[~dropped] / (1 - p))
    y.sum().backward()
    torch.testing.assert_close(x.grad, (~dropped).float() / (1 - p))
    assert layer(x).ne(y).any()  # a fresh mask each call
    layer.eval()
    assert layer(x) is x or torch.equal(layer(x), x)  # off outside training
    assert torch.equal(KerasDropout(0.0)(x), x)


def test_both_discriminators_use_keras_dropout() -> None:
    for arch in ("vanilla", "dcgan"):
        _, d = build_models(TrainConfig(arch=arch))
        drops = [m for m in d.modules() if isinstance(m, nn.Dropout)]
        assert drops and all(isinstance(m, KerasDropout) for m in drops)


def test_layer_settings_come_from_the_config() -> None:
    g, d = build_models(TrainConfig(arch="dcgan", leaky_slope=0.2, bn_momentum=0.1, bn_eps=1e-5, dropout=0.1))
    assert {m.negative_slope for m in g.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}
    assert {(m.momentum, m.eps) for m in d.modules() if isinstance(m, nn.BatchNorm2d)} == {(0.1, 1e-5)}
    assert {m.p for m in d.modules() if isinstance(m, nn.Dropout)} == {0.1}


def test_build_models_accepts_a_run_config_with_extra_keys_and_loads_weights() -> None:
    torch.manual_seed(1)
    g1, _ = build_models({"arch": "dcgan", "dataset": "mnist", "from_a_newer_version": 1})
    torch.manual_seed(2)
    g2, _ = build_models({"arch": "dcgan", "dataset": "mnist"})
    arrays = {k: v.numpy() for k, v in g1.state_dict().items()}
    load_weights(g2, arrays)
    for k, v in g1.state_dict().items():
        torch.testing.assert_close(g2.state_dict()[k], v)


def test_network_info_has_params_and_summary() -> None:
    g, d = build_models({"arch": "dcgan", "dataset": "mnist"})
    info = network_info(g, d, {"arch": "dcgan", "dataset": "mnist"})
    assert info["g"]["params"] == 804_832 and info["d"]["params"] == 1_039_539
    assert "(64, 14, 14)" in info["g"]["summary"] and "1,039,539" in info["d"]["summary"]


def test_losses_are_bce_on_logits_non_saturating() -> None:
    logits_real, logits_fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    torch.testing.assert_close(losses.g_loss(logits_fake), -torch.log(sig(logits_fake)).mean())
    real, fake = losses.d_loss_parts(logits_real, logits_fake)
    torch.testing.assert_close(real, -torch.log(sig(logits_real)).mean())
    torch.testing.assert_close(fake, -torch.log(1 - sig(logits_fake)).mean())
    # stable where a naive log(sigmoid) is not
    assert torch.isfinite(losses.g_loss(torch.tensor([-200.0])))


def test_optimizers_by_name_with_per_network_learning_rates() -> None:
    g, d = build_models({"arch": "vanilla"})
    opt_g, opt_d = make_optimizers(g, d, TrainConfig(lr_g=2e-4, lr_d=5e-4))
    assert isinstance(opt_g, torch.optim.Adam)
    assert opt_g.defaults["lr"] == 2e-4 and opt_d.defaults["lr"] == 5e-4
    assert opt_g.defaults["betas"] == (0.9, 0.999) and opt_g.defaults["eps"] == 1e-7
    rms, _ = make_optimizers(g, d, TrainConfig(optimizer="rmsprop"))
    assert isinstance(rms, torch.optim.RMSprop) and rms.defaults["alpha"] == 0.9
    sgd, _ = make_optimizers(g, d, TrainConfig(optimizer="sgd"))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0
    mom, _ = make_optimizers(g, d, TrainConfig(optimizer="sgd-momentum"))
    assert mom.defaults["momentum"] == 0.5


def test_config_defaults_are_the_papers_and_round_trip() -> None:
    cfg = TrainConfig()
    assert (cfg.z_dim, cfg.z_dist, cfg.batch_size, cfg.epochs) == (20, "uniform", 128, 100)
    assert (cfg.optimizer, cfg.lr_g, cfg.lr_d, cfg.betas, cfg.eps) == ("adam", 1e-3, 1e-3, (0.9, 0.999), 1e-7)
    assert (cfg.leaky_slope, cfg.bn_momentum, cfg.bn_eps, cfg.dropout) == (0.3, 0.01, 1e-3, 0.5)
    assert TrainConfig(arch="dcgan").dropout == 0.3
    import json

    d = json.loads(json.dumps(TrainConfig(arch="dcgan", sample_epochs=(1, 3), subset=500).to_dict()))
    assert TrainConfig.from_dict(d) == TrainConfig(arch="dcgan", sample_epochs=(1, 3), subset=500)
    assert cfg.replace(arch="dcgan").dropout == 0.3


@pytest.mark.parametrize(
    "bad",
    [
        {"arch": "resnet"},
        {"dataset": "imagenet"},
        {"optimizer": "adagrad"},
        {"epochs": 0},
        {"batch_size": -1},
        {"batch_size": 2.5},
        {"lr_g": 0.0},
        {"lr_d": float("nan")},
        {"betas": (0.9, 1.0)},
        {"momentum": 1.0},
        {"bn_momentum": 0.0},
        {"dropout": 1.0},
        {"z_dist": "cauchy"},
        {"subset": 10},  # fewer than one batch of 128
        {"max_iters": 0},
        {"device": "tpu"},
        {"sample_epochs": (0,)},
    ],
)
def test_config_rejects_impossible_values_in_one_sentence(bad: dict) -> None:
    with pytest.raises(LandscapeError) as err:
        TrainConfig(**bad)
    message = str(err.value)
    assert "\n" not in message and message.endswith(".")
    assert next(iter(bad)) in message


def test_config_rejects_unknown_settings() -> None:
    with pytest.raises(LandscapeError, match="lr_gen"):
        TrainConfig.from_dict({"lr_gen": 1e-3})


def test_config_datasets_agree_with_the_data_registry() -> None:
    from landscape.data import DATASETS as REGISTRY

    from landscape.config import IMAGE_DATASETS, TOY_DATASETS

    assert set(IMAGE_DATASETS) == set(REGISTRY) and set(DATASETS) == set(REGISTRY) | set(TOY_DATASETS)


def test_sample_epochs_scale_to_the_run() -> None:
    assert default_sample_epochs(100) == [1, 25, 50, 75, 100]
    assert default_sample_epochs(8) == [1, 2, 4, 6, 8]
    assert default_sample_epochs(1) == [1]


def test_sample_grid_is_uint8_and_leaves_the_generator_untouched() -> None:
    torch.manual_seed(0)
    g, _ = build_models({"arch": "dcgan", "dataset": "cifar10"})
    before = {k: v.clone() for k, v in g.state_dict().items()}
    grid = sample_grid(g, torch.rand(64, 20) * 2 - 1)
    assert grid.dtype == torch.uint8 and grid.shape == (8 * 34 + 2, 8 * 34 + 2, 3)
    assert g.training
    for k, v in g.state_dict().items():
        assert torch.equal(v, before[k]), k  # no BatchNorm statistics updated
    tile = image_grid(torch.ones(1, 1, 4, 4), pad=1)
    assert tile.shape == (6, 6, 1) and tile[1:5, 1:5].eq(255).all()
