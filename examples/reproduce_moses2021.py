"""Reproduce Moses, Malan & Bosman (GECCO '21), "Analysing the Loss Landscape Features of GANs".

One command runs the paper's six configurations (vanilla GAN and DCGAN on MNIST,
Fashion-MNIST and CIFAR-10; docs/recording.md, "The paper's setup"), skips runs already complete, and
writes into one folder:

- ``lgc_<arch>_<dataset>.png``: the loss-gradient clouds of each run (Figures 2-7),
  and ``lgc_all.png``: all six in one grid;
- ``samples_<arch>.png``: the sample grids of a fixed z at epochs 1, 25, 50, 75, 100
  (Figures 8-9);
- ``summary.md``: Tables 1-2 (parameter counts computed from the models), which
  runs are reduced and how, the stationarity verdicts, the Hessian's curvature at
  the stage boundaries, and the measured numbers behind each qualitative claim of
  the paper's section 5.

The run files go to ``<out>/runs/`` (not meant for git: several MB each).

    python examples/reproduce_moses2021.py --out examples/moses2021            # the full paper
    python examples/reproduce_moses2021.py --dcgan-max-iters 1000 --jobs 2    # a 2-core CPU (about an hour)

Budget options scale the runs down; the summary states every reduction. ``--jobs N``
trains N runs side by side in separate processes, one thread each (longest first);
``--dcgan-precision auto`` trains DCGAN in bfloat16 on a CPU with bfloat16 units
(about 2x faster there) and in float32 (the paper's arithmetic) everywhere else.
"""

from __future__ import annotations

import sys

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from landscape.config import ARCH_TITLES, IMAGE_DATASETS, dataset_title

#: Where the script prints (stdout, as the CLI does).
console = Console()

#: The paper's two architectures (the toolkit has more).
ARCHS = ("vanilla", "dcgan")

PAPER_EPOCHS = 100
PAPER_ITERS_PER_EPOCH = {"mnist": 468, "fashion-mnist": 468, "cifar10": 390}

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@dataclass
class Planned:
    """One of the six configurations, as this invocation runs it."""

    arch: str
    dataset: str
    config: Any  # TrainConfig
    path: Path

    @property
    def key(self) -> str:
        return f"{self.arch}_{self.dataset.replace('-', '_')}"

    @property
    def title(self) -> str:
        return f"{ARCH_TITLES[self.arch]}, {dataset_title(self.dataset)}"


# ---------------------------------------------------------------------------- runs
def wants_hessian(arch: str, hessian: str, device: str) -> bool:
    """Hessian estimates at the stage boundaries: ``all``, ``none``, or ``auto`` (the vanilla GAN
    always; DCGAN only on a GPU, where an estimate takes seconds instead of tens of minutes)."""
    if hessian != "auto":
        return hessian == "all"
    if arch == "vanilla" or device != "auto":
        return arch == "vanilla" or device.startswith("cuda")
    import torch

    return torch.cuda.is_available()


def dcgan_precision_for(choice: str, device: str) -> str:
    """``auto``: bf16 on a CPU with bfloat16 units (DCGAN's convolutions run ~2x faster), else fp32."""
    if choice != "auto":
        return choice
    import torch

    from trainers.precision import cpu_has_bf16

    on_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    return "bf16" if on_cpu and cpu_has_bf16() else "fp32"


def plan(out: Path, epochs: int, dcgan_epochs: int, subset: Optional[int], dcgan_subset: Optional[int],
         dcgan_max_iters: Optional[int], device: str, data_dir: Optional[str], seed: int,
         only: list[str], hessian: str = "auto", dcgan_precision: str = "fp32",
         threads: Optional[int] = None) -> list[Planned]:
    """The configurations to run: the paper's, with this invocation's budget applied."""
    from landscape.config import TrainConfig

    planned = []
    for arch in ARCHS:
        if only and arch not in only:
            continue
        for dataset in IMAGE_DATASETS:
            config = TrainConfig(
                arch=arch,
                dataset=dataset,
                epochs=epochs if arch == "vanilla" else dcgan_epochs,
                subset=dcgan_subset if arch == "dcgan" and dcgan_subset is not None else subset,
                max_iters=dcgan_max_iters if arch == "dcgan" else None,
                device=device,
                data_dir=data_dir,
                seed=seed,
                hessian_every=None if wants_hessian(arch, hessian, device) else 0,
                precision=dcgan_precision if arch == "dcgan" else "fp32",
                threads=threads,
            )
            planned.append(Planned(arch, dataset, config, out / "runs" / f"{arch}-{dataset}.h5"))
    return planned


#: Settings that are not training settings (where the curvature is estimated, on how many threads, how quality is
#: sampled): a finished run file that differs only in these needs no re-run (``landscape.is_complete``).
NOT_COMPARED = ("device", "data_dir", "hessian_every", "game_every", "threads", "quality_every", "quality_samples")


