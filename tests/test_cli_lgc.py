"""`landscape lgc`: the three output formats, runs being written or interrupted, and user errors.

Everything runs the real command in a subprocess (``python -m landscape lgc``),
because user errors are turned into one line by ``landscape.cli.main``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from landscape import open_run
from test_lgc import record_short_run, write_run

REPO = Path(__file__).resolve().parents[1]
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-", ".svg": b"<?xml"}


def landscape(*args: str | os.PathLike, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")  # keep rich from wrapping the one-line messages
    return subprocess.run([sys.executable, "-m", "landscape", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or REPO, env=env, timeout=300)


def assert_one_sentence_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    return record_short_run(tmp_path_factory.getbasetemp() / "recorded.h5")


def test_writes_png_pdf_and_svg_by_suffix(recorded, tmp_path):
    """PNG (default name, two runs), PDF (with options) and SVG (with the timeline view) from the real run."""
    other = write_run(tmp_path / "other.h5", 300)
    result = landscape("lgc", recorded, other, "--dpi", "40", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Wrote recorded-lgc.png (2 run(s) x 4 panel(s)" in result.stdout
    png = tmp_path / "recorded-lgc.png"

    pdf = tmp_path / "lgc.pdf"
    result = landscape("lgc", recorded, "-o", pdf, "-n", "g", "-n", "d", "--stages", "3", "--palette", "viridis",
                       "--log-y", "--quantile-range", "0.01", "0.99", "--title", "short run", "--dpi", "60")
    assert result.returncode == 0, result.stderr
    assert "(1 run(s) x 2 panel(s)" in result.stdout

    svg, timeline = tmp_path / "lgc.svg", tmp_path / "time.png"
    result = landscape("lgc", recorded, "--out", svg, "--log-x", "--xlim", "0.1", "5", "--share-y",
                       "--timeline", timeline, "--dpi", "60")
    assert result.returncode == 0, result.stderr
    for path in (png, pdf, svg, timeline):
        assert path.read_bytes().startswith(MAGIC[path.suffix]), path
    assert "<image" in svg.read_text()  # the clouds are rasterized inside the vector file


def test_order_and_facet_stages(small_run, tmp_path):
    """--order and --facet-stages reach the figure: the message counts the stage panels, the files are written."""
    from analysis.lgc import ORDERS
    from landscape.cli.lgc import ORDERS as CLI_ORDERS

    assert CLI_ORDERS == ORDERS  # the help's [stage|reverse|shuffled] is the library's list
    facets = tmp_path / "facets.png"
    result = landscape("lgc", small_run, "-o", facets, "-n", "g", "-n", "d", "--facet-stages", "--order", "shuffled",
                       "--stages", "4", "--log-y", "--dpi", "40")
    assert result.returncode == 0, result.stderr
    assert "(1 run(s) x 2 network(s) x 4 stage panel(s), 200 points)" in result.stdout
    reverse = tmp_path / "reverse.svg"
    result = landscape("lgc", small_run, "-o", reverse, "--order", "reverse", "--dpi", "40")
    assert result.returncode == 0, result.stderr
    assert "(1 run(s) x 4 panel(s)" in result.stdout
    for path in (facets, reverse):
        assert path.read_bytes().startswith(MAGIC[path.suffix]), path
    assert "<image" in reverse.read_text()  # still rasterized inside the vector file


def test_run_still_being_written(tmp_path):
    writer = write_run(tmp_path / "live.h5", 150, close=False)
    try:
        assert open_run(tmp_path / "live.h5").status == "running"
        result = landscape("lgc", tmp_path / "live.h5", "--out", tmp_path / "live.png", "-n", "g", "--dpi", "40")
        assert result.returncode == 0, result.stderr
        assert "is running, last recorded step 149: still being written" in result.stdout and "150" in result.stdout
        assert (tmp_path / "live.png").read_bytes().startswith(MAGIC[".png"])
    finally:
        writer.close()


def test_killed_and_interrupted_runs(tmp_path):
    """A writer killed with SIGKILL, and one stopped by an exception: both files draw their recorded rows."""
    killed = tmp_path / "killed.h5"
    script = textwrap.dedent(f"""
        import os, signal
        from landscape.writer import RunWriter
        writer = RunWriter({str(killed)!r}, {{"arch": "vanilla", "dataset": "mnist"}})
        for i in range(230):
            writer.log(i, epoch=0, g_loss=1.0 + i % 7, g_grad_norm=2.0, d_loss=0.6, d_loss_real=0.3,
                       d_loss_fake=0.3, d_grad_norm=1.0, d_grad_norm_real=0.5, d_grad_norm_fake=0.5)
        writer.flush()  # every row on disk, the file never closed
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    result = landscape("lgc", killed, "--out", tmp_path / "killed.png", "-n", "d_real", "--dpi", "40")
    assert result.returncode == 0, result.stderr
    assert "is incomplete, last recorded step 229" in result.stdout and "writer is gone" in result.stdout
    assert "230" in result.stdout

    interrupted = tmp_path / "interrupted.h5"
    writer = write_run(interrupted, 90, close=False)
    writer.close(status="interrupted")
    result = landscape("lgc", interrupted, "--out", tmp_path / "interrupted.svg", "--dpi", "40")
    assert result.returncode == 0, result.stderr
    assert "is interrupted, last recorded step 89" in result.stdout
    assert (tmp_path / "interrupted.svg").read_bytes().startswith(MAGIC[".svg"])


