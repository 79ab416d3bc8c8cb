"""CLI conventions: help in the usual style, --version, choices with completion, typos answered in one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = [["record"], ["lgc"], ["hessian"], ["report"], ["export"], ["info"], ["samples"], ["data", "list"],
            ["data", "fetch"]]
SCRIPT = Path(sys.executable).with_name("landscape")  # the console script pip installed next to this Python


def landscape(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "landscape", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_shows_no_python_types_and_flags_as_flags(command):
    result = landscape(*command, "--help")
    assert result.returncode == 0, result.stderr
    raw = re.findall(r"<(?:bool|str|int|float|path|Path|list\[[^>]*\]|tuple[^>]*)>", result.stdout)
    assert not raw, raw
    for line in result.stdout.splitlines():
        if re.search(r"--(force|help|log-x|share-y|layer-norms)\b", line):
            assert not re.search(r"BOOLEAN|<bool>", line), line


def test_choices_are_listed_in_the_help():
    out = landscape("record", "--help").stdout
    assert "[vanilla|dcgan|mlp|mlp512|mlp100]" in out
    assert "[mnist|fashion-mnist|cifar10|ring8|grid25|ring8-wgan-gp|mixture1d]" in out
    assert "[adam|rmsprop|sgd|sgd-momentum]" in out and "[ns|minimax|lsgan|wgan|wgan-gp|hinge]" in out
    assert "g, d, d_real, d_fake for a GAN run" in " ".join(landscape("lgc", "--help").stdout.split())
    assert "[text|markdown|json]" in landscape("report", "--help").stdout
    assert "[csv|parquet|tensorboard]" in landscape("export", "--help").stdout


def test_version():
    from landscape import __version__

    result = landscape("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"landscape {__version__}"


def test_a_network_the_run_does_not_record_is_one_line_with_the_nearest(tmp_path):
    from landscape.runfile import GAN_FIELDS
    from landscape.writer import RunWriter

    with RunWriter(tmp_path / "r.h5", {"arch": "vanilla"}, GAN_FIELDS) as writer:
        for i in range(20):
            writer.log(i, **{name: 1.0 for name in GAN_FIELDS})
    result = landscape("lgc", str(tmp_path / "r.h5"), "-n", "d_rael", "--out", str(tmp_path / "x.png"))
    assert "did you mean 'd_real'?" in one_line_error(result)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["record", "--arch", "dcgn", "--data", "mnist"], "did you mean 'dcgan'?"),
        (["record", "--arch", "vanilla", "--data", "fashon-mnist"], "did you mean 'fashion-mnist'?"),
        (["record", "--arch", "vanilla", "--data", "mnist", "--optimizer", "adma"], "did you mean 'adam'?"),
        (["lgc", "x.h5", "--palette", "virids"], "did you mean 'viridis'?"),
        (["report", "x.h5", "--format", "jsn"], "did you mean 'json'?"),
        (["export", "x.h5", "--format", "parqet"], "did you mean 'parquet'?"),
        (["hessian", "x.h5", "--network", "bth"], "did you mean 'both'?"),
        (["data", "fetch", "mnst"], "did you mean 'mnist'?"),
        (["record", "--arh", "vanilla"], "No such option: --arh"),
        (["lgc"], "Missing argument"),
    ],
)
def test_a_typo_is_one_line_with_the_nearest_choice(tmp_path, args, expected):
    """Checked before any file is read: the run file need not exist."""
    result = subprocess.run([sys.executable, "-m", "landscape", *args], capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "COLUMNS": "200"}, timeout=120)
    assert expected in one_line_error(result)


@pytest.mark.skipif(not SCRIPT.exists(), reason="the landscape console script is not installed next to this Python")
@pytest.mark.parametrize(
    "words, offered",
    [("landscape record --arch d", ["dcgan"]), ("landscape record --data f", ["fashion-mnist"]),
     ("landscape hessian x.h5 --network b", ["both"]), ("landscape data fetch c", ["cifar10"])],
)
def test_shell_completion_offers_the_choices(words, offered):
    env = {**os.environ, "_LANDSCAPE_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - 1)}
    result = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120)
    assert result.stdout.split() == offered, result.stdout + result.stderr


def test_steps_repeated_or_comma_separated_are_the_same():
    from landscape.cli.options import parse_steps
    from landscape.errors import LandscapeError

    stored = [0, 936, 1872]
    assert parse_steps(["0", "1872"], stored, "r.h5") == parse_steps("0,1872", stored, "r.h5") == [0, 1872]
    assert parse_steps(["last", "0", "1872"], stored, "r.h5") == [1872, 0]  # each once, in the order given
    assert parse_steps(None, stored, "r.h5") == stored
    with pytest.raises(LandscapeError, match="no checkpoint at step 5"):
        parse_steps(["0", "5"], stored, "r.h5")


def test_every_device_option_is_the_shared_one():
    """Issue 24: `--device` is defined once (landscape.cli.options.DeviceOption): every command that takes it shows
    the same help and metavar."""
    import typer.main

    from landscape.cli import app

    def walk(command, path=()):
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, (*path, name))
        yield path, command

    seen = {}
    for path, command in walk(typer.main.get_command(app)):
        for param in command.params:
            if "--device" in getattr(param, "opts", ()):
                seen[" ".join(path)] = (param.help, param.metavar)
    assert {"record", "hessian", "quality"} <= set(seen), seen
    assert len(set(seen.values())) == 1, seen
