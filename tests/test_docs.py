"""Every example in README.md runs: its `landscape` command lines and its Python blocks, in order.

Training commands get a few extra options so that they finish in seconds (appended,
so they override: `--max-iters 3 --subset 256 --batch-size 64 --hessian-every 0
--device cpu --quality-samples 1000`; a classifier is trained for one epoch on 2,000
images into the run folder); synopsis lines lose their `[optional ...]` parts; the quick
start's commands run exactly as written. Everything runs in one temporary folder, so later
examples find the files earlier ones wrote (`runs/x.h5`), as a reader's would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: The README's commands record on all three datasets (and measure their sample quality).
pytestmark = pytest.mark.needs_data("mnist", "fashion-mnist", "cifar10")

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
FAST_RECORD = ["--max-iters", "3", "--subset", "256", "--batch-size", "64", "--hessian-every", "0", "--device", "cpu",
               "--quality-samples", "1000"]
#: A classifier trained by a README line: a small budget, into the run folder (the suite's cache keeps its own).
FAST_CLASSIFIER = ["--epochs", "1", "--subset", "2000", "--out", "runs/readme-classifier.h5"]
#: What a README `landscape sweep SPEC` line runs instead of its spec: the spec's factor, two values, a few iterations.
FAST_SWEEP_SPEC = """[base]
arch = "vanilla"
dataset = "mnist"
max_iters = 3
subset = 256
batch_size = 64
hessian_every = 0
quality_every = 0
device = "cpu"

[grid]
optimizer = ["sgd", "adam"]
"""


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def commands() -> list[str]:
    """Every `landscape ...` line of the bash blocks after the quick start, comments and [optional parts] removed."""
    lines = []
    for block in blocks("bash")[2:]:
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith("landscape "):
                line = re.sub(r"\s*\[[^\]]*\]", "", line)  # synopsis: drop the optional parts
                if line.startswith("landscape record"):
                    line += " " + " ".join(FAST_RECORD)
                elif line.startswith("landscape classifier train"):
                    line += " " + " ".join(FAST_CLASSIFIER)
                lines.append(line)
    return lines


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "COLUMNS": "200",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=cwd, env=env, timeout=900)


@pytest.fixture(scope="module")
def readme_dir(tmp_path_factory, shared_data) -> Path:
    """A folder where the quick start has run exactly as written (its `landscape` commands)."""
    if shutil.which("landscape", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("the landscape console script is not installed next to this Python")
    quick = blocks("bash")[0].strip()
    landscape_part = quick[quick.index("landscape "):]
    cwd = tmp_path_factory.mktemp("readme")
    result = shell(landscape_part, cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("quickstart.h5", "quickstart-lgc.png", "quickstart-timeline.png"):
        assert (cwd / "runs" / name).stat().st_size > 0
    return cwd


def test_the_quick_start_records_936_iterations_with_hessians(readme_dir):
    from landscape import open_run

    run = open_run(readme_dir / "runs" / "quickstart.h5")
    assert run.status == "finished" and run.n_iterations == 936
    assert sorted(set(run.hessian()["step"])) == run.checkpoint_steps


def test_the_test_command_is_what_ci_runs():
    test_line = blocks("bash")[1].strip()
    assert test_line.endswith("&& python -m pytest")
    assert "python -m pytest" in (REPO / ".ci" / "run").read_text()


def test_every_command_line_runs(readme_dir):
    found = commands()
    assert len(found) >= 14, found  # data, record, info, lgc, hessian, report, export
    for command in found:
        if " run.h5" in command or "a.h5" in command:
            shutil.copy(readme_dir / "runs" / "x.h5", readme_dir / "run.h5")
        if command.startswith("landscape sweep "):
            spec = readme_dir / command.split()[2]
            spec.parent.mkdir(parents=True, exist_ok=True)
            spec.write_text(FAST_SWEEP_SPEC)
        result = shell(command, readme_dir)
        assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"


def test_every_python_block_runs(readme_dir):
    import torch

    for name in ("a.h5", "b.h5", "run.h5", "runs/x.h5"):
        if not (readme_dir / name).exists():  # written by the command lines' test when it ran first
            shutil.copy(readme_dir / "runs" / "quickstart.h5", readme_dir / name)
    namespace = {"n_steps": 3, "epoch": 0, "loss": torch.tensor(0.5, requires_grad=True) * 1, "norm": 1.0, "acc": 0.9}
    cwd = os.getcwd()
    os.chdir(readme_dir)
    try:
        for block in blocks("python"):
            # the training example runs 20 iterations, not 2 epochs, and on the CPU
            block = block.replace('epochs=2)', 'epochs=2, max_iters=20, subset=2560, device="cpu")')
            exec(compile(block, "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
        import matplotlib.pyplot as plt

        plt.close("all")
    assert namespace["summary"].status == "finished" and namespace["summary"].iterations == 20
    assert (readme_dir / "lgc.png").stat().st_size > 0 and (readme_dir / "timeline.png").stat().st_size > 0