def record_all(planned: list[Planned], jobs: int = 1) -> dict[str, float]:
    """Train every configuration that is not complete yet; returns wall seconds per run trained.

    With ``jobs > 1`` the runs train side by side in that many processes (one thread each,
    the longest first), each printing a progress line a minute.
    """
    from landscape import is_complete

    todo = []
    for item in planned:
        if is_complete(item.path, item.config, ignore=NOT_COMPARED):
            console.print(f"[green]complete[/] {item.path} (skipped)")
        else:
            todo.append(item)
    if jobs <= 1:
        return {item.key: record_one(item) for item in todo}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    todo.sort(key=lambda item: item.arch != "dcgan")  # DCGAN runs are the long ones: start them first
    seconds = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(record_one, item, 60.0): item for item in todo}
        for future in as_completed(futures):
            seconds[futures[future].key] = future.result()
    return seconds


def record_one(item: Planned, log_every: Optional[float] = None) -> float:
    """Train one configuration into its run file; returns its wall seconds.

    ``log_every``: plain progress lines this many seconds apart (a process among several
    side by side) instead of a progress bar.
    """
    import warnings

    from analysis.measurements import for_run
    from analysis.quality.classifiers import resolve_reference
    from landscape.errors import show_warning_line
    from landscape.progress import say, show_notes, training_progress
    from trainers import record

    warnings.showwarning = show_warning_line  # one line, as the CLI shows it (also in a worker process)
    printer = console if log_every is None else Console(force_terminal=False, soft_wrap=True)
    printer.print(f"[bold]{item.title}[/]: recording {item.path}")
    progress_kwargs = {} if log_every is None else {"log_every": log_every}
    # the dataset's classifier (ensure_classifiers found or trained it) and one line per measurement
    context = {}
    if item.config.quality_every != 0:
        context["reference"] = resolve_reference(item.dataset, item.config.data_dir, None, printer)
    measurements = for_run(item.config, say=lambda text: say(printer, text), **context)
    with training_progress(printer, **progress_kwargs) as progress:
        summary = record(item.config, item.path, overwrite=True, progress=progress,
                         on_start=lambda trainer: show_notes(trainer, printer), measurements=measurements)
    printer.print(f"{item.title}: {summary.status}, {summary.iterations:,} iterations in {summary.seconds:.0f} s"
                  + (f" ({summary.message})" if summary.message else ""), highlight=False)
    return summary.seconds


def ensure_classifiers(planned: list[Planned]) -> None:
    """Train (once, cached) the domain classifier of every dataset planned, before any run starts: runs side by
    side then find it in the cache instead of each training its own."""
    from analysis.quality.classifiers import resolve_reference

    for dataset in dict.fromkeys(item.dataset for item in planned):
        ref = resolve_reference(dataset, planned[0].config.data_dir, None, console)
        console.print(f"{dataset} classifier: {100 * ref.accuracy:.2f}% test accuracy ({ref.path.name})", highlight=False)


def add_missing_quality(planned: list[Planned]) -> None:
    """Measure sample quality at the checkpoints of runs recorded without it (older run files)."""
    from analysis.quality.checkpoints import measure_checkpoint
    from analysis.quality.classifiers import get_reference
    from landscape import open_run

    for item in planned:
        run = open_run(item.path)
        if not run.quality.empty:
            continue
        reference = get_reference(item.dataset, data_dir=item.config.data_dir, train=False)
        for step in run.checkpoint_steps:
            measure_checkpoint(run, step, reference)
            console.print(f"{item.path.name}: quality at checkpoint {step:,}", highlight=False)


def quality_table(planned: list[Planned], runs: dict[str, Any]) -> str:
    """Markdown: each run's sample quality at every measured step, and what the report says about it."""
    from landscape.metric_names import COUNTED, METRIC_TITLES

    shown = ("inception_score", "class_kl", "classes_covered", "frechet_distance", "precision", "recall", "coverage")
    rows = ["| configuration | epoch | step | " + " | ".join(METRIC_TITLES[m] for m in shown) + " | n |",
            "|---|---:|---:|" + "---:|" * len(shown) + "---:|"]
    for item in planned:
        q = runs[item.key].quality
        if q.empty:
            rows.append(f"| {item.title} | - | - |" + " - |" * len(shown) + " - |")
            continue
        wide = q.pivot_table(index=["step", "epoch"], columns="metric", values="value").reset_index()
        n = q.groupby("step")["n"].first()
        for _, r in wide.iterrows():
            cells = [f"{int(r[m])}" if m in COUNTED else f"{r[m]:.3g}" for m in shown]
            rows.append(f"| {item.title} | {int(r['epoch'])} | {int(r['step']):,} | " + " | ".join(cells)
                        + f" | {int(n[r['step']]):,} |")
    return "\n".join(rows)


