"""`landscape info` and the CLI's error contract: one sentence, non-zero exit, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import torch

from landscape import open_run
from landscape.runfile import GAN_FIELDS
from landscape.writer import RunWriter


def landscape(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "landscape", *args], capture_output=True, text=True, timeout=120)


def test_info_shows_config_status_fields_and_groups(tmp_path):
    path = tmp_path / "r.h5"
    with RunWriter(path, {"arch": "vanilla", "dataset": "mnist"}, GAN_FIELDS) as w:
        w.set_meta("networks", {"g": {"params": 81184, "summary": "Linear(20->100)"}})
        for i in range(30):
            w.log(i, epoch=i // 10, g_loss=1.0)
        w.add_checkpoint(29, {"g": {"w": torch.zeros(2)}})
    result = landscape("info", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ["status: finished", "iterations: 30", "vanilla", "mnist", "81,184", "d_grad_norm_real", "checkpoints: 29", "samples (epochs): none"]:
        assert expected in out, expected


def test_info_lists_every_measurement_kind_the_run_holds(tmp_path):
    from landscape.measurements import Record

    path = tmp_path / "r.h5"
    with RunWriter(path, {"arch": "vanilla", "dataset": "mnist"}, GAN_FIELDS) as w:
        for i in range(3):
            w.log(i, epoch=0, g_loss=1.0)
        for step in (0, 2):
            w.add_measurement("game", Record(step, {"label": "rotational"}))
        w.add_measurement("walk", Record(2, {"walks": 2}, {"loss": torch.zeros(2, 3)}, network="g"))
        w.add_measurement("my-kind", Record(1, {"x": 1.0}))
    out = landscape("info", str(path)).stdout
    assert "game Jacobian estimates: 0, 2" in out and "gradient walks: g@2" in out
    assert "my-kind measurements: 1" in out and "hessian estimates: none" in out


def test_info_on_a_run_being_written(tmp_path):
    path = tmp_path / "live.h5"
    w = RunWriter(path, {"arch": "dcgan"}, flush_rows=5)
    for i in range(12):
        w.log(i, g_loss=1.0)
    result = landscape("info", str(path))
    w.close()
    assert result.returncode == 0, result.stderr
    assert "status: running" in result.stdout and "iterations: 10" in result.stdout


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "No such run file"),
        (lambda p: p.write_bytes(b"\x00" * 100), "not an HDF5 file"),
        (lambda p: h5py.File(p, "w").close(), "not a landscape run file"),
    ],
)
def test_info_errors_are_one_sentence(tmp_path, make, message):
    path = tmp_path / "x.h5"
    make(path)
    result = landscape("info", str(path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_is_fast_and_lists_commands():
    result = landscape("--help")
    assert result.returncode == 0
    for command in ["record", "lgc", "hessian", "report", "info", "data"]:
        assert command in result.stdout
    # the CLI must not import torch for --help
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, landscape.cli; print('torch' in sys.modules, 'h5py' in sys.modules)"],
        capture_output=True, text=True,
    )
    assert probe.stdout.split() == ["False", "False"], probe.stdout + probe.stderr


def _gan_rows(writer, n: int) -> None:
    for i in range(n):
        writer.log(i, epoch=0, g_loss=1.0 + (i % 7) / 10, g_grad_norm=2.0 - i / n, d_loss=0.6, d_loss_real=0.3,
                   d_loss_fake=0.3, d_grad_norm=1.0 + (i % 3) / 10, d_grad_norm_real=0.5, d_grad_norm_fake=0.5)


def test_one_status_word_everywhere(tmp_path):
    """finished, interrupted, incomplete (writer killed) and running: Run.status, info, report and lgc agree."""
    import json
    import signal
    import textwrap

    runs = {}
    runs["finished"] = tmp_path / "finished.h5"
    with RunWriter(runs["finished"], {"arch": "vanilla"}) as w:
        _gan_rows(w, 40)
    runs["interrupted"] = tmp_path / "interrupted.h5"
    w = RunWriter(runs["interrupted"], {"arch": "vanilla"})
    _gan_rows(w, 40)
    w.close("interrupted")
    runs["incomplete"] = tmp_path / "killed.h5"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from landscape.writer import RunWriter
        from test_cli_info import _gan_rows
        w = RunWriter({str(runs["incomplete"])!r}, {{"arch": "vanilla"}})
        _gan_rows(w, 40)
        w.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert subprocess.run([sys.executable, "-c", script]).returncode == -signal.SIGKILL
    runs["running"] = tmp_path / "live.h5"
    live = RunWriter(runs["running"], {"arch": "vanilla"})
    _gan_rows(live, 40)
    live.flush()
    try:
        for word, path in runs.items():
            assert open_run(path).status == word
            info = landscape("info", str(path))
            assert f"status: {word}, last recorded step 39" in info.stdout, info.stdout
            report = landscape("report", str(path), "--format", "json")
            assert report.returncode == 0, report.stderr
            assert json.loads(report.stdout)["runs"][0]["status"] == word
            lgc = landscape("lgc", str(path), "--out", str(tmp_path / f"{word}.png"), "-n", "g", "--dpi", "30")
            assert lgc.returncode == 0, lgc.stderr
            if word != "finished":
                assert f"is {word}, last recorded step 39" in report.stderr, report.stderr
                assert f"is {word}, last recorded step 39" in lgc.stdout, lgc.stdout
    finally:
        live.close()


def test_info_piped_does_not_wrap_at_80_columns(tmp_path):
    """Issue 23: piped (no terminal, no $COLUMNS) rich wrapped the networks table and the field list at 80 columns."""
    import os

    path = tmp_path / "r.h5"
    summary = "layer    type             output shape          params\n" + "\n".join(
        f"conv{i}    ConvTranspose2d  (512, 4, 4)      {i * 1_048_576:>12,}" for i in range(1, 4))
    with RunWriter(path, {"arch": "dcgan", "dataset": "cifar10"}, GAN_FIELDS) as w:
        w.set_meta("networks", {"g": {"params": 3_576_704, "summary": summary}})
        w.log(0, g_loss=1.0)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    result = subprocess.run([sys.executable, "-m", "landscape", "info", str(path)], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("fields: ") and line.rstrip().endswith("d_out_fake") for line in lines)
    for row in summary.splitlines():  # every line of the architecture is whole on one output line
        assert any(row in line for line in lines), row
    assert sum("ConvTranspose2d" in line for line in lines) == 3  # no architecture row split over two lines
