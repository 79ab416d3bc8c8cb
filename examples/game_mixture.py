"""Berard et al.'s 1-D mixture claim, checked with analysis.game: does training end at a locally stable,
rotational point that is not a local Nash equilibrium?

Berard, Gidel, Almahairi, Vincent and Lacoste-Julien ("A Closer Look at the Optimization Landscapes of
Generative Adversarial Networks", ICLR 2020) train a GAN on a 1-D mixture of two Gaussians (means -2
and +2, sigma 1; generator and discriminator MLPs with one hidden layer of 100 units, latent
dimension 100) and find that it converges to a point where the game Jacobian's eigenvalues all have
positive real parts with large imaginary parts, while the generator's own Hessian has negative
eigenvalues: locally stable for gradient descent, rotational, and not a local Nash equilibrium.

This script trains that GAN in plain PyTorch (the toolkit's trainers have no 1-D dataset; the game
analysis works on any two players: ``analysis.game.GameJacobian`` on two loss closures), then at
checkpoints along training computes, on a fixed probe batch of 1,000 samples: the 6 eigenvalues of
the game Jacobian of largest magnitude, of smallest real part and of largest imaginary part, both
players' own Hessians' extreme eigenvalues, and the label. It writes ``examples/game_mixture/
spectrum.png`` and ``summary.md`` and prints what it found, whichever way it falls.

Usage::

    python examples/game_mixture.py [--iters 20000] [--out examples/game_mixture]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.functional import softplus

from analysis.game import GameJacobian, analyse_game


def networks(latent: int = 100, hidden: int = 100) -> tuple[nn.Module, nn.Module]:
    g = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    d = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    return g, d


def sample_data(n: int, gen: torch.Generator) -> torch.Tensor:
    sign = torch.where(torch.rand(n, 1, generator=gen) < 0.5, -1.0, 1.0)
    return 2.0 * sign + torch.randn(n, 1, generator=gen)


def losses(g: nn.Module, d: nn.Module, real: torch.Tensor, z: torch.Tensor):
    """The non-saturating GAN losses as closures of both networks' parameters (the fakes made inside)."""
    def loss_g() -> torch.Tensor:
        return softplus(-d(g(z))).mean()

    def loss_d() -> torch.Tensor:
        return softplus(-d(real)).mean() + softplus(d(g(z))).mean()

    return loss_g, loss_d


def measure(g: nn.Module, d: nn.Module, real: torch.Tensor, z: torch.Tensor, step: int) -> dict:
    loss_g, loss_d = losses(g, d, real, z)
    op = GameJacobian(loss_g, list(g.parameters()), loss_d, list(d.parameters()))
    result = analyse_game(op, k=6, which=("LM", "SR", "LI"), tol=1e-4, blocks=True, step=step)
    return {"step": step, "result": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=20000)
    parser.add_argument("--measure-at", type=int, nargs="*", default=None)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("examples/game_mixture"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    g, d = networks()
    opt_g = torch.optim.Adam(g.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=args.lr, betas=(0.5, 0.999))
    probe_real = sample_data(1000, torch.Generator().manual_seed(1234))
    probe_z = torch.randn(1000, 100, generator=torch.Generator().manual_seed(4321))
    at = sorted(set(args.measure_at or [0, args.iters // 4, args.iters // 2, args.iters]))
    found = []
    start = time.perf_counter()
    for step in range(args.iters + 1):
        if step in at:
            found.append(measure(g, d, probe_real, probe_z, step))
            r = found[-1]["result"]
            print(f"step {step:>6}: {r.label.label}; LM {np.round(r.parts['LM'].values[:2], 3)}, min Re "
                  f"{r.label.min_real:.3g}, max |Im| {r.rotation.max_imag:.3g}, H_G [{r.blocks.hessian_1[0]:.3g}, "
                  f"{r.blocks.hessian_1[1]:.3g}], H_D [{r.blocks.hessian_2[0]:.3g}, {r.blocks.hessian_2[1]:.3g}], "
                  f"|v| {r.v_norm:.3g} ({r.seconds:.1f} s)", flush=True)
        if step == args.iters:
            break
        real = sample_data(args.batch, gen)
        z = torch.randn(args.batch, 100, generator=gen)
        loss_g, loss_d = losses(g, d, real, z)
        opt_d.zero_grad()
        loss_d().backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g().backward()
        opt_g.step()
    print(f"trained and measured in {time.perf_counter() - start:.0f} s")
    write(found, g, args.out)


def write(found: list[dict], g: nn.Module, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.palettes import stage_colors

    out.mkdir(parents=True, exist_ok=True)
    colors = stage_colors(max(len(found), 1))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    for color, item in zip(colors, found):
        values = item["result"].values
        axes[0].scatter(values.real, values.imag, color=color, s=26, label=f"step {item['step']:,}")
    axes[0].axvline(0, color="0.5", lw=0.8)
    axes[0].set_xlabel("Re λ (J of the gradients; > 0: stable)")
    axes[0].set_ylabel("Im λ")
    axes[0].set_title("game Jacobian: LM, SR and LI eigenvalues", fontsize="medium")
    axes[0].legend(frameon=False, fontsize="small")
    with torch.no_grad():
        fake = g(torch.randn(20000, 100, generator=torch.Generator().manual_seed(7))).numpy().ravel()
    real = sample_data(20000, torch.Generator().manual_seed(8)).numpy().ravel()
    axes[1].hist(real, bins=120, density=True, alpha=0.5, label="data")
    axes[1].hist(fake, bins=120, density=True, alpha=0.5, label="generator")
    axes[1].legend(frameon=False)
    axes[1].set_title("samples at the end", fontsize="medium")
    fig.savefig(out / "spectrum.png", dpi=120)
    last = found[-1]["result"]
    lines = ["# Berard et al.'s 1-D mixture claim", "",
             "| step | label | min Re λ (SR) | max |Im λ| | rotation | λ_min(H_G) | λ_min(H_D) | ‖v‖ |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for item in found:
        r = item["result"]
        lines.append(f"| {item['step']:,} | {r.label.label} | {r.label.min_real:.3g} | {r.rotation.max_imag:.3g} | "
                     f"{r.rotation.rotation:.2f} | {r.blocks.hessian_1[0]:.3g} | {r.blocks.hessian_2[0]:.3g} | "
                     f"{r.v_norm:.3g} |")
    lines += ["", f"At the end: {last.label.description}."]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
