"""Benchmark: extreme Hessian eigenvalues of GAN discriminators, Lanczos against power iteration.

For the vanilla GAN and DCGAN discriminators (the trainers' real models, briefly
trained on MNIST, the discriminator loss on a real probe batch), count the
Hessian-vector products (HVPs) and seconds until BOTH the largest and the
smallest algebraic eigenvalue are within 1e-3 (relative) of a reference value:

- ``lanczos``: analysis.hessian's thick-restart Lanczos, both ends from one
  Krylov space (k=1 per end);
- ``power``: plain power iteration, PyHessian's method: power iteration for the
  largest-magnitude eigenvalue, then power iteration on ``H - lambda_1 I`` for the
  other end (the Rayleigh quotient ``v^T H v`` is the estimate throughout);
- ``eigsh``: scipy's ARPACK, one ``which='LA'`` and one ``which='SA'`` run (k=1,
  default ncv=20), at tolerances 1e-1 .. 1e-3; its "oracle" count is that of the
  loosest tolerance whose answer reached 1e-3 (ARPACK exposes no running estimates).

Reference: a tightly converged ``eigsh`` (tol 1e-7, ncv 40) on a float64 copy
of the same network and probe (the float32 operator differs from it by rounding
only), cross-checked against thick-restart Lanczos at tol 1e-9 on the same copy.

Two counts per method:

- *oracle*: the first product after which the running estimates of both ends
  are within 1e-3 of the reference (the best any stopping rule could do; for
  power iteration the bottom end's count includes the products of the first
  phase, which it needs for its shift);
- *own rule*: the products the method spends with its own stopping rule
  (Lanczos: residual <= 1e-4 x max|theta|, the package default; power iteration:
  PyHessian's relative change < 1e-3 in each phase; eigsh: ARPACK tol 1e-3),
  with the accuracy that rule delivered.

Each variant runs ``--reps`` times with different random start vectors,
interleaved (the order rotates every repetition), and medians are reported.
Every product goes through the same ``HessianVectorProduct`` (one retained
gradient graph). torch runs on ``--threads`` threads (default 1: the benchmark
machine is shared, and oversubscribed OpenMP threads make timings meaningless).

Usage::

    python benchmarks/bench_hessian.py                      # both architectures
    python benchmarks/bench_hessian.py --arch vanilla --reps 5
    python benchmarks/bench_hessian.py --arch dcgan --reps 3 --dcgan-power-max-iter 300 --eigsh-reps 1 \
        --eigsh-tols 0.03 0.01 0.003 0.001

Measured (2-core shared CPU, torch 2.13, 1 thread; medians; vanilla: 5 repetitions, D after
300 iterations, probe 128; DCGAN: 3 repetitions (eigsh 1), D after 30 iterations of batch 32,
probe 16 because a DCGAN product takes ~1.4 s on this CPU):

| discriminator | method | HVPs to 1e-3, both ends | seconds | vs power | own rule: HVPs | error |
|---|---|---:|---:|---:|---:|---:|
| vanilla, 78,601 params, lambda -0.1157 .. 7.049 | lanczos | 37 | 0.4 | 0.002 | 32 | 1.2e-3 |
| | power | 19,717 (1 run; > 3,003 in all 5 capped runs) | 253 | - | 7 | 1.0 |
| | eigsh | 76 | 0.8 | 0.004 | 241 | 3.3e-5 |
| DCGAN, 1,039,539 params, lambda -18.74 .. 161.2 | lanczos | 14 | 20 | 0.080 | 19 | 6.9e-6 |
| | power | 174 | 214 | - | 8 | 1.0 |
| | eigsh | 42 | 39 | 0.241 | 42 | 5.4e-7 |

Both power-iteration counts are the bottom end's (the top end takes 4-5 products,
as for Lanczos); PyHessian's relative-change rule stops the shifted phase after a
few products because the shift dominates the Rayleigh quotient, so its bottom
estimate is ~0 (error 100%).
"""

from __future__ import annotations

import os
import sys


def _threads_from_argv(argv: list[str]) -> str:
    if "--threads" in argv and argv.index("--threads") + 1 < len(argv):
        return argv[argv.index("--threads") + 1]
    return "1"


# BLAS/OpenMP thread pools are sized when numpy/torch load: set them first (ARPACK uses numpy's BLAS).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _threads_from_argv(sys.argv))

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.sparse.linalg import eigsh  # noqa: E402

