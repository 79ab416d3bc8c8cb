"""Stored loss slices read back: one :class:`~analysis.surface.surface.Surface`, a summary, or a tidy frame.

Through :class:`landscape.reader.Run` only (``measurement_keys``, ``measurement_arrays``,
``measurements("surface")``), never h5py.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from analysis.surface.surface import KIND, Surface
from landscape.errors import LandscapeError

#: The settings and results a Surface keeps as named fields (the other stored attributes go to ``Surface.attrs``).
_FIELDS = ("network", "dirs", "dims", "seed", "batch", "grid", "alpha_min", "alpha_max", "beta_min", "beta_max",
           "center_loss", "points", "points_done", "complete", "seconds", "loss_min", "loss_max")
#: The arrays a Surface keeps as named fields (the other stored arrays go to ``Surface.arrays``).
_ARRAYS = ("loss", "alpha", "beta", "directions")


def surface_keys(run: Any) -> list[tuple[int, str]]:
    """(step, key) of every stored slice, key as ``<network>-<dirs>-<dims>d``."""
    from landscape.reader import as_run

    return [(step, key) for step, key in as_run(run).measurement_keys(KIND) if key is not None]


def surfaces(run: Any) -> pd.DataFrame:
    """One row per stored slice: step, network, dirs, dims, key, then its settings and results
    (grid, ranges, seed, batch, center_loss, loss_min, loss_max, points_done, complete, seconds, and the
    kind's own: explained_1/2 for pca, eigenvalue_1/2 for hessian, other_step for to:STEP)."""
    from landscape.reader import as_run

    frame = as_run(run).measurements(KIND)
    if not len(frame):
        return pd.DataFrame(columns=["step", "network", "dirs", "dims", "key"])
    frame = frame.rename(columns={"network": "key"})
    frame["network"] = frame["key"].str.partition("-")[0]
    first = ["step", "network", "dirs", "dims", "key"]
    return frame[first + [c for c in frame.columns if c not in first]]


def read_surface(run: Any, step: int, network: str, dirs: str = "filter", dims: int = 2) -> Surface:
    """The stored slice of ``network`` at ``step`` along ``dirs`` (``filter``, ``pca``, ``to936``, ...) in ``dims``."""
    from landscape.reader import as_run

    run = as_run(run)
    key = f"{network}-{str(dirs).replace(':', '')}-{int(dims)}d"
    if (int(step), key) not in surface_keys(run):
        stored = ", ".join(f"{k} at {s}" for s, k in surface_keys(run)) or "none"
        raise LandscapeError(f"{run.path} has no {dims}-D {dirs} surface of {network} at step {step}; stored: {stored}.")
    arrays = run.measurement_arrays(KIND, int(step), key)
    frame = surfaces(run)
    attrs = frame[(frame["step"] == int(step)) & (frame["key"] == key)].iloc[0].to_dict()
    extra = {k: _plain(v) for k, v in attrs.items() if k not in _FIELDS and not _missing(v)}
    return Surface(int(step), network, str(attrs["dirs"]), int(attrs["dims"]), int(attrs["seed"]), str(attrs["batch"]),
                   arrays["alpha"], arrays.get("beta"), arrays["loss"], arrays["directions"],
                   float(attrs["center_loss"]), float(attrs["seconds"]), attrs=extra,
                   arrays={k: v for k, v in arrays.items() if k not in _ARRAYS})


def stored_surface(run: Any, step: int, network: str, dirs: str, dims: int) -> Surface | None:
    """:func:`read_surface`, or None when there is no such slice."""
    try:
        return read_surface(run, step, network, dirs, dims)
    except LandscapeError:
        return None


def surface_frame(run: Any) -> pd.DataFrame:
    """Every stored slice's grid as a tidy frame: one row per grid point evaluated.

    Columns: step, network, dirs, dims, alpha, beta (NaN for a 1-D slice), loss.
    """
    rows = []
    for step, key in surface_keys(run):
        network, dirs, dims = key.split("-")[0], "-".join(key.split("-")[1:-1]), int(key.split("-")[-1][:-1])
        s = read_surface(run, step, network, dirs, dims)
        coords = s.coords
        loss = s.loss.reshape(-1)
        done = np.isfinite(loss)
        rows.append(pd.DataFrame({"step": step, "network": network, "dirs": s.dirs, "dims": dims,
                                  "alpha": coords[done, 0], "beta": coords[done, 1] if dims == 2 else np.nan,
                                  "loss": loss[done]}))
    columns = ["step", "network", "dirs", "dims", "alpha", "beta", "loss"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _plain(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value.item() if hasattr(value, "item") else value


__all__ = ["read_surface", "stored_surface", "surface_frame", "surface_keys", "surfaces"]
