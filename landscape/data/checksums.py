"""Content checksums of dataset files, with a small cache so repeated loads do not rehash.

What is hashed is a file's *uncompressed content* (a ``.gz`` IDX file is hashed after
gunzip), so recompressed copies of the official files still count as official.

The cache maps (absolute path, size, modification time in ns, algorithm) to the
digest and lives in landscape's cache folder, ``$LANDSCAPE_CACHE/checksums.json`` (default
``$XDG_CACHE_HOME/landscape``, else ``~/.cache/landscape``; :func:`cache_file`), not in the dataset folder: data roots are often read-only
(shared copies, CI images) and one cache file keeps dataset folders clean. The
size+mtime key is the same quick check make and rsync rely on: any rewrite of a
file (a fresh download, an edit, a copy) changes its mtime, so the file is hashed
again. Failing to read or write the cache only costs a rehash. ``recheck=True``
(``landscape data list --recheck``) ignores the cache.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landscape.data.registry import Digest
from landscape.errors import DataError

CACHE_FILE = "checksums.json"
_CHUNK = 1 << 20

_memory: dict[str, dict[str, Any]] = {}


class DatasetChecksumWarning(UserWarning):
    """Dataset files were loaded whose content differs from the official release.

    ``dataset`` and ``folder`` say which copy, so that a command which loads several splits (or the same one
    twice) can show the warning once per copy (the CLI does).
    """

    def __init__(self, message: str, dataset: str | None = None, folder: Path | None = None) -> None:
        super().__init__(message)
        self.dataset = dataset
        self.folder = folder


@dataclass(frozen=True)
class ContentCheck:
    """The verdict on one file: its digest against the official one."""

    path: Path
    expected: Digest | None
    actual: str | None  # None when the file could not be hashed

    @property
    def matches(self) -> bool | None:
        """True/False against the official digest; None when there is no official digest."""
        if self.expected is None or self.actual is None:
            return None
        return self.actual == self.expected.hexdigest


def cache_file() -> Path:
    """The cache's path: ``checksums.json`` in landscape's cache folder (:func:`landscape.weights.cache_dir`:
    ``$LANDSCAPE_CACHE``, else ``$XDG_CACHE_HOME/landscape``, else ``~/.cache/landscape``), beside the cached
    classifiers; read each call so tests and users can point it elsewhere."""
    from landscape.weights import cache_dir

    return cache_dir() / CACHE_FILE


def _key(path: Path, algorithm: str) -> tuple[str, dict[str, int]] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{path.resolve()}::{algorithm}", {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _load_cache() -> dict[str, Any]:
    try:
        data = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def cached_digest(path: Path, algorithm: str) -> str | None:
    """The cached digest of ``path`` if the file is unchanged since it was hashed, else None."""
    key = _key(path, algorithm)
    if key is None:
        return None
    name, stamp = key
    entry = _memory.get(name)
    if entry is None:
        entry = _load_cache().get(name)
    if isinstance(entry, dict) and entry.get("size") == stamp["size"] and entry.get("mtime_ns") == stamp["mtime_ns"]:
        _memory[name] = entry
        digest = entry.get("digest")
        return digest if isinstance(digest, str) else None
    return None


def store_digest(path: Path, algorithm: str, digest: str) -> None:
    """Remember ``digest`` for the current size and mtime of ``path`` (best effort on disk)."""
    key = _key(path, algorithm)
    if key is None:
        return
    name, stamp = key
    entry = {**stamp, "digest": digest}
    _memory[name] = entry
    target = cache_file()
    try:
        data = {k: v for k, v in _load_cache().items() if os.path.exists(k.rsplit("::", 1)[0])}  # drop deleted files
        data[name] = entry
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".checksums-", suffix=".json", dir=target.parent)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=0, sort_keys=True)
        os.replace(tmp, target)
    except OSError:
        pass  # an unwritable cache only means hashing again next time


def clear_memory_cache() -> None:
    """Forget digests remembered in this process (the on-disk cache is untouched)."""
    _memory.clear()


def compute_digest(path: Path, algorithm: str) -> str:
    """Hash the uncompressed content of ``path`` (gunzipping ``.gz``); DataError if unreadable."""
    hasher = hashlib.new(algorithm)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as stream:  # type: ignore[operator]
            while chunk := stream.read(_CHUNK):
                hasher.update(chunk)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise DataError(f"{path} is a truncated or corrupt gzip file ({err}); delete it and fetch it again.") from err
    except OSError as err:
        raise DataError(f"cannot read {path} ({err.strerror or err}); check the file and its permissions.") from err
    return hasher.hexdigest()


def file_digest(path: Path, algorithm: str, *, recheck: bool = False) -> str:
    """The digest of ``path``'s uncompressed content, from the cache unless ``recheck`` or changed."""
    if not recheck:
        digest = cached_digest(path, algorithm)
        if digest is not None:
            return digest
    digest = compute_digest(path, algorithm)
    store_digest(path, algorithm, digest)
    return digest


def check_file(path: Path, expected: Digest | None, *, recheck: bool = False) -> ContentCheck:
    """Compare ``path`` with its official digest (hashing only when the cache cannot answer)."""
    if expected is None:
        return ContentCheck(path, None, None)
    return ContentCheck(path, expected, file_digest(path, expected.algorithm, recheck=recheck))
