"""One write to a store, staged whole and committed at once.

Protocol (see docs/store.md):

1. Each new file is written under ``.txn/<id>/`` (same filesystem) and fsynced; files to
   remove are listed. Nothing in the store changes.
2. Commit point: ``.txn/<id>/COMMIT.json`` (staged name -> target, and removals) is written
   atomically. Before it exists the write is rolled back; after, it is rolled forward.
3. Holding ``.commit.lock`` exclusively, staged files are renamed onto their targets and
   removals done; then ``.txn/<id>/`` is removed.

:func:`recover` (run by every writer when it takes the store lock, and by readers that find a
commit record nobody is applying) rolls each leftover forward or back.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from misclass.errors import StoreError
from misclass.store import files
from misclass.store.layout import Layout
from misclass.store.lock import FileLock

RECORD = "COMMIT.json"
DELETED = object()


class Transaction:
    """Staged writes and removals of one store write."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.dir = layout.txn / uuid.uuid4().hex[:12]
        self._writes: dict[str, str] = {}  # target (relative) -> staged name
        self._deletes: set[str] = set()
        self.committed = False

    # ------------------------------------------------------------------ staging
    def write(self, target: Path, write: Callable[[Path], None]) -> None:
        """Stage ``target``: ``write(path)`` writes its new content to a staged file."""
        rel = self.layout.relative(target)
        staged = self.dir / f"{len(self._writes):05d}-{Path(rel).name}"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            write(staged)
            files.fsync_file(staged)
        except OSError as exc:
            raise StoreError(files.describe_os_error(exc, target) + "; the store is unchanged") from exc
        old = self._writes.pop(rel, None)
        if old is not None:
            (self.dir / old).unlink(missing_ok=True)
        self._writes[rel] = staged.name
        self._deletes.discard(rel)

    def delete(self, target: Path) -> None:
        """Stage the removal of ``target`` (a file or folder), if it exists then."""
        rel = self.layout.relative(target)
        old = self._writes.pop(rel, None)
        if old is not None:
            (self.dir / old).unlink(missing_ok=True)
        self._deletes.add(rel)

    def lookup(self, target: Path):
        """The staged file for ``target``, :data:`DELETED`, or None when untouched."""
        rel = self.layout.relative(target)
        if rel in self._writes:
            return self.dir / self._writes[rel]
        return DELETED if rel in self._deletes else None

    def staged_targets(self) -> list[Path]:
        return [self.layout.root / rel for rel in self._writes]

    def deleted_targets(self) -> list[Path]:
        return [self.layout.root / rel for rel in self._deletes]

    @property
    def empty(self) -> bool:
        return not self._writes and not self._deletes

    # ------------------------------------------------------------------ commit
    def commit(self) -> None:
        if self.empty:
            self.abort()
            return
        record = {"writes": [[name, rel] for rel, name in self._writes.items()],
                  "deletes": sorted(self._deletes)}
        try:
            files.write_json(self.dir / RECORD, record)
        except StoreError as exc:
            self.abort()
            raise StoreError(f"{exc}; the store is unchanged") from exc
        self.committed = True  # from here on the write rolls forward, never back
        with FileLock(self.layout.commit_lock, what="commit lock", timeout=None):
            apply(self.layout, self.dir)

    def abort(self) -> None:
        """Drop the staged files; a committed write is left for :func:`recover` to finish."""
        if self.committed:
            return
        shutil.rmtree(self.dir, ignore_errors=True)
        _remove_if_empty(self.layout.txn)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def apply(layout: Layout, txn_dir: Path) -> None:
    """Roll the committed write in ``txn_dir`` forward (idempotent), then remove it.

    Files are renamed in the recorded order, which puts each model's ``.parquet`` and the
    store's ``samples.parquet`` after the files they describe.
    """
    record = json.loads((txn_dir / RECORD).read_text())
    touched: set[Path] = set()
    try:
        for rel in record["deletes"]:
            target = layout.root / rel
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
            touched.add(target.parent)
        for name, rel in record["writes"]:
            src, target = txn_dir / name, layout.root / rel
            if src.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, target)
                touched.add(target.parent)
        for folder in touched:
            files.fsync_dir(folder)
    except OSError as exc:
        raise StoreError(files.describe_os_error(exc, layout.root, "committing") +
                         "; the next misclass command on this store finishes the commit") from exc
    shutil.rmtree(txn_dir, ignore_errors=True)
    _remove_if_empty(layout.txn)


def pending(layout: Layout) -> list[Path]:
    """Leftover transaction folders (committed or not)."""
    if not layout.txn.is_dir():
        return []
    return sorted(p for p in layout.txn.iterdir() if p.is_dir())


def has_committed(layout: Layout) -> bool:
    """Whether a committed write is waiting to be applied."""
    return any((p / RECORD).exists() for p in pending(layout))


def recover(layout: Layout) -> list[str]:
    """Finish or undo interrupted writes; the caller holds the writer lock. Returns notes."""
    notes = []
    for txn_dir in pending(layout):
        if (txn_dir / RECORD).exists():
            with FileLock(layout.commit_lock, what="commit lock", timeout=None):
                apply(layout, txn_dir)
            notes.append(f"finished an interrupted commit ({txn_dir.name})")
        else:
            shutil.rmtree(txn_dir, ignore_errors=True)
            notes.append(f"rolled back an interrupted write ({txn_dir.name})")
    _remove_if_empty(layout.txn)
    for folder in (layout.root, layout.models):
        if folder.is_dir():
            for tmp in folder.glob(f".*{files.TMP_MARK}*"):
                tmp.unlink(missing_ok=True)
    return notes
