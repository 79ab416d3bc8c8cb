"""Every example in README.md and in the documentation pages (docs/) runs, page by page, in order.

Which blocks run (the rule the pages are written to):

- in a fenced ``bash`` block, every line that starts with ``landscape `` runs; its other lines
  (``pip install``, ``python examples/...``, ``bash ...``) do not: they install packages or run for
  minutes to hours, and the example scripts have their own tests (test_examples.py,
  test_reproduce_moses2021.py);
- every fenced ``python`` block runs, in one namespace per page;
- blocks fenced as anything else (``text``, ``console``, ``toml``, none) are shown only, and so is any
  block right after a line ``<!-- no-run ... -->``;
- README.md's first two ``bash`` blocks are the quick start, which the module's folder is made by
  (run exactly as written), and the test command, which is checked against what CI runs.

So that they finish in seconds: ``landscape record`` lines get `--max-iters 3 --subset 256
--batch-size 64 --hessian-every 0 --device cpu --quality-samples 1000` appended (appended, so they
override); ``landscape classifier train`` one epoch on 2,000 images into the run folder; synopsis
lines lose their ``[optional ...]`` parts; a ``landscape sweep SPEC`` line runs a two-run spec of 3
iterations instead of SPEC; the Python training example runs 20 iterations on the CPU.

The pages run in README.md's order and then the site's (mkdocs.yml's ``nav``), all in one temporary
folder, so later examples find the files earlier ones wrote (``runs/x.h5``), as a reader's would; a
page run on its own (``-k lgc``) finds the quick start's run copied to the files the pages read.

That the site builds (``mkdocs build --strict``: broken links, anchors and API references fail) is
checked by CI (.ci/run), not here: the suite does not need the ``docs`` extra.
"""

from __future__ import annotations

import filecmp
import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
FAST_RECORD = ["--max-iters", "3", "--subset", "256", "--batch-size", "64", "--hessian-every", "0", "--device", "cpu",
               "--quality-samples", "1000"]
#: A classifier trained by a docs line: a small budget, into the run folder (the suite's cache keeps its own).
FAST_CLASSIFIER = ["--epochs", "1", "--subset", "2000", "--out", "runs/readme-classifier.h5"]
#: What a `landscape sweep SPEC` line runs instead of its spec: the spec's factor, two values, a few iterations.
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
#: Files the pages read that an earlier page writes; a page run alone gets the quick start's run there.
PAGE_INPUTS = ("a.h5", "b.h5", "run.h5", "runs/x.h5")
#: Figures of examples/ that the docs show from a copy in docs/img/ (a page can only show files under docs/).
FIGURE_COPIES = {
    "docs/img/moses2021-quality-timeline.png": "examples/moses2021/quality_timeline.png",
    "docs/img/optimizers-lgc-grid.png": "examples/optimizers/lgc_grid.png",
    "docs/img/game-mixture1d.png": "examples/game_mixture/spectrum.png",
}
NO_RUN = re.compile(r"<!--\s*no-run\b[^>]*-->\s*$")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", flags=re.S | re.M)


def doc_pages() -> list[str]:
    """README.md, then every page of mkdocs.yml's nav in order (read without YAML: the suite needs no mkdocs)."""
    nav = (REPO / "mkdocs.yml").read_text().split("\nnav:", 1)[1]
    return ["README.md"] + ["docs/" + page for page in re.findall(r"([\w/.-]+\.md)\s*$", nav, flags=re.M)]


def fenced_blocks(text: str) -> list[tuple[str, str, bool]]:
    """(language, code, marked no-run) for every fenced block of a page, in order."""
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        found.append((match.group(1), match.group(2), bool(NO_RUN.match(before.strip()))))
    return found


def runnable(page: str) -> list[tuple[str, str]]:
    """("command", line) and ("python", block) items of a page that are meant to run, in order."""
    blocks = [(lang, code) for lang, code, no_run in fenced_blocks((REPO / page).read_text()) if not no_run]
    if page == "README.md":  # the quick start (the fixture runs it) and the test command
        bash = [i for i, (lang, _) in enumerate(blocks) if lang == "bash"][:2]
        blocks = [block for i, block in enumerate(blocks) if i not in bash]
    items = []
    for lang, code in blocks:
        if lang == "python":
            items.append(("python", code))
        elif lang == "bash":
            for line in code.splitlines():
                line = re.sub(r"\s+#.*$", "", line).strip()
                if line.startswith("landscape "):
                    items.append(("command", fast(line)))
    return items


def fast(line: str) -> str:
    """A `landscape` line as the test runs it: synopsis options dropped, small budgets appended."""
    line = re.sub(r"\s*\[[^\]]*\]", "", line)  # synopsis: drop the optional parts
    if line.startswith("landscape record") and "--resume" not in line:
        line += " " + " ".join(FAST_RECORD)
    elif line.startswith("landscape classifier train"):
        line += " " + " ".join(FAST_CLASSIFIER)
    return line


