"""What the generator made at the sample epochs: image grids, or for a toy its points over the modes.

A run stores the generator's output for a fixed z after each sample epoch
(``Run.sample(epoch)``): an image grid for the image datasets (a conditional run's has
one row per class), 2,500 points for a toy (a scatter plot in the plane; on the line, the 1-D
``mixture1d``, a histogram over the exact density), whose panels are titled with the modes
covered and the fraction of high-quality samples measured at that epoch (``Run.quality``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from landscape.errors import LandscapeError
from landscape.reader import as_run


def samples_figure(run: Any, epochs: Sequence[int] | None = None, *, height: float = 2.6) -> Any:
    """One panel per sample epoch (default: every stored one) of a run; returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    from analysis.runs import run_title
    from analysis.toys import toyplot
    from landscape.data.toys import is_toy

    run = as_run(run)
    stored = run.sample_epochs
    if not stored:
        raise LandscapeError(f"{run.path} has no samples stored; record with sample epochs (the default) to get them.")
    epochs = list(stored if epochs is None else epochs)
    missing = [e for e in epochs if e not in stored]
    if missing:
        raise LandscapeError(f"{run.path} has no samples for epoch {missing[0]}; stored epochs: "
                             f"{', '.join(map(str, stored))}.")
    toy = is_toy(str(run.config.get("dataset")))
    fig, axes = plt.subplots(1, len(epochs), figsize=(height * len(epochs), height + 0.5), squeeze=False,
                             layout="constrained")
    quality = run.quality
    for ax, epoch in zip(axes[0], epochs):
        sample = run.sample(epoch)
        if toy:
            rows = quality[quality["epoch"] == epoch].set_index("metric")["value"] if len(quality) else {}
            note = (f"\n{int(rows['modes_covered'])} modes, {100 * rows['high_quality']:.0f}% high quality"
                    if "modes_covered" in rows else "")
            toyplot(sample, run.config["dataset"], ax=ax, title=f"epoch {epoch}{note}")
        else:
            ax.imshow(sample.squeeze(-1) if sample.shape[-1] == 1 else sample, cmap="gray", vmin=0, vmax=255)
            ax.set_axis_off()
            ax.set_title(f"epoch {epoch}", fontsize="medium")
    title = run_title(run.config, run.path.stem)
    fig.suptitle(title if title == run.path.stem else f"{title} ({run.path.stem})")  # never "mygan (mygan)"
    return fig


__all__ = ["samples_figure"]