def classifier_accuracies(planned: list[Planned]) -> str:
    """``mnist 99.1%, ...``: the test accuracy of each dataset's cached classifier."""
    from analysis.quality.classifiers import get_reference

    parts = []
    for dataset in dict.fromkeys(item.dataset for item in planned):
        ref = get_reference(dataset, data_dir=planned[0].config.data_dir, train=False)
        parts.append(f"{dataset} {100 * ref.accuracy:.1f}%")
    return ", ".join(parts)


def quality_markdown(planned: list[Planned], runs: dict[str, Any], report: Any, level: str = "##") -> str:
    """The sample-quality section: how it was measured, the table, and the report's findings."""
    return "\n".join([
        f"{level} Sample quality",
        "",
        "Measured during training at the sample epochs by each dataset's own classifier (test accuracy: "
        f"{classifier_accuracies(planned)}) on 10,000 generated images against the 10,000 real test images. "
        "Class KL is KL(p_gen || p_real) of the predicted classes (0: the real class mix; log 10 = 2.30: one class); "
        "the Frechet distance, precision, recall and coverage are on the classifier's penultimate features.",
        "",
        quality_table(planned, runs),
        "",
        "Where quality changes most, and whether the landscape summaries change in the same stage (`landscape report`):",
        "",
        *[f"- {finding}" for finding in quality_findings(report)],
    ])


def quality_figure(planned: list[Planned], runs: dict[str, Any], out: Path, dpi: int) -> list[str]:
    """``quality_timeline.png``: loss, gradient norm and sample quality against iteration, one run per row."""
    import matplotlib.pyplot as plt

    from analysis.timeline import timeline_figure

    measured = [runs[item.key] for item in planned if not runs[item.key].quality.empty]
    if not measured:
        return []
    fig = timeline_figure(measured, height=2.0)
    fig.savefig(out / "quality_timeline.png", dpi=dpi)
    plt.close(fig)
    return ["quality_timeline.png"]


def quality_findings(report: Any) -> list[str]:
    """The report's sentence per run on where quality changes most and whether the landscape changes there too."""
    return [f"{r['run']}: {r['finding']}" for r in report.quality_changes.to_dict("records")]


def add_missing_hessians(planned: list[Planned]) -> None:
    """Estimate the curvature at every stored checkpoint that has none yet (runs recorded without it)."""
    from analysis.hessian import estimate, store
    from landscape import open_run
    from landscape.networks import PARAMETER_NETWORKS

    for item in planned:
        if item.config.hessian_every == 0:
            continue
        run = open_run(item.path)
        stored = run.hessian()
        have = set(zip(stored["step"], stored["network"])) if not stored.empty else set()
        for step in run.checkpoint_steps:
            for network in PARAMETER_NETWORKS:
                if (step, network) in have:
                    continue
                result = estimate(run, step=step, network=network, k=item.config.hessian_k)
                store(result, item.path)
                console.print(f"{item.path.name}: Hessian at step {step:,} ({network}): "
                              f"{result.classification.label} ({result.seconds:.1f} s)", highlight=False)


def add_missing_game(planned: list[Planned]) -> None:
    """Estimate the game Jacobian's spectrum at every stored checkpoint that has none yet (runs recorded before the
    game kind, or without it), with the settings a recording uses (the 6 largest-magnitude eigenvalues)."""
    from analysis.game import estimate_game
    from analysis.game.measurement import GameSpectrum
    from analysis.game.storage import store
    from landscape import open_run
    from landscape.measurements import configured_every

    for item in planned:
        if configured_every(item.config, "game") == 0:
            continue
        run = open_run(item.path)
        have = set(run.game["step"]) if not run.game.empty else set()
        for step in run.checkpoint_steps:
            if step in have:
                continue
            result = estimate_game(run, step, **GameSpectrum(None).options)
            store(result, item.path)
            console.print(f"{item.path.name}: game Jacobian at step {step:,}: {result.label.label} "
                          f"({result.seconds:.1f} s)", highlight=False)