def readme_bash_blocks() -> list[str]:
    return [code for lang, code, _ in fenced_blocks(README) if lang == "bash"]


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "COLUMNS": "200",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=cwd, env=env, timeout=900)


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory, shared_data) -> Path:
    """A folder where README.md's quick start has run exactly as written (its `landscape` commands)."""
    if shutil.which("landscape", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("the landscape console script is not installed next to this Python")
    quick = readme_bash_blocks()[0].strip()
    landscape_part = quick[quick.index("landscape "):]
    cwd = tmp_path_factory.mktemp("docs")
    result = shell(landscape_part, cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("quickstart.h5", "quickstart-lgc.png", "quickstart-timeline.png", "quickstart-samples.png"):
        assert (cwd / "runs" / name).stat().st_size > 0
    return cwd


@pytest.mark.needs_data("mnist")
def test_the_quick_start_records_2340_iterations_with_hessians(docs_dir):
    from landscape import open_run

    run = open_run(docs_dir / "runs" / "quickstart.h5")
    assert run.status == "finished" and run.n_iterations == 2340
    assert sorted(set(run.hessian()["step"])) == run.checkpoint_steps


@pytest.mark.needs_data("mnist")
def test_the_quick_start_ends_with_a_generator_that_draws_every_digit(docs_dir):
    """README promises digits of all ten classes from epoch 2 on, not the grey noise of one class."""
    from landscape import open_run

    quality = open_run(docs_dir / "runs" / "quickstart.h5").quality
    wide = quality.pivot_table(index="epoch", columns="metric", values="value")
    assert list(wide.index) == [1, 2, 4, 5]
    last = wide.loc[5]
    assert last["classes_covered"] == 10 and last["inception_score"] > 2.5 and last["class_kl"] < 0.5, wide


def test_the_test_command_is_what_ci_runs():
    test_line = readme_bash_blocks()[1].strip()
    assert test_line.endswith("&& python -m pytest")
    assert "python -m pytest" in (REPO / ".ci" / "run").read_text()


def test_every_page_is_in_the_nav_and_has_examples_to_run():
    pages = doc_pages()
    on_disk = {str(p.relative_to(REPO)) for p in (REPO / "docs").rglob("*.md")}
    assert on_disk == set(pages[1:]), "every docs/ page is in mkdocs.yml's nav, and every nav entry exists"
    commands = [item for page in pages for kind, item in runnable(page) if kind == "command"]
    assert len(commands) >= 30, commands  # data, record, info, lgc, hessian, report, quality, export, sweep ...
    assert sum(kind == "python" for page in pages for kind, _ in runnable(page)) >= 8


def test_figure_copies_match_the_examples():
    for copy, original in FIGURE_COPIES.items():
        assert filecmp.cmp(REPO / copy, REPO / original, shallow=False), f"{copy} differs from {original}; copy it again"


@pytest.mark.parametrize("package", ["landscape", "trainers", "analysis"])
def test_the_api_reference_lists_every_public_name(package):
    module = importlib.import_module(package)
    reference = (REPO / "docs" / "api" / f"{package}.md").read_text()
    for name in module.__all__:
        if name.startswith("__"):
            continue
        assert getattr(module, name) is not None
        assert re.search(rf"\b{re.escape(name)}\b", reference), f"docs/api/{package}.md does not list {name}"


@pytest.mark.needs_data("mnist", "fashion-mnist", "cifar10")  # the pages record on all three (and measure quality)
@pytest.mark.parametrize("page", doc_pages())
def test_every_example_of_the_page_runs(page, docs_dir):
    import torch

    items = runnable(page)
    text = "\n".join(item for _, item in items)
    written = set(re.findall(r"--out (\S+\.h5)", text))
    for name in PAGE_INPUTS:  # what the page reads but an earlier page writes (a page run on its own)
        reads = re.search(rf"(?<![\w/.-]){re.escape(name)}\b", text)
        if reads and name not in written and not (docs_dir / name).exists():
            shutil.copy(docs_dir / "runs" / "quickstart.h5", docs_dir / name)
    namespace = {"n_steps": 3, "epoch": 0, "loss": torch.tensor(0.5, requires_grad=True) * 1, "norm": 1.0, "acc": 0.9}
    cwd = os.getcwd()
    try:
        for kind, item in items:
            if kind == "command":
                if " run.h5" in item or "a.h5" in item:
                    shutil.copy(docs_dir / "runs" / "x.h5", docs_dir / "run.h5")
                if item.startswith("landscape sweep "):
                    spec = docs_dir / item.split()[2]
                    spec.parent.mkdir(parents=True, exist_ok=True)
                    spec.write_text(FAST_SWEEP_SPEC)
                result = shell(item, docs_dir)
                assert result.returncode == 0, f"{page}: {item}\n{result.stdout}{result.stderr}"
            else:
                # the training example runs 20 iterations, not 2 epochs, and on the CPU
                item = item.replace('epochs=2)', 'epochs=2, max_iters=20, subset=2560, device="cpu")')
                os.chdir(docs_dir)
                try:
                    exec(compile(item, page, "exec"), namespace)
                finally:
                    os.chdir(cwd)
    finally:
        import matplotlib.pyplot as plt

        plt.close("all")
    if page == "docs/recording.md":
        assert namespace["summary"].status == "finished" and namespace["summary"].iterations == 20
    if page == "docs/analysis.md":
        assert (docs_dir / "lgc.png").stat().st_size > 0 and (docs_dir / "timeline.png").stat().st_size > 0
