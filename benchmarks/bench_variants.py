"""What each GAN variant costs per iteration, and what recording costs in each.

For every variant (the paper's recipe first) one trainer is built; its writer is
switched on (A) and off (B) between timed chunks, and all variants are interleaved
round by round (V1-A V1-B V2-A V2-B ... V1-A ...), so a machine-wide slowdown hits
every variant alike. Reports, per variant, the median it/s with recording on, the
recording cost (median over rounds of B/A - 1) and the speed relative to the paper's
recipe (median over rounds of A / A_ns). Usage::

    python benchmarks/bench_variants.py --rounds 5 --threads 1 --clock cpu
    python benchmarks/bench_variants.py --arch mlp --dataset ring8 --chunk 100
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from landscape.config import TrainConfig
from landscape.writer import RunWriter
from trainers.loop import GANTrainer
from trainers.recording import load_training_data, run_fields

#: name -> the settings that make the variant (on top of the case's architecture and dataset)
VARIANTS: dict[str, dict] = {
    "ns (the paper's)": {},
    "minimax": {"loss": "minimax"},
    "lsgan": {"loss": "lsgan"},
    "hinge": {"loss": "hinge"},
    "wgan (5 critic steps)": {"loss": "wgan"},
    "wgan-gp (5 critic steps)": {"loss": "wgan-gp"},
    "label smoothing": {"smooth_real": (0.8, 1.1), "smooth_fake": (0.0, 0.3)},
    "unroll K=5": {"unroll": 5},
    "unroll K=10": {"unroll": 10},
    "conditional": {"conditional": True},
}

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="vanilla")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=60, help="iterations per timed chunk")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    parser.add_argument("--data-dir", default=None, help="dataset root (default: $LANDSCAPE_DATA or ./data)")
    parser.add_argument("--only", action="append", help="variant names to run (repeatable; default all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = CLOCKS[args.clock]
    names = [n for n in VARIANTS if not args.only or any(o in n for o in args.only)]
    if args.arch == "mlp":
        names = [n for n in names if "conditional" not in n]  # the toys have no classes
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.rounds} interleaved rounds, "
          f"{args.chunk}-iteration chunks, {args.clock} clock, {args.arch} on {args.dataset}", flush=True)

    base = TrainConfig(arch=args.arch, dataset=args.dataset, epochs=10_000, sample_epochs=(10_000,), device="cpu",
                       threads=args.threads, data_dir=args.data_dir, hessian_every=0, stages=0)
    data = load_training_data(base)
    images = data.points if args.arch == "mlp" else data.images
    trainers, writers = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(names):
            config = base.replace(**VARIANTS[name])
            writers[name] = RunWriter(Path(tmp) / f"v{i}.h5", config.to_dict(), run_fields(config), overwrite=True)
            trainers[name] = GANTrainer(config, images, writers[name], labels=data.labels,
                                        n_classes=len(data.classes))
            trainers[name].run(until=max(2, args.chunk // 5))  # warm-up

        def timed(name: str, recording: bool) -> float:
            trainer = trainers[name]
            trainer.writer = writers[name] if recording else None
            trainer.run(until=trainer.step + max(1, args.chunk // 10))  # re-warm caches
            start = clock()
            trainer.run(until=trainer.step + args.chunk)
            return args.chunk / (clock() - start)

        on: dict[str, list[float]] = {n: [] for n in names}
        off: dict[str, list[float]] = {n: [] for n in names}
        for r in range(args.rounds):
            for name in names:
                on[name].append(timed(name, True))
                off[name].append(timed(name, False))
            print(f"  round {r + 1}/{args.rounds}: " + "  ".join(f"{n.split()[0]} {on[n][-1]:.1f}" for n in names),
                  flush=True)
        for w in writers.values():
            w.close()

    ref = names[0]
    print()
    print("| variant | it/s, recording on | recording cost (B/A - 1) | speed vs the paper's recipe |")
    print("|---|---:|---:|---:|")
    for name in names:
        cost = statistics.median(b / a - 1 for a, b in zip(on[name], off[name]))
        rel = statistics.median(a / r for a, r in zip(on[name], on[ref]))
        print(f"| {name} | {statistics.median(on[name]):.1f} | {100 * cost:+.1f}% | {rel:.2f}x |")
    return None


if __name__ == "__main__":
    sys.exit(main())
