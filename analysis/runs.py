"""What every analysis takes: a Run, a run-file path, several of those, or a tidy DataFrame.

:func:`run_data` turns any of them into a list of :class:`RunData` (a run's name,
config, status and tidy frame, staged by :meth:`landscape.reader.Run.tidy`), so
each plot and report accepts the same inputs and answers a wrong one with the same
one-sentence :class:`~landscape.errors.LandscapeError`. Functions that need the
run file itself (checkpoints, Hessian estimates) take a Run or a path through
:func:`landscape.reader.as_run` / :func:`~landscape.reader.as_runs`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from landscape.config import ARCH_TITLES, CRITIC_LOSSES, LOSS_TITLES, OPTIMIZER_TITLES, dataset_title
from landscape.errors import LandscapeError, unknown_choice
from landscape.reader import no_iterations_message
from landscape.stages import DEFAULT_STAGES, stage_count

#: Columns a tidy frame must have to be drawn or reported.
TIDY_COLUMNS = ("step", "stage", "stage_label", "network", "loss", "grad_norm")


@dataclass
class RunData:
    """One run's tidy frame with the name, config and status that title its plots."""

    name: str
    config: dict[str, Any]
    tidy: pd.DataFrame
    status: str = "unknown"
    #: Sample-quality measurements (``Run.quality`` plus a ``stage`` column); empty for a tidy frame.
    quality: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=QUALITY_COLUMNS))
    #: How far a run that is not finished got ("interrupted at step 59 of 39,000", :attr:`Run.progress_text`);
    #: "" for a finished run or a tidy frame. Every figure heading of the run says it.
    progress: str = ""

    @property
    def critic(self) -> bool:
        """Whether the run's loss makes D a critic (WGAN, WGAN-GP, hinge): its plots say "critic"."""
        return self.config.get("loss") in CRITIC_LOSSES

    @property
    def title(self) -> str:
        """"Vanilla GAN, MNIST, Adam" from the config (the run's name when the config says nothing)."""
        return run_title(self.config, self.name)

    @property
    def heading(self) -> str:
        """Title and file name, e.g. "Vanilla GAN, MNIST, Adam (quickstart)"; a run that is not finished says how far
        it got: "Vanilla GAN, MNIST, Adam (quickstart), interrupted at step 59 of 39,000"."""
        # a RunWriter run of one's own model titled by its file name ("mygan" in mygan.h5): once, not "mygan (mygan)"
        named_twice = self.title and self.name and self.title != self.name
        heading = f"{self.title} ({self.name})" if named_twice else (self.title or self.name)
        return ", ".join(part for part in (heading, self.progress) if part)

    @property
    def where(self) -> str:
        """How a message names this run: "Run <name>", or "The data" for an unnamed frame."""
        return f"Run {self.name}" if self.name else "The data"

    @property
    def networks(self) -> list[str]:
        """The networks this run's tidy frame holds, in its order."""
        column = self.tidy["network"]
        if isinstance(column.dtype, pd.CategoricalDtype):
            return [str(n) for n in column.cat.categories]
        return [str(n) for n in pd.unique(column)]

    def network_rows(self, network: str) -> pd.DataFrame:
        """The tidy rows of one network; one sentence if the run has no iterations or does not record it."""
        frame = self.tidy
        if not len(frame):
            raise LandscapeError(no_iterations_message(self.where))
        if network not in self.networks:
            raise LandscapeError(unknown_choice("network", network, self.networks))
        return frame[(frame["network"] == network).to_numpy()]


#: Columns of :attr:`RunData.quality`.
QUALITY_COLUMNS = ["step", "stage", "epoch", "metric", "value", "n", "n_real"]


def measured_stage(run: Any, steps: Sequence[int], stages: int = DEFAULT_STAGES) -> np.ndarray:
    """The stage a measurement made after ``step`` iterations belongs to: :meth:`Run.stage_of
    <landscape.reader.Run.stage_of>`, whose one rule is :func:`landscape.stages.measurement_stage`."""
    return run.stage_of([int(s) for s in steps], stages).astype(np.int64)


def default_networks(runs: list[RunData], preferred: Sequence[str]) -> list[str]:
    """The networks to draw when none are named: ``preferred`` where every run records them all, else the
    networks every run records (a run from any training loop has its own); one sentence if they share none."""
    if all(key in run.networks for run in runs for key in preferred) or all(not len(run.tidy) for run in runs):
        return list(preferred)
    common = [key for key in runs[0].networks if all(key in run.networks for run in runs)]
    if not common:
        recorded = "; ".join(f"{run.name or 'the data'}: {', '.join(run.networks) or 'none'}" for run in runs)
        raise LandscapeError(f"These runs record no network in common ({recorded}); name the networks to draw, "
                             "or draw the runs separately.")
    return common


