"""Locks on a store folder, with ``fcntl.flock`` (released by the kernel when a process dies).

Two lock files:

- ``.lock``: a writer holds it exclusively from before it reads the store until its commit
  is done, so writers run one at a time. It holds the owner's pid for the waiting message.
- ``.commit.lock``: a commit holds it exclusively while it renames staged files into place;
  readers share it while they read, so a reader never sees half a commit.

Locks are re-entrant within a process: nested writes of one process share the lock.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from misclass.errors import StoreError
from misclass.store.files import describe_os_error

DEFAULT_LOCK_TIMEOUT = 600.0
_POLL = 0.05

_held: dict[tuple[str, int], tuple[int, int]] = {}  # (path, mode) -> (fd, depth)
_guard = threading.RLock()


def _owner(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class FileLock:
    """An exclusive (``shared=False``) or shared lock on ``path``.

    ``timeout`` seconds to wait (None: forever); ``on_wait(message)`` is called once when the
    lock is busy. Use as a context manager.
    """

    def __init__(self, path: Path, *, shared: bool = False, timeout: float | None = DEFAULT_LOCK_TIMEOUT,
                 on_wait: Callable[[str], None] | None = None, what: str = "store lock"):
        self.path = Path(path)
        self.mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        self.timeout = timeout
        self.on_wait = on_wait
        self.what = what
        self._key = (str(self.path.resolve()), self.mode)
        self.active = False

    def acquire(self) -> FileLock:
        with _guard:
            if self._key in _held:
                fd, depth = _held[self._key]
                _held[self._key] = (fd, depth + 1)
                self.active = True
                return self
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        warned = False
        while True:
            fd = self._open()
            if fd is None:  # read-only folder without a lock file: nobody can write here
                return self
            try:
                fcntl.flock(fd, self.mode | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _owner(fd)
                os.close(fd)
                held_by = f"held by pid {owner}" if owner else "held by another process"
                if not warned and self.on_wait is not None:
                    limit = "" if self.timeout is None else f" (up to {self.timeout:g} s; --lock-timeout)"
                    self.on_wait(f"waiting for the {self.what} {held_by}: {self.path}{limit}")
                    warned = True
                if deadline is not None and time.monotonic() >= deadline:
                    raise StoreError(
                        f"{self.path.parent}: the {self.what} is {held_by} (another misclass "
                        f"command is writing); gave up after {self.timeout:g} s. Wait for it to "
                        "finish, or pass a longer --lock-timeout"
                    ) from None
                time.sleep(_POLL)
                continue
            if not _same_file(fd, self.path):  # the file was removed while we waited
                os.close(fd)
                continue
            if self.mode == fcntl.LOCK_EX:
                try:
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                except OSError:
                    pass
            with _guard:
                _held[self._key] = (fd, 1)
            self.active = True
            return self

    def _open(self) -> int | None:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if self.mode == fcntl.LOCK_SH:
                try:
                    return os.open(self.path, os.O_RDONLY)
                except OSError:
                    return None
            raise StoreError(describe_os_error(exc, self.path, "taking the store lock")) from exc

    def release(self) -> None:
        if not self.active:
            return
        self.active = False
        with _guard:
            fd, depth = _held[self._key]
            if depth > 1:
                _held[self._key] = (fd, depth - 1)
                return
            del _held[self._key]
        try:
            if self.mode == fcntl.LOCK_EX:
                os.ftruncate(fd, 0)
        except OSError:
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def holds(path: Path, shared: bool = False) -> bool:
    """Whether this process holds the lock on ``path``."""
    return (str(Path(path).resolve()), fcntl.LOCK_SH if shared else fcntl.LOCK_EX) in _held


def held_by_another(path: Path) -> bool:
    """Whether another process holds the exclusive lock on ``path`` (a live writer): a
    non-blocking shared try on a fresh descriptor, released at once."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
