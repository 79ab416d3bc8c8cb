"""Help pages in the common command-line convention: flags show no type, values an upper-case name.

Recent typer releases print every option's Python type (``--force <bool>``,
``RUN.h5 <list[Path]>``). Users read ``--force``, ``--stages INTEGER``,
``--arch [vanilla|dcgan]``; this module restores that, in one place, by giving
typer's parameters a display that follows it. ``tests/test_cli_help.py`` checks
every command's help, so a typer release that changes its internals fails loudly.
"""

from __future__ import annotations

from typing import Any

NAMES = {"int": "INTEGER", "float": "FLOAT", "str": "TEXT", "Path": "PATH", "bool": "BOOLEAN"}


def display_type(param: Any, ctx: Any) -> str | None:
    """What the help shows after a parameter: its metavar, nothing for a flag or argument, else its type's name."""
    from typer.core import TyperArgument

    if isinstance(param, TyperArgument):
        return None  # the argument's name column already shows its metavar (RUN.h5)
    if param.metavar is not None:
        return param.metavar
    if getattr(param, "is_flag", False):
        return None
    label = _ORIGINAL(param, ctx).strip("<>")
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]  # a repeatable option: the help says so
    if "|" in label:
        return f"[{label}]"
    return ",".join(NAMES.get(part, part.upper()) for part in label.split(","))


def install() -> None:
    """Make typer's options and arguments use :func:`display_type` (idempotent)."""
    from typer import core

    global _ORIGINAL
    if getattr(core._TyperParameter, "_landscape_style", False):
        return
    _ORIGINAL = core._TyperParameter.display_type
    for cls in (core.TyperOption, core.TyperArgument):
        cls.display_type_rich = display_type
    core._TyperParameter._landscape_style = True


_ORIGINAL: Any = None
