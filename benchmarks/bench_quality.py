"""How much sample quality costs: one evaluation of every metric, and its share of a vanilla MNIST run.

Two measurements, interleaved round by round (the machine's speed drifts), medians reported:

1. **One evaluation** per dataset: ``measure_generator`` of a vanilla generator on
   ``--samples`` images (generate, classify with the domain classifier, every metric
   against the cached real test set), and its parts one by one: generate, classify,
   IS and class KL, FD, KID, PRDC; then KID and PRDC again the way they were computed
   before the strip sums and the grouped k-NN selection (:func:`before_speedups`: whole
   m x m kernel matrices, ``topk`` over whole rows), with the ratios and how far the
   values differ (KID: largest relative difference; PRDC: whether all four are equal).
2. **Recording cost**: ``--epochs``-epoch vanilla MNIST runs recorded with a quality
   measurement at the end of every epoch (A), without any (B), and with the
   measurements computed as before (C), in a rotating order (A B C, B C A, C A B, ...);
   per measurement: the seconds the run itself times for each measurement (what it
   keeps out of its training rate) and ``(A - B) / epochs`` (and C's; the difference of
   two noisy runs, the rougher number), and what the default (the five sample epochs)
   adds to a full 100-epoch run: ``5 x per-measurement / (100 epochs x B's seconds per
   epoch)``.

The classifiers come from the cache (trained first if missing; their training time is
not part of either number). One thread, as a run uses by default::

    python benchmarks/bench_quality.py --rounds 3 --epochs 4
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

#: the parts of one evaluation, in the order they run and are printed
PARTS = ("generate", "classify", "IS/KL", "FD", "KID", "PRDC", "total", "KID before", "PRDC before")


def _whole_matrix_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """KID's kernel matrix as it was computed before: one whole product, then /d, +1 and the cube."""
    return torch.mm(x, y.T).div_(x.shape[1]).add_(1.0).pow_(3)


def _whole_self_sum(x: torch.Tensor) -> float:
    """Off-diagonal sum of the whole same-side kernel matrix (before: no symmetry used)."""
    k = _whole_matrix_kernel(x, x)
    return float(k.sum()) - float(k.diagonal().sum())


