"""Run a sweep's runs on Dask: a local cluster by default, or any running Dask cluster by its address.

Each run is one Dask task calling :func:`trainers.record` on a worker, into
``<folder>/<run name>.h5``. The task resumes the run from its resume state when the
file is there unfinished (a worker killed mid-run has its task rescheduled by Dask,
and the new worker continues where the state was), and returns a row of the sweep
index instead of raising: a failing or diverging run is recorded with its reason
and never stops the others. Progress (step, it/s) goes to the client as Dask
events; a stop request (Ctrl-C at the client) is a Dask ``Event`` every task polls,
so runs stop between iterations and keep every row and a resume state.

Dask, not this module, schedules: ``--scheduler tcp://HOST:PORT`` sends the runs to
a cluster started with ``dask scheduler`` / ``dask worker``, ``dask-jobqueue`` or
Kubernetes. A run whose device is a GPU asks for the worker resource ``GPU=1`` (start
such workers with ``--resources GPU=1``), so each GPU trains one run at a time.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landscape.config import TrainConfig
from landscape.errors import LandscapeError
from landscape.sweeps.spec import SweepRun, SweepSpec

#: The Dask event topic the runs' progress is published on.
PROGRESS_TOPIC = "landscape-sweep-progress"
#: Seconds between a run's progress events (and its checks for a stop request).
PROGRESS_EVERY = 1.0
#: Seconds to wait for a scheduler given by address.
CONNECT_TIMEOUT = 5.0
#: Run statuses a sweep does not run again: the run reached an end.
DONE_STATUSES = ("finished", "diverged")


@dataclass
class RunState:
    """Where one run of a sweep stands: a row of ``sweep.csv`` plus the live step and speed."""

    name: str
    factors: dict[str, Any]
    path: str  # relative to the sweep's folder
    status: str = "pending"
    iterations: int = 0
    planned: int | None = None
    seconds: float | None = None
    reason: str = ""
    skipped: bool = False  # finished before this sweep command started
    step: int = 0  # live, while running
    rate: float | None = None  # live it/s, while running

    def index_row(self) -> dict[str, Any]:
        """The run's row of ``sweep.csv``."""
        iterations = self.step if self.status == "running" else self.iterations
        return {"run": self.name, **self.factors, "status": self.status, "iterations": iterations,
                "planned": self.planned, "seconds": None if self.seconds is None else round(self.seconds, 2),
                "reason": self.reason, "path": self.path}


# ---------------------------------------------------------------------- the task
def run_one(config: dict[str, Any], path: str, hooks: Callable[[TrainConfig], dict] | None = None,
            stop_event: str | None = None) -> dict[str, Any]:
    """Record (or resume) one run into ``path``; the result as a dict, never an exception. Runs on a Dask worker."""
    from landscape.reader import open_run
    from landscape.resume import has_resume_state
    from trainers.recording import record

    name = Path(path).stem
    start = time.monotonic()
    stop = _stop_flag(stop_event)
    if stop():
        return {"name": name, "status": "interrupted", "reason": "the sweep was stopped before this run started"}
    resume = False
    try:
        cfg = TrainConfig.from_dict(config)
        if Path(path).exists():
            status = open_run(path).status
            if status in DONE_STATUSES:
                return {"name": name, "status": status, "reason": "", "skipped": True}
            resume = has_resume_state(path)
        _pick_gpu(cfg)
        kwargs = hooks(cfg) if hooks is not None else {}
        summary = record(cfg, path, resume=resume, overwrite=not resume, progress=_reporter(name, stop), **kwargs)
    except KeyboardInterrupt:
        return {"name": name, "status": "interrupted", "reason": "stopped by the sweep", "resumed": resume,
                "seconds": time.monotonic() - start, **_rows(path)}
    except LandscapeError as err:
        return {"name": name, "status": "failed", "reason": str(err), "seconds": time.monotonic() - start}
    except Exception as err:  # a bug or a resource error: the run fails, the sweep goes on
        return {"name": name, "status": "failed", "reason": f"{type(err).__name__}: {err}".splitlines()[0],
                "seconds": time.monotonic() - start}
    return {"name": name, "status": summary.status, "reason": summary.message or "", "iterations": summary.iterations,
            "planned": summary.planned_iterations, "seconds": time.monotonic() - start, "resumed": resume,
            "resumed_from": summary.resumed_from, "dropped_rows": summary.dropped_rows}


