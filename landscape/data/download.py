"""Verified downloads: ``landscape data fetch NAME``.

Each file is streamed from its URLs in turn (mirrors), with a rich progress bar,
into a ``.part`` file next to its destination while its MD5 is computed. Only a
file whose MD5 matches the official one is kept; anything else is deleted and the
next mirror is tried. Archives (CIFAR-10) are checked member by member before a
single byte is written: only regular files and folders with relative paths that
stay inside the target are accepted (no ``..``, no absolute paths, no symbolic or
hard links, no devices); then they are extracted into a temporary folder under the
data root and moved into place, and the archive is deleted.

Fetching is idempotent: when the files are already present and their content
matches the official checksums, nothing is downloaded. Files that are present but
differ are never overwritten without ``force``.

When files cannot be fetched (offline, mirrors down), every file is still tried
(a mirror that could not be reached is not tried again for the next files), the
verified files are kept, folders that the fetch created and left empty are
removed, and one DataError names every file that is missing and what to do.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from landscape import __version__
from landscape.data.checksums import ContentCheck
from landscape.data.locate import LayoutStatus, display_name, layout_status
from landscape.data.registry import DatasetSpec, Download, Layout, get_spec
from landscape.data.roots import resolve_data_root
from landscape.errors import DataError

_CHUNK = 1 << 16


@dataclass
class FetchResult:
    """What ``fetch`` did: which files it downloaded, and the content verdict afterwards."""

    spec: DatasetSpec
    layout: Layout
    folder: Path
    already_present: bool
    downloaded: list[str] = field(default_factory=list)
    checks: list[ContentCheck] = field(default_factory=list)

    @property
    def official(self) -> bool:
        return bool(self.checks) and all(check.matches for check in self.checks)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return str(err) or type(err).__name__


class DownloadFailed(DataError):
    """No URL of one download gave the official file: what each URL did (for one message over many files)."""

    def __init__(self, message: str, download: Download, failures: Sequence[str], refused: Sequence[str]) -> None:
        super().__init__(message)
        self.download = download
        self.failures = list(failures)  # "host (reason)" for URLs that could not be read
        self.refused = list(refused)  # "host (MD5 ...)" for URLs whose file was not the official one


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def download_file(
    download: Download,
    dest: Path,
    *,
    progress: Progress | None = None,
    timeout: float = 60.0,
    unreachable: dict[str, str] | None = None,
) -> Path:
    """Download ``download`` to ``dest``, trying each URL; keep it only if its MD5 is the official one.

    ``unreachable`` (host -> reason), shared between calls, skips hosts that could not be
    connected to before and records new ones. Raises DownloadFailed when no URL gave the file.
    """
    _ensure_writable(dest.parent)
    part = dest.with_name(dest.name + ".part")
    unreachable = {} if unreachable is None else unreachable
    failures: list[str] = []
    refused: list[str] = []
    for url in download.urls:
        host = _host(url)
        if host in unreachable:
            failures.append(f"{host} ({unreachable[host]})")
            continue
        md5 = hashlib.md5()
        task = None
        connected = False
        try:
            request = urllib.request.Request(url, headers={"User-Agent": f"landscape/{__version__}"})
            response = urllib.request.urlopen(request, timeout=timeout)
            connected = True
            with response, open(part, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                if progress is not None:
                    task = progress.add_task(download.filename, total=total)
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    md5.update(chunk)
                    if task is not None and progress is not None:
                        progress.advance(task, len(chunk))
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
            part.unlink(missing_ok=True)
            reason = _reason(err)
            if not connected and not isinstance(err, (urllib.error.HTTPError, ValueError)):
                unreachable[host] = reason  # no connection at all: do not wait for it again for the next files
            failures.append(f"{host} ({reason})")
            continue
        got = md5.hexdigest()
        if got != download.md5:
            part.unlink(missing_ok=True)
            refused.append(f"{host} (MD5 {got}, not the official {download.md5})")
            continue
        os.replace(part, dest)
        return dest
    if refused:
        message = (
            f"refused and deleted the download of {download.filename}: its MD5 was not the official "
            f"{download.md5} from {', '.join(refused)}; try again later, or place the official file in {dest.parent} by hand."
        )
    else:
        message = (
            f"could not download {download.filename} from {', '.join(failures)}; check the network connection, "
            f"or place the file in {dest.parent} by hand."
        )
    raise DownloadFailed(message, download, failures, refused)


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _fetch_failed(
    spec: DatasetSpec, layout: Layout, root: Path, folder: Path, failed: Sequence[DownloadFailed]
) -> DataError:
    """One sentence for every download that failed: which files, why, and what to do."""
    names = ", ".join(err.download.filename for err in failed)
    total = len(layout.downloads)
    if total == 1:
        what = f"{spec.title}'s {names}"
    elif len(failed) == total:
        what = f"all {total} {spec.title} files ({names})"
    else:
        what = f"{len(failed)} of {total} {spec.title} files ({names})"
    why = _unique([item for err in failed for item in err.failures])
    refused = _unique([f"refused and deleted {err.download.filename} from {item}" for err in failed for item in err.refused])
    if any(err.download.archive for err in failed):
        by_hand = f"extract the official {names} into {root} by hand"
    else:
        by_hand = f"place the official files in {folder} by hand"
    kept = "" if len(failed) == total else " (the verified files are kept)"
    return DataError(
        f"could not download {what}: {', '.join(why + refused)}; check the network connection and run "
        f"`landscape data fetch {spec.name}` again{kept}, or run it on a machine with internet access and copy "
        f"the {layout.folder} folder it makes to {folder}, or {by_hand}; if a copy already exists elsewhere, "
        f"point $LANDSCAPE_DATA or --data-dir at the data root that holds it."
    )


def _unsafe_reason(member: tarfile.TarInfo, dest: Path) -> str | None:
    if member.issym() or member.islnk():
        return "a link"
    if not (member.isfile() or member.isdir()):
        return "not a regular file or folder"
    name = PurePosixPath(member.name)
    if name.is_absolute() or member.name.startswith(("/", "\\")) or "\\" in member.name:
        return "an absolute or non-posix path"
    if ".." in name.parts:
        return "a path that climbs out of the target with '..'"
    target = (dest / member.name).resolve()
    if target != dest.resolve() and dest.resolve() not in target.parents:
        return "a path outside the target"
    return None


def safe_extract(archive: Path, dest: Path) -> list[Path]:
    """Extract ``archive`` into ``dest`` after checking every member; DataError on anything unsafe."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                reason = _unsafe_reason(member, dest)
                if reason is not None:
                    raise DataError(
                        f"refused to extract {archive.name}: its member {member.name!r} is {reason}; "
                        f"the archive was deleted, fetch it again from the official source."
                    )
            written = []
            for member in members:
                target = dest / member.name
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:  # pragma: no cover - isfile() members always have data
                    raise DataError(f"cannot read member {member.name!r} of {archive.name}; fetch it again.")
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                written.append(target)
            return written
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DataError(f"{archive} is not a readable tar archive ({err}); fetch it again.") from err


