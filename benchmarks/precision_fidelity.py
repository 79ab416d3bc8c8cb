"""How far bfloat16 moves the recorded landscape: per-stage medians of bf16 runs against fp32's seed-to-seed spread.

Records the same reduced DCGAN (or vanilla) run with several seeds in fp32 and in
bf16 (`landscape record`, one thread each, the two precisions side by side), then
compares, per network and stage, the median loss and gradient norm of each bf16
seed with the range the fp32 seeds span. Usage::

    python benchmarks/precision_fidelity.py --arch dcgan --iters 300 --seeds 0 1 2 --out /tmp/fidelity
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def record(arch: str, precision: str, seed: int, iters: int, out: Path, data_dir: str | None) -> Path:
    path = out / f"{arch}-{precision}-{seed}.h5"
    if path.exists():
        return path
    args = [sys.executable, "-m", "landscape", "record", "--arch", arch, "--data", "mnist", "--max-iters", str(iters),
            "--seed", str(seed), "--precision", precision, "--threads", "1", "--hessian-every", "0", "--device", "cpu",
            "--out", str(path), "--log-every", "600"]
    if data_dir:
        args += ["--data-dir", data_dir]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="dcgan", choices=["vanilla", "dcgan"])
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--stages", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("fidelity"))
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:  # one process per precision at a time, one thread each
        jobs = {p: pool.submit(lambda p=p: [record(args.arch, p, s, args.iters, args.out, args.data_dir)
                                              for s in args.seeds]) for p in ("fp32", "bf16")}
        paths = {p: job.result() for p, job in jobs.items()}

    from landscape import open_run

    medians = {}
    for precision, files in paths.items():
        for seed, path in zip(args.seeds, files):
            tidy = open_run(path).tidy(args.stages)
            medians[precision, seed] = tidy.groupby(["network", "stage"], observed=True)[["loss", "grad_norm"]].median()
    import numpy as np

    rows, inside, within, total = [], 0, 0, 0
    index = medians["fp32", args.seeds[0]].index
    for key in index:
        for column in ("loss", "grad_norm"):
            fp = np.array([medians["fp32", s].loc[key, column] for s in args.seeds])
            bf = np.array([medians["bf16", s].loc[key, column] for s in args.seeds])
            n_in = int(np.sum((fp.min() <= bf) & (bf <= fp.max())))
            # the difference of the seed means in units of fp32's seed-to-seed standard deviation
            z = abs(bf.mean() - fp.mean()) / fp.std(ddof=1) if fp.std(ddof=1) > 0 else float("inf")
            inside, within, total = inside + n_in, within + int(z <= 2), total + 1
            rows.append(f"| {key[0]} | {key[1]} | {column} | {fp.mean():.3g} ± {fp.std(ddof=1):.2g} | "
                        f"{bf.mean():.3g} ± {bf.std(ddof=1):.2g} | {z:.2f} | {n_in}/{len(bf)} |")
    print(f"{args.arch} MNIST, {args.iters} iterations, seeds {args.seeds}: per-stage medians, mean ± std over seeds")
    print("| network | stage | median of | fp32 | bf16 | difference / fp32 std | bf16 seeds in fp32 range |")
    print("|---|---:|---|---|---|---:|---:|")
    print("\n".join(rows))
    print(f"\n{within} of {total} per-stage medians differ by at most 2 fp32 seed-to-seed standard deviations; "
          f"{inside} of {total * len(args.seeds)} bf16 seed medians lie inside fp32's range over its seeds "
          f"(for {len(args.seeds)} fp32 seeds an identically distributed value does so half the time).")

if __name__ == "__main__":
    main()
