"""Errors a user can cause.

Anything raised as :class:`LandscapeError` is a mistake the user can fix (a bad
path, a wrong file, an unknown name, missing data). The CLI prints its message as
one sentence and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations


class LandscapeError(Exception):
    """A user-facing error whose message is one clear sentence saying what to do."""

    exit_code: int = 2


class RunFileError(LandscapeError):
    """A path that is not a readable landscape run file."""


class DataError(LandscapeError):
    """A dataset that is missing, malformed or cannot be fetched."""


class DivergedError(Exception):
    """Training produced a NaN or infinite loss; the run is stopped as "diverged"."""