def _install_archive(
    download: Download,
    layout: Layout,
    root: Path,
    *,
    force: bool,
    progress: Progress | None,
    unreachable: dict[str, str] | None = None,
) -> None:
    root.mkdir(parents=True, exist_ok=True)
    archive = download_file(download, root / download.filename, progress=progress, unreachable=unreachable)
    scratch = Path(tempfile.mkdtemp(prefix=".landscape-extract-", dir=root))
    try:
        try:
            safe_extract(archive, scratch)
        finally:
            archive.unlink(missing_ok=True)
        source = scratch / layout.folder
        if not source.is_dir():
            raise DataError(f"{download.filename} holds no {layout.folder}/ folder; it is not the expected archive.")
        target = root / layout.folder
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            dest = target / path.relative_to(source)
            if dest.exists() and not force:
                continue  # present files were judged by the caller; keep the user's files
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _ensure_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise DataError(
            f"cannot write to {folder} ({err.strerror or err}); choose a writable data root with --data-dir or $LANDSCAPE_DATA."
        ) from err


def _refuse_differing(status: LayoutStatus) -> None:
    differing = status.differing
    if differing:
        names = ", ".join(check.path.name for check in differing[:3]) + (", ..." if len(differing) > 3 else "")
        raise DataError(
            f"{status.folder} already holds {status.spec.title} files that differ from the official release "
            f"({names}); re-run with --force to replace them with a fresh download."
        )
    if status.unreadable is not None:
        raise DataError(f"{status.unreadable.rstrip('.')}, or re-run with --force.")


def fetch(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    spec: DatasetSpec | None = None,
    console: Console | None = None,
) -> FetchResult:
    """Download, verify and install ``name`` under the data root; idempotent.

    Without ``force``, a dataset whose files are all present and official is left
    alone (``already_present``), missing files are downloaded, and files that differ
    from the official release make it stop with a DataError. With ``force``,
    everything is downloaded again and replaces what is there.
    """
    spec = spec or get_spec(name)
    data_root = resolve_data_root(root)
    for candidate in () if force else spec.layouts:
        status = layout_status(spec, candidate, data_root, verify=True)
        if status.complete and status.official:
            return FetchResult(spec, candidate, status.folder, True, [], list(status.checks))
    layout = spec.fetch_layout
    status = layout_status(spec, layout, data_root, verify=not force)
    if not force:
        _refuse_differing(status)
    folder = data_root / layout.folder
    created = _missing_folders(folder)
    try:
        _ensure_writable(data_root)
        downloaded: list[str] = []
        failed: list[DownloadFailed] = []
        unreachable: dict[str, str] = {}
        with _progress(console or Console(stderr=True)) as progress:
            for download in layout.downloads:
                try:
                    if download.archive:
                        if force or status.missing:
                            _install_archive(
                                download, layout, data_root, force=force, progress=progress, unreachable=unreachable
                            )
                            downloaded.append(download.filename)
                        continue
                    logical = download.filename[:-3] if download.filename.endswith(".gz") else download.filename
                    if not force and logical in status.present:
                        continue
                    download_file(download, folder / download.filename, progress=progress, unreachable=unreachable)
                except DownloadFailed as err:
                    failed.append(err)  # try the other files too: the message names every one that is missing
                    continue
                raw = folder / logical
                if raw != folder / download.filename and raw.exists():
                    raw.unlink()  # the loader prefers a raw copy: drop the stale one so the verified .gz is used
                downloaded.append(download.filename)
        if failed:
            raise _fetch_failed(spec, layout, data_root, folder, failed)
    except BaseException:
        _remove_empty(created)  # leave the data root as it was: no empty folders from a failed fetch
        raise
    final = layout_status(spec, layout, data_root, verify=True)
    if final.missing:
        missing = ", ".join(display_name(layout, n) for n in final.missing)
        raise DataError(f"after downloading, {folder} still lacks {missing}; the download source changed, please report it.")
    return FetchResult(spec, layout, folder, False, downloaded, list(final.checks))


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists() or path.is_symlink():
            break
        missing.append(path)
    return missing


def _remove_empty(folders: Sequence[Path]) -> None:
    """Remove the folders (deepest first) that are empty; stop at the first that is not."""
    for path in folders:
        try:
            path.rmdir()
        except FileNotFoundError:
            continue
        except OSError:
            return
