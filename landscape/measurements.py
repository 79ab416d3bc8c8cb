"""A measurement is one thing: a kind of value measured on a GAN's networks, during training or afterwards.

Hessian estimates, sample quality (a classifier's metrics of generated images, or a toy's exact
coverage) and whatever comes next (the game Jacobian's spectrum, loss surfaces) are all the same
shape, and every floor handles them the same way:

- **name** (``kind``): the run-file group ``/<kind>`` that holds them and the name of their schedule
  (``meta:schedule["<kind>_steps"]``);
- **when** (:class:`Cadence`): by default at the stage boundaries or at the end of each sample epoch,
  and what ``every = N`` means; kinds of the run's config (:data:`CONFIGURED_KINDS`) take ``every``
  from its ``<kind>_every`` setting, any other kind from the measurement itself;
- **what it stores** (:class:`Record`): per step (and, for per-network kinds, per network) scalar
  attributes and arrays, written as ``/<kind>/<step>[/<network>]`` by one group writer
  (:func:`landscape.runfile.write_measurement_group`), through ``RunWriter.add_measurement`` while
  training or ``landscape.amend.append_measurement`` (atomically) into a closed file;
- **how it reads back**: ``Run.measurements(kind)``, one row per stored group with its attributes as
  columns (the kinds of :data:`LONG_KINDS` one row per value instead).

The computing half lives in ``analysis`` (``analysis.measurements`` registers every kind); the trainer
sees only the :class:`Measurement` interface below and calls whatever is due. This module imports
nothing heavy: it is the vocabulary the core, the trainers and the analysis share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from landscape.runfile import QUALITY_INFO

#: Kinds stored as values plus describing attributes, read back one row per value (kind -> the describing
#: attributes): ``/quality/<step>`` holds metric -> value and :data:`QUALITY_INFO`.
LONG_KINDS: dict[str, tuple[str, ...]] = {"quality": QUALITY_INFO}


@dataclass(frozen=True)
class Record:
    """One stored measurement: ``/<kind>/<step>`` (or ``/<kind>/<step>/<network>`` when ``network`` is given).

    ``attrs`` are scalars (str, bool, int, float; anything else is stored as JSON text, None as ``"null"``),
    ``arrays`` anything numpy or torch can turn into an array. A record replaces one stored at its place.
    """

    step: int
    attrs: Mapping[str, Any] = field(default_factory=dict)
    arrays: Mapping[str, Any] = field(default_factory=dict)
    network: str | None = None


@dataclass(frozen=True)
class Cadence:
    """When a kind is measured during training, given its ``every``.

    ``every`` None: at the ``default`` steps, ``"stages"`` (the stage boundaries; the start and the
    end of a run without stages) or ``"samples"`` (the end of each sample epoch); 0: never; N: every
    N iterations from 0 (``from_start``) or from N, and at the last step. ``asked_by_default``: whether
    the default (None) asks for measurements, so that a run given no measurement of the kind says so.
    ``follows``: another configured kind whose ``every`` this one takes when its own is None (the game
    Jacobian follows the Hessian estimates, so ``hessian_every = 0`` switches both off).
    """

    default: str = "stages"
    from_start: bool = True
    asked_by_default: bool = True
    follows: str | None = None

    def steps(self, every: int | None, total: int, boundaries: Iterable[int], sample_ends: Iterable[int]) -> list[int]:
        """The steps (iterations done) at which to measure in a run of ``total`` iterations."""
        if every is None:
            if self.default == "samples":
                return sorted(set(sample_ends))
            return sorted(set(boundaries) or {0, total})
        if every == 0:
            return []
        return sorted(set(range(0 if self.from_start else every, total + 1, every)) | {total})


#: The kinds whose ``every`` is a setting of the run's config (``<kind>_every``, stored resolved), and when
#: they run: Hessian estimates at the stage boundaries, sample quality at the end of each sample epoch,
#: the game Jacobian's spectrum as the Hessian estimates unless its own ``game_every`` is set.
CONFIGURED_KINDS: dict[str, Cadence] = {
    "hessian": Cadence("stages", from_start=True, asked_by_default=True),
    "quality": Cadence("samples", from_start=False, asked_by_default=False),
    "game": Cadence("stages", from_start=True, asked_by_default=True, follows="hessian"),
}


class Measurement:
    """A measurement as a trainer sees it: its kind, when it is due, and what it stores when called.

    Subclass it (``analysis.measurements`` registers the subclasses) and give:

    - ``kind``: the run-file group and schedule name (``"hessian"``);
    - ``__call__(trainer)``: the records to store, computed from the trainer's state (``trainer.g``,
      ``trainer.d``, ``trainer.step``, ``trainer.epoch``, ``trainer.config``, ``trainer.probe_real``,
      ``trainer.probe_z``, ``trainer.probe_labels``, ``trainer.fixed_z``); it must leave the networks,
      their gradients and the random streams of training alone;
    - optionally ``every`` (kinds not in :data:`CONFIGURED_KINDS`: when to measure) or ``cadence``, and
      :meth:`resolve_every` to refuse or change a request with a note (Hessian estimates of a DCGAN
      on a CPU).

    The trainer calls it at each step its schedule plans for the kind and stores what it returns; the
    time it takes is kept out of the training rate (``trainer.measurement_seconds[kind]``).
    """

    kind: str = ""
    every: int | None = None

    @property
    def cadence(self) -> Cadence:
        """When the kind runs: the configured kinds' cadence, else the default (the stage boundaries)."""
        return CONFIGURED_KINDS.get(self.kind, Cadence())

    def resolve_every(self, config: Any, device_type: str) -> tuple[int | None, str | None]:
        """The ``every`` this run uses (``config.<kind>_every`` for a configured kind, else ``self.every``) and a
        note saying why it differs from the request, if it does."""
        return configured_every(config, self.kind, self.every), None

    def __call__(self, trainer: Any) -> Iterable[Record]:
        raise NotImplementedError(f"{type(self).__name__} does not measure during training")


