"""Every measurement kind, registered in one place, and the measurements a recorded run makes.

A measurement kind is a :class:`landscape.measurements.Measurement` subclass: its ``kind``
(the run-file group ``/<kind>`` and schedule name), when it runs, what it computes from the
trainer's state (``__call__(trainer)``) or a stored checkpoint (``measure_checkpoint(run,
step)``) as :class:`~landscape.measurements.Record` s, and how it reads back
(``Run.measurements(kind)``). ``trainers`` never imports ``analysis``: whoever starts a run
passes the measurements in (``trainers.record(config, path, measurements=for_run(config))``),
and the trainer calls whichever is due.

Adding a kind (the game Jacobian's spectrum, say):

1. write its module, e.g. ``analysis/jacobian.py``::

       class JacobianSpectrum(Measurement):
           kind = "jacobian"                      # stored as /jacobian/<step>
           title = "game Jacobian spectrum"

           def __init__(self, every=None):         # None: at the stage boundaries
               self.every = every

           @classmethod
           def applies_to(cls, config):            # which runs make it
               return True

           @classmethod
           def for_training(cls, config, say=None, **_):
               return cls()

           def __call__(self, trainer):            # the trainer's state -> what to store
               values = jacobian_eigenvalues(trainer.g, trainer.d, trainer.probe_real, trainer.probe_z)
               return [Record(trainer.step, {"spectral_radius": float(abs(values).max())}, {"eigenvalues": values})]

   (the probe-batch loss of either player is :mod:`analysis.probe_loss`'s);
2. add ``"analysis.jacobian:JacobianSpectrum"`` to :data:`KINDS` below: ``landscape record``
   and sweeps then make it, and ``Run.measurements("jacobian")`` reads it back, one row per step;
3. optionally a command, ``landscape/cli/jacobian.py``, on top of the shared measure-at-checkpoints
   options of :mod:`landscape.cli.options` (as ``landscape hessian`` and ``landscape quality`` are),
   declaring ``COMMANDS = {"jacobian": jacobian}``: the CLI registers every module that declares it.

That is three files (the kind, the ``KINDS`` line, the command) plus tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from landscape.measurements import Measurement

#: Every measurement kind, as ``"module:Class"`` (imported when used, so this module stays cheap). A run is
#: given each kind whose ``applies_to(config)`` holds; two that store the same ``kind`` exclude each other.
KINDS: tuple[str, ...] = (
    "analysis.hessian.measurement:HessianEstimates",
    "analysis.quality.measurement:ImageQuality",
    "analysis.quality.toy_coverage:ToyCoverage",
    "analysis.game.measurement:GameSpectrum",
    "analysis.surface.measurement:LossSurfaces",  # on demand only: applies_to is false, every 0
    "analysis.surface.measurement:GradientWalks",  # on demand only: applies_to is false, every 0
)


def kinds() -> list[type[Measurement]]:
    """The registered measurement classes, in :data:`KINDS` order."""
    classes = []
    for entry in KINDS:
        module, _, name = entry.partition(":")
        classes.append(getattr(importlib.import_module(module), name))
    return classes


def for_run(config: Any, *, say: Callable[[str], None] | None = None, **context: Any) -> list[Measurement]:
    """The measurements a run with ``config`` makes while it trains: each registered kind that applies to it.

    Kinds whose ``<kind>_every`` is 0 in the config are left out (the trainer would never call
    them, and an image run's quality needs no classifier then). ``say(text)`` gets one line per
    result (``landscape record`` prints them); ``context`` goes to each kind's ``for_training``
    (``reference=``: the quality reference an image run is measured against, else the cached one).
    """
    from landscape.measurements import configured_every

    chosen = []
    for cls in kinds():
        if not cls.applies_to(config) or configured_every(config, cls.kind) == 0:
            continue
        chosen.append(cls.for_training(config, say=say, **context))
    return chosen


def record_options(config: Any) -> dict[str, Any]:
    """``trainers.record``'s keyword arguments for a run with ``config``: its measurements (:func:`for_run`).

    A sweep passes this function itself (by reference, as ``hooks=``), so that every worker
    builds the same measurements for its run.
    """
    return {"measurements": for_run(config)}


__all__ = ["KINDS", "for_run", "kinds", "record_options"]
