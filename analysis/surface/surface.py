"""Loss slices around a checkpoint: directions chosen, the grid evaluated in chunks, stored as it goes.

A :class:`Surface` is one slice of one player's probe loss (the other network fixed) around the
weights of a stored checkpoint: 1-D (a curve along one direction) or 2-D (a grid over a plane),
on the run's probe batch or on a larger batch from its dataset. :func:`plan_surface` rebuilds the
networks, draws the directions (:mod:`analysis.surface.directions`) and lays out the grid;
:func:`fill_surface` evaluates the grid points not yet done, chunk by chunk
(:mod:`analysis.surface.evaluate`), calling ``on_chunk`` after each, so a caller can store what it
has (the command writes it into the run file every ``--save-every`` seconds and when interrupted).

Stored as the measurement kind ``"surface"``: ``/surface/<step>/<network>-<dirs>-<dims>d`` (e.g.
``/surface/936/g-filter-2d``), so surfaces of different directions at one checkpoint live side by
side; the same kind of slice measured again replaces the old one. Arrays: ``loss`` (grid, or grid x
grid; NaN where not evaluated yet), ``alpha`` and ``beta`` (the coordinates), ``directions`` (dims x
n, float32); for ``pca`` also ``path_steps``, ``path_coords``, ``path_residual`` and ``path_loss``
(each checkpoint's probe loss at its own weights) and ``explained``; for ``hessian`` the ``eigenvalues``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from analysis.surface.directions import (DIRECTION_KINDS, filter_direction, flatten, hessian_directions,
                                         line_direction, pca_directions, random_direction)
from analysis.surface.evaluate import BatchedLoss, grid_losses
from landscape.errors import LandscapeError
from landscape.measurements import Record

#: The measurement kind of loss slices.
KIND = "surface"
#: Grid points per side: at least 2, at most 1,001.
GRID_LIMITS = (2, 1001)
#: Each network's offset to the seed of its random directions, so that G and D never share a draw.
NETWORK_SEED_OFFSET = {"g": 0, "d": 1_000_003}


def parse_dirs(text: str) -> tuple[str, int | None]:
    """``--dirs`` as (kind, other step): ``filter`` -> ("filter", None), ``to:936`` -> ("to", 936); one sentence otherwise."""
    text = str(text).strip().lower()
    if text.startswith("to:"):
        try:
            return "to", int(text[3:])
        except ValueError:
            raise LandscapeError(f"--dirs {text!r}: give the other checkpoint's step after to:, e.g. to:936.") from None
    if text not in DIRECTION_KINDS:
        from landscape.errors import unknown_choice

        raise LandscapeError(unknown_choice("--dirs", text, [*DIRECTION_KINDS, "to:STEP"]))
    return text, None


def dirs_label(kind: str, other: int | None) -> str:
    """The stored name of a direction kind: ``filter``, ``pca``, ``to936``."""
    return f"to{other}" if kind == "to" else kind


def check_grid(grid: int, dims: int, value_range: tuple[float, float] | None) -> None:
    """One sentence unless ``dims`` is 1 or 2, the grid has 2 to 1,001 points per side and the range rises."""
    if dims not in (1, 2):
        raise LandscapeError(f"--dims must be 1 or 2, got {dims}.")
    if not GRID_LIMITS[0] <= grid <= GRID_LIMITS[1]:
        raise LandscapeError(f"--grid must be between {GRID_LIMITS[0]} and {GRID_LIMITS[1]:,} points per side, "
                             f"got {grid}.")
    if value_range is not None:
        low, high = value_range
        if not (np.isfinite(low) and np.isfinite(high)) or low >= high:
            raise LandscapeError(f"--range must be two finite numbers, low below high, got {low:g} {high:g}.")


@dataclass
class Surface:
    """One loss slice: where (step, network), along what (dirs, directions), on what (batch), and the grid.

    ``loss`` has NaN at points not evaluated yet; :attr:`complete` says whether all are.
    """

    step: int
    network: str
    dirs: str  # filter, random, hessian, pca or to<STEP>
    dims: int
    seed: int
    batch: str  # "probe" or the size of the evaluation batch
    alpha: np.ndarray
    beta: np.ndarray | None
    loss: np.ndarray
    directions: np.ndarray  # dims x n, float64 while computing
    center_loss: float = float("nan")
    seconds: float = 0.0
    attrs: dict[str, Any] = field(default_factory=dict)  # kind-specific scalars (explained variance, eigenvalues)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # kind-specific arrays (the PCA path)

    @property
    def key(self) -> str:
        """Its name under ``/surface/<step>``: ``<network>-<dirs>-<dims>d``."""
        return f"{self.network}-{self.dirs}-{self.dims}d"

    @property
    def coords(self) -> np.ndarray:
        """(points, dims) coordinates of the grid points, in the order of ``loss.ravel()`` (alpha slowest)."""
        if self.dims == 1:
            return self.alpha[:, None]
        a, b = np.meshgrid(self.alpha, self.beta, indexing="ij")
        return np.c_[a.ravel(), b.ravel()]

    @property
    def points_done(self) -> int:
        return int(np.sum(np.isfinite(self.loss)))

    @property
    def complete(self) -> bool:
        return self.points_done == self.loss.size

    def settings(self) -> dict[str, Any]:
        """What makes two slices the same (a stored partial one may be continued only with these)."""
        return {"dirs": self.dirs, "dims": self.dims, "seed": self.seed, "batch": self.batch,
                "grid": int(len(self.alpha)), "alpha_min": float(self.alpha[0]), "alpha_max": float(self.alpha[-1]),
                "beta_min": float(self.beta[0]) if self.beta is not None else "null",
                "beta_max": float(self.beta[-1]) if self.beta is not None else "null"}

    def record(self) -> Record:
        """The measurement record, ``/surface/<step>/<key>``."""
        attrs = {**self.settings(), "center_loss": float(self.center_loss),
                 "points": int(self.loss.size), "points_done": self.points_done, "complete": self.complete,
                 "seconds": float(self.seconds), "loss_min": float(np.nanmin(self.loss)) if self.points_done else
                 float("nan"), "loss_max": float(np.nanmax(self.loss)) if self.points_done else float("nan"),
                 **self.attrs}
        arrays = {"loss": self.loss, "alpha": self.alpha, "directions": np.asarray(self.directions, np.float32),
                  **self.arrays}
        if self.beta is not None:
            arrays["beta"] = self.beta
        return Record(int(self.step), attrs, arrays, network=self.key)


@dataclass
class SurfacePlan:
    """A surface ready to be evaluated: the :class:`Surface` (its grid NaN) and the batched loss to evaluate it with."""

    surface: Surface
    batched: BatchedLoss

    @property
    def directions(self) -> torch.Tensor:
        return torch.as_tensor(self.surface.directions, dtype=torch.float64)


def _evaluation_batch(run: Any, batch: int | str, seed: int) -> tuple[Any, Any, Any]:
    """(real, z, labels) to evaluate on: the probe batch, or ``batch`` images of the run's dataset and fresh z."""
    from analysis.probe_loss import run_probe, run_probe_labels

    if batch == "probe":
        real, z = run_probe(run)
        return real, z, run_probe_labels(run)
    from landscape.data import load_dataset, to_unit_range
    from landscape.data.toys import is_toy, toy_dataset

    config = run.config
    name = config.get("dataset")
    data = toy_dataset(name, seed=config.get("seed", 0)) if is_toy(name) else load_dataset(name, root=config.get("data_dir"))
    images = torch.as_tensor(data.points if is_toy(name) else data.images)
    if config.get("subset"):
        images = images[: int(config["subset"])]
    if int(batch) > len(images):
        raise LandscapeError(f"--batch {batch} is more than the {len(images):,} images of the run's dataset.")
    generator = torch.Generator().manual_seed(int(seed) + 7)
    idx = torch.randperm(len(images), generator=generator)[: int(batch)]
    real = to_unit_range(images[idx]) if images.dtype == torch.uint8 else images[idx].float()
    z_dim = int(config.get("z_dim", 100))
    if config.get("z_dist", "uniform") == "uniform":
        z = torch.rand(int(batch), z_dim, generator=generator) * 2 - 1
    else:
        z = torch.randn(int(batch), z_dim, generator=generator)
    labels = None
    if config.get("conditional", False):
        labels = torch.as_tensor(np.asarray(data.labels))[idx]
    return real, z, labels


