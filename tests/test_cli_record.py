"""`landscape record` end to end on the shared datasets: files, messages, errors, Ctrl-C, divergence."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from landscape import open_run
from landscape.cli import app

runner = CliRunner()


def _landscape(*args: str, cwd=None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "landscape", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout
    )


def _assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("arch", ["vanilla", "dcgan"])
@pytest.mark.parametrize("data", ["mnist", "fashion-mnist", "cifar10"])
def test_record_each_arch_and_dataset(tmp_path, shared_data, arch: str, data: str) -> None:
    out = tmp_path / f"{arch}-{data}.h5"
    small = ["--batch-size", "16", "--subset", "48"] if arch == "dcgan" else ["--batch-size", "64", "--subset", "192"]
    args = ["record", "--arch", arch, "--data", data, "--data-dir", str(shared_data), "--device", "cpu"]
    args += ["--hessian-every", "0"]
    result = runner.invoke(app, [*args, *small, "--max-iters", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output and f"landscape lgc {out}" in result.output
    run = open_run(out)
    assert run.status == "finished" and len(run.metrics) == 2
    assert run.config["arch"] == arch and run.config["dataset"] == data and run.config["device"] == "cpu"
    assert np.isfinite(run.metrics["g_loss"]).all()
    c, h, w = (3, 32, 32) if data == "cifar10" else (1, 28, 28)
    assert run.probe()[0].shape[1:] == (c, h, w)
    assert run.sample(1).shape[-1] == c
    assert run.checkpoint_steps == [0, 1, 2]
    assert run.meta("networks")["d"]["params"] > 0


def test_default_out_path_and_refusal_to_overwrite(tmp_path, shared_data, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["record", "--arch", "vanilla", "--data", "mnist", "--data-dir", str(shared_data)]
    args += ["--subset", "256", "--max-iters", "2", "--device", "cpu", "--seed", "7", "--hessian-every", "0"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    path = tmp_path / "runs" / "vanilla-mnist-7.h5"
    assert path.exists() and "landscape lgc runs/vanilla-mnist-7.h5 --out runs/vanilla-mnist-7-lgc.png" in first.output
    again = _landscape(*args, cwd=tmp_path)  # the error path goes through main(): a real process
    _assert_one_line_error(again, "already exists", "--force")
    assert len(open_run(path).metrics) == 2  # untouched
    forced = runner.invoke(app, [*args, "--max-iters", "1", "--force"])
    assert forced.exit_code == 0, forced.output
    assert len(open_run(path).metrics) == 1


@pytest.mark.parametrize(
    ("option", "words"),
    [
        (["--arch", "resnet"], ["resnet", "vanilla"]),
        (["--data", "imagenet"], ["imagenet", "mnist"]),
        (["--optimizer", "adagrad"], ["adagrad", "sgd-momentum"]),
        (["--batch-size", "0"], ["--batch-size"]),  # the config's sentence, with the flag for the setting
        (["--lr-d", "-1"], ["--lr-d"]),
        (["--device", "tpu"], ["tpu"]),
        (["--subset", "10"], ["--subset"]),
        (["--hessian-every", "-1"], ["--hessian-every"]),
        (["--loss", "wasserstein"], ["wasserstein", "wgan"]),
        (["--clip", "0.1"], ["--clip", "--loss wgan"]),
        (["--gp-weight", "5", "--loss", "wgan"], ["--gp-weight", "--loss wgan-gp"]),
        (["--loss", "hinge", "--smooth-real", "0.8", "1.1"], ["--smooth-real", "--loss hinge"]),
        (["--smooth-fake", "0.3", "0.0"], ["--smooth-fake", "LOW <= HIGH"]),
        (["--smooth-real", "-0.5", "0.2"], ["--smooth-real", ">= 0", "-0.5"]),  # negative BCE targets
        (["--unroll", "3", "--d-steps", "2"], ["--unroll", "--d-steps"]),
        (["--d-steps", "0"], ["--d-steps"]),
        (["--arch", "mlp"], ["--arch mlp", "--data mnist"]),
        (["--data", "ring8", "--arch", "mlp", "--conditional"], ["--conditional", "ring8"]),
    ],
)
def test_unknown_names_and_impossible_values(tmp_path, option: list[str], words: list[str]) -> None:
    base = {"--arch": "vanilla", "--data": "mnist"}
    rest = option
    if option[0] in base:
        base[option[0]] = option[1]
        rest = option[2:]
    args = [x for kv in base.items() for x in kv] + rest  # a later repeat of a flag wins
    result = _landscape("record", *args, "--out", str(tmp_path / "r.h5"))
    _assert_one_line_error(result, *words)
    assert not (tmp_path / "r.h5").exists()


@pytest.mark.parametrize("loss, default_lr_d", [("ns", 1e-3), ("wgan-gp", 1e-4)])
def test_lr_g_alone_leaves_lr_d_at_its_default_from_cli_library_and_sweep(tmp_path, shared_data, loss: str,
                                                                          default_lr_d: float) -> None:
    """One rule (landscape.config.TrainConfig): an unset lr_d takes the table default, never lr_g's value."""
    from landscape.config import TrainConfig
    from landscape.sweeps.spec import parse_spec

    settings = {"arch": "vanilla", "dataset": "mnist", "loss": loss, "lr_g": 0.02}
    library = TrainConfig(**settings)
    sweep = parse_spec({"base": settings, "runs": [{"name": "only"}]}).runs[0].config
    out = tmp_path / "r.h5"
    args = ["record", "--arch", "vanilla", "--data", "mnist", "--loss", loss, "--lr-g", "0.02", "--device", "cpu"]
    args += ["--data-dir", str(shared_data), "--subset", "256", "--max-iters", "1", "--hessian-every", "0"]
    result = runner.invoke(app, [*args, "--quality-every", "0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    stored = open_run(out).config
    assert library.lr_d == sweep.lr_d == stored["lr_d"] == default_lr_d
    assert library.lr_g == sweep.lr_g == stored["lr_g"] == 0.02


def test_record_options_are_the_config_settings_with_the_config_defaults() -> None:
    """One place owns each setting: the flags come from the options, the defaults from TrainConfig's tables."""
    import dataclasses

    import typer.main

    from landscape.cli.record import SETTING_FLAGS
    from landscape.config import TrainConfig, describe_default

    command = typer.main.get_command(app).commands["record"]
    params = {max(p.opts, key=len): p for p in command.params if p.opts}
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    assert {"lr_g", "lr_d", "batch_size", "resume_every", "layer_norms"} <= set(SETTING_FLAGS)
    for setting, flag in SETTING_FLAGS.items():
        assert flag in params, flag
        default = params[flag].default
        if setting in ("arch", "dataset"):  # required on the command line
            continue
        assert default == defaults[setting] or (default in (None, ()) and defaults[setting] is None), setting
    for setting in ("lr_g", "lr_d", "batch_size", "optimizer", "d_steps", "clip", "gp_weight"):
        assert f"(default: {describe_default(setting)}" in params[SETTING_FLAGS[setting]].help


def test_batch_larger_than_the_dataset_is_one_sentence(tmp_path, shared_data) -> None:
    args = ["--arch", "vanilla", "--data", "mnist", "--batch-size", "100000", "--data-dir", str(shared_data)]
    result = _landscape("record", *args, "--out", str(tmp_path / "r.h5"))
    _assert_one_line_error(result, "batch_size 100000", "60000")
    assert not (tmp_path / "r.h5").exists()


def test_missing_data_is_one_sentence(tmp_path) -> None:
    args = ["--arch", "vanilla", "--data", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "r.h5")]
    result = _landscape("record", *args)
    _assert_one_line_error(result)


def test_divergence_ends_with_status_diverged(tmp_path, shared_data) -> None:
    out = tmp_path / "r.h5"
    args = ["--optimizer", "sgd", "--lr-g", "1e30", "--lr-d", "1e30", "--subset", "512", "--device", "cpu"]
    args += ["--hessian-every", "0"]
    args += ["--data-dir", str(shared_data), "--out", str(out)]
    result = runner.invoke(app, ["record", "--arch", "vanilla", "--data", "mnist", *args])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Diverged: training diverged") and last.endswith(str(out))
    run = open_run(out)
    assert run.status == "diverged" and len(run.metrics) >= 2
    assert np.isfinite(run.metrics["d_loss"].iloc[0]) and not np.isfinite(run.metrics["d_loss"].iloc[-1])


def test_ctrl_c_keeps_every_recorded_row(tmp_path, shared_data) -> None:
    out = tmp_path / "r.h5"
    cmd = [sys.executable, "-m", "landscape", "record", "--arch", "vanilla", "--data", "mnist"]
    cmd += ["--data-dir", str(shared_data), "--subset", "1024", "--batch-size", "32", "--device", "cpu"]
    cmd += ["--hessian-every", "0"]
    cmd += ["--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        seen = 0
        deadline = time.monotonic() + 90
        while seen < 5 and time.monotonic() < deadline:  # the writer flushes about once a second
            time.sleep(0.5)
            if out.exists():
                try:
                    seen = len(open_run(out).metrics)
                except Exception:  # the file is being created
                    seen = 0
        assert seen >= 5, "the run did not record any rows in time"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "Interrupted" in stdout
    run = open_run(out)
    assert run.status == "interrupted"
    m = run.metrics
    assert len(m) >= seen and list(m["step"]) == list(range(len(m)))
    assert np.isfinite(m["g_loss"]).all()


def test_dcgan_on_cpu_skips_default_hessians_and_says_so(tmp_path, shared_data) -> None:
    out = tmp_path / "dcgan.h5"
    args = ["record", "--arch", "dcgan", "--data", "mnist", "--data-dir", str(shared_data), "--device", "cpu"]
    result = runner.invoke(app, [*args, "--batch-size", "16", "--subset", "48", "--max-iters", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "no Hessian estimates during a DCGAN run on a CPU" in result.output
    assert "--hessian-every" in result.output and "hessian_every" not in result.output  # the flag the user types
    run = open_run(out)
    assert run.config["hessian_every"] == 0 and run.hessian().empty


def test_progress_in_a_log_is_plain_periodic_lines(tmp_path, shared_data) -> None:
    """stdout is a pipe (nohup, SLURM, CI): a line every --log-every seconds, and the end never cut short."""
    out = tmp_path / "a-rather-long-run-file-name-that-a-terminal-bar-would-have-to-cut.h5"
    args = ["--arch", "vanilla", "--data", "mnist", "--data-dir", str(shared_data), "--device", "cpu", "--subset", "1024",
            "--batch-size", "32", "--max-iters", "800", "--hessian-every", "0", "--log-every", "0.5", "--out", str(out)]
    result = _landscape("record", *args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    progress = [line for line in lines if line.startswith("vanilla mnist: step ")]
    assert len(progress) >= 3, result.stdout  # the start, at least one on the way, the end
    assert progress[0].startswith("vanilla mnist: step 0/800 (0%)")
    assert progress[-1].startswith("vanilla mnist: step 800/800 (100%), ") and " it/s on 1 CPU thread, eta 0:00:00, g " in progress[-1]
    assert sum(line.startswith("vanilla mnist: step 800/800") for line in lines) == 1  # the end, once
    assert lines[-2] == f"Recorded 800 iterations into {out}"
    assert "…" not in result.stdout and "\x1b" not in result.stdout  # no truncation, no terminal codes


def test_training_speed_leaves_out_time_in_hessian_estimates(tmp_path, shared_data, one_torch_thread) -> None:
    """Measurements that take 0.3 s at each of 5 Hessian steps and 0.1 s at each of 2 quality steps do not slow
    the reported iterations/s, and each kind's time is counted apart."""
    from landscape.config import TrainConfig
    from landscape.data import load_dataset
    from landscape.measurements import Measurement
    from landscape.writer import RunWriter
    from trainers.loop import GANTrainer

    class Sleep(Measurement):
        def __init__(self, kind, seconds):
            self.kind, self.seconds = kind, seconds

        def __call__(self, trainer):
            time.sleep(self.seconds)
            return []

    config = TrainConfig(subset=512, batch_size=32, max_iters=40, hessian_every=10, quality_every=20, device="cpu",
                         data_dir=str(shared_data))
    images = load_dataset("mnist", root=shared_data).images
    trainer = GANTrainer(config, images, measurements=[Sleep("hessian", 0.3), Sleep("quality", 0.1)])
    with RunWriter(tmp_path / "r.h5", trainer.config.to_dict()) as writer:
        trainer.start_recording(writer)  # the step-0 estimate
        before, start = trainer.measuring_seconds, time.monotonic()
        trainer.run()
        wall = time.monotonic() - start
    spent = trainer.measurement_seconds
    assert spent["hessian"] >= 1.5 and spent["quality"] >= 0.2  # Hessian steps 0, 10, 20, 30, 40; quality 20, 40
    assert trainer.measuring_seconds - before >= 1.4
    # the speed of training alone (however fast this machine is right now), not iterations / wall time
    assert trainer.training_rate() == pytest.approx(40 / (wall - (trainer.measuring_seconds - before)), rel=0.05)
    assert trainer.training_rate() > 40 / wall


def test_without_a_data_root_the_missing_dataset_is_named_before_any_classifier(tmp_path) -> None:
    """Issue 23: with no data root and no cached classifier, `--data fashion-mnist` complained about the classifier."""
    env = {k: v for k, v in os.environ.items() if k != "LANDSCAPE_DATA"}
    env.update(OMP_NUM_THREADS="1", COLUMNS="200", LANDSCAPE_CACHE=str(tmp_path / "empty-cache"))
    result = subprocess.run([sys.executable, "-m", "landscape", "record", "--arch", "vanilla", "--data", "fashion-mnist",
                             "--out", str(tmp_path / "r.h5")], capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=120)
    _assert_one_line_error(result, "Fashion-MNIST was not found", "landscape data fetch fashion-mnist")
    assert "classifier" not in result.stderr and not (tmp_path / "r.h5").exists()


def test_first_use_classifier_training_shows_progress_lines_and_how_to_skip_it(tmp_path, shared_data,
                                                                               monkeypatch) -> None:
    """Issue 23: the first run on a dataset printed one note, then nothing for minutes while its classifier trained
    (stdout not a terminal). Now: the note says how to skip it, then plain progress lines like training's."""
    import analysis.quality.classifiers as classifiers
    import analysis.quality.shipped as shipped

    monkeypatch.setenv("LANDSCAPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(shipped, "SHIPPED", {})  # a dataset without a shipped classifier (issue 27) trains one
    real_train = classifiers.train_reference
    monkeypatch.setattr(classifiers, "train_reference",
                        lambda dataset, **kw: real_train(dataset, epochs=1, subset=640, **kw))  # 10 batches
    args = ["record", "--arch", "vanilla", "--data", "mnist", "--data-dir", str(shared_data), "--device", "cpu",
            "--subset", "256", "--batch-size", "64", "--max-iters", "2", "--hessian-every", "0",
            "--out", str(tmp_path / "r.h5")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    note = next(line for line in lines if line.startswith("Note: Training the mnist classifier"))
    assert "--quality-every 0" in note
    progress = [line for line in lines if line.startswith("Training the mnist classifier: batch ")]
    assert progress and re.match(r"Training the mnist classifier: batch (\d+)/\1 \(100%\), [\d.]+ batches/s, eta 0:00:00$",
                                 progress[-1]), result.output
    assert lines.index(note) < lines.index(progress[0])


def test_a_run_that_takes_hours_here_says_so_once_with_the_options(tmp_path, shared_data) -> None:
    """Issue 23: `landscape record --arch dcgan --data cifar10` on a CPU only showed "eta 35:36:26". After a few
    seconds of training, one note says what the run costs here and how to make it cheaper; then Ctrl-C."""
    out = tmp_path / "long.h5"
    args = ["record", "--arch", "vanilla", "--data", "mnist", "--data-dir", str(shared_data), "--device", "cpu",
            "--epochs", "10000", "--quality-every", "0", "--hessian-every", "0", "--log-every", "1", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "landscape", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    lines, deadline = [], time.monotonic() + 180
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Note: this run is") or time.monotonic() > deadline:
                break
        time.sleep(2)  # a few more progress lines: the note must not come again
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    lines += rest.splitlines()
    notes = [line for line in lines if line.startswith("Note: this run is")]
    assert len(notes) == 1, "\n".join(lines)
    note = notes[0]
    assert note.startswith("Note: this run is 4,680,000 iterations; at ") and " it/s on this CPU that is about " in note
    assert "a GPU (--device cuda)" in note and "--max-iters N" in note


def test_the_cost_sentence_only_for_long_runs_and_only_the_options_that_apply() -> None:
    from types import SimpleNamespace

    from landscape.cli.cost import cost_sentence

    cpu = SimpleNamespace(device="cpu", precision="fp32")
    assert cost_sentence(cpu, 39_000, 0, 100.0) is None  # 6.5 minutes: nothing to say
    note = cost_sentence(cpu, 39_000, 0, 0.304)
    assert note.startswith("Note: this run is 39,000 iterations; at 0.304 it/s on this CPU that is about 36 hours.")
    gpu = cost_sentence(SimpleNamespace(device="cuda:0", precision="bf16"), 39_000, 1_010, 0.5, started_at=1_000)
    assert "38,000 still to go" in gpu and "--device cuda" not in gpu and "--precision" not in gpu
    assert gpu.endswith("Options: --max-iters N to stop after N iterations.")
