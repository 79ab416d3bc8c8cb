"""examples/mode_collapse_toy.py: the GAN, the unrolled GAN and WGAN-GP on ring8, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from landscape import open_run

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "examples" / "mode_collapse_toy.py"
RUNS = ("gan", "unrolled", "wgan-gp", "wgan-gp-published")


def _run(out: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPT), "--out", str(out), *args]
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=1200)


def test_a_tiny_budget_writes_the_runs_figures_and_a_summary_with_the_coverage_table(tmp_path) -> None:
    result = _run(tmp_path, "--epochs", "1", "--max-iters", "6", "--unroll", "2", "--dpi", "40")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for name in ("samples.png", "coverage.png", "lgc.png", "summary.md"):
        assert (tmp_path / name).stat().st_size > 0, name
    for key in RUNS:
        run = open_run(tmp_path / "runs" / f"{key}.h5")
        assert run.status == "finished" and run.n_iterations == 6 and run.sample_epochs == [1]
        assert set(run.quality["metric"]) == {"modes_covered", "high_quality"}
    assert open_run(tmp_path / "runs" / "unrolled.h5").config["unroll"] == 2
    assert open_run(tmp_path / "runs" / "wgan-gp.h5").config["loss"] == "wgan-gp"
    published = open_run(tmp_path / "runs" / "wgan-gp-published.h5").config  # the WGAN-GP authors' toy recipe
    assert (published["arch"], published["dataset"], published["loss"]) == ("mlp512", "ring8-wgan-gp", "wgan-gp")
    assert (published["gp_weight"], published["batch_size"], published["z_dim"], published["d_steps"]) == (0.1, 256, 2, 5)
    assert published["betas"] == [0.5, 0.9] and published["lr_g"] == published["lr_d"] == 1e-4

    summary = (tmp_path / "summary.md").read_text()
    header = ("| epoch | GAN (non-saturating): modes | GAN (non-saturating): HQ | Unrolled GAN (K=2): modes | "
              "Unrolled GAN (K=2): HQ | WGAN-GP: modes | WGAN-GP: HQ | WGAN-GP (published toy recipe): modes | "
              "WGAN-GP (published toy recipe): HQ |")
    lines = summary.splitlines()
    start = next(i for i, line in enumerate(lines) if " ".join(line.split()) == header)
    assert lines[start + 2].startswith("| **1**")  # one row per sample epoch, the drawn ones in bold
    assert "## Settings" in summary and "`runs/unrolled.h5`" in summary and "lambda 10" in summary
    assert "At the last epoch the plain GAN covers" in summary

    # a second call finds the runs complete and only redraws
    again = _run(tmp_path, "--epochs", "1", "--max-iters", "6", "--unroll", "2", "--dpi", "40")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("(skipped)") == 4


def test_display_epochs_are_evenly_spaced_with_the_first_and_last() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from mode_collapse_toy import display_epochs
    finally:
        sys.path.remove(str(SCRIPT.parent))
    assert display_epochs(list(range(1, 26))) == [1, 6, 11, 15, 20, 25]
    assert display_epochs([1, 2, 3]) == [1, 2, 3]


@pytest.mark.slow
def test_with_the_examples_settings_the_plain_gan_covers_fewer_modes_than_the_unrolled_gan(tmp_path) -> None:
    """The issue's claim, measured: on ring8 the plain GAN covers fewer modes at the end than the unrolled GAN.

    (With these settings WGAN-GP does not beat the plain GAN: its generator runs off the ring, see
    examples/mode_collapse/summary.md; so the comparison asserted is with the unrolled GAN.) About 5
    minutes on one CPU thread.
    """
    result = _run(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    final = {}
    for key in RUNS:
        q = open_run(tmp_path / "runs" / f"{key}.h5").quality
        covered = q[q["metric"] == "modes_covered"].sort_values("step")
        final[key] = covered["value"].iloc[-1]
    assert final["gan"] < final["unrolled"], final