from analysis.hessian import HessianOperator, HessianVectorProduct, gan_loss  # noqa: E402
from analysis.hessian.lanczos import thick_restart_lanczos  # noqa: E402

ACCURACY = 1e-3


@dataclass
class Trace:
    """Per-product running estimates (lambda_min, lambda_max) and their wall-clock times."""

    lows: list[float] = field(default_factory=list)
    highs: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


def settled(values: list[float], ref: float) -> int | None:
    """1-based index after which every value is within ACCURACY of ``ref`` (None if the last is not)."""
    n = None
    for i in range(len(values) - 1, -1, -1):
        if abs(values[i] - ref) > ACCURACY * abs(ref):
            break
        n = i + 1
    return n


def make_discriminator(arch: str, iters: int, probe: int, batch: int, data_dir: str, seed: int):
    """A briefly trained GAN of the trainers and its real probe batch (from the trainer)."""
    from landscape.config import TrainConfig
    from landscape.data import load_dataset
    from trainers.loop import GANTrainer

    cfg = TrainConfig(arch=arch, dataset="mnist", batch_size=batch, max_iters=iters, epochs=1, probe_size=probe,
                      device="cpu", seed=seed, data_dir=data_dir, stages=0)
    images = load_dataset("mnist", root=data_dir).images
    trainer = GANTrainer(cfg, images)
    start = time.perf_counter()
    trainer.run()
    train_s = time.perf_counter() - start
    return trainer.g, trainer.d, trainer.probe_real, trainer.probe_z, train_s


def reference(hvp_ref: HessianVectorProduct, tol: float) -> tuple[float, float, dict]:
    """lambda_min and lambda_max by eigsh (``tol``, ncv 40), cross-checked by thick-restart Lanczos.

    ``hvp_ref`` is a float64 copy of the network (vanilla: the same Hessian without
    the ~1e-7 relative noise of float32 products, tol 1e-7, four orders below the
    accuracy measured; a tighter ARPACK tolerance stalls on the clustered bottom
    eigenvalues GAN discriminators have) or, where float64 products are too slow
    (DCGAN on CPU), the float32 operator itself at tol 1e-6. The Lanczos check
    runs on the same operator at ``tol / 100``.
    """
    op = HessianOperator(hvp_ref)
    v0 = np.random.default_rng(12345).standard_normal(hvp_ref.n)
    start = time.perf_counter()
    lmax = float(eigsh(op, k=1, which="LA", tol=tol, v0=v0, ncv=40, maxiter=500, return_eigenvectors=False)[0])
    lmin = float(eigsh(op, k=1, which="SA", tol=tol, v0=v0, ncv=40, maxiter=500, return_eigenvectors=False)[0])
    info = {"eigsh_hvps": hvp_ref.n_products, "eigsh_s": time.perf_counter() - start, "dtype": str(hvp_ref.dtype),
            "tol": tol}
    check = thick_restart_lanczos(lambda v: hvp_ref(v).double(), hvp_ref.n, 1, 1, tol=tol / 100, seed=999,
                                  basis_dtype=torch.float64)
    info["lanczos_check"] = [float(check.values[0]), float(check.values[-1])]
    info["check_rel_diff"] = [abs(check.values[0] - lmin) / abs(lmin), abs(check.values[-1] - lmax) / abs(lmax)]
    return lmin, lmax, info


def run_lanczos(hvp: HessianVectorProduct, ref: tuple[float, float], seed: int) -> dict:
    """Oracle count from a run at tol 1e-10 (so it goes on past the 1e-3 point); own rule at the default 1e-4."""
    lmin, lmax = ref
    trace = Trace()
    start = time.perf_counter()

    def callback(n: int, theta: np.ndarray) -> None:
        trace.lows.append(float(theta[0]))
        trace.highs.append(float(theta[-1]))
        trace.times.append(time.perf_counter() - start)
        if len(trace.lows) > 30 and oracle(trace, lmin, lmax) and oracle(trace, lmin, lmax) < len(trace.lows) - 20:
            raise StopIteration  # settled for 20 products: the oracle point is known

    try:
        thick_restart_lanczos(lambda v: hvp(v).float(), hvp.n, 1, 1, tol=1e-10, seed=seed, basis_dtype=torch.float32,
                              callback=callback, max_products=3000)
    except StopIteration:
        pass
    n = oracle(trace, lmin, lmax)
    start = time.perf_counter()
    res = thick_restart_lanczos(lambda v: hvp(v).float(), hvp.n, 1, 1, tol=1e-4, seed=seed, basis_dtype=torch.float32)
    own_s = time.perf_counter() - start
    return {
        "oracle_hvps": n, "oracle_s": trace.times[n - 1] if n else None,
        "top_hvps": settled(trace.highs, lmax), "bottom_hvps": settled(trace.lows, lmin),
        "own_hvps": res.n_products, "own_s": own_s,
        "own_err": max(abs(res.values[0] - lmin) / abs(lmin), abs(res.values[-1] - lmax) / abs(lmax)),
    }


