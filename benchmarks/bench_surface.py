"""Benchmark: loss slices and gradient walks (analysis.surface) against a per-point loop.

Variants, each repeated ``--reps`` times, interleaved (A B A B ...), medians reported, one torch thread:

- ``grid``: a 41 x 41 grid of the vanilla discriminator's loss on a 128-image probe batch along two
  filter-normalised directions; A = ``analysis.surface.evaluate.grid_losses`` (vmap over chunks of
  points, first layer factorised), B = the per-point loop of ``per_point_losses`` (for each point,
  ``functional_call`` with the perturbed weights: what the reference implementation does, minus its
  file round trips). The two grids are checked equal (max relative difference reported).
- ``walks``: 20 progressive gradient walks of 100 steps of the vanilla generator
  (``analysis.surface.walk.walk_batched``).
- ``dcgan`` (``--dcgan``): the DCGAN discriminator on a 256-image probe: one forward pass of the loss
  (real and fake), against a 3 x 3 grid through ``grid_losses`` (its cost per point relative to one
  forward pass; a 21 x 21 grid is 441 such points), and the peak resident memory.

The networks are the trainers' (``build_models``), weights from ``--run`` (its last checkpoint and
probe batch) or freshly initialised with a random probe (timings do not depend on the weights).

Usage::

    python benchmarks/bench_surface.py                        # grid and walks, 3 repetitions
    python benchmarks/bench_surface.py --run runs/vanilla-mnist-full.h5 --reps 5 --dcgan
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
import torch


def vanilla(run_path: str | None, probe: int):
    from landscape.config import TrainConfig
    from trainers.models import build_models, load_models

    if run_path:
        from landscape.reader import open_run

        run = open_run(run_path)
        g, d = load_models(run, run.checkpoint_steps[-1])
        real, z = run.probe()
        return g, d, torch.as_tensor(real[:probe]), torch.as_tensor(z[:probe]), TrainConfig.from_dict(run.config, strict=False)
    config = TrainConfig(arch="vanilla", dataset="mnist")
    torch.manual_seed(0)
    g, d = build_models(config)
    return g, d, torch.rand(probe, 1, 28, 28) * 2 - 1, torch.rand(probe, config.z_dim) * 2 - 1, config


def bench_grid(g, d, real, z, reps: int, grid: int) -> dict:
    from analysis.probe_loss import gan_loss
    from analysis.surface.directions import filter_direction
    from analysis.surface.evaluate import BatchedLoss, grid_losses, per_point_losses

    loss = gan_loss(g, d, real, z, "d")
    gen = torch.Generator().manual_seed(0)
    dirs = torch.stack([filter_direction(loss.params, gen) for _ in range(2)])
    axis = np.linspace(-1, 1, grid)
    a, b = np.meshgrid(axis, axis, indexing="ij")
    coords = np.c_[a.ravel(), b.ravel()]
    times = {"vectorised": [], "per-point loop": []}
    grids = {}
    for _ in range(reps):
        start = time.perf_counter()
        batched = BatchedLoss(gan_loss(g, d, real, z, "d"))
        grids["vectorised"] = np.concatenate([v for _, v in grid_losses(batched, dirs, coords)])
        times["vectorised"].append(time.perf_counter() - start)
        start = time.perf_counter()
        grids["per-point loop"] = per_point_losses(loss, dirs, coords)
        times["per-point loop"].append(time.perf_counter() - start)
    diff = float(np.max(np.abs(grids["vectorised"] - grids["per-point loop"]) / np.abs(grids["per-point loop"])))
    return {"times": times, "max_rel_diff": diff, "points": len(coords)}


def bench_walks(g, d, real, z, reps: int, walks: int, steps: int) -> list[float]:
    from analysis.probe_loss import gan_loss
    from analysis.surface.evaluate import BatchedLoss
    from analysis.surface.walk import init_ranges, walk_batched

    times = []
    for rep in range(reps):
        start = time.perf_counter()
        batched = BatchedLoss(gan_loss(g, d, real, z, "g"))
        ranges = init_ranges(batched.module.own, [n[len("own."):] for n in batched.names])
        walk_batched(batched, ranges, walks=walks, steps=steps, step_size=0.01, seed=rep)
        times.append(time.perf_counter() - start)
    return times


def bench_dcgan(reps: int, probe: int) -> dict:
    from analysis.probe_loss import gan_loss
    from analysis.surface.directions import filter_direction
    from analysis.surface.evaluate import BatchedLoss, grid_losses
    from landscape.config import TrainConfig
    from trainers.models import build_models

    config = TrainConfig(arch="dcgan", dataset="mnist")
    torch.manual_seed(0)
    g, d = build_models(config)
    real, z = torch.rand(probe, 1, 28, 28) * 2 - 1, torch.rand(probe, config.z_dim) * 2 - 1
    loss = gan_loss(g, d, real, z, "d")
    gen = torch.Generator().manual_seed(0)
    dirs = torch.stack([filter_direction(loss.params, gen) for _ in range(2)])
    axis = np.linspace(-1, 1, 3)
    a, b = np.meshgrid(axis, axis, indexing="ij")
    coords = np.c_[a.ravel(), b.ravel()]
    forward, grid = [], []
    for _ in range(reps):
        start = time.perf_counter()
        with torch.no_grad():
            loss.loss_fn()
        forward.append(time.perf_counter() - start)
        batched = BatchedLoss(gan_loss(g, d, real, z, "d"))
        start = time.perf_counter()
        for _ in grid_losses(batched, dirs, coords):
            pass
        grid.append(time.perf_counter() - start)
    return {"forward": forward, "grid9": grid, "params": loss.n_params,
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="a vanilla run file: its last checkpoint and probe batch")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--grid", type=int, default=41)
    parser.add_argument("--probe", type=int, default=128)
    parser.add_argument("--walks", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--dcgan", action="store_true", help="also the DCGAN discriminator note")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g, d, real, z, _ = vanilla(args.run, args.probe)
    print(f"torch {torch.__version__}, {args.threads} thread(s), probe {len(real)}, {args.reps} repetitions")
    result = bench_grid(g, d, real, z, args.reps, args.grid)
    fast, slow = (statistics.median(result["times"][k]) for k in ("vectorised", "per-point loop"))
    print(f"\n| task | variant | median s | runs | ratio |\n|---|---|---:|---|---:|")
    print(f"| {args.grid} x {args.grid} grid, vanilla D | per-point loop | {slow:.2f} | "
          f"{', '.join(f'{t:.2f}' for t in result['times']['per-point loop'])} | 1 |")
    print(f"| | vectorised | {fast:.2f} | {', '.join(f'{t:.2f}' for t in result['times']['vectorised'])} | "
          f"{slow / fast:.1f}x faster |")
    walks = bench_walks(g, d, real, z, args.reps, args.walks, args.steps)
    print(f"| {args.walks} walks x {args.steps} steps, vanilla G | one gradient per walk and step | "
          f"{statistics.median(walks):.2f} | {', '.join(f'{t:.2f}' for t in walks)} | |")
    print(f"\ngrids agree to {result['max_rel_diff']:.1g} (max relative difference)")
    if args.dcgan:
        note = bench_dcgan(args.reps, 256)
        fwd, grid9 = statistics.median(note["forward"]), statistics.median(note["grid9"])
        print(f"\nDCGAN D ({note['params']:,} params), probe 256: one loss forward {fwd:.2f} s; 3 x 3 grid {grid9:.2f} s "
              f"= {grid9 / 9 / fwd:.2f} forward passes per point; a 21 x 21 grid ~ {441 * grid9 / 9 / 60:.1f} min; "
              f"peak RSS {note['peak_rss_gib']:.2f} GiB")


if __name__ == "__main__":
    main()
