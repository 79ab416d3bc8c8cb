"""The ``landscape`` command: a thin face over the core, the trainers and the analysis.

Each command lives in its own module of this package and imports heavy packages
only inside the command body, so ``landscape --help`` stays instant. Errors a user
can cause (:class:`~landscape.errors.LandscapeError`) end in one sentence on
stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from landscape.cli import data, export, hessian, info, lgc, record, report

app = typer.Typer(
    name="landscape",
    help="Record GAN training iteration by iteration and analyse its loss landscape.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

app.command("record")(record.record)
app.command("lgc")(lgc.lgc)
app.command("hessian")(hessian.hessian)
app.command("report")(report.report)
app.command("export")(export.export)
app.command("info")(info.info)
app.add_typer(data.app, name="data")


def main() -> None:
    """Entry point of the console script: run the app, turning user errors into one line."""
    import warnings

    from landscape.errors import LandscapeError

    warnings.showwarning = show_warning_line
    try:
        app()
    except LandscapeError as err:
        from landscape.cli.console import print_error

        print_error(str(err))
        sys.exit(err.exit_code)


def show_warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """Show Python warnings (e.g. a dataset whose checksums differ) as one CLI line on stderr."""
    from rich.markup import escape

    from landscape.cli.console import error_console

    text = " ".join(str(message).split())
    error_console.print(f"[bold yellow]Warning:[/] {escape(text)}", highlight=False, soft_wrap=True)