def check_networks(runs: list[RunData], networks: Sequence[str]) -> list[str]:
    """``networks`` as a list; one sentence (with the nearest recorded name) for a name no run records."""
    networks = list(networks)
    recorded = list(dict.fromkeys(key for run in runs for key in run.networks))
    if not networks:
        raise LandscapeError(f"Choose at least one network to draw ({', '.join(recorded)}).")
    for key in networks:
        if recorded and key not in recorded:
            raise LandscapeError(unknown_choice("network", key, recorded))
    return networks


def run_title(config: dict[str, Any], fallback: str = "") -> str:
    """Title naming a run by its architecture, dataset and optimizer, and its loss, unrolling and
    conditioning where they are not the paper's."""
    parts = [
        ARCH_TITLES.get(str(config.get("arch")), config.get("arch")),
        dataset_title(config["dataset"]) if config.get("dataset") is not None else None,
        OPTIMIZER_TITLES.get(str(config.get("optimizer")).lower(), config.get("optimizer")),
    ]
    # a variant of the paper's recipe says which (the default adds nothing: the paper's titles stay)
    if config.get("loss") not in (None, "ns"):
        parts.append(LOSS_TITLES.get(str(config.get("loss")), config.get("loss")))
    if config.get("unroll"):
        parts.append(f"unrolled K={config['unroll']}")
    if config.get("conditional"):
        parts.append("conditional")
    parts = [str(p) for p in parts if p is not None and not (isinstance(p, float) and np.isnan(p))]
    return ", ".join(parts) if parts else fallback


def _check_tidy(frame: pd.DataFrame) -> None:
    missing = [c for c in TIDY_COLUMNS if c not in frame.columns]
    if missing:
        raise LandscapeError(
            f"The data frame lacks the tidy column(s) {', '.join(missing)}; pass a Run or the frame from run.tidy()."
        )


def _check_stages(frame: pd.DataFrame, stages: int | None, source: str) -> None:
    if stages is not None and len(frame) and stage_count(frame) != stages:
        raise LandscapeError(
            f"The tidy frame of {source} was split into {stage_count(frame)} stages, not {stages}; "
            f"build it again with run.tidy({stages})."
        )


def run_data(data: Any, stages: int | None = None) -> list[RunData]:
    """Normalise runs into :class:`RunData` (name, config, tidy frame), in the given order.

    ``data`` is a Run, a path to a run file, a RunCollection or list of those, or a
    tidy DataFrame (one run, or several told apart by a ``run`` column as made by
    ``open_runs(...).tidy()``). Runs are staged with ``run.tidy(stages)`` (:data:`DEFAULT_STAGES
    <landscape.stages.DEFAULT_STAGES>` when ``stages`` is None); a frame keeps the stages it was built with.
    """
    from landscape.reader import Run, open_run, setting_of_column

    if isinstance(data, RunData):
        return [data]
    if isinstance(data, pd.DataFrame):
        _check_tidy(data)
        if "run" not in data.columns:
            _check_stages(data, stages, "the data")
            return [RunData(name="", config={}, tidy=data)]
        out = []
        for name, part in data.groupby("run", sort=False, observed=True):
            # the run title's settings; the GAN loss is stacked as cfg_loss beside the numeric loss (RunCollection)
            config = {setting_of_column(k): part[k].iloc[0] for k in ("arch", "dataset", "optimizer", "cfg_loss")
                      if k in part.columns}
            _check_stages(part, stages, f"run {name}")
            out.append(RunData(name=str(name), config=config, tidy=part))
        return out
    if isinstance(data, (str, os.PathLike)):
        data = open_run(data)
    if isinstance(data, Run):
        k = DEFAULT_STAGES if stages is None else stages
        quality = data.quality
        quality.insert(1, "stage", measured_stage(data, quality["step"].tolist(), k))
        return [RunData(name=data.name, config=dict(data.config), tidy=data.tidy(k), status=data.status,
                        quality=quality, progress=data.progress_text)]
    if isinstance(data, Iterable):
        return [item for part in data for item in run_data(part, stages)]
    raise LandscapeError(f"Cannot analyse {type(data).__name__!r}: pass a Run, a run-file path or a tidy DataFrame.")


def single_run(data: Any, stages: int | None = None, *, several: str = "lgc_figure") -> RunData:
    """:func:`run_data` for functions that take exactly one run; one sentence naming ``several`` if ``data`` holds more."""
    runs = run_data(data, stages)
    if len(runs) != 1:
        names = ", ".join(r.name for r in runs[:4]) + (", ..." if len(runs) > 4 else "")
        raise LandscapeError(f"The data holds {len(runs)} runs ({names}); pass one run, or draw several with {several}.")
    return runs[0]


__all__ = ["RunData", "TIDY_COLUMNS", "check_networks", "default_networks", "measured_stage", "run_data", "run_title",
           "single_run"]
