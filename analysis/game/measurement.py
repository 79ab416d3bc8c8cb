"""The game Jacobian's spectrum as a measurement kind (``"game"``): during training, and at stored checkpoints.

``trainers.record(config, path, measurements=[GameSpectrum()])`` makes the trainer estimate the 6
largest-magnitude eigenvalues of the game Jacobian and the 6 of smallest real part on its probe
batch (with the rotation measures, ``||v||`` and the label; the smallest real parts make the
stability label decisive) at the steps its schedule plans: the stage boundaries by
default, stored as ``/game/<step>``. The run config's ``game_every`` says when (None: as
``hessian_every``, so a run with ``hessian_every = 0`` makes no game estimates either unless
``game_every`` asks), and a DCGAN on a CPU makes none by default (each would take minutes).
During training the players' own Hessians are not estimated again (the Hessian kind does that at
the same steps; :func:`analysis.game.storage.read_game` takes the Nash flag from them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from analysis.game.analyse import GameResult
from analysis.game.gan import estimate_game, estimate_game_models
from analysis.game.storage import to_record
from analysis.probe_loss import loss_options
from landscape.errors import LandscapeError
from landscape.measurements import Measurement, Record, config_value, configured_every

#: Why a run makes no game estimates although its config asked for the default.
DCGAN_ON_CPU_NOTE = ("no game-Jacobian estimates during a DCGAN run on a CPU (minutes each); estimate them after "
                     "training with `landscape game`.")


def _every(config: Any) -> int | None:
    """``game_every`` when the config sets it, else the Hessian estimates' ``hessian_every``."""
    return configured_every(config, "game")


class GameSpectrum(Measurement):
    """The largest-magnitude eigenvalues of the game Jacobian, rotation, ``||v||`` and the label of the point.

    ``every``: ``"config"`` (the run's ``game_every``, else its ``hessian_every``), None (the stage
    boundaries), 0 (never) or N (every N iterations). ``options`` go to :func:`analysis.game.estimate_game_models` (``k`` (default 6), ``which``
    (``("LM", "SR")``), ``tol``, ``blocks`` (False during training), ...). An estimate that fails with a
    :class:`LandscapeError` is skipped and reported to ``on_skip``; it never stops the run.
    """

    kind = "game"
    title = "game Jacobian spectrum"

    def __init__(self, every: int | None | str = "config", on_result: Callable[[GameResult], None] | None = None,
                 on_skip: Callable[[int, LandscapeError], None] | None = None, **options: Any) -> None:
        self.every, self.on_result, self.on_skip = every, on_result, on_skip
        self.options = {"k": 6, "which": ("LM", "SR"), "blocks": False, **options}

    @classmethod
    def applies_to(cls, config: Any) -> bool:
        """Every GAN run whose schedule asks for curvature estimates (``game_every``/``hessian_every`` not 0)."""
        return _every(config) != 0

    @classmethod
    def for_training(cls, config: Any, say: Callable[[str], None] | None = None, **_: Any) -> GameSpectrum:
        """The estimates a recorded run makes, one line each through ``say``."""
        if say is None:
            return cls()

        def on_result(result: GameResult) -> None:
            say(f"Game Jacobian at step {result.step:,}: {result.label.label}, spectral radius "
                f"{result.spectral_radius:.3g}, smallest real part {result.label.min_real:.3g}, |v| {result.v_norm:.3g} "
                f"({result.n_products} products, {result.seconds:.1f} s)")

        def on_skip(step: int, err: Exception) -> None:
            say(f"Game Jacobian at step {step:,} skipped: {err}")

        return cls(on_result=on_result, on_skip=on_skip)

    def resolve_every(self, config: Any, device_type: str) -> tuple[int | None, str | None]:
        """The run's ``game_every`` (else ``hessian_every``); the default for a DCGAN on a CPU: 0, with a note."""
        every = _every(config) if self.every == "config" else self.every
        if every is None and config_value(config, "arch") == "dcgan" and device_type == "cpu":
            return 0, DCGAN_ON_CPU_NOTE
        return every, None

    def __call__(self, trainer: Any) -> list[Record]:
        """One estimate at the trainer's step, on its probe batch."""
        options = loss_options(trainer.config, getattr(trainer, "probe_labels", None), self.options)
        try:
            result = estimate_game_models(trainer.g, trainer.d, trainer.probe_real, trainer.probe_z, step=trainer.step,
                                          **options)
        except LandscapeError as err:
            if self.on_skip is not None:
                self.on_skip(trainer.step, err)
            return []
        if self.on_result is not None:
            self.on_result(result)
        return [to_record(result)]

    def measure_checkpoint(self, run: Any, step: int, *, device: str = "cpu", **options: Any) -> list[Record]:
        """The estimate at the stored checkpoint ``step`` of ``run`` (:func:`analysis.game.estimate_game`)."""
        result = estimate_game(run, step, device=device, **{**self.options, **options})
        if self.on_result is not None:
            self.on_result(result)
        return [to_record(result)]


__all__ = ["DCGAN_ON_CPU_NOTE", "GameSpectrum"]
