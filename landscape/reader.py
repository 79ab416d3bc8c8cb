"""Reading run files: :func:`open_run` and :func:`open_runs`.

A :class:`Run` copies what it needs (attributes, config and the whole ``/metrics``
table, a few MB even for 100 epochs) when it is opened and then closes the file,
so readers never hold a run open and never block or break its writer. Larger
groups (checkpoints, samples, layer norms, Hessian arrays) are read on demand.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from landscape.errors import RunFileError
from landscape.networks import Network, networks_in
from landscape.runfile import (
    CHECKPOINTS,
    HESSIAN,
    LAYERS,
    META_PREFIX,
    METRICS,
    NETWORK_FIELDS_META,
    PROBE,
    QUALITY,
    SAMPLES,
    STATUS_MEANINGS,
    measurement_kinds,
    read_run_file,
    run_status,
)
from landscape.measurements import LONG_KINDS
from landscape.stages import DEFAULT_STAGES, assign_stages, measurement_stage, stage_labels


class Run:
    """One recorded training run, as read from its run file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        def read(handle: Any) -> tuple:
            return (
                {key: _plain(value) for key, value in handle.attrs.items()},
                handle[METRICS][()] if METRICS in handle else None,
                sorted(int(k) for k in handle.get(CHECKPOINTS, {}).keys()),
                sorted(int(k) for k in handle.get(SAMPLES, {}).keys()),
                sorted(handle.get(LAYERS, {}).keys()),
                PROBE in handle,
                {kind: _measured(handle[kind]) for kind in measurement_kinds(handle)},
            )

        attrs, metrics, checkpoint_steps, sample_epochs, layer_networks, has_probe, measured = read_run_file(
            self.path, read
        )
        self.attrs: dict[str, Any] = attrs
        self.checkpoint_steps: list[int] = checkpoint_steps
        self.sample_epochs: list[int] = sample_epochs
        self.layer_networks: list[str] = layer_networks
        self.has_probe: bool = has_probe
        self._measured = measured
        try:
            self.config: dict[str, Any] = json.loads(self.attrs.get("config", "{}"))
        except json.JSONDecodeError:
            raise RunFileError(f"{self.path} has a damaged config attribute (not valid JSON).") from None
        self.metrics: pd.DataFrame = _metrics_frame(metrics)
        #: The stored Hessian estimates' (step, network), as ``measurement_keys("hessian")``.
        self.hessian_keys: list[tuple[int, str]] = self.measurement_keys(HESSIAN)
        self._status = run_status(self.attrs, self.path)  # a live writer holds the run's lock

    # ------------------------------------------------------------------ basics
    @property
    def name(self) -> str:
        """The run's name: its file name without the suffix."""
        return self.path.stem

    @property
    def status(self) -> str:
        """One word: "running", "finished", "interrupted", "diverged" or "incomplete" (writer gone), as of opening.

        Every command reports this word (:data:`landscape.runfile.STATUS_MEANINGS` says what each means).
        """
        return self._status

    @property
    def writer_alive(self) -> bool:
        """Whether the run is still being written (its writer holds the run's lock) when it was opened."""
        return self._status == "running"

    @property
    def last_step(self) -> int | None:
        """The step of the last recorded iteration (None before the first)."""
        return int(self.metrics["step"].iloc[-1]) if self.n_iterations else None

    @property
    def planned_iterations(self) -> int | None:
        """The iterations the run was planned for (its schedule's ``planned_iters``), or None if the file has no plan."""
        planned = (self.meta("schedule") or {}).get("planned_iters")
        return int(planned) if planned else None

    @property
    def progress_text(self) -> str:
        """How far a run that is not finished got, for figure titles: "interrupted at step 59 of 39,000" (iterations
        recorded of those planned; "running at step ...", "diverged at step ..."); "" for a finished run."""
        if self.status == "finished":
            return ""
        done = 0 if self.last_step is None else self.last_step + 1
        of = f" of {self.planned_iterations:,}" if self.planned_iterations else ""
        return f"{self.status} at step {done:,}{of}"

    @property
    def status_text(self) -> str:
        """The status word with the last recorded step and its meaning, e.g. "incomplete, last recorded step 229: ..."."""
        where = "no iterations recorded" if self.last_step is None else f"last recorded step {self.last_step:,}"
        return f"{self.status}, {where}: {STATUS_MEANINGS[self.status]}"

    @property
    def n_iterations(self) -> int:
        """Number of recorded iterations."""
        return len(self.metrics)

    @property
    def fields(self) -> list[str]:
        """The per-iteration fields (metric columns) of this run."""
        return list(self.metrics.columns)

    @property
    def networks(self) -> list[Network]:
        """The networks this run records (:func:`landscape.networks.networks_in` of its fields), in order."""
        return networks_in(self.fields, self.meta(NETWORK_FIELDS_META))

    def meta(self, name: str, default: Any = None) -> Any:
        """A metadata value the writer stored with ``set_meta`` (e.g. "networks")."""
        raw = self.attrs.get(META_PREFIX + name)
        return default if raw is None else json.loads(raw)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r}, iterations={self.n_iterations})"

    def require_iterations(self) -> Run:
        """The run itself; a one-sentence RunFileError if it has no recorded iterations yet."""
        if self.n_iterations == 0:
            raise RunFileError(no_iterations_message(str(self.path)))
        return self

    def stage_of(self, steps: Iterable[int], stages: int = DEFAULT_STAGES) -> np.ndarray:
        """The stage (1..stages, as in :meth:`tidy`) of each measurement made after ``steps`` iterations: a
        checkpoint, Hessian estimate or quality measurement (:func:`landscape.stages.measurement_stage`)."""
        return measurement_stage(self.metrics["step"].to_numpy(), list(steps), stages, self.planned_iterations)

    # ------------------------------------------------------------------ derived frames
    def tidy(self, stages: int = DEFAULT_STAGES) -> pd.DataFrame:
        """Long form for seaborn: one row per (iteration, network).

        Columns: step, epoch, stage (1..stages, equal parts of the planned iterations, as
        :mod:`landscape.stages` assigns them: a run that stopped short fills the first
        stages only), stage_label ("1: 0-9359", "5: not reached"), network
        (the keys of :data:`landscape.networks.NETWORKS` the run records), loss,
        grad_norm.
        """
        return tidy_frame(self.metrics, stages, self.networks, self.planned_iterations)

    def layer_norms(self, network: str) -> pd.DataFrame | None:
        """Per-tensor gradient norms of ``network`` (iterations x parameter names), or None if not recorded."""
        if network not in self.layer_networks:
            return None

        def read(handle: Any) -> tuple[list[str], np.ndarray]:
            ds = handle[f"{LAYERS}/{network}"]
            return json.loads(_plain(ds.attrs["names"])), ds[()]

        names, values = read_run_file(self.path, read)
        n = min(len(values), len(self.metrics))
        return pd.DataFrame(values[:n], columns=names, index=pd.Index(self.metrics["step"].to_numpy()[:n], name="step"))

    # ------------------------------------------------------------------ stored groups
    def checkpoint(self, step: int, network: str) -> dict[str, np.ndarray]:
        """The state dict (weights and buffers) of ``network`` stored at ``step``."""
        if step not in self.checkpoint_steps:
            raise RunFileError(
                f"{self.path} has no checkpoint at step {step}; stored steps: {_list(self.checkpoint_steps)}."
            )

        def read(handle: Any) -> dict[str, np.ndarray]:
            group = handle[f"{CHECKPOINTS}/{step}"]
            if network not in group:
                raise RunFileError(f"{self.path} has no checkpoint of network {network!r} at step {step}.")
            net_group = group[network]
            names = json.loads(_plain(net_group.attrs["names"])) if "names" in net_group.attrs else list(net_group)
            return {name: net_group[name][()] for name in names}

        return read_run_file(self.path, read)

    def sample(self, epoch: int) -> np.ndarray:
        """The uint8 image grid (H x W x C) of the fixed z after ``epoch``; for a 2-D toy run, the points (N x 2)."""
        if epoch not in self.sample_epochs:
            raise RunFileError(f"{self.path} has no sample grid for epoch {epoch}; stored: {_list(self.sample_epochs)}.")
        return read_run_file(self.path, lambda handle: handle[f"{SAMPLES}/{epoch}"][()])

    def probe(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The fixed batch used for curvature estimates: (real images, z), or None."""
        if not self.has_probe:
            return None
        return read_run_file(self.path, lambda handle: (handle[f"{PROBE}/real"][()], handle[f"{PROBE}/z"][()]))

    def probe_labels(self) -> np.ndarray | None:
        """The classes of the probe's real images (a conditional GAN's probe; the fakes are asked for
        the same classes), or None for an unconditional run."""
        if not self.has_probe:
            return None
        return read_run_file(
            self.path, lambda handle: handle[f"{PROBE}/labels"][()] if "labels" in handle[PROBE] else None
        )

    # ------------------------------------------------------------------ measurements
    @property
    def measurement_kinds(self) -> list[str]:
        """The measurement kinds the run holds (``"hessian"``, ``"quality"``, ...): its ``/<kind>`` groups."""
        return sorted(self._measured)

    def measurement_keys(self, kind: str) -> list[tuple[int, str | None]]:
        """``(step, network)`` of each stored measurement of ``kind`` (network None for a kind stored per step)."""
        return [(step, network) for step, network, _ in self._measured.get(kind, [])]

    def measurements(self, kind: str) -> pd.DataFrame:
        """The stored measurements of ``kind`` as a tidy frame, as they were when the run was opened.

        One row per stored group, ``step`` (and ``network`` for a per-network kind such as
        ``"hessian"``) then its scalar attributes as columns (JSON text decoded), sorted by
        step and network. A kind of :data:`landscape.measurements.LONG_KINDS` (``"quality"``)
        is stored as values plus describing attributes and reads one row per value instead:
        step, epoch, metric, value, then the describing attributes it has (see :attr:`quality`).
        """
        entries = self._measured.get(kind, [])
        if kind in LONG_KINDS:
            return _long_frame(entries, LONG_KINDS[kind])
        per_network = any(network is not None for _, network, _ in entries)
        rows = []
        for step, network, attrs in entries:
            row: dict[str, Any] = {"step": step, "network": network} if per_network else {"step": step}
            row.update({key: _attr_value(value) for key, value in attrs.items()})
            rows.append(row)
        return pd.DataFrame(rows, columns=None if rows else ["step", "network"] if per_network else ["step"])

    def measurement_arrays(self, kind: str, step: int, network: str | None = None) -> dict[str, np.ndarray]:
        """The arrays (eigenvalues, densities, ...) of one stored measurement of ``kind``."""
        if (step, network) not in self.measurement_keys(kind):
            of = f" of network {network!r}" if network is not None else ""
            raise RunFileError(f"{self.path} has no {kind} measurement{of} at step {step}.")
        key = f"{kind}/{step}" + (f"/{network}" if network is not None else "")

        def read(handle: Any) -> dict[str, np.ndarray]:
            group = handle[key]
            return {name: group[name][()] for name in group if not hasattr(group[name], "keys")}

        return read_run_file(self.path, read)

    @property
    def quality(self) -> pd.DataFrame:
        """Sample-quality measurements (``measurements("quality")``), tidy: one row per (step, metric) with its value,
        the epoch, the generated sample size ``n`` and the real (reference) sample size ``n_real`` (missing for the
        toys' exact measures)."""
        return self.measurements(QUALITY)

    @property
    def game(self) -> pd.DataFrame:
        """Game-Jacobian estimates (``measurements("game")``), tidy: one row per step with the spectral radius,
        smallest real part, rotation, ``v_norm``, the label and its flags (``analysis.game.storage.read_game`` adds
        the stage and ``v_rel``; the eigenvalues are ``measurement_arrays("game", step)``)."""
        frame = self.measurements("game")
        return frame if len(frame) else pd.DataFrame(columns=["step"])

    def hessian(self) -> pd.DataFrame:
        """One row per stored Hessian estimate (step x network) with its scalar attributes as columns
        (``measurements("hessian")``)."""
        frame = self.measurements(HESSIAN)
        return frame if len(frame) else pd.DataFrame(columns=["step", "network"])

    def hessian_arrays(self, step: int, network: str) -> dict[str, np.ndarray]:
        """The arrays (eigenvalues, residuals, density, ...) of one stored Hessian estimate."""
        if (step, network) not in self.hessian_keys:
            raise RunFileError(f"{self.path} has no Hessian estimate of network {network!r} at step {step}.")
        return self.measurement_arrays(HESSIAN, step, network)


#: The columns of a tidy frame (:meth:`Run.tidy`, :func:`tidy_frame`), in order.
TIDY_FRAME_COLUMNS = ("step", "epoch", "stage", "stage_label", "network", "loss", "grad_norm")

#: Prefix of a config setting whose name is also a data column of a stacked frame: the setting ``loss``
#: (the GAN loss, e.g. a sweep's factor) is the column ``cfg_loss`` beside the tidy frame's numeric ``loss``.
CONFIG_PREFIX = "cfg_"


def setting_of_column(column: str) -> str:
    """The config setting a stacked frame's column holds: ``"cfg_loss"`` -> ``"loss"``, any other name itself."""
    return column[len(CONFIG_PREFIX):] if column.startswith(CONFIG_PREFIX) else column


class RunCollection(list):
    """Several runs, with frames that stack them: a ``run`` column and one column per config setting.

    A setting's column is its name (``optimizer``, ``seed``, ...), except where that name is
    also a data column of a stacked frame: ``run``, a column of the tidy frame
    (:data:`TIDY_FRAME_COLUMNS`: ``step``, ``epoch``, ``stage``, ``stage_label``, ``network``,
    ``loss``, ``grad_norm``) or a metrics field of any of the runs (``time``, ``g_loss``, ...).
    Such a setting gets the prefix :data:`CONFIG_PREFIX`, in every stacked frame alike: the
    GAN loss is ``cfg_loss`` in both ``metrics`` and ``tidy()``, so ``loss`` is always the
    numeric loss and ``groupby(["cfg_loss", "optimizer"])`` groups by the GAN loss.
    :attr:`config_columns` maps each setting to its column. Data columns are never renamed,
    so a stacked frame has the columns of each run's own frame.
    """

    @cached_property
    def config_columns(self) -> dict[str, str]:
        """The column of each config setting in the stacked frames: its name, or ``cfg_<name>`` where the name is
        also a data column (the one place this rule is applied)."""
        data = {"run", *TIDY_FRAME_COLUMNS, *(field for run in self for field in run.fields)}
        keys = dict.fromkeys(key for run in self for key in run.config)
        return {key: CONFIG_PREFIX + key if key in data else key for key in keys}

    @cached_property
    def _config_frame(self) -> pd.DataFrame:
        names = self.config_columns
        rows = [{names[key]: _scalar(value) for key, value in run.config.items()} for run in self]
        return pd.DataFrame(rows, index=[run.name for run in self], columns=list(names.values()))

    def _stack(self, frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
        parts = []
        config = self._config_frame
        for run, frame in zip(self, frames):
            frame = frame.copy()
            frame.insert(0, "run", run.name)
            for column in config.columns:
                frame[column] = config.at[run.name, column] if run.name in config.index else None
            parts.append(frame)
        if not parts:
            return pd.DataFrame()
        return pd.concat(parts, ignore_index=True)

    @property
    def metrics(self) -> pd.DataFrame:
        """Every run's metrics stacked, with ``run`` and config columns (a setting named like a data column as
        ``cfg_<name>``: see the class)."""
        return self._stack(run.metrics for run in self)

    def tidy(self, stages: int = DEFAULT_STAGES) -> pd.DataFrame:
        """Every run's tidy frame stacked (stages are computed per run), with ``run`` and config columns; the
        setting ``loss`` (the GAN loss) is ``cfg_loss`` beside the numeric ``loss`` (see the class)."""
        return self._stack(run.tidy(stages) for run in self)


def open_run(path: str | os.PathLike) -> Run:
    """Open a run file for analysis (raises a one-sentence RunFileError if it is not one)."""
    return Run(path)


def is_complete(path: str | os.PathLike, config: Any, ignore: Iterable[str] = ()) -> bool:
    """Whether the run file at ``path`` finished with ``config``'s settings, so a script re-running a plan can skip it.

    ``config``: a ``TrainConfig`` (or a dict of settings). Settings named in ``ignore`` (where it ran, on how many
    threads: not training settings) are not compared, nor settings a newer landscape added that an older file
    lacks. A missing file, or one that is not a run file, is not complete.
    """
    from landscape.errors import LandscapeError

    if not Path(path).exists():
        return False
    try:
        run = open_run(path)
    except LandscapeError:
        return False
    settings = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    wanted = {k: v for k, v in settings.items() if k not in set(ignore)}
    shared = wanted.keys() & run.config.keys()  # settings a newer landscape added are not in older files
    return run.status == "finished" and all(run.config[k] == wanted[k] for k in shared)


def as_run(data: Run | str | os.PathLike) -> Run:
    """A Run given a Run or the path of a run file; a one-sentence RunFileError for anything else."""
    if isinstance(data, Run):
        return data
    if isinstance(data, (str, os.PathLike)):
        return open_run(data)
    raise RunFileError(f"Expected a run or the path of a run file, got {type(data).__name__!r}.")


def as_runs(data: Run | str | os.PathLike | Iterable[Run | str | os.PathLike]) -> RunCollection:
    """A RunCollection given one run or path, or any iterable of runs and paths (names must be distinct)."""
    if isinstance(data, RunCollection):
        return data
    if isinstance(data, (Run, str, os.PathLike)):
        return RunCollection([as_run(data)])
    if isinstance(data, Iterable):
        return _distinct(RunCollection(as_run(item) for item in data))
    raise RunFileError(f"Expected runs or paths of run files, got {type(data).__name__!r}.")


def no_iterations_message(where: str) -> str:
    """The one sentence for a run that has recorded no iterations yet (``where`` names it)."""
    return f"{where} has no iterations yet; wait until the trainer has logged some, or check the path."


def open_runs(paths: Iterable[str | os.PathLike]) -> RunCollection:
    """Open several run files; their names (file stems) must be distinct."""
    return _distinct(RunCollection(open_run(p) for p in paths))


def _distinct(runs: RunCollection) -> RunCollection:
    names = [run.name for run in runs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RunFileError(f"Several runs share the name {duplicates[0]!r}; give run files distinct names.")
    return runs


def tidy_frame(metrics: pd.DataFrame, stages: int = DEFAULT_STAGES, networks: list[Network] | None = None,
               planned: int | None = None) -> pd.DataFrame:
    """The long-form (step, epoch, stage, stage_label, network, loss, grad_norm) view of a metrics table.

    ``planned``: the iterations the run was planned for; a table with fewer rows is staged by
    parts of the plan (:func:`landscape.stages.assign_stages`).

    ``networks`` defaults to those the table's columns name (:func:`landscape.networks.networks_in`).
    A network that did not update in an iteration (the generator in a critic-only row,
    ``d_steps > 1``) has no values there, and no row: its loss and gradient norm are both NaN.
    """
    n = len(metrics)
    stage = assign_stages(n, stages, planned)
    steps = metrics["step"].to_numpy() if n else np.zeros(0, dtype=np.int64)
    labels = stage_labels(steps, stage, stages, planned)
    label = pd.Categorical.from_codes(stage - 1, categories=labels, ordered=True) if n else pd.Categorical([], labels)
    if networks is None:
        networks = networks_in(metrics.columns)
    parts = []
    for net in networks:
        loss_col, norm_col, network = net.loss, net.grad_norm, net.key
        parts.append(
            pd.DataFrame(
                {
                    "step": steps,
                    "epoch": metrics["epoch"].to_numpy() if n else np.zeros(0, dtype=np.int32),
                    "stage": stage,
                    "stage_label": label,
                    "network": network,
                    "loss": metrics[loss_col].to_numpy(),
                    "grad_norm": metrics[norm_col].to_numpy(),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=list(TIDY_FRAME_COLUMNS))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[~(frame["loss"].isna() & frame["grad_norm"].isna())].reset_index(drop=True)
    frame["network"] = pd.Categorical(frame["network"], categories=[net.key for net in networks], ordered=True)
    return frame


def _metrics_frame(metrics: np.ndarray | None) -> pd.DataFrame:
    if metrics is None:
        return pd.DataFrame(columns=["step", "epoch", "time"])
    metrics = metrics[metrics["step"] >= 0]  # rows allocated by a resize that a killed writer never filled
    return pd.DataFrame(metrics)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _attr_value(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, str) and value[:1] in "[{" or value == "null":
        try:
            return json.loads(value)
        except (json.JSONDecodeError, TypeError):
            return value
    return value


def _scalar(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _list(values: list[int]) -> str:
    return ", ".join(map(str, values)) if values else "none"


def _measured(group: Any) -> list[tuple[int, str | None, dict[str, Any]]]:
    """(step, network, attributes) of every measurement under a ``/<kind>`` group, sorted by step and network.

    A step group holding groups is per network (``/hessian/<step>/<network>``); one holding
    attributes and datasets only is one measurement (``/quality/<step>``).
    """
    entries = []
    for step, step_group in group.items():
        networks = [(name, sub) for name, sub in step_group.items() if hasattr(sub, "keys")]
        if networks:
            entries += [(int(step), name, {k: _plain(v) for k, v in sub.attrs.items()}) for name, sub in networks]
        elif len(step_group.attrs) or len(step_group):  # an empty step group is no measurement
            entries.append((int(step), None, {k: _plain(v) for k, v in step_group.attrs.items()}))
    return sorted(entries, key=lambda entry: (entry[0], entry[1] or ""))


def _long_frame(entries: list[tuple[int, str | None, dict[str, Any]]], info: tuple[str, ...]) -> pd.DataFrame:
    """One row per value of a values-plus-describing-attributes kind: step, epoch, metric, value, n, n_real and the
    classifier that measured it (``<name>@sha256:<digest>``; missing for the toys' exact measures and older runs)."""
    rows = [{"step": step, "epoch": attrs.get("epoch"), "metric": name, "value": float(value), "n": attrs.get("n"),
             "n_real": attrs.get("n_real"), "classifier": _attr_value(attrs["classifier"]) if "classifier" in attrs
             else None}
            for step, _, attrs in entries for name, value in attrs.items() if name not in info]
    frame = pd.DataFrame(rows, columns=["step", "epoch", "metric", "value", "n", "n_real", "classifier"])
    return frame.astype({"step": "int64", "epoch": "Int64", "n": "Int64", "n_real": "Int64"})
