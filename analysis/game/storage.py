"""Game-Jacobian estimates in run files: ``/game/<step>``, written and read back.

Each estimate is one group: per computed part of the spectrum (``LM``, ``LR``, ``SR``, ``LI``)
the arrays ``<which>_real``, ``<which>_imag``, ``<which>_residuals`` and ``<which>_converged``
(the whole spectrum as ``spectrum_real`` / ``spectrum_imag`` in exact mode), and the measures,
the block structure and the label as attributes. :func:`read_game` lists a run's estimates
as a tidy frame (``Run.measurements("game")`` with the stage, ``||v||`` relative to its stage-1
median, and the Nash flag from the run's Hessian estimates at the same step where the game
estimate did not estimate the players' Hessians itself).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.game.analyse import GameResult
from analysis.game.labels import stability_is_decisive
from landscape.errors import LandscapeError
from landscape.measurements import Record
from landscape.reader import as_run
from landscape.stages import DEFAULT_STAGES

KIND = "game"
#: Version of the stored layout under /game/<step>.
RECORD_VERSION = 1
#: What the stored eigenvalues are of (stored with each estimate).
CONVENTION = ("eigenvalues of J = d v / d(theta, phi), v = (grad_theta L_G, grad_phi L_D): the Jacobian of the players' "
              "gradients (Berard et al.); Mescheder et al.'s (of the update direction -v) are these negated; "
              "simultaneous gradient descent is locally stable when every real part is positive")


def to_record(result: GameResult, step: int | None = None) -> Record:
    """The run-file record of one estimate, ``/game/<step>``."""
    step = result.step if step is None else step
    if step is None:
        raise LandscapeError("A game estimate needs a step to be stored; pass step=.")
    arrays: dict[str, np.ndarray] = {}
    for which, part in result.parts.items():
        arrays[f"{which}_real"] = np.asarray(part.values.real, dtype=np.float64)
        arrays[f"{which}_imag"] = np.asarray(part.values.imag, dtype=np.float64)
        arrays[f"{which}_residuals"] = np.asarray(part.residuals, dtype=np.float64)
        arrays[f"{which}_converged"] = np.asarray(part.converged, dtype=bool)
        if part.spectrum is not None and "spectrum_real" not in arrays:
            arrays["spectrum_real"] = np.asarray(part.spectrum.real, dtype=np.float64)
            arrays["spectrum_imag"] = np.asarray(part.spectrum.imag, dtype=np.float64)
    first = next(iter(result.parts.values()))
    label, rot, blocks = result.label, result.rotation, result.blocks
    attrs: dict[str, Any] = {
        "record_version": RECORD_VERSION,
        "convention": CONVENTION,
        "which": ",".join(result.parts),
        "k": int(first.k),
        "method": first.method,
        "tolerance": float(first.tol),
        "all_converged": bool(result.all_converged),
        "max_residual": float(max((np.max(p.residuals) / max(p.scale, 1e-300) if len(p.residuals) else 0.0)
                                  for p in result.parts.values())),
        "spectral_radius": result.spectral_radius,
        "min_real": label.min_real,
        "max_real": float(np.max(result.values.real)) if len(result.values) else float("nan"),
        "rotation": rot.rotation,
        "share_rotational": rot.share_rotational,
        "max_imag": rot.max_imag,
        "label": label.label,
        "nash": label.nash,
        "stable": bool(label.stable),
        "saddle": bool(label.saddle),
        "rotational": bool(label.rotational),
        "label_tol": float(label.tol_rel),
        "label_tol_abs": float(label.tol),
        "rotation_threshold": float(label.rotation_threshold),
        "stability_basis": label.stability_basis,
        "stability_decisive": bool(label.stability_decisive),
        "v_norm": result.v_norm,
        "v_norm_g": result.v_norm_1,
        "v_norm_d": result.v_norm_2,
        "loss_g": float(result.losses[0]),
        "loss_d": float(result.losses[1]),
        "n_params_g": int(result.n_1),
        "n_params_d": int(result.n_2),
        "n_products": int(result.n_products),
        "seconds": float(result.seconds),
    }
    if blocks is not None:
        attrs.update({
            "hessian_g_min": blocks.hessian_1[0], "hessian_g_max": blocks.hessian_1[1],
            "hessian_d_min": blocks.hessian_2[0], "hessian_d_max": blocks.hessian_2[1],
            "sigma_gd": blocks.sigma_12, "sigma_dg": blocks.sigma_21,
            "interaction_ratio": blocks.interaction_ratio, "blocks_method": blocks.method,
        })
    return Record(int(step), attrs, arrays)


def store(result: GameResult, target: Any, step: int | None = None) -> None:
    """Write ``result`` into a run: an open ``RunWriter`` or the path of a closed run file (atomically)."""
    record = to_record(result, step)
    if hasattr(target, "add_measurement"):
        target.add_measurement(KIND, record)
        return
    from landscape.amend import append_measurement

    append_measurement(target, KIND, record)


def game_eigenvalues_at(run: Any, step: int) -> dict[str, np.ndarray]:
    """The stored eigenvalues at ``step``: part of the spectrum (``LM``, ..., ``spectrum``) -> complex array."""
    arrays = as_run(run).measurement_arrays(KIND, int(step))
    return {name[: -len("_real")]: arrays[name] + 1j * arrays[name[: -len("_real")] + "_imag"]
            for name in arrays if name.endswith("_real")}


def read_game(run: Any, stages: int = DEFAULT_STAGES) -> pd.DataFrame:
    """A run's game estimates, one row per step: the stored attributes, ``stage``, ``v_rel`` (``||v||`` over the
    median ``||v||`` of the stage-1 estimates) and, where the estimate has no Hessians of its own, ``nash`` from the
    run's Hessian estimates at the same step (``nash_source`` says which)."""
    run = as_run(run)
    frame = run.measurements(KIND)
    if frame.empty:
        return pd.DataFrame(columns=["run", "step", "stage", "label", "v_norm", "v_rel"])
    frame["stage"] = run.stage_of(frame["step"], stages)
    first = frame.loc[frame["stage"] == 1, "v_norm"]
    reference = float(first.median()) if len(first) else float("nan")
    frame["v_rel"] = frame["v_norm"] / reference if reference > 0 else float("nan")
    if "nash" not in frame:
        frame["nash"] = None
    frame["nash_source"] = np.where(frame["nash"].notna(), "game", "")
    decisive = frame["stability_basis"].map(stability_is_decisive) if "stability_basis" in frame else False
    frame["stability_decisive"] = decisive  # also for estimates stored before the attribute existed
    hessian = run.hessian()
    if len(hessian) and "lambda_min" in hessian:
        for i, row in frame.iterrows():
            if row["nash"] is not None and row["nash"] == row["nash"]:
                continue
            at = hessian[hessian["step"] == row["step"]].set_index("network")
            if {"g", "d"} <= set(at.index):
                tol = float(row.get("label_tol", 1e-3))
                ok = all(at.loc[n, "lambda_min"] >= -tol * max(abs(at.loc[n, "lambda_min"]), abs(at.loc[n, "lambda_max"]))
                         for n in ("g", "d"))
                frame.at[i, "nash"] = bool(ok)
                frame.at[i, "nash_source"] = "hessian"
    frame.insert(0, "run", run.name)
    return frame.sort_values("step").reset_index(drop=True)


__all__ = ["CONVENTION", "KIND", "RECORD_VERSION", "game_eigenvalues_at", "read_game", "store", "to_record"]
