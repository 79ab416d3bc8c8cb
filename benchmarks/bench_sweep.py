"""What a sweep on Dask and the resume state cost.

1. **Sweep** (``--part sweep``): ``--runs`` short vanilla MNIST runs (``--epochs`` epochs, batch
   128, no Hessian or quality measurements, one thread each) recorded one after another
   in this process with ``trainers.record`` (A), and as one sweep on a new
   ``LocalCluster`` of ``--workers`` workers (B; the cluster's start is included), A B A B
   for ``--rounds`` rounds. Reports each side's median wall time, the ratio B / A, and
   Dask's overhead per run: the sweep's wall time minus the cluster start, times the
   workers, minus the runs' own seconds, per run. A third side (C) splits the same runs
   over ``--workers`` plain processes without Dask: what the machine itself allows
   (two runs side by side on a shared 2-core machine are each slower than one alone).
2. **Resume state** (``--part resume``): the seconds one resume state takes to write
   (vanilla and DCGAN, median of ``--rounds``), and what the default schedule (one state
   every 5 minutes of wall time plus one at each of the 5 stage boundaries and at the
   start) adds to a default 100-epoch vanilla run; then runs of ``--epochs`` epochs
   recorded without resume states (A) and with one every ``--every`` iterations (B),
   interleaved, as an end-to-end check.

Run it alone (two processes on 2 cores slow each other 5-10x)::

    python benchmarks/bench_sweep.py --part sweep --rounds 2
    python benchmarks/bench_sweep.py --part resume --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def config(epochs: int, seed: int, data_dir: str | None, **changes):  # noqa: ANN201
    from landscape.config import TrainConfig

    return TrainConfig(arch="vanilla", dataset="mnist", epochs=epochs, seed=seed, hessian_every=0, quality_every=0,
                       device="cpu", threads=1, data_dir=data_dir, **changes)


def sequential(runs: int, epochs: int, data_dir: str | None) -> float:
    """Wall seconds of ``runs`` runs recorded one after another in this process."""
    import torch

    from trainers import record

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for seed in range(runs):
            record(config(epochs, seed, data_dir), Path(tmp) / f"run-{seed}.h5")
        return time.perf_counter() - start


def _record_seeds(seeds: list[int], epochs: int, data_dir: str | None, folder: str) -> None:
    import torch

    from trainers import record

    torch.set_num_threads(1)
    for seed in seeds:
        record(config(epochs, seed, data_dir), Path(folder) / f"run-{seed}.h5")


def plain_processes(runs: int, epochs: int, workers: int, data_dir: str | None) -> float:
    """Wall seconds of the same runs split over ``workers`` plain processes (no Dask): what the machine allows."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            jobs = [pool.submit(_record_seeds, list(range(w, runs, workers)), epochs, data_dir, tmp)
                    for w in range(workers)]
            for job in jobs:
                job.result()
        return time.perf_counter() - start


def on_dask(runs: int, epochs: int, workers: int, data_dir: str | None) -> dict[str, float]:
    """Wall seconds of the same runs as one sweep on a new local cluster, its start, and the runs' own seconds."""
    from landscape.sweeps.index import prepare_folder
    from landscape.sweeps.spec import parse_spec
    from trainers.sweep import dask_client, run_sweep

    base = config(epochs, 0, data_dir).to_dict()
    base = {k: v for k, v in base.items() if v is not None and k != "seed"}
    spec = parse_spec({"base": base, "grid": {"seed": list(range(runs))}})
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with dask_client("local", workers=workers, threads_per_run=1) as client:
            started = time.perf_counter()
            states = run_sweep(spec, prepare_folder(spec, Path(tmp) / "sweep"), client)
            done = time.perf_counter()
    assert all(s.status == "finished" for s in states), [(s.name, s.status, s.reason) for s in states]
    return {"wall": done - start, "start": started - start, "runs": sum(s.seconds for s in states)}


