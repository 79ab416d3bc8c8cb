"""How much sample quality costs: one evaluation of every metric, and its share of a vanilla MNIST run.

Two measurements, interleaved round by round (the machine's speed drifts), medians reported:

1. **One evaluation** per dataset: ``measure_generator`` of a vanilla generator on
   ``--samples`` images (generate, classify with the domain classifier, every metric
   against the cached real test set), split into its three parts.
2. **Recording cost**: ``--epochs``-epoch vanilla MNIST runs recorded with a quality
   measurement at the end of every epoch (A) and without any (B), A B A B ...; the
   difference per measurement, and what the default (the five sample epochs) adds to
   a full 100-epoch run: ``5 x per-measurement / (100 epochs x B's seconds per epoch)``.

The classifiers come from the cache (trained first if missing; their training time is
not part of either number). One thread, as a run uses by default::

    python benchmarks/bench_quality.py --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch


def evaluation_parts(dataset: str, reference, samples: int) -> dict[str, float]:  # noqa: ANN001
    """Seconds of one evaluation: generate, classify, metrics, and the whole ``measure_generator`` call."""
    from analysis.quality.measure import generate, measure_generator, measure_outputs
    from landscape.config import TrainConfig
    from trainers.classifier import classify
    from trainers.models import build_models

    config = TrainConfig(arch="vanilla", dataset=dataset, device="cpu")
    torch.manual_seed(0)
    g, _ = build_models(config)
    t0 = time.perf_counter()
    images = generate(g, config, samples)
    t1 = time.perf_counter()
    probs, features = classify(reference.model, images)
    t2 = time.perf_counter()
    measure_outputs(probs.numpy(), features.numpy(), reference)
    t3 = time.perf_counter()
    measure_generator(g, config, reference, n=samples)
    t4 = time.perf_counter()
    return {"generate": t1 - t0, "classify": t2 - t1, "metrics": t3 - t2, "total": t4 - t3}


def recorded_seconds(epochs: int, quality: bool, reference, data_dir: str | None, samples: int) -> float:  # noqa: ANN001
    """Wall seconds of recording a vanilla MNIST run (no Hessian estimates), with or without quality every epoch."""
    from analysis.quality.measurement import ImageQuality
    from landscape.config import TrainConfig
    from trainers import record

    config = TrainConfig(arch="vanilla", dataset="mnist", epochs=epochs, hessian_every=0, device="cpu", threads=1,
                         data_dir=data_dir, quality_every=468 if quality else 0, quality_samples=samples)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        record(config, Path(tmp) / "run.h5", measurements=[ImageQuality(reference)] if quality else [])
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3, help="Epochs of each recorded run in part 2.")
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist", "cifar10"])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from analysis.quality.classifiers import get_reference

    refs = {d: get_reference(d, data_dir=args.data_dir) for d in args.datasets}
    parts: dict[str, list[dict[str, float]]] = {d: [] for d in args.datasets}
    with_q, without_q = [], []
    for r in range(args.rounds):
        for d in args.datasets:
            parts[d].append(evaluation_parts(d, refs[d], args.samples))
        if "mnist" in refs:
            with_q.append(recorded_seconds(args.epochs, True, refs["mnist"], args.data_dir, args.samples))
            without_q.append(recorded_seconds(args.epochs, False, refs["mnist"], args.data_dir, args.samples))
        print(f"round {r + 1}/{args.rounds} done", flush=True)

    print(f"\n### One evaluation of every metric on {args.samples:,} samples (1 thread, median of {args.rounds})\n")
    print("| dataset | generate (s) | classify (s) | metrics (s) | total (s) |")
    print("|---|---:|---:|---:|---:|")
    for d, rows in parts.items():
        med = {k: statistics.median(row[k] for row in rows) for k in rows[0]}
        print(f"| {d} | {med['generate']:.2f} | {med['classify']:.2f} | {med['metrics']:.2f} | {med['total']:.2f} |")
    if with_q:
        a, b = statistics.median(with_q), statistics.median(without_q)
        per = [(x - y) / args.epochs for x, y in zip(with_q, without_q)]
        per_measurement = statistics.median(per)
        full_run = 100 * b / args.epochs
        print(f"\n### Recording cost (vanilla MNIST, {args.epochs} epochs, quality every epoch vs none, "
              f"{args.rounds} interleaved rounds)\n")
        print(f"- with quality: {a:.1f} s, without: {b:.1f} s (medians); per measurement: {per_measurement:.2f} s "
              f"(rounds: {', '.join(f'{p:.2f}' for p in per)})")
        print(f"- a full 100-epoch run takes about {full_run:.0f} s here; the default five measurements add "
              f"{5 * per_measurement:.1f} s = {100 * 5 * per_measurement / full_run:.1f}%")


if __name__ == "__main__":
    main()
