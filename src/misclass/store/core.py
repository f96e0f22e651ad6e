"""The store: samples, classes and every model's predictions in one folder (see
:mod:`misclass.store.layout` for the files, :mod:`misclass.store.transaction` for how a write
commits, docs/store.md for both).

Example
-------
>>> import tempfile, numpy as np, pandas as pd
>>> s = Store.create(tempfile.mkdtemp() + "/s",
...                  samples=pd.DataFrame({"sample_id": ["a", "b"], "label": [0, 1]}),
...                  classes=pd.DataFrame({"name": ["cat", "dog"]}))
>>> s.write_model("m", np.array([[0], [0]]))
>>> s.load().correct[:, 0].tolist()
[True, False]
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from misclass.errors import InputError, StoreError
from misclass.store.files import describe_os_error, save_npy
from misclass.store.layout import ARRAY_SUFFIXES, COMMIT_LOCK, LOCK, TXN, Layout
from misclass.store.lock import DEFAULT_LOCK_TIMEOUT, FileLock, held_by_another, holds
from misclass.store.transaction import DELETED, Transaction, has_committed, recover
from misclass.validation import (
    check_class_ids,
    check_distinct_topk,
    check_model_name,
    check_probability_matrix,
    check_topk,
    check_unique_ids,
)


@dataclass(frozen=True)
class Predictions:
    """Predictions of M models on N samples, rows in store order.

    Attributes
    ----------
    models : tuple of str
        Model names, in column order.
    sample_ids : ndarray of object, shape (N,)
    labels : ndarray of int64, shape (N,)
        True class, -1 when unknown.
    topk : ndarray of int32, shape (N, M, k)
        Ranked predicted class ids; -1 pads models that stored fewer than k.
    topk_probs : ndarray of float32, shape (N, M, k), or None
        Probabilities of ``topk``; NaN where a model stored none. None when no model did.
    k : ndarray of int64, shape (M,)
        How many ranked predictions each model stored.
    """

    models: tuple[str, ...]
    sample_ids: np.ndarray
    labels: np.ndarray
    topk: np.ndarray
    topk_probs: np.ndarray | None
    k: np.ndarray
    store: Store | None = field(default=None, repr=False, compare=False)

    @property
    def top1(self) -> np.ndarray:
        """Top-1 predictions, shape (N, M)."""
        return self.topk[:, :, 0]

    @property
    def correct(self) -> np.ndarray:
        """Whether each model's top-1 equals the label, bool (N, M); False where label is -1."""
        return (self.topk[:, :, 0] == self.labels[:, None]) & (self.labels[:, None] >= 0)

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])

    def index(self, model: str) -> int:
        """Column of ``model``."""
        try:
            return self.models.index(model)
        except ValueError:
            raise StoreError(f"model {model!r} is not loaded; loaded: {', '.join(self.models)}") from None

    def probs(self, model: str) -> np.ndarray | None:
        """Full (N, C) probabilities of ``model`` (memory-mapped float32) or None."""
        return None if self.store is None else self.store.read_probs(model)


@dataclass(frozen=True)
class ModelRecord:
    """One model as stored: ``topk_ids (N, k)``, ``topk_probs (N, k)`` or None, metadata."""

    name: str
    topk_ids: np.ndarray
    topk_probs: np.ndarray | None
    metadata: dict[str, Any]


def _fixed_list(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    n, k = values.shape
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), type=typ), k)


def _read_fixed_list(column: pa.ChunkedArray, n: int, dtype) -> np.ndarray | None:
    arr = column.combine_chunks()
    if arr.null_count == len(arr):
        return None
    k = arr.type.list_size
    return arr.values.to_numpy(zero_copy_only=False).astype(dtype, copy=False).reshape(n, k)


def _top1(ids: np.ndarray, labels: np.ndarray) -> float | None:
    known = labels >= 0
    return float((ids[:, 0] == labels)[known].mean()) if known.any() else None


