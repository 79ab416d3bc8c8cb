"""The game-dynamics part of ``landscape report``: the labels per stage, next to the stationarity verdicts.

For each run with game-Jacobian estimates (``/game``), one row per stage: the steps estimated in it,
their labels, the largest rotation, the smallest real part computed, ``||v||`` relative to its
stage-1 median, and whether any estimate was a local Nash candidate; as text, Markdown or a JSON-ready
list. Runs without estimates are named with the command that makes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from analysis.game.storage import read_game
from landscape.stages import DEFAULT_STAGES

COLUMNS = ("stage", "steps", "labels", "rotation", "min Re λ", "‖v‖/stage 1", "Nash candidate")


def stage_rows(run: Any, stages: int = DEFAULT_STAGES) -> list[dict[str, Any]]:
    """One dict per stage that holds game estimates (see the module docstring)."""
    frame = read_game(run, stages)
    rows = []
    for stage, rows_of in frame.groupby("stage"):
        labels = list(dict.fromkeys(rows_of["label"].astype(str)))
        nash = rows_of["nash"].dropna().tolist() if "nash" in rows_of else []
        rows.append({
            "stage": int(stage),
            "steps": [int(s) for s in rows_of["step"]],
            "labels": labels,
            "rotation": float(rows_of["rotation"].max()),
            "min_real": float(rows_of["min_real"].min()),
            "v_rel": float(rows_of["v_rel"].median()),
            "nash": None if not nash else bool(any(bool(n) for n in nash)),
        })
    return rows


def game_section(runs: Iterable[Any], stages: int = DEFAULT_STAGES, fmt: str = "text") -> Any:
    """The section for ``runs``: text or Markdown (a string, empty if no run has estimates) or, for ``"json"``,
    ``{run name: [stage rows]}`` (None if no run has estimates)."""
    per_run = {}
    missing = []
    for run in runs:
        if "game" in run.measurement_kinds:
            per_run[run.name] = stage_rows(run, stages)
        else:
            missing.append(run.name)
    if fmt == "json":
        return per_run or None
    if not per_run:
        return ""
    md = fmt == "markdown"
    lines = ["", "## Game dynamics" if md else "Game dynamics (the game Jacobian's labels per stage; "
             "`landscape game` for the eigenvalues)", ""]
    for name, rows in per_run.items():
        lines.append(f"### {name}" if md else f"{name}:")
        if md:
            lines += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for r in rows:
            cells = [str(r["stage"]), ", ".join(f"{s:,}" for s in r["steps"]), "; ".join(r["labels"]),
                     f"{r['rotation']:.2f}", f"{r['min_real']:.3g}", f"{r['v_rel']:.2f}",
                     "-" if r["nash"] is None else ("yes" if r["nash"] else "no")]
            lines.append("| " + " | ".join(cells) + " |" if md else
                         f"  stage {cells[0]} (steps {cells[1]}): {cells[2]}; rotation {cells[3]}, "
                         f"min Re λ {cells[4]}, ‖v‖/stage 1 {cells[5]}, Nash candidate {cells[6]}")
        lines.append("")
    if missing:
        lines.append(f"No game estimates in {', '.join(missing)}: `landscape game RUN.h5` makes them.")
    return "\n".join(lines) + "\n"


__all__ = ["game_section", "stage_rows"]
