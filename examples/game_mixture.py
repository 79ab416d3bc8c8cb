"""Berard et al.'s 1-D mixture claim, checked with the toolkit: does training end at a locally stable,
rotational point that is not a local Nash equilibrium?

Berard, Gidel, Almahairi, Vincent and Lacoste-Julien ("A Closer Look at the Optimization Landscapes of
Generative Adversarial Networks", ICLR 2020) train a GAN on a 1-D mixture of two Gaussians (means -2
and +2, sigma 1; generator and discriminator with one hidden layer of 100 ReLU units, latent
dimension 100) and report that it converges to a point where the game Jacobian's eigenvalues all have
positive real parts, some with large imaginary parts, while the generator's own Hessian has negative
eigenvalues: locally stable for gradient descent, rotational, and not a local Nash equilibrium.

This script records that GAN with the toolkit, the authors' recipe being architecture ``mlp100`` on the
toy ``mixture1d`` (``landscape.config.ARCH_DEFAULTS["mlp100"]``: their script's full-batch, fixed-z
extragradient with plain steps of 1e-2 and 1e-1; the same as ``landscape record --arch mlp100 --data
mixture1d``), with the whole 10,000-point training set (and its z) as the probe batch, so the game
analysed is exactly the deterministic game trained. Then, at checkpoints along training, it estimates
with :func:`analysis.game.estimate_game` the 6 eigenvalues of the game Jacobian of largest magnitude
(LM), of smallest real part (SR: it decides stability) and of largest imaginary part (LI), both
players' own Hessians' extreme eigenvalues and the interaction blocks, and the label; the estimates
are stored in the run (``landscape game RUN.h5`` and ``landscape report RUN.h5`` read them). It makes
the same estimates at each checkpoint's extragradient look-ahead point, w - lr v(w): extragradient
stops where the look-ahead is stationary, v(w - lr v(w)) = 0, not where w is, and here the
discriminator's look-ahead step (lr_D = 0.1 times a gradient of about 6) lands where its gradient
nearly vanishes, so the checkpoint weights keep a large gradient (||v|| about 6.4) while the
look-ahead point, whose gradients the steps apply and record, is the nearly stationary point
training converges to (see ``summary.md``).
It writes ``OUT/spectrum.png`` (the eigenvalues in the complex plane, the labels and the smallest
real part over training, the generator's Hessian and ``||v||`` over training, and the final density)
and ``OUT/summary.md``, and prints what it found, whichever way it falls.

Usage::

    python examples/game_mixture.py [--iters 20000] [--out examples/game_mixture] [--run OUT/runs/mixture1d.h5]

The authors' run is 50,000 extragradient steps (their ``NUM_ITER = 100000`` loop iterations, two per
step); ``--iters 50000`` runs it in full (about 70 minutes on one CPU thread). An existing finished run
file with the same settings is reused (``--retrain`` records it again).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

#: The authors' run length in extragradient steps (train_mixture_gan.py line 55: 100,000 loop iterations, 2 per step).
AUTHORS_STEPS = 50_000
#: The parts of the game spectrum estimated at each checkpoint, and how many eigenvalues of each.
WHICH = ("LM", "SR", "LI")
K = 6


def mixture_config(iters: int, *, probe_size: int = 10_000, seed: int = 0) -> Any:
    """The run's config: the ``mlp100`` recipe for ``iters`` steps, the whole set as the probe batch, checkpoints and
    toy coverage every ``iters / 20`` steps, no estimates during training (they are made afterwards)."""
    from landscape.config import TrainConfig

    every = max(1, iters // 20)
    return TrainConfig(arch="mlp100", dataset="mixture1d", epochs=iters, probe_size=probe_size, seed=seed,
                       checkpoint_every=every, quality_every=every, hessian_every=0)


def train(config: Any, path: Path, retrain: bool) -> None:
    """Record the run at ``path`` with ``trainers.record`` unless a finished one with the same config is there."""
    from analysis.measurements import for_run
    from landscape.reader import open_run
    from trainers import record

    if path.exists() and not retrain:
        run = open_run(path)
        same = all(run.config.get(k) == v for k, v in config.to_dict().items()
                   if k not in ("device", "threads", "data_dir", "resume_every", "game_every"))
        if same and run.status == "finished":
            print(f"reusing {path} ({run.n_iterations:,} iterations)")
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    record(config, path, overwrite=True, measurements=for_run(config))
    print(f"recorded {config.epochs:,} iterations into {path} in {time.perf_counter() - start:.0f} s", flush=True)


def measure_steps(path: Path, asked: list[int] | None) -> list[int]:
    """The checkpoints to estimate: those asked, else 0, 1/10, 1/4, 1/2, 3/4 and the end of the run's checkpoints."""
    from landscape.reader import open_run

    stored = sorted(open_run(path).checkpoint_steps)
    if asked:
        missing = [s for s in asked if s not in stored]
        if missing:
            raise SystemExit(f"{path} has no checkpoint at step {missing[0]}; stored: {', '.join(map(str, stored))}.")
        return sorted(set(asked))
    last = stored[-1]
    wanted = [0, last // 10, last // 4, last // 2, 3 * last // 4, last]
    return sorted({min(stored, key=lambda s: abs(s - w)) for w in wanted})


def estimate(path: Path, steps: list[int]) -> None:
    """The game estimate at each checkpoint's weights, stored in the run (what ``landscape game RUN.h5`` makes); a step
    whose stored estimate has these parts and k (and the blocks) is kept, so an interrupted analysis goes on."""
    from analysis.game import estimate_game
    from analysis.game.storage import read_game, store

    frame = read_game(path)
    done = set(frame.loc[(frame["which"] == ",".join(WHICH)) & (frame["k"] == K) & frame["hessian_g_min"].notna(),
                         "step"]) if len(frame) and "hessian_g_min" in frame else set()
    for step in steps:
        if step in done:
            print(f"checkpoint {step:>6,}: stored already")
            continue
        r = estimate_game(path, step, k=K, which=list(WHICH), blocks=True)
        store(r, path)
        say("checkpoint", step, r)


def say(where: str, step: int, r: Any) -> None:
    b = r.blocks
    print(f"{where} {step:>6,}: {r.label.label}; max |λ| {r.spectral_radius:.3g}, min Re {r.label.min_real:.3g}, "
          f"max |Im| {r.rotation.max_imag:.3g}, H_G [{b.hessian_1[0]:.3g}, {b.hessian_1[1]:.3g}], "
          f"H_D [{b.hessian_2[0]:.3g}, {b.hessian_2[1]:.3g}], ‖v‖ {r.v_norm:.3g} ({r.seconds:.0f} s)", flush=True)


def look_ahead_models(run: Any, step: int) -> tuple[Any, Any]:
    """The networks at extragradient's look-ahead point of checkpoint ``step``, w - lr v(w) on the whole probe batch
    (the training set): the point whose gradients the next step applies. At a fixed point of extragradient it is the
    stationary point (v = 0) while the checkpoint itself need not be: the step stands still wherever the look-ahead
    lands on a stationary point, however large the gradient at the checkpoint."""
    import torch

    from analysis.game.gan import game_models
    from analysis.probe_loss import loss_options, run_probe
    from trainers.models import load_models

    g, d = load_models(run, step)
    real, z = run_probe(run)
    op = game_models(g, d, real, z, **loss_options(run.config))
    v = [part.detach() for part in op.field_parts()]
    op.release()
    params_g, params_d = list(g.parameters()), list(d.parameters())
    with torch.no_grad():
        for p, grad in zip(params_g, v[: len(params_g)]):
            p -= float(run.config["lr_g"]) * grad
        for p, grad in zip(params_d, v[len(params_g):]):
            p -= float(run.config["lr_d"]) * grad
    return g, d


def estimate_look_ahead(path: Path, steps: list[int], cache: Path) -> dict[int, dict[str, Any]]:
    """The game at each checkpoint's look-ahead point (not stored in the run, whose checkpoints are the weights
    themselves): step -> the record's attributes and eigenvalues; kept in ``cache`` (pickles) between calls."""
    import pickle

    from analysis.game.gan import estimate_game_models
    from analysis.game.storage import to_record
    from analysis.probe_loss import loss_options, run_probe
    from landscape.reader import open_run

    run = open_run(path)
    cache.mkdir(parents=True, exist_ok=True)
    rows = {}
    for step in steps:
        file = cache / f"look_ahead_{step}.pkl"
        if file.exists() and _cached_for(file, run):
            rows[step] = pickle.loads(file.read_bytes())["row"]
            print(f"look-ahead {step:>6,}: cached")
            continue
        g, d = look_ahead_models(run, step)
        real, z = run_probe(run)
        r = estimate_game_models(g, d, real, z, step=step, k=K, which=list(WHICH), blocks=True,
                                 **loss_options(run.config))
        say("look-ahead", step, r)
        record = to_record(r, step)
        row = {**record.attrs, "step": step, "eigenvalues": r.values}
        file.write_bytes(pickle.dumps({"run_id": run.attrs.get("run_id"), "row": row}))
        rows[step] = row
    return rows


def _cached_for(file: Path, run: Any) -> bool:
    import pickle

    return pickle.loads(file.read_bytes()).get("run_id") == run.attrs.get("run_id")


def final_samples(path: Path, n: int = 20_000) -> np.ndarray:
    """``n`` points of the run's last generator (z from seed 7), (n, 1)."""
    from analysis.quality.checkpoints import load_generator
    from analysis.quality.measure import generate
    from landscape.reader import open_run

    run = open_run(path)
    g = load_generator(run, max(run.checkpoint_steps))
    return generate(g, run.config, n, seed=7).cpu().numpy()


def frames(path: Path, ahead: dict[int, dict[str, Any]]) -> tuple[Any, Any]:
    """(checkpoint estimates, look-ahead estimates) as frames, one row per step, the stored attributes' columns."""
    import pandas as pd

    from analysis.game.storage import read_game

    base = read_game(path)
    base = base[base["step"].isin(list(ahead))].reset_index(drop=True) if ahead else base
    return base, pd.DataFrame([ahead[s] for s in sorted(ahead)])


def figure(path: Path, out: Path, ahead: dict[int, dict[str, Any]]) -> None:
    """spectrum.png: the look-ahead points' eigenvalues in the complex plane; the smallest real part with the labels;
    each player's smallest Hessian eigenvalue and ||v||; the final density."""
    import matplotlib.pyplot as plt

    from analysis.game.plot import rotationplot
    from analysis.palettes import stage_colors
    from analysis.toys import densityplot
    from landscape.reader import open_run

    run = open_run(path)
    base, look = frames(path, ahead)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), layout="constrained")
    ax = axes[0, 0]
    colors = stage_colors(max(len(look), 1))
    for color, (_, row) in zip(colors, look.iterrows()):
        values = np.asarray(row["eigenvalues"])
        ax.scatter(values.real, values.imag, color=color, s=26, edgecolor="white", linewidth=0.4,
                   label=f"step {int(row['step']):,}")
    ax.set_xscale("symlog", linthresh=0.01)
    ax.axvline(0, color="0.5", lw=0.8)
    ax.axhline(0, color="0.85", lw=0.6)
    ax.set_xlabel("Re λ (symlog; > 0: stable direction)")
    ax.set_ylabel("Im λ")
    ax.set_title("game Jacobian at the look-ahead points: LM, SR, LI (k = 6 each)", fontsize="medium")
    ax.legend(frameon=False, fontsize="small")
    ax = axes[0, 1]
    rotationplot(look, "min_real", ax=ax, color="k", label="look-ahead point")
    rotationplot(base, "min_real", ax=ax, color="0.6", ls="--", label="checkpoint weights")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.legend(frameon=False, fontsize="small")
    ax.set_title("smallest Re λ and the label (S stable, X saddle, R rotational, N Nash)", fontsize="medium")
    ax = axes[1, 0]
    ax.plot(look["step"], look["hessian_g_min"], marker="o", color="tab:purple", label="λ_min(H_G), look-ahead")
    ax.plot(look["step"], look["hessian_d_min"], marker="s", color="tab:orange", label="λ_min(H_D), look-ahead")
    ax.plot(base["step"], base["hessian_g_min"], marker="o", ls=":", color="tab:purple", alpha=0.5,
            label="λ_min(H_G), checkpoint")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("smallest eigenvalue of a player's own Hessian")
    twin = ax.twinx()
    twin.semilogy(look["step"], look["v_norm"], ls="--", color="k", label="‖v‖ look-ahead (right)")
    twin.semilogy(base["step"], base["v_norm"], ls="--", color="0.6", label="‖v‖ checkpoint (right)")
    twin.set_ylabel("‖v‖ on the whole training set")
    lines, more = ax.get_legend_handles_labels(), twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], frameon=False, fontsize="x-small")
    ax.set_title("each player's negative curvature; distance from stationary", fontsize="medium")
    densityplot(final_samples(path), str(run.config["dataset"]), ax=axes[1, 1], bins=80,
                title=f"the generator at step {max(run.checkpoint_steps):,}")
    axes[1, 1].legend(frameon=False, fontsize="small")
    fig.suptitle("Berard et al.'s 1-D mixture (mlp100 on mixture1d, extragradient): the game along training")
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "spectrum.png", dpi=110)
    plt.close(fig)


