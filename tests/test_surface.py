"""Loss slices and gradient walks (analysis.surface, `landscape surface`, `landscape walk`) against ground truth.

Quadratics whose loss is a known formula in the weights; filter norms; PCA geometry; the line
between two checkpoints; seeds; the walk rule's expected descent; and the CLI's refusals, each
one sentence with a non-zero exit and the run file byte-for-byte unchanged. The run files are
small toy-MLP runs recorded here (no dataset needed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from analysis.probe_loss import gan_loss
from analysis.surface.directions import (filter_direction, filter_normalise, flatten, pca_directions,
                                         random_direction, unflatten)
from analysis.surface.evaluate import BatchedLoss, grid_losses, per_point_losses
from analysis.surface.read import read_surface, surface_frame, surfaces
from analysis.surface.surface import compute_surface, fill_surface, plan_surface
from analysis.surface.walk import gradient_walks, init_ranges, walk_batched
from landscape.config import TrainConfig
from landscape.errors import LandscapeError

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


# ------------------------------------------------------------------ quadratics
def _square_g(d_fake: torch.Tensor) -> torch.Tensor:
    return (d_fake ** 2).mean()


def _square_d(d_real: torch.Tensor, d_fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return (d_real ** 2).mean(), ((d_fake - 1) ** 2).mean()


def quadratic_g(n: int = 32, k: int = 5, seed: int = 0):
    """G = Linear(k -> 1, no bias), D = identity, loss mean((z w)^2) = w' A w with A = Z'Z / n."""
    torch.manual_seed(seed)
    g, d = nn.Linear(k, 1, bias=False).double(), nn.Identity()
    z = torch.randn(n, k, dtype=torch.float64)
    loss = gan_loss(g, d, torch.zeros(n, 1, dtype=torch.float64), z, "g", g_loss_fn=_square_g, d_loss_parts_fn=_square_d)
    a = (z.T @ z / n).numpy()
    return loss, a


def test_the_slice_of_a_quadratic_equals_its_formula():
    loss, a = quadratic_g()
    batched = BatchedLoss(loss)
    w = batched.center.numpy()
    gen = torch.Generator().manual_seed(3)
    dirs = torch.stack([random_direction(loss.params, gen) for _ in range(2)])
    coords = np.array([[x, y] for x in np.linspace(-2, 2, 9) for y in np.linspace(-1, 3, 7)])
    got = np.concatenate([v for _, v in grid_losses(batched, dirs, coords, chunk=10)])
    u, v = dirs.numpy()
    expected = np.array([(w + x * u + y * v) @ a @ (w + x * u + y * v) for x, y in coords])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert batched.vectorised


def test_the_slice_of_a_quadratic_discriminator_with_bias_equals_its_formula():
    """D = Linear(k -> 1) with a bias, after the first-layer factorisation: L = mean((Xw+b)^2) + mean((Fw+b-1)^2)."""
    torch.manual_seed(1)
    n, k = 24, 4
    d = nn.Linear(k, 1).double()
    g = nn.Linear(3, k).double()
    real, z = torch.randn(n, k, dtype=torch.float64), torch.randn(n, 3, dtype=torch.float64)
    loss = gan_loss(g, d, real, z, "d", g_loss_fn=_square_g, d_loss_parts_fn=_square_d)
    with torch.no_grad():
        fake = g(z).numpy()
    batched = BatchedLoss(loss)
    dirs = torch.randn(2, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    coords = np.random.default_rng(0).uniform(-2, 2, size=(40, 2))
    got = batched.slice_values(dirs, coords).numpy()
    x = real.numpy()
    center = batched.center.numpy()

    def formula(theta: np.ndarray) -> float:
        w, b = theta[:k], theta[k]
        return float(np.mean((x @ w + b) ** 2) + np.mean((fake @ w + b - 1) ** 2))

    expected = [formula(center + c @ dirs.numpy()) for c in coords]
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_vectorised_grid_equals_the_per_point_loop_on_the_vanilla_networks():
    from trainers.models import build_models

    torch.manual_seed(0)
    config = TrainConfig(arch="vanilla", dataset="mnist")
    g, d = build_models(config)
    real, z = torch.rand(8, 1, 28, 28) * 2 - 1, torch.rand(8, config.z_dim) * 2 - 1
    coords = np.random.default_rng(1).uniform(-1, 1, size=(12, 2))
    for network in ("g", "d"):
        loss = gan_loss(g, d, real, z, network)
        gen = torch.Generator().manual_seed(0)
        dirs = torch.stack([filter_direction(loss.params, gen) for _ in range(2)])
        fast = np.concatenate([v for _, v in grid_losses(BatchedLoss(gan_loss(g, d, real, z, network)), dirs, coords,
                                                         chunk=5)])
        slow = per_point_losses(loss, dirs, coords)
        np.testing.assert_allclose(fast, slow, rtol=2e-5)


# ------------------------------------------------------------------ directions
def test_filter_normalised_directions_have_each_filters_norm_and_zero_biases_and_norm_parameters():
    net = nn.Sequential(nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6), nn.ConvTranspose2d(6, 4, 3), nn.Flatten(),
                        nn.Linear(4 * 8 * 8, 5))
    params = [p for p in net.parameters()]
    direction = filter_direction(params, torch.Generator().manual_seed(0))
    for d, (name, w) in zip(unflatten(direction, params), net.named_parameters()):
        if w.dim() <= 1:
            assert torch.all(d == 0), name  # biases and BatchNorm scale/shift: zeroed (ignore='biasbn')
            continue
        d_norms = d.reshape(d.shape[0], -1).norm(dim=1)
        w_norms = w.detach().double().reshape(w.shape[0], -1).norm(dim=1)
        torch.testing.assert_close(d_norms, w_norms, rtol=1e-9, atol=0)
    # normalising twice changes nothing, and a direction twice as long normalises to the same
    torch.testing.assert_close(filter_normalise(direction, params), direction)
    torch.testing.assert_close(filter_normalise(2 * direction, params), direction)


def test_pca_directions_are_orthonormal_and_reproduce_the_checkpoints_up_to_the_residual():
    rng = np.random.default_rng(0)
    n, m = 50, 7
    center = rng.normal(size=n)
    points = center + rng.normal(size=(m, n)) * np.linspace(3, 0.1, n)
    plane = pca_directions(center, points, steps=range(m))
    np.testing.assert_allclose(plane.directions @ plane.directions.T, np.eye(2), atol=1e-12)
    rebuilt = center + plane.coords @ plane.directions
    np.testing.assert_allclose(np.linalg.norm(points - rebuilt, axis=1), plane.residual, rtol=1e-9, atol=1e-9)
    assert 0 < plane.explained[1] <= plane.explained[0] and plane.explained.sum() <= 1 + 1e-12
    # the best plane: no other orthonormal pair leaves less off the plane
    q, _ = np.linalg.qr(rng.normal(size=(n, 2)))
    other = points - center - (points - center) @ q @ q.T
    assert np.sum(plane.residual ** 2) <= np.sum(other ** 2)
    # a path that lies in a plane is reproduced exactly, and the plane explains all of it
    u, v = np.linalg.qr(rng.normal(size=(n, 2)))[0].T
    flat_path = center + rng.normal(size=(m, 1)) * u + rng.normal(size=(m, 1)) * v
    exact = pca_directions(center, flat_path)
    np.testing.assert_allclose(exact.residual, 0, atol=1e-9)
    np.testing.assert_allclose(exact.explained.sum(), 1, rtol=1e-12)


def test_pca_refuses_offsets_on_a_line():
    center = np.zeros(4)
    with pytest.raises(LandscapeError, match="on a line"):
        pca_directions(center, np.array([[1.0, 0, 0, 0], [2.0, 0, 0, 0], [0, 0, 0, 0]]))


# ------------------------------------------------------------------ on a recorded run
@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    from trainers import record

    path = tmp_path_factory.mktemp("surface") / "ring.h5"
    config = TrainConfig(arch="mlp", dataset="ring8", max_iters=40, stages=4, probe_size=32, batch_size=32,
                         hessian_every=0, quality_every=0, device="cpu")
    record(config, path)
    return path


@pytest.fixture
def run_copy(toy_run, tmp_path) -> Path:
    return Path(shutil.copy(toy_run, tmp_path / "run.h5"))


def test_the_line_through_two_checkpoints_hits_both_losses_at_0_and_1(toy_run):
    from analysis.probe_loss import run_loss
    from landscape.reader import open_run
    from trainers.models import load_models

    run = open_run(toy_run)
    first, last = run.checkpoint_steps[1], run.checkpoint_steps[-1]
    for network in ("g", "d"):
        plan = plan_surface(run, first, network, dirs=f"to:{last}", dims=1, grid=3, value_range=(0.0, 1.0))
        line = fill_surface(plan).loss
        # the other player stays at the point's checkpoint (``first``) all along the line
        g_first, d_first = load_models(run, first)
        g_last, d_last = load_models(run, last)
        at_last = (g_last, d_first) if network == "g" else (g_first, d_last)
        for (g, d), value in (((g_first, d_first), line[0]), (at_last, line[-1])):
            expected = float(run_loss(g, d, run, network).loss_fn().detach())
            assert value == pytest.approx(expected, rel=1e-6, abs=1e-7), network


def test_the_same_seed_gives_identical_grids_and_another_seed_another(toy_run):
    step = 20
    a = compute_surface(toy_run, step, "d", dirs="filter", dims=2, grid=7, seed=4)
    b = compute_surface(toy_run, step, "d", dirs="filter", dims=2, grid=7, seed=4)
    c = compute_surface(toy_run, step, "d", dirs="filter", dims=2, grid=7, seed=5)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.directions, b.directions)
    assert not np.array_equal(a.loss, c.loss)
    assert a.loss[3, 3] == pytest.approx(a.center_loss, rel=1e-6)


def test_pca_surface_projects_the_runs_checkpoints(toy_run):
    from landscape.reader import open_run

    run = open_run(toy_run)
    s = compute_surface(run, run.checkpoint_steps[-1], "g", dirs="pca", grid=5)
    np.testing.assert_array_equal(s.arrays["path_steps"], run.checkpoint_steps)
    np.testing.assert_allclose(s.arrays["path_coords"][-1], 0, atol=1e-12)  # the point itself
    assert 0 < s.attrs["explained_2"] <= s.attrs["explained_1"] <= 1
    # the grid covers every projected checkpoint
    assert s.alpha[0] <= s.arrays["path_coords"][:, 0].min() and s.alpha[-1] >= s.arrays["path_coords"][:, 0].max()


def test_hessian_directions_are_the_top_eigenvectors(toy_run):
    from analysis.hessian.hvp import HessianVectorProduct

    s = compute_surface(toy_run, 40, "d", dirs="hessian", grid=3, hessian_products=400)
    values = s.arrays["eigenvalues"]
    assert values[0] >= values[1]
    from analysis.probe_loss import run_loss
    from trainers.models import load_models

    g, d = load_models(toy_run, 40) if False else load_models(__import__("landscape").open_run(toy_run), 40)
    loss = run_loss(g, d, __import__("landscape").open_run(toy_run), "d")
    hvp = HessianVectorProduct(loss.loss_fn, loss.params)
    for vector, value in zip(s.directions, values):
        v = torch.as_tensor(vector, dtype=torch.float64)
        hv = hvp(v.to(hvp.dtype)).double()
        assert float(torch.linalg.vector_norm(hv - value * v)) <= 1e-2 * abs(values[0])


# ------------------------------------------------------------------ walks
def test_a_gradient_walk_on_a_quadratic_moves_downhill_in_expectation_within_the_step_bound():
    loss, a = quadratic_g(k=6)
    batched = BatchedLoss(loss)
    ranges = init_ranges(batched.module.own, ["weight"])
    assert ranges[0] == pytest.approx(2 * np.sqrt(6 / (6 + 1)))
    step_size = 0.01
    losses, norms = walk_batched(batched, ranges, walks=200, steps=1, step_size=step_size, seed=0)
    w = batched.center.numpy()
    gradient = 2 * a @ w
    assert losses[:, 0] == pytest.approx(w @ a @ w)
    np.testing.assert_allclose(norms[:, 0], np.linalg.norm(gradient), rtol=1e-10)
    change = losses[:, 1] - losses[:, 0]
    # first order: E[change] = -(F R / 2) sum |g_j|; the mean of 200 walks is close to it and below 0
    expected = -(step_size * ranges[0] / 2) * np.abs(gradient).sum()
    assert change.mean() < 0
    assert change.mean() == pytest.approx(expected, rel=0.15)
    # every move is within the bound, and against the gradient's sign (re-run the first step's draw)
    gen = torch.Generator().manual_seed(0)
    u = torch.rand((200, 6), generator=gen, dtype=torch.float64).numpy()
    moves = -np.sign(gradient) * u * step_size * ranges[0]
    assert np.all(np.abs(moves) <= step_size * ranges[0])
    after = np.array([(w + m) @ a @ (w + m) for m in moves])
    np.testing.assert_allclose(losses[:, 1], after, rtol=1e-10)
    # a long walk keeps going down
    long_losses, _ = walk_batched(batched, ranges, walks=20, steps=50, step_size=step_size, seed=1)
    assert np.all(long_losses[:, -1] < long_losses[:, 0])


def test_walks_of_a_run_store_and_read_back(run_copy):
    from analysis.surface.walk import walks_frame
    from landscape.amend import append_measurement

    walks = gradient_walks(run_copy, 20, "g", walks=3, steps=4, seed=0)
    again = gradient_walks(run_copy, 20, "g", walks=3, steps=4, seed=0)
    np.testing.assert_array_equal(walks.loss, again.loss)
    append_measurement(run_copy, "walk", walks.record())
    frame = walks_frame(run_copy)
    assert len(frame) == 3 * 5 and set(frame["walk_step"]) == set(range(5))
    np.testing.assert_allclose(frame.sort_values(["walk", "walk_step"])["loss"], walks.loss.ravel())


def test_a_surface_stores_and_reads_back_and_a_partial_one_continues(run_copy):
    from analysis.surface.read import stored_surface
    from analysis.surface.surface import resume_from
    from landscape.amend import append_measurement

    plan = plan_surface(run_copy, 20, "d", dims=2, grid=6, seed=1)
    whole = fill_surface(plan_surface(run_copy, 20, "d", dims=2, grid=6, seed=1))
    stop = {"chunks": 0}

    def interrupt(surface):
        stop["chunks"] += 1
        raise KeyboardInterrupt

    plan.batched.slice_chunk = lambda directions: 10  # several chunks
    with pytest.raises(KeyboardInterrupt):
        fill_surface(plan, on_chunk=interrupt)
    partial = plan.surface
    assert partial.points_done == 10 and not partial.complete
    append_measurement(run_copy, "surface", partial.record())
    stored = stored_surface(run_copy, 20, "d", "filter", 2)
    assert stored.points_done == 10
    resumed = plan_surface(run_copy, 20, "d", dims=2, grid=6, seed=1)
    assert resume_from(resumed, stored)
    fill_surface(resumed)
    np.testing.assert_allclose(resumed.surface.loss, whole.loss, rtol=1e-6)
    append_measurement(run_copy, "surface", resumed.surface.record())
    back = read_surface(run_copy, 20, "d", "filter", 2)
    np.testing.assert_array_equal(back.loss, resumed.surface.loss)
    frame = surfaces(run_copy)
    assert frame.loc[0, "network"] == "d" and bool(frame.loc[0, "complete"])
    assert len(surface_frame(run_copy)) == 36


def test_surfaces_and_walks_are_never_made_during_training_unless_asked():
    from analysis.measurements import for_run

    kinds = {m.kind for m in for_run(TrainConfig(arch="mlp", dataset="ring8"))}
    assert "surface" not in kinds and "walk" not in kinds


def test_surfaces_made_during_training_when_asked(tmp_path):
    from analysis.surface.measurement import GradientWalks, LossSurfaces
    from landscape.reader import open_run
    from trainers import record

    config = TrainConfig(arch="mlp", dataset="ring8", max_iters=10, stages=2, probe_size=16, batch_size=16,
                         hessian_every=0, quality_every=0, device="cpu")
    record(config, tmp_path / "r.h5", measurements=[LossSurfaces(every=None, grid=5), GradientWalks(every=10, walks=2,
                                                                                                    steps=3)])
    run = open_run(tmp_path / "r.h5")
    assert sorted({s for s, _ in run.measurement_keys("surface")}) == [0, 5, 10]
    assert sorted({s for s, _ in run.measurement_keys("walk")}) == [0, 10]


# ------------------------------------------------------------------ the CLI
def landscape(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "landscape", *args], capture_output=True, text=True, env=ENV,
                          timeout=300)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_cli_draws_and_stores(run_copy, tmp_path):
    out = landscape("surface", str(run_copy), "--step", "40", "--network", "d", "--grid", "9",
                    "--plot", str(tmp_path / "s.png"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "s.png").stat().st_size > 0
    assert (40, "d-filter-2d") in [(s, k) for s, k in __import__("landscape").open_run(run_copy)
                                   .measurement_keys("surface")]
    out = landscape("walk", str(run_copy), "--step", "40", "--network", "g", "--walks", "3", "--steps", "5",
                    "--plot", str(tmp_path / "w.png"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "w.png").stat().st_size > 0


@pytest.mark.parametrize("args, sentence", [
    (["--step", "7"], "has no checkpoint at step 7"),
    (["--step", "40", "--range", "1", "-1"], "low below high"),
    (["--step", "40", "--range", "0", "0"], "low below high"),
    (["--step", "40", "--grid", "1"], "between 2 and 1,001"),
    (["--step", "40", "--grid", "1002"], "between 2 and 1,001"),
    (["--step", "40", "--dirs", "hessian", "--hessian-products", "4"], "did not converge"),
    (["--step", "40", "--dirs", "to:3", "--dims", "1"], "no checkpoint at step 3"),
    (["--step", "40", "--dirs", "sideways"], "--dirs"),
    (["--step", "40", "--network", "x"], "--network"),
])
def test_bad_input_is_one_sentence_and_leaves_the_run_unchanged(run_copy, args, sentence):
    before = sha(run_copy)
    out = landscape("surface", str(run_copy), *args)
    assert out.returncode != 0
    assert sentence in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert len([line for line in out.stderr.strip().splitlines() if line.strip()]) <= 3
    assert sha(run_copy) == before


def test_pca_with_fewer_than_3_checkpoints_is_refused(tmp_path):
    from trainers import record

    config = TrainConfig(arch="mlp", dataset="ring8", max_iters=4, stages=1, probe_size=8, batch_size=8,
                         hessian_every=0, quality_every=0, device="cpu")
    record(config, tmp_path / "two.h5")
    before = sha(tmp_path / "two.h5")
    out = landscape("surface", str(tmp_path / "two.h5"), "--step", "4", "--dirs", "pca")
    assert out.returncode != 0 and "at least 3 checkpoints" in out.stderr, out.stderr
    assert sha(tmp_path / "two.h5") == before


def test_bad_walk_options_are_refused(run_copy):
    before = sha(run_copy)
    for args, sentence in ((["--walks", "0"], "--walks"), (["--step-size", "0"], "--step-size"),
                           (["--steps", "0"], "--steps")):
        out = landscape("walk", str(run_copy), "--step", "40", *args)
        assert out.returncode != 0 and sentence in out.stderr, out.stderr
    assert sha(run_copy) == before


def test_a_larger_evaluation_batch_from_the_runs_dataset(toy_run):
    probe = compute_surface(toy_run, 20, "d", dims=1, grid=3, seed=0)
    big = compute_surface(toy_run, 20, "d", dims=1, grid=3, seed=0, batch=200)
    again = compute_surface(toy_run, 20, "d", dims=1, grid=3, seed=0, batch=200)
    assert big.batch == "200" and probe.batch == "probe"
    np.testing.assert_array_equal(big.loss, again.loss)  # the batch is drawn from the seed
    assert not np.allclose(big.loss, probe.loss)
    with pytest.raises(LandscapeError, match="--batch"):
        compute_surface(toy_run, 20, "d", dims=1, grid=3, batch=0)


def test_ctrl_c_keeps_the_points_done_and_the_same_command_continues(run_copy):
    """SIGINT to the command: exit 130, the points done stored (the rest NaN), and a plan with the same
    settings takes them over (what the same command does)."""
    import signal
    import time

    from analysis.surface.read import stored_surface
    from analysis.surface.surface import resume_from

    args = [sys.executable, "-m", "landscape", "surface", str(run_copy), "--step", "40", "--network", "d", "--grid",
            "1001", "--batch", "1000", "--save-every", "1000"]  # about a minute of work: interrupted halfway
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(15)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "run the same command to continue" in out
    stored = stored_surface(run_copy, 40, "d", "filter", 2)
    assert 0 < stored.points_done < stored.loss.size
    assert np.all(np.isfinite(stored.loss.reshape(-1)[:stored.points_done]))  # done in grid order
    plan = plan_surface(run_copy, 40, "d", dims=2, grid=1001, batch=1000)
    assert resume_from(plan, stored) and plan.surface.points_done == stored.points_done
