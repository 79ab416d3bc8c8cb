"""Sweep specs: a base config and the factors to vary, read from TOML and checked before anything runs.

A spec names the base settings of ``landscape record`` by their config names
(:class:`~landscape.config.TrainConfig`), then either a grid (every combination of
the listed values) or an explicit list of runs, or both::

    [base]                     # any setting of `landscape record`, by its config name
    arch = "vanilla"
    dataset = "mnist"
    epochs = 50
    batch_size = 256

    [grid]                     # every combination of these values
    optimizer = ["sgd", "sgd-momentum", "rmsprop", "adam"]
    seed = [0, 1, 2]

    [[runs]]                   # and/or explicit runs: each table's settings on top of [base]
    optimizer = "adam"
    lr_g = 2e-4

The factors are the settings a grid or a run table sets. Each run's name (and file
name) is its factor values in the spec's order, e.g. ``optimizer-adam_seed-0``:
readable, and the same every time the spec is read. Every run's config is built,
and so checked, when the spec is loaded: a bad value is reported with the run it
belongs to, before anything starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landscape.config import TrainConfig
from landscape.errors import LandscapeError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: The tables a spec may have.
SPEC_TABLES = ("base", "grid", "runs")
#: A run table's optional display name (not a setting).
RUN_NAME_KEY = "name"


class SpecError(LandscapeError):
    """A sweep spec that cannot be run, in one sentence."""


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its name, its factor values and its full config."""

    name: str
    factors: dict[str, Any]
    config: TrainConfig

    @property
    def file_name(self) -> str:
        """The run file's name in the sweep's folder: ``<name>.h5``."""
        return f"{self.name}.h5"


@dataclass(frozen=True)
class SweepSpec:
    """A loaded sweep spec: its tables as written, the factors, and every run with its config."""

    tables: dict[str, Any]
    factors: tuple[str, ...]
    runs: tuple[SweepRun, ...]
    source: Path | None = None

    @property
    def digest(self) -> str:
        """SHA-256 of the spec's tables (canonical JSON): two specs that describe the same sweep share it."""
        return hashlib.sha256(json.dumps(self.tables, sort_keys=True).encode()).hexdigest()


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and check the sweep spec at ``path`` (TOML)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"No such sweep spec: {path}." if not path.exists() else f"{path} is not a file.")
    try:
        tables = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SpecError(f"{path} is not valid TOML ({err}).") from None
    return parse_spec(tables, source=path)


def parse_spec(tables: dict[str, Any], source: Path | None = None) -> SweepSpec:
    """Check a spec's tables (as TOML reads them) and expand them into runs, each with its config built."""
    where = f"{source}: " if source else ""
    unknown = [k for k in tables if k not in SPEC_TABLES]
    if unknown:
        raise SpecError(f"{where}unknown table [{unknown[0]}]{_did_you_mean(unknown[0], SPEC_TABLES)}; a spec has "
                        f"[base], [grid] and [[runs]].")
    base = tables.get("base", {})
    grid = tables.get("grid", {})
    listed = tables.get("runs", [])
    if not isinstance(base, dict) or not isinstance(grid, dict):
        raise SpecError(f"{where}[base] and [grid] must be tables of settings.")
    if not isinstance(listed, list) or not all(isinstance(r, dict) for r in listed):
        raise SpecError(f"{where}runs must be a list of tables ([[runs]]).")
    for key in base:
        _check_setting(key, where, "[base]")
    for key, values in grid.items():
        _check_setting(key, where, "[grid]")
        if not isinstance(values, list):
            raise SpecError(f"{where}[grid] {key} must be a list of values, e.g. {key} = [{_toml(values)}].")
        if not values:
            raise SpecError(f"{where}[grid] {key} is an empty list, so the grid has no runs; give it values or "
                            "remove it.")
        if len(set(map(_key, values))) != len(values):
            raise SpecError(f"{where}[grid] {key} lists a value twice.")
    for i, run in enumerate(listed, 1):
        for key in run:
            if key != RUN_NAME_KEY:
                _check_setting(key, where, f"[[runs]] number {i}")
    if not grid and not listed:
        raise SpecError(f"{where}the spec has no runs: give a [grid] of values or [[runs]] tables.")

    factors = list(grid)
    for run in listed:
        factors += [k for k in run if k != RUN_NAME_KEY and k not in factors]
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] if grid else []
    chosen = combos + [{k: v for k, v in run.items() if k != RUN_NAME_KEY} for run in listed]
    names = [None] * len(combos) + [run.get(RUN_NAME_KEY) for run in listed]
    runs, seen = [], {}
    for values, given in zip(chosen, names):
        name = str(given) if given is not None else run_name({k: values[k] for k in factors if k in values})
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+=-]*", name):
            raise SpecError(f"{where}run name {name!r} cannot be a file name; use letters, digits, . _ + = -.")
        if name in seen:
            raise SpecError(f"{where}two runs are both named {name} (the same factor values); each run must differ.")
        seen[name] = True
        try:
            config = TrainConfig.from_dict({**base, **values})
        except LandscapeError as err:
            raise SpecError(f"{where}run {name}: {err}") from None
        runs.append(SweepRun(name, {k: values.get(k, getattr(config, k)) for k in factors}, config))
    return SweepSpec(tables, tuple(factors), tuple(runs), source)


def run_name(factors: dict[str, Any]) -> str:
    """A run's name from its factor values, in order: ``optimizer-adam_seed-0`` (``run`` with no factors)."""
    parts = [f"{key}-{_slug(value)}" for key, value in factors.items()]
    return "_".join(parts) or "run"


def _slug(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "+".join(_slug(v) for v in value)
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    text = str(value)
    return re.sub(r"[^A-Za-z0-9.+=-]+", "-", text).strip("-") or "x"


_SETTINGS = tuple(f.name for f in dataclasses.fields(TrainConfig))


def _check_setting(key: str, where: str, table: str) -> None:
    if key not in _SETTINGS:
        raise SpecError(f"{where}{table} has an unknown setting {key!r}{_did_you_mean(key, _SETTINGS)}; settings "
                        "are the config names of `landscape record`'s options (e.g. batch_size, lr_g, dataset).")


def _did_you_mean(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _toml(value: Any) -> str:
    return json.dumps(value)


__all__ = ["RUN_NAME_KEY", "SPEC_TABLES", "SpecError", "SweepRun", "SweepSpec", "load_spec", "parse_spec", "run_name"]
