"""The on-disk store: a folder of Parquet files holding samples, classes and predictions.

Layout (see DESIGN.md)::

    samples.parquet          sample_id, label (-1 unknown), optional path, split, ...
    classes.parquet          index (0..C-1), id, name, optional groups
    images.npy               optional uint8 images (N, H, W[, 3]) for array datasets
    models/<name>.parquet    sample_id, topk_ids, topk_probs (one row per sample, store order)
    models/<name>.json       metadata: source, accuracy, created, ...
    models/<name>.probs.npy  optional float16 (N, C) class probabilities
    models/<name>.features.npy optional float16 (N, D) penultimate features

Every write goes to a temporary file in the same folder and is renamed into place, so an
interrupted run never leaves a half-written file. A model exists once its ``.parquet``
file exists; it is renamed last.

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
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from misclass.errors import InputError, StoreError
from misclass.validation import check_class_ids, check_model_name, check_topk, check_unique_ids

DEFAULT_STORE = "misclass-store"
MODEL_SUFFIXES = (".parquet", ".json", ".probs.npy", ".features.npy", ".logits.npy",
                  ".per_image.parquet")


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
        """Full (N, C) probabilities of ``model`` (memory-mapped float16) or None."""
        return None if self.store is None else self.store.read_probs(model)


@dataclass(frozen=True)
class ModelRecord:
    """One model as stored: ``topk_ids (N, k)``, ``topk_probs (N, k)`` or None, metadata."""

    name: str
    topk_ids: np.ndarray
    topk_probs: np.ndarray | None
    metadata: dict[str, Any]


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")


def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_table(table: pa.Table, path: Path) -> None:
    _atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def _write_npy(array: np.ndarray, path: Path) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, array)

    _atomic_write(path, write)


def _write_json(obj: dict, path: Path) -> None:
    _atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, default=str)))


def _fixed_list(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    n, k = values.shape
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), type=typ), k)


def _read_fixed_list(column: pa.ChunkedArray, n: int, dtype) -> np.ndarray | None:
    arr = column.combine_chunks()
    if arr.null_count == len(arr):
        return None
    k = arr.type.list_size
    return arr.values.to_numpy(zero_copy_only=False).astype(dtype, copy=False).reshape(n, k)


class Store:
    """A misclass store folder. Open an existing one with ``Store(path)``; make one with
    :meth:`Store.create`.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    # ------------------------------------------------------------------ layout
    @property
    def samples_path(self) -> Path:
        return self.path / "samples.parquet"

    @property
    def classes_path(self) -> Path:
        return self.path / "classes.parquet"

    @property
    def images_path(self) -> Path:
        return self.path / "images.npy"

    @property
    def info_path(self) -> Path:
        return self.path / "store.json"

    def info(self) -> dict[str, Any]:
        """What the store was made from (``store.json``), or {}."""
        return json.loads(self.info_path.read_text()) if self.info_path.exists() else {}

    @property
    def models_dir(self) -> Path:
        return self.path / "models"

    def model_path(self, name: str, suffix: str = ".parquet") -> Path:
        return self.models_dir / f"{check_model_name(name)}{suffix}"

    def exists(self) -> bool:
        """True when the folder holds a store (its ``samples.parquet``)."""
        return self.samples_path.exists()

    def _require(self) -> None:
        if not self.exists():
            raise StoreError(
                f"{self.path}: no misclass store here (no samples.parquet); create one with "
                "'misclass demo' or 'misclass import ...'"
            )

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

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
    ) -> Store:
        """Create a store from a samples table and a classes table.

        ``samples`` needs ``sample_id`` (unique) and ``label`` (int, -1 unknown);
        ``classes`` needs ``name`` and optionally ``index`` (0..C-1) and ``id``.
        ``info`` (e.g. the dataset spec) is kept in ``store.json``. ``overwrite`` replaces an
        existing store at ``path`` (its models are removed).
        """
        store = cls(path)
        if store.exists() and not overwrite:
            raise StoreError(f"{store.path}: a store already exists here")
        samples = _normalise_samples(samples, "samples")
        classes = _normalise_classes(classes)
        check_class_ids(samples["label"].to_numpy(), len(classes), "samples", "label")
        if images is not None and len(images) != len(samples):
            raise InputError(f"images: {len(images)} images for {len(samples)} samples")
        if store.exists() and overwrite:
            shutil.rmtree(store.models_dir, ignore_errors=True)
            if store.images_path.exists():
                store.images_path.unlink()
        store.path.mkdir(parents=True, exist_ok=True)
        store.models_dir.mkdir(exist_ok=True)
        _write_table(pa.Table.from_pandas(classes, preserve_index=False), store.classes_path)
        _write_json(dict(info or {}, created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")),
                    store.info_path)
        if images is not None:
            _write_npy(np.ascontiguousarray(images), store.images_path)
        # samples last: its presence marks a complete store
        _write_table(pa.Table.from_pandas(samples, preserve_index=False), store.samples_path)
        return store

    # ------------------------------------------------------------------ samples / classes
    def samples(self) -> pd.DataFrame:
        """The samples table, in store order."""
        self._require()
        return pq.read_table(self.samples_path).to_pandas()

    def sample_ids(self) -> np.ndarray:
        self._require()
        col = pq.read_table(self.samples_path, columns=["sample_id"]).column(0)
        return np.asarray(col.to_pylist(), dtype=object)

    def labels(self) -> np.ndarray:
        self._require()
        col = pq.read_table(self.samples_path, columns=["label"]).column(0)
        return col.to_numpy().astype(np.int64)

    def classes(self) -> pd.DataFrame:
        self._require()
        return pq.read_table(self.classes_path).to_pandas()

    def class_names(self) -> list[str]:
        return [str(x) for x in self.classes()["name"]]

    @property
    def n_samples(self) -> int:
        self._require()
        return pq.ParquetFile(self.samples_path).metadata.num_rows

    @property
    def n_classes(self) -> int:
        self._require()
        return pq.ParquetFile(self.classes_path).metadata.num_rows

    def images(self) -> np.ndarray | None:
        """Images stored as an array (N, H, W[, 3]) uint8, memory-mapped, or None."""
        return np.load(self.images_path, mmap_mode="r") if self.images_path.exists() else None

    def update_labels(self, labels: np.ndarray, source: str) -> int:
        """Fill unknown (-1) labels from ``labels`` (store order); return how many were set.

        A known label that ``labels`` contradicts is an error naming the first such sample.
        """
        self._require()
        samples = self.samples()
        old = samples["label"].to_numpy().astype(np.int64)
        new = np.asarray(labels, dtype=np.int64)
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
            _write_table(pa.Table.from_pandas(samples, preserve_index=False), self.samples_path)
        return int(fill.sum())

    # ------------------------------------------------------------------ models
    def model_names(self) -> list[str]:
        """Names of the stored models, sorted."""
        self._require()
        return sorted(p.name[: -len(".parquet")] for p in self.models_dir.glob("*.parquet")
                      if not p.name.startswith(".") and not p.name.endswith(".per_image.parquet"))

    def has_model(self, name: str) -> bool:
        return self.model_path(name).exists()

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
    ) -> None:
        """Write one model's predictions, rows in store order.

        Parameters
        ----------
        topk_ids : (N, k) int
            Ranked class ids, best first (-1 for "no prediction").
        topk_probs : (N, k) float, optional
            Their probabilities, descending.
        probs, logits, features : (N, C) / (N, C) / (N, D) float, optional
            Full probabilities, logits and penultimate features, stored as float16 ``.npy``.
        per_image : DataFrame with N rows, optional
            Extra per-image columns (e.g. MC-dropout ``mc_entropy``, ``mc_mutual_info``,
            ``mc_variance``), stored as ``<name>.per_image.parquet``.
        replace : bool
            Overwrite a model of the same name; otherwise that is an error.
        """
        self._require()
        check_model_name(name)
        src = source or f"model {name!r}"
        if self.has_model(name) and not replace:
            raise StoreError(
                f"model {name!r} is already in the store {self.path}; pass --replace "
                "(replace=True) to overwrite it"
            )
        n = self.n_samples
        ids, tprobs = check_topk(topk_ids, topk_probs, n, src)
        check_class_ids(ids, self.n_classes, src, "topk_ids")
        if probs is not None and probs.shape != (n, self.n_classes):
            raise InputError(f"{src}: probs has shape {probs.shape}; expected {(n, self.n_classes)}")
        if features is not None and (features.ndim != 2 or len(features) != n):
            raise InputError(f"{src}: features has shape {features.shape}; expected ({n}, D)")
        if logits is not None and logits.shape != (n, self.n_classes):
            raise InputError(f"{src}: logits has shape {logits.shape}; expected {(n, self.n_classes)}")
        if per_image is not None and len(per_image) != n:
            raise InputError(f"{src}: per-image table has {len(per_image)} rows; expected {n}")
        labels = self.labels()
        known = labels >= 0
        meta = dict(metadata or {})
        meta.update(
            name=name,
            n=n,
            k=int(ids.shape[1]),
            has_topk_probs=tprobs is not None,
            has_probs=probs is not None,
            has_features=features is not None,
            has_logits=logits is not None,
            per_image_columns=[] if per_image is None else [str(c) for c in per_image.columns],
            top1=float((ids[:, 0] == labels)[known].mean()) if known.any() else None,
            created=meta.get("created") or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
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
        # side files first, the parquet that marks the model as present last
        for suffix, arr in ((".probs.npy", probs), (".features.npy", features), (".logits.npy", logits)):
            path = self.model_path(name, suffix)
            if arr is not None:
                _write_npy(np.asarray(arr, dtype=np.float16), path)
            elif path.exists():
                path.unlink()
        extra_path = self.model_path(name, ".per_image.parquet")
        if per_image is not None:
            _write_table(pa.Table.from_pandas(per_image.reset_index(drop=True), preserve_index=False),
                         extra_path)
        elif extra_path.exists():
            extra_path.unlink()
        _write_json(meta, self.model_path(name, ".json"))
        _write_table(table, self.model_path(name))

    def delete_model(self, name: str) -> None:
        for suffix in MODEL_SUFFIXES:
            path = self.model_path(name, suffix)
            if path.exists():
                path.unlink()

    def _require_model(self, name: str) -> None:
        if not self.has_model(name):
            have = ", ".join(self.model_names()) or "none"
            raise StoreError(f"model {name!r} is not in the store {self.path} (models: {have})")

    def model_metadata(self, name: str) -> dict[str, Any]:
        self._require_model(name)
        path = self.model_path(name, ".json")
        return json.loads(path.read_text()) if path.exists() else {"name": name}

    def read_model(self, name: str) -> ModelRecord:
        """One model's top-k ids and probabilities, rows in store order."""
        self._require_model(name)
        table = pq.read_table(self.model_path(name), columns=["topk_ids", "topk_probs"])
        n = table.num_rows
        ids = _read_fixed_list(table.column("topk_ids"), n, np.int32)
        probs = _read_fixed_list(table.column("topk_probs"), n, np.float32)
        return ModelRecord(name, ids, probs, self.model_metadata(name))

    def read_probs(self, name: str) -> np.ndarray | None:
        self._require_model(name)
        path = self.model_path(name, ".probs.npy")
        return np.load(path, mmap_mode="r") if path.exists() else None

    def read_logits(self, name: str) -> np.ndarray | None:
        self._require_model(name)
        path = self.model_path(name, ".logits.npy")
        return np.load(path, mmap_mode="r") if path.exists() else None

    def read_per_image(self, name: str) -> pd.DataFrame | None:
        """The model's extra per-image columns (store order), or None."""
        self._require_model(name)
        path = self.model_path(name, ".per_image.parquet")
        return pq.read_table(path).to_pandas() if path.exists() else None

    def read_features(self, name: str) -> np.ndarray | None:
        self._require_model(name)
        path = self.model_path(name, ".features.npy")
        return np.load(path, mmap_mode="r") if path.exists() else None

    def load(self, models: Sequence[str] | None = None) -> Predictions:
        """Load models (default: all) as arrays; see :class:`Predictions`."""
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
            table = pq.read_table(self.model_path(name), columns=["topk_ids", "topk_probs"])
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

        Every new file is written to a temporary name before any is renamed into place.
        """
        self._require()
        keep = np.asarray(keep, dtype=bool)
        samples = self.samples()[keep].reset_index(drop=True)
        staged: list[tuple[Path, Path]] = []
        try:
            for name in self.model_names():
                path = self.model_path(name)
                table = pq.read_table(path).filter(pa.array(keep))
                tmp = _tmp(path)
                pq.write_table(table, tmp, compression="zstd")
                staged.append((tmp, path))
                extra = self.model_path(name, ".per_image.parquet")
                if extra.exists():
                    tmp = _tmp(extra)
                    pq.write_table(pq.read_table(extra).filter(pa.array(keep)), tmp)
                    staged.append((tmp, extra))
                for suffix in (".probs.npy", ".features.npy", ".logits.npy"):
                    side = self.model_path(name, suffix)
                    if side.exists():
                        tmp = _tmp(side)
                        with open(tmp, "wb") as fh:
                            np.save(fh, np.load(side, mmap_mode="r")[keep])
                        staged.append((tmp, side))
            images = self.images()
            if images is not None:
                tmp = _tmp(self.images_path)
                with open(tmp, "wb") as fh:
                    np.save(fh, images[keep])
                staged.append((tmp, self.images_path))
            tmp = _tmp(self.samples_path)
            pq.write_table(pa.Table.from_pandas(samples, preserve_index=False), tmp)
            staged.append((tmp, self.samples_path))
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        for tmp, path in staged:
            os.replace(tmp, path)


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


