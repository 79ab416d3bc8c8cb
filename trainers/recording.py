"""Record one training run: the library function behind ``landscape record``.

``record(config, path)`` loads the dataset, builds the trainer (device, CPU
threads and the schedule of its measurements resolved, see :mod:`trainers.threads` and
:mod:`trainers.schedule`), writes every iteration
into a run file and returns a :class:`RunSummary`. A notebook, the reproduction
script, a sweep and the CLI all call it; the CLI only adds a progress bar, Ctrl-C
handling and messages::

    from landscape.config import TrainConfig
    from trainers import record
    from analysis.hessian import HessianEstimates        # optional: Hessian estimates during training

    summary = record(TrainConfig(arch="vanilla", dataset="mnist", epochs=2), "runs/x.h5",
                     measurements=[HessianEstimates()])
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landscape.config import TrainConfig
from landscape.data.toys import is_toy, toy_dataset
from landscape.errors import DivergedError, LandscapeError, RunFileError, RunFileReplacedError
from landscape.measurements import Measurement
from landscape.resume import load_resume_state, remove_resume_state
from landscape.runfile import REPLACE_ADVICE, check_not_live, live_writer, still_being_written
from landscape.writer import RunWriter
from trainers.loop import GANTrainer, StopRequested
from trainers.resume import ResumeSaver, restore_trainer
from trainers.precision import matmul_precision
from trainers.threads import torch_threads


@dataclass
class RunSummary:
    """What :func:`record` did: where the run is, how it ended, and the config it ran with."""

    path: Path
    status: str  # "finished" or "diverged" (an interrupted run raises KeyboardInterrupt)
    iterations: int  # iterations recorded
    planned_iterations: int
    seconds: float  # wall time from the start of training to the end (measurements included)
    config: TrainConfig  # as run: device and the measurement kinds' <kind>_every resolved
    notes: list[str] = field(default_factory=list)  # settings resolved differently from the config's request
    message: str | None = None  # why a diverged run stopped
    resumed_from: int | None = None  # a resumed run: the step of the resume state it continued from
    dropped_rows: int = 0  # a resumed run: rows recorded after that state, dropped from the file


def default_run_path(config: TrainConfig) -> Path:
    """``runs/<arch>-<dataset>-<seed>.h5``: where a run goes when no path is given."""
    return Path("runs") / f"{config.arch}-{config.dataset}-{config.seed}.h5"


def record(
    config: TrainConfig,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    resume: bool = False,
    measurements: Iterable[Measurement] = (),
    on_start: Callable[[GANTrainer], None] | None = None,
    progress: Callable[[GANTrainer], None] | None = None,
) -> RunSummary:
    """Train a GAN with ``config`` and record every iteration into the run file at ``path``.

    ``measurements`` (:class:`landscape.measurements.Measurement`: ``analysis.measurements.for_run(config)``
    gives what ``landscape record`` makes, or name them: ``[HessianEstimates()]``) are called at
    the steps the schedule plans for their kind, and what they return is stored; a kind the
    config asks for but no measurement makes is resolved to none (``summary.notes`` says so);
    ``on_start(trainer)`` once the trainer is built,
    before anything is recorded (e.g. to show ``trainer.notes`` or keep the
    trainer to stop it); ``progress(trainer)`` a few times a second while training.

    While training, the run's resume state is kept next to the run file
    (:mod:`trainers.resume`; ``config.resume_every``). ``resume=True`` continues the
    killed, interrupted or diverged run at ``path`` from that state: ``config`` must
    be the run's (only :data:`~landscape.config.RESUME_FREE_SETTINGS` may differ),
    the rows recorded after the state are dropped, and on the same device and
    thread count the continuation is bit for bit the uninterrupted run.

    The run file is this run's alone while it is written: a file another live writer
    holds is refused, even with ``overwrite``; and if another process replaces or
    removes it meanwhile, the run stops with a
    :class:`~landscape.errors.RunFileReplacedError` naming where its rows (and resume
    state) were saved instead.
    """
    path = Path(path)
    if path.is_dir():
        raise RunFileError(f"{path} is a directory; give a run file name such as {path / 'run.h5'}.")
    run = resumable_run(path) if resume else None
    if not resume and path.exists() and not overwrite:
        raise RunFileError(f"{path} already exists; choose another path, or overwrite=True to replace it.")
    if not resume:  # before the data loads; the writer takes the run's lock, which settles it
        check_not_live(path, REPLACE_ADVICE)
    dataset = load_training_data(config)
    check_dataset_size(config, len(dataset))
    data = dataset.points if is_toy(config.dataset) else dataset.images
    trainer = GANTrainer(config, data, measurements=measurements, labels=dataset.labels,
                         n_classes=len(dataset.classes))
    state = None
    if run is not None:
        check_same_config(trainer.config, run.config, path)
        state = load_resume_state(path, run.attrs.get("run_id"))
    if on_start is not None:
        on_start(trainer)
    start = time.monotonic()
    status, message, dropped, run_id = "finished", None, 0, None
    try:
        with torch_threads(trainer.config.threads), matmul_precision(trainer.config.precision):
            if state is None:
                writer = RunWriter(path, trainer.config.to_dict(), run_fields(trainer.config), overwrite=overwrite)
                remove_resume_state(path)  # an overwritten run's state is not this run's (and the lock is ours now)
            else:
                writer, dropped = RunWriter.reopen(path, state[1]["step"], state[1]["epoch"])
            run_id = writer.run_id
            with writer:
                saver = ResumeSaver(path, trainer.config.resume_every, trainer.schedule.checkpoint_steps)
                if state is None:
                    trainer.start_recording(writer)
                    if saver.every != 0:
                        saver.save(trainer)  # a run killed before its first timed state resumes from the start
                else:
                    restore_trainer(trainer, *state)
                    trainer.writer = writer
                trainer.resume_saver = saver
                try:
                    trainer.run(progress=progress)
                except StopRequested:  # stopped between iterations: keep the state of this very step
                    if saver.every != 0:
                        saver.save(trainer)
                    raise
    except DivergedError as err:
        status, message = "diverged", str(err)
    except RunFileReplacedError as err:  # another process replaced or removed the file: the rows went elsewhere
        raise resume_state_follows(err, path, run_id) from None
    if status == "finished":
        remove_resume_state(path)
    return RunSummary(path, status, trainer.step, trainer.schedule.total_iters, time.monotonic() - start,
                      trainer.config, list(trainer.notes), message,
                      resumed_from=None if state is None else int(state[1]["step"]), dropped_rows=dropped)


def resume_state_follows(err: RunFileReplacedError, path: Path, run_id: str | None) -> RunFileReplacedError:
    """Move the resume state of a run whose file was replaced to the file its rows were saved in, if it is that
    run's (same ``run_id``), so that the run can be resumed there; the error, saying so."""
    from landscape.resume import has_resume_state, resume_path

    if err.rescued is None or run_id is None or not has_resume_state(path):
        return err
    try:
        load_resume_state(path, run_id)  # whole, and this run's
        os.replace(resume_path(path), resume_path(err.rescued))
    except (RunFileError, OSError):
        return err
    return RunFileReplacedError(f"{str(err).rstrip('.')}, with its resume state, so it can be resumed from there.",
                                rescued=err.rescued)


