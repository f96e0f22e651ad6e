"""Resumable engine runs: each model's results are kept shard by shard until it completes.

Samples are cut into shards of ``shard_size`` consecutive images (store order). After a
shard, the engine writes, per model, ``<store>/.partial/<model>/shard-NNNNN.npz``
(temporary name, then rename), next to a ``manifest.json`` holding what the numbers depend
on (spec, k, what is saved, MC passes, seed, samples). A rerun with the same settings skips
the shards on disk; different settings start the model over. When every shard of a model
is there, the engine writes the model to the store and removes its partial folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from misclass.store.files import atomic_write, write_bytes
from misclass.store.layout import PARTIAL

PARTIAL_DIR = PARTIAL


def samples_digest(sample_ids: np.ndarray) -> str:
    """A short hash of the sample ids, in order."""
    h = hashlib.sha1()
    for s in sample_ids:
        h.update(str(s).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def shard_bounds(n: int, shard_size: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n)``.

    >>> shard_bounds(5, 2)
    [(0, 2), (2, 4), (4, 5)]
    """
    return [(s, min(s + shard_size, n)) for s in range(0, n, shard_size)]


class PartialRun:
    """The on-disk shards of one model's unfinished run."""

    def __init__(self, store_path: Path, model: str, signature: dict[str, Any]):
        self.root = Path(store_path) / PARTIAL_DIR / model
        self.signature = json.loads(json.dumps(signature, default=str))
        self.restarted = False

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def shard_path(self, shard: int) -> Path:
        return self.root / f"shard-{shard:05d}.npz"

    def open(self) -> set[int]:
        """Start or resume: return the finished shards (none when the settings changed)."""
        if self.manifest_path.exists():
            try:
                old = json.loads(self.manifest_path.read_text())
            except (OSError, ValueError):
                old = None
            if old == self.signature:
                return self._readable_shards()
            self.restarted = True
            self.clear()
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_bytes(self.manifest_path, json.dumps(self.signature, indent=2).encode())
        return set()

    def _readable_shards(self) -> set[int]:
        """Shards on disk that load whole; an empty or damaged one is removed and redone."""
        done = set()
        for path in self.root.glob("shard-*.npz"):
            try:
                shard = int(path.stem.split("-")[1])
                with np.load(path, allow_pickle=False) as data:
                    for key in data.files:
                        data[key]
            except (OSError, ValueError, EOFError, IndexError, zipfile.BadZipFile):
                path.unlink(missing_ok=True)
                continue
            done.add(shard)
        return done

    def save(self, shard: int, arrays: dict[str, np.ndarray]) -> None:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

        atomic_write(self.shard_path(shard), write)

    def load(self, n_shards: int) -> dict[str, np.ndarray]:
        """All shards concatenated in order."""
        parts: dict[str, list[np.ndarray]] = {}
        for shard in range(n_shards):
            with np.load(self.shard_path(shard)) as data:
                for key in data.files:
                    parts.setdefault(key, []).append(data[key])
        return {k: np.concatenate(v) for k, v in parts.items()}

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        parent = self.root.parent
        if parent.exists() and not any(parent.iterdir()):
            parent.rmdir()

    def _write_bytes(self, path: Path, data: bytes) -> None:
        write_bytes(path, data)
