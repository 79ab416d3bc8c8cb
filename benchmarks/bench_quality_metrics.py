"""Benchmark: time of each sample-quality metric of ``analysis.quality.metrics`` at N = 10,000.

One evaluation compares N generated samples with N real ones: class probabilities
(N x K) and penultimate-layer features (N x D) of a domain classifier. The real
set is fixed, so its statistics and k-NN radii are computed once ("real set,
once" rows) and each evaluation reuses them ("evaluation total"). The reference
``prdc.compute_prdc`` (scikit-learn, three full float32 distance matrices) is
timed on the same features, with the largest difference of its four values from
ours.

The features are ReLU-like (non-negative, far from the origin, correlated), the
fakes a shifted, rescaled copy of the real distribution, so that precision,
recall, density and coverage are all strictly between 0 and 1. Every
repetition runs every metric once; medians of wall and CPU time are reported.
The process is pinned to ``--threads`` CPUs and torch / BLAS use that many
threads (``prdc.compute_prdc`` asks scikit-learn for 8 threads: the pinning keeps
the comparison on one core).

    OMP_NUM_THREADS=1 python benchmarks/bench_quality_metrics.py          # the table in the report
    python benchmarks/bench_quality_metrics.py --n 2000 --repeats 5 --no-reference
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time
from typing import Any, Callable


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="samples per set, generated and real (default 10000)")
    parser.add_argument("--dim", type=int, default=128, help="feature dimension D (default 128)")
    parser.add_argument("--classes", type=int, default=10, help="number of classes K (default 10)")
    parser.add_argument("--k", type=int, default=5, help="nearest neighbours of prdc (default 5)")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions; medians are reported (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads / cores (default 1)")
    parser.add_argument("--no-reference", action="store_true", help="skip prdc.compute_prdc (slow, ~1.2 GB)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def limit_threads(threads: int) -> None:
    """Pin the process to ``threads`` of its CPUs and cap BLAS / OpenMP threads (before numpy loads)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cpus[:threads])


def make_inputs(n: int, dim: int, classes: int, seed: int) -> dict[str, Any]:
    """Real and generated probabilities and features (float32, as a classifier returns them)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((dim, dim)) / np.sqrt(dim)

    def features(count: int, shift: float, scale: float) -> np.ndarray:
        z = rng.standard_normal((count, dim)) * scale + shift
        return np.maximum(z @ mix + 2.0, 0.0).astype(np.float32)

    def probs(count: int, concentration: float) -> np.ndarray:
        return rng.dirichlet(np.full(classes, concentration), size=count).astype(np.float32)

    return {
        "real_features": features(n, 0.0, 1.0),
        "fake_features": features(n, 0.15, 1.1),
        "real_probs": probs(n, 0.1),
        "fake_probs": probs(n, 0.2),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall and CPU seconds of one call of ``fn``, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    args = parse_args()
    limit_threads(args.threads)

    import torch

    from analysis.quality import metrics as q

    torch.set_num_threads(args.threads)
    data = make_inputs(args.n, args.dim, args.classes, args.seed)
    real, fake, k = data["real_features"], data["fake_features"], args.k
    mu_r, sigma_r = q.feature_statistics(real)
    radii_r = q.knn_radii(real, k)
    p_real = q.class_distribution(data["real_probs"], args.classes)

    def evaluation() -> dict[str, float]:
        p_gen = q.class_distribution(data["fake_probs"], args.classes)
        return {
            "is": q.inception_score(data["fake_probs"]),
            "kl": q.class_kl(p_gen, p_real),
            "covered": q.classes_covered(p_gen, p_real),
            "fd": q.frechet_distance(*q.feature_statistics(fake), mu_r, sigma_r),
            **q.prdc(real, fake, k, real_radii=radii_r),
        }

    def reference() -> dict[str, float]:
        import prdc

        with contextlib.redirect_stdout(io.StringIO()):  # it prints the sample counts
            return prdc.compute_prdc(real, fake, k)

    mu_f, sigma_f = q.feature_statistics(fake)
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("inception_score (splits=1)", lambda: q.inception_score(data["fake_probs"])),
        ("inception_score_std (splits=10)", lambda: q.inception_score_std(data["fake_probs"], 10)),
        ("class_distribution + class_kl + classes_covered", lambda: (
            q.class_kl(q.class_distribution(data["fake_probs"], args.classes), p_real),
            q.classes_covered(q.class_distribution(data["fake_probs"], args.classes), p_real),
        )),
        ("feature_statistics (one set)", lambda: q.feature_statistics(fake)),
        ("frechet_distance (statistics given)", lambda: q.frechet_distance(mu_f, sigma_f, mu_r, sigma_r)),
        ("knn_radii (one set)", lambda: q.knn_radii(fake, k)),
        ("prdc, real_radii cached", lambda: q.prdc(real, fake, k, real_radii=radii_r)),
        ("prdc, no cache", lambda: q.prdc(real, fake, k)),
        ("**evaluation total** (all metrics, real set cached)", evaluation),
        ("real set, once: feature_statistics + knn_radii", lambda: (q.feature_statistics(real), q.knn_radii(real, k))),
    ]
    if not args.no_reference:
        cases.append(("prdc.compute_prdc (reference)", reference))

    times: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in cases}
    results: dict[str, Any] = {}
    for _ in range(args.repeats):
        for name, fn in cases:
            wall, cpu, results[name] = timed(fn)
            times[name].append((wall, cpu))

    print(
        f"N = M = {args.n:,}, D = {args.dim}, K = {args.classes}, k = {args.k}, "
        f"{args.threads} thread(s), median of {args.repeats}; torch {torch.__version__}\n"
    )
    print("| metric | wall (s) | CPU (s) |")
    print("|---|---:|---:|")
    for name, _ in cases:
        wall = statistics.median(t[0] for t in times[name])
        cpu = statistics.median(t[1] for t in times[name])
        print(f"| {name} | {wall:.3f} | {cpu:.3f} |")

    ours = results["prdc, no cache"]
    print("\nprdc (ours):", {key: round(value, 4) for key, value in ours.items()})
    if not args.no_reference:
        ref = results["prdc.compute_prdc (reference)"]
        gap = max(abs(float(ref[key]) - ours[key]) for key in ours)
        print("prdc.compute_prdc:", {key: round(float(value), 4) for key, value in ref.items()})
        print(f"largest difference from prdc.compute_prdc: {gap:.3g}")
    ev = results["**evaluation total** (all metrics, real set cached)"]
    print("evaluation:", {key: round(float(value), 4) for key, value in ev.items()})


if __name__ == "__main__":
    main()
