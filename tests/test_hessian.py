"""Ground-truth tests of analysis.hessian.

Two kinds of ground truth:

* quadratic losses ``0.5 x^T A x`` whose Hessian ``A`` has a spectrum chosen here
  (negative, zero and positive eigenvalues, clusters, repeated values);
* small MLP GANs (defined below) whose full Hessian comes from
  ``torch.autograd.functional.hessian`` through ``torch.func.functional_call``,
  a path independent of the package's double-backward products.

Tolerances: for a symmetric matrix a unit vector ``y`` with residual
``r = ||A y - theta y||`` has a true eigenvalue within ``r`` of ``theta``, and
Cauchy interlacing ties the i-th extreme Ritz value to the i-th extreme
eigenvalue; so each estimate must lie within its *reported* residual of the
exact value (plus round-off: 1e-9 x ||A|| in float64; in float32 the products
themselves carry a relative error of ~1e-6, covered by 1e-4 x ||A||).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.sparse.linalg import eigsh
from torch import nn

from analysis.hessian import (
    HessianOperator,
    HessianVectorProduct,
    check_deterministic,
    curvature_class,
    estimate_models,
    exact_density,
    extreme_eigenvalues,
    from_record,
    gan_loss,
    hessian_matrix,
    hutchinson,
    hutchpp,
    power_iteration,
    slq_density,
    to_record,
)
from analysis.hessian.lanczos import lanczos_tridiagonal, thick_restart_lanczos
from landscape.errors import LandscapeError


# ----------------------------------------------------------------------------- helpers
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_symmetric(eigenvalues: np.ndarray, seed: int = 0) -> torch.Tensor:
    """``Q diag(eigenvalues) Q^T`` with a random orthogonal Q (float64)."""
    rng = np.random.default_rng(seed)
    n = len(eigenvalues)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return torch.tensor(q @ np.diag(eigenvalues) @ q.T)


def quadratic_hvp(A: torch.Tensor, dtype: torch.dtype = torch.float64) -> HessianVectorProduct:
    x = torch.randn(A.shape[0], dtype=dtype, requires_grad=True)
    A = A.to(dtype)
    return HessianVectorProduct(lambda: 0.5 * x @ (A @ x), [x])


#: negative cluster, 120 exact zeros, a near-zero bulk and a positive tail
SPECTRUM = np.r_[
    np.linspace(-6.0, -1.0, 10),
    np.zeros(60),
    np.random.default_rng(1).uniform(-0.02, 0.02, 50),
    np.linspace(0.5, 12.0, 40),
]


def expected_extremes(spectrum: np.ndarray, k: int) -> np.ndarray:
    s = np.sort(spectrum)
    return np.r_[s[:k], s[-k:]]


def assert_within_residual(result, exact: np.ndarray, slack: float) -> None:
    assert result.values.shape == exact.shape
    bound = result.residuals + slack * result.scale
    err = np.abs(result.values - exact)
    assert np.all(err <= bound), (result.values, exact, err, bound)


# ----------------------------------------------------------------------------- products
def test_hvp_matches_matrix_and_counts_products():
    A = random_symmetric(SPECTRUM)
    hvp = quadratic_hvp(A)
    v = torch.randn(hvp.n, dtype=torch.float64)
    assert torch.allclose(hvp(v), A @ v, atol=1e-12)
    assert torch.allclose(hvp(v.numpy()), A @ v, atol=1e-12)
    assert hvp.n_products == 2
    H = hessian_matrix(hvp)
    assert torch.allclose(H, A, atol=1e-12)


def test_parameters_without_gradient_give_zero_rows():
    A = random_symmetric(np.array([3.0, -1.0, 2.0, 0.5]))
    x = torch.randn(4, dtype=torch.float64, requires_grad=True)
    unused = torch.randn(3, dtype=torch.float64, requires_grad=True)  # not in the loss at all
    linear = torch.randn(2, dtype=torch.float64, requires_grad=True)  # gradient is a constant
    hvp = HessianVectorProduct(lambda: 0.5 * x @ (A @ x) + linear.sum(), [unused, x, linear])
    assert hvp.n == 9
    v = torch.randn(9, dtype=torch.float64)
    hv = hvp(v)
    assert torch.count_nonzero(hv[:3]) == 0 and torch.count_nonzero(hv[7:]) == 0
    assert torch.allclose(hv[3:7], A @ v[3:7])
    res = extreme_eigenvalues(hvp, 2, method="exact")
    assert np.allclose(res.spectrum, np.sort(np.r_[3.0, -1.0, 2.0, 0.5, np.zeros(5)]))
    # a loss of parameters that has no second derivative at all
    only_linear = HessianVectorProduct(lambda: linear.sum() * 2.0, [linear])
    assert torch.count_nonzero(only_linear(torch.ones(2, dtype=torch.float64))) == 0


def test_operator_is_float64_and_feeds_eigsh():
    A = random_symmetric(SPECTRUM)
    hvp = quadratic_hvp(A, torch.float32)
    op = HessianOperator(hvp)
    assert op.dtype == np.float64 and op.shape == (160, 160)
    x = np.random.default_rng(0).standard_normal(160)
    y = op @ x
    assert y.dtype == np.float64
    assert np.allclose(y, A.numpy() @ x, rtol=1e-4, atol=1e-4)
    w = eigsh(op, k=1, which="LA", return_eigenvectors=False, tol=1e-6)
    assert abs(w[0] - 12.0) < 1e-3
    assert op.n_products == hvp.n_products > 1


# ----------------------------------------------------------------------------- eigenvalues
@pytest.mark.parametrize("method", ["lanczos", "eigsh", "exact"])
def test_extreme_eigenvalues_of_quadratic(method):
    A = random_symmetric(SPECTRUM)
    hvp = quadratic_hvp(A)
    res = extreme_eigenvalues(hvp, 5, method=method, tol=1e-8)
    assert res.method == method
    assert res.all_converged
    assert_within_residual(res, expected_extremes(SPECTRUM, 5), 1e-9)
    assert np.allclose(res.bottom, np.sort(SPECTRUM)[:5], atol=1e-6)
    assert np.allclose(res.top, np.sort(SPECTRUM)[::-1][:5], atol=1e-6)
    # residuals are real: recompute them from the returned vectors
    Y = res.vectors
    direct = torch.linalg.vector_norm(A @ Y - Y * torch.tensor(res.values), dim=0).numpy()
    assert np.allclose(res.residuals, direct, rtol=1e-6, atol=1e-12)
    assert res.n_products == hvp.n_products > 0


def test_lanczos_needs_fewer_products_than_two_eigsh_runs():
    A = random_symmetric(SPECTRUM)
    counts = {}
    for method in ("lanczos", "eigsh"):
        hvp = quadratic_hvp(A)
        extreme_eigenvalues(hvp, 3, method=method, tol=1e-6)
        counts[method] = hvp.n_products
    assert counts["lanczos"] < counts["eigsh"]


def test_thick_restart_with_a_small_basis():
    A = random_symmetric(SPECTRUM)
    res = thick_restart_lanczos(lambda v: A @ v, 160, 3, 3, tol=1e-9, basis_size=14)
    assert res.converged and res.restarts > 0
    assert np.allclose(res.values, expected_extremes(SPECTRUM, 3), atol=1e-6)


def test_lanczos_float32_products_within_justified_tolerance():
    A = random_symmetric(SPECTRUM)
    hvp = quadratic_hvp(A, torch.float32)
    res = extreme_eigenvalues(hvp, 4, method="lanczos", tol=1e-4)
    assert res.all_converged
    assert_within_residual(res, expected_extremes(SPECTRUM, 4), 1e-4)


def test_repeated_eigenvalues_found_through_invariant_subspaces():
    spectrum = np.r_[np.full(50, -1.0), np.zeros(50), np.full(50, 2.0)]
    A = random_symmetric(spectrum)
    res = thick_restart_lanczos(lambda v: A @ v, 150, 2, 2, tol=1e-10)
    assert res.converged
    assert np.allclose(res.values, [-1.0, -1.0, 2.0, 2.0], atol=1e-8)


def test_tiny_problem_and_exact_limit():
    A = torch.diag(torch.tensor([3.0, -2.0, 0.0], dtype=torch.float64))
    for method in ("lanczos", "eigsh", "auto"):
        res = extreme_eigenvalues(quadratic_hvp(A), 5, method=method)
        assert np.allclose(res.values, [-2.0, 0.0, 3.0], atol=1e-9)
    with pytest.raises(LandscapeError, match="too large"):
        extreme_eigenvalues(quadratic_hvp(random_symmetric(SPECTRUM)), 2, method="exact", exact_max_params=100)
    with pytest.raises(LandscapeError, match="Unknown eigenvalue method"):
        extreme_eigenvalues(quadratic_hvp(A), 2, method="arnoldi")


def test_unconverged_is_flagged_not_hidden():
    A = random_symmetric(SPECTRUM)
    res = extreme_eigenvalues(quadratic_hvp(A), 5, method="lanczos", tol=1e-12, max_products=12)
    assert not res.all_converged
    assert np.all(res.residuals[~res.converged] > 1e-12 * res.scale)


def test_power_iteration_baseline_finds_both_ends():
    A = random_symmetric(SPECTRUM)
    hvp = quadratic_hvp(A)
    top, _ = power_iteration(hvp, tol=1e-10, max_iter=5000)
    assert abs(top - 12.0) < 1e-4
    bottom, _ = power_iteration(hvp, tol=1e-10, max_iter=5000, shift=top)
    assert abs(bottom + 6.0) < 1e-4


# ----------------------------------------------------------------------------- trace
def test_hutchpp_is_exact_for_low_rank():
    spectrum = np.r_[np.zeros(155), [5.0, -3.0, 2.0, 1.0, 7.0]]
    hvp = quadratic_hvp(random_symmetric(spectrum))
    est = hutchpp(hvp, 30)
    assert est.n_products == 30
    assert abs(est.value - 12.0) < 1e-8
    assert est.stderr < 1e-8


def test_trace_estimators_within_their_standard_error():
    # a Hessian-like spectrum: a small bulk around zero and a few large outliers
    spectrum = np.r_[np.random.default_rng(2).normal(0.0, 0.05, 155), [40.0, 25.0, -15.0, 10.0, 8.0]]
    hvp = quadratic_hvp(random_symmetric(spectrum))
    truth = spectrum.sum()
    estimates = {}
    for estimator in (hutchinson, hutchpp):
        est = estimates[estimator.__name__] = estimator(hvp, 60, seed=3)
        assert est.stderr > 0
        assert abs(est.value - truth) < 4 * est.stderr, (estimator.__name__, est, truth)
    # Hutch++ deflates the outliers, whose variance dominates Hutchinson's error bar
    assert estimates["hutchpp"].stderr < 0.2 * estimates["hutchinson"].stderr


# ----------------------------------------------------------------------------- density
def test_lanczos_tridiagonal_is_exact_on_invariant_space():
    A = torch.diag(torch.tensor([1.0, 2.0, 3.0, 1.0, 2.0], dtype=torch.float64))
    alpha, beta = lanczos_tridiagonal(lambda v: A @ v, torch.ones(5, dtype=torch.float64), 5)
    assert len(alpha) == 3 and len(beta) == 2  # three distinct eigenvalues: breakdown after 3 steps
    T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
    assert np.allclose(np.linalg.eigvalsh(T), [1.0, 2.0, 3.0])


def test_slq_density_matches_spectrum():
    hvp = quadratic_hvp(random_symmetric(SPECTRUM))
    dens = slq_density(hvp, n_vectors=8, steps=60)
    assert dens.n_products <= 8 * 60
    assert abs(np.trapezoid(dens.values, dens.grid) - 1.0) < 1e-3
    assert dens.grid.min() < -6.0 and dens.grid.max() > 12.0
    truth = np.mean(np.abs(SPECTRUM) <= 0.05)  # 110 of 160
    assert abs(dens.mass_within(0.05) - truth) < 0.1
    exact = exact_density(SPECTRUM, sigma=dens.sigma)
    ref = np.interp(dens.grid, exact.grid, exact.values)
    assert np.trapezoid(np.abs(dens.values - ref), dens.grid) < 0.25  # L1 distance of two densities (max 2)


# ----------------------------------------------------------------------------- classification
@pytest.mark.parametrize(
    "lmin,lmax,near_zero,label",
    [
        (0.5, 10.0, 0.1, "convex"),
        (-0.001, 10.0, 0.1, "convex"),  # within tol = 1e-3 * 10 of zero
        (-10.0, -0.5, 0.1, "concave"),
        (-2.0, 10.0, 0.1, "saddle"),
        (-2.0, 10.0, 0.9, "singular"),
        (-2.0, 10.0, None, "saddle"),
        (0.0, 0.0, None, "flat"),
    ],
)
def test_curvature_class_rules(lmin, lmax, near_zero, label):
    c = curvature_class(lmin, lmax, near_zero_fraction=near_zero, tol_rel=1e-3)
    assert c.label == label
    assert c.tol == pytest.approx(1e-3 * max(abs(lmin), abs(lmax)))
    assert "tol" in c.description and label in c.description
    if label == "singular":
        assert c.curvature == "saddle"


# ----------------------------------------------------------------------------- MLP GANs
Z, X = 3, 8


def mlp_gan(dtype=torch.float64, seed=0) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    g = nn.Sequential(nn.Linear(Z, 6), nn.BatchNorm1d(6), nn.LeakyReLU(0.2), nn.Linear(6, X), nn.Tanh())
    d = nn.Sequential(nn.Linear(X, 7), nn.LeakyReLU(0.2), nn.Dropout(0.5), nn.Linear(7, 1), nn.Flatten(0))
    return g.to(dtype), d.to(dtype)


def probe(dtype=torch.float64, n=16, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, X, generator=gen).to(dtype) * 2 - 1, torch.rand(n, Z, generator=gen).to(dtype) * 2 - 1


def g_loss(logits):
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def d_loss_parts(real_logits, fake_logits):
    return (
        F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)),
        F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)),
    )


LOSSES = dict(g_loss_fn=g_loss, d_loss_parts_fn=d_loss_parts)


def reference_hessian(g: nn.Module, d: nn.Module, real, z, network: str) -> np.ndarray:
    """The full Hessian by torch.autograd.functional.hessian (float64, BN on batch stats, dropout off)."""
    g, d = copy.deepcopy(g).double().train(), copy.deepcopy(d).double().train()
    for m in d.modules():
        if isinstance(m, nn.Dropout):
            m.eval()
    real, z = real.double(), z.double()
    own = g if network == "g" else d
    names = [n for n, _ in own.named_parameters()]
    shapes = [p.shape for _, p in own.named_parameters()]
    sizes = [p.numel() for _, p in own.named_parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in own.parameters()])
    with torch.no_grad():
        fake_fixed = g(z)

    def f(flat):
        params = {n: t.view(s) for n, t, s in zip(names, torch.split(flat, sizes), shapes)}
        if network == "g":
            return g_loss(d(torch.func.functional_call(g, params, (z,))))
        lr = torch.func.functional_call(d, params, (real,))
        lf = torch.func.functional_call(d, params, (fake_fixed,))
        return sum(d_loss_parts(lr, lf))

    H = torch.autograd.functional.hessian(f, flat0)
    return H.numpy()


@pytest.mark.parametrize("network", ["g", "d"])
def test_mlp_gan_against_autograd_hessian(network):
    g, d = mlp_gan()
    real, z = probe()
    H = reference_hessian(g, d, real, z, network)
    spectrum = np.linalg.eigvalsh(0.5 * (H + H.T))
    assert spectrum.min() < -1e-3 and spectrum.max() > 1e-3  # a real test: both signs present
    loss = gan_loss(g, d, real, z, network, **LOSSES)
    for method in ("lanczos", "eigsh", "exact"):
        hvp = HessianVectorProduct(loss.loss_fn, loss.params)
        res = extreme_eigenvalues(hvp, 3, method=method, tol=1e-9)
        assert res.all_converged, method
        assert_within_residual(res, expected_extremes(spectrum, 3), 1e-9)
    assert np.allclose(res.spectrum, spectrum, atol=1e-10)


def test_mlp_gan_float32_against_float64_reference():
    g, d = mlp_gan(torch.float32)
    real, z = probe(torch.float32)
    spectrum = np.linalg.eigvalsh(reference_hessian(g, d, real, z, "d"))
    result = estimate_models(g, d, real, z, "d", k=3, method="lanczos", tol=1e-4, **LOSSES)
    assert result.eigen.all_converged
    assert_within_residual(result.eigen, expected_extremes(spectrum, 3), 1e-4)
    assert result.trace.value == pytest.approx(spectrum.sum(), abs=5 * result.trace.stderr + 1e-4 * np.abs(spectrum).max())


def test_estimate_exact_mode_matches_reference_and_classifies():
    g, d = mlp_gan()
    real, z = probe()
    spectrum = np.linalg.eigvalsh(reference_hessian(g, d, real, z, "g"))
    result = estimate_models(g, d, real, z, "g", k=2, **LOSSES)  # 92 params: auto -> exact
    assert result.eigen.method == "exact"
    assert np.allclose(result.eigen.spectrum, spectrum, atol=1e-10)
    assert result.trace.value == pytest.approx(spectrum.sum(), abs=1e-10) and result.trace.stderr == 0
    tol = 1e-3 * np.abs(spectrum).max()
    assert result.classification.tol == pytest.approx(tol)
    assert result.classification.near_zero_fraction == pytest.approx(np.mean(np.abs(spectrum) <= tol))
    assert result.determinism_diff == 0.0
    assert result.n_hvp == 92 + 2 + 1  # n unit vectors, the determinism check, ||Hg||
    closure = gan_loss(g, d, real, z, "g", **LOSSES)
    grad = torch.autograd.grad(closure.loss_fn(), closure.params)
    assert result.grad_norm == pytest.approx(float(torch.cat([t.reshape(-1) for t in grad]).norm()))


def test_batchnorm_uses_batch_statistics_and_leaves_originals_untouched():
    g, d = mlp_gan()
    real, z = probe()
    bn = g[1]
    with torch.no_grad():  # running statistics far from the batch's: using them would change everything
        bn.running_mean.fill_(5.0)
        bn.running_var.fill_(9.0)
    g.eval()
    d.eval()
    before = {k: v.clone() for k, v in {**g.state_dict(), **{"d." + k: v for k, v in d.state_dict().items()}}.items()}
    spectrum = np.linalg.eigvalsh(reference_hessian(g, d, real, z, "g"))  # reference: train-mode BN
    result = estimate_models(g, d, real, z, "g", k=2, method="exact", **LOSSES)
    assert np.allclose(result.eigen.spectrum, spectrum, atol=1e-10)
    after = {**g.state_dict(), **{"d." + k: v for k, v in d.state_dict().items()}}
    assert all(torch.equal(before[k], after[k]) for k in before)  # running buffers and counters unchanged
    assert not g.training and not d.training
    assert all(p.grad is None for p in list(g.parameters()) + list(d.parameters()))


def test_unused_parameter_in_a_gan():
    g, d = mlp_gan()
    d.register_parameter("spare", nn.Parameter(torch.ones(4, dtype=torch.float64)))
    real, z = probe()
    result = estimate_models(g, d, real, z, "d", k=2, method="exact", **LOSSES)
    assert result.n_params == 7 * X + 7 + 7 + 1 + 4
    assert np.sum(np.abs(result.eigen.spectrum) < 1e-12) >= 4


class NoisyLayer(nn.Module):
    """A random layer that is not a dropout module: the Hessian cannot be deterministic."""

    def forward(self, x):
        return x * (1 + 0.1 * torch.randn_like(x))


def test_nondeterministic_loss_is_refused():
    g, d = mlp_gan()
    d.insert(1, NoisyLayer())
    real, z = probe()
    with pytest.raises(LandscapeError, match="not deterministic"):
        estimate_models(g, d, real, z, "d", k=2, **LOSSES)
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    assert check_deterministic(lambda: (x**4).sum(), [x]) == 0.0


def test_dropout_is_switched_off():
    g, d = mlp_gan()
    real, z = probe()
    loss = gan_loss(g, d, real, z, "d", **LOSSES)
    assert not any(m.training for m in loss.modules[1].modules() if isinstance(m, nn.Dropout))
    assert loss.loss_fn().item() == loss.loss_fn().item()


def test_bad_arguments():
    g, d = mlp_gan()
    real, z = probe()
    with pytest.raises(LandscapeError, match="Unknown network"):
        gan_loss(g, d, real, z, "both", **LOSSES)
    with pytest.raises(LandscapeError, match="must match"):
        gan_loss(g, d, real[:3], z, "d", **LOSSES)


# ----------------------------------------------------------------------------- records
def test_record_round_trip():
    g, d = mlp_gan()
    real, z = probe()
    result = estimate_models(g, d, real, z, "d", k=2, method="lanczos", tol=1e-6, trace_products=12,
                             density_vectors=2, density_steps=10, step=7, **LOSSES)
    arrays, attrs = to_record(result)
    assert set(arrays) >= {"values", "residuals", "converged", "density_grid", "density_values"}
    assert all(isinstance(v, (str, bool, int, float)) for v in attrs.values())
    back = from_record(arrays, attrs, 7, "d")
    assert np.array_equal(back.eigen.values, result.eigen.values)
    assert back.classification.label == result.classification.label
    assert back.trace.value == result.trace.value and back.n_hvp == result.n_hvp