def game_markdown(planned: list[Planned], runs: dict[str, Any]) -> list[str]:
    """The game Jacobian at the stage boundaries of each run that has it: the label of the point, rotation and
    stability, and whether it is a local Nash equilibrium (both players' Hessians positive semi-definite)."""
    import pandas as pd

    from analysis.game.storage import read_game

    frames = {item.key: read_game(runs[item.key]) for item in planned}
    frames = {key: frame for key, frame in frames.items() if not frame.empty}
    out = ["### Game dynamics at the stage boundaries (beyond the paper: Berard et al., ICLR 2020)", ""]
    if not frames:
        return out + ["No run of this reproduction has game-Jacobian estimates (they follow `--hessian`).", ""]
    out += ["The 6 eigenvalues of largest magnitude and the 6 of smallest real part of the game Jacobian J (the "
            "Jacobian of the players' joint gradient field, Mescheder et al.'s sign negated: stable where every real "
            "part is positive) on each run's probe batch. *Rotation* is the largest |Im λ| / |λ| among them; *locally "
            "stable* means every real part is above the tolerance (counted only where the smallest real parts were "
            "computed; an older estimate of the largest magnitudes alone reads \"on LM k=6 only\"); *Nash* needs both players' own Hessians positive semi-definite "
            "(from the run's Hessian estimates at the same step). Berard et al. report that GANs converge to "
            "locally stable points with strong rotation that are not local Nash equilibria.", ""]
    titles = {item.key: item.title for item in planned}
    for key, frame in frames.items():
        n = len(frame)
        stable = int((frame["stable"].astype(bool) & frame["stability_decisive"].astype(bool)).sum())
        rotational = int(frame["rotational"].astype(bool).sum())
        nash = int((frame["nash"] == True).sum())  # noqa: E712 (None where unknown)
        known = int(frame["nash"].notna().sum())
        out.append(f"- **{titles[key]}**: locally stable at {stable} of {n} boundaries, rotational at {rotational} "
                   f"of {n}, a local Nash equilibrium at {nash} of {known} with both Hessians known.")
    out.append("")
    rows = []
    for key, frame in frames.items():
        for row in frame.to_dict("records"):
            nash = row.get("nash")
            rows.append({"run": titles[key], "step": f"{int(row['step']):,}", "stage": int(row["stage"]),
                         "label": row["label"], "spectral radius": f"{row['spectral_radius']:.3g}",
                         "min Re λ": f"{row['min_real']:.3g}", "rotation": f"{row['rotation']:.2f}",
                         "‖v‖": f"{row['v_norm']:.3g}",
                         "Nash": "unknown" if nash is None or nash != nash else ("yes" if nash else "no")})
    return out + [_markdown(pd.DataFrame(rows)), ""]


# ---------------------------------------------------------------------------- figures
def lgc_figures(planned: list[Planned], runs: dict[str, Any], out: Path, dpi: int) -> list[str]:
    """Figures 2-7 (one per configuration) and a grid of all runs."""
    import matplotlib.pyplot as plt

    from analysis.lgc import lgc_figure

    written = []
    for item in planned:
        grid = lgc_figure([runs[item.key]])  # headed by the run's title and file name
        name = f"lgc_{item.key}.png"
        grid.savefig(out / name, dpi=dpi)
        plt.close(grid.fig)
        written.append(name)
    grid = lgc_figure([runs[item.key] for item in planned], height=2.4)
    grid.savefig(out / "lgc_all.png", dpi=dpi)
    plt.close(grid.fig)
    return written + ["lgc_all.png"]


def sample_figures(planned: list[Planned], runs: dict[str, Any], out: Path, dpi: int) -> list[str]:
    """Figures 8-9: the fixed-z sample grids at the stored epochs, one row per dataset."""
    import matplotlib.pyplot as plt

    written = []
    for arch in ARCHS:
        items = [p for p in planned if p.arch == arch]
        if not items:
            continue
        ncols = max(len(runs[p.key].sample_epochs) for p in items) or 1
        fig, axes = plt.subplots(len(items), ncols, figsize=(2.2 * ncols, 2.4 * len(items)), squeeze=False)
        for row, item in zip(axes, items):
            run = runs[item.key]
            for ax in row:
                ax.axis("off")
            for ax, epoch in zip(row, run.sample_epochs):
                grid = run.sample(epoch)
                ax.imshow(grid.squeeze(-1) if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=255)
                ax.set_title(f"{dataset_title(item.dataset)}, epoch {epoch}", fontsize=8)
        fig.suptitle(f"Samples of a fixed z: {ARCH_TITLES[arch]}")
        fig.tight_layout()
        name = f"samples_{arch}.png"
        fig.savefig(out / name, dpi=dpi)
        plt.close(fig)
        written.append(name)
    return written


# ---------------------------------------------------------------------------- tables and claims
def parameter_tables() -> str:
    """Tables 1-2 of the paper, computed from the models (trainable parameters per network)."""
    from landscape.config import TrainConfig
    from trainers.models import build_models, count_params

    paper = {
        ("vanilla", "mnist"): (81_184, 78_601), ("vanilla", "cifar10"): (312_272, 307_401),
        ("dcgan", "mnist"): (804_832, 1_039_539), ("dcgan", "cifar10"): (848_672, 1_042_754),
    }
    lines = []
    for number, arch in ((1, "vanilla"), (2, "dcgan")):
        lines += [f"**Table {number}: {ARCH_TITLES[arch]} trainable parameters**", "",
                  "| data | generator | discriminator | paper (G / D) | match |", "|---|---|---|---|---|"]
        for dataset, label in (("mnist", "MNIST, Fashion-MNIST (28x28x1)"), ("cifar10", "CIFAR-10 (32x32x3)")):
            g, d = build_models(TrainConfig(arch=arch, dataset=dataset))
            counts = (count_params(g), count_params(d))
            ok = "yes" if counts == paper[(arch, dataset)] else "NO"
            lines.append(f"| {label} | {counts[0]:,} | {counts[1]:,} | {paper[(arch, dataset)][0]:,} / "
                         f"{paper[(arch, dataset)][1]:,} | {ok} |")
        lines.append("")
    return "\n".join(lines)


