"""Stage colours shared by every plot, so a stage has the same colour everywhere.

The paper (Moses, Malan & Bosman, GECCO '21) colours the five training stages
purple, orange, black, green and yellow. ``stage_colors(k, "paper")`` returns
those for k <= 5 and a smooth blend through them for more stages (so stages never
share a colour); any other name is handed to seaborn, which knows every
matplotlib colormap and seaborn palette.
"""

from __future__ import annotations

import difflib

from landscape.errors import LandscapeError
from landscape.stages import check_stages

RGB = tuple[float, float, float]

#: The paper's stage colours, in stage order. Pure yellow (#ffff00) nearly vanishes
#: on white, so "yellow" is a slightly deeper gold-yellow that stays visible.
PAPER_COLORS: dict[str, str] = {
    "purple": "#7b2a8e",
    "orange": "#ff8c00",
    "black": "#000000",
    "green": "#1f9e3a",
    "yellow": "#f2cc00",
}


def _paper(k: int) -> list[RGB]:
    from matplotlib.colors import LinearSegmentedColormap, to_rgb

    base = [to_rgb(c) for c in PAPER_COLORS.values()]
    if k <= len(base):
        return base[:k]
    cmap = LinearSegmentedColormap.from_list("landscape_paper", base)
    return [tuple(float(v) for v in cmap(i / (k - 1))[:3]) for i in range(k)]


def stage_colors(k: int, palette: str = "paper") -> list[RGB]:
    """Return ``k`` RGB colours, one per training stage (stage 1 first).

    ``palette`` is ``"paper"`` (the paper's purple, orange, black, green, yellow)
    or any matplotlib colormap / seaborn palette name such as ``"viridis"`` or
    ``"colorblind"``. A qualitative palette with fewer colours than ``k``
    repeats them (seaborn's behaviour); use a colormap name for many stages.
    Raises :class:`~landscape.errors.LandscapeError` for an unknown name or a
    non-positive ``k``.
    """
    k = check_stages(k)
    if palette == "paper":
        return _paper(k)
    import seaborn as sns

    try:
        colors = sns.color_palette(palette, k)
    except (ValueError, KeyError) as err:
        close = difflib.get_close_matches(str(palette), palette_names(), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise LandscapeError(
            f"Unknown palette {palette!r}{hint}: use 'paper' or a matplotlib/seaborn palette name such as 'viridis'."
        ) from err
    return [tuple(float(v) for v in c) for c in colors]


def palette_names() -> list[str]:
    """Every palette name :func:`stage_colors` takes: 'paper', seaborn's palettes and matplotlib's colormaps."""
    import matplotlib
    from seaborn.palettes import SEABORN_PALETTES

    return ["paper", *sorted(SEABORN_PALETTES), *sorted(matplotlib.colormaps)]
