"""A writer killed with SIGKILL at any moment leaves a readable run with every flushed row."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from landscape import open_run

# The child logs rows as fast as it can, flushing every 50 rows, and reports on stdout
# how many rows are on disk after each flush returns.
CHILD = r"""
import sys
from landscape.writer import RunWriter
w = RunWriter(sys.argv[1], {"arch": "vanilla"}, flush_rows=50, flush_seconds=0.05)
w.set_meta("networks", {"g": {"params": 1}})
print("ready", flush=True)
i = 0
while True:
    w.log(i, epoch=i // 1000, g_loss=float(i), d_loss=-float(i))
    i += 1
    if i % 50 == 0:
        print(i, flush=True)
    if i % 2000 == 0:
        w.add_checkpoint(i, {"g": {"w": [float(i)] * 1000}})
"""


def _kill_once(path, delay: float) -> int:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    out, _ = child.communicate()
    reported = [int(line) for line in out.split()]
    return reported[-1] if reported else 0


def _check_kills(tmp_path, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    for k in range(kills):
        path = tmp_path / f"killed-{k}.h5"
        flushed = _kill_once(path, rng.uniform(0.0, 0.4))
        run = open_run(path)  # must open, whatever moment the kill hit
        assert run.status == "incomplete" and not run.writer_alive
        n = run.n_iterations
        assert n >= flushed, f"kill {k}: {flushed} rows were flushed but only {n} read back"
        np.testing.assert_array_equal(run.metrics["step"], np.arange(n))
        np.testing.assert_array_equal(run.metrics["g_loss"], np.arange(n, dtype=np.float32))
        for step in run.checkpoint_steps:
            assert len(run.checkpoint(step, "g")["w"]) == 1000
        if k % 4:
            continue
        result = subprocess.run(
            [sys.executable, "-m", "landscape", "info", str(path)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr


def test_sigkill_at_random_moments_leaves_readable_runs(tmp_path):
    _check_kills(tmp_path, kills=12, seed=1)


@pytest.mark.slow
def test_sigkill_many_times(tmp_path):
    _check_kills(tmp_path, kills=100, seed=2)
