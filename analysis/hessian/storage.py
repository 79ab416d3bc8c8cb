"""Hessian estimates in run files: ``/hessian/<step>/<network>``, written and read back.

:func:`to_record` turns a :class:`~analysis.hessian.estimate.HessianResult` into the
``(arrays, attrs)`` of its record (:func:`as_record`) that ``RunWriter.add_measurement`` (during
training) or ``landscape.amend.append_measurement`` (a closed file, atomically) store, and
:func:`store` picks the right one; :func:`from_record` / :func:`load_estimate` read
one back and :func:`read_estimates` lists a run's estimates with their stage.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.hessian.classify import Classification
from analysis.hessian.density import SpectralDensity
from analysis.hessian.eigen import EigenResult
from analysis.hessian.estimate import HessianResult
from analysis.hessian.trace import TraceEstimate
from landscape.errors import LandscapeError
from landscape.measurements import Record
from landscape.reader import as_run
from landscape.stages import DEFAULT_STAGES

#: Version of the stored layout under /hessian/<step>/<network>.
RECORD_VERSION = 1


def to_record(result: HessianResult) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, attrs)`` for ``RunWriter.add_hessian(step, network, arrays, attrs)``."""
    eig, cls = result.eigen, result.classification
    arrays: dict[str, np.ndarray] = {
        "values": np.asarray(eig.values, dtype=np.float64),
        "residuals": np.asarray(eig.residuals, dtype=np.float64),
        "converged": np.asarray(eig.converged, dtype=bool),
    }
    if eig.spectrum is not None:
        arrays["spectrum"] = np.asarray(eig.spectrum, dtype=np.float64)
    if result.density is not None:
        arrays["density_grid"] = result.density.grid
        arrays["density_values"] = result.density.values
        arrays["density_nodes"] = result.density.nodes
        arrays["density_weights"] = result.density.weights
    tr = result.trace
    attrs: dict[str, Any] = {
        "record_version": RECORD_VERSION,
        "method": eig.method,
        "k": int(eig.k),
        "tolerance": float(eig.tol),
        "scale": float(eig.scale),
        "n_hvp": int(result.n_hvp),
        "n_params": int(result.n_params),
        "lambda_min": eig.lambda_min,
        "lambda_max": eig.lambda_max,
        "all_converged": bool(eig.all_converged),
        "max_residual": float(np.max(eig.residuals)) if len(eig.residuals) else 0.0,
        "trace": float("nan") if tr is None else tr.value,
        "trace_stderr": float("nan") if tr is None else tr.stderr,
        "trace_method": "none" if tr is None else tr.method,
        "classification": cls.label,
        "curvature": cls.curvature,
        "class_tol": float(cls.tol),
        "class_tol_rel": float(cls.tol_rel),
        "class_dominance": float(cls.dominance),
        "near_zero_fraction": float("nan") if cls.near_zero_fraction is None else float(cls.near_zero_fraction),
        "density_method": "none" if result.density is None else result.density.method,
        "density_sigma": float("nan") if result.density is None else float(result.density.sigma),
        "loss": float(result.loss),
        "grad_norm": float(result.grad_norm),
        "hg_norm": float(result.hg_norm),
        "probe_size": int(result.probe_size),
        "determinism_diff": float("nan") if result.determinism_diff is None else float(result.determinism_diff),
        "seconds": float(result.seconds),
    }
    return arrays, attrs