def stage_medians(run: Any, network: str) -> Any:
    """Median loss and gradient norm of ``network`` per stage (fifths)."""
    tidy = run.tidy(5)
    part = tidy[tidy["network"] == network]
    return part.groupby("stage", observed=True)[["loss", "grad_norm"]].median()


def spread(values: Any, low: float = 0.01, high: float = 0.99) -> float:
    """Orders of magnitude between the low and high quantiles of positive values."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if len(values) == 0:
        return float("nan")
    lo, hi = np.quantile(values, [low, high])
    return float(np.log10(hi / lo))


def claims(planned: list[Planned], runs: dict[str, Any], report: Any) -> str:
    """The paper's section-5 claims, each with the measured numbers that support or contradict it."""
    import numpy as np

    out: list[str] = []
    vanilla = [p for p in planned if p.arch == "vanilla"]
    dcgan = [p for p in planned if p.arch == "dcgan"]

    # 1. The vanilla generator's cloud moves from high to low gradient norm and loss.
    if vanilla:
        out += ["### Claim 1: the vanilla generator's cloud moves from high to low gradient norm and loss", "",
                "| run | stage 1 median loss | stage 5 median loss | stage 1 median grad norm | stage 5 median grad norm | verdict |",
                "|---|---|---|---|---|---|"]
        for item in vanilla:
            med = stage_medians(runs[item.key], "g")
            first, last = med.iloc[0], med.iloc[-1]
            down_norm = last["grad_norm"] < first["grad_norm"]
            down_loss = last["loss"] < first["loss"]
            verdict = ("supported" if down_norm and down_loss else
                       "partly: gradient norm falls, loss does not" if down_norm else
                       "partly: loss falls, gradient norm does not" if down_loss else "contradicted")
            out.append(f"| {item.title} | {first['loss']:.3g} | {last['loss']:.3g} | {first['grad_norm']:.3g} | "
                       f"{last['grad_norm']:.3g} | {verdict} |")
        out.append("")

    # 2. The discriminator's loss stays in a narrow range.
    out += ["### Claim 2: the discriminator's loss stays in a narrow range", "",
            "Width of the central 98% (1st to 99th percentile) of the loss over the whole run, D against G.", "",
            "| run | D loss range | D width | G loss range | G width | D width / G width | verdict |",
            "|---|---|---|---|---|---|---|"]
    for item in planned:
        m = runs[item.key].metrics
        d_lo, d_hi = np.quantile(m["d_loss"], [0.01, 0.99])
        g_lo, g_hi = np.quantile(m["g_loss"], [0.01, 0.99])
        ratio = (d_hi - d_lo) / (g_hi - g_lo)
        out.append(f"| {item.title} | {d_lo:.3g} to {d_hi:.3g} | {d_hi - d_lo:.3g} | {g_lo:.3g} to {g_hi:.3g} | "
                   f"{g_hi - g_lo:.3g} | {ratio:.2f} | {'supported' if ratio < 1 else 'contradicted'} |")
    out.append("")

    # 3. DCGAN shows a wider range of gradient norms than the vanilla GAN.
    if vanilla and dcgan:
        out += ["### Claim 3: DCGAN shows a wider range of gradient norms than the vanilla GAN", "",
                "Spread = orders of magnitude between the 1st and 99th percentile of the gradient norm.", "",
                "| data | network | vanilla spread | DCGAN spread | verdict |", "|---|---|---|---|---|"]
        for dataset in IMAGE_DATASETS:
            v = next((p for p in vanilla if p.dataset == dataset), None)
            d = next((p for p in dcgan if p.dataset == dataset), None)
            if v is None or d is None:
                continue
            for network, column in (("G", "g_grad_norm"), ("D", "d_grad_norm")):
                sv = spread(runs[v.key].metrics[column])
                sd = spread(runs[d.key].metrics[column])
                out.append(f"| {dataset_title(dataset)} | {network} | {sv:.2f} | {sd:.2f} | "
                           f"{'supported' if sd > sv else 'contradicted'} |")
        out.append("")

    # 4. Stationary points are not reached; 5. the trend suggests further training could reach them.
    verdicts = report.verdicts
    out += ["### Claim 4: stationary points are not reached", "",
            "Smallest gradient norm of the run, relative to the first stage's median, and the fraction of "
            "the run's iterations whose gradient norm is below 0.1 x the first stage's median (the stationarity "
            "report's relative threshold). The claim counts as contradicted for a network if more than half "
            "of its iterations are that close to stationary.", "",
            "| run | network | min grad norm | min / stage-1 median | near-stationary fraction | verdict |",
            "|---|---|---|---|---|---|"]
    near = report.near_stationary
    for item in planned:
        tidy = runs[item.key].tidy(5)
        for network in ("g", "d"):
            part = tidy[tidy["network"] == network]
            first = part[part["stage"] == 1]["grad_norm"].median()
            low = part["grad_norm"].min()
            frac = _near_fraction(near, runs[item.key].name, network)
            reached = frac is not None and frac > 0.5
            out.append(f"| {item.title} | {network} | {low:.3g} | {low / first:.3g} | "
                       f"{'n/a' if frac is None else f'{frac:.1%}'} | {'contradicted' if reached else 'supported'} |")
    out.append("")
    out += ["### Claim 5: the trend suggests further training could reach stationarity", "",
            "The last stage's trend of the log gradient norm (Mann-Kendall test, Theil-Sen slope), from the "
            "stationarity report: \"approaching stationarity\" needs a significant fall (p < 0.05) of at least "
            "10% over the stage.", "",
            _claim5_counts(planned, verdicts), "",
            _markdown(_verdict_rows(verdicts)), "",
            "The evidence behind each verdict:", "",
            *[f"- **{r['run']} / {r['network']}**: {r['evidence']}" for r in verdicts.to_dict("records")], ""]
    curvature = getattr(report, "curvature", None)
    if curvature is not None and not curvature.empty:
        out += ["### Curvature at the stage boundaries (the paper's proposed next step)", "",
                "Hessian estimates at each stored checkpoint on the run's probe batch (`landscape hessian`): the "
                "curvature class, the extreme algebraic eigenvalues, and the gradient-flatness ratio "
                "||Hg|| / (||H|| ||g||) (near 0: the gradient lies in a flat direction).", "",
                "The class is \"singular\" when eigenvalues within tolerance of zero dominate the spectral "
                "density; the sign class says which signs the extreme eigenvalues beyond tolerance have.", "",
                _markdown(_curvature_rows(curvature)), ""]
    out += game_markdown(planned, runs)
    return "\n".join(out)


