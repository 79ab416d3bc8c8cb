"""Loss slices and gradient walks as measurement kinds (``"surface"``, ``"walk"``): on demand, never by default.

Both are measured at stored checkpoints by ``landscape surface`` and ``landscape walk``
(:meth:`LossSurfaces.measure_checkpoint`, :meth:`GradientWalks.measure_checkpoint`). A training
run makes neither unless asked: their ``applies_to`` is false, so
:func:`analysis.measurements.for_run` never gives them to ``landscape record`` or a sweep, and
their ``every`` is 0 (never) unless set. To have a run make them as it trains, pass them in::

    trainers.record(config, path, measurements=[*for_run(config), LossSurfaces(every=936, dims=1)])

(``every=None``: at the stage boundaries). During training the slices are filter-normalised
(:mod:`analysis.surface.directions`), around the trainer's current weights on its probe batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from landscape.measurements import OnDemand, Record
from landscape.networks import PARAMETER_NETWORKS



class LossSurfaces(OnDemand):
    """Filter-normalised loss slices of each network (``/surface/<step>/<network>-filter-<dims>d``).

    ``every``: 0 (the default) never during training, None the stage boundaries, N every N
    iterations. ``dims``, ``grid`` and ``value_range`` as ``landscape surface``'s options.
    """

    kind = "surface"
    title = "loss surfaces"

    def __init__(self, every: int | None = 0, *, dims: int = 1, grid: int = 21,
                 value_range: tuple[float, float] = (-1.0, 1.0), seed: int = 0,
                 networks: Sequence[str] = PARAMETER_NETWORKS) -> None:
        from analysis.surface.surface import check_grid

        check_grid(grid, dims, value_range)
        self.every, self.dims, self.grid, self.value_range, self.seed = every, dims, grid, value_range, seed
        self.networks = tuple(networks)

    def __call__(self, trainer: Any) -> list[Record]:
        """Filter-normalised slices of each network around the trainer's weights, on its probe batch."""
        from analysis.probe_loss import gan_loss, loss_options
        from analysis.surface.directions import filter_direction
        from analysis.surface.evaluate import BatchedLoss, grid_losses
        from analysis.surface.surface import NETWORK_SEED_OFFSET, Surface

        options = loss_options(trainer.config, getattr(trainer, "probe_labels", None))
        records = []
        for network in self.networks:
            start = time.perf_counter()
            closure = gan_loss(trainer.g, trainer.d, trainer.probe_real, trainer.probe_z, network, **options)
            batched = BatchedLoss(closure)
            generator = torch.Generator().manual_seed(self.seed + NETWORK_SEED_OFFSET.get(network, 0))
            directions = torch.stack([filter_direction(closure.params, generator) for _ in range(self.dims)])
            alpha = np.linspace(*self.value_range, self.grid)
            beta = alpha.copy() if self.dims == 2 else None
            shape = (self.grid,) * self.dims
            surface = Surface(int(trainer.step), network, "filter", self.dims, self.seed, "probe", alpha, beta,
                              np.full(shape, np.nan), directions.numpy(),
                              float(batched.values(batched.center[None, :])[0]))
            flat = surface.loss.reshape(-1)
            for first, values in grid_losses(batched, directions, surface.coords):
                flat[first:first + len(values)] = values
            surface.seconds = time.perf_counter() - start
            records.append(surface.record())
        return records

    def measure_checkpoint(self, run: Any, step: int, *, networks: Sequence[str] | None = None,
                           **options: Any) -> list[Record]:
        """Slices at the stored checkpoint ``step`` (:func:`analysis.surface.surface.compute_surface` options)."""
        from analysis.surface.surface import compute_surface

        options = {"dims": self.dims, "grid": self.grid, "value_range": self.value_range, "seed": self.seed,
                   **options}
        return [compute_surface(run, step, network, **options).record() for network in networks or self.networks]


class GradientWalks(OnDemand):
    """Progressive gradient walks from each network's weights (``/walk/<step>/<network>``; :mod:`analysis.surface.walk`).

    ``every``: 0 (the default) never during training, None the stage boundaries, N every N iterations.
    """

    kind = "walk"
    title = "gradient walks"

    def __init__(self, every: int | None = 0, *, walks: int = 20, steps: int = 100, step_size: float = 0.01,
                 seed: int = 0, networks: Sequence[str] = PARAMETER_NETWORKS) -> None:
        from analysis.surface.walk import check_walk_options

        check_walk_options(walks, steps, step_size)
        self.every, self.walks, self.steps, self.step_size, self.seed = every, walks, steps, step_size, seed
        self.networks = tuple(networks)

    def __call__(self, trainer: Any) -> list[Record]:
        """Walks of each network from the trainer's weights, on its probe batch (the networks are copied)."""
        from analysis.probe_loss import gan_loss, loss_options
        from analysis.surface.evaluate import BatchedLoss
        from analysis.surface.walk import Walks, init_ranges, walk_batched

        options = loss_options(trainer.config, getattr(trainer, "probe_labels", None))
        records = []
        for network in self.networks:
            start = time.perf_counter()
            batched = BatchedLoss(gan_loss(trainer.g, trainer.d, trainer.probe_real, trainer.probe_z, network,
                                           **options))
            ranges = init_ranges(batched.module.own, [n[len("own."):] for n in batched.names])
            loss, norm = walk_batched(batched, ranges, walks=self.walks, steps=self.steps, step_size=self.step_size,
                                      seed=self.seed)
            records.append(Walks(int(trainer.step), network, self.walks, self.steps, self.step_size, self.seed,
                                 loss, norm, ranges, time.perf_counter() - start).record())
        return records

    def measure_checkpoint(self, run: Any, step: int, *, networks: Sequence[str] | None = None,
                           **options: Any) -> list[Record]:
        """Walks at the stored checkpoint ``step`` (:func:`analysis.surface.walk.gradient_walks` options)."""
        from analysis.surface.walk import gradient_walks

        options = {"walks": self.walks, "steps": self.steps, "step_size": self.step_size, "seed": self.seed,
                   **options}
        return [gradient_walks(run, step, network, **options).record() for network in networks or self.networks]


__all__ = ["GradientWalks", "LossSurfaces"]