def _pick_gpu(config: TrainConfig) -> None:
    """On a local cluster's worker N of a machine with several GPUs, make GPU N % count the current one."""
    if not _wants_gpu(config):
        return
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count < 2:
        return
    try:
        from distributed import get_worker

        name = get_worker().name
    except (ImportError, ValueError):
        return
    if isinstance(name, int):
        torch.cuda.set_device(name % count)


def _rows(path: str) -> dict[str, Any]:
    try:
        from landscape.reader import open_run

        return {"iterations": open_run(path).n_iterations}
    except LandscapeError:
        return {}


def _stop_flag(name: str | None) -> Callable[[], bool]:
    """A function telling whether the sweep's stop Event is set (always False outside a Dask worker)."""
    if name is None:
        return lambda: False
    try:
        from distributed import Event

        event = Event(name)
    except (ImportError, ValueError):
        return lambda: False
    return event.is_set


def _reporter(name: str, stop: Callable[[], bool]) -> Callable[[Any], None]:
    """The trainer's progress callback in a task: a Dask event every :data:`PROGRESS_EVERY` s, and stop checks."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        worker = None
    last = -float("inf")

    def report(trainer: Any) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < PROGRESS_EVERY and not trainer.done:
            return
        last = now
        if worker is not None:
            worker.log_event(PROGRESS_TOPIC, {"run": name, "step": trainer.step,
                                              "planned": trainer.schedule.total_iters,
                                              "rate": trainer.training_rate()})
        if stop():
            trainer.request_stop()

    return report


# ---------------------------------------------------------------------- the client
def default_sizes(workers: int | None, threads_per_run: int | None, gpus: int) -> tuple[int, int]:
    """Workers and threads per run of a local cluster: one run per GPU, else one thread per run and a run per core."""
    threads = threads_per_run or 1
    if workers is None:
        workers = gpus if gpus else max(1, (os.cpu_count() or 1) // threads)
    if workers < 1 or threads < 1:
        raise LandscapeError("--workers and --threads-per-run must be whole numbers >= 1.")
    return workers, threads


@contextmanager
def dask_client(scheduler: str = "local", *, workers: int | None = None, threads_per_run: int | None = None,
                gpus: int = 0) -> Iterator[Any]:
    """A Dask client: on a new local cluster (``"local"``) or on the scheduler at ``scheduler`` (tcp://HOST:PORT)."""
    import logging

    from distributed import Client, LocalCluster

    if scheduler == "local":
        workers, threads = default_sizes(workers, threads_per_run, gpus)
        resources = {"GPU": 1} if gpus else None
        with _sigint_ignored():  # the workers inherit it: Ctrl-C reaches the client only, which stops the runs
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                                   silence_logs=logging.ERROR, resources=resources,
                                   env={"OMP_NUM_THREADS": str(threads)})
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    if "://" not in scheduler:
        raise LandscapeError(f"--scheduler must be local or a Dask scheduler address such as tcp://HOST:8786, "
                             f"got {scheduler!r}.")
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as err:
        raise LandscapeError(f"Cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT:g} s "
                             f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); start it with "
                             "`dask scheduler`, or use --scheduler local.") from None
    try:
        yield client
    finally:
        client.close()


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while the block runs (in the main thread; elsewhere nothing changes)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def initial_states(spec: SweepSpec, folder: Path, previous: dict[str, dict[str, Any]] | None = None) -> list[RunState]:
    """Each run's state from its file (none: pending), with the seconds and reason of ``previous`` index rows."""
    from landscape.reader import open_run

    states = []
    for run in spec.runs:
        state = RunState(run.name, dict(run.factors), run.file_name)
        path = folder / run.file_name
        if path.exists():
            try:
                recorded = open_run(path)
                state.status, state.iterations = recorded.status, recorded.n_iterations
                state.planned = (recorded.meta("schedule") or {}).get("planned_iters")
            except LandscapeError as err:
                state.status, state.reason = "failed", str(err)
        old = (previous or {}).get(run.name, {})
        if path.exists():
            state.seconds = _number(old.get("seconds"))
        if state.status in DONE_STATUSES:
            state.skipped = True
            state.reason = str(old.get("reason") or "") if state.status != "finished" else ""
        states.append(state)
    return states


