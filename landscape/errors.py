"""Errors a user can cause.

Anything raised as :class:`LandscapeError` is a mistake the user can fix (a bad
path, a wrong file, an unknown name, missing data). The CLI prints its message as
one sentence and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations

from typing import Iterable


class LandscapeError(Exception):
    """A user-facing error whose message is one clear sentence saying what to do."""

    exit_code: int = 2


class RunFileError(LandscapeError):
    """A path that is not a readable landscape run file."""


class RunFileReplacedError(RunFileError):
    """A run file replaced or removed by another process while its writer was writing it.

    The writer noticed (its path no longer names the file it holds open) and saved
    what it had recorded elsewhere: ``rescued`` is that file, or None if it could not.
    """

    def __init__(self, message: str, rescued: "object | None" = None) -> None:
        super().__init__(message)
        self.rescued = rescued


class DataError(LandscapeError):
    """A dataset that is missing, malformed or cannot be fetched."""


class DivergedError(Exception):
    """Training produced a NaN or infinite loss; the run is stopped as "diverged"."""


def unknown_choice(what: str, value: object, choices: Iterable[str]) -> str:
    """The one sentence for a name that is not among ``choices``, with the nearest one when it looks like a typo.

    ``unknown_choice("arch", "dcgn", ["vanilla", "dcgan"])`` ->
    "Unknown arch 'dcgn' (did you mean 'dcgan'?); choose one of vanilla, dcgan."
    """
    import difflib

    choices = [str(c) for c in choices]
    close = difflib.get_close_matches(str(value).strip().lower(), choices, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"Unknown {what} {value!r}{hint}; choose one of {', '.join(choices)}."


#: (dataset, folder) of the unofficial dataset copies this process has warned about.
_WARNED_COPIES: set[tuple[str, str]] = set()


def show_warning_line(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """Show Python warnings (e.g. a dataset whose checksums differ) as one line on stderr: a drop-in for
    ``warnings.showwarning``, as the CLI installs it (and scripts may: ``warnings.showwarning = show_warning_line``).

    A dataset copy that is not the official release is named once per process, however many of its splits
    it loads (training data, the classifier's data digest, its test set).
    """
    from rich.console import Console
    from rich.markup import escape

    from landscape.data.checksums import DatasetChecksumWarning

    if isinstance(message, DatasetChecksumWarning) and message.dataset is not None:
        copy = (message.dataset, str(message.folder))
        if copy in _WARNED_COPIES:
            return
        _WARNED_COPIES.add(copy)

    text = " ".join(str(message).split())
    Console(stderr=True).print(f"[bold yellow]Warning:[/] {escape(text)}", highlight=False, soft_wrap=True)
