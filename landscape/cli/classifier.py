"""`landscape classifier`: train and list the domain classifiers behind the sample-quality metrics.

A thin face over :mod:`analysis.quality.classifiers`: ``train`` runs a dataset's
fixed, seeded recipe with a progress bar and stores the weights (cache by default),
``list`` shows every cached classifier with its held-out test accuracy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from landscape.cli.console import console
from landscape.cli.options import THREADS_HELP, completion

app = typer.Typer(
    help="Train and list the domain classifiers behind the sample-quality metrics.",
    no_args_is_help=True,
    add_completion=False,
)

DATA_DIR_HELP = "Data root (default: $LANDSCAPE_DATA, else ./data)."


def _datasets() -> list[str]:
    from analysis.quality.classifiers import classifier_datasets

    return list(classifier_datasets())


@app.command("train")
def train(
    data: str = typer.Option(..., "--data", help="Dataset: mnist, fashion-mnist or cifar10.", metavar="DATASET",
                             autocompletion=lambda incomplete: [n for n in _datasets() if n.startswith(incomplete)]),
    epochs: Optional[int] = typer.Option(None, help="Training epochs. (default: the recipe's)", show_default=False),
    subset: Optional[int] = typer.Option(None, help="Train on the first N training images only (quick checks).",
                                         show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Weights file to write (.h5). (default: the cache, "
                                       "where `landscape record` and `landscape quality` find it)", show_default=False),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP, show_default=False),
    threads: Optional[int] = typer.Option(None, help=THREADS_HELP, show_default=False),
) -> None:
    """Train a dataset's domain classifier with its fixed recipe and store it with its test accuracy."""
    from landscape.cli.options import check_threads, check_writable
    from landscape.errors import LandscapeError

    check_threads(threads)
    if epochs is not None and epochs < 1:
        raise LandscapeError(f"--epochs must be at least 1, got {epochs}.")
    if subset is not None and subset < 1:
        raise LandscapeError(f"--subset must be at least 1, got {subset}.")
    if out is not None:
        if out.suffix.lower() not in (".h5", ".hdf5"):
            raise LandscapeError(f"Cannot write {out}: give --out a file name ending in .h5.")
        check_writable(out, "--out", "classifier.h5")
    from analysis.quality.classifiers import load_splits, train_reference
    from landscape.progress import batch_progress
    from trainers.threads import resolve_threads, torch_threads

    splits = load_splits(data, data_dir)
    if subset is not None and subset > len(splits[0]):
        raise LandscapeError(f"--subset {subset} is larger than {splits[0].name}'s {len(splits[0])} training images; "
                             "lower it.")
    with torch_threads(resolve_threads(threads, "classifier", "cpu")), \
            batch_progress(f"{splits[0].name} classifier", console) as tick:
        ref = train_reference(data, epochs=epochs, subset=subset, out=out, data=splits, on_progress=tick)
    meta = ref.meta
    console.print(f"{ref.dataset} classifier: {100 * ref.accuracy:.2f}% on the {meta['test_images']:,} test images "
                  f"after {meta['recipe']['epochs']} epochs ({meta['train_seconds']:.0f} s on "
                  f"{meta['threads']} thread{'s' if meta['threads'] != 1 else ''}); stored in {ref.path}",
                  highlight=False, soft_wrap=True)
    if not meta["default_recipe"] or subset is not None:
        console.print(f"Not the default recipe: give --classifier {ref.path} to `landscape quality` or "
                      "`landscape record` to use it.", highlight=False, soft_wrap=True)


@app.command("list")
def list_classifiers() -> None:
    """Show the cached domain classifiers: dataset, recipe, test accuracy, training time, file."""
    from rich import box
    from rich.table import Table

    from analysis.quality.classifiers import cached_classifiers, classifiers_dir
    from analysis.quality.shipped import SHIPPED, SHIPPED_ACCURACY, shipped_path
    from trainers.classifier import RECIPES

    found = cached_classifiers()
    shipped = [(dataset, shipped_path(dataset)) for dataset in SHIPPED if shipped_path(dataset) is not None]
    if not found and not shipped:
        console.print(f"No classifiers cached in {classifiers_dir()} yet; `landscape classifier train --data mnist` "
                      "trains one (and `landscape record` or `landscape quality` train one on first use).",
                      highlight=False, soft_wrap=True)
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name, justify in [("dataset", "left"), ("accuracy", "right"), ("epochs", "right"), ("images", "right"),
                          ("time", "right"), ("default", "left"), ("file", "left")]:
        table.add_column(name, justify=justify, no_wrap=name != "file", overflow="fold")
    for dataset, path in shipped:  # the shipped reference classifiers (issue 27): what record and quality use
        recipe = RECIPES[dataset]
        table.add_row(dataset, f"{100 * SHIPPED_ACCURACY[dataset]:.2f}%", str(recipe.epochs), "", "", "shipped",
                      f"{SHIPPED[dataset][0]} ({path.name}, sha256 {SHIPPED[dataset][1][:16]})")
    for meta in found:
        if "error" in meta:
            table.add_row("?", "[red]unusable[/]", "", "", "", "", f"{meta['path'].name}: {meta['error']}")
            continue
        table.add_row(meta["dataset"], f"{100 * meta['test_accuracy']:.2f}%", str(meta["recipe"]["epochs"]),
                      f"{meta['train_images']:,}", f"{meta['train_seconds']:.0f} s",
                      "yes" if meta["default_recipe"] and not meta.get("subset") else "no", meta["path"].name)
    console.print(table)
    console.print(f"Accuracy on the real test set; epochs, training images and time of its training. Shipped: the "
                  f"classifiers landscape measures with by default (the same on every machine). Cache: "
                  f"{classifiers_dir()}", highlight=False, soft_wrap=True)

#: The commands this module adds to ``landscape`` (name -> function, or a typer app for a group); see landscape.cli.
COMMANDS = {"classifier": app}
