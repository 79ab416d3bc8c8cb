"""`landscape data`: list the datasets under the data root, and fetch them from the official sources."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from landscape.cli.console import console, error_console
from landscape.cli.options import completion
from landscape.config import IMAGE_DATASETS

app = typer.Typer(
    help="List and fetch the datasets (MNIST, Fashion-MNIST, CIFAR-10).",
    no_args_is_help=True,
    add_completion=False,
)

DATA_DIR_HELP = "Data root (default: $LANDSCAPE_DATA, else ./data)."


def _content_cell(status) -> str:  # noqa: ANN001 - LayoutStatus, imported lazily
    if not status.exists:
        return "[dim]-[/]"
    if status.unreadable is not None:
        return f"[red]unreadable[/] ({status.unreadable_file.name} is corrupt)"
    total = len(status.checks)
    differing = len(status.differing)
    if differing:
        return f"[yellow]not official[/] ({differing} of {total} files differ)"
    if status.official:
        return f"[green]official[/] ({total} files match)"
    if status.missing:
        return f"[yellow]incomplete[/] ({len(status.missing)} files missing)"
    return "[dim]no official checksums[/]"


@app.command("list")
def list_datasets(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    recheck: bool = typer.Option(False, "--recheck", help="Hash every file again instead of trusting the checksum cache."),
) -> None:
    """Show each dataset: where it was found, its layout, and whether its content is the official release."""
    from rich.table import Table

    from landscape.data import DATASETS
    from landscape.data.locate import dataset_status
    from landscape.data.roots import resolve_data_root_with_source

    root, source = resolve_data_root_with_source(data_dir)
    console.print(f"Data root: [bold]{root}[/] ({source})", highlight=False)
    table = Table(show_lines=False)
    for column in ("dataset", "location", "layout", "shape", "content"):
        table.add_column(column, overflow="fold")
    for spec in DATASETS.values():
        status = dataset_status(spec, root, verify=True, recheck=recheck)
        location = str(status.folder) if status.exists else "[red]missing[/]"
        layout = status.layout.name if status.exists else "-"
        shape = "x".join(map(str, spec.shape))
        table.add_row(spec.name, location, layout, shape, _content_cell(status))
    console.print(table)
    console.print(
        "Fetch a dataset with [bold]landscape data fetch NAME[/]; a dataset that is not the official release "
        "loads with a warning ([bold]--force[/] replaces it).",
        highlight=False,
    )


@app.command("fetch")
def fetch_dataset(
    name: str = typer.Argument(..., help="The dataset: mnist, fashion-mnist or cifar10.", metavar="NAME",
                               **completion(IMAGE_DATASETS)),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    force: bool = typer.Option(False, "--force", help="Download again and replace files that are already there."),
) -> None:
    """Download a dataset from its official source, verify its checksums and install it under the data root."""
    from landscape.data.download import fetch
    from landscape.data.registry import get_spec
    from landscape.data.roots import resolve_data_root

    spec = get_spec(name)
    root = resolve_data_root(data_dir)
    result = fetch(spec.name, root, force=force, console=error_console)
    if result.already_present:
        console.print(
            f"{spec.title} is already present in {result.folder} and matches the official checksums; nothing to do.",
            highlight=False,
        )
        return
    got = ", ".join(result.downloaded) or "nothing"
    console.print(f"Downloaded and verified {got}; {spec.title} is in {result.folder}.", highlight=False)
    if not result.official:
        differing = [check.path.name for check in result.checks if check.matches is False]
        if differing:
            error_console.print(
                f"[bold yellow]Warning:[/] the downloads matched their official MD5s but {', '.join(differing)} "
                "do not match the registry's content checksums; please report this.",
                highlight=False,
                soft_wrap=True,
            )

#: The commands this module adds to ``landscape`` (name -> function, or a typer app for a group); see landscape.cli.
COMMANDS = {"data": app}
