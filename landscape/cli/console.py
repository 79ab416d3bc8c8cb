"""Shared console helpers for the CLI commands (rich output on stdout, errors on stderr)."""

from __future__ import annotations

import sys

from rich.console import Console

# Piped or redirected (a log file, `| grep`, a test's subprocess), a message is never wrapped at rich's default
# 80 columns: a long path must stay whole on its line. On a terminal, rich wraps to the window as usual.
console = Console(soft_wrap=not sys.stdout.isatty())
error_console = Console(stderr=True, soft_wrap=not sys.stderr.isatty())


def print_error(message: str) -> None:
    """Print a user-facing error as one line on stderr, as plain text (brackets in paths or
    ``pip install 'landscape[parquet]'`` are not rich markup)."""
    from rich.markup import escape

    error_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)
