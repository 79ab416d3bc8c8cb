"""Game dynamics (analysis.game): ground truth on toy games, a tiny GAN against a dense float64 Jacobian,
determinism, every loss variant, storage and the `landscape game` command."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from analysis.game import GameJacobian, analyse_game, game_eigenvalues, step_matrix, step_moduli
from analysis.game.spectrum import arnoldi_eigenvalues

torch.set_num_threads(1)


def _scalar(*values: float) -> list[torch.Tensor]:
    return [torch.tensor([v], dtype=torch.float64, requires_grad=True) for v in values]


def _close(values: np.ndarray, expected: list[complex], atol: float = 1e-9) -> None:
    got = sorted(np.asarray(values, dtype=complex), key=lambda z: (round(z.real, 6), z.imag))
    want = sorted(np.asarray(expected, dtype=complex), key=lambda z: (round(z.real, 6), z.imag))
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert abs(a - b) <= atol, (got, want)


# ---------------------------------------------------------------------- toy games
def test_bilinear_game_is_purely_rotational_and_never_stable():
    x, y = _scalar(0.0, 0.0)
    op = GameJacobian(lambda: (x * y).sum(), [x], lambda: (-x * y).sum(), [y])  # min_x max_y x*y
    result = analyse_game(op, k=2)
    _close(result.parts["LM"].values, [1j, -1j])
    assert not result.label.stable and not result.label.saddle
    assert result.label.rotational and result.rotation.rotation == pytest.approx(1.0)
    assert result.rotation.share_rotational == 1.0
    assert "locally stable" not in result.label.label


def _dirac(loss: str, gamma: float = 0.0):
    """The Dirac GAN (Mescheder et al. 2018): G = delta_theta, D(x) = psi x, data at 0, optional R1 penalty."""
    theta, psi = _scalar(0.0, 0.0)
    soft = torch.nn.functional.softplus
    if loss == "wgan":
        lg = lambda: -(psi * theta).sum()  # noqa: E731
        ld = lambda: (psi * theta).sum() + 0.5 * gamma * (psi ** 2).sum()  # noqa: E731
    else:  # the standard loss: D's BCE on the real (at 0) and fake (at theta) samples; G's non-saturating loss
        lg = lambda: soft(-psi * theta).sum()  # noqa: E731
        ld = lambda: (soft(-psi * 0.0) + soft(psi * theta)).sum() + 0.5 * gamma * (psi ** 2).sum()  # noqa: E731
    return GameJacobian(lg, [theta], ld, [psi])


def test_dirac_gan_eigenvalues_match_mescheder():
    # Mescheder's eigenvalues are of the update direction -v: ours negated
    _close(-game_eigenvalues(_dirac("ns"), 2).values, [0.5j, -0.5j])
    _close(-game_eigenvalues(_dirac("wgan"), 2).values, [1j, -1j])
    _close(-game_eigenvalues(_dirac("ns", 0.3), 2).values, [complex(-0.15, np.sqrt(0.91) / 2),
                                                             complex(-0.15, -np.sqrt(0.91) / 2)])
    assert abs(game_eigenvalues(_dirac("ns", 0.3), 2).values[0].imag) == pytest.approx(0.477, abs=5e-4)
    _close(-game_eigenvalues(_dirac("ns", 1.0), 2).values, [-0.5, -0.5], atol=1e-7)  # a double (defective) eigenvalue
    # labels: without a penalty the point rotates and is not stable; with one it is stable (our convention: Re > 0)
    assert not analyse_game(_dirac("ns"), k=2).label.stable
    penalised = analyse_game(_dirac("ns", 0.3), k=2).label
    assert penalised.stable and penalised.rotational and penalised.min_real == pytest.approx(0.15)


def test_dirac_gan_gradient_steps():
    J = _dirac("ns").dense()
    simultaneous = np.abs(np.linalg.eigvals(step_matrix(J, 1, 0.2, "simultaneous")))
    assert simultaneous.max() == pytest.approx(np.sqrt(1.01), abs=1e-12) and simultaneous.max() == pytest.approx(1.00499, abs=1e-5)
    assert step_moduli(np.linalg.eigvals(J), 0.2).max() == pytest.approx(1.00499, abs=1e-5)
    alternating = np.abs(np.linalg.eigvals(step_matrix(J, 1, 0.2, "alternating")))
    np.testing.assert_allclose(alternating, 1.0, atol=1e-12)


def _quadratic(a: float, b: float, c: float, d: float):
    """L_1 = a x^2/2 + b x y, L_2 = d y^2/2 + c x y: J = [[a, b], [c, d]], H_1 = a, H_2 = d."""
    x, y = _scalar(0.0, 0.0)
    return GameJacobian(lambda: (0.5 * a * x ** 2 + b * x * y).sum(), [x], lambda: (0.5 * d * y ** 2 + c * x * y).sum(), [y])


def test_a_stability_label_from_the_largest_magnitudes_alone_says_so():
    from analysis.game.labels import label_point, stability_is_decisive

    values = np.array([5.0 + 1j, 5.0 - 1j, 4.0])  # all positive among those computed
    lm = label_point(values, basis="LM k=3")
    assert lm.stable and not lm.stability_decisive and lm.label == "locally stable on LM k=3 only"
    sr = label_point(values, basis="LM k=3, SR k=3")
    assert sr.stable and sr.stability_decisive and sr.label == "locally stable"
    assert stability_is_decisive("the whole spectrum (exact)") and not stability_is_decisive("LM k=6, LI k=6")


def test_quadratic_games_labels():
    nash_stable = analyse_game(_quadratic(1, 1, -1, 1), k=2)  # eigenvalues 1 +- i
    _close(nash_stable.values, [1 + 1j, 1 - 1j])
    assert nash_stable.label.nash and nash_stable.label.stable
    assert nash_stable.label.label == "local Nash candidate, locally stable"  # |Im| = |Re|: not above the threshold
    stable_not_nash = analyse_game(_quadratic(-1, 3, -3, 2), k=2)  # 0.5 +- i sqrt(27)/2, but H_1 = -1
    _close(stable_not_nash.values, [complex(0.5, np.sqrt(27) / 2), complex(0.5, -np.sqrt(27) / 2)])
    assert stable_not_nash.label.stable and stable_not_nash.label.nash is False
    assert stable_not_nash.label.label == "locally stable, rotational"
    assert stable_not_nash.blocks.hessian_1 == (-1.0, -1.0)
    nash_unstable = analyse_game(_quadratic(1, 2, 2, 1), k=2)  # eigenvalues 3 and -1
    _close(nash_unstable.values, [3, -1])
    assert nash_unstable.label.label == "local Nash candidate, saddle of the game"
    assert {nash_stable.label.label, stable_not_nash.label.label, nash_unstable.label.label}.__len__() == 3


def test_arnoldi_matches_exact_on_a_random_linear_game():
    rng = np.random.default_rng(0)
    n1, n2 = 30, 25
    M = rng.standard_normal((n1 + n2, n1 + n2))
    A = torch.tensor(M)
    x = torch.zeros(n1, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(n2, dtype=torch.float64, requires_grad=True)
    # quadratic losses: J = [[sym(A_11), A_12], [A_21, sym(A_22)]] (a player's own block is a Hessian, so symmetric)
    lg = lambda: (x @ (A[:n1, :n1] + A[:n1, :n1].T) @ x) / 4 + x @ A[:n1, n1:] @ y  # noqa: E731
    ld = lambda: (y @ (A[n1:, n1:] + A[n1:, n1:].T) @ y) / 4 + y @ A[n1:, :n1] @ x  # noqa: E731
    op = GameJacobian(lg, [x], ld, [y])
    dense = op.dense()
    for which in ("LM", "LR", "SR", "LI"):
        exact = game_eigenvalues(op, 4, which, method="exact").values
        iterative = arnoldi_eigenvalues(op, 4, which, tol=1e-12)
        assert iterative.all_converged
        np.testing.assert_allclose(np.sort_complex(iterative.values), np.sort_complex(exact), atol=1e-8)
    full = np.linalg.eigvals(dense)
    assert np.max(np.abs(full)) == pytest.approx(np.max(np.abs(game_eigenvalues(op, 2, "LM", method="arnoldi",
                                                                                  tol=1e-10).values)), rel=1e-8)


# ---------------------------------------------------------------------- a tiny MLP GAN, against a dense float64 Jacobian
def _tiny_gan(seed: int = 0):
    torch.manual_seed(seed)
    g = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    d = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    real = torch.randn(16, 2, dtype=torch.float64) + 1.0
    z = torch.randn(16, 3, dtype=torch.float64)
    return g, d, real, z


def _reference_jacobian(g, d, real, z) -> np.ndarray:
    """J by torch.autograd.functional.jacobian of the functional joint gradient field (ns loss), float64."""
    from torch.func import functional_call

    g_names = [n for n, _ in g.named_parameters()]
    d_names = [n for n, _ in d.named_parameters()]
    shapes = [p.shape for _, p in g.named_parameters()] + [p.shape for _, p in d.named_parameters()]
    sizes = [int(np.prod(s)) for s in shapes]
    w0 = torch.cat([p.detach().reshape(-1) for p in list(g.parameters()) + list(d.parameters())])
    soft = torch.nn.functional.softplus

    def field(w: torch.Tensor) -> torch.Tensor:
        chunks = [c.view(s) for c, s in zip(torch.split(w, sizes), shapes)]
        gp = dict(zip(g_names, chunks[: len(g_names)]))
        dp = dict(zip(d_names, chunks[len(g_names):]))
        fake = functional_call(g, gp, (z,))
        lg = soft(-functional_call(d, dp, (fake,))).mean()  # ns: BCE(D(G(z)), 1)
        ld = soft(-functional_call(d, dp, (real,))).mean() + soft(functional_call(d, dp, (fake,))).mean()
        grads_g = torch.autograd.grad(lg, list(gp.values()), create_graph=True)
        grads_d = torch.autograd.grad(ld, list(dp.values()), create_graph=True)
        return torch.cat([t.reshape(-1) for t in list(grads_g) + list(grads_d)])

    return torch.autograd.functional.jacobian(field, w0).numpy()


def test_tiny_mlp_gan_against_dense_jacobian_and_eig():
    from analysis.game import game_models

    g, d, real, z = _tiny_gan()
    reference = _reference_jacobian(g, d, real, z)
    op = game_models(g, d, real, z)
    assert op.n == reference.shape[0] == 32 + 18 + 24 + 9
    np.testing.assert_allclose(op.dense(), reference, atol=1e-12, rtol=1e-10)
    spectrum = np.linalg.eigvals(reference)
    scale = np.max(np.abs(spectrum))
    for which, key in (("LM", -np.abs(spectrum)), ("LR", -spectrum.real), ("SR", spectrum.real)):
        got = arnoldi_eigenvalues(op, 4, which, tol=1e-13).values
        for value in got:
            assert np.min(np.abs(spectrum - value)) <= 1e-8 * scale
        extreme = spectrum[np.argmin(key)]
        assert np.min(np.abs(got - extreme)) <= 1e-8 * scale, (which, got, extreme)
    # the forward product J u (double-vjp trick) agrees with the dense J too
    u = torch.randn(op.n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    np.testing.assert_allclose(op.matvec(u).numpy(), reference @ u.numpy(), atol=1e-12, rtol=1e-10)


def test_wgan_gp_jacobian_includes_the_penalty_through_the_fakes():
    """The penalty's interpolates depend on G's parameters, so d(grad_D L_D)/d theta has a penalty term."""
    from torch.func import functional_call

    from analysis.game import game_models
    from analysis.probe_loss import GP_SEED
    from trainers.losses import d_loss_parts, g_loss

    g, d, real, z = _tiny_gan(2)
    gp_weight = 10.0
    g_names, d_names = [n for n, _ in g.named_parameters()], [n for n, _ in d.named_parameters()]
    shapes = [p.shape for p in g.parameters()] + [p.shape for p in d.parameters()]
    sizes = [int(np.prod(s)) for s in shapes]
    w0 = torch.cat([p.detach().reshape(-1) for p in list(g.parameters()) + list(d.parameters())])

    def field(w: torch.Tensor, with_penalty_through_fakes: bool) -> torch.Tensor:
        chunks = [c.view(s) for c, s in zip(torch.split(w, sizes), shapes)]
        gp, dp = dict(zip(g_names, chunks[: len(g_names)])), dict(zip(d_names, chunks[len(g_names):]))
        fake = functional_call(g, gp, (z,))
        critic = lambda x: functional_call(d, dp, (x,))  # noqa: E731
        lg = g_loss(critic(fake), "wgan-gp")
        parts = d_loss_parts(critic(real), critic(fake), "wgan-gp")
        eps = torch.rand((real.shape[0], 1), generator=torch.Generator().manual_seed(GP_SEED), dtype=real.dtype)
        xhat = eps * real + (1 - eps) * (fake if with_penalty_through_fakes else fake.detach())
        if not xhat.requires_grad:  # the cut view: the interpolates are constants
            xhat.requires_grad_(True)
        (grad_x,) = torch.autograd.grad(critic(xhat).sum(), xhat, create_graph=True)
        penalty = (torch.linalg.vector_norm(grad_x, dim=1) - 1).square().mean()
        ld = parts[0] + parts[1] + gp_weight * penalty
        grads = torch.autograd.grad(lg, list(gp.values()), create_graph=True) + \
            torch.autograd.grad(ld, list(dp.values()), create_graph=True)
        return torch.cat([t.reshape(-1) for t in grads])

    full = torch.autograd.functional.jacobian(lambda w: field(w, True), w0).numpy()
    cut = torch.autograd.functional.jacobian(lambda w: field(w, False), w0).numpy()
    n_g = sum(sizes[: len(g_names)])
    assert np.abs(full[n_g:, :n_g] - cut[n_g:, :n_g]).max() > 1e-3 * np.abs(full).max()  # the term matters
    dense = game_models(g, d, real, z, loss="wgan-gp", gp_weight=gp_weight).dense()
    np.testing.assert_allclose(dense, full, atol=1e-11 * np.abs(full).max(), rtol=1e-9)


def test_exact_and_arnoldi_results_agree_and_repeat_bitwise():
    from analysis.game import estimate_game_models

    g, d, real, z = _tiny_gan(1)
    a = estimate_game_models(g, d, real, z, k=4, method="arnoldi", tol=1e-10, blocks=True)
    b = estimate_game_models(g, d, real, z, k=4, method="arnoldi", tol=1e-10, blocks=True)
    np.testing.assert_array_equal(a.parts["LM"].values, b.parts["LM"].values)
    assert a.v_norm == b.v_norm and a.label.label == b.label.label
    exact = estimate_game_models(g, d, real, z, k=4, method="exact")
    np.testing.assert_allclose(np.sort_complex(a.parts["LM"].values), np.sort_complex(exact.parts["LM"].values),
                               rtol=1e-8, atol=1e-8 * exact.spectral_radius)
    assert a.blocks.hessian_1 == pytest.approx(exact.blocks.hessian_1, rel=1e-6, abs=1e-9)
    assert a.blocks.sigma_12 == pytest.approx(exact.blocks.sigma_12, rel=1e-6)
    assert a.blocks.sigma_21 == pytest.approx(exact.blocks.sigma_21, rel=1e-6)
    # the caller's networks are untouched
    assert all(p.grad is None for p in list(g.parameters()) + list(d.parameters()))


# ---------------------------------------------------------------------- real (tiny) runs: every loss variant, storage, CLI
import hashlib  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from landscape.config import LOSSES, TrainConfig  # noqa: E402
from landscape.data.roots import resolve_data_root  # noqa: E402

DATA = str(resolve_data_root())
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "LANDSCAPE_DATA": DATA}


def tiny_config(**changes) -> TrainConfig:
    values = dict(arch="vanilla", dataset="mnist", batch_size=32, subset=256, max_iters=4, epochs=1, stages=2,
                  probe_size=16, device="cpu", data_dir=DATA, hessian_every=0)
    values.update(changes)
    return TrainConfig(**values)


def record_tiny(path: Path, config: TrainConfig, measurements=()) -> Path:
    from trainers.recording import record

    record(config, path, measurements=list(measurements))
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    from analysis.game.measurement import GameSpectrum

    seen = []
    path = record_tiny(tmp_path_factory.mktemp("game") / "vanilla.h5", tiny_config(),
                       [GameSpectrum(None, on_result=seen.append, k=3)])
    assert [r.step for r in seen] == [0, 2, 4]  # the stage boundaries of 4 iterations in 2 stages
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def landscape(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "landscape", *args], capture_output=True, text=True, env=ENV,
                          timeout=600)


@pytest.mark.needs_data("mnist")
def test_measured_during_training_and_read_back(tiny_run):
    from analysis.game.storage import game_eigenvalues_at, read_game
    from landscape import open_run

    run = open_run(tiny_run)
    frame = read_game(run, stages=2)
    assert frame["step"].tolist() == [0, 2, 4] and frame["stage"].tolist() == [1, 1, 2]
    assert frame["k"].eq(3).all() and frame["which"].eq("LM,SR").all() and frame["all_converged"].all()
    assert frame["stability_decisive"].all()  # the smallest real parts were computed: the label can say stable
    assert frame["v_rel"].notna().all() and frame["label"].map(bool).all()
    values = game_eigenvalues_at(run, 4)["LM"]
    assert len(values) == 3 and np.abs(values).max() == pytest.approx(frame["spectral_radius"].iloc[-1])
    assert "Mescheder" in frame["convention"].iloc[0]
    assert run.game["step"].tolist() == [0, 2, 4] and run.game["label"].tolist() == frame["label"].tolist()


@pytest.mark.needs_data("mnist")
@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_variant_on_a_short_real_run(loss, tmp_path):
    from analysis.game import estimate_game

    path = record_tiny(tmp_path / f"{loss}.h5", tiny_config(loss=loss, max_iters=2, stages=1))
    a = estimate_game(path, 2, k=2, blocks=False, tol=1e-4)
    b = estimate_game(path, 2, k=2, blocks=False, tol=1e-4)
    np.testing.assert_array_equal(a.parts["LM"].values, b.parts["LM"].values)  # deterministic
    assert a.all_converged and np.isfinite(a.v_norm) and a.v_norm > 0
    assert a.n_1 + a.n_2 == 159_785


@pytest.mark.needs_data("mnist")
def test_game_command_stores_estimates_and_plots(tiny_run, tmp_path):
    path = tmp_path / "run.h5"
    path.write_bytes(tiny_run.read_bytes())
    figure = tmp_path / "game.png"
    proc = landscape("game", str(path), "--steps", "last", "--k", "2", "--plot", str(figure))
    assert proc.returncode == 0, proc.stderr
    assert "Stored 1 estimate" in proc.stdout and figure.stat().st_size > 0
    from analysis.game.storage import read_game

    row = read_game(path).set_index("step").loc[4]
    assert row["k"] == 2 and row["nash"] in (True, False) and row["sigma_gd"] > 0 and row["hessian_d_max"] > 0
    angle = tmp_path / "path.png"
    before = sha256(path)
    proc = landscape("game", str(path), "--path", "0", "4", "--path-points", "5", "--plot", str(angle))
    assert proc.returncode == 0, proc.stderr
    assert "Path from step 0 to 4" in proc.stdout and angle.stat().st_size > 0
    assert sha256(path) == before  # the path angle stores nothing


def assert_user_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.needs_data("mnist")
def test_bad_input_one_sentence_and_the_run_file_unchanged(tiny_run, tmp_path):
    from landscape.writer import RunWriter
    from trainers.models import build_models

    path = tmp_path / "run.h5"
    path.write_bytes(tiny_run.read_bytes())
    before = sha256(path)
    assert_user_error(landscape("game", str(path), "--steps", "3"), "no checkpoint at step 3")
    assert_user_error(landscape("game", str(path), "--k", "159785"), "--k 159785", "159,785 parameters")
    assert_user_error(landscape("game", str(path), "--which", "XX"), "--which")
    assert_user_error(landscape("game", str(path), "--path", "0", "7"), "no checkpoint at step 7")
    assert sha256(path) == before

    cfg = tiny_config()
    no_ckpt = tmp_path / "no-ckpt.h5"
    with RunWriter(no_ckpt, cfg.to_dict()):
        pass
    before = sha256(no_ckpt)
    assert_user_error(landscape("game", str(no_ckpt)), "no checkpoints")
    assert sha256(no_ckpt) == before

    g, d = build_models(cfg)
    swapped = tmp_path / "swapped.h5"
    with RunWriter(swapped, cfg.to_dict()) as writer:
        writer.set_probe(np.zeros((4, 1, 28, 28), dtype=np.float32), np.zeros((4, cfg.z_dim), dtype=np.float32))
        writer.add_checkpoint(0, {"g": d.state_dict(), "d": g.state_dict()})  # weights that fit no network of the run
    before = sha256(swapped)
    assert_user_error(landscape("game", str(swapped)), "cannot be rebuilt")
    assert sha256(swapped) == before


def test_the_kind_follows_the_hessian_switch_and_spares_a_dcgan_on_a_cpu():
    from analysis.game.measurement import GameSpectrum
    from analysis.measurements import for_run

    kinds = lambda cfg: [m.kind for m in for_run(cfg)]  # noqa: E731
    assert "game" in kinds(TrainConfig(arch="vanilla", dataset="mnist", quality_every=0))
    assert "game" not in kinds(TrainConfig(arch="vanilla", dataset="mnist", quality_every=0, hessian_every=0))
    every, note = GameSpectrum().resolve_every(TrainConfig(arch="dcgan", dataset="mnist"), "cpu")
    assert every == 0 and "DCGAN" in note
    assert GameSpectrum().resolve_every(TrainConfig(arch="vanilla", dataset="mnist", hessian_every=10), "cpu") == (10, None)
    assert GameSpectrum(None).resolve_every(TrainConfig(arch="vanilla", dataset="mnist", hessian_every=0), "cpu") == (None, None)


def test_game_every_has_its_own_say_and_is_stored_resolved():
    from analysis.game.measurement import GameSpectrum
    from analysis.measurements import for_run
    from landscape.measurements import configured_every

    kinds = lambda cfg: [m.kind for m in for_run(cfg)]  # noqa: E731
    alone = TrainConfig(arch="vanilla", dataset="mnist", quality_every=0, hessian_every=0, game_every=7)
    assert kinds(alone) == ["game"] and GameSpectrum().resolve_every(alone, "cpu") == (7, None)
    assert "game" not in kinds(TrainConfig(arch="vanilla", dataset="mnist", quality_every=0, game_every=0))
    # a stored config written before the setting existed follows its hessian_every, as that run did
    assert configured_every({"hessian_every": 0}, "game") == 0 and configured_every({"hessian_every": 5}, "game") == 5
    from landscape.errors import LandscapeError

    with pytest.raises(LandscapeError, match="game_every must be a whole number >= 0, got -1"):
        TrainConfig(arch="vanilla", dataset="mnist", game_every=-1)


@pytest.mark.needs_data("mnist")
def test_record_game_every_through_the_cli(tmp_path):
    from landscape import open_run

    path = tmp_path / "g.h5"
    proc = landscape("record", "--arch", "vanilla", "--data", "mnist", "--subset", "320", "--max-iters", "10",
                     "--hessian-every", "0", "--quality-every", "0", "--game-every", "5", "--out", str(path))
    assert proc.returncode == 0, proc.stderr
    assert [line.split(":")[0] for line in proc.stdout.splitlines() if line.startswith("Game Jacobian")] == [
        "Game Jacobian at step 0", "Game Jacobian at step 5", "Game Jacobian at step 10"]
    run = open_run(path)
    assert run.game["step"].tolist() == [0, 5, 10] and run.measurements("hessian").empty
    assert run.config["game_every"] == 5 and run.config["hessian_every"] == 0
    assert run.meta("schedule")["game_steps"] == [0, 5, 10]
    bad = landscape("record", "--arch", "vanilla", "--data", "mnist", "--game-every", "-2", "--out", str(tmp_path / "b.h5"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "game_every" in bad.stderr.replace("-", "_")
    assert not (tmp_path / "b.h5").exists()


def test_mixture_example_runs(tmp_path):
    """examples/game_mixture.py (Berard et al.'s 1-D mixture) trains a few iterations and writes its figure and summary."""
    proc = subprocess.run([sys.executable, "examples/game_mixture.py", "--iters", "5", "--measure-at", "5", "--probe-size", "200", "--out",
                           str(tmp_path)], capture_output=True, text=True, env={**ENV, "MPLBACKEND": "Agg"}, timeout=600,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    summary = (tmp_path / "summary.md").read_text()
    assert "| 5 |" in summary and (tmp_path / "spectrum.png").stat().st_size > 0


@pytest.mark.needs_data("mnist")
def test_report_states_the_labels_per_stage(tiny_run):
    import json

    proc = landscape("report", str(tiny_run), "--stages", "2")
    assert proc.returncode == 0, proc.stderr
    assert "Game dynamics" in proc.stdout and "stage 1 (steps 0, 2)" in proc.stdout
    proc = landscape("report", str(tiny_run), "--stages", "2", "--format", "json")
    rows = json.loads(proc.stdout)["game"]["vanilla"]
    assert [r["stage"] for r in rows] == [1, 2] and rows[0]["steps"] == [0, 2] and rows[1]["labels"]
