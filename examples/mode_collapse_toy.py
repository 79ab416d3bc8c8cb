"""Mode collapse on the ring of 8 Gaussians: the non-saturating GAN, the unrolled GAN and WGAN-GP side by side.

The classic comparison of Metz, Poole, Pfau & Sohl-Dickstein, "Unrolled Generative
Adversarial Networks" (ICLR 2017), Section 3.1, with the toolkit's MLP GAN (their
network sizes and optimizer, ``trainers.mlp``) on ``ring8`` (8 Gaussians of std 0.02 on a
circle of radius 2, ``landscape.data.toys``):

1. the non-saturating GAN (``loss="ns"``), the plain recipe;
2. the same GAN with its generator loss through the discriminator unrolled ``--unroll``
   (default 10) optimizer steps (``unroll=K``);
3. WGAN-GP (``loss="wgan-gp"``, the toolkit's defaults from Gulrajani et al. 2017:
   Adam 1e-4, betas 0.5/0.9, 5 critic updates per generator update, lambda 10);
4. WGAN-GP as its authors' toy script trains it (``--published N`` iterations, default 2,500; 0 leaves
   it out): arch ``mlp512`` on ``ring8-wgan-gp`` (3 x 512 ReLU players, He init, 2-D noise, batch 256,
   lambda 0.1, the ring divided by 1.414; ``landscape.config.ARCH_LOSS_DEFAULTS``).

Every run trains for the same number of epochs (passes of the discriminator over the
100,000 training points, 195 iterations each at batch 512) on one CPU thread, one run
after the other, and stores the generator's 2,500 points of a fixed z after every epoch
with their quality (``toy_quality``: modes covered and the high-quality fraction,
as VEEGAN and PacGAN count them). The script then writes into ``--out``:

- ``samples.png``: one row per variant, one column per displayed epoch (six, evenly
  spaced, the first and the last included), the points over the modes;
- ``coverage.png``: modes covered (left) and the high-quality fraction (right) after
  every epoch, one line per variant;
- ``lgc.png``: the loss-gradient clouds of each variant, one row per run;
- ``summary.md``: the settings, wall times, and the measured coverage of each variant at
  each sample epoch (every number read back from the run files).

The run files go to ``<out>/runs/`` (not meant for git); runs already complete with the
same settings are skipped.

    python examples/mode_collapse_toy.py                       # examples/mode_collapse, ~5 min on a CPU
    python examples/mode_collapse_toy.py --epochs 50 --seed 1 --out runs/mode-collapse
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import typer

DATASET = "ring8"
#: Default run length: chosen so the three runs take about 5 minutes on one thread of a 2-core CPU.
DEFAULT_EPOCHS = 25
#: Columns of samples.png (evenly spaced over the stored epochs, first and last included).
DISPLAY_COLUMNS = 6

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@dataclass
class Variant:
    """One of the three GANs, as this invocation runs it."""

    key: str  # run file stem
    title: str
    config: Any  # TrainConfig
    path: Path


def plan(out: Path, epochs: int, seed: int, unroll: int, max_iters: Optional[int] = None,
         published_iters: int = 0) -> list[Variant]:
    """The three configurations: the MLP GAN on ring8, differing only in loss and unrolling; with
    ``published_iters``, a fourth: WGAN-GP with the recipe of its authors' toy script (arch ``mlp512`` on
    ``ring8-wgan-gp``: 3 x 512 ReLU, He init, 2-D noise, batch 256, lambda 0.1), for that many iterations."""
    from landscape.config import TrainConfig

    common = dict(arch="mlp", dataset=DATASET, epochs=epochs, max_iters=max_iters, seed=seed, device="cpu",
                  threads=1, hessian_every=0, sample_epochs=tuple(range(1, epochs + 1)))
    specs = [
        ("gan", "GAN (non-saturating)", dict(loss="ns")),
        ("unrolled", f"Unrolled GAN (K={unroll})", dict(loss="ns", unroll=unroll)),
        ("wgan-gp", "WGAN-GP", dict(loss="wgan-gp")),
    ]
    variants = [Variant(key, title, TrainConfig(**common, **extra), out / "runs" / f"{key}.h5")
                for key, title, extra in specs]
    if published_iters:
        published = {**common, "arch": "mlp512", "dataset": "ring8-wgan-gp", "loss": "wgan-gp",
                     "max_iters": min(published_iters, max_iters or published_iters)}
        variants.append(Variant("wgan-gp-published", "WGAN-GP (published toy recipe)", TrainConfig(**published),
                                out / "runs" / "wgan-gp-published.h5"))
    return variants


#: Settings that are not training settings (where it ran, on how many threads): a finished run file that differs
#: only in these needs no re-run (``landscape.is_complete``).
NOT_COMPARED = ("device", "data_dir", "hessian_every", "game_every", "threads")


def record_all(variants: list[Variant]) -> dict[str, float]:
    """Train every variant that is not complete yet, one after the other; wall seconds per run trained."""
    from rich.console import Console

    from landscape import is_complete
    from landscape.progress import show_notes, training_progress
    from analysis.measurements import for_run
    from trainers import record

    console = Console()
    seconds = {}
    for variant in variants:
        if is_complete(variant.path, variant.config, ignore=NOT_COMPARED):
            console.print(f"[green]complete[/] {variant.path} (skipped)")
            continue
        variant.path.parent.mkdir(parents=True, exist_ok=True)
        console.print(f"[bold]{variant.title}[/]: recording {variant.path}")
        start = time.monotonic()
        with training_progress(console) as progress:
            summary = record(variant.config, variant.path, overwrite=True, progress=progress,
                             measurements=for_run(variant.config),  # the toys' coverage at every sample epoch
                             on_start=lambda trainer: show_notes(trainer, console))
        seconds[variant.key] = time.monotonic() - start
        console.print(f"{variant.title}: {summary.status}, {summary.iterations:,} iterations in "
                      f"{summary.seconds:.0f} s" + (f" ({summary.message})" if summary.message else ""),
                      highlight=False)
    return seconds


# ---------------------------------------------------------------------------- measurements
def quality_table(variants: list[Variant], runs: dict[str, Any]) -> Any:
    """One row per (variant, sample epoch): step, epoch, modes_covered, high_quality, from the run files."""
    import pandas as pd

    frames = []
    for variant in variants:
        q = runs[variant.key].quality
        if q.empty:
            continue
        wide = q.pivot_table(index=["step", "epoch"], columns="metric", values="value").reset_index()
        wide["variant"] = variant.title
        frames.append(wide)
    if not frames:
        return pd.DataFrame(columns=["variant", "step", "epoch", "modes_covered", "high_quality"])
    table = pd.concat(frames, ignore_index=True)
    table["epoch"] = table["epoch"].astype(int)
    return table[["variant", "step", "epoch", "modes_covered", "high_quality"]]


def display_epochs(stored: list[int], columns: int = DISPLAY_COLUMNS) -> list[int]:
    """``columns`` of the stored epochs, evenly spaced by position, the first and the last included."""
    if len(stored) <= columns:
        return list(stored)
    picks = [stored[round(i * (len(stored) - 1) / (columns - 1))] for i in range(columns)]
    return list(dict.fromkeys(picks))


def dominant_mode(points: Any, dataset: str = DATASET) -> tuple[int, float]:
    """The mode with the most points near it, and the share of all points near it (-1, 0.0 for none).

    "Near" is within half the distance between neighbouring modes (0.77 on the ring), so
    every point is near at most one mode. A generator collapsed onto a mode puts most of
    its points near it; a cloud spread over the plane, or points far off the ring, do not.
    """
    import numpy as np

    from landscape.data.toys import mode_centres

    centres = mode_centres(dataset)
    spacing = min(np.linalg.norm(a - b) for i, a in enumerate(centres) for b in centres[i + 1:])
    xy = np.asarray(points, dtype=np.float64)
    n = len(xy)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if not len(xy):
        return -1, 0.0
    dist = np.sqrt(((xy[:, None, :] - centres[None]) ** 2).sum(axis=2))
    near = dist.min(axis=1) < spacing / 2
    counts = np.bincount(dist.argmin(axis=1)[near], minlength=len(centres))
    return (int(counts.argmax()), float(counts.max() / n)) if counts.max() else (-1, 0.0)


def outside_view(points: Any, dataset: str = DATASET) -> float:
    """Fraction of points outside the square toyplot draws (a generator that ran away from the ring)."""
    import numpy as np

    from analysis.toys import toy_limit

    xy = np.asarray(points, dtype=np.float64)
    inside = np.isfinite(xy).all(axis=1) & (np.abs(xy) <= toy_limit(dataset)).all(axis=1)
    return float(1.0 - inside.mean()) if len(xy) else float("nan")


def wall_seconds(run: Any) -> float:
    """Training wall time recorded in the run (the last iteration's ``time``)."""
    return float(run.metrics["time"].iloc[-1]) if run.n_iterations else 0.0


def generator_updates(run: Any) -> int:
    """Iterations with a generator step (every one, or every d_steps-th for a critic loss)."""
    return int(run.metrics["g_loss"].notna().sum()) if run.n_iterations else 0


# ---------------------------------------------------------------------------- figures
def samples_figure(variants: list[Variant], runs: dict[str, Any], table: Any) -> Any:
    """Rows: variants; columns: the displayed epochs; each panel titled with what was measured there."""
    import matplotlib.pyplot as plt
    import numpy as np

    from analysis.toys import toyplot

    epochs = display_epochs(runs[variants[0].key].sample_epochs)
    ncols = max(len(epochs), 1)
    fig, axes = plt.subplots(len(variants), ncols, figsize=(2.45 * ncols, 2.75 * len(variants) + 0.4),
                             squeeze=False, layout="constrained")
    for row, variant in zip(axes, variants):
        run = runs[variant.key]
        rows = table[table["variant"] == variant.title].set_index("epoch")
        for col, (ax, epoch) in enumerate(zip(row, epochs)):
            if epoch not in run.sample_epochs:
                ax.set_axis_off()
                continue
            points = run.sample(epoch)
            m = rows.loc[epoch]
            title = f"epoch {epoch}: {int(m['modes_covered'])}/8 modes\n{100 * m['high_quality']:.0f}% high quality"
            away = outside_view(points, variant.config.dataset)
            if 0.005 <= away < 0.5:  # more than half off view: said inside the panel instead
                title += f", {100 * away:.0f}% off view"
            toyplot(points, variant.config.dataset, ax=ax, title=title, s=1.5, alpha=0.25)
            if away >= 0.5:  # most points ran off the ring: say where they are
                centre = np.nanmedian(np.where(np.isfinite(points), points, np.nan), axis=0)
                ax.text(0.5, 0.5, f"{100 * away:.0f}% of the points\nare off this view,\nmedian at\n"
                        f"({centre[0]:.0f}, {centre[1]:.0f})", transform=ax.transAxes, ha="center", va="center",
                        fontsize=8, color="0.25")
            ax.title.set_fontsize(8.5)
            ax.tick_params(labelsize=7)
            ax.set_xlabel("$x_1$" if variant is variants[-1] else "", fontsize=8)
            ax.set_ylabel(f"{variant.title}\n$x_2$" if col == 0 else "", fontsize=9 if col == 0 else 8)
    fig.suptitle(f"Generated points of a fixed z (2,500) on the ring of 8 Gaussians, seed "
                 f"{variants[0].config.seed}; x: mode centres, circles: 3 std", fontsize=10)
    return fig


def coverage_figure(variants: list[Variant], table: Any) -> Any:
    """Modes covered (coverageplot) and the high-quality fraction against epoch, one line per variant."""
    import matplotlib.pyplot as plt

    from analysis.palettes import stage_colors
    from analysis.toys import coverageplot
    from landscape.data.toys import EXACT_HIGH_QUALITY, toy_spec

    order = [v.title for v in variants]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    coverageplot(table, ax=left, hue="variant", hue_order=order, x="epoch", n_modes=toy_spec(DATASET).n_modes)
    left.set_title("Modes covered (>= 1 of 2,500 points within 3 std of the mode)", fontsize=9.5)
    left.legend(fontsize="small", loc="upper left", title=None)
    for title, color in zip(order, stage_colors(len(order), "colorblind")):
        rows = table[table["variant"] == title].sort_values("epoch")
        right.plot(rows["epoch"], 100 * rows["high_quality"], color=color, lw=1.4, marker="o", ms=3, label=title)
    exact = 100 * EXACT_HIGH_QUALITY
    best = 100 * float(table["high_quality"].max()) if len(table) else 0.0
    title = "High-quality fraction (points within 3 std of their nearest mode)"
    if best < 50:  # zoom in on what the runs reached; the exact samples' level is named instead of drawn
        top = max(5.0, 1.25 * best)
        right.set_ylim(-0.03 * top, top)
        title += f"\nexact samples of the mixture: {exact:.1f}% (off this scale)"
    else:
        right.axhline(exact, color="black", ls="--", lw=1, alpha=0.7, label=f"exact samples ({exact:.1f}%)")
        right.set_ylim(-3, 103)
    right.set_xlabel("epoch")
    right.set_ylabel("high-quality points (%)")
    right.set_title(title, fontsize=9.5)
    right.legend(fontsize="small", loc="upper left")
    fig.suptitle("Mode coverage over training, ring of 8 Gaussians", fontsize=11)
    return fig


def lgc_plot(variants: list[Variant], runs: dict[str, Any]) -> Any:
    """The loss-gradient clouds of each variant, one row per run."""
    from analysis.lgc import lgc_figure

    return lgc_figure([runs[v.key] for v in variants], height=2.6)


# ---------------------------------------------------------------------------- summary
def _markdown(frame: Any) -> str:
    from analysis.stationarity.render import markdown_table

    return markdown_table(frame)


def settings_rows(variants: list[Variant], runs: dict[str, Any]) -> list[str]:
    rows = ["| variant | loss | unroll K | D steps per G step | optimizer (lr G / D, betas) | gradient penalty | "
            "epochs | iterations | G updates | wall time | per iteration | run file |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for v in variants:
        run, cfg = runs[v.key], runs[v.key].config
        wall, n = wall_seconds(run), run.n_iterations
        reached = int(run.metrics["epoch"].iloc[-1]) if n else 0
        gp = f"lambda {cfg['gp_weight']:g}" if cfg.get("gp_weight") is not None else "none"
        betas = "/".join(f"{b:g}" for b in cfg["betas"])
        reached_text = str(reached) if reached == cfg["epochs"] else f"{reached} of {cfg['epochs']}"
        rows.append(f"| {v.title} | {cfg['loss']} | {cfg['unroll'] or '-'} | {cfg['d_steps']} | "
                    f"{cfg['optimizer']} ({cfg['lr_g']:g} / {cfg['lr_d']:g}, {betas}) | {gp} | "
                    f"{reached_text} | {n:,} | "
                    f"{generator_updates(run):,} | {wall:.0f} s | {1000 * wall / max(n, 1):.1f} ms | "
                    f"`runs/{v.path.name}` |")
    return rows


def coverage_rows(variants: list[Variant], runs: dict[str, Any], table: Any) -> Any:
    """One row per sample epoch: modes covered and high-quality % of each variant (the epochs of samples.png marked)."""
    import pandas as pd

    shown = set(display_epochs(runs[variants[0].key].sample_epochs))
    epochs = sorted(set(table["epoch"]))
    rows = []
    for epoch in epochs:
        row: dict[str, Any] = {"epoch": f"**{epoch}**" if epoch in shown else str(epoch)}
        for v in variants:
            m = table[(table["variant"] == v.title) & (table["epoch"] == epoch)]
            if m.empty:
                row[f"{v.title}: modes"], row[f"{v.title}: HQ"] = "", ""
                continue
            row[f"{v.title}: modes"] = f"{int(m['modes_covered'].iloc[0])}"
            row[f"{v.title}: HQ"] = f"{100 * m['high_quality'].iloc[0]:.1f}%"
        rows.append(row)
    return pd.DataFrame(rows)


def findings(variants: list[Variant], runs: dict[str, Any], table: Any) -> list[str]:
    """Sentences computed from the run files: the last epoch, the range over training, where the points sit."""
    import numpy as np

    from landscape.data.toys import toy_spec

    n_modes = toy_spec(DATASET).n_modes
    lines = ["| variant | modes covered at the last epoch | high quality at the last epoch | modes covered over "
             "training (min / median / max) | best high quality | epochs with most points at one mode | "
             "distinct modes it sat on | mean distance from the origin at the last epoch (ring: 2; ring8-wgan-gp: 1.41) | "
             "points off the plotted square at the last epoch |", "|---|---|---|---|---|---|---|---|---|"]
    last: dict[str, float] = {}
    for v in variants:
        run = runs[v.key]
        rows = table[table["variant"] == v.title].sort_values("epoch")
        if rows.empty:
            continue
        final = rows.iloc[-1]
        last[v.title] = final["modes_covered"]
        dominant = [dominant_mode(run.sample(e), v.config.dataset) for e in run.sample_epochs]
        sat_on = [mode for mode, share in dominant if share > 0.5]
        points = np.asarray(run.sample(int(final["epoch"])), dtype=np.float64)
        radius = float(np.nanmean(np.linalg.norm(points, axis=1)))
        mc = rows["modes_covered"]
        lines.append(f"| {v.title} | {int(final['modes_covered'])} of {n_modes} | {100 * final['high_quality']:.1f}% | "
                     f"{int(mc.min())} / {mc.median():g} / {int(mc.max())} | {100 * rows['high_quality'].max():.1f}% | "
                     f"{len(sat_on)} of {len(dominant)} | {len(set(sat_on))} | {radius:.2f} | "
                     f"{100 * outside_view(points, v.config.dataset):.0f}% |")
    lines.append("")
    if len(last) == len(variants):
        plain, others = variants[0].title, variants[1:]
        fewer = [o.title for o in others if last[plain] < last[o.title]]
        not_fewer = [o.title for o in others if last[plain] >= last[o.title]]
        sentence = (f"At the last epoch the plain GAN covers {int(last[plain])} of {n_modes} modes; "
                    + "; ".join(f"{o.title} {int(last[o.title])}" for o in others) + ". ")
        if fewer:
            sentence += f"The plain GAN covers fewer modes than {' and '.join(fewer)}"
            sentence += (f", but not fewer than {' and '.join(not_fewer)}." if not_fewer else ".")
        else:
            sentence += "The plain GAN does not cover fewer modes than the others with these settings."
        lines.append(sentence)
        lines.append("")
    lines += ["How to read the counts: a mode counts as covered when at least 1 of the 2,500 points lies within "
              "3 standard deviations (0.06) of its centre and nearer to it than to any other (VEEGAN's and "
              "PacGAN's measure). A wide cloud that has not concentrated on the modes yet can cover several modes "
              "by this count with almost no high-quality points, so read the modes covered together with the "
              "high-quality fraction and the samples. \"Epochs with most points at one mode\" counts the sample "
              "epochs at which more than half of the points lay within 0.77 (half the distance between "
              "neighbouring modes) of one mode (a generator collapsed onto it; a cloud spread over the plane "
              "and points far off the ring do not count), and \"distinct modes it sat on\" "
              "how many different modes those were: a generator that hops from mode to mode sits on several "
              "over training while covering about one at a time.", ""]
    return lines


def published_note(variants: list[Variant], runs: dict[str, Any]) -> list[str]:
    """What the published-recipe arm is and how much of the authors' run length it had (empty without that arm)."""
    chosen = [v for v in variants if v.key == "wgan-gp-published"]
    if not chosen:
        return []
    run = runs[chosen[0].key]
    cfg, g_updates = run.config, generator_updates(run)
    return [f"WGAN-GP (published toy recipe) is the authors' toy script (Gulrajani et al. 2017, `gan_toy.py` in "
            "igul222/improved_wgan_training) as `--arch mlp512 --data ring8-wgan-gp --loss wgan-gp` gives it: both "
            "players 3 hidden layers of 512 ReLU units with He initialisation, the critic reading the points "
            f"unscaled; z {cfg['z_dim']}-d {cfg['z_dist']}; batch {cfg['batch_size']}; {cfg['d_steps']} critic steps "
            f"per generator step; Adam {cfg['lr_g']:g}, betas {cfg['betas'][0]:g}/{cfg['betas'][1]:g}; lambda "
            f"{cfg['gp_weight']:g}; the ring divided by 1.414 (radius 1.41, std 0.0141; the quality measure counts "
            f"in standard deviations, so its numbers compare with the ring's). It ran {run.n_iterations:,} critic "
            f"iterations, {g_updates:,} generator updates: {100 * g_updates / 100_000:.1f}% of the script's 100,000 "
            "generator iterations, which this CPU cannot afford here; its epochs are passes over the 100,000 "
            "points at batch 256 (390 iterations), so its rows in the tables below end earlier.", ""]


def summary_markdown(variants: list[Variant], runs: dict[str, Any], table: Any, figures: list[str],
                     command: str) -> str:
    cfg = runs[variants[0].key].config
    total = sum(wall_seconds(runs[v.key]) for v in variants)
    parts = [
        "# Mode collapse on the ring of 8 Gaussians: GAN, unrolled GAN, WGAN-GP",
        "",
        f"Generated by `{command}`. Every number below is read from the run files in `runs/`; nothing is "
        "typed in by hand.",
        "",
        "## Settings",
        "",
        f"The MLP GAN of Metz et al. (2017) (`trainers/mlp.py`: G 256-d normal z -> 2 x 128 ReLU -> 2; D input "
        f"x 0.25 -> 128 ReLU -> 1; orthogonal init gain 0.8) on `{DATASET}` (8 Gaussians, std 0.02, on a circle "
        f"of radius 2; a fixed training set of 100,000 points), batch {cfg['batch_size']}, z "
        f"{cfg['z_dim']}-d {cfg['z_dist']}, seed {cfg['seed']}, one CPU thread per run, the runs one after the "
        "other. An iteration is one discriminator (critic) update; WGAN-GP updates the generator every "
        f"{runs[variants[-1].key].config['d_steps']}th iteration, so for the same epochs it makes fewer "
        "generator updates. The generator's points of a fixed z (2,500) and their quality are stored after every "
        "epoch. No Hessian estimates.",
        "",
        *settings_rows(variants, runs),
        "",
        *published_note(variants, runs),
        f"Total training wall time: {total:.0f} s ({total / 60:.1f} min). Wall times include the time spent "
        f"storing samples and measuring them; they were measured on a machine with {os.cpu_count()} CPU cores, "
        "alongside whatever else it was running.",
        "",
        "## Figures",
        "",
        *[f"![{name}]({name})" for name in figures],
        "",
        "## What was measured",
        "",
        *findings(variants, runs, table),
        "## Modes covered and high-quality fraction at each sample epoch",
        "",
        "Modes covered (of 8) and the high-quality fraction (HQ: points within 3 std of their nearest mode; "
        "exact samples of the mixture score 98.9%). The epochs drawn in `samples.png` are in bold.",
        "",
        _markdown(coverage_rows(variants, runs, table)),
        "",
    ]
    return "\n".join(parts)


# ---------------------------------------------------------------------------- command
@app.command()
def main(
    out: Path = typer.Option(Path("examples/mode_collapse"), help="Output folder (figures, summary.md, runs/)."),
    epochs: int = typer.Option(DEFAULT_EPOCHS, min=1, help="Epochs of every run (195 iterations each)."),
    seed: int = typer.Option(0, min=0, help="Seed of every run."),
    unroll: int = typer.Option(10, min=1, help="Unrolled discriminator steps K of the unrolled GAN."),
    dpi: int = typer.Option(100, min=20, help="Resolution of the PNG figures."),
    published: int = typer.Option(2_500, min=0, help="Iterations of WGAN-GP with its authors' toy recipe (arch mlp512 "
                                  "on ring8-wgan-gp; the script's 100,000 generator steps are 500,000); 0: leave it out."),
    max_iters: Optional[int] = typer.Option(None, min=1, hidden=True,
                                            help="Stop every run after this many iterations (tests)."),
) -> None:
    """Train the GAN, the unrolled GAN and WGAN-GP on ring8 and draw their samples, coverage and LGCs."""
    import sys

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rich.console import Console

    from landscape import open_run
    from landscape.errors import LandscapeError

    console = Console()

    try:
        variants = plan(out, epochs, seed, unroll, max_iters, published)
        out.mkdir(parents=True, exist_ok=True)
        record_all(variants)
        runs = {v.key: open_run(v.path) for v in variants}
        console.print("Drawing figures and writing the summary ...")
        table = quality_table(variants, runs)
        figures = []
        for name, fig in (("samples.png", samples_figure(variants, runs, table)),
                          ("coverage.png", coverage_figure(variants, table))):
            fig.savefig(out / name, dpi=dpi)
            plt.close(fig)
            figures.append(name)
        grid = lgc_plot(variants, runs)
        grid.savefig(out / "lgc.png", dpi=dpi)
        plt.close(grid.fig)
        figures.append("lgc.png")
        args = " ".join(sys.argv[1:])
        command = f"python examples/mode_collapse_toy.py{' ' + args if args else ''}"
        (out / "summary.md").write_text(summary_markdown(variants, runs, table, figures, command))
    except LandscapeError as err:
        console.print(f"[bold red]Error:[/] {err}", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"Wrote {out / 'summary.md'} and {len(figures)} figures into {out}")


if __name__ == "__main__":
    app()