def oracle(trace: Trace, lmin: float, lmax: float) -> int | None:
    """First product after which both running estimates are within ACCURACY (and stay there)."""
    ok = [abs(lo - lmin) <= ACCURACY * abs(lmin) and abs(hi - lmax) <= ACCURACY * abs(lmax)
          for lo, hi in zip(trace.lows, trace.highs)]
    for i in range(len(ok)):
        if all(ok[i:]):
            return i + 1
    return None


def _power(hvp: HessianVectorProduct, shift: float, seed: int, max_iter: int, ref: float | None, start: float):
    """Power iteration on ``H - shift I``, PyHessian style (relative change < 1e-3 stops it).

    Returns the Rayleigh quotients of H after each product, their times and the
    product at which PyHessian's rule would stop. With ``ref`` it keeps going
    until the estimate has stayed within ACCURACY of ``ref`` for 20 products
    (to find the oracle count), else it stops with the rule.
    """
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(hvp.n, generator=g, dtype=torch.float64)
    v /= v.norm()
    rqs, times, stop, prev, inside = [], [], None, None, 0
    for i in range(max_iter):
        hv = hvp(v).double() - shift * v
        rq = float(v @ hv)
        rqs.append(rq + shift)
        times.append(time.perf_counter() - start)
        v = hv / hv.norm()
        if stop is None and prev is not None and abs(prev - rq) / (abs(prev) + 1e-6) < 1e-3:
            stop = i + 1
        prev = rq
        if ref is not None:
            inside = inside + 1 if abs(rq + shift - ref) <= ACCURACY * abs(ref) else 0
        if stop is not None and (ref is None or inside >= 20):
            break
    return rqs, times, stop


def run_power(hvp: HessianVectorProduct, ref: tuple[float, float], seed: int, max_iter: int) -> dict:
    lmin, lmax = ref
    top_ref, bottom_ref = (lmax, lmin) if abs(lmax) >= abs(lmin) else (lmin, lmax)
    start = time.perf_counter()
    rq1, t1, stop1 = _power(hvp, 0.0, seed, max_iter, top_ref, start)
    n1 = settled(rq1, top_ref)
    result: dict = {"phase1_oracle": n1, "phase1_own": stop1, "oracle_hvps": None, "oracle_s": None,
                    "own_hvps": None, "own_s": None, "own_err": None, "top_hvps": n1, "bottom_hvps": None,
                    "oracle_at_least": len(rq1) if n1 is None else None}
    # the end power iteration reaches first is the largest in magnitude: report it as top/bottom accordingly
    first_key, second_key = ("top_hvps", "bottom_hvps") if top_ref == lmax else ("bottom_hvps", "top_hvps")
    result[first_key], result[second_key] = n1, None
    if n1 is not None:  # oracle: phase 2 shifted by the estimate at phase 1's oracle stop
        start2 = time.perf_counter()
        rq2, t2, _ = _power(hvp, rq1[n1 - 1], seed + 7, max_iter, bottom_ref, start2)
        n2 = settled(rq2, bottom_ref)
        result["phase2_oracle"] = n2
        if n2 is not None:
            result["oracle_hvps"] = result[second_key] = n1 + n2
            result["oracle_s"] = t1[n1 - 1] + t2[n2 - 1]
        else:  # not reached within max_iter: a lower bound
            result["oracle_at_least"] = n1 + len(rq2)
    if stop1 is not None:  # PyHessian's own rule in both phases
        start3 = time.perf_counter()
        rq3, t3, stop3 = _power(hvp, rq1[stop1 - 1], seed + 7, max_iter, None, start3)
        if stop3 is not None:
            top_est, bottom_est = rq1[stop1 - 1], rq3[stop3 - 1]
            result["own_hvps"] = stop1 + stop3
            result["own_s"] = t1[stop1 - 1] + t3[stop3 - 1]
            result["own_err"] = max(abs(top_est - top_ref) / abs(top_ref), abs(bottom_est - bottom_ref) / abs(bottom_ref))
    return result