def _verdict_rows(verdicts: Any) -> Any:
    """One short row per network: the last stage's verdict as the headline words it, and the whole run's."""
    table = verdicts[["run", "network"]].copy()
    table["last stage"] = verdicts["headline"].str.split(": ", n=1).str[1].str.rstrip(".")
    table["whole run"] = verdicts["whole_run"]
    return table


def _curvature_rows(curvature: Any) -> Any:
    """The curvature table with readable numbers (three significant digits)."""
    table = curvature[["run", "network", "step", "stage", "curvature_class", "sign_class", "lambda_min",
                       "lambda_max", "flatness"]].copy()
    table["step"] = table["step"].map("{:,}".format)
    for column in ("lambda_min", "lambda_max", "flatness"):
        table[column] = table[column].map("{:.3g}".format)
    return table.rename(columns={"curvature_class": "class", "sign_class": "sign class", "lambda_min": "λ min",
                                 "lambda_max": "λ max", "flatness": "flatness ‖Hg‖ / (‖H‖ ‖g‖)"})


def _claim5_counts(planned: list[Planned], verdicts: Any) -> str:
    """One sentence per architecture: how many networks' last stages approach stationarity."""
    names = {item.path.stem: item.arch for item in planned}
    lines = []
    for arch in ARCHS:
        part = verdicts[verdicts["run"].map(names) == arch] if "run" in verdicts else verdicts.iloc[0:0]
        if part.empty:
            continue
        counts = part["verdict"].value_counts()
        approaching = int(counts.get("approaching stationarity", 0))
        away = int(counts.get("moving away", 0))
        small = int(counts.get("significant but small", 0))
        flat = int(counts.get("no significant trend", 0))
        verdict = "supported" if approaching > len(part) / 2 else "not supported"
        lines.append(f"- {ARCH_TITLES[arch]}: the last stage approaches stationarity for {approaching} of "
                     f"{len(part)} networks/parts, moves away for {away}, has a significant but small trend for "
                     f"{small}, shows no significant trend for {flat}: **{verdict}** by the last stage's trend.")
    return "\n".join(lines)


