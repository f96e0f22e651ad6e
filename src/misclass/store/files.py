r"""The one way misclass writes a file: to a temporary name beside it, flushed to disk, then
renamed over the target, so a reader sees the old file or the new one, never a part.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.json"
>>> _ = write_json(p, {"x": 1}); print(p.read_text())
{
  "x": 1
}
"""

from __future__ import annotations

import errno
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from misclass.errors import StoreError

TMP_MARK = ".tmp-"


def temporary_name(path: Path) -> Path:
    """A hidden, unique name beside ``path``."""
    return path.with_name(f".{path.name}{TMP_MARK}{uuid.uuid4().hex[:8]}")


def fsync_file(path: Path) -> None:
    """Flush a written file to the device."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def describe_os_error(exc: OSError, path: Path | str, doing: str = "writing") -> str:
    """One line for a filesystem failure: what, where, and the usual cause."""
    hints = {
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.EFBIG: "file too large for this filesystem or limit",
        errno.EROFS: "the filesystem is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOTDIR: "a path component is a file, not a folder",
        errno.EEXIST: "a file is in the way",
        errno.EISDIR: "a folder is in the way",
    }
    code = exc.errno
    if code is None and _nearly_full(Path(path)):
        code = errno.ENOSPC  # numpy reports a short write without an errno
    why = hints.get(code or -1, exc.strerror or str(exc))
    return f"{path}: error {doing}: {why}"


def _nearly_full(path: Path) -> bool:
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                st = os.statvfs(folder)
            except OSError:
                return False
            return st.f_bavail * st.f_frsize < 1 << 20
    return False


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, rename it onto ``path``.

    Any failure removes the temporary file and leaves ``path`` as it was; filesystem errors
    become a :class:`StoreError` naming the path.
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        fsync_file(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        raise StoreError(describe_os_error(exc, path)) from exc
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass
    return path


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` to an open file (no ``.npy`` added to the name)."""
    with open(path, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array))


def write_npy(path: str | Path, array: np.ndarray) -> Path:
    """Write an array as ``.npy`` atomically."""
    return atomic_write(path, lambda tmp: save_npy(tmp, array))


def write_text(path: str | Path, text: str) -> Path:
    """Write text atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_json(path: str | Path, obj, **kwargs) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    kwargs.setdefault("indent", 2)
    kwargs.setdefault("default", str)
    return write_text(path, json.dumps(obj, **kwargs))