def _table(frame: Any) -> list[str]:
    lines = ["| step | label | max \\|λ\\| | smallest Re λ | max \\|Im λ\\| | rotation | λ_min(H_G) | λ_max(H_G) | "
             "λ_min(H_D) | λ_max(H_D) | σ_GD, σ_DG | ‖v‖ | ‖v_G‖, ‖v_D‖ |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for _, r in frame.iterrows():
        lines.append(f"| {int(r['step']):,} | {r['label']} | {r['spectral_radius']:.3g} | {r['min_real']:.3g} | "
                     f"{r['max_imag']:.3g} | {r['rotation']:.2f} | {r['hessian_g_min']:.3g} | {r['hessian_g_max']:.3g} | "
                     f"{r['hessian_d_min']:.3g} | {r['hessian_d_max']:.3g} | {r['sigma_gd']:.3g}, {r['sigma_dg']:.3g} | "
                     f"{r['v_norm']:.3g} | {r['v_norm_g']:.3g}, {r['v_norm_d']:.3g} |")
    return lines


def verdict(row: Any) -> tuple[bool, str]:
    """Whether Berard et al.'s claim holds at an estimate (locally stable, rotational, the generator's Hessian
    indefinite), and the sentence that says how each part of it fares. The Hessian is indefinite by the toolkit's
    Nash rule: lambda_min below -label_tol times its own largest |eigenvalue|."""
    tol = float(row["label_tol_abs"])
    label = str(row["label"])
    stable, saddle, rotational = "locally stable" in label, "saddle of the game" in label, "rotational" in label
    lo, hi = float(row["hessian_g_min"]), float(row["hessian_g_max"])
    indefinite = lo < -float(row["label_tol"]) * max(abs(lo), abs(hi))
    stability = ("locally stable: every computed real part (SR included) is above the tolerance" if stable else
                 f"a saddle of the game: the smallest real part, {float(row['min_real']):.3g}, is below minus the "
                 f"tolerance ({tol:.3g})" if saddle else
                 f"not decided: the smallest real part, {float(row['min_real']):.3g}, lies within the tolerance "
                 f"±{tol:.3g} (1e-3 of max|λ|), so the point is neither labelled locally stable nor a saddle")
    parts = [stability,
             f"rotational: {'yes' if rotational else 'no'} (max |Im λ|/|λ| {float(row['rotation']):.2f})",
             f"the generator's Hessian {'is indefinite' if indefinite else 'is not indefinite'} (λ_min(H_G) = "
             f"{lo:.3g}, λ_max(H_G) = {hi:.3g}): {'not ' if indefinite else ''}a local Nash point"
             + ("" if indefinite else " as far as H_G goes")]
    holds = stable and rotational and indefinite
    return holds, ("the claim holds" if holds else "the claim holds only in part") + ": " + "; ".join(parts)


def summary(path: Path, out: Path, iters: int, ahead: dict[int, dict[str, Any]]) -> str:
    """summary.md: the tables of the estimates, the final samples' quality and the verdict on the claim."""
    from landscape.data.toys import MIXTURE1D_TRAIN_SIZE, exact_high_quality, toy_quality
    from landscape.reader import open_run

    run = open_run(path)
    base, look = frames(path, ahead)
    dataset = str(run.config["dataset"])
    quality = toy_quality(final_samples(path), dataset)
    probe = int(run.config["probe_size"])
    probed = ("the whole training set (the probe batch)" if probe >= MIXTURE1D_TRAIN_SIZE else
              f"a probe batch of {probe:,} training points and their z")
    metrics = run.metrics
    last_row = metrics.iloc[-1]
    train_minutes = float(metrics["time"].iloc[-1] - metrics["time"].iloc[0]) / 60
    lines = ["# Berard et al.'s 1-D mixture claim, with the toolkit", "",
             f"Run: `mlp100` on `mixture1d`, {iters:,} extragradient steps ({100 * iters / AUTHORS_STEPS:.0f}% of the "
             f"authors' {AUTHORS_STEPS:,}), full batch of 10,000 points with fixed z, plain steps lr_G 1e-2, lr_D 1e-1, "
             f"non-saturating loss; game estimated on {probed}. Made by `python examples/game_mixture.py --iters "
             f"{iters}`: training {train_minutes:.0f} minutes on one shared CPU thread (toy coverage every "
             f"{int(run.config['quality_every']):,} steps included), the {len(base) + len(look)} estimates "
             f"{(base['seconds'].sum() + look['seconds'].sum()) / 60:.0f} minutes.", "",
             "![The game along training](spectrum.png)", "",
             "**At extragradient's look-ahead point** w − lr·v(w) of each checkpoint (the point whose gradients the step "
             "applies; the recorded gradient norms are its):", "", *_table(look), "",
             "**At the checkpoint weights** w themselves (stored in the run: `landscape game RUN.h5` shows them):", "",
             *_table(base), "",
             f"Labels rest on the computed parts ({look.iloc[-1]['stability_basis']}) with tolerance "
             f"{float(look.iloc[-1]['label_tol']):g} × max|λ|; every eigenvalue converged "
             f"({'yes' if bool(look['all_converged'].all()) else 'no'}; largest residual ‖J^T x − λx‖ "
             f"{float(look['max_residual'].max()):.1g} × max|λ| at the look-ahead points, so an eigenvalue much "
             "smaller than the tolerance is not resolved in sign by it alone). The last recorded step's gradient norms (at its "
             f"look-ahead): G {last_row['g_grad_norm']:.3g}, D {last_row['d_grad_norm']:.3g}; losses G "
             f"{last_row['g_loss']:.4f}, D {last_row['d_loss']:.4f} (2 log 2 = 1.3863).", "",
             f"The generator at the end (20,000 points): {int(quality['modes_covered'])} of 2 modes covered, "
             f"{100 * quality['high_quality']:.2f}% within 3 sigma of a mode (exact samples: "
             f"{100 * exact_high_quality(dataset):.2f}%), Kolmogorov-Smirnov distance to the mixture "
             f"{quality['ks']:.3f} (exact samples of this size: about 0.006).", ""]
    holds, why = verdict(look.iloc[-1])
    _, why_base = verdict(base.iloc[-1]) if len(base) else (False, "not estimated")
    lines += [f"**Verdict at the last checkpoint's look-ahead point:** {why}.", "",
              f"At the checkpoint weights themselves: {why_base}."]
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=20_000, help="extragradient steps (the authors': 50,000)")
    parser.add_argument("--measure-at", type=int, nargs="*", default=None, help="checkpoint steps to estimate")
    parser.add_argument("--probe-size", type=int, default=10_000,
                        help="probe points, each with its z (10,000: the whole training set, the game trained)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run", type=Path, default=None, help="run file (default: OUT/runs/mixture1d.h5)")
    parser.add_argument("--out", type=Path, default=Path("examples/game_mixture"))
    parser.add_argument("--retrain", action="store_true", help="record the run again even if it is there")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    args.run = args.run if args.run is not None else args.out / "runs" / "mixture1d.h5"
    config = mixture_config(args.iters, probe_size=args.probe_size, seed=args.seed)
    train(config, args.run, args.retrain)
    start = time.perf_counter()
    steps = measure_steps(args.run, args.measure_at)
    estimate(args.run, steps)
    ahead = estimate_look_ahead(args.run, steps, args.run.parent / "look_ahead")
    args.out.mkdir(parents=True, exist_ok=True)
    figure(args.run, args.out, ahead)
    print(summary(args.run, args.out, args.iters, ahead))
    print(f"analysed in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
