"""examples/reproduce_moses2021.py end to end on a tiny budget: files, stated reductions, skipping, curvature."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from landscape import open_run

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "examples" / "reproduce_moses2021.py"
TINY = ["--epochs", "2", "--subset", "256", "--dcgan-epochs", "1", "--dcgan-subset", "128",
        "--dcgan-max-iters", "2", "--device", "cpu", "--dpi", "40"]


def _reproduce(out: Path, shared_data: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPT), "--out", str(out), "--data-dir", str(shared_data), *TINY, *extra]
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory, shared_data) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("moses2021")
    # curvature: the slow test below; two runs side by side (spawned processes, one thread each)
    result = _reproduce(out, shared_data, "--hessian", "none", "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result


def test_writes_every_figure_and_a_summary_that_states_the_reductions(reproduced) -> None:
    out, result = reproduced
    assert "Traceback" not in result.stderr and "DatasetChecksumWarning" not in result.stderr  # one-line warnings
    names = [f"lgc_{a}_{d}.png" for a in ("vanilla", "dcgan") for d in ("mnist", "fashion_mnist", "cifar10")]
    for name in [*names, "lgc_all.png", "samples_vanilla.png", "samples_dcgan.png", "summary.md"]:
        assert (out / name).stat().st_size > 0, name
    summary = (out / "summary.md").read_text()
    assert summary.count("**yes**") == 6  # every run is reduced, and says so
    assert "first 128 images" in summary and "stopped at 2 iterations" in summary
    assert "No run of this reproduction has game-Jacobian estimates (they follow `--hessian`)." in summary
    assert "| MNIST, Fashion-MNIST (28x28x1) | 81,184 | 78,601 |" in summary
    for claim in range(1, 6):
        assert f"### Claim {claim}:" in summary


def test_dcgan_trains_in_bf16_on_a_cpu_that_has_it_and_the_summary_says_so(reproduced) -> None:
    from trainers.precision import cpu_has_bf16

    out, _ = reproduced
    wanted = "bf16" if cpu_has_bf16() else "fp32"
    assert open_run(out / "runs" / "dcgan-mnist.h5").config["precision"] == wanted
    assert open_run(out / "runs" / "vanilla-mnist.h5").config["precision"] == "fp32"  # the paper's arithmetic
    summary = (out / "summary.md").read_text()
    assert summary.count(f"| {wanted} |") >= 3
    if wanted == "bf16":
        assert "trained with `--precision bf16`" in summary


def test_hessian_auto_means_vanilla_always_and_dcgan_only_on_a_gpu() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from reproduce_moses2021 import wants_hessian
    finally:
        sys.path.remove(str(SCRIPT.parent))
    assert wants_hessian("vanilla", "auto", "cpu") and not wants_hessian("dcgan", "auto", "cpu")
    assert wants_hessian("dcgan", "auto", "cuda") and wants_hessian("dcgan", "all", "cpu")
    assert not wants_hessian("vanilla", "none", "cpu")


@pytest.mark.slow
def test_vanilla_runs_get_curvature_at_every_checkpoint(tmp_path, shared_data) -> None:
    result = _reproduce(tmp_path, shared_data, "--only", "vanilla", "--epochs", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    vanilla = open_run(tmp_path / "runs" / "vanilla-mnist.h5")
    assert sorted(set(vanilla.hessian()["step"])) == vanilla.checkpoint_steps
    summary = (tmp_path / "summary.md").read_text()
    assert "### Curvature at the stage boundaries" in summary
    assert sorted(vanilla.game["step"]) == vanilla.checkpoint_steps  # the game Jacobian at every boundary too
    assert "### Game dynamics at the stage boundaries" in summary
    assert "- **Vanilla GAN, MNIST**: locally stable at " in summary and "| Nash |" in summary


def test_a_second_call_skips_complete_runs_and_adds_nothing(reproduced, shared_data) -> None:
    out, _ = reproduced
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.h5")}
    again = _reproduce(out, shared_data, "--hessian", "none")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("(skipped)") == 6
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.h5")} == before


def test_unknown_hessian_choice_is_one_clear_error(tmp_path, shared_data) -> None:
    result = _reproduce(tmp_path, shared_data, "--hessian", "sometimes")
    assert result.returncode != 0
    assert "sometimes" in result.stderr and "Traceback" not in result.stderr


def test_unknown_dcgan_precision_is_one_clear_error(tmp_path, shared_data) -> None:
    result = _reproduce(tmp_path, shared_data, "--dcgan-precision", "fp8")
    assert result.returncode != 0
    assert "fp8" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()
