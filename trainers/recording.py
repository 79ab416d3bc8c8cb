"""Record one training run: the library function behind ``landscape record``.

``record(config, path)`` loads the dataset, builds the trainer (device, CPU
threads and Hessian schedule resolved, see :mod:`trainers.threads` and
:mod:`trainers.schedule`), writes every iteration
into a run file and returns a :class:`RunSummary`. A notebook, the reproduction
script, a sweep and the CLI all call it; the CLI only adds a progress bar, Ctrl-C
handling and messages::

    from landscape.config import TrainConfig
    from trainers import record
    from analysis.hessian import curvature_hook          # optional: Hessian estimates during training

    summary = record(TrainConfig(arch="vanilla", dataset="mnist", epochs=2), "runs/x.h5",
                     on_hessian_step=curvature_hook())
    summary.status, summary.iterations                   # ("finished", 936)

Mistakes end in a one-sentence :class:`~landscape.errors.LandscapeError` before
anything is written. A diverged run is a result, not an error: its summary says
``"diverged"``. KeyboardInterrupt (Ctrl-C, or :meth:`GANTrainer.request_stop
<trainers.loop.GANTrainer.request_stop>` from ``on_start``) closes the run file as
"interrupted", keeping every recorded row, and propagates.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landscape.config import TrainConfig
from landscape.data.toys import is_toy, toy_dataset
from landscape.errors import DivergedError, LandscapeError, RunFileError
from trainers.loop import GANTrainer
from trainers.precision import matmul_precision
from trainers.threads import torch_threads


@dataclass
class RunSummary:
    """What :func:`record` did: where the run is, how it ended, and the config it ran with."""

    path: Path
    status: str  # "finished" or "diverged" (an interrupted run raises KeyboardInterrupt)
    iterations: int  # iterations recorded
    planned_iterations: int
    seconds: float  # wall time from the start of training to the end (Hessian estimates included)
    config: TrainConfig  # as run: device and hessian_every resolved
    notes: list[str] = field(default_factory=list)  # settings resolved differently from the config's request
    message: str | None = None  # why a diverged run stopped


def default_run_path(config: TrainConfig) -> Path:
    """``runs/<arch>-<dataset>-<seed>.h5``: where a run goes when no path is given."""
    return Path("runs") / f"{config.arch}-{config.dataset}-{config.seed}.h5"


def record(
    config: TrainConfig,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    on_hessian_step: Callable[[GANTrainer], None] | None = None,
    on_quality_step: Callable[[GANTrainer], None] | None = None,
    on_start: Callable[[GANTrainer], None] | None = None,
    progress: Callable[[GANTrainer], None] | None = None,
) -> RunSummary:
    """Train a GAN with ``config`` and record every iteration into the run file at ``path``.

    ``on_hessian_step(trainer)`` is called at each planned Hessian step (without it
    the run makes no estimates); ``on_quality_step(trainer)`` at each planned
    sample-quality step of an image run (``analysis.quality.quality_hook()``; a toy's
    exact measure needs none); ``on_start(trainer)`` once the trainer is built,
    before anything is recorded (e.g. to show ``trainer.notes`` or keep the
    trainer to stop it); ``progress(trainer)`` a few times a second while training.
    """
    from landscape.writer import RunWriter

    path = Path(path)
    if path.is_dir():
        raise RunFileError(f"{path} is a directory; give a run file name such as {path / 'run.h5'}.")
    if path.exists() and not overwrite:
        raise RunFileError(f"{path} already exists; choose another path, or overwrite=True to replace it.")
    dataset = load_training_data(config)
    check_dataset_size(config, len(dataset))
    data = dataset.points if is_toy(config.dataset) else dataset.images
    trainer = GANTrainer(config, data, on_hessian_step=on_hessian_step, labels=dataset.labels,
                         n_classes=len(dataset.classes), on_quality_step=on_quality_step)
    if on_start is not None:
        on_start(trainer)
    start = time.monotonic()
    status, message = "finished", None
    try:
        with torch_threads(trainer.config.threads), matmul_precision(trainer.config.precision), \
                RunWriter(path, trainer.config.to_dict(), run_fields(trainer.config), overwrite=overwrite) as writer:
            trainer.start_recording(writer)
            trainer.run(progress=progress)
    except DivergedError as err:
        status, message = "diverged", str(err)
    return RunSummary(path, status, trainer.step, trainer.schedule.total_iters, time.monotonic() - start,
                      trainer.config, list(trainer.notes), message)


def load_training_data(config: TrainConfig) -> Any:
    """The training split of ``config.dataset``: a real dataset from disk, or a 2-D toy drawn from the seed."""
    from landscape.data import load_dataset

    if is_toy(config.dataset):
        return toy_dataset(config.dataset, seed=config.seed)
    return load_dataset(config.dataset, root=config.data_dir)


def run_fields(config: TrainConfig) -> tuple[str, ...]:
    """The per-iteration fields a run with ``config`` records: the paper's, plus the critic's Wasserstein
    estimate (wgan, wgan-gp) and the gradient-penalty term (wgan-gp)."""
    from landscape.runfile import GAN_FIELDS

    extra = {"wgan": ("wasserstein",), "wgan-gp": ("wasserstein", "d_gp")}.get(config.loss, ())
    return (*GAN_FIELDS, *extra)


def check_dataset_size(config: TrainConfig, n_images: int) -> None:
    """One sentence if ``subset`` or ``batch_size`` ask for more images than the dataset has."""
    if config.subset is not None and config.subset > n_images:
        raise LandscapeError(
            f"subset {config.subset} is larger than {config.dataset}'s {n_images} training images; lower it."
        )
    if config.batch_size > n_images:
        raise LandscapeError(
            f"batch_size {config.batch_size} is larger than {config.dataset}'s {n_images} training images; lower it."
        )


__all__ = ["RunSummary", "check_dataset_size", "default_run_path", "load_training_data", "record", "run_fields"]