def _flat_checkpoint(run: Any, step: int, network: str, like: BatchedLoss) -> torch.Tensor:
    """A checkpoint's trainable weights of ``network``, flat (float64), in the loss's parameter order."""
    state = run.checkpoint(int(step), network)
    names = [n[len("own."):] for n in like.names]
    return torch.cat([torch.as_tensor(np.asarray(state[n])).reshape(-1).to(torch.float64) for n in names])


def plan_surface(run: Any, step: int, network: str, *, dirs: str = "filter", dims: int = 2, grid: int = 41,
                 value_range: tuple[float, float] | None = None, batch: int | str = "probe", seed: int = 0,
                 device: str = "cpu", hessian_products: int = 400) -> SurfacePlan:
    """Everything a slice needs before its first loss evaluation: networks, loss, directions, coordinates.

    ``run`` is a :class:`~landscape.reader.Run` or a path; ``dirs`` as ``--dirs`` (filter, random,
    hessian, pca, ``to:STEP``). ``value_range`` (low, high) is the coordinate range of each axis
    (default: -1 to 1; ``to:STEP`` -0.5 to 1.5; ``pca`` the checkpoints' coordinates and a 20%
    margin, per axis). ``batch`` is ``"probe"`` (the run's probe batch) or a number of images from
    the run's dataset (with z drawn from the seed). Every refusal is one sentence, raised before
    anything is evaluated.
    """
    from analysis.probe_loss import gan_loss, loss_options
    from landscape.reader import as_run
    from trainers.models import load_models

    run = as_run(run)
    kind, other = parse_dirs(dirs)
    check_grid(grid, dims, value_range)
    steps = run.checkpoint_steps
    if int(step) not in steps:
        raise LandscapeError(f"{run.path} has no checkpoint at step {step}; stored steps: "
                             f"{', '.join(map(str, steps)) or 'none'}.")
    if kind == "to":
        if other not in steps:
            raise LandscapeError(f"--dirs to:{other}: {run.path} has no checkpoint at step {other}; stored steps: "
                                 f"{', '.join(map(str, steps))}.")
        if other == int(step):
            raise LandscapeError(f"--dirs to:{other} is the checkpoint itself; choose another step.")
        if dims != 1:
            raise LandscapeError("--dirs to:STEP is a line, so it draws a 1-D slice; use --dims 1.")
    if kind == "pca" and len(steps) < 3:
        raise LandscapeError(f"--dirs pca needs at least 3 checkpoints (the point and two more to span a plane); "
                             f"{run.path} has {len(steps)}.")
    if batch != "probe" and (isinstance(batch, bool) or int(batch) < 1):
        raise LandscapeError(f"--batch must be probe or a number of images of at least 1, got {batch}.")
    batch = "probe" if batch == "probe" else int(batch)

    real, z, labels = _evaluation_batch(run, batch, seed)
    g, d = load_models(run, int(step), device)
    options = loss_options(run.config, probe_labels=labels)
    closure = gan_loss(g, d, real, z, network, **options)
    from landscape.networks import label

    what = f"the {label(network)} loss at step {step}"
    generator = torch.Generator().manual_seed(int(seed) + NETWORK_SEED_OFFSET.get(network, 0))
    attrs: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    if kind == "hessian":
        vectors, values = hessian_directions(closure.loss_fn, closure.params, dims, seed=seed,
                                             max_products=hessian_products, what=what)
        directions = vectors
        arrays["eigenvalues"] = values
        attrs.update({f"eigenvalue_{i + 1}": float(v) for i, v in enumerate(values)})
        closure = gan_loss(g, d, real, z, network, **options)  # a fresh graph for the slice
    batched = BatchedLoss(closure)
    center_ranges = None
    if kind == "filter":
        directions = torch.stack([filter_direction(closure.params, generator) for _ in range(dims)])
    elif kind == "random":
        directions = torch.stack([random_direction(closure.params, generator) for _ in range(dims)])
    elif kind == "to":
        directions = _flat_checkpoint(run, other, network, batched)[None, :] - batched.center[None, :]
        attrs["other_step"] = int(other)
    elif kind == "pca":
        flats = np.stack([_flat_checkpoint(run, s, network, batched).numpy() for s in steps])
        plane = pca_directions(batched.center.numpy(), flats, k=dims, steps=steps)
        directions = torch.as_tensor(plane.directions)
        attrs.update({f"explained_{i + 1}": float(v) for i, v in enumerate(plane.explained)})
        arrays.update({"explained": plane.explained, "path_steps": plane.steps, "path_coords": plane.coords,
                       "path_residual": plane.residual})
        arrays["path_loss"] = batched.values(torch.as_tensor(flats)).numpy()
        lo, hi = plane.coords.min(axis=0), plane.coords.max(axis=0)
        lo, hi = np.minimum(lo, 0), np.maximum(hi, 0)
        margin = 0.2 * np.maximum(hi - lo, 1e-12)
        center_ranges = [(float(a), float(b)) for a, b in zip(lo - margin, hi + margin)]
    if value_range is None:
        value_range = (-0.5, 1.5) if kind == "to" else (-1.0, 1.0)
        ranges = center_ranges or [value_range] * dims
    else:
        ranges = [tuple(value_range)] * dims
    alpha = np.linspace(*ranges[0], grid)
    beta = np.linspace(*ranges[1], grid) if dims == 2 else None
    shape = (grid,) if dims == 1 else (grid, grid)
    center_loss = float(batched.values(batched.center[None, :])[0])
    surface = Surface(int(step), network, dirs_label(kind, other), dims, int(seed),
                      "probe" if batch == "probe" else str(batch), alpha, beta, np.full(shape, np.nan),
                      directions.to(torch.float64).numpy(), center_loss, attrs=attrs, arrays=arrays)
    surface.attrs["vectorised"] = True
    return SurfacePlan(surface, batched)