# ---------------------------------------------------------------------------- user errors: one sentence, exit != 0
@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    return write_run(tmp_path_factory.mktemp("cli") / "small.h5", 100)


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--out", "{tmp}/fig.jpg"], ["fig.jpg", ".png, .pdf or .svg"]),
        (["--out", "{tmp}/fig"], ["no suffix"]),
        (["--out", "{tmp}/no/such/dir/fig.png"], ["does not exist"]),
        (["--out", "{tmp}/a-file.txt/fig.png"], ["does not exist"]),
        (["--out", "{tmp}"], ["no suffix"]),
        (["--out", "{tmp}/dir.png"], ["is a directory"]),
        (["--out", "{tmp}/f.png", "--network", "q"], ["Unknown network 'q'", "g, d, d_real, d_fake"]),
        (["--out", "{tmp}/f.png", "--stages", "0"], ["--stages must be at least 1"]),
        (["--out", "{tmp}/f.png", "--quantile-range", "0.9", "0.1"], ["0 <= low < high <= 1"]),
        (["--out", "{tmp}/f.png", "--dpi", "1"], ["--dpi"]),
        (["--out", "{tmp}/f.png", "--palette", "no-such-palette"], ["Unknown palette 'no-such-palette'"]),
        (["--out", "{tmp}/f.png", "--timeline", "{tmp}/t.gif"], ["t.gif", "--timeline"]),
        (["--out", "{tmp}/f.png", "--order", "random"], ["Unknown --order 'random'", "stage, reverse, shuffled"]),
        (["--out", "{tmp}/f.png", "--order", "revers"], ["(did you mean 'reverse'?)"]),
        (["--out", "{tmp}/f.png", "--order"], ["--order", "requires an argument"]),
        (["--out", "{tmp}/f.png", "--facet-stages=yes"], ["--facet-stages", "does not take a value"]),
    ],
)
def test_user_errors(small_run, tmp_path, args, fragments):
    (tmp_path / "a-file.txt").write_text("not a directory")
    (tmp_path / "dir.png").mkdir()
    args = [a.format(tmp=tmp_path) for a in args]
    result = landscape("lgc", small_run, *args)
    assert_one_sentence_error(result, *fragments)
    assert result.returncode == 2
    assert not (tmp_path / "f.png").exists()


def test_no_iterations_missing_file_and_not_a_run(tmp_path):
    empty = write_run(tmp_path / "empty.h5", 0)
    assert_one_sentence_error(landscape("lgc", empty, "--out", tmp_path / "e.png"), "empty.h5", "no iterations")
    assert_one_sentence_error(landscape("lgc", tmp_path / "missing.h5", "--out", tmp_path / "m.png"), "missing.h5")
    (tmp_path / "notes.txt").write_text("hello")
    assert_one_sentence_error(landscape("lgc", tmp_path / "notes.txt", "--out", tmp_path / "n.png"), "notes.txt")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_read_only_directory(small_run, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert_one_sentence_error(landscape("lgc", small_run, "--out", locked / "f.png"), "permission denied")
    finally:
        locked.chmod(0o700)