EIGSH_TOLS = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3)


def run_eigsh(hvp: HessianVectorProduct, ref: tuple[float, float], seed: int, tols=EIGSH_TOLS) -> dict:
    """ARPACK LA + SA at a sweep of tolerances; "oracle" = the cheapest tolerance whose answer reached 1e-3."""
    lmin, lmax = ref
    op = HessianOperator(hvp)
    v0 = np.random.default_rng(seed).standard_normal(hvp.n)
    out: dict = {"oracle_hvps": None, "oracle_s": None, "top_hvps": None, "bottom_hvps": None}
    for tol in tols:
        before = hvp.n_products
        start = time.perf_counter()
        hi = float(eigsh(op, k=1, which="LA", tol=tol, v0=v0, return_eigenvectors=False)[0])
        n_hi = hvp.n_products - before
        lo = float(eigsh(op, k=1, which="SA", tol=tol, v0=v0, return_eigenvectors=False)[0])
        n, secs = hvp.n_products - before, time.perf_counter() - start
        err_hi, err_lo = abs(hi - lmax) / abs(lmax), abs(lo - lmin) / abs(lmin)
        if out["top_hvps"] is None and err_hi <= ACCURACY:
            out["top_hvps"] = n_hi
        if out["bottom_hvps"] is None and err_lo <= ACCURACY:
            out["bottom_hvps"] = n - n_hi
        if out["oracle_hvps"] is None and max(err_hi, err_lo) <= ACCURACY:
            out["oracle_hvps"], out["oracle_s"] = n, secs
        if tol == 1e-3:  # own rule: ARPACK's tolerance set to the accuracy wanted
            out.update(own_hvps=n, own_s=secs, own_err=max(err_hi, err_lo))
    return out


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def bench_arch(arch: str, args) -> dict:
    iters, probe, batch = {"vanilla": (args.vanilla_iters, args.vanilla_probe, 128),
                           "dcgan": (args.dcgan_iters, args.dcgan_probe, 32)}[arch]
    g, d, real, z, train_s = make_discriminator(arch, iters, probe, batch, args.data_dir, args.seed)
    print(f"[{arch}] trained {iters} iterations in {train_s:.0f} s; computing the reference", flush=True)
    loss = gan_loss(g, d, real, z, "d")
    hvp = HessianVectorProduct(loss.loss_fn, loss.params)
    if args.reference == "float64" or (args.reference == "auto" and arch == "vanilla"):
        loss64 = gan_loss(copy.deepcopy(g).double(), copy.deepcopy(d).double(), real.double(), z.double(), "d")
        hvp64 = HessianVectorProduct(loss64.loss_fn, loss64.params)
        lmin, lmax, info = reference(hvp64, 1e-7)
        hvp64.release()
    else:
        lmin, lmax, info = reference(hvp, 1e-6)
    print(f"[{arch}] D params {hvp.n:,}, probe {probe}, trained {iters} iterations ({train_s:.0f} s); "
          f"reference lambda_min {lmin:.6g}, lambda_max {lmax:.6g} ({info['eigsh_hvps']} HVPs); "
          f"Lanczos check rel. diff {info['check_rel_diff'][0]:.1e} / {info['check_rel_diff'][1]:.1e}", flush=True)
    # one timed product for the per-HVP cost
    v = torch.randn(hvp.n)
    t = time.perf_counter()
    for _ in range(3):
        hvp(v)
    hvp_s = (time.perf_counter() - t) / 3
    variants = {
        "lanczos": lambda s: run_lanczos(hvp, (lmin, lmax), s),
        "power": lambda s: run_power(hvp, (lmin, lmax), s,
                                     args.dcgan_power_max_iter if arch == "dcgan" else args.power_max_iter),
        "eigsh": lambda s: run_eigsh(hvp, (lmin, lmax), s, args.eigsh_tols),
    }
    names = [n for n in args.variants if n in variants]
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for rep in range(args.reps):
        order = names[rep % len(names):] + names[: rep % len(names)]
        for name in order:
            if name == "eigsh" and args.eigsh_reps is not None and rep >= args.eigsh_reps:
                continue
            out = variants[name](1000 + rep)
            runs[name].append(out)
            print(f"  rep {rep} {name:8s} oracle {out['oracle_hvps']} HVPs / {fmt(out['oracle_s'], '.1f')} s, "
                  f"own rule {out['own_hvps']} HVPs / {fmt(out['own_s'], '.1f')} s, error {fmt(out['own_err'], '.1e')}",
                  flush=True)
    keys = ("oracle_hvps", "oracle_s", "top_hvps", "bottom_hvps", "own_hvps", "own_s", "own_err")
    summary = {name: {key: median([r.get(key) for r in rs]) for key in keys} for name, rs in runs.items()}
    for name, rs in runs.items():  # runs that never reached the accuracy: their products are a lower bound
        bounds = [r["oracle_at_least"] for r in rs if r.get("oracle_hvps") is None and r.get("oracle_at_least")]
        if bounds and len(bounds) > len(rs) // 2:
            summary[name]["oracle_at_least"] = min(bounds)
    return {"arch": arch, "n_params": hvp.n, "probe": probe, "train_iters": iters, "lambda_min": lmin,
            "lambda_max": lmax, "reference": info, "hvp_s": hvp_s, "summary": summary, "runs": runs}