class OnDemand(Measurement):
    """A kind no run makes unless it is given (``analysis.measurements.for_run`` leaves it out; loss surfaces,
    gradient walks): at the stage boundaries when it is. Subclass it instead of :class:`Measurement`."""

    @property
    def cadence(self) -> Cadence:
        return Cadence("stages", from_start=True, asked_by_default=False)

    @classmethod
    def applies_to(cls, config: Any) -> bool:
        """On demand only: no run makes it unless given this measurement."""
        return False

    @classmethod
    def for_training(cls, config: Any, say: Any = None, **_: Any) -> OnDemand:
        return cls()


def configured_every(config: Any, kind: str, default: int | None = None) -> int | None:
    """``<kind>_every`` of ``config`` (a ``TrainConfig`` or a stored config dict) for a kind of
    :data:`CONFIGURED_KINDS`, else ``default``; None there means the ``every`` of the kind it follows,
    if it follows one (a config written before the kind had a setting reads as None too)."""
    if kind not in CONFIGURED_KINDS:
        return default
    every = config_value(config, f"{kind}_every", None)
    follows = CONFIGURED_KINDS[kind].follows
    return configured_every(config, follows) if every is None and follows else every


def config_value(config: Any, name: str, default: Any = None) -> Any:
    """A setting of a run's config, given as a ``TrainConfig`` or as the dict a run file stores."""
    return config.get(name, default) if isinstance(config, Mapping) else getattr(config, name, default)


def quality_record(step: int, values: Mapping[str, float], n: int, epoch: int | None = None,
                   info: Mapping[str, Any] | None = None) -> Record:
    """The record of sample-quality measurements at ``step``: each metric's value, ``n`` (generated samples),
    ``epoch`` and the :data:`QUALITY_INFO` entries of ``info`` (None values left out), as ``/quality/<step>``
    has always held them."""
    unknown = set(info or {}) - set(QUALITY_INFO)
    if unknown:
        raise ValueError(f"quality attributes must be among {QUALITY_INFO}, got {sorted(unknown)}")
    clash = set(values) & set(QUALITY_INFO)
    if clash:
        raise ValueError(f"{sorted(clash)} are reserved quality attributes, not metric names")
    attrs: dict[str, Any] = {str(name): float(value) for name, value in values.items()}
    attrs["n"] = int(n)
    if epoch is not None:
        attrs["epoch"] = int(epoch)
    attrs.update({name: value for name, value in (info or {}).items() if value is not None})
    return Record(int(step), attrs)


__all__ = ["CONFIGURED_KINDS", "Cadence", "LONG_KINDS", "Measurement", "OnDemand", "QUALITY_INFO", "Record", "config_value",
           "configured_every", "quality_record"]
