"""Resume-state files: everything a killed run needs to continue exactly where it was.

A run being recorded keeps its latest resume state next to its run file, as
``<run file>.resume`` (``runs/x.h5`` -> ``runs/x.h5.resume``): both networks, both
optimizers' states, every random-number state, the epoch's permutation and
position, and the step. It is a :mod:`landscape.weights` file (arrays and JSON
metadata, no pickle, a SHA-256 digest checked on every read), replaced in one
rename each time, so a process killed at any moment leaves the previous state or
the new one. Only the latest is kept; a finished run's is deleted.

What goes into a state is the trainer's business (:mod:`trainers.resume`); this
module only knows where the file is, how it is written, and how it is checked
against the run file it belongs to.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from landscape.errors import RunFileError
from landscape.weights import WeightsFileError, load_weights, save_weights

#: Suffix of a run's resume-state file, appended to the run file's name.
RESUME_SUFFIX = ".resume"
#: Version of what a resume state holds; a state of another version is refused.
RESUME_VERSION = 1


def resume_path(run_path: str | os.PathLike) -> Path:
    """Where the resume state of the run file at ``run_path`` lives: ``<run_path>.resume``."""
    run_path = Path(run_path)
    return run_path.with_name(run_path.name + RESUME_SUFFIX)


def save_resume_state(run_path: str | os.PathLike, arrays: Mapping[str, Any], meta: Mapping[str, Any]) -> Path:
    """Replace the resume state of ``run_path`` with ``arrays`` (name -> array) and JSON-able ``meta``, atomically."""
    return save_weights(resume_path(run_path), arrays, {**meta, "resume_version": RESUME_VERSION})


def load_resume_state(run_path: str | os.PathLike, run_id: str | None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and metadata of ``run_path``'s resume state, checked to be whole and to belong to that run.

    ``run_id`` is the run file's identity (its ``run_id`` attribute); a state written
    for another run file of the same name is refused, as is a damaged one.
    """
    path = resume_path(run_path)
    if not path.is_file():
        raise RunFileError(f"{run_path} has no resume state ({path.name} is missing), so it cannot be resumed; "
                           "record it again, overwriting it.")
    try:
        arrays, meta = load_weights(path)
    except WeightsFileError as err:
        raise RunFileError(f"The resume state of {run_path} cannot be used: {err}") from None
    if meta.get("resume_version") != RESUME_VERSION:
        raise RunFileError(f"The resume state of {run_path} is of version {meta.get('resume_version')}, and this "
                           f"landscape resumes version {RESUME_VERSION}; record the run again.")
    if run_id is None or meta.get("run_id") != run_id:
        raise RunFileError(f"{path} belongs to another run than {run_path} (a run file written again under the "
                           "same name); delete it and record the run again.")
    return arrays, meta


def has_resume_state(run_path: str | os.PathLike) -> bool:
    """Whether a resume-state file exists next to ``run_path`` (not yet checked)."""
    return resume_path(run_path).is_file()


def remove_resume_state(run_path: str | os.PathLike) -> None:
    """Delete ``run_path``'s resume state, if any (a finished run needs none)."""
    resume_path(run_path).unlink(missing_ok=True)


__all__ = ["RESUME_SUFFIX", "RESUME_VERSION", "has_resume_state", "load_resume_state", "remove_resume_state",
           "resume_path", "save_resume_state"]
