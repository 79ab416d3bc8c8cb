"""Benchmark: eigenvalues of the game Jacobian, ARPACK on Jacobian-vector products against the alternatives.

Two questions, one torch thread (the benchmark machine is shared), variants interleaved (A B A B ...),
medians over ``--reps`` repetitions with different start vectors, ratios against the package's choice:

1. **A small GAN** (an MLP GAN of a few thousand parameters on a 2-D toy batch, float64): products
   with J and seconds per converged estimate of the 6 largest-magnitude eigenvalues (relative
   residual 1e-3), for the package's ARPACK call (``arnoldi_eigenvalues``: ARPACK tol 1e-3 on J^T),
   ARPACK with scipy's default settings (tol 0: machine precision, same ncv), and the dense route
   (n products for J, then ``numpy.linalg.eig``).
2. **The vanilla GAN** (159,785 parameters, a checkpoint of a recorded MNIST run, its probe batch of
   128): seconds and products per estimate for the 6 eigenvalues of largest magnitude (LM) and of
   largest imaginary part (LI) at 1e-3, ARPACK defaults for LM, and the cost of one product with
   J^T (one backward pass through the retained gradient graph) and with J (the double-vjp trick)
   against one gradient evaluation of both players.

Usage::

    python benchmarks/bench_game.py                     # runs/vanilla-mnist-full.h5's last checkpoint
    python benchmarks/bench_game.py --run RUN.h5 --reps 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from analysis.game import game_models
from analysis.game.spectrum import arnoldi_eigenvalues, exact_eigenvalues


def small_gan(seed: int = 0, hidden: int = 24) -> tuple[nn.Module, nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    g = nn.Sequential(nn.Linear(8, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 2)).double()
    d = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1)).double()
    real = torch.randn(64, 2, dtype=torch.float64) * 0.5 + torch.tensor([2.0, 0.0], dtype=torch.float64)
    z = torch.randn(64, 8, dtype=torch.float64)
    return g, d, real, z


def interleaved(variants: dict, reps: int) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {name: [] for name in variants}
    names = list(variants)
    for rep in range(reps):
        for name in names[rep % len(names):] + names[: rep % len(names)]:  # rotate the order every repetition
            out[name].append(variants[name](rep))
    return out


def median(rows: list[dict], key: str) -> float:
    return float(statistics.median(r[key] for r in rows))


def solve(make, which: str, tol: float, arpack_tol: float | None = None):
    def run(rep: int) -> dict:
        op = make()
        start = time.perf_counter()
        e = arnoldi_eigenvalues(op, 6, which, tol=tol, seed=rep, arpack_tol=arpack_tol)
        seconds = time.perf_counter() - start
        return {"products": e.n_products, "seconds": seconds, "converged": e.all_converged,
                "radius": float(np.max(np.abs(e.values)))}
    return run


def dense(make):
    def run(rep: int) -> dict:
        op = make()
        start = time.perf_counter()
        e = exact_eigenvalues(op, 6, "LM", tol=1e-3)
        return {"products": e.n_products, "seconds": time.perf_counter() - start, "converged": e.all_converged,
                "radius": float(np.max(np.abs(e.values)))}
    return run


def table(title: str, results: dict[str, list[dict]], base: str) -> str:
    lines = [f"{title}", "", "| variant | products (median) | seconds (median) | ratio of seconds | all converged |",
             "|---|---:|---:|---:|---|"]
    ref = median(results[base], "seconds")
    for name, rows in results.items():
        lines.append(f"| {name} | {median(rows, 'products'):.0f} | {median(rows, 'seconds'):.3g} | "
                     f"{median(rows, 'seconds') / ref:.2f} | {all(r['converged'] for r in rows)} |")
    return "\n".join(lines)


def product_costs(make, reps: int) -> str:
    op = make()
    u = torch.randn(op.n, generator=torch.Generator().manual_seed(0))
    op.rmatvec(u), op.matvec(u)  # build both graphs
    times: dict[str, list[float]] = {"J^T u (vjp)": [], "J u (double vjp)": [], "gradient of both players": []}
    for _ in range(max(reps, 3) * 3):
        for name in times:
            start = time.perf_counter()
            if name.startswith("J^T"):
                op.rmatvec(u)
            elif name.startswith("J u"):
                op.matvec(u)
            else:
                fresh = make()
                fresh.field()
            times[name].append(time.perf_counter() - start)
    grad = statistics.median(times["gradient of both players"])
    lines = ["| product | ms (median) | x gradient of both players (with graph) |", "|---|---:|---:|"]
    for name, values in times.items():
        m = statistics.median(values)
        lines.append(f"| {name} | {1000 * m:.1f} | {m / grad:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("runs/vanilla-mnist-full.h5"))
    parser.add_argument("--step", type=int, default=None, help="checkpoint (default: the last)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-vanilla", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    g, d, real, z = small_gan()
    make_small = lambda: game_models(g, d, real, z)  # noqa: E731
    n = make_small().n
    small = interleaved({"ARPACK tol 1e-3 on J^T (package)": solve(make_small, "LM", 1e-3),
                         "ARPACK defaults (tol 0)": solve(make_small, "LM", 1e-3, arpack_tol=0.0),
                         "dense J + numpy.linalg.eig": dense(make_small)}, args.reps)
    print(table(f"Small MLP GAN ({n:,} parameters, float64): 6 largest-magnitude eigenvalues", small,
                "ARPACK tol 1e-3 on J^T (package)"))
    radii = {name: median(rows, "radius") for name, rows in small.items()}
    print("\nspectral radius found:", {k: f"{v:.6g}" for k, v in radii.items()})
    if args.skip_vanilla:
        return

    from landscape.reader import open_run
    from trainers.models import load_models

    run = open_run(args.run)
    step = args.step if args.step is not None else run.checkpoint_steps[-1]
    gv, dv = load_models(run, step)
    rv, zv = run.probe()
    make = lambda: game_models(gv, dv, rv, zv)  # noqa: E731
    vanilla = interleaved({"LM, tol 1e-3 (package)": solve(make, "LM", 1e-3),
                           "LM, ARPACK defaults (tol 0)": solve(make, "LM", 1e-3, arpack_tol=0.0),
                           "LI, tol 1e-3": solve(make, "LI", 1e-3)}, args.reps)
    print()
    print(table(f"Vanilla GAN ({make().n:,} parameters, float32, probe 128; {args.run.name} step {step:,}), "
                f"{args.threads} thread(s): 6 eigenvalues", vanilla, "LM, tol 1e-3 (package)"))
    print()
    print(product_costs(make, args.reps))


if __name__ == "__main__":
    main()
