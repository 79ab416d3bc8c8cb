"""What kind of point a game is near, from its Jacobian's eigenvalues and its players' own Hessians.

With the toolkit's convention (the Jacobian ``J`` of the players' gradients, see
:mod:`analysis.game.operator`) and ``tol = tol_rel * max|lambda|`` (relative, so the label
does not depend on the loss's scale), each estimate gets these flags:

- **local Nash candidate**: both players' own Hessians (the diagonal blocks of ``J``) are
  positive semi-definite within tolerance: each smallest eigenvalue is at least ``-tol_rel``
  times that Hessian's largest ``|eigenvalue|``. (A candidate: a Nash point also needs ``v = 0``.)
- **locally stable** (for simultaneous gradient descent with a small enough step): every
  computed eigenvalue of ``J`` has a real part above ``tol``. It rests on the computed part of
  the spectrum only: decisive when the smallest real parts (``SR``) or the whole spectrum were
  computed (``stability_decisive``); otherwise the label says so, "locally stable on LM k=6
  only", because the eigenvalues of largest magnitude say little about the smallest real part
  (on the full vanilla MNIST run, LM alone read "locally stable" where SR found -2.6).
- **saddle of the game**: some computed eigenvalue has a real part below ``-tol``: a direction
  in which gradient descent moves away.
- **rotational**: the rotation measure (the largest ``|Im lambda| / |lambda|`` among the computed
  eigenvalues that are not within ``tol`` of zero) is above :data:`ROTATION_THRESHOLD` = 1/sqrt(2),
  i.e. some eigenvalue has ``|Im| > |Re|``: the dynamics turn more than they contract.

The ``label`` joins the flags that hold ("local Nash candidate, locally stable, rotational"),
or reads ``none``. How far the point is from stationary is ``||v||`` (and, over a run,
``||v||`` relative to its stage-1 median, :func:`analysis.game.storage.read_game`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: An eigenvalue with ``|Im| / |lambda|`` above this (``|Im| > |Re|``) counts as rotational.
ROTATION_THRESHOLD = float(1 / np.sqrt(2))
#: The default relative tolerance of the labels (the Hessian classification's too).
LABEL_TOL = 1e-3


@dataclass
class Rotation:
    """The rotation measures of a set of eigenvalues."""

    rotation: float  # max |Im| / |lambda| over eigenvalues not within tol of zero (nan: none)
    share_rotational: float  # share of those with |Im| > |Re|
    max_imag: float  # max |Im lambda|
    counted: int  # eigenvalues counted (not within tol of zero)


def rotation_measures(values: np.ndarray, tol: float) -> Rotation:
    """Rotation of ``values``, ignoring eigenvalues within ``tol`` (absolute) of zero, whose angle is noise."""
    values = np.asarray(values, dtype=complex)
    big = values[np.abs(values) > tol]
    if not len(big):
        return Rotation(float("nan"), float("nan"), float(np.max(np.abs(values.imag), initial=0.0)), 0)
    ratio = np.abs(big.imag) / np.abs(big)
    return Rotation(float(ratio.max()), float(np.mean(np.abs(big.imag) > np.abs(big.real))),
                    float(np.max(np.abs(values.imag))), int(len(big)))


@dataclass
class GameLabel:
    """The label of one estimate with the numbers and the part of the spectrum it rests on."""

    label: str
    nash: bool | None  # None: the players' Hessians were not estimated
    stable: bool
    saddle: bool
    rotational: bool
    tol_rel: float
    tol: float  # tol_rel * max|lambda| of J
    rotation_threshold: float
    stability_basis: str  # e.g. "SR k=6": the computed eigenvalues the stability flags rest on
    min_real: float
    stability_decisive: bool = True  # the smallest real parts (SR) or the whole spectrum were computed

    @property
    def description(self) -> str:
        nash = "not estimated" if self.nash is None else ("yes" if self.nash else "no")
        return (f"{self.label} (tol = {self.tol_rel:g} x max|lambda| = {self.tol:.3g}; stability from {self.stability_basis}, "
                f"smallest real part {self.min_real:.3g}; Nash candidate: {nash}; rotational: |Im|/|lambda| > "
                f"{self.rotation_threshold:.3f})")


def label_point(values: np.ndarray, *, basis: str, hessian_1: tuple[float, float] | None = None,
                hessian_2: tuple[float, float] | None = None, tol_rel: float = LABEL_TOL,
                scale: float | None = None) -> GameLabel:
    """Label a point from the computed eigenvalues of ``J`` and the players' Hessians' ``(lambda_min, lambda_max)``.

    ``scale`` is the largest ``|lambda|`` of ``J`` known (default: of ``values``); ``basis`` names the
    computed part of the spectrum (stated with the label).
    """
    values = np.asarray(values, dtype=complex)
    scale = float(np.max(np.abs(values), initial=0.0)) if scale is None else float(scale)
    tol = tol_rel * scale
    min_real = float(np.min(values.real)) if len(values) else float("nan")
    stable = bool(len(values)) and bool(np.all(values.real > tol)) and scale > 0
    saddle = bool(np.any(values.real < -tol))
    rotation = rotation_measures(values, tol)
    rotational = bool(rotation.counted) and rotation.rotation > ROTATION_THRESHOLD
    nash = None
    if hessian_1 is not None and hessian_2 is not None:
        nash = all(lo >= -tol_rel * max(abs(lo), abs(hi)) for lo, hi in (hessian_1, hessian_2))
    decisive = stability_is_decisive(basis)
    stable_text = "locally stable" if decisive else f"locally stable on {basis} only"
    parts = (["local Nash candidate"] if nash else []) + ([stable_text] if stable else []) + (
        ["saddle of the game"] if saddle else []) + (["rotational"] if rotational else [])
    return GameLabel(", ".join(parts) or "none", nash, stable, saddle, rotational, tol_rel, tol, ROTATION_THRESHOLD,
                     basis, min_real, decisive)


def stability_is_decisive(basis: str) -> bool:
    """Whether a label resting on ``basis`` (``"LM k=6, SR k=6"``, ``"the whole spectrum (exact)"``) can say that
    every eigenvalue's real part is positive: only when the smallest real parts, or all eigenvalues, were computed."""
    return "SR" in basis.replace(",", " ").split() or basis.startswith("the whole spectrum")


__all__ = ["GameLabel", "LABEL_TOL", "ROTATION_THRESHOLD", "Rotation", "label_point", "rotation_measures",
           "stability_is_decisive"]
