"""Record a PyTorch Lightning GAN into a run file: :class:`LandscapeCallback`.

Add the callback to the ``Trainer`` and every training batch becomes one row of a
landscape run file, written by :class:`landscape.writer.RunWriter`; ``landscape lgc``,
``report`` and (for networks landscape can rebuild) ``hessian`` then read it::

    trainer = lightning.Trainer(max_epochs=2, callbacks=[LandscapeCallback("runs/gan.h5")])
    trainer.fit(module, datamodule)

What it records, and from which hooks (all of them fire under manual optimisation,
``automatic_optimization = False``, as under automatic optimisation):

- ``on_before_backward(loss)`` fires in ``self.manual_backward(loss)``: the loss is kept
  (summed, when several backward calls feed one step) for the optimizer that steps next;
- ``on_before_optimizer_step(optimizer)`` fires in ``opt.step()``, after the gradients
  exist and before the update (and before gradient clipping): the player of that optimizer
  (``players``, in the order ``configure_optimizers`` returns them; ``("g", "d")`` by default)
  gets ``<player>_loss`` (the loss kept above) and ``<player>_grad_norm``, the L2 norm of the
  gradient of every parameter that optimizer owns, i.e. of the update it is about to apply;
- ``on_train_batch_end(outputs)``: the row is written, at ``step`` = batches done so far,
  ``epoch`` = Lightning's epoch + 1. Scalars that ``training_step`` returns in a dict are
  recorded too and win over the captured values: D's mean outputs (``d_out_real``,
  ``d_out_fake``), the two parts of D's loss with their gradient norms (``d_loss_real``,
  ``d_grad_norm_real``, ``d_loss_fake``, ``d_grad_norm_fake``: the paper's four LGC panels),
  a Wasserstein estimate, anything. A player that did not step in a batch (a critic-only
  batch of a WGAN) has NaN in that row, as in a run ``landscape record`` writes.

With ``networks`` (default: the module's ``generator`` and ``discriminator`` attributes,
saved as ``g`` and ``d``) it stores the weights at the stage boundaries of the planned
run (``stages`` equal parts of ``trainer.max_epochs`` x batches per epoch, or
``iterations``) and at the end, with :meth:`RunWriter.add_checkpoint`. ``landscape hessian``
(and quality, surfaces) rebuild the networks from those weights when the run's ``config`` is a
:class:`~landscape.config.TrainConfig` (or its dict) and the module's networks are the ones
``trainers.models.build_models(config)`` makes; the callback then stores the probe batch
the Hessian is taken on (the first batch's images and latent vectors drawn as the config
says) unless ``probe=(real, z)`` is given.

Only the global-zero process writes (under DDP the others run the hooks and do nothing).
This module imports Lightning (``pip install 'landscape[lightning]'``); it never imports
the analysis or the trainers.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from lightning.pytorch import Callback

from landscape.errors import LandscapeError
from landscape.integrations import plain_config, probe_z, scalar
from landscape.stages import DEFAULT_STAGES, check_stages, stage_starts
from landscape.writer import RunWriter

#: Module attributes tried, in order, for each network when ``networks`` is not given.
DEFAULT_NETWORKS: dict[str, tuple[str, ...]] = {"g": ("generator", "g", "netG"), "d": ("discriminator", "d", "netD")}


class LandscapeCallback(Callback):
    """A Lightning callback that records each player's loss and gradient norm at every batch into a run file."""

    def __init__(
        self,
        path: str | os.PathLike,
        config: Any = None,
        *,
        players: Sequence[str] = ("g", "d"),
        networks: Mapping[str, str | torch.nn.Module] | None = None,
        stages: int = DEFAULT_STAGES,
        iterations: int | None = None,
        probe: tuple[Any, Any] | None = None,
        probe_size: int | None = None,
        fields: Sequence[str] = (),
        overwrite: bool = False,
    ) -> None:
        """Record into the run file at ``path`` (refused if it exists, unless ``overwrite``).

        ``config``: the run's settings as stored in the file (a ``TrainConfig``, a dict, a
        namespace); None takes the module's ``hparams``. ``players``: a name per optimizer, in
        ``configure_optimizers`` order (each makes fields ``<name>_loss`` and ``<name>_grad_norm``).
        ``networks``: checkpoint name -> module attribute name (or the module itself); None
        looks for ``generator``/``discriminator`` (then ``g``/``d``, ``netG``/``netD``).
        ``stages``: checkpoints at the boundaries of this many equal parts of the run (0: only at
        the start and the end). ``iterations``: the planned number of training batches, when
        ``max_epochs`` x batches per epoch is not it (``max_steps`` counts optimizer steps, of
        which a GAN makes several per batch). ``probe``: (real, z) for the Hessian analyses;
        None takes them as the module docstring says. ``fields``: extra fields a later batch
        returns that the first batch's ``training_step`` does not.
        """
        super().__init__()
        self.path = os.fspath(path)
        self.config = config
        self.players = tuple(str(p) for p in players)
        if not self.players or len(set(self.players)) != len(self.players):
            raise LandscapeError(f"players must be distinct names, one per optimizer, got {tuple(players)!r}.")
        self.networks = networks
        if not (isinstance(stages, int) and stages >= 0):
            raise LandscapeError(f"stages must be a whole number >= 0, got {stages!r}.")
        if stages:
            check_stages(stages, "stages")
        self.stages = stages
        if iterations is not None and not (isinstance(iterations, int) and iterations >= 1):
            raise LandscapeError(f"iterations must be a whole number >= 1, got {iterations!r}.")
        self.iterations = iterations
        self.probe = probe
        self.probe_size = probe_size
        self.extra_fields = tuple(fields)
        self.overwrite = overwrite
        self.writer: RunWriter | None = None
        self.step = 0  # batches recorded
        self.checkpoint_steps: list[int] = []
        self.hook_calls = {"on_before_backward": 0, "on_before_optimizer_step": 0, "on_train_batch_end": 0}
        self._player_of: dict[int, str] = {}
        self._modules: dict[str, torch.nn.Module] = {}
        self._config: dict[str, Any] = {}
        self._pending_loss: torch.Tensor | None = None
        self._row: dict[str, Any] = {}
        self._fields: tuple[str, ...] | None = None
        self._skipped: set[str] = set()
        self._saved: set[int] = set()

    # ------------------------------------------------------------------ set-up
    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        """Create the run file (global zero only): config, networks, the plan, the step-0 checkpoint."""
        if not trainer.is_global_zero or self.writer is not None:
            return
        optimizers = list(trainer.optimizers)
        if len(optimizers) != len(self.players):
            raise LandscapeError(f"LandscapeCallback has players {', '.join(self.players)} but the module has "
                                 f"{len(optimizers)} optimizer(s); give players=(...) with one name per optimizer, "
                                 "in configure_optimizers order.")
        self._player_of = {id(opt): name for opt, name in zip(optimizers, self.players)}
        self._modules = self._find_networks(pl_module)
        config = self.config if self.config is not None else getattr(pl_module, "hparams", None)
        self._config = plain_config(config)
        planned = self.iterations or _planned_batches(trainer)
        self.checkpoint_steps = (stage_starts(planned, self.stages) if planned and self.stages
                                 else [0] + ([planned] if planned else []))
        self.writer = RunWriter(self.path, self._config, overwrite=self.overwrite)
        self.writer.set_meta("recorded_by", f"{__name__}.LandscapeCallback")
        self.writer.set_meta("schedule", {"planned_iters": planned, "checkpoint_steps": self.checkpoint_steps,
                                          "iters_per_epoch": _batches_per_epoch(trainer)})
        if self._modules:
            self.writer.set_meta("networks", {name: {"params": sum(p.numel() for p in m.parameters() if p.requires_grad)}
                                              for name, m in self._modules.items()})
        if self.probe is not None:
            self.writer.set_probe(*self.probe)
        self._checkpoint()

    def _find_networks(self, pl_module: Any) -> dict[str, torch.nn.Module]:
        found: dict[str, torch.nn.Module] = {}
        if self.networks is not None:
            for name, where in self.networks.items():
                module = getattr(pl_module, where, None) if isinstance(where, str) else where
                if not isinstance(module, torch.nn.Module):
                    raise LandscapeError(f"networks[{name!r}] = {where!r} is not a torch module of "
                                         f"{type(pl_module).__name__}; name an attribute that holds an nn.Module.")
                found[name] = module
            return found
        for name, attributes in DEFAULT_NETWORKS.items():
            for attribute in attributes:
                module = getattr(pl_module, attribute, None)
                if isinstance(module, torch.nn.Module):
                    found[name] = module
                    break
        if len(found) < len(DEFAULT_NETWORKS):
            warnings.warn(f"LandscapeCallback found no generator/discriminator attributes on {type(pl_module).__name__}, "
                          "so the run has no checkpoints (lgc and report work; hessian needs them): give "
                          "networks={'g': 'my_generator', 'd': 'my_critic'}.", stacklevel=2)
            return {}
        return found

    def _checkpoint(self) -> None:
        if self.writer is None or not self._modules or self.step in self._saved:
            return
        self.writer.add_checkpoint(self.step, {name: m.state_dict() for name, m in self._modules.items()})
        self._saved.add(self.step)

    # ------------------------------------------------------------------ per batch
    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        """On the first batch: store the probe batch when the config says how z is drawn (and none was given)."""
        if self.writer is None or self.step != 0 or self.probe is not None:
            return
        real = _first_tensor(batch)
        n = self.probe_size or int(self._config.get("probe_size", 128) or 128)
        if real is None or "z_dim" not in self._config:
            return
        real = real[:n].detach().cpu()
        if real.dtype == torch.uint8:
            real = real.float() / 127.5 - 1  # landscape's scaling of images
        self.probe = (real, probe_z(self._config, real.shape[0]))
        self.writer.set_probe(*self.probe)

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: torch.Tensor) -> None:
        """``manual_backward(loss)``: keep the loss for the optimizer that steps next."""
        self.hook_calls["on_before_backward"] += 1
        if self.writer is None:
            return
        loss = loss.detach().float()
        self._pending_loss = loss if self._pending_loss is None else self._pending_loss + loss

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        """``opt.step()``: that optimizer's player gets the kept loss and the norm of the gradient it applies."""
        self.hook_calls["on_before_optimizer_step"] += 1
        if self.writer is None:
            return
        player = self._player_of.get(id(optimizer)) or self._player_of.get(id(getattr(optimizer, "optimizer", None)))
        if player is None:
            return
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        with torch.no_grad():
            norm = (torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads
                    else torch.tensor(float("nan")))
        self._row[f"{player}_loss"] = self._pending_loss if self._pending_loss is not None else float("nan")
        self._row[f"{player}_grad_norm"] = norm
        self._pending_loss = None

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Write the batch's row (the returned scalars win over the captured ones); checkpoint at a stage boundary."""
        self.hook_calls["on_train_batch_end"] += 1
        if self.writer is None:
            return
        row = dict(self._row)
        if isinstance(outputs, Mapping):
            for key, value in outputs.items():
                if key == "loss":
                    continue
                value = scalar(value)
                if value is not None:
                    row[str(key)] = value
        if self._fields is None:
            self._fields = tuple(dict.fromkeys([*(f"{p}_{kind}" for p in self.players for kind in ("loss", "grad_norm")),
                                                *row, *self.extra_fields]))
        unknown = [k for k in row if k not in self._fields]
        for key in unknown:
            row.pop(key)
            if key not in self._skipped:
                self._skipped.add(key)
                warnings.warn(f"LandscapeCallback: {key!r} was not returned by the first batch, so it is not a field of "
                              f"{self.path} and is not recorded; give fields=[{key!r}] to record it.", stacklevel=2)
        values = {name: row.get(name, float("nan")) for name in self._fields}
        self.writer.log(self.step, epoch=trainer.current_epoch + 1, **values)
        self._row = {}
        self._pending_loss = None
        self.step += 1
        if self.step in self.checkpoint_steps:
            self._checkpoint()

    # ------------------------------------------------------------------ end
    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        """The last checkpoint (if the run stopped off a boundary, the plan becomes what ran); close as finished."""
        if self.writer is None:
            return
        self._checkpoint()
        planned = self.checkpoint_steps[-1] if len(self.checkpoint_steps) > 1 else None
        if planned != self.step:
            self.checkpoint_steps = sorted(self._saved)
            self.writer.set_meta("schedule", {"planned_iters": self.step, "checkpoint_steps": self.checkpoint_steps,
                                              "iters_per_epoch": _batches_per_epoch(trainer)})
        self._close("finished")

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        """A crash or Ctrl-C: every recorded row is kept, the run is closed as interrupted."""
        self._close("interrupted")

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._close("interrupted")  # a no-op after on_train_end

    def _close(self, status: str) -> None:
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close(status)


def _first_tensor(batch: Any) -> torch.Tensor | None:
    """The images of a batch: the batch itself, its first element, or its first tensor value."""
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], torch.Tensor):
        return batch[0]
    if isinstance(batch, Mapping):
        return next((v for v in batch.values() if isinstance(v, torch.Tensor)), None)
    return None


def _batches_per_epoch(trainer: Any) -> int | None:
    n = trainer.num_training_batches
    return int(n) if isinstance(n, int) or (isinstance(n, float) and n != float("inf")) else None


def _planned_batches(trainer: Any) -> int | None:
    """Training batches the trainer will run: ``max_epochs`` x batches per epoch (None when unknown or unbounded)."""
    per_epoch = _batches_per_epoch(trainer)
    epochs = trainer.max_epochs
    if not per_epoch or epochs is None or epochs < 1:
        return None
    return per_epoch * epochs


__all__ = ["LandscapeCallback"]