def run_sweep(
    spec: SweepSpec,
    folder: Path,
    client: Any,
    *,
    threads_per_run: int = 1,
    hooks: Callable[[TrainConfig], dict] | None = None,
    on_change: Callable[[list[RunState]], None] | None = None,
    previous: dict[str, dict[str, Any]] | None = None,
    gpus: int = 0,
) -> list[RunState]:
    """Run every run of ``spec`` that has not reached its end, on ``client``; the final states.

    ``on_change(states)`` is called after each change (a run started, progressed or
    ended): write the index and redraw the display there. KeyboardInterrupt stops the
    runs between iterations, waits for them to return, and propagates.
    """
    from distributed import Event, as_completed

    check_no_live_runs(spec, folder)
    states = initial_states(spec, folder, previous)
    by_name = {s.name: s for s in states}
    notify = on_change or (lambda _: None)
    todo = [run for run in spec.runs if not by_name[run.name].skipped]
    stop_name = f"landscape-sweep-stop-{uuid.uuid4().hex}"
    stop = Event(stop_name, client=client)

    finished: set[str] = set()  # runs whose task has returned

    def on_progress(event: Any) -> None:
        msg = event[1] if isinstance(event, tuple) else event
        state = by_name.get(msg.get("run")) if isinstance(msg, dict) else None
        if state is not None and state.name not in finished:
            state.status, state.step, state.rate = "running", int(msg["step"]), msg.get("rate")
            state.planned = msg.get("planned")
            notify(states)

    client.subscribe_topic(PROGRESS_TOPIC, on_progress)
    futures = {}
    for run in todo:
        config = _with_threads(run, threads_per_run).to_dict()
        resources = {"GPU": 1} if gpus and _wants_gpu(run.config) else None
        future = client.submit(run_one, config, str(folder / run.file_name), hooks, stop_name,
                               key=f"landscape-run-{run.name}-{stop_name[-8:]}", pure=False, resources=resources)
        futures[future] = run.name
    notify(states)
    try:
        for future in as_completed(futures):
            _finish(by_name[futures[future]], future)
            finished.add(futures[future])
            notify(states)
    except KeyboardInterrupt:
        stop.set()  # every task stops between two iterations and returns
        deadline = time.monotonic() + 60
        for future, name in futures.items():
            if name not in finished:
                try:
                    future.result(timeout=max(0.1, deadline - time.monotonic()))
                except Exception:  # noqa: BLE001 - reported by _finish
                    pass
                _finish(by_name[name], future, default="interrupted")
        client.cancel(list(futures))
        notify(states)
        raise
    finally:
        try:
            client.unsubscribe_topic(PROGRESS_TOPIC)
        except Exception:  # noqa: BLE001 - the client may be closing
            pass
    return states


