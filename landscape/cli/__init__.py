"""The ``landscape`` command: a thin face over the core, the trainers and the analysis.

Each command lives in its own module of this package and imports heavy packages
only inside the command body, so ``landscape --help`` stays instant. Errors a user
can cause (:class:`~landscape.errors.LandscapeError`) end in one sentence on
stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from landscape.cli import (classifier, data, export, helpstyle, hessian, info, lgc, quality, record, report, samples,
                           sweep)
from landscape.cli import game as game_command
from landscape.cli import surface as surface_cli

helpstyle.install()

app = typer.Typer(
    name="landscape",
    help="Record GAN training iteration by iteration and analyse its loss landscape.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _show_version(value: bool) -> None:
    if value:
        from landscape import __version__

        typer.echo(f"landscape {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", help="Show the version and exit.", is_eager=True,
                                 callback=_show_version),
) -> None:
    """Record GAN training iteration by iteration and analyse its loss landscape."""

app.command("record")(record.record)
app.command("lgc")(lgc.lgc)
app.command("hessian")(hessian.hessian)
app.command("game")(game_command.game)
app.command("report")(report.report)
app.command("export")(export.export)
app.command("info")(info.info)
app.command("samples")(samples.samples)
app.command("quality")(quality.quality)
app.command("sweep")(sweep.sweep)
app.command("surface")(surface_cli.surface)
app.command("walk")(surface_cli.walk)
app.add_typer(classifier.app, name="classifier")
app.add_typer(data.app, name="data")


def main() -> None:
    """Entry point of the console script: run the app, turning every user error into one line and exit code 2."""
    import warnings

    from typer.exceptions import TyperException

    from landscape.cli.console import print_error
    from landscape.errors import LandscapeError, show_warning_line

    warnings.showwarning = show_warning_line
    try:
        code = app(standalone_mode=False)
    except LandscapeError as err:
        print_error(str(err))
        sys.exit(err.exit_code)
    except TyperException as err:  # a usage error: unknown option, missing argument, a value of the wrong type
        if type(err).__name__ == "NoArgsIsHelpError":  # `landscape` alone: the help is already printed
            sys.exit(getattr(err, "exit_code", 2))
        print_error(" ".join(err.format_message().split()))
        sys.exit(getattr(err, "exit_code", 2))
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
