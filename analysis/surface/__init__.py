"""Around a point of training: loss slices along chosen directions, the training path on them, gradient-walk clouds.

- :mod:`analysis.surface.directions`: filter-normalised, random, top-Hessian, PCA and line directions;
- :mod:`analysis.surface.evaluate`: the probe loss at many weight vectors at once (vmap, factorised first layer);
- :mod:`analysis.surface.surface`: a slice planned, evaluated in chunks, resumable (kind ``"surface"``);
- :mod:`analysis.surface.walk`: progressive gradient walks (kind ``"walk"``);
- :mod:`analysis.surface.read`: stored slices read back (one, a summary, a tidy frame);
- :mod:`analysis.surface.plot`: ``surfaceplot``, ``surface3dplot``, ``surface_figure``, ``stages_figure``,
  ``walkplot``, ``walks_figure``;
- :mod:`analysis.surface.measurement`: both as measurement kinds, on demand only.
"""

from analysis.surface.plot import (stages_figure, surface3dplot, surface_figure, surfaceplot, walkplot,
                                   walks_figure)
from analysis.surface.read import read_surface, surface_frame, surfaces
from analysis.surface.surface import Surface, compute_surface
from analysis.surface.walk import Walks, gradient_walks, walks_frame

__all__ = ["Surface", "Walks", "compute_surface", "gradient_walks", "read_surface", "stages_figure", "surface3dplot",
           "surface_figure", "surface_frame", "surfaceplot", "surfaces", "walkplot", "walks_figure", "walks_frame"]