def _model_top1(meta: dict[str, Any], ids: np.ndarray, labels: np.ndarray,
                probs: np.ndarray | None) -> float | None:
    """A model's ``top1`` metadata: the share of labelled images its top-1 gets right, or, for
    a predictor whose metadata says ``"accuracy": "expected"`` (a person drawn at random, see
    :mod:`misclass.importers.votes`), the mean over labelled images of ``probs[i, label]``."""
    if meta.get("accuracy") != "expected":
        return _top1(ids, labels)
    if probs is None:
        raise InputError(f"model {meta.get('name')!r}: \"accuracy\": \"expected\" needs its full "
                         "probabilities (probs)")
    known = np.flatnonzero(labels >= 0)
    if not len(known):
        return None
    return float(np.asarray(probs[known, labels[known]], dtype=np.float64).mean())


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _table_writer(table: pa.Table):
    return lambda tmp: pq.write_table(table, tmp, compression="zstd")


def _json_writer(obj: dict):
    return lambda tmp: tmp.write_text(json.dumps(obj, indent=2, default=str))


class Store:
    """A misclass store folder. Open an existing one with ``Store(path)``; make one with
    :meth:`Store.create`.

    Every write (``create``, ``write_model``, ``restrict``, ...) is a transaction under the
    store's lock; several writes inside ``with store.transaction():`` commit together.
    ``lock_timeout`` is how long a writer waits for another writer (seconds, None: forever);
    ``on_wait`` receives the "waiting for the store lock" message.
    """

    def __init__(self, path: str | os.PathLike, *, lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
                 on_wait: Callable[[str], None] | None = None):
        self.path = Path(path)
        self.layout = Layout(self.path)
        self.lock_timeout = lock_timeout
        self.on_wait = on_wait
        self._txn: Transaction | None = None
        self._reads = 0

    # ------------------------------------------------------------------ layout
    @property
    def samples_path(self) -> Path:
        return self.layout.samples

    @property
    def classes_path(self) -> Path:
        return self.layout.classes

    @property
    def images_path(self) -> Path:
        return self.layout.images

    @property
    def info_path(self) -> Path:
        return self.layout.info

    @property
    def models_dir(self) -> Path:
        return self.layout.models

    def model_path(self, name: str, suffix: str = ".parquet") -> Path:
        return self.layout.model(name, suffix)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # ------------------------------------------------------------------ files as this view sees them
    def _file(self, path: Path) -> Path | None:
        """Where the current content of ``path`` is (its staged copy inside a transaction)."""
        if self._txn is not None:
            staged = self._txn.lookup(path)
            if staged is DELETED:
                return None
            if staged is not None:
                return staged
        return path if path.is_file() else None

    def _read_table(self, path: Path, columns: list[str] | None = None) -> pa.Table:
        real = self._file(path)
        if real is None:
            raise StoreError(f"{path}: missing; the store is incomplete (was it copied in part?)")
        try:
            return pq.read_table(real, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise StoreError(f"{path}: not a readable Parquet file ({_first_line(exc)}); the store "
                             "is damaged; restore it from a copy or re-import") from None

    def _num_rows(self, path: Path) -> int:
        real = self._file(path)
        if real is None:
            raise StoreError(f"{path}: missing; the store is incomplete (was it copied in part?)")
        try:
            return pq.ParquetFile(real).metadata.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise StoreError(f"{path}: not a readable Parquet file ({_first_line(exc)}); the store "
                             "is damaged; restore it from a copy or re-import") from None

    def _read_json(self, path: Path) -> dict[str, Any] | None:
        real = self._file(path)
        if real is None:
            return None
        try:
            return json.loads(real.read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: not readable JSON ({_first_line(exc)}); the store is "
                             "damaged") from None

    def _load_npy(self, path: Path) -> np.ndarray | None:
        real = self._file(path)
        if real is None:
            return None
        try:
            return np.load(real, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: not a readable .npy file ({_first_line(exc)}); the store "
                             "is damaged") from None

    # ------------------------------------------------------------------ locking
    def _check_folder(self) -> None:
        for folder in (self.path, self.layout.models, self.layout.txn, self.layout.partial,
                       self.layout.explain):
            if folder.exists() and not folder.is_dir():
                what = "the store path" if folder == self.path else f"'{folder.name}'"
                raise StoreError(f"{folder}: {what} is a file; a misclass store needs a folder there")

    @contextmanager
    def _reading(self):
        """Share the commit lock while reading, so no commit lands half-way through a read."""
        if self._txn is not None or self._reads or not self.path.is_dir():
            self._reads += 1
            try:
                yield
            finally:
                self._reads -= 1
            return
        lock = FileLock(self.layout.commit_lock, shared=True, timeout=self.lock_timeout,
                        on_wait=self.on_wait, what="commit lock")
        outer = holds(self.layout.commit_lock, shared=True)  # a read of this process is open
        lock.acquire()
        deadline = None if self.lock_timeout is None else time.monotonic() + self.lock_timeout
        while not outer and has_committed(self.layout) and not holds(self.layout.lock):
            # A commit record is waiting. Its files may be half renamed only if its writer died
            # mid-commit; never read such a state. Let a live writer (or the next writer, who
            # recovers first) apply it, or finish it ourselves when nobody holds the lock.
            lock.release()
            if not held_by_another(self.layout.lock):
                with self.transaction():
                    pass
            elif deadline is not None and time.monotonic() > deadline:
                raise StoreError(f"{self.path}: a commit has been waiting for {self.lock_timeout:g} s; "
                                 "another misclass command is writing. Try again when it is done")
            else:
                time.sleep(0.05)
            lock.acquire()
        self._reads += 1
        try:
            yield
        finally:
            self._reads -= 1
            lock.release()

    @contextmanager
    def transaction(self, *, create: bool = False):
        """Hold the store lock; stage every write made inside; commit them together on exit.

        Any exception rolls every staged write back. With ``create`` the folder may be new.
        Nested calls join the outer transaction.
        """
        if self._txn is not None:
            yield self._txn
            return
        self._check_folder()
        made = False
        if not self.path.exists():
            if not create:
                self._require()
            try:
                self.path.mkdir(parents=True)
            except FileExistsError:
                pass
            except OSError as exc:
                raise StoreError(describe_os_error(exc, self.path, "creating the store")) from exc
            else:
                made = True
        elif not os.access(self.path, os.W_OK):
            raise StoreError(f"{self.path}: the store folder is not writable (read-only filesystem "
                             "or permissions); nothing was changed")
        lock = FileLock(self.layout.lock, timeout=self.lock_timeout, on_wait=self.on_wait)
        try:
            lock.acquire()
        except BaseException:
            if made:
                _remove_empty_store_dir(self.path)
            raise
        txn = None
        try:
            self.recovered = recover(self.layout)
            self._check_folder()
            if not create:
                self._require()
            txn = Transaction(self.layout)
            self._txn = txn
            yield txn
            self._txn = None
            txn.commit()
        except BaseException:
            self._txn = None
            if txn is not None:
                txn.abort()
            raise
        finally:
            if made and not self.samples_path.exists():
                _remove_empty_store_dir(self.path)
            lock.release()

    # ------------------------------------------------------------------ state
    def exists(self) -> bool:
        """True when the folder holds a store (its ``samples.parquet``)."""
        if self._txn is not None:
            return self._file(self.samples_path) is not None
        return self.samples_path.is_file() or (self.path.is_dir() and has_committed(self.layout))

    def _require(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"{self.path}: the store path is a file; a misclass store is a folder")
        if not self.exists():
            raise StoreError(
                f"{self.path}: no misclass store here (no samples.parquet); create one with "
                "'misclass demo' or 'misclass import ...'"
            )

    def info(self) -> dict[str, Any]:
        """What the store was made from (``store.json``), or {}."""
        with self._reading():
            return self._read_json(self.info_path) or {}

    # ------------------------------------------------------------------ create
    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        *,
        samples: pd.DataFrame,
        classes: pd.DataFrame,
        images: np.ndarray | None = None,
        info: dict[str, Any] | None = None,
        overwrite: bool = False,
        store: Store | None = None,
    ) -> Store:
        """Create a store from a samples table and a classes table.

        ``samples`` needs ``sample_id`` (unique) and ``label`` (int, -1 unknown);
        ``classes`` needs ``name`` and optionally ``index`` (0..C-1) and ``id``.
        ``info`` (e.g. the dataset spec) is kept in ``store.json``. ``overwrite`` replaces an
        existing store at ``path`` (its models are removed). Everything is checked before the
        folder is touched. ``store``: an open :class:`Store` (inside its transaction) to use.
        """
        samples = _normalise_samples(samples, "samples")
        classes = _normalise_classes(classes)
        check_class_ids(samples["label"].to_numpy(), len(classes), "samples", "label")
        if images is not None and len(images) != len(samples):
            raise InputError(f"images: {len(images)} images for {len(samples)} samples")
        store = store if store is not None else cls(path)
        with store.transaction(create=True) as txn:
            if store.exists():
                if not overwrite:
                    raise StoreError(f"{store.path}: a store already exists here")
                for name in store.model_names():
                    for f in store.layout.model_files(name):
                        txn.delete(f)
                txn.delete(store.images_path)
                txn.delete(store.layout.partial)
            txn.write(store.classes_path, _table_writer(pa.Table.from_pandas(classes, preserve_index=False)))
            txn.write(store.info_path, _json_writer(dict(info or {}, created=_now())))
            if images is not None:
                txn.write(store.images_path, lambda tmp: save_npy(tmp, images))
            # samples last: its presence marks a complete store
            txn.write(store.samples_path, _table_writer(pa.Table.from_pandas(samples, preserve_index=False)))
        return store

    # ------------------------------------------------------------------ samples / classes
    def samples(self) -> pd.DataFrame:
        """The samples table, in store order."""
        with self._reading():
            self._require()
            return self._read_table(self.samples_path).to_pandas()

    def sample_ids(self) -> np.ndarray:
        with self._reading():
            self._require()
            col = self._read_table(self.samples_path, ["sample_id"]).column(0)
            return np.asarray(col.to_pylist(), dtype=object)

    def labels(self) -> np.ndarray:
        with self._reading():
            self._require()
            col = self._read_table(self.samples_path, ["label"]).column(0)
            return col.to_numpy().astype(np.int64)

    def classes(self) -> pd.DataFrame:
        with self._reading():
            self._require()
            return self._read_table(self.classes_path).to_pandas()

    def class_names(self) -> list[str]:
        return [str(x) for x in self.classes()["name"]]

    @property
    def n_samples(self) -> int:
        with self._reading():
            self._require()
            return self._num_rows(self.samples_path)

    @property
    def n_classes(self) -> int:
        with self._reading():
            self._require()
            return self._num_rows(self.classes_path)

    def images(self) -> np.ndarray | None:
        """Images stored as an array (N, H, W[, 3]) uint8, memory-mapped, or None."""
        with self._reading():
            return self._load_npy(self.images_path)

    def update_labels(self, labels: np.ndarray, source: str) -> int:
        """Fill unknown (-1) labels from ``labels`` (store order); return how many were set.

        A known label that ``labels`` contradicts is an error naming the first such sample.
        Every model's metadata (its top-1) is rewritten in the same commit.
        """
        with self.transaction():
            samples = self.samples()
            old = samples["label"].to_numpy().astype(np.int64)
            new = np.asarray(labels, dtype=np.int64)
            if new.shape != old.shape:
                raise InputError(f"{source}: {len(new)} labels for {len(old)} samples")
            check_class_ids(new, self.n_classes, source, "label")
            clash = (old >= 0) & (new >= 0) & (old != new)
            if clash.any():
                i = int(np.argmax(clash))
                raise InputError(
                    f"{source}: label of sample {samples['sample_id'].iloc[i]!r} is {new[i]} but the "
                    f"store has {old[i]} ({int(clash.sum())} samples disagree)"
                )
            fill = (old < 0) & (new >= 0)
            if fill.any():
                samples["label"] = np.where(fill, new, old)
                self._stage_samples(samples)
            return int(fill.sum())

    def set_image_paths(self, paths: Sequence[str], root: str | os.PathLike) -> None:
        """Record each sample's image file (store order) in the samples' ``path`` column, and
        the folder those relative paths resolve against as ``images`` in ``store.json`` (one
        commit; see :class:`misclass.store.images.StoreImages`)."""
        with self.transaction() as txn:
            samples = self.samples()
            if len(paths) != len(samples):
                raise InputError(f"image paths: {len(paths)} paths for {len(samples)} samples")
            samples["path"] = [str(p) for p in paths]
            info = self._read_json(self.info_path) or {}
            info["images"] = str(Path(root).resolve())  # found from any working folder
            txn.write(self.info_path, _json_writer(info))
            txn.write(self.samples_path, _table_writer(pa.Table.from_pandas(samples, preserve_index=False)))

    def _stage_samples(self, samples: pd.DataFrame) -> None:
        """Stage a new samples table and every model's metadata that depends on it."""
        txn = self._txn
        labels = samples["label"].to_numpy().astype(np.int64)
        for name in self.model_names():
            meta = self.model_metadata(name)
            ids = self.read_model(name).topk_ids
            probs = self.read_probs(name) if meta.get("accuracy") == "expected" else None
            meta.update(n=len(labels), top1=_model_top1(meta, ids, labels, probs))
            txn.write(self.model_path(name, ".json"), _json_writer(meta))
        txn.write(self.samples_path, _table_writer(pa.Table.from_pandas(samples, preserve_index=False)))

    # ------------------------------------------------------------------ models
    def model_names(self) -> list[str]:
        """Names of the stored models, sorted."""
        with self._reading():
            self._require()
            names = set()
            if self.models_dir.is_dir():
                names = {p.name[: -len(".parquet")] for p in self.models_dir.glob("*.parquet")}
            if self._txn is not None:
                names |= {p.name[: -len(".parquet")] for p in self._txn.staged_targets()
                          if p.parent == self.models_dir and p.name.endswith(".parquet")}
                names -= {p.name[: -len(".parquet")] for p in self._txn.deleted_targets()
                          if p.parent == self.models_dir and p.name.endswith(".parquet")}
            return sorted(n for n in names if not n.startswith(".") and not n.endswith(".per_image"))

    def has_model(self, name: str) -> bool:
        return self._file(self.model_path(name)) is not None

    def write_model(
        self,
        name: str,
        topk_ids: np.ndarray,
        topk_probs: np.ndarray | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        probs: np.ndarray | None = None,
        features: np.ndarray | None = None,
        logits: np.ndarray | None = None,
        per_image: pd.DataFrame | None = None,
        replace: bool = False,
        source: str | None = None,
        half: bool = False,
    ) -> None:
        """Write one model's predictions, rows in store order, as one commit.

        Parameters
        ----------
        topk_ids : (N, k) int
            Ranked class ids, best first (-1 for "no prediction").
        topk_probs : (N, k) float, optional
            Their probabilities, descending.
        probs, logits, features : (N, C) / (N, C) / (N, D) float, optional
            Full probabilities, logits and penultimate features, stored as float32 ``.npy``
            (float16 with ``half``; the metadata's ``precision`` says which).
        per_image : DataFrame with N rows, optional
            Extra per-image columns (e.g. MC-dropout ``mc_entropy``, ``mc_mutual_info``,
            ``mc_variance``), stored as ``<name>.per_image.parquet``.
        replace : bool
            Overwrite a model of the same name; otherwise that is an error. The old model's
            files are all replaced or removed in the same commit.
        """
        check_model_name(name)
        src = source or f"model {name!r}"
        with self.transaction():
            if self.has_model(name) and not replace:
                raise StoreError(
                    f"model {name!r} is already in the store {self.path}; pass --replace "
                    "(replace=True) to overwrite it"
                )
            n, c = self.n_samples, self.n_classes
            ids, tprobs = check_topk(topk_ids, topk_probs, n, src)
            check_class_ids(ids, c, src, "topk_ids")
            check_distinct_topk(ids, src)
            arrays = {"probs": probs, "logits": logits, "features": features}
            for key, arr in arrays.items():
                if arr is None:
                    continue
                arr = np.asarray(arr)
                want = (n, c) if key != "features" else (n, "D")
                if arr.ndim != 2 or len(arr) != n or (key != "features" and arr.shape[1] != c):
                    raise InputError(f"{src}: {key} has shape {arr.shape}; expected {want}")
                if key == "probs":
                    check_probability_matrix(arr, f"{src}: probs")
                elif not np.isfinite(arr).all():
                    row = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
                    raise InputError(f"{src}: {key}, row {row + 1}: NaN or infinite value")
                arrays[key] = arr
            if per_image is not None and len(per_image) != n:
                raise InputError(f"{src}: per-image table has {len(per_image)} rows; expected {n}")
            dtype = np.float16 if half else np.float32
            meta = dict(metadata or {})
            meta.update(
                name=name,
                n=n,
                k=int(ids.shape[1]),
                has_topk_probs=tprobs is not None,
                has_probs=probs is not None,
                has_features=features is not None,
                has_logits=logits is not None,
                precision=np.dtype(dtype).name if any(a is not None for a in arrays.values()) else None,
                per_image_columns=[] if per_image is None else [str(c) for c in per_image.columns],
                top1=_model_top1(meta, ids, self.labels(), arrays["probs"]),
                created=meta.get("created") or _now(),
            )
            sample_col = pa.array(self.sample_ids().tolist(), type=pa.string())
            prob_col = (
                _fixed_list(tprobs, pa.float32())
                if tprobs is not None
                else pa.nulls(n, pa.list_(pa.float32(), ids.shape[1]))
            )
            table = pa.table(
                {"sample_id": sample_col, "topk_ids": _fixed_list(ids, pa.int32()), "topk_probs": prob_col}
            )
            txn = self._txn
            for key, suffix in ARRAY_SUFFIXES.items():
                path, arr = self.model_path(name, suffix), arrays[key]
                if arr is not None:
                    txn.write(path, lambda tmp, a=arr: save_npy(tmp, np.asarray(a, dtype=dtype)))
                else:
                    txn.delete(path)
            extra_path = self.model_path(name, ".per_image.parquet")
            if per_image is not None:
                txn.write(extra_path, _table_writer(
                    pa.Table.from_pandas(per_image.reset_index(drop=True), preserve_index=False)))
            else:
                txn.delete(extra_path)
            txn.write(self.model_path(name, ".json"), _json_writer(meta))
            # the parquet that marks the model as present goes last
            txn.write(self.model_path(name), _table_writer(table))

    def update_model_metadata(self, name: str, changes: dict[str, Any]) -> None:
        """Merge ``changes`` into a model's metadata (one commit)."""
        with self.transaction():
            meta = self.model_metadata(name)
            meta.update(changes)
            self._txn.write(self.model_path(name, ".json"), _json_writer(meta))

    def delete_model(self, name: str) -> None:
        """Remove every file of a model, in one commit."""
        with self.transaction() as txn:
            for path in self.layout.model_files(name):
                txn.delete(path)

    def _require_model(self, name: str) -> None:
        if not self.has_model(name):
            have = ", ".join(self.model_names()) or "none"
            raise StoreError(f"model {name!r} is not in the store {self.path} (models: {have})")

    def model_metadata(self, name: str) -> dict[str, Any]:
        with self._reading():
            self._require_model(name)
            return self._read_json(self.model_path(name, ".json")) or {"name": name}

    def read_model(self, name: str) -> ModelRecord:
        """One model's top-k ids and probabilities, rows in store order."""
        with self._reading():
            self._require_model(name)
            table = self._read_table(self.model_path(name), ["topk_ids", "topk_probs"])
            n = table.num_rows
            ids = _read_fixed_list(table.column("topk_ids"), n, np.int32)
            probs = _read_fixed_list(table.column("topk_probs"), n, np.float32)
            return ModelRecord(name, ids, probs, self.model_metadata(name))

    def _read_array(self, name: str, key: str) -> np.ndarray | None:
        with self._reading():
            self._require_model(name)
            return self._load_npy(self.model_path(name, ARRAY_SUFFIXES[key]))

    def read_probs(self, name: str) -> np.ndarray | None:
        """Full (N, C) probabilities, memory-mapped (float32; float16 in older stores), or None."""
        return self._read_array(name, "probs")

    def read_logits(self, name: str) -> np.ndarray | None:
        return self._read_array(name, "logits")

    def read_features(self, name: str) -> np.ndarray | None:
        return self._read_array(name, "features")

    def read_per_image(self, name: str) -> pd.DataFrame | None:
        """The model's extra per-image columns (store order), or None."""
        with self._reading():
            self._require_model(name)
            path = self.model_path(name, ".per_image.parquet")
            return self._read_table(path).to_pandas() if self._file(path) is not None else None

    def load(self, models: Sequence[str] | None = None) -> Predictions:
        """Load models (default: all) as arrays; see :class:`Predictions`."""
        with self._reading():
            return self._load(models)

    def _load(self, models: Sequence[str] | None) -> Predictions:
        self._require()
        names = tuple(models) if models else tuple(self.model_names())
        if len(set(names)) != len(names):
            raise InputError(f"a model is named twice in {list(names)}")
        for name in names:
            self._require_model(name)
        labels = self.labels()
        n = len(labels)
        records = []
        for name in names:
            table = self._read_table(self.model_path(name), ["topk_ids", "topk_probs"])
            if table.num_rows != n:
                raise StoreError(
                    f"{self.model_path(name)}: {table.num_rows} rows but the store has {n} samples"
                )
            records.append(
                (
                    _read_fixed_list(table.column("topk_ids"), n, np.int32),
                    _read_fixed_list(table.column("topk_probs"), n, np.float32),
                )
            )
        ks = np.array([r[0].shape[1] for r in records], dtype=np.int64)
        kmax = int(ks.max()) if len(ks) else 1
        topk = np.full((n, len(names), kmax), -1, dtype=np.int32)
        any_probs = any(r[1] is not None for r in records)
        topk_probs = np.full((n, len(names), kmax), np.nan, dtype=np.float32) if any_probs else None
        for j, (ids, probs) in enumerate(records):
            topk[:, j, : ids.shape[1]] = ids
            if probs is not None:
                topk_probs[:, j, : probs.shape[1]] = probs
        return Predictions(names, self.sample_ids(), labels, topk, topk_probs, ks, store=self)

    # ------------------------------------------------------------------ alignment
    def restrict(self, keep: np.ndarray) -> None:
        """Keep only the samples where ``keep`` (bool, store order) is True, in every file.

        One commit: every model's files, the images and the samples table change together,
        and each model's metadata (``n``, ``top1``) is rewritten.
        """
        with self.transaction() as txn:
            keep = np.asarray(keep, dtype=bool)
            samples = self.samples()
            if keep.shape != (len(samples),):
                raise InputError(f"restrict: {keep.shape[0]} flags for {len(samples)} samples")
            mask = pa.array(keep)
            for name in self.model_names():
                table = self._read_table(self.model_path(name)).filter(mask)
                txn.write(self.model_path(name), _table_writer(table))
                extra = self.model_path(name, ".per_image.parquet")
                if self._file(extra) is not None:
                    txn.write(extra, _table_writer(self._read_table(extra).filter(mask)))
                for key, suffix in ARRAY_SUFFIXES.items():
                    arr = self._read_array(name, key)
                    if arr is not None:
                        txn.write(self.model_path(name, suffix), lambda tmp, a=arr: save_npy(tmp, a[keep]))
            images = self.images()
            if images is not None:
                txn.write(self.images_path, lambda tmp: save_npy(tmp, images[keep]))
            self._stage_samples(samples[keep].reset_index(drop=True))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _remove_empty_store_dir(path: Path) -> None:
    """Remove a folder this process made for a store that never came to be (lock files only)."""
    try:
        leftovers = {p.name for p in path.iterdir()}
    except OSError:
        return
    if leftovers <= {LOCK, COMMIT_LOCK, TXN}:
        shutil.rmtree(path, ignore_errors=True)