def from_record(arrays: dict[str, np.ndarray], attrs: dict[str, Any], step: int | None, network: str) -> HessianResult:
    """Rebuild a :class:`HessianResult` from what :func:`to_record` stored (vectors are not stored)."""
    values = np.asarray(arrays["values"], dtype=np.float64)
    eig = EigenResult(
        values=values,
        residuals=np.asarray(arrays["residuals"], dtype=np.float64),
        converged=np.asarray(arrays["converged"], dtype=bool),
        k=int(attrs["k"]),
        method=str(attrs["method"]),
        tol=float(attrs["tolerance"]),
        scale=float(attrs["scale"]),
        n_products=int(attrs["n_hvp"]),
        spectrum=arrays.get("spectrum"),
    )
    tr = None
    if attrs.get("trace_method", "none") != "none":
        tr = TraceEstimate(float(attrs["trace"]), float(attrs["trace_stderr"]), 0, str(attrs["trace_method"]))
    density = None
    if "density_grid" in arrays:
        density = SpectralDensity(
            arrays["density_grid"], arrays["density_values"], arrays["density_nodes"], arrays["density_weights"],
            float(attrs["density_sigma"]), 0, str(attrs.get("density_method", "slq")),
        )
    nz = attrs.get("near_zero_fraction")
    nz = None if nz is None or (isinstance(nz, float) and np.isnan(nz)) else float(nz)
    cls = Classification(
        str(attrs["classification"]), str(attrs["curvature"]), float(attrs["class_tol"]),
        float(attrs["class_tol_rel"]), float(eig.scale), nz, float(attrs.get("class_dominance", 0.5)),
    )
    det = attrs.get("determinism_diff")
    det = None if det is None or (isinstance(det, float) and np.isnan(det)) else float(det)
    return HessianResult(
        network=network, step=step, n_params=int(attrs["n_params"]), eigen=eig, trace=tr, density=density,
        classification=cls, n_hvp=int(attrs["n_hvp"]), seconds=float(attrs["seconds"]), loss=float(attrs["loss"]),
        probe_size=int(attrs["probe_size"]), determinism_diff=det,
        grad_norm=float(attrs.get("grad_norm", float("nan"))), hg_norm=float(attrs.get("hg_norm", float("nan"))),
    )


def as_record(result: HessianResult, step: int | None = None) -> Record:
    """The run-file record of one estimate, ``/hessian/<step>/<network>`` (:func:`to_record`'s arrays and attributes)."""
    step = result.step if step is None else step
    if step is None:
        raise LandscapeError("A Hessian estimate needs a step to be stored; pass step=.")
    arrays, attrs = to_record(result)
    return Record(int(step), attrs, arrays, result.network)


def store(result: HessianResult, target: Any, step: int | None = None) -> None:
    """Write ``result`` into a run: ``target`` is an open ``RunWriter`` or the path of a closed run file.

    A path is written atomically through ``landscape.amend.append_measurement``.
    """
    record = as_record(result, step)
    if hasattr(target, "add_measurement"):
        target.add_measurement("hessian", record)
        return
    from landscape.amend import append_measurement

    append_measurement(target, "hessian", record)


def load_estimate(run: Any, step: int, network: str) -> HessianResult:
    """Read one stored estimate back from a run (or a run-file path)."""
    run = as_run(run)
    row = run.hessian()
    row = row[(row["step"] == step) & (row["network"] == network)]
    if row.empty:
        raise LandscapeError(f"{run.path} has no Hessian estimate of network {network!r} at step {step}.")
    attrs = {k: v for k, v in row.iloc[0].to_dict().items() if k not in ("step", "network")}
    return from_record(run.hessian_arrays(step, network), attrs, step, network)


def read_estimates(run: Any, stages: int = DEFAULT_STAGES) -> pd.DataFrame:
    """The stored estimates of a run, one row per (step, network), with a ``stage`` column.

    The stage of an estimate at step ``s`` is :meth:`Run.stage_of <landscape.reader.Run.stage_of>`
    (:func:`landscape.stages.measurement_stage`: the stage of its last iteration, so an
    estimate at a stage's end counts for the stage it ends), as for every measurement.
    """
    run = as_run(run)
    frame = run.hessian()
    if frame.empty:
        frame["stage"] = []
        return frame
    frame["stage"] = run.stage_of(frame["step"], stages)
    frame.insert(0, "run", run.name)
    return frame.sort_values(["network", "step"]).reset_index(drop=True)