def resume_from(plan: SurfacePlan, stored: Surface | None) -> bool:
    """Take the evaluated points of a stored partial surface with the same settings; whether it was taken."""
    if stored is None or stored.complete or stored.settings() != plan.surface.settings():
        return False
    if stored.loss.shape != plan.surface.loss.shape:
        return False
    plan.surface.loss = stored.loss.copy()
    plan.surface.seconds = stored.seconds
    return True


def fill_surface(plan: SurfacePlan, on_chunk: Callable[[Surface], None] | None = None) -> Surface:
    """Evaluate every grid point not done yet, chunk by chunk; ``on_chunk(surface)`` after each chunk.

    A ``KeyboardInterrupt`` leaves the points done so far in the surface (the caller stores them).
    """
    surface = plan.surface
    flat = surface.loss.reshape(-1)
    todo = np.flatnonzero(~np.isfinite(flat))
    coords = surface.coords[todo]
    start_time = time.perf_counter()
    base = surface.seconds
    for start, values in grid_losses(plan.batched, plan.directions, coords):
        flat[todo[start:start + len(values)]] = values
        surface.seconds = base + time.perf_counter() - start_time
        if on_chunk is not None:
            on_chunk(surface)
    surface.attrs["vectorised"] = bool(plan.batched.vectorised)
    return surface


def compute_surface(run: Any, step: int, network: str, **options: Any) -> Surface:
    """One slice, planned and evaluated in memory (:func:`plan_surface` options); nothing is stored."""
    plan = plan_surface(run, step, network, **options)
    return fill_surface(plan)


__all__ = ["GRID_LIMITS", "KIND", "Surface", "SurfacePlan", "check_grid", "compute_surface", "dirs_label",
           "fill_surface", "parse_dirs", "plan_surface", "resume_from"]
