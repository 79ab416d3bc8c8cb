"""Finding a dataset's files under a data root, and judging them against the official checksums."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from landscape.data.checksums import ContentCheck, check_file
from landscape.data.idx import idx_path
from landscape.data.registry import DatasetSpec, Layout
from landscape.errors import DataError


def layout_file(folder: Path, layout: Layout, name: str) -> Path | None:
    """The file on disk for ``name`` of ``layout`` (IDX files may be raw or ``.gz``), or None."""
    if layout.reader == "idx":
        return idx_path(folder, name)
    path = folder / name
    return path if path.is_file() else None


def display_name(layout: Layout, name: str) -> str:
    """How a file of ``layout`` is named in messages (IDX files may carry ``.gz``)."""
    return f"{name}[.gz]" if layout.reader == "idx" else name


@dataclass(frozen=True)
class LayoutStatus:
    """What of one layout exists under a data root, and whether it is the official content."""

    spec: DatasetSpec
    layout: Layout
    folder: Path
    present: dict[str, Path]  # file name -> path on disk
    missing: tuple[str, ...]
    checks: tuple[ContentCheck, ...] = ()
    unreadable: str | None = None  # the message of a file that could not be hashed
    unreadable_file: Path | None = None

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def exists(self) -> bool:
        return bool(self.present)

    @property
    def differing(self) -> list[ContentCheck]:
        return [check for check in self.checks if check.matches is False]

    @property
    def official(self) -> bool | None:
        """True if every file matches the official digests, False if any differs, None if unknown."""
        if self.unreadable is not None or any(check.matches is False for check in self.checks):
            return False
        if self.checks and all(check.matches for check in self.checks) and self.complete:
            return True
        return None


def layout_status(spec: DatasetSpec, layout: Layout, root: Path, *, verify: bool = False, recheck: bool = False) -> LayoutStatus:
    """Which files of ``layout`` exist under ``root``; with ``verify``, hash them (cached) too."""
    folder = root / layout.folder
    present: dict[str, Path] = {}
    missing = []
    for name in layout.files():
        path = layout_file(folder, layout, name)
        if path is None:
            missing.append(name)
        else:
            present[name] = path
    checks: list[ContentCheck] = []
    unreadable, unreadable_file = None, None
    if verify:
        for name, path in present.items():
            try:
                checks.append(check_file(path, layout.content.get(name), recheck=recheck))
            except DataError as err:
                unreadable, unreadable_file = str(err), path
    return LayoutStatus(spec, layout, folder, present, tuple(missing), tuple(checks), unreadable, unreadable_file)


def dataset_status(spec: DatasetSpec, root: Path, *, verify: bool = False, recheck: bool = False) -> LayoutStatus:
    """The layout a load would use: the first complete one, else the first with any files, else the first."""
    statuses = [layout_status(spec, layout, root) for layout in spec.layouts]
    chosen = next((s for s in statuses if s.complete), None) or next((s for s in statuses if s.exists), statuses[0])
    if verify:
        chosen = layout_status(spec, chosen.layout, root, verify=True, recheck=recheck)
    return chosen


def locate_split(spec: DatasetSpec, split: str, root: Path) -> tuple[Layout, Path, list[Path]]:
    """The layout, folder and files to read ``split`` from; DataError naming what is missing."""
    partial: tuple[Layout, Path, str] | None = None
    for layout in spec.layouts:
        folder = root / layout.folder
        paths = [layout_file(folder, layout, name) for name in layout.splits[split]]
        if all(path is not None for path in paths):
            return layout, folder, [p for p in paths if p is not None]
        if partial is None and any(path is not None for path in paths):
            missing = next(name for name, path in zip(layout.splits[split], paths) if path is None)
            partial = (layout, folder, missing)
    fetch = f"`landscape data fetch {spec.name}`"
    if partial is not None:
        layout, folder, missing = partial
        raise DataError(
            f"{spec.title} under {folder} is incomplete: {display_name(layout, missing)} is missing; "
            f"run {fetch} with the same data root to complete it."
        )
    expected = " or ".join(str(root / layout.folder) for layout in spec.layouts)
    raise DataError(
        f"{spec.title} was not found under the data root {root} (looked in {expected}); "
        f"run {fetch}, or point --data-dir or $LANDSCAPE_DATA at a folder that holds it."
    )
