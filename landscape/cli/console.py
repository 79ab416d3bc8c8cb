"""Shared console helpers for the CLI commands (rich output on stdout, errors on stderr)."""

from __future__ import annotations

from rich.console import Console

console = Console()
error_console = Console(stderr=True)


def print_error(message: str) -> None:
    """Print a user-facing error as one line on stderr, as plain text (brackets in paths or
    ``pip install 'landscape[parquet]'`` are not rich markup)."""
    from rich.markup import escape

    error_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)