def _finish(state: RunState, future: Any, default: str = "failed") -> None:
    """Copy a finished task's result (or its error) into ``state``."""
    try:
        result = future.result() if future.done() else None
    except Exception as err:  # noqa: BLE001 - the worker died too often, or the task could not run
        result = {"status": "failed", "reason": _task_error(err)}
    if result is None:
        state.status, state.reason = default, "the sweep was stopped"
        return
    state.status = result.get("status", default)
    state.reason = result.get("reason", "") or ""
    state.skipped = bool(result.get("skipped"))
    for key in ("iterations", "planned"):
        if result.get(key) is not None:
            setattr(state, key, result[key])
    if result.get("seconds") is not None:  # a resumed run's wall time adds up over its parts
        earlier = state.seconds if result.get("resumed") and state.seconds else 0.0
        state.seconds = earlier + result["seconds"]
    if state.status == "finished":
        state.step = state.iterations
    state.rate = None


def _task_error(err: Exception) -> str:
    name = type(err).__name__
    if name == "KilledWorker":
        return "its worker died each time it ran it (out of memory, or killed); see the worker logs"
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{name}: {text}" if text else name


def _with_threads(run: SweepRun, threads: int) -> TrainConfig:
    """The run's config as a worker gets it: ``threads`` the sweep's threads per run unless the spec sets it, and
    ``data_dir`` the data root this process sees unless the spec sets it (workers may not share its environment)."""
    from landscape.data.roots import resolve_data_root

    changes: dict[str, Any] = {}
    if run.config.threads is None:
        changes["threads"] = threads
    if run.config.data_dir is None:
        changes["data_dir"] = str(resolve_data_root(None))
    return run.config.replace(**changes) if changes else run.config


def check_data(spec: SweepSpec) -> None:
    """One sentence, naming a run, if a dataset of the sweep is not under the data root this machine sees."""
    from landscape.data.locate import locate_split
    from landscape.data.registry import DATASETS
    from landscape.data.roots import resolve_data_root

    seen = set()
    for run in spec.runs:
        key = (run.config.dataset, run.config.data_dir)
        if key in seen or run.config.dataset not in DATASETS:
            continue
        seen.add(key)
        try:
            locate_split(DATASETS[run.config.dataset], "train", resolve_data_root(run.config.data_dir))
        except LandscapeError as err:
            raise LandscapeError(f"run {run.name}: {err}") from None


def check_no_live_runs(spec: SweepSpec, folder: Path) -> None:
    """One sentence, naming a run, if a run file of the sweep in ``folder`` is being written by a live process.

    Another sweep cannot run in the folder (:func:`folder_lock`), but a ``landscape
    record --out`` into it can: the sweep would resume or overwrite that file under its
    writer. Checked before any run starts; a writer that starts later is refused by the
    run file's lock, and its run in the sweep fails with the same sentence.
    """
    from landscape.runfile import check_not_live

    for run in spec.runs:
        try:
            check_not_live(folder / run.file_name, "stop it before running the sweep, or give the sweep another folder")
        except LandscapeError as err:
            raise LandscapeError(f"run {run.name}: {err}") from None


def _wants_gpu(config: TrainConfig) -> bool:
    return config.device in ("auto", "cuda") or config.device.startswith("cuda:")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


# ---------------------------------------------------------------------- the folder lock
@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder/.sweep.lock`` while a sweep command runs there: two commands never run one sweep's runs."""
    from landscape.runfile import writer_alive

    lock = folder / ".sweep.lock"
    me = f"{os.getpid()} {socket.gethostname()}"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pid, _, host = lock.read_text().partition(" ")
            if pid.isdigit() and host == socket.gethostname() and not writer_alive(int(pid), host):
                lock.unlink(missing_ok=True)  # left by a sweep command that was killed
                continue
            where = "" if host == socket.gethostname() else f" on {host}"
            raise LandscapeError(f"Another landscape sweep (process {pid}{where}) is running in {folder}; wait for "
                                 f"it, or delete {lock} if it is gone.") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(me)
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


__all__ = ["DONE_STATUSES", "PROGRESS_TOPIC", "RunState", "check_data", "check_no_live_runs", "dask_client",
           "default_sizes", "folder_lock", "initial_states", "run_one", "run_sweep"]
