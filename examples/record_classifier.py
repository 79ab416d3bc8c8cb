"""Record any training loop with landscape: a small MNIST classifier, then its loss-gradient cloud and report.

The loss-gradient cloud is not GAN-specific (the method was first used on
classifiers). Any loop records with :class:`landscape.writer.RunWriter`, as it would
with TensorBoard's ``SummaryWriter``: no declaration, the first ``log()`` names the
fields. Fields ``<name>_loss`` and ``<name>_grad_norm`` make a network called
``<name>``, so this run has one network, ``clf``, and every analysis draws it::

    python examples/record_classifier.py --out runs/classifier.h5
    landscape lgc runs/classifier.h5 --out runs/classifier-lgc.png
    landscape report runs/classifier.h5

The script does the last two itself too (``--figure``, the report on stdout).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F


def train(out: Path, epochs: int, batch_size: int, lr: float, subset: int | None, data_dir: str | None,
          seed: int, overwrite: bool) -> Path:
    """Train a 784-128-10 MLP with Adam and record loss, gradient norm and accuracy at every iteration."""
    from landscape.data import load_dataset, to_unit_range
    from landscape.writer import RunWriter

    torch.manual_seed(seed)
    data = load_dataset("mnist", root=data_dir)
    images, labels = data.images[:subset], data.labels[:subset]
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    config = {"model": "mlp-784-128-10", "dataset": "mnist", "optimizer": "adam", "lr": lr, "epochs": epochs,
              "batch_size": batch_size, "subset": subset, "seed": seed}
    step = 0
    with RunWriter(out, config, overwrite=overwrite) as writer:
        for epoch in range(1, epochs + 1):
            order = torch.randperm(len(images))
            for start in range(0, len(images) - batch_size + 1, batch_size):
                idx = order[start : start + batch_size]
                x, y = to_unit_range(images[idx]), labels[idx]
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
                optimizer.step()
                writer.log(step, epoch=epoch, clf_loss=loss.detach(), clf_grad_norm=grad_norm,
                           accuracy=(logits.argmax(1) == y).float().mean())
                step += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/classifier.h5"), help="run file to write")
    parser.add_argument("--figure", type=Path, default=None, help="LGC figure (default: <out>-lgc.png)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--subset", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--data-dir", default=None, help="dataset root (default: $LANDSCAPE_DATA, else ./data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="overwrite an existing run file")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    from analysis.lgc import lgc_figure
    from analysis.stationarity import stationarity_report
    from landscape import open_run
    from landscape.errors import LandscapeError

    try:
        path = train(args.out, args.epochs, args.batch_size, args.lr, args.subset, args.data_dir, args.seed,
                     args.force)
        run = open_run(path).require_iterations()
        figure = args.figure or path.with_name(path.stem + "-lgc.png")
        lgc_figure(run).savefig(figure, dpi=120)
        print(stationarity_report(run).to_text())
    except LandscapeError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    print(f"Recorded {run.n_iterations:,} iterations of networks {', '.join(n.key for n in run.networks)} into "
          f"{path}; wrote {figure}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