def _near_fraction(near: Any, run: str, network: str) -> float | None:
    """Fraction of the whole run's iterations below the relative threshold, from the report's table."""
    if near is None or near.empty:
        return None
    rows = near[(near.get("run", run) == run) & (near["network"] == network)]
    if rows.empty:
        return None
    column = next((c for c in rows.columns if "frac" in c and "rel" in c), None)
    count = next((c for c in rows.columns if c.startswith("n_") or c == "n"), None)
    if column is None:
        return None
    if count is not None:
        weights = rows[count].astype(float)
        return float((rows[column] * weights).sum() / weights.sum()) if weights.sum() else None
    return float(rows[column].mean())


def _markdown(frame: Any) -> str:
    from analysis.stationarity.render import markdown_table

    return markdown_table(frame)


def reduced_caveat(planned: list[Planned], runs: dict[str, Any]) -> list[str]:
    """For reduced runs: the balance of G and D by stage, so a reader sees which phase of training they show."""
    reduced = [p for p in planned
               if runs[p.key].n_iterations < PAPER_EPOCHS * PAPER_ITERS_PER_EPOCH[p.dataset]]
    if not reduced:
        return []
    lines = ["Reduced runs cover only the start of training, and their numbers below describe that phase, not the "
             "paper's full runs. Median discriminator outputs and losses per stage:", "",
             "| run | stage | iterations | D(real) | D(fake) | D loss | G loss |", "|---|---|---|---|---|---|---|"]
    for item in reduced:
        m = runs[item.key].metrics
        stage = runs[item.key].tidy(5).drop_duplicates("step").set_index("step")["stage"]
        for number, part in m.groupby(m["step"].map(stage), observed=True):
            med = part[["d_out_real", "d_out_fake", "d_loss", "g_loss"]].median()
            lines.append(f"| {item.title} | {number} | {int(part['step'].min())}-{int(part['step'].max())} | "
                         f"{med['d_out_real']:.3f} | {med['d_out_fake']:.3f} | {med['d_loss']:.3g} | "
                         f"{med['g_loss']:.3g} |")
    return lines + [""]


def precision_note(planned: list[Planned], runs: dict[str, Any]) -> list[str]:
    """Say which runs trained in bfloat16, why, and where its effect is measured."""
    bf16 = [p.title for p in planned if runs[p.key].config.get("precision") == "bf16"]
    if not bf16:
        return ["Every run trained in float32, the paper's arithmetic.", ""]
    return [f"{'; '.join(bf16)}: trained with `--precision bf16` (bfloat16 forward passes; weights, optimizer "
            "states, losses and the recorded gradient norms float32), which `--dcgan-precision auto` picks on a CPU "
            "with bfloat16 units, where DCGAN trains about 2x faster. What it changes is measured in "
            "the README (Performance, \"bfloat16\"): per-stage medians within the float32 seed-to-seed spread over short runs. The "
            "other runs trained in float32.", ""]


def summary_markdown(planned: list[Planned], runs: dict[str, Any], report: Any, figures: list[str],
                     trained: dict[str, float]) -> str:
    """The summary page: what was run (reductions stated), tables, figures, verdicts and claims."""
    rows = ["| configuration | epochs | iterations | paper iterations | reduced? | arithmetic | wall time | run file |",
            "|---|---|---|---|---|---|---|---|"]
    for item in planned:
        run = runs[item.key]
        paper_iters = PAPER_EPOCHS * PAPER_ITERS_PER_EPOCH[item.dataset]
        cfg = item.config
        reasons = []
        if cfg.epochs != PAPER_EPOCHS:
            reasons.append(f"{cfg.epochs} epoch(s)")
        if cfg.max_iters is not None and run.n_iterations < paper_iters:
            reasons.append(f"stopped at {cfg.max_iters} iterations")
        if cfg.subset is not None:
            reasons.append(f"first {cfg.subset} images")
        wall = run.metrics["time"].iloc[-1] if run.n_iterations else 0.0
        reached = int(run.metrics["epoch"].iloc[-1]) if run.n_iterations else 0
        rows.append(f"| {item.title} | {reached if reached == cfg.epochs else f'{reached} of {cfg.epochs}'} | {run.n_iterations:,} | {paper_iters:,} | "
                    f"{'**yes**: ' + ', '.join(reasons) if reasons else 'no (full paper budget)'} | "
                    f"{run.config.get('precision', 'fp32')} | {wall / 60:.1f} min | `runs/{item.path.name}` |")
    parts = [
        "# Moses, Malan & Bosman (2021), reproduced with landscape",
        "",
        "Generated by `python examples/reproduce_moses2021.py` (see its `--help` for the budget options). "
        "Every number below is computed from the run files; nothing is typed in by hand.",
        "",
        "## Runs",
        "",
        *rows,
        "",
        f"Device: {', '.join(sorted({str(runs[p.key].config.get('device')) for p in planned}))}. The CIFAR-10 copy used here may be a re-encoding of the official one "
        "(`landscape data list` says); CIFAR-10 numbers are then not bit-comparable with the paper's.",
        "",
        *precision_note(planned, runs),
        *reduced_caveat(planned, runs),
        "## Tables 1-2: parameter counts",
        "",
        parameter_tables(),
        "## Figures",
        "",
        *[f"![{name}]({name})" for name in figures],
        "",
        quality_markdown(planned, runs, report),
        "",
        "## Stationarity verdicts",
        "",
        "The last stage's verdict and the whole run's, per network (`landscape report runs/*.h5` gives the evidence).",
        "",
        _markdown(report.verdicts[[c for c in ("run", "network", "verdict", "whole_run") if c in report.verdicts]]),
        "",
        "## The paper's claims, measured",
        "",
        claims(planned, runs, report),
    ]
    return "\n".join(parts)


