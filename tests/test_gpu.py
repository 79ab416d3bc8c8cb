"""The GPU path: record on CUDA for both architectures, then lgc, hessian and report; no per-iteration sync.

Skipped without a CUDA device (CI has none); run on a GPU machine with
``python -m pytest -m gpu tests/test_gpu.py`` (the default ``-m 'not slow'`` selection
includes them too where CUDA exists).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from landscape import open_run
from landscape.config import TrainConfig

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def landscape(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "landscape", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=900)


@pytest.mark.parametrize("arch", ["vanilla", "dcgan"])
def test_record_then_every_analysis_on_cuda(tmp_path, shared_data, arch):
    run_file = tmp_path / f"{arch}.h5"
    record = landscape("record", "--arch", arch, "--data", "mnist", "--device", "cuda", "--data-dir", str(shared_data),
                       "--subset", "2560", "--max-iters", "40", "--out", str(run_file), cwd=tmp_path)
    assert record.returncode == 0, record.stdout + record.stderr
    run = open_run(run_file)
    assert run.status == "finished" and run.n_iterations == 40 and run.config["device"].startswith("cuda")
    assert np.isfinite(run.metrics["g_loss"]).all()
    assert sorted(set(run.hessian()["step"])) == run.checkpoint_steps  # on a GPU even DCGAN gets its estimates
    for args in (["lgc", str(run_file), "--out", str(tmp_path / "lgc.png")],
                 ["hessian", str(run_file), "--steps", "last", "--device", "cuda", "--k", "2"],
                 ["report", str(run_file), "--format", "json"]):
        result = landscape(*args, cwd=tmp_path)
        assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"


@pytest.mark.parametrize("arch", ["vanilla", "dcgan"])
def test_no_host_sync_per_iteration(tmp_path, shared_data, arch):
    """Between the divergence checks (every 100 iterations) and writer flushes, training never waits for the GPU."""
    from landscape.data import load_dataset
    from landscape.runfile import GAN_FIELDS
    from landscape.writer import RunWriter
    from trainers.loop import GANTrainer

    config = TrainConfig(arch=arch, subset=2560, batch_size=64, epochs=100, sample_epochs=(100,), device="cuda",
                         hessian_every=0, data_dir=str(shared_data))  # no sample grid or Hessian inside the window
    trainer = GANTrainer(config, load_dataset("mnist", root=shared_data).images)
    with RunWriter(tmp_path / "r.h5", trainer.config.to_dict(), GAN_FIELDS, flush_rows=4096,
                   flush_seconds=3600) as writer:
        trainer.start_recording(writer)
        trainer.run(until=1)  # warm-up (allocations, cuDNN autotuning)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            trainer.run(until=99)  # the next divergence check is at iteration 100
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert open_run(tmp_path / "r.h5").n_iterations == 99


def test_a_trainer_built_directly_gets_tf32(shared_data):
    """precision tf32 switches TF32 on inside GANTrainer.run, not only inside trainers.record; restored after."""
    from landscape.data import load_dataset
    from trainers.loop import GANTrainer

    config = TrainConfig(subset=256, batch_size=64, epochs=1, device="cuda", precision="tf32", hessian_every=0,
                         quality_every=0, data_dir=str(shared_data))
    trainer = GANTrainer(config, load_dataset("mnist", root=shared_data).images)
    seen = []
    before = torch.backends.cuda.matmul.allow_tf32
    trainer.run(until=2, progress=lambda tr: seen.append(torch.backends.cuda.matmul.allow_tf32))
    assert seen and all(seen) and torch.backends.cuda.matmul.allow_tf32 == before


def test_same_seed_same_run_on_cuda(tmp_path, shared_data):
    """Two vanilla runs with one seed: identical metrics (cuBLAS is deterministic for these products)."""
    from trainers import record

    config = TrainConfig(subset=2560, max_iters=50, device="cuda", hessian_every=0, data_dir=str(shared_data))
    a = record(config, tmp_path / "a.h5")
    b = record(config, tmp_path / "b.h5")
    assert a.status == b.status == "finished"
    ma, mb = open_run(tmp_path / "a.h5").metrics, open_run(tmp_path / "b.h5").metrics
    for field in ("g_loss", "d_loss", "g_grad_norm", "d_grad_norm"):
        np.testing.assert_array_equal(ma[field], mb[field])
