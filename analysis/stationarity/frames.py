"""The tidy frame every stationarity table is computed from, and how it is walked.

Stage membership always comes from ``Run.tidy(stages)`` (landscape core), the same
frame the loss-gradient clouds are drawn from, so a report's "stage 3" is the LGC's
stage 3.
"""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from landscape.errors import LandscapeError
from landscape.networks import NETWORKS

ALL = "all"
REQUIRED = ("step", "stage", "network", "loss", "grad_norm")


def prepare_tidy(tidy: pd.DataFrame, name: str = "run") -> pd.DataFrame:
    """Normalise a tidy frame (as from ``run.tidy(stages)`` or ``RunCollection.tidy``).

    Keeps run, network, stage, stage_label, step, loss, grad_norm with plain
    string labels; adds ``run`` = ``name`` if the frame has none, and a stage label
    naming the step range if it has none. Raises LandscapeError if a column is
    missing or there are no iterations.
    """
    missing = [c for c in REQUIRED if c not in tidy.columns]
    if missing:
        raise LandscapeError(
            f"The tidy frame lacks the column(s) {', '.join(missing)}; pass run.tidy(stages) or a Run."
        )
    if tidy.empty:
        raise LandscapeError(f"{name} has no recorded iterations, so there is nothing to report.")
    frame = tidy.copy()
    if "run" not in frame.columns:
        frame["run"] = name
    frame["run"] = frame["run"].astype(str)
    frame["network"] = frame["network"].astype(str)
    frame["stage"] = frame["stage"].astype(int)
    if "stage_label" not in frame.columns:
        steps = frame.groupby(["run", "stage"])["step"]
        frame["stage_label"] = (frame["stage"].astype(str) + ": " + steps.transform("min").astype(str) + "-"
                                + steps.transform("max").astype(str))
    frame["stage_label"] = frame["stage_label"].astype(str)
    runs = {run: i for i, run in enumerate(frame["run"].unique())}
    networks = {net: i for i, net in enumerate(NETWORKS)}  # report order: the network table's
    for net in frame["network"].unique():
        networks.setdefault(net, len(networks))
    frame["_run"], frame["_net"] = frame["run"].map(runs), frame["network"].map(networks)
    frame = frame.sort_values(["_run", "_net", "step"], kind="stable")
    return frame[["run", "network", "stage", "stage_label", "step", "loss", "grad_norm"]].reset_index(drop=True)


def iter_parts(tidy: pd.DataFrame) -> Iterator[tuple[str, str, pd.DataFrame, list[tuple[object, str, pd.DataFrame]]]]:
    """Yield (run, network, whole series, [(stage, stage_label, part), ...]) for a prepared frame.

    Parts come in stage order, followed by the whole series with stage <NA> and
    label "all".
    """
    for (run, network), series in tidy.groupby(["run", "network"], sort=False):
        parts = [
            (int(stage), str(part["stage_label"].iloc[0]), part)
            for stage, part in series.groupby("stage", sort=True)
        ]
        parts.append((pd.NA, ALL, series))
        yield str(run), str(network), series, parts


def stage_table(rows: list[dict]) -> pd.DataFrame:
    """A frame from rows that carry a ``stage`` key, with ``stage`` as nullable integers (<NA> = whole run)."""
    frame = pd.DataFrame(rows)
    if "stage" in frame.columns:
        frame["stage"] = frame["stage"].astype("Int64")
    return frame