# ---------------------------------------------------------------------------- command
@app.command()
def main(
    out: Path = typer.Option(Path("examples/moses2021"), help="Output folder (figures, summary.md, runs/)."),
    epochs: int = typer.Option(PAPER_EPOCHS, help="Epochs of the vanilla GAN runs (the paper: 100)."),
    dcgan_epochs: int = typer.Option(PAPER_EPOCHS, help="Epochs of the DCGAN runs (the paper: 100)."),
    dcgan_max_iters: Optional[int] = typer.Option(None, help="Stop each DCGAN run after this many iterations."),
    subset: Optional[int] = typer.Option(None, help="Train on the first N images of each dataset."),
    dcgan_subset: Optional[int] = typer.Option(None, help="Train DCGAN on the first N images (default: --subset)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    data_dir: Optional[str] = typer.Option(None, help="Dataset root (default: $LANDSCAPE_DATA or ./data)."),
    seed: int = typer.Option(0, help="Seed of every run."),
    only: list[str] = typer.Option([], help="Run only this architecture (vanilla or dcgan); repeatable."),
    dpi: int = typer.Option(90, help="Resolution of the PNG figures."),
    jobs: int = typer.Option(1, min=1, help="Runs trained side by side, one thread each (a 2-core CPU: 2)."),
    dcgan_precision: str = typer.Option(
        "auto", help="DCGAN arithmetic: auto (bf16 on a CPU with bfloat16 units, else fp32), fp32 or bf16."
    ),
    hessian: str = typer.Option(
        "auto", help="Hessian estimates at the stage boundaries: auto (vanilla always, DCGAN on a GPU), all, none."
    ),
) -> None:
    """Run the paper's six configurations and write its figures, tables and a measured summary."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from analysis.stationarity import stationarity_report
    from landscape import open_run
    from landscape.errors import LandscapeError, show_warning_line

    warnings.showwarning = show_warning_line  # e.g. a re-encoded CIFAR-10: one line, as the CLI shows it
    bad = sorted(set(only) - set(ARCHS))
    if bad:
        raise typer.BadParameter(f"unknown architecture {bad[0]!r}; use vanilla or dcgan", param_hint="--only")
    if hessian not in ("auto", "all", "none"):
        raise typer.BadParameter(f"unknown choice {hessian!r}; use auto, all or none", param_hint="--hessian")
    if dcgan_precision not in ("auto", "fp32", "bf16"):
        raise typer.BadParameter(f"unknown choice {dcgan_precision!r}; use auto, fp32 or bf16",
                                 param_hint="--dcgan-precision")
    try:
        planned = plan(out, epochs, dcgan_epochs, subset, dcgan_subset, dcgan_max_iters, device, data_dir, seed, only,
                       hessian, dcgan_precision_for(dcgan_precision, device), threads=1 if jobs > 1 else None)
        out.mkdir(parents=True, exist_ok=True)
        ensure_classifiers(planned)
        trained = record_all(planned, jobs)
        add_missing_hessians(planned)
        add_missing_game(planned)
        add_missing_quality(planned)
        runs = {item.key: open_run(item.path) for item in planned}
        console.print("Drawing figures and writing the summary ...")
        figures = (lgc_figures(planned, runs, out, dpi) + sample_figures(planned, runs, out, dpi)
                   + quality_figure(planned, runs, out, dpi))
        report = stationarity_report([runs[item.key] for item in planned])
        (out / "summary.md").write_text(summary_markdown(planned, runs, report, figures, trained) + "\n")
        command = " ".join(["python examples/reproduce_moses2021.py", *sys.argv[1:]])
        (out / "quality.md").write_text(f"# Sample quality of the reproduction's runs\n\nGenerated by `{command}`.\n\n"
                                        + quality_markdown(planned, runs, report, level="##")
                                        + "\n\n![quality timeline](quality_timeline.png)\n")
    except LandscapeError as err:
        console.print(f"[bold red]Error:[/] {err}", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"Wrote {out / 'summary.md'} and {len(figures)} figures into {out}")


if __name__ == "__main__":
    app()