def bench_sweep(args: argparse.Namespace) -> None:
    seq, dask, plain = [], [], []
    for r in range(args.rounds):
        seq.append(sequential(args.runs, args.epochs, args.data_dir))
        dask.append(on_dask(args.runs, args.epochs, args.workers, args.data_dir))
        plain.append(plain_processes(args.runs, args.epochs, args.workers, args.data_dir))
        d = dask[-1]
        print(f"round {r + 1}: one after another {seq[-1]:.1f} s; sweep {d['wall']:.1f} s (cluster start "
              f"{d['start']:.1f} s, runs' own seconds {d['runs']:.1f}); ratio {d['wall'] / seq[-1]:.3f}; "
              f"{args.workers} plain processes {plain[-1]:.1f} s (ratio {plain[-1] / seq[-1]:.3f})", flush=True)
    ratio = statistics.median(d["wall"] / s for d, s in zip(dask, seq))
    plain_ratio = statistics.median(p / s for p, s in zip(plain, seq))
    print(f"the machine's own limit: {args.workers} plain processes take {plain_ratio:.3f} of one after another; "
          f"the sweep takes {statistics.median(d['wall'] / p for d, p in zip(dask, plain)):.3f} of that")
    overhead = statistics.median((args.workers * (d["wall"] - d["start"]) - d["runs"]) / args.runs for d in dask)
    print(f"\n{args.runs} runs of {args.epochs} epochs on {args.workers} workers: one after another "
          f"{statistics.median(seq):.1f} s, sweep {statistics.median(d['wall'] for d in dask):.1f} s "
          f"(median ratio {ratio:.3f}; target <= 0.55). Cluster start {statistics.median(d['start'] for d in dask):.1f} s; "
          f"Dask's overhead per run (workers idle or busy outside the runs) {overhead:.2f} s (target < 1 s).")


def state_seconds(arch: str, rounds: int) -> float:
    """Median seconds to write one resume state of a freshly built ``arch`` trainer on MNIST-sized fake data."""
    import torch

    from landscape.config import TrainConfig
    from landscape.writer import RunWriter
    from trainers.loop import GANTrainer
    from trainers.resume import ResumeSaver

    cfg = TrainConfig(arch=arch, dataset="mnist", epochs=1, hessian_every=0, quality_every=0, device="cpu", threads=1)
    images = torch.randint(0, 256, (1024, 1, 28, 28), dtype=torch.uint8)
    trainer = GANTrainer(cfg, images)
    trainer.run(until=2)  # optimizer states exist
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.h5"
        with RunWriter(path, trainer.config.to_dict(), ("g_loss",)) as writer:
            trainer.writer = writer
            saver = ResumeSaver(path, 1, [])
            for _ in range(rounds + 1):
                start = time.perf_counter()
                saver.save(trainer)
                times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def recorded(epochs: int, every: int, data_dir: str | None) -> float:
    from trainers import record

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        record(config(epochs, 0, data_dir, resume_every=every), Path(tmp) / "run.h5")
        return time.perf_counter() - start


def bench_resume(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    for arch, run_seconds in (("vanilla", args.vanilla_seconds), ("dcgan", None)):
        seconds = state_seconds(arch, args.rounds)
        line = f"{arch}: one resume state {1000 * seconds:.0f} ms"
        if run_seconds:
            states = 1 + 5 + int(run_seconds // 300)
            line += (f"; the default schedule's {states} states add {100 * states * seconds / run_seconds:.2f}% to a "
                     f"{run_seconds:.0f} s default vanilla run")
        line += f"; one every 5 minutes costs {100 * seconds / 300:.3f}% of the wall time"
        print(line, flush=True)
    off, on = [], []
    for _ in range(args.rounds):
        off.append(recorded(args.epochs, 0, args.data_dir))
        on.append(recorded(args.epochs, args.every, args.data_dir))
        print(f"  {args.epochs}-epoch run: no states {off[-1]:.2f} s, a state every {args.every} iterations "
              f"{on[-1]:.2f} s", flush=True)
    ratio = statistics.median(b / a for a, b in zip(off, on))
    print(f"end to end: a state every {args.every} iterations costs {100 * (ratio - 1):+.1f}% (median of "
          f"{args.rounds} interleaved pairs; the default writes far fewer)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("sweep", "resume"), required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--every", type=int, default=500, help="--part resume: iterations between states in B")
    parser.add_argument("--vanilla-seconds", type=float, default=183.0,
                        help="--part resume: wall seconds of a default 100-epoch vanilla run on this machine")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    bench_sweep(args) if args.part == "sweep" else bench_resume(args)


if __name__ == "__main__":
    main()
