"""The ``landscape`` command: a thin face over the core, the trainers and the analysis.

Each command lives in its own module of this package and imports heavy packages
only inside the command body, so ``landscape --help`` stays instant. A module adds its
commands by declaring ``COMMANDS = {"name": function}`` (a typer app for a group of
subcommands): every module of this package that declares it is registered, the commands in
:data:`ORDER` first, any other after them in module order, so a new command is one new file. Errors a user
can cause (:class:`~landscape.errors.LandscapeError`) end in one sentence on
stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from landscape.cli import helpstyle

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

#: The order of the commands in ``landscape --help``: what users run first, first.
ORDER = ("record", "lgc", "hessian", "game", "report", "export", "info", "samples", "quality", "sweep", "surface",
         "walk", "classifier", "data")


def declared_commands() -> dict[str, object]:
    """Every command a module of this package declares in its ``COMMANDS``, in help order."""
    found: dict[str, object] = {}
    for module in pkgutil.iter_modules(__path__):
        declared = getattr(importlib.import_module(f"{__name__}.{module.name}"), "COMMANDS", {})
        for name, command in declared.items():
            if name in found:
                raise RuntimeError(f"two modules of landscape.cli declare the command {name!r}")
            found[name] = command
    ranked = sorted(found, key=lambda name: (ORDER.index(name) if name in ORDER else len(ORDER), name))
    return {name: found[name] for name in ranked}


for _name, _command in declared_commands().items():
    if isinstance(_command, typer.Typer):
        app.add_typer(_command, name=_name)
    else:
        app.command(_name)(_command)


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
