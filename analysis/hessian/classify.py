"""The local curvature class from the Hessian's eigenvalues (after Bosman et al.): :func:`curvature_class`.

(Named apart from ``trainers.classifier.classify``, the domain classifier's predictions.)

With ``tol = tol_rel * max|eigenvalue|`` (relative, so the label does not depend
on the loss's scale):

- ``flat``: the Hessian is numerically zero (max |eigenvalue| <= ``atol``);
- ``singular``: eigenvalues within ``tol`` of zero dominate the spectrum (their
  fraction, judged from the spectral density's quadrature or the exact
  spectrum, is at least ``dominance``);
- otherwise by the signs of the extreme eigenvalues: ``convex`` (all above
  ``-tol``), ``concave`` (all below ``tol``), ``saddle`` (both signs beyond ``tol``).

The sign-based label is always reported too (``curvature``), because neural
network Hessians are nearly always dominated by a bulk of near-zero eigenvalues
(Sagun et al., 2017), so ``singular`` alone would hide whether the outliers make
a saddle.
"""

from __future__ import annotations

from dataclasses import dataclass

LABELS = ("convex", "concave", "saddle", "singular", "flat")


@dataclass
class Classification:
    """A curvature label with the numbers it was decided from."""

    label: str
    curvature: str  # the sign-based label (convex, concave, saddle or flat)
    tol: float  # absolute tolerance used: tol_rel * scale
    tol_rel: float
    scale: float  # max |eigenvalue|
    near_zero_fraction: float | None
    dominance: float

    @property
    def description(self) -> str:
        """One sentence stating the label and the tolerance it used."""
        nz = "" if self.near_zero_fraction is None else f", {self.near_zero_fraction:.0%} of eigenvalues within tol of 0"
        return f"{self.label} (curvature {self.curvature}; tol = {self.tol_rel:g} x max|lambda| = {self.tol:.3g}{nz})"


def sign_label(lambda_min: float, lambda_max: float, tol: float) -> str:
    """convex / concave / saddle / flat from the extreme eigenvalues and an absolute tolerance."""
    positive = lambda_max > tol
    negative = lambda_min < -tol
    if positive and negative:
        return "saddle"
    if positive:
        return "convex"
    if negative:
        return "concave"
    return "flat"


def curvature_class(
    lambda_min: float,
    lambda_max: float,
    *,
    near_zero_fraction: float | None = None,
    tol_rel: float = 1e-3,
    dominance: float = 0.5,
    atol: float = 1e-12,
) -> Classification:
    """Label a Hessian from its extreme eigenvalues and (optionally) its near-zero mass.

    ``near_zero_fraction`` is the fraction of eigenvalues within ``tol`` of zero,
    e.g. ``SpectralDensity.mass_within(tol)``; without it ``singular`` is never chosen.
    """
    scale = max(abs(lambda_min), abs(lambda_max))
    tol = tol_rel * scale
    curvature = sign_label(lambda_min, lambda_max, tol) if scale > atol else "flat"
    if scale <= atol:
        label = "flat"
    elif near_zero_fraction is not None and near_zero_fraction >= dominance:
        label = "singular"
    else:
        label = curvature
    return Classification(label, curvature, tol, tol_rel, scale, near_zero_fraction, dominance)