def _whole_row_kth(part: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th smallest of each row by ``topk`` over the whole row (before: no column groups)."""
    return part.topk(k, dim=1, largest=False, sorted=False).values.amax(dim=1)


@contextlib.contextmanager
def before_speedups() -> Iterator[None]:
    """``analysis.quality.metrics`` computing KID and the k-NN radii as it did before the strip sums and the grouped
    selection (whole kernel matrices, whole-row ``topk``), to time both in one run; restored on exit."""
    from analysis.quality import metrics

    saved = metrics._self_kernel_sum, metrics._cross_kernel_sum, metrics._kth_smallest
    metrics._self_kernel_sum = _whole_self_sum
    metrics._cross_kernel_sum = lambda x, y: float(_whole_matrix_kernel(x, y).sum())
    metrics._kth_smallest = _whole_row_kth
    try:
        yield
    finally:
        metrics._self_kernel_sum, metrics._cross_kernel_sum, metrics._kth_smallest = saved


def evaluation_parts(dataset: str, reference: Any, samples: int) -> dict[str, Any]:
    """Seconds of each part of one evaluation (:data:`PARTS`), KID's largest relative difference from the way it was
    computed before and whether PRDC's four values are equal to before's."""
    from analysis.quality import metrics
    from analysis.quality.classifiers import PRDC_K
    from analysis.quality.measure import generate, measure_generator
    from landscape.config import TrainConfig
    from trainers.classifier import classify
    from trainers.models import build_models

    config = TrainConfig(arch="vanilla", dataset=dataset, device="cpu")
    torch.manual_seed(0)
    g, _ = build_models(config)
    real, sums = reference.real_side(), reference.kid_real_sums(None, samples)
    out: dict[str, Any] = {}

    def timed(name: str, compute: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        value = compute()
        out[name] = time.perf_counter() - start
        return value

    images = timed("generate", lambda: generate(g, config, samples))
    probs, features = timed("classify", lambda: classify(reference.model, images))
    probs, features = probs.numpy().astype("float64"), features.numpy()

    def labels() -> tuple[float, float, int]:
        p_gen = metrics.class_distribution(probs, reference.n_classes)
        return (metrics.inception_score(probs), metrics.class_kl(p_gen, real["p_real"]),
                metrics.classes_covered(p_gen, real["p_real"]))

    def kid() -> tuple[float, float]:
        return metrics.kernel_inception_distance(real["features"], features, real_sums=sums)

    def prdc() -> dict[str, float]:
        return metrics.prdc(real["features"], features, k=PRDC_K, real_radii=real["radii"])

    timed("IS/KL", labels)
    timed("FD", lambda: metrics.frechet_distance(*metrics.feature_statistics(features), real["mu"], real["sigma"]))
    now_kid, now_prdc = timed("KID", kid), timed("PRDC", prdc)
    timed("total", lambda: measure_generator(g, config, reference, n=samples))
    with before_speedups():
        old_kid, old_prdc = timed("KID before", kid), timed("PRDC before", prdc)
    out["KID rel. diff"] = max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(now_kid, old_kid))
    out["PRDC equal"] = now_prdc == old_prdc
    return out


def recorded_seconds(epochs: int, quality: str, reference: Any, data_dir: str | None,
                     samples: int) -> tuple[float, list[float]]:
    """Wall seconds of recording a vanilla MNIST run (no Hessian estimates) with quality every epoch (``"now"``, or
    ``"before"``: computed as before the speed-ups) or without quality (``"none"``), and the seconds of each
    quality measurement as the run timed it (what it keeps out of its training rate)."""
    from analysis.quality.measurement import ImageQuality
    from landscape.config import TrainConfig
    from trainers import record

    measured = quality != "none"
    config = TrainConfig(arch="vanilla", dataset="mnist", epochs=epochs, hessian_every=0, device="cpu", threads=1,
                         data_dir=data_dir, quality_every=468 if measured else 0, quality_samples=samples)
    each: list[float] = []
    measurement = ImageQuality(reference, on_result=lambda step, values, seconds: each.append(seconds))
    context = before_speedups() if quality == "before" else contextlib.nullcontext()
    with tempfile.TemporaryDirectory() as tmp, context:
        start = time.perf_counter()
        record(config, Path(tmp) / "run.h5", measurements=[measurement] if measured else [])
        return time.perf_counter() - start, each


def print_parts(parts: dict[str, list[dict[str, Any]]], samples: int, rounds: int) -> None:
    """The table of one evaluation's parts: medians, the before/now ratios of KID and PRDC, and their agreement."""
    print(f"\n### One evaluation of every metric on {samples:,} samples (1 thread, seconds, median of {rounds})\n")
    print("| dataset | " + " | ".join(PARTS) + " | KID before/now | PRDC before/now | KID rel. diff | PRDC equal |")
    print("|---|" + "---:|" * (len(PARTS) + 4))
    for d, rows in parts.items():
        med = {k: statistics.median(row[k] for row in rows) for k in PARTS}
        ratios = [statistics.median(row[f"{m} before"] / row[m] for row in rows) for m in ("KID", "PRDC")]
        worst, equal = max(row["KID rel. diff"] for row in rows), all(row["PRDC equal"] for row in rows)
        print(f"| {d} | " + " | ".join(f"{med[k]:.2f}" for k in PARTS)
              + f" | {ratios[0]:.2f} | {ratios[1]:.2f} | {worst:.1e} | {equal} |")


def print_recording(runs: dict[str, list[float]], inside: dict[str, list[float]], epochs: int, rounds: int) -> None:
    """Per-measurement cost of quality during recording (now and before), as the difference of whole runs and as
    timed inside the runs, and its share of a default 100-epoch run (five measurements)."""
    full_run = 100 * statistics.median(runs["none"]) / epochs
    print(f"\n### Recording cost (vanilla MNIST, {epochs} epochs, quality every epoch vs none, {rounds} rotating "
          "rounds)\n")
    print("- run medians: " + ", ".join(f"{k} {statistics.median(v):.1f} s" for k, v in runs.items())
          + f"; a full 100-epoch run without quality takes about {full_run:.0f} s here")
    for variant in ("now", "before"):
        per = [(x - y) / epochs for x, y in zip(runs[variant], runs["none"])]
        diff, timed = statistics.median(per), statistics.median(inside[variant])
        print(f"- {variant}: per measurement {timed:.2f} s timed inside the runs (median of {len(inside[variant])}), "
              f"{diff:.2f} s from the run differences (rounds: {', '.join(f'{p:.2f}' for p in per)}); the default "
              f"five add {5 * timed:.1f} s = {100 * 5 * timed / full_run:.1f}% of the run "
              f"({100 * 5 * diff / full_run:.1f}% by the differences)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3, help="Epochs of each recorded run in part 2 (0: no part 2).")
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist", "cifar10"])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from analysis.quality.classifiers import get_reference

    refs = {d: get_reference(d, data_dir=args.data_dir) for d in args.datasets}
    parts: dict[str, list[dict[str, Any]]] = {d: [] for d in args.datasets}
    runs: dict[str, list[float]] = {"now": [], "none": [], "before": []}
    inside: dict[str, list[float]] = {variant: [] for variant in runs}
    variants = list(runs)
    for r in range(args.rounds):
        for d in args.datasets:
            parts[d].append(evaluation_parts(d, refs[d], args.samples))
        if "mnist" in refs and args.epochs > 0:
            for variant in variants[r % 3:] + variants[:r % 3]:  # rotate the order: drift hits every variant
                wall, each = recorded_seconds(args.epochs, variant, refs["mnist"], args.data_dir, args.samples)
                runs[variant].append(wall)
                inside[variant].extend(each)
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    print_parts(parts, args.samples, args.rounds)
    if runs["now"]:
        print_recording(runs, inside, args.epochs, args.rounds)


if __name__ == "__main__":
    main()
