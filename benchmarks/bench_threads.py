"""Training speed alone and with a second run beside it, by CPU thread count: what `--threads` defaults to.

Each case starts `landscape record` processes (stdout piped, so they print plain
progress lines) and reads the training speed of each from its last line (iterations/s
of training, Hessian estimates off). For every architecture and thread count it
measures one run alone ("solo") and two identical runs started at once ("pair"),
interleaved round by round (solo 1, pair 1, solo 2, pair 2, ...), and reports medians
and the pair/solo ratio: the share of its solo speed a run keeps when another one
runs beside it. Usage::

    python benchmarks/bench_threads.py                                   # both architectures, 1 and 2 threads
    python benchmarks/bench_threads.py --arch dcgan --threads 1 2 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

#: arch -> extra `landscape record` arguments (sized for a few seconds to a minute of training each)
BUDGETS = {
    "vanilla": ["--data", "mnist", "--max-iters", "3000", "--subset", "12800"],
    "dcgan": ["--data", "mnist", "--max-iters", "8", "--subset", "2560"],
}
RATE = re.compile(r"step (\d[\d,]*)/\S+ \(100%\), ([\d.]+) it/s")


def launch(arch: str, threads: int | None, out: Path, data_dir: str | None) -> subprocess.Popen:
    args = [sys.executable, "-m", "landscape", "record", "--arch", arch, *BUDGETS[arch], "--hessian-every", "0",
            "--device", "cpu", "--out", str(out), "--force", "--log-every", "3600"]
    if threads is not None:
        args += ["--threads", str(threads)]
    if data_dir:
        args += ["--data-dir", data_dir]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def speeds(procs: list[subprocess.Popen]) -> list[float]:
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=3600)
        match = RATE.findall(stdout)
        if proc.returncode != 0 or not match:
            raise SystemExit(f"a run failed:\n{stdout}\n{stderr}")
        out.append(float(match[-1][1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=["vanilla", "dcgan"], choices=list(BUDGETS))
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for arch in args.arch:
            solo: dict[int, list[float]] = {t: [] for t in args.threads}
            pair: dict[int, list[float]] = {t: [] for t in args.threads}
            for _ in range(args.rounds):
                for t in args.threads:
                    solo[t] += speeds([launch(arch, t, tmp / "solo.h5", args.data_dir)])
                    pair[t] += speeds([launch(arch, t, tmp / f"pair{i}.h5", args.data_dir) for i in range(2)])
            base = statistics.median(solo[args.threads[0]])
            print(f"\n{arch} (training it/s, medians of {args.rounds} rounds; pair: each of two runs started at once)")
            print("| threads | solo | pair (each) | pair / solo | solo vs 1 thread |")
            print("|---:|---:|---:|---:|---:|")
            for t in args.threads:
                s, p = statistics.median(solo[t]), statistics.median(pair[t])
                print(f"| {t} | {s:.3g} | {p:.3g} | {p / s:.2f} | {s / base:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
