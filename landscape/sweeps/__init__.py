"""Sweeps: many runs from one spec (:mod:`~landscape.sweeps.spec`), kept in one folder with an index
(:mod:`~landscape.sweeps.index`). ``landscape sweep`` runs them (on Dask, ``trainers.sweep``);
:func:`open_sweep` reads them back with their factors."""

from landscape.sweeps.index import INDEX_NAME, Sweep, is_sweep_folder, open_sweep, read_index
from landscape.sweeps.spec import SpecError, SweepRun, SweepSpec, load_spec, parse_spec

__all__ = ["INDEX_NAME", "SpecError", "Sweep", "SweepRun", "SweepSpec", "is_sweep_folder", "load_spec", "open_sweep",
           "parse_spec", "read_index"]
