"""A trainer's resume state: what it takes to continue a run bit for bit, and when it is written.

The state after ``step`` iterations holds both networks (buffers included), both
optimizers' states, the torch CPU random state and the CUDA ones, the epoch's
permutation and the position in it, the step and the epoch: with these, the
iterations that follow are the ones an uninterrupted run makes. (The probe batch
and the fixed z are drawn from the seed when the trainer is built, and the Hessian
and quality hooks use generators of their own.) :class:`ResumeSaver` writes the
state through :mod:`landscape.resume` every ``resume_every`` iterations (by default
every :data:`RESUME_SECONDS` of wall time) and at every stage boundary, after the
run file has its rows up to that step.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from landscape.resume import save_resume_state

if TYPE_CHECKING:  # pragma: no cover
    from trainers.loop import GANTrainer

#: Default wall time between resume states (``resume_every`` None).
RESUME_SECONDS = 300.0


def trainer_state(trainer: GANTrainer) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The trainer's resume state as arrays (name -> array) and JSON metadata."""
    arrays: dict[str, np.ndarray] = {}
    for net, module in (("g", trainer.g), ("d", trainer.d)):
        for name, value in module.state_dict().items():
            arrays[f"{net}/{name}"] = value.detach().cpu().numpy()
    groups = {}
    for key, opt in (("opt_g", trainer.opt_g), ("opt_d", trainer.opt_d)):
        state = opt.state_dict()
        for index, values in state["state"].items():
            for name, value in values.items():
                arrays[f"{key}/{index}/{name}"] = np.asarray(value.detach().cpu() if torch.is_tensor(value) else value)
        groups[key] = state["param_groups"]
    arrays["rng/cpu"] = torch.get_rng_state().numpy()
    if trainer.device.type == "cuda":
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            arrays[f"rng/cuda/{i}"] = state.numpy()
    if trainer.perm is not None:
        arrays["perm"] = trainer.perm.cpu().numpy()
    meta = {"step": trainer.step, "epoch": trainer.epoch, "batch_in_epoch": trainer.batch_in_epoch,
            "config": trainer.config.to_dict(), "param_groups": groups, "run_id": trainer.writer.run_id,
            "measurement_seconds": dict(trainer.measurement_seconds)}
    return arrays, meta


def restore_trainer(trainer: GANTrainer, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Put a freshly built trainer into the state ``arrays`` and ``meta`` describe (from :func:`trainer_state`)."""
    device = trainer.device
    for net, module in (("g", trainer.g), ("d", trainer.d)):
        prefix = f"{net}/"
        module.load_state_dict({k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)})
    for key, opt in (("opt_g", trainer.opt_g), ("opt_d", trainer.opt_d)):
        state: dict[int, dict[str, torch.Tensor]] = {}
        for name, value in arrays.items():
            head, _, rest = name.partition("/")
            if head == key:
                index, _, field = rest.partition("/")
                state.setdefault(int(index), {})[field] = torch.from_numpy(np.array(value))
        opt.load_state_dict({"state": state, "param_groups": meta["param_groups"][key]})
    torch.set_rng_state(torch.from_numpy(arrays["rng/cpu"]))
    if device.type == "cuda":
        states = [torch.from_numpy(arrays[f"rng/cuda/{i}"]) for i in range(torch.cuda.device_count())
                  if f"rng/cuda/{i}" in arrays]
        torch.cuda.set_rng_state_all(states)
    trainer.perm = torch.from_numpy(arrays["perm"]).to(device) if "perm" in arrays else None
    trainer.step, trainer.epoch = int(meta["step"]), int(meta["epoch"])
    trainer.batch_in_epoch = int(meta["batch_in_epoch"])
    # a state from before the split by kind holds the total of every kind under the Hessian's old name
    spent = meta.get("measurement_seconds", {"hessian": meta.get("hessian_seconds", 0.0)})
    trainer.measurement_seconds = {str(kind): float(seconds) for kind, seconds in spent.items()}


class ResumeSaver:
    """Writes a trainer's resume state when it is due: every ``every`` iterations (None: every
    :data:`RESUME_SECONDS` of wall time) and at the stage boundaries; ``every`` 0 never."""

    def __init__(self, run_path: str | Path, every: int | None, boundaries: list[int],
                 seconds: float = RESUME_SECONDS) -> None:
        self.run_path = Path(run_path)
        self.every = every
        self.boundaries = set(boundaries)
        self.seconds = seconds
        self._last = time.monotonic()
        self.seconds_spent = 0.0  # wall time spent writing states
        self.saved = 0  # states written

    def due(self, trainer: GANTrainer) -> bool:
        """Whether a state is due after the iteration just done (never at the planned end: a finished run needs none)."""
        if self.every == 0 or trainer.done:
            return False
        if trainer.step in self.boundaries:
            return True
        if self.every is None:
            return time.monotonic() - self._last >= self.seconds
        return trainer.step % self.every == 0

    def save(self, trainer: GANTrainer) -> None:
        """Flush the run file's rows, then replace the resume state with the trainer's current one."""
        start = time.monotonic()
        trainer.writer.flush()
        arrays, meta = trainer_state(trainer)
        save_resume_state(self.run_path, arrays, meta)
        self._last = time.monotonic()
        self.seconds_spent += self._last - start
        self.saved += 1


__all__ = ["RESUME_SECONDS", "ResumeSaver", "restore_trainer", "trainer_state"]