def _normalise_samples(samples: pd.DataFrame, source: str) -> pd.DataFrame:
    if "sample_id" not in samples.columns:
        raise InputError(f"{source}: missing column 'sample_id'")
    out = samples.copy().reset_index(drop=True)
    out["sample_id"] = out["sample_id"].astype(str)
    check_unique_ids(out["sample_id"].to_numpy(), source)
    if "label" not in out.columns:
        out["label"] = -1
    lab = pd.to_numeric(out["label"], errors="coerce")
    if lab.isna().any():
        row = int(np.flatnonzero(lab.isna().to_numpy())[0])
        raise InputError(f"{source}: row {row + 1}, label: expected an integer class id")
    out["label"] = lab.astype(np.int64)
    cols = ["sample_id", "label"] + [c for c in out.columns if c not in ("sample_id", "label")]
    return out[cols]


def _normalise_classes(classes: pd.DataFrame) -> pd.DataFrame:
    out = classes.copy().reset_index(drop=True)
    if "name" not in out.columns:
        raise InputError("classes: missing column 'name'")
    if "index" in out.columns and not np.array_equal(out["index"].to_numpy(), np.arange(len(out))):
        raise InputError("classes: column 'index' must be 0..C-1 in order")
    out["index"] = np.arange(len(out), dtype=np.int64)
    if "id" not in out.columns:
        out["id"] = out["index"].astype(str)
    out["id"] = out["id"].astype(str)
    out["name"] = out["name"].astype(str)
    cols = ["index", "id", "name"] + [c for c in out.columns if c not in ("index", "id", "name")]
    return out[cols]


def numbered_classes(n_classes: int) -> pd.DataFrame:
    """A classes table with names ``"0"``, ``"1"``, ... for datasets without metadata."""
    return pd.DataFrame({"name": [str(i) for i in range(n_classes)]})


def open_store(path: str | os.PathLike) -> Store:
    """Open an existing store or raise a :class:`StoreError` saying how to make one."""
    store = Store(path)
    store._require()
    return store


