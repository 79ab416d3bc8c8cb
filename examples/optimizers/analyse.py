"""The optimizer study: its LGC grid, stationarity verdicts and sample quality, from a finished sweep.

First record the sweep (12 runs: SGD, SGD with momentum 0.5, RMSprop and Adam, three seeds each,
the vanilla GAN on MNIST, batch 256, 50 epochs)::

    landscape sweep examples/optimizers/sweep.toml --out runs/optimizers
    python examples/optimizers/analyse.py runs/optimizers --out examples/optimizers

Writes into ``--out``: ``lgc_grid.png`` (one row per optimizer, the three seeds pooled in each
panel), ``lgc_generator.png`` (the generator's cloud, optimizer by seed), and ``study.md``: the
stationarity verdicts per run and per optimizer, and the last classifier Inception Score and
class KL per optimizer (mean and spread over the seeds) beside the values the study reported.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import pandas as pd

#: The study's reported values at the end of training: Inception Score and class KL per optimizer.
STUDY = {"sgd": (4.33, 0.261), "sgd-momentum": (6.35, 0.018), "rmsprop": (7.73, 0.007), "adam": (6.25, 0.023)}


def quality_table(sweep) -> pd.DataFrame:  # noqa: ANN001 - a landscape.sweeps.Sweep
    """Per optimizer: the last Inception Score and class KL of each seed's run, their mean and range, and the study's."""
    rows = []
    for run in sweep:
        quality = run.quality
        if quality.empty:
            continue
        last = quality[quality["step"] == quality["step"].max()].set_index("metric")["value"]
        rows.append({"optimizer": run.config["optimizer"], "seed": run.config["seed"],
                     "inception_score": last.get("inception_score"), "class_kl": last.get("class_kl"),
                     "classes_covered": last.get("classes_covered"), "frechet_distance": last.get("frechet_distance")})
    frame = pd.DataFrame(rows)
    order = list(dict.fromkeys(sweep.index["optimizer"]))
    out = []
    for optimizer in order:
        part = frame[frame["optimizer"] == optimizer]
        study_is, study_kl = STUDY[optimizer]
        out.append({
            "optimizer": optimizer, "seeds": len(part),
            "IS (mean)": part["inception_score"].mean(),
            "IS (per seed)": " / ".join(f"{v:.2f}" for v in part["inception_score"]),
            "study IS": study_is,
            "class KL (mean)": part["class_kl"].mean(),
            "class KL (per seed)": " / ".join(f"{v:.3f}" for v in part["class_kl"]),
            "study class KL": study_kl,
            "classes": " / ".join(f"{v:.0f}" for v in part["classes_covered"]),
            "FD (mean)": part["frechet_distance"].mean(),
        })
    return pd.DataFrame(out)


def markdown(frame: pd.DataFrame) -> str:
    def cell(value) -> str:  # noqa: ANN001
        if isinstance(value, float):
            return f"{value:.3g}"
        return str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, help="the sweep's folder (landscape sweep --out)")
    parser.add_argument("--out", type=Path, default=Path("examples/optimizers"))
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    from analysis.lgc import lgc_grid
    from analysis.stationarity import sweep_verdicts
    from landscape import open_sweep

    sweep = open_sweep(args.sweep)
    args.out.mkdir(parents=True, exist_ok=True)
    grid = lgc_grid(sweep, row="optimizer", log_y=True, sharey="col", sharex="col")
    grid.figure.savefig(args.out / "lgc_grid.png", dpi=110, bbox_inches="tight")
    generator = lgc_grid(sweep, row="optimizer", col="seed", network="g", log_y=True, sharey=True, sharex=True)
    generator.figure.savefig(args.out / "lgc_generator.png", dpi=110, bbox_inches="tight")

    verdicts = sweep_verdicts(sweep)
    quality = quality_table(sweep)
    index = sweep.index
    text = [
        "# The optimizer study: SGD, SGD with momentum, RMSprop and Adam on the vanilla GAN (MNIST)",
        "",
        f"Generated {date.today().isoformat()} by `landscape sweep examples/optimizers/sweep.toml --out "
        f"runs/optimizers` ({len(index)} runs, {int(index['iterations'].sum()):,} iterations, "
        f"{index['seconds'].sum() / 60:.0f} run-minutes on 2 workers) and `python examples/optimizers/analyse.py "
        "runs/optimizers`. Batch 256, 50 epochs (11,700 iterations), lr 1e-3 for both networks, SGD with "
        "momentum 0.5, everything else the paper's setup; seeds 0, 1, 2.",
        "",
        "## Sample quality at the end (epoch 50)",
        "",
        "The MNIST classifier's Inception Score and class KL (KL(p_gen || p_real) of the predicted classes) on "
        "10,000 generated images, per seed, beside the study's reported values.",
        "",
        markdown(quality),
        "",
        "## Stationarity verdicts per optimizer (last stage)",
        "",
        verdicts.to_markdown(),
        "",
        "![LGC grid](lgc_grid.png)",
        "",
        "![generator clouds](lgc_generator.png)",
        "",
    ]
    (args.out / "study.md").write_text("\n".join(text))
    print(markdown(quality))
    print(f"wrote {args.out / 'study.md'}, {args.out / 'lgc_grid.png'}, {args.out / 'lgc_generator.png'}")


if __name__ == "__main__":
    main()
