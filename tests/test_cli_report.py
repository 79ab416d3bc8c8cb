"""`landscape report` and `stationarity_report` on run files.

Synthetic run files (written with RunWriter from series of known behaviour) check
the command's formats, files and errors; real short runs of both architectures
(`landscape record`) check it end to end, including the gradient-flatness ratio
computed from a checkpoint, verified against finite differences.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.stationarity import stationarity_report
from landscape import open_run
from landscape.amend import append_hessian
from landscape.writer import RunWriter

REPO = Path(__file__).resolve().parents[1]
N = 2000


def landscape(*args: str | os.PathLike, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m landscape ARGS`` as a user would."""
    return subprocess.run([sys.executable, "-m", "landscape", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, **(env or {})}, timeout=600)


def write_synthetic_run(path: Path, seed: int = 0, rising_g: bool = False) -> Path:
    """A finished run: g's norm decays (or rises), d is flat noise, d_real rises, d_fake's loss plateaus then falls."""
    rng = np.random.default_rng(seed)
    x = np.arange(N)
    g_norm = np.exp((x if rising_g else -x) / 500 + rng.normal(0, 0.3, N))
    fake_loss = np.where(x < 1200, 2.0, 2.0 - (x - 1200) / 400) + rng.normal(0, 0.01, N)
    with RunWriter(path, {"arch": "vanilla", "dataset": "mnist", "seed": seed}) as writer:
        for i in range(N):
            writer.log(i, epoch=i // 400 + 1, g_loss=1 + 0.1 * rng.normal(), g_grad_norm=g_norm[i],
                       d_loss=1.3 + 0.1 * rng.normal(), d_loss_real=0.6 + 0.1 * rng.normal(),
                       d_loss_fake=fake_loss[i], d_grad_norm=np.exp(0.3 * rng.normal()),
                       d_grad_norm_real=np.exp(i / 1000 + 0.3 * rng.normal()),
                       d_grad_norm_fake=np.exp(0.3 * rng.normal()), d_out_real=0.5, d_out_fake=0.5)
        # Hessian estimates as analysis.hessian stores them, one carrying ||g|| and ||Hg||
        writer.add_hessian(1999, "g", {"values": np.array([-0.5, 0.1, 2.0, 4.0])},
                           {"classification": "saddle", "curvature": "saddle", "lambda_min": -0.5, "lambda_max": 4.0,
                            "grad_norm": 2.0, "hg_norm": 1.0})
        writer.add_hessian(1999, "d", {"values": np.array([0.0, 1.0, 3.0])},
                           {"classification": "singular", "curvature": "convex", "lambda_min": 0.0,
                            "lambda_max": 3.0})
    return path


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    return write_synthetic_run(tmp_path_factory.mktemp("runs") / "synthetic.h5")


