"""examples/record_classifier.py and examples/explore_runs.py on a run that is not a GAN's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from landscape import open_run

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "COLUMNS": "200"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory, shared_data) -> Path:
    out = tmp_path_factory.mktemp("clf") / "classifier.h5"
    result = _run(str(REPO / "examples" / "record_classifier.py"), "--out", str(out), "--epochs", "1", "--subset", "4096",
                  "--batch-size", "64", "--data-dir", str(shared_data), cwd=out.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "clf: " in result.stdout and "STATIONARITY REPORT" in result.stdout  # its report, on stdout
    assert (out.parent / "classifier-lgc.png").stat().st_size > 0
    return out


def test_a_classifier_run_has_one_network_named_by_its_fields(classifier_run):
    run = open_run(classifier_run)
    assert run.status == "finished" and run.n_iterations == 64
    assert [n.key for n in run.networks] == ["clf"] and "accuracy" in run.fields


@pytest.mark.parametrize(
    "command",
    [["lgc", "{run}", "--out", "{dir}/lgc.png", "--timeline", "{dir}/timeline.png"],
     ["report", "{run}", "--format", "json", "--out", "{dir}/report.json", "--figure", "{dir}/report.png"],
     ["export", "{run}", "--out", "{dir}/metrics.csv"],
     ["info", "{run}"]],
    ids=lambda c: c[0],
)
def test_every_command_takes_a_classifier_run(classifier_run, tmp_path, command):
    args = [a.format(run=classifier_run, dir=tmp_path) for a in command]
    result = _run("-m", "landscape", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    if command[0] == "lgc":
        assert "(1 run(s) x 1 panel(s), 64 points)" in result.stdout
    if command[0] == "report":
        import json

        report = json.loads((tmp_path / "report.json").read_text())
        assert [v["network"] for v in report["verdicts"]] == ["clf"]


def test_explore_runs_takes_a_classifier_run(classifier_run, tmp_path):
    result = _run(str(REPO / "examples" / "explore_runs.py"), str(classifier_run), "--out-dir", str(tmp_path),
                  cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("stage_summary.png", "grad_norm_by_stage.png", "loss_hist.png", "lgc.png"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_a_gan_and_a_classifier_together_are_one_sentence(classifier_run, tmp_path):
    from landscape.runfile import GAN_FIELDS
    from landscape.writer import RunWriter

    gan = tmp_path / "gan.h5"
    with RunWriter(gan, {"arch": "vanilla"}, GAN_FIELDS) as w:
        for i in range(20):
            w.log(i, **{name: 1.0 + i for name in GAN_FIELDS})
    result = _run("-m", "landscape", "lgc", str(gan), str(classifier_run), "--out", str(tmp_path / "both.png"),
                  cwd=tmp_path)
    assert result.returncode == 2 and "record no network in common" in result.stderr, result.stderr
    assert "gan: g, d, d_real, d_fake; classifier: clf" in result.stderr
