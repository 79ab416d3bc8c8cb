"""Benchmark: time to draw one loss-gradient cloud of N points and write it as an image.

For each N (default 10^4, 10^5, 10^6, 10^7 points in one panel) the benchmark
builds a tidy frame like ``run.tidy(5)`` (stages from ``landscape.stages``, the
same code the reader uses; GAN-like loss and gradient-norm values), then times
``lgcplot`` + ``savefig`` on a fresh 6.4 x 4.8 in figure at the CLI's default
150 dpi. Repetitions are interleaved (every size once per round, in a shuffled
order) so a change in machine load hits all sizes alike; medians are reported,
with wall and CPU time (the CPU time is less sensitive to other processes on a
shared machine). The last column is the local scaling exponent
log(t2/t1)/log(N2/N1): 1 means linear growth.

    python benchmarks/bench_lgc.py                      # the table in docs/performance.md
    python benchmarks/bench_lgc.py --sizes 1e4 1e6 --repeats 5 --format svg
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.lgc import lgcplot  # noqa: E402
from landscape.stages import assign_stages, stage_labels  # noqa: E402


def cloud_frame(n: int, stages: int = 5, seed: int = 0) -> pd.DataFrame:
    """A one-network tidy frame of ``n`` iterations with a drifting, skewed cloud per stage."""
    rng = np.random.default_rng(seed)
    step = np.arange(n, dtype=np.int64)
    stage = assign_stages(n, stages)
    t = step / max(n, 1)
    loss = (0.7 + 1.5 * t + rng.gamma(2.0, 0.2, n)).astype(np.float32)
    grad_norm = (loss * (0.5 + rng.lognormal(0.0, 0.4, n))).astype(np.float32)
    labels = stage_labels(step, stage, stages)
    return pd.DataFrame({
        "step": step,
        "epoch": (step // 468).astype(np.int32),
        "stage": stage,
        "stage_label": pd.Categorical.from_codes(stage - 1, categories=labels, ordered=True),
        "network": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=["g"]),
        "loss": loss,
        "grad_norm": grad_norm,
    })


def render(frame: pd.DataFrame, path: Path, dpi: int) -> tuple[float, float]:
    """Wall and CPU seconds to draw the cloud and write it to ``path``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    lgcplot(frame, "g", ax=ax)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e4, 1e5, 1e6, 1e7], help="points per panel")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (median reported)")
    parser.add_argument("--format", default="png", choices=["png", "pdf", "svg"])
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--keep", type=Path, default=None, help="keep the largest image here (to look at it)")
    args = parser.parse_args()

    sizes = [int(s) for s in args.sizes]
    frames = {n: cloud_frame(n) for n in sizes}
    warmup = Path(tempfile.gettempdir()) / f"bench_lgc_warmup.{args.format}"
    render(frames[sizes[0]], warmup, args.dpi)  # imports, font cache
    walls: dict[int, list[float]] = {n: [] for n in sizes}
    cpus: dict[int, list[float]] = {n: [] for n in sizes}
    sizes_out: dict[int, int] = {}
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for n in rng.permutation(sizes):
                n = int(n)
                path = Path(tmp) / f"cloud_{n}.{args.format}"
                wall, cpu = render(frames[n], path, args.dpi)
                walls[n].append(wall)
                cpus[n].append(cpu)
                sizes_out[n] = path.stat().st_size
        if args.keep:
            args.keep.write_bytes((Path(tmp) / f"cloud_{sizes[-1]}.{args.format}").read_bytes())

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"lgcplot + savefig({args.format}, dpi={args.dpi}), 6.4x4.8 in, {args.repeats} interleaved rounds, "
          f"medians; {os.cpu_count()} CPUs, load average {load:.1f}\n")
    print("| points | wall (s) | CPU (s) | CPU us/point | file | scaling exponent (CPU) |")
    print("|---:|---:|---:|---:|---:|---:|")
    previous = None
    for n in sizes:
        wall, cpu = statistics.median(walls[n]), statistics.median(cpus[n])
        exponent = "" if previous is None else f"{np.log(cpu / previous[1]) / np.log(n / previous[0]):.2f}"
        print(f"| {n:,} | {wall:.2f} | {cpu:.2f} | {1e6 * cpu / n:.2f} | {sizes_out[n] / 1024:.0f} KiB | {exponent} |")
        previous = (n, cpu)


if __name__ == "__main__":
    main()
