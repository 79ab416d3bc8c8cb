"""The lock a run file's writer holds: ``<run file>.lock`` next to it, locked with ``flock`` while the writer lives.

Every process that writes a run file (a :class:`~landscape.writer.RunWriter` creating,
overwriting or resuming it, and :mod:`landscape.amend` replacing it after training)
first takes this lock, and keeps it until it has closed the file. So:

- two writers never meet one file: the second is refused with one sentence naming
  the first's process (``runs/x.h5 is still being written by process 4242; ...``),
  whether it came to overwrite (``--force``), resume, amend, or to create the file at
  the same moment as the first (the lock is taken *before* the run file is created,
  which closes the check-then-create race without a temporary name);
- whether a run is live does not depend on process ids: the kernel drops an
  ``flock`` when its process dies, however it dies (SIGKILL, a lost machine's NFS
  client), so a killed writer's lock file is merely stale and the next writer takes
  it over, and a process id reused after a kill is never taken for the writer.

Why a separate file and not a lock on the run file itself: HDF5 takes its own
``flock`` on files it opens (readers included, unless told not to), and a writer's
exclusive lock on the run file would break every third-party ``h5py.File(path)``
reader of a run being written. The lock file holds ``"<pid> <host>"`` of its holder
for the message; it is removed when its writer closes the run (a killed writer
leaves it behind, unlocked and harmless).

Taking the lock: open (creating) the lock file, ``flock(LOCK_EX | LOCK_NB)`` it, and
check the path still names the file locked (a holder that was releasing it may have
unlinked it meanwhile; then try again). Testing it (:func:`lock_holder`) takes a
shared lock for an instant without creating anything; a writer that meets such a
test retries for a moment before it concludes the lock is held.
This module knows nothing of HDF5: :mod:`landscape.runfile` builds the checks on it.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locks, the run file's own attributes decide
    fcntl = None  # type: ignore[assignment]

#: Suffix of a run's lock file, appended to the run file's name (``runs/x.h5`` -> ``runs/x.h5.lock``).
LOCK_SUFFIX = ".lock"
#: Seconds a writer keeps trying a lock held by no live writer (a reader testing it holds it for an instant).
ACQUIRE_PATIENCE = 1.0


@dataclass(frozen=True)
class LockInfo:
    """A run's lock file as found: whether a live process holds it, and the holder it names (pid None: unknown)."""

    held: bool
    pid: int | None
    host: str


def lock_path(run_path: str | os.PathLike) -> Path:
    """Where the lock of the run file at ``run_path`` lives: ``<run_path>.lock``."""
    run_path = Path(run_path)
    return run_path.with_name(run_path.name + LOCK_SUFFIX)


def lock_holder(run_path: str | os.PathLike) -> LockInfo | None:
    """The state of ``run_path``'s lock: None when there is no lock file, else whether it is held and by whom.

    Creates nothing; holds a shared lock for an instant when nobody holds it.
    """
    if fcntl is None:
        return None
    try:
        fd = os.open(lock_path(run_path), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError:  # unreadable: take it as held by someone unknown rather than overwrite a run
        return LockInfo(True, None, "")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, host = _read_holder(fd)
            return LockInfo(True, pid, host)
        pid, host = _read_holder(fd)
        return LockInfo(False, pid, host)
    finally:
        os.close(fd)  # drops the shared lock, if taken


class RunLock:
    """The held lock of one run file; :meth:`release` (or leaving a ``with`` block) drops it and removes the file."""

    def __init__(self, path: Path, fd: int | None, created: bool) -> None:
        self.path = path
        self._fd = fd
        #: True when no lock file was there before (the run file, if any, was written by no locking writer since).
        self.created = created

    @classmethod
    def acquire(cls, run_path: str | os.PathLike) -> "RunLock | LockInfo":
        """Take ``run_path``'s lock; the :class:`LockInfo` of its holder instead when a live process holds it.

        The folder must exist. An OSError (a folder one cannot write) propagates.
        """
        path = lock_path(run_path)
        if fcntl is None:
            return cls(path, None, True)
        flags = os.O_RDWR | getattr(os, "O_CLOEXEC", 0)
        deadline = time.monotonic() + ACQUIRE_PATIENCE
        while True:
            created = True
            try:
                fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                created = False
                try:
                    fd = os.open(path, flags)
                except FileNotFoundError:  # its holder removed it just now
                    continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid, host = _read_holder(fd)
                try:  # a shared lock is only a reader testing it for an instant: try again
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    exclusive = False
                except BlockingIOError:
                    exclusive = True
                os.close(fd)
                if (exclusive and pid is not None) or time.monotonic() >= deadline:
                    return LockInfo(True, pid, host)
                time.sleep(0.02)  # or a writer that took it an instant ago and has not written its pid yet
                continue
            if not _names(path, fd):  # unlinked by its releasing holder after we opened it: take the new one
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
            return cls(path, fd, created)

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Remove the lock file (if it is still this lock's) and drop the lock. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if _names(self.path, fd):
                self.path.unlink()
        except OSError:
            pass
        finally:
            os.close(fd)

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def _names(path: Path, fd: int) -> bool:
    """Whether ``path`` is the file open as ``fd`` (same device and inode)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _read_holder(fd: int) -> tuple[int | None, str]:
    """The ``(pid, host)`` a lock file names; ``(None, "")`` when it is empty or unreadable."""
    try:
        text = os.pread(fd, 512, 0).decode("utf-8", "replace")
    except OSError:
        return None, ""
    pid, _, host = text.strip().partition(" ")
    return (int(pid) if pid.isdigit() else None), host.strip()


__all__ = ["ACQUIRE_PATIENCE", "LOCK_SUFFIX", "LockInfo", "RunLock", "lock_holder", "lock_path"]