@pytest.fixture(scope="module")
def synthetic_json(synthetic) -> dict:
    result = landscape("report", synthetic, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _verdicts(content: dict) -> dict:
    return {(r["run"], r["network"]): r["verdict"] for r in content["verdicts"]}


def test_text_report_on_stdout_has_verdicts_then_tables(synthetic):
    result = landscape("report", synthetic)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("STATIONARITY REPORT\nsynthetic: 2,000 iterations, status finished (vanilla, mnist)")
    assert out.index("VERDICTS") < out.index("g (generator): approaching stationarity.") < out.index(
        "GRADIENT NORM AND LOSS BY STAGE") < out.index("CURVATURE AT CHECKPOINTS")
    assert "d_real (discriminator, real part): moving away." in out
    assert "below 0.01" in out and "0.1 x stage-1 median" in out


def test_json_report_matches_the_python_api(synthetic, synthetic_json):
    report = stationarity_report(open_run(synthetic))
    assert _verdicts(synthetic_json) == {(r.run, r.network): r.verdict for r in report.verdicts.itertuples()}
    assert _verdicts(synthetic_json) == {
        ("synthetic", "g"): "approaching stationarity",
        ("synthetic", "d"): "no significant trend",
        ("synthetic", "d_real"): "moving away",
        ("synthetic", "d_fake"): "no significant trend",  # its loss falls, its gradient norm is flat noise
    }
    assert len(synthetic_json["summary"]) == 4 * 6
    fake = [s for s in synthetic_json["stagnation"] if s["network"] == "d_fake"]
    assert fake[0]["start_step"] == 0 and abs(fake[0]["iterations"] - 1200) <= 20  # window 20 (= 2,000 / 100)


def test_curvature_rows_use_stored_norms_and_say_what_is_missing(synthetic_json):
    rows = {r["network"]: r for r in synthetic_json["curvature"]}
    g = rows["g"]
    assert (g["curvature_class"], g["stage"], g["flatness_source"]) == ("saddle", 5, "stored")
    assert g["flatness"] == pytest.approx(1.0 / (4.0 * 2.0))  # ||Hg|| / (max|lambda| ||g||)
    d = rows["d"]
    assert (d["curvature_class"], d["sign_class"], d["flatness_source"]) == ("singular", "convex", "unavailable")
    assert d["flatness"] is None
    assert any("no ||Hg||" in note and "no checkpoint at step 1999" in note for note in synthetic_json["notes"])


def test_python_report_from_a_run_agrees_with_its_tidy_frame(synthetic):
    run = open_run(synthetic)
    from_run = stationarity_report(run, stages=4)
    from_tidy = stationarity_report(run.tidy(4), stages=4, name=run.name)
    assert list(from_run.summary["stage_label"].unique()[:4]) == list(run.tidy(4)["stage_label"].cat.categories)
    for name in ("summary", "near_stationary", "trends", "stagnation"):
        assert getattr(from_run, name).equals(getattr(from_tidy, name)), name
    columns = ["run", "network", "verdict", "whole_run"]  # the evidence of a Run also cites its Hessian estimates
    assert from_run.verdicts[columns].equals(from_tidy.verdicts[columns])


def test_markdown_by_suffix_and_a_figure(synthetic, tmp_path):
    out, figure = tmp_path / "report.md", tmp_path / "norms.png"
    result = landscape("report", synthetic, "--out", out, "--figure", figure, "--threshold", "0.5",
                       "--relative-threshold", "0.2")
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("# Stationarity report") and "| network | stage" in text
    assert "below 0.5" in text and "0.2 x stage-1 median" in text
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"Wrote {out}" in result.stdout


def test_two_runs_in_one_report(synthetic, tmp_path):
    other = write_synthetic_run(tmp_path / "other.h5", seed=1, rising_g=True)
    result = landscape("report", synthetic, other, "--format", "json", "--stages", "4")
    assert result.returncode == 0, result.stderr
    content = json.loads(result.stdout)
    assert [r["run"] for r in content["runs"]] == ["synthetic", "other"]
    verdicts = _verdicts(content)
    assert verdicts[("synthetic", "g")] == "approaching stationarity"
    assert verdicts[("other", "g")] == "moving away"
    assert content["options"]["stages"] == 4
    assert {r["run"] for r in content["summary"]} == {"synthetic", "other"}


@pytest.fixture(scope="module")
def empty_run(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("empty") / "empty.h5"
    RunWriter(path, {"arch": "vanilla"}).close()
    return path


def test_python_report_of_an_empty_run_is_a_user_error(empty_run):
    from landscape.errors import LandscapeError

    with pytest.raises(LandscapeError, match="no recorded iterations"):
        stationarity_report(open_run(empty_run))


@pytest.mark.parametrize(
    "case",
    ["missing", "not-a-run", "empty", "out-dir-missing", "out-is-dir", "bad-format", "bad-stages", "bad-figure"],
)
def test_user_errors_are_one_sentence_without_traceback(case, synthetic, empty_run, tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a run\n")
    args = {
        "missing": [tmp_path / "nope.h5"],
        "not-a-run": [text_file],
        "empty": [empty_run],
        "out-dir-missing": [synthetic, "--out", tmp_path / "no" / "such" / "dir" / "r.txt"],
        "out-is-dir": [synthetic, "--out", tmp_path],
        "bad-format": [synthetic, "--format", "html"],
        "bad-stages": [synthetic, "--stages", "0"],
        "bad-figure": [synthetic, "--figure", tmp_path / "figure.bmp"],
    }[case]
    result = landscape("report", *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert result.stdout == ""


# --------------------------------------------------------------------------- real short runs


def _record(directory: Path, shared_data: Path, arch: str, batch: int) -> Path:
    out = directory / f"{arch}.h5"
    result = landscape("record", "--arch", arch, "--data", "mnist", "--subset", "256", "--max-iters", "20",
                       "--batch-size", str(batch), "--hessian-every", "0", "--out", out, env={"LANDSCAPE_DATA": str(shared_data)})
    assert result.returncode == 0, result.stderr
    return out


def _check_real_report(path: Path) -> dict:
    result = landscape("report", path, "--format", "json")
    assert result.returncode == 0, result.stderr
    content = json.loads(result.stdout)
    assert [r["network"] for r in content["verdicts"]] == ["g", "d", "d_real", "d_fake"]
    assert all(r["iterations"] == 4 for r in content["summary"] if r["stage_label"] != "all")
    assert all("too few iterations in the last stage" in r["headline"] for r in content["verdicts"])
    return content


@pytest.fixture(scope="module")
def vanilla_run(tmp_path_factory, shared_data) -> Path:
    return _record(tmp_path_factory.mktemp("vanilla"), shared_data, "vanilla", 32)


def test_real_vanilla_run(vanilla_run):
    content = _check_real_report(vanilla_run)
    assert content["runs"][0]["arch"] == "vanilla" and content["runs"][0]["iterations"] == 20
    assert content["curvature"] == []
    assert any("No Hessian estimates" in note for note in content["notes"])


@pytest.mark.slow  # ~17 s on 2 busy cores; estimates written by analysis.hessian carry ||g|| and ||Hg|| already
def test_flatness_computed_from_a_checkpoint(vanilla_run, tmp_path):
    """||g|| and ||Hg|| from the checkpoint (double backward) against torch.func's forward-over-reverse."""
    import shutil

    import torch
    from torch.func import functional_call, grad, jvp

    from analysis.hessian import gan_loss
    from trainers.models import load_models
    from trainers.losses import g_loss

    path = Path(shutil.copy(vanilla_run, tmp_path / "with_hessian.h5"))
    run = open_run(path)
    step = run.checkpoint_steps[-1]
    append_hessian(path, step, "g", {"values": np.array([-1.0, 2.0])},
                   {"classification": "saddle", "curvature": "saddle", "lambda_min": -1.0, "lambda_max": 2.0})
    report = stationarity_report(open_run(path))
    (row,) = report.curvature.to_dict("records")
    assert (row["step"], row["stage"], row["flatness_source"]) == (step, 5, "computed")

    generator, discriminator = load_models(run, step)
    real, z = run.probe()
    loss = gan_loss(generator, discriminator, real, z, "g")
    g_copy, d_copy = loss.modules
    params = {name: p.detach() for name, p in zip(loss.names, loss.params)}
    z = torch.as_tensor(z)

    def f(p):
        return g_loss(d_copy(functional_call(g_copy, p, (z,))))

    gradient = grad(f)(params)
    _, hg = jvp(grad(f), (params,), (gradient,))
    norm = lambda tensors: float(torch.sqrt(sum((t.double() ** 2).sum() for t in tensors.values())))  # noqa: E731
    assert row["grad_norm"] == pytest.approx(norm(gradient), rel=1e-4)
    assert row["hg_norm"] == pytest.approx(norm(hg), rel=1e-3)
    assert row["flatness"] == pytest.approx(row["hg_norm"] / (2.0 * row["grad_norm"]))  # stored max|lambda| = 2
    assert "Last Hessian estimate (step 20): saddle, gradient-flatness ratio" in report.to_text().replace("\n  ", " ")


@pytest.mark.slow
def test_real_dcgan_run(tmp_path, shared_data):
    content = _check_real_report(_record(tmp_path, shared_data, "dcgan", 16))
    assert content["runs"][0]["arch"] == "dcgan"
