"""Record a training loop under Hugging Face Accelerate into a run file: :class:`LandscapeTracker`.

An Accelerate tracker (``accelerate.tracking.GeneralTracker``) whose ``log(values, step)``
writes rows of a landscape run file through :class:`landscape.writer.RunWriter`::

    tracker = LandscapeTracker("runs/gan.h5")
    accelerator = Accelerator(log_with=tracker)
    accelerator.init_trackers("gan", config={"lr": 2e-4})          # stored as the run's config
    ...
    accelerator.log({"g_loss": g_loss, "g_grad_norm": g_norm, "d_loss": d_loss, "d_grad_norm": d_norm}, step=step)
    ...
    accelerator.end_training()                                     # closes the run as finished

Fields follow the run file's naming rule: ``<name>_loss`` with ``<name>_grad_norm`` make a
network called ``<name>`` (``g``, ``d`` and the GAN fields keep the GAN table's meaning, see
:mod:`landscape.networks`). Every call with the same ``step`` adds to one row (a loop may log
G's and D's values apart); a call with another step writes the row before it. The run's fields
are those of its first row unless ``fields=`` declares them; a later name that is not a field
is skipped with one warning naming ``fields=``. An ``epoch`` value fills the row's epoch column.
Values may be floats, ints or one-element tensors on any device (no device sync per call);
strings and larger tensors are skipped with a warning.

Only the main process writes (``main_process_only``, as every Accelerate tracker); the others'
calls do nothing. The file is created at the first of ``store_init_configuration``, ``log``,
:meth:`LandscapeTracker.add_checkpoint` and :meth:`LandscapeTracker.set_probe`, with the config known by then
(``config=`` and what ``init_trackers(config=...)`` gives). ``accelerator.get_tracker("landscape",
unwrap=True)`` is the tracker itself, whose ``add_checkpoint(step, {"g": g.state_dict(), ...})``
stores weights for ``landscape hessian`` (see docs/accelerate.md for what a rebuildable run needs).
A loop that dies without ``end_training()`` leaves a file closed as interrupted, every row kept.

This module imports Accelerate (``pip install 'landscape[accelerate]'``); it never imports the
analysis or the trainers.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from accelerate.tracking import GeneralTracker, on_main_process

from landscape.integrations import plain_config, scalar
from landscape.writer import RunWriter


class LandscapeTracker(GeneralTracker):
    """An Accelerate tracker that writes ``log(values, step)`` into a landscape run file (main process only)."""

    name = "landscape"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, path: str | os.PathLike, config: Any = None, *, fields: Iterable[str] | None = None,
                 networks: Mapping[str, tuple[str, str]] | None = None, overwrite: bool = False) -> None:
        """Record into the run file at ``path`` (refused if it exists, unless ``overwrite``).

        ``config``: settings stored as the run's config (``init_trackers(config=...)`` adds to them;
        these win). ``fields``: the per-row fields, when the first row does not have them all.
        ``networks``: name -> (loss field, gradient-norm field) for fields that do not follow the
        ``<name>_loss`` / ``<name>_grad_norm`` rule.
        """
        super().__init__()
        self.path = os.fspath(path)
        self.config = plain_config(config)
        self.fields = list(fields) if fields is not None else None
        self.networks = dict(networks) if networks else None
        self.overwrite = overwrite
        self.writer: RunWriter | None = None
        self._init_config: dict[str, Any] = {}
        self._row: dict[str, Any] = {}
        self._row_step: int | None = None
        self._row_epoch: int = 0
        self._next_step = 0
        self._warned: set[str] = set()

    @property
    def tracker(self) -> "LandscapeTracker":
        """What ``accelerator.get_tracker("landscape", unwrap=True)`` returns: this tracker (its writer is ``.writer``)."""
        return self

    # ------------------------------------------------------------------ Accelerate's interface
    @on_main_process
    def store_init_configuration(self, values: dict) -> None:
        """``init_trackers(config=...)``: the run's config (with ``config=`` of the constructor over it)."""
        self._init_config = plain_config(values)
        self._open()

    @on_main_process
    def log(self, values: dict, step: int | None = None, **kwargs: Any) -> None:
        """Add ``values`` to the row of ``step`` (None: a new row after the last); a new step writes the row before."""
        self._open()
        if step is None:
            step = self._next_step if self._row_step is None else self._row_step + 1
        step = int(step)
        if self._row_step is not None and step != self._row_step:
            self._write_row()
        self._row_step = step
        for key, value in _flatten(values):
            if key == "epoch":
                self._row_epoch = int(value)
                continue
            number = scalar(value)
            if number is None:
                self._warn(key, f"LandscapeTracker: {key!r} is not a number ({type(value).__name__}), so it is not "
                                "recorded; a run file's rows hold numbers.")
                continue
            self._row[key] = number

    @on_main_process
    def finish(self) -> None:
        """``accelerator.end_training()``: write the last row and close the run as finished."""
        if self.writer is None:
            return
        self._write_row()
        writer, self.writer = self.writer, None
        writer.close("finished")

    # ------------------------------------------------------------------ landscape's extras
    @on_main_process
    def add_checkpoint(self, step: int, states: Mapping[str, Mapping[str, Any]]) -> None:
        """Store each network's weights at ``step`` (iterations done), e.g. ``{"g": g.state_dict(), "d": ...}``;
        ``accelerator.unwrap_model(g).state_dict()`` under DDP. The rows logged so far are written first."""
        self._open()
        self._write_row()
        self.writer.add_checkpoint(step, states)

    @on_main_process
    def set_probe(self, real: Any, z: Any, labels: Any = None) -> None:
        """Store the fixed batch (real inputs and latent vectors) the Hessian analyses evaluate the losses on."""
        self._open()
        self.writer.set_probe(real, z, labels)

    @on_main_process
    def set_meta(self, name: str, value: Any) -> None:
        """Store a JSON value as the run's metadata (``run.meta(name)``), e.g. ``schedule`` with ``planned_iters``."""
        self._open()
        self.writer.set_meta(name, value)

    # ------------------------------------------------------------------ internals
    def _open(self) -> None:
        if self.writer is None:
            self.writer = RunWriter(self.path, {**self._init_config, **self.config}, fields=None,
                                    networks=self.networks, overwrite=self.overwrite)
            self.writer.set_meta("recorded_by", f"{__name__}.LandscapeTracker")

    def _write_row(self) -> None:
        if self._row_step is None:
            return
        row = self._row
        if self.fields is None:
            self.fields = list(row)
        for key in [k for k in row if k not in self.fields]:
            row.pop(key)
            self._warn(key, f"LandscapeTracker: {key!r} was not in the first row logged, so it is not a field of "
                            f"{self.path} and is not recorded; give LandscapeTracker(..., fields=[...]) every field.")
        self.writer.log(self._row_step, epoch=self._row_epoch, **{k: row.get(k, float("nan")) for k in self.fields})
        self._next_step = self._row_step + 1
        self._row, self._row_step = {}, None

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, stacklevel=3)


def _flatten(values: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    """``{"d": {"real": x}}`` (TensorBoard's ``add_scalars`` form) as ``("d_real", x)``; other keys as they are."""
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, prefix=f"{name}_")
        else:
            yield name, value


__all__ = ["LandscapeTracker"]