def resumable_run(path: Path) -> Any:
    """The run file at ``path`` as a :class:`~landscape.reader.Run`, if it can be resumed; one sentence if not."""
    from landscape.reader import open_run
    from landscape.runfile import FORMAT_VERSION

    if not path.exists():
        raise RunFileError(f"No such run file: {path}; there is nothing to resume.")
    run = open_run(path)
    version = int(run.attrs.get("format_version", 0))
    if version != FORMAT_VERSION:
        raise RunFileError(f"{path} is a run file of format version {version}; this landscape resumes version "
                           f"{FORMAT_VERSION} only.")
    if run.status == "finished":
        raise RunFileError(f"{path} is finished ({run.n_iterations:,} iterations); there is nothing to resume.")
    if run.status == "running":
        writer = live_writer(path) or (run.attrs.get("writer_pid"), "")
        raise RunFileError(still_being_written(path, writer, "stop it before resuming it"))
    return run


def check_same_config(config: TrainConfig, stored: dict[str, Any], path: Path) -> None:
    """One sentence unless ``config`` (resolved) is the config the run at ``path`` was recorded with."""
    from landscape.config import RESUME_FREE_SETTINGS

    ours = config.to_dict()
    differ = sorted(k for k in set(ours) | set(stored)
                    if k not in RESUME_FREE_SETTINGS and ours.get(k) != stored.get(k))
    if differ:
        shown = ", ".join(f"{k} {stored.get(k)!r} (asked: {ours.get(k)!r})" for k in differ[:4])
        raise RunFileError(f"{path} was recorded with another config ({shown}); a run resumes with its own "
                           "settings only.")


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

    from trainers.losses import estimates_wasserstein

    extra = ("wasserstein",) if estimates_wasserstein(config.loss) else ()
    if config.loss == "wgan-gp":
        extra += ("d_gp",)
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


__all__ = ["RunSummary", "check_dataset_size", "check_same_config", "resumable_run", "default_run_path", "load_training_data", "record", "run_fields"]
