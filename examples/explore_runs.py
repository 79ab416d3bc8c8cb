"""Explore several recorded runs with pandas and seaborn.

    python examples/explore_runs.py runs/*.h5 --out-dir explore/

Every run file becomes rows of one long ("tidy") pandas frame: one row per
iteration and network, with the run's name, its training stage and every config
key as columns (``open_runs(paths).tidy(stages)``). From there it is ordinary
pandas: this script prints a per-stage summary table (median loss and gradient
norm, and how much the gradient norm moves within the stage) and draws four
figures with seaborn:

- ``stage_summary.png``: median gradient norm per stage, one line per run and
  network, so runs can be compared stage by stage;
- ``grad_norm_by_stage.png``: the distribution of gradient norms in each stage
  (box plots), one panel per network;
- ``loss_hist.png``: loss histograms per network, coloured by stage;
- ``lgc.png``: the loss-gradient clouds of all runs (``analysis.lgc.lgc_figure``).

Record runs first, e.g.
``landscape record --arch vanilla --data mnist --max-iters 2000 --out runs/vanilla-mnist.h5``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from analysis.lgc import lgc_figure  # noqa: E402
from analysis.palettes import stage_colors  # noqa: E402
from landscape import open_runs  # noqa: E402
from landscape.errors import LandscapeError  # noqa: E402
from landscape.networks import label  # noqa: E402


def stage_summary(tidy: pd.DataFrame) -> pd.DataFrame:
    """Per run, network and stage: iterations, median loss and gradient norm, and the norm's spread."""
    grouped = tidy.groupby(["run", "network", "stage"], observed=True)
    summary = grouped.agg(
        iterations=("step", "size"),
        first_step=("step", "min"),
        last_step=("step", "max"),
        loss_median=("loss", "median"),
        grad_norm_median=("grad_norm", "median"),
        grad_norm_iqr=("grad_norm", lambda s: s.quantile(0.75) - s.quantile(0.25)),
    )
    return summary.reset_index()


def plot_stage_summary(summary: pd.DataFrame, path: Path) -> None:
    grid = sns.relplot(data=summary, x="stage", y="grad_norm_median", hue="run", col="network", kind="line",
                       marker="o", height=3, aspect=1.1, facet_kws={"sharey": False})
    grid.set_axis_labels("stage", "median gradient norm")
    grid.set_titles("{col_name}")
    grid.savefig(path, dpi=120)
    plt.close(grid.figure)


def plot_grad_norm_by_stage(tidy: pd.DataFrame, stages: int, path: Path) -> None:
    grid = sns.catplot(data=tidy, x="stage", y="grad_norm", hue="stage", col="network", row="run", kind="box",
                       palette=stage_colors(stages), legend=False, showfliers=False, height=2.6, aspect=1.1,
                       sharey=False)
    grid.set_axis_labels("stage", "gradient norm")
    grid.set_titles("{row_name}: {col_name}")
    grid.savefig(path, dpi=110)
    plt.close(grid.figure)


def plot_loss_hist(tidy: pd.DataFrame, stages: int, path: Path) -> None:
    tidy = tidy.assign(stage=tidy["stage"].astype(str))
    grid = sns.displot(data=tidy, x="loss", hue="stage", col="network", row="run", kind="hist", element="step",
                       palette=stage_colors(stages), stat="density", common_norm=False, common_bins=False, bins=40, height=2.4,
                       aspect=1.2, facet_kws={"sharex": False, "sharey": False})
    grid.set_titles("{row_name}: {col_name}")
    grid.savefig(path, dpi=110)
    plt.close(grid.figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Explore recorded runs with pandas and seaborn.")
    parser.add_argument("runs", nargs="*", type=Path, help="run files written by `landscape record`")
    parser.add_argument("--out-dir", type=Path, default=Path("explore"), help="where the figures go")
    parser.add_argument("--stages", type=int, default=5)
    args = parser.parse_args(argv)
    if not args.runs:
        print("Give one or more run files, e.g. `python examples/explore_runs.py runs/*.h5`; record one with "
              "`landscape record --arch vanilla --data mnist --max-iters 2000 --out runs/vanilla-mnist.h5`.",
              file=sys.stderr)
        return 2
    try:
        runs = open_runs(args.runs)
        for run in runs:
            run.require_iterations()
        tidy = runs.tidy(args.stages)
    except LandscapeError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)

    print(f"{len(runs)} run(s), {len(tidy):,} rows (iteration x network) in the tidy frame:\n")
    config_cols = [c for c in ("arch", "dataset", "optimizer", "epochs", "batch_size") if c in runs.metrics.columns]
    overview = runs.metrics.groupby("run").agg(iterations=("step", "size"), seconds=("time", "max"))
    overview = overview.join(runs.metrics.groupby("run")[config_cols].first()) if config_cols else overview
    overview["status"] = [run.status for run in runs]
    print(overview.to_string(), "\n")

    summary = stage_summary(tidy)
    summary["network"] = summary["network"].map(label)
    with pd.option_context("display.width", 160, "display.max_rows", 200, "display.float_format", "{:.4g}".format):
        print(summary.to_string(index=False), "\n")

    tidy = tidy.assign(network=tidy["network"].map(label))
    plot_stage_summary(summary, args.out_dir / "stage_summary.png")
    plot_grad_norm_by_stage(tidy, args.stages, args.out_dir / "grad_norm_by_stage.png")
    plot_loss_hist(tidy, args.stages, args.out_dir / "loss_hist.png")
    grid = lgc_figure(runs, stages=args.stages)
    grid.savefig(args.out_dir / "lgc.png", dpi=110)
    plt.close(grid.figure)
    print(f"Figures written to {args.out_dir}/: stage_summary.png, grad_norm_by_stage.png, loss_hist.png, lgc.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