def fmt(x, spec=".0f"):
    return "-" if x is None else format(x, spec)


def table(results: list[dict]) -> str:
    lines = [
        "| discriminator | method | HVPs to 1e-3, both ends | seconds | HVPs, top end | HVPs, bottom end "
        "| HVPs vs power | HVPs, own stopping rule | seconds | error, own rule |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for res in results:
        power = res["summary"].get("power", {})
        power_n = power.get("oracle_hvps") or power.get("oracle_at_least")
        power_bound = power.get("oracle_hvps") is None and power.get("oracle_at_least") is not None
        label = (f"{res['arch']} ({res['n_params']:,} params, probe {res['probe']}, "
                 f"λ {res['lambda_min']:.4g} .. {res['lambda_max']:.4g})")
        for name, s in res["summary"].items():
            n = s["oracle_hvps"]
            shown = fmt(n) if n is not None else (f"> {s['oracle_at_least']}" if s.get("oracle_at_least") else "n/a")
            if name == "power" or n is None or not power_n:
                ratio = "-"
            else:
                ratio = f"{'< ' if power_bound else ''}{n / power_n:.3f}"
            lines.append(
                f"| {label} | {name} | {shown} | {fmt(s['oracle_s'], '.1f')} | {fmt(s['top_hvps'])} "
                f"| {fmt(s['bottom_hvps'])} | {ratio} | {fmt(s['own_hvps'])} | {fmt(s['own_s'], '.1f')} "
                f"| {fmt(s['own_err'], '.1e')} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", nargs="+", default=["vanilla", "dcgan"], choices=["vanilla", "dcgan"])
    parser.add_argument("--variants", nargs="+", default=["lanczos", "power", "eigsh"])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--dcgan-reps", type=int, default=None, help="repetitions for DCGAN (default: --reps)")
    parser.add_argument("--vanilla-iters", type=int, default=300)
    parser.add_argument("--dcgan-iters", type=int, default=30)
    parser.add_argument("--vanilla-probe", type=int, default=128)
    parser.add_argument("--dcgan-probe", type=int, default=16)
    parser.add_argument("--power-max-iter", type=int, default=3000, help="products per power-iteration phase")
    parser.add_argument("--dcgan-power-max-iter", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reference", choices=["auto", "float64", "float32"], default="auto",
                        help="operator of the reference eigsh (auto: float64 for vanilla, float32 for DCGAN)")
    parser.add_argument("--eigsh-reps", type=int, default=None, help="run eigsh in the first N repetitions only")
    parser.add_argument("--eigsh-tols", type=float, nargs="+", default=list(EIGSH_TOLS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=os.environ.get("LANDSCAPE_DATA", "/work/shared/data"))
    parser.add_argument("--json", default=None, help="also write every measurement to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = []
    for arch in args.arch:
        reps = args.reps
        if arch == "dcgan" and args.dcgan_reps is not None:
            args.reps = args.dcgan_reps
        results.append(bench_arch(arch, args))
        args.reps = reps
    print()
    print(f"torch {torch.__version__}, {args.threads} thread(s), CPU; medians over repetitions")
    print(table(results))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1, default=float)


if __name__ == "__main__":
    sys.exit(main())
