"""`landscape info RUN.h5`: what a run file holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def info(
    run_file: Path = typer.Argument(..., help="A run file written by `landscape record` (or any RunWriter).", show_default=False),
) -> None:
    """Show a run's config, status, iterations, fields, networks and optional groups."""
    from rich.table import Table

    from landscape.reader import open_run

    console = _console()
    run = open_run(run_file)
    console.print(f"[bold]{run.path}[/]")
    console.print(f"status: {run.status_text}", highlight=False)
    console.print(f"iterations: {run.n_iterations:,}" + _step_range(run))
    console.print(
        f"created: {run.attrs.get('created', '?')}   landscape {run.attrs.get('landscape_version', '?')}"
        f"   torch {run.attrs.get('torch_version', '') or '?'}"
    )

    config = Table(title="config", show_header=False, title_justify="left")
    for key, value in run.config.items():
        config.add_row(key, str(value))
    console.print(config)

    networks = run.meta("networks")
    if networks:
        table = Table(title="networks", title_justify="left")
        table.add_column("network")
        table.add_column("trainable parameters", justify="right")
        table.add_column("architecture")
        for name, desc in networks.items():
            table.add_row(name, f"{desc.get('params', 0):,}", str(desc.get("summary", "")))
        console.print(table)

    console.print("fields: " + ", ".join(run.fields))
    groups = {
        "layer norms": ", ".join(run.layer_networks) or None,
        "checkpoints": _steps(run.checkpoint_steps),
        "samples (epochs)": _steps(run.sample_epochs),
        "probe batch": _probe(run),
        "hessian estimates": _hessian(run),
        "sample quality (steps)": _quality(run),
        **{f"{OTHER_KINDS.get(kind, kind + ' measurements')}": _keys(run, kind)
           for kind in run.measurement_kinds if kind not in ("hessian", "quality")},
    }
    for name, value in groups.items():
        console.print(f"{name}: {value if value else 'none'}")


def _console() -> "Any":
    """The CLI console on a terminal; piped or redirected, one as wide as its widest line, so that tables and
    lists are never wrapped at rich's default 80 columns (a file or ``| less`` has no width to fit)."""
    from rich.console import Console

    from landscape.cli.console import console

    if console.is_terminal:
        return console
    return Console(file=console.file, width=max(console.width, 10_000), soft_wrap=True)


def _quality(run) -> str | None:
    q = run.quality
    if q.empty:
        return None
    return f"{_steps(sorted(q['step'].unique().tolist()))} ({', '.join(dict.fromkeys(q['metric']))})"


def _step_range(run) -> str:
    if not run.n_iterations:
        return ""
    steps = run.metrics["step"]
    return f" (steps {steps.iloc[0]}-{steps.iloc[-1]}, epochs {run.metrics['epoch'].iloc[0]}-{run.metrics['epoch'].iloc[-1]})"


def _steps(values: list[int]) -> str | None:
    if not values:
        return None
    return ", ".join(map(str, values)) if len(values) <= 12 else f"{len(values)} ({values[0]} ... {values[-1]})"


def _probe(run) -> str | None:
    probe = run.probe()
    if probe is None:
        return None
    real, z = probe
    return f"{len(real)} real images {tuple(real.shape[1:])} + z {tuple(z.shape[1:])}"


#: How the other measurement kinds a run may hold are named in its summary (a kind not here: "<kind> measurements").
OTHER_KINDS = {"game": "game Jacobian estimates", "surface": "loss surfaces", "walk": "gradient walks",
               "inception": "papers' FID (Inception, steps)"}


def _keys(run, kind: str) -> str | None:
    keys = sorted(run.measurement_keys(kind), key=lambda key: (key[0], key[1] or ""))
    if not keys:
        return None
    if all(network is None for _, network in keys):
        return _steps([step for step, _ in keys])
    return ", ".join(f"{network}@{step}" if network is not None else str(step) for step, network in keys)


def _hessian(run) -> str | None:
    if not run.hessian_keys:
        return None
    return ", ".join(f"{network}@{step}" for step, network in sorted(run.hessian_keys))

#: The commands this module adds to ``landscape`` (name -> function, or a typer app for a group); see landscape.cli.
COMMANDS = {"info": info}
