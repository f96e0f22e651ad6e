"""Bring foreign predictions into a store.

:func:`import_predictions` checks every file of a batch first (sample sets, labels, class
ids, names) and writes nothing unless all of them pass; then it creates or updates the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace as _replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from misclass.errors import InputError, StoreError
from misclass.importers.readers import ForeignPredictions
from misclass.store import Store, numbered_classes
from misclass.validation import (
    check_class_ids,
    check_distinct_topk,
    check_model_name,
    check_probability_matrix,
    check_topk,
    check_unique_ids,
)

Align = Literal["exact", "intersect"]


@dataclass(frozen=True)
class ImportResult:
    """What an import did: models written, whether the store was created, samples kept."""

    models: list[str]
    created: bool
    n_samples: int
    dropped_from_store: int
    dropped_from_files: int
    labels_filled: int
    notes: list[str]


def read_labels_file(path: str | Path) -> pd.DataFrame:
    """A ``file_name,label`` (or ``sample_id,label``) CSV as a two-column frame."""
    from misclass.importers.readers import _int_column, _read_csv_strings

    path = Path(path)
    table = _read_csv_strings(path)
    key = "file_name" if "file_name" in table.columns else "sample_id"
    if key not in table.columns or "label" not in table.columns:
        raise InputError(f"{path}: expected columns file_name,label (found {', '.join(table.columns)})")
    out = pd.DataFrame({
        "sample_id": table[key].astype(str),
        "label": _int_column(table["label"], path, "label", 2),
    })
    check_unique_ids(out["sample_id"].to_numpy(), str(path))
    return out


def resolve_labels(spec: str | None) -> tuple[pd.DataFrame | None, str | None]:
    """``None``, ``"imagenet-val"`` or a CSV path -> (sample_id,label frame, its name)."""
    if spec is None:
        return None, None
    if spec == "imagenet-val":
        from misclass.data.imagenet import imagenet_val_labels

        frame = imagenet_val_labels().rename(columns={"file_name": "sample_id"})
        return frame, "imagenet-val labels (imagenet-x)"
    return read_labels_file(spec), str(spec)


def resolve_classes(spec: str | None) -> pd.DataFrame | None:
    """``None``, ``"imagenet"`` or a CSV with ``name`` (and optional ``id``) -> classes frame."""
    if spec is None:
        return None
    if spec == "imagenet":
        from misclass.data.imagenet import imagenet_classes

        return imagenet_classes().copy()
    from misclass.importers.readers import _read_csv_strings

    path = Path(spec)
    table = _read_csv_strings(path)
    if "name" not in table.columns:
        raise InputError(f"{path}: expected a 'name' column (and optionally 'id')")
    return table


def _describe(ids: np.ndarray) -> str:
    shown = ", ".join(repr(x) for x in ids[:3])
    return f"{len(ids):,} (first: {shown})"


#: A store inferred from ids alone may have at most this many classes.
MAX_INFERRED_CLASSES = 100_000


def _check_inferred_classes(items: Sequence[ForeignPredictions], labels: np.ndarray) -> int:
    """The class count of a new store numbered from the ids seen; refuse one far above them."""
    seen = np.unique(np.concatenate([labels.reshape(-1)] + [np.asarray(it.topk_ids).reshape(-1)
                                                            for it in items]))
    seen = seen[seen >= 0]
    if not len(seen):
        raise InputError("no class id in the files or labels; pass --classes or --num-classes")
    top = int(seen[-1])
    c = top + 1
    if c > MAX_INFERRED_CLASSES or c > 4 * len(seen) + 100:
        where = next(it.source for it in items if (np.asarray(it.topk_ids) == top).any()) \
            if any((np.asarray(it.topk_ids) == top).any() for it in items) else "labels"
        nxt = int(seen[-2]) if len(seen) > 1 else None
        raise InputError(
            f"{where}: class id {top:,} is far above the other ids ({len(seen):,} distinct ids"
            + (f", the next largest {nxt:,}" if nxt is not None else "")
            + f"); a store of {c:,} classes needs --num-classes or --classes"
        )
    return c


def check_items(items: Sequence[ForeignPredictions]) -> None:
    """Check each file on its own: names, ids, top-k shape, probabilities, repeated classes."""
    if not items:
        raise InputError("no prediction files given")
    names = [check_model_name(it.name) for it in items]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"two files would both be imported as model {dup!r}; use --name")
    for it in items:
        n = len(it.topk_ids)
        if it.sample_ids is not None:
            n = len(it.sample_ids)
            check_unique_ids(it.sample_ids, it.source)
        ids, _ = check_topk(it.topk_ids, it.topk_probs, n, it.source)
        check_distinct_topk(ids, it.source)
        if it.probs is not None:
            check_probability_matrix(it.probs, it.source)
        if it.logits is not None and not np.isfinite(it.logits).all():
            row = int(np.flatnonzero(~np.isfinite(it.logits).all(axis=1))[0])
            raise InputError(f"{it.source}: row {row + 1}: NaN or infinite logit")


def import_predictions(
    store_path: str | Path,
    items: Sequence[ForeignPredictions],
    *,
    labels: str | None = None,
    classes: str | None = None,
    num_classes: int | None = None,
    align: Align = "exact",
    replace: bool = False,
    shrink_store: bool = False,
    half: bool = False,
    images: str | Path | None = None,
    lock_timeout: float | None = 600.0,
    on_wait=None,
) -> ImportResult:
    """Validate ``items`` against the store (or each other, for a new store), then write.

    The whole batch is one commit under the store's lock: any failure leaves the store (or
    its absence) exactly as it was.

    Parameters
    ----------
    labels : None, ``"imagenet-val"`` or a ``file_name,label`` CSV
        Where labels come from besides the files' own target columns. Every source must agree.
    classes : None, ``"imagenet"`` or a CSV with ``name`` [``id``]
        Class metadata for a new store; ``--labels imagenet-val`` implies ``imagenet``.
        Without it a new store numbers classes 0..max id seen (or ``num_classes``).
    align : ``"exact"`` or ``"intersect"``
        ``exact``: every file must hold exactly the store's samples. ``intersect``: rows of
        the files that the store lacks are skipped; store images a file lacks are an error
        unless ``shrink_store``, which drops them from the store and every model in it.
    replace : bool
        Overwrite models of the same name.
    half : bool
        Keep full probabilities / logits as float16 instead of float32.
    images : folder, optional
        Where the images are: each sample id of the store after the import is joined to its
        file there (:func:`misclass.store.images.match_image_files`), the relative paths
        go into the samples' ``path`` column and the folder into ``store.json``; an id without
        a file is an error and nothing is written.
    lock_timeout, on_wait
        How long to wait for another writer (seconds), and where the waiting message goes.
    """
    check_items(items)
    names = [it.name for it in items]
    label_frame, label_source = resolve_labels(labels)
    class_spec = resolve_classes(classes or ("imagenet" if labels == "imagenet-val" else None))
    store = Store(store_path, lock_timeout=lock_timeout, on_wait=on_wait)
    with store.transaction(create=True):
        return _import_locked(store, items, names, label_frame, label_source, class_spec,
                              num_classes, align, replace, shrink_store, half, images)


def _in_store_order(store: Store, items: Sequence[ForeignPredictions]) -> list[ForeignPredictions]:
    """Give files in the store's sample order (``sample_ids`` None) the store's ids."""
    out = []
    for it in items:
        if it.sample_ids is None:
            if not store.exists():
                raise InputError(f"{it.source}: --store-order needs an existing store, and there "
                                 f"is none at {store.path}; pass --ids with the sample ids")
            ids = store.sample_ids()
            if len(ids) != len(it.topk_ids):
                raise InputError(f"{it.source}: {len(it.topk_ids):,} rows but the store "
                                 f"{store.path} has {len(ids):,} samples; --store-order needs "
                                 "one row per store sample, in store order (or pass --ids)")
            it = _replace(it, sample_ids=ids)
        out.append(it)
    return out


def _import_locked(store, items, names, label_frame, label_source, class_spec, num_classes,
                   align, replace, shrink_store, half, images=None) -> ImportResult:
    items = _in_store_order(store, items)
    exists = store.exists()
    notes: list[str] = []
    if exists:
        present = [n for n in names if store.has_model(n)]
        if present and not replace:
            raise StoreError(f"model {present[0]!r} is already in the store {store.path}; pass "
                             "--replace to overwrite it, or --name to import it under another name")
        base_ids = store.sample_ids()
        base_labels = store.labels()
        class_table = store.classes()
    else:
        base_ids = np.asarray(items[0].sample_ids, dtype=object)
        base_labels = np.full(len(base_ids), -1, dtype=np.int64)
        class_table = class_spec

    # ---- alignment: which store rows survive, and each file's row for every surviving row
    keep = np.ones(len(base_ids), dtype=bool)
    base_index = pd.Index(base_ids)
    dropped_from_files = 0
    for it in items:
        pos = base_index.get_indexer(pd.Index(it.sample_ids))
        extra = np.asarray(it.sample_ids, dtype=object)[pos < 0]
        present_mask = np.zeros(len(base_ids), dtype=bool)
        present_mask[pos[pos >= 0]] = True
        missing = base_ids[~present_mask]
        if (len(extra) or len(missing)) and align != "intersect":
            what = "the store's" if exists else f"the first file's ({items[0].source})"
            raise InputError(
                f"{it.source}: its sample ids differ from {what}: {_describe(missing)} missing "
                f"from the file and {_describe(extra)} not in the store; pass --align intersect "
                "to keep only the common samples"
            )
        dropped_from_files += len(extra)
        keep &= present_mask
    if not keep.any():
        raise InputError("the files and the store have no sample id in common")
    kept_ids = base_ids[keep]
    kept_index = pd.Index(kept_ids)
    rows = []
    for it in items:
        file_pos = pd.Index(it.sample_ids).get_indexer(kept_index)
        rows.append(file_pos)

    # ---- labels: store, labels file, and every target column must agree
    merged = base_labels[keep].copy()
    merged_from = np.full(len(merged), "", dtype=object)
    merged_from[merged >= 0] = "the store"
    sources: list[tuple[str, np.ndarray]] = []
    if label_frame is not None:
        pos = pd.Index(label_frame["sample_id"]).get_indexer(kept_index)
        if (pos < 0).any():
            raise InputError(f"{label_source}: no label for sample ids: {_describe(kept_ids[pos < 0])}")
        sources.append((label_source, label_frame["label"].to_numpy()[pos]))
    for it, file_pos in zip(items, rows, strict=True):
        if it.labels is not None:
            sources.append((it.source, np.asarray(it.labels, dtype=np.int64)[file_pos]))
    for src, lab in sources:
        clash = (merged >= 0) & (lab >= 0) & (merged != lab)
        if clash.any():
            i = int(np.argmax(clash))
            raise InputError(
                f"{src}: label of sample {kept_ids[i]!r} is {lab[i]} but {merged_from[i]} says "
                f"{merged[i]} ({int(clash.sum())} samples disagree)"
            )
        fill = (merged < 0) & (lab >= 0)
        merged[fill] = lab[fill]
        merged_from[fill] = src

    # ---- classes
    if class_table is None:
        c = num_classes if num_classes is not None else _check_inferred_classes(items, merged)
        class_table = numbered_classes(c)
        if num_classes is None:
            notes.append(f"classes numbered 0..{c - 1} from the largest class id seen; pass "
                         "--classes or --num-classes to set them")
    n_classes = len(class_table)
    check_class_ids(merged, n_classes, "labels", "label")
    for it in items:
        if it.probs is not None and it.probs.shape[1] != n_classes:
            raise InputError(f"{it.source}: {it.probs.shape[1]} classes in the matrix but the store "
                             f"has {n_classes}")
    for it in items:
        check_class_ids(it.topk_ids, n_classes, it.source, "predicted class")
        if it.labels is not None:
            check_class_ids(it.labels, n_classes, it.source, "target")

    image_paths = None
    if images is not None:
        from misclass.store.images import match_image_files

        image_paths = match_image_files(kept_ids, images)

    # ---- all checks passed: stage every write; they commit together
    dropped_from_store = int((~keep).sum()) if exists else 0
    if dropped_from_store and not shrink_store:
        models = store.model_names()
        lacking = next(it.source for it in items
                       if not np.isin(base_ids, np.asarray(it.sample_ids, dtype=object)).all())
        losses = (f"each of its {len(models)} models ({', '.join(models)}) would lose "
                  f"{dropped_from_store:,} of its {len(base_ids):,} images" if models
                  else f"it would lose {dropped_from_store:,} of its {len(base_ids):,} images")
        raise InputError(
            f"{lacking}: lacks {dropped_from_store:,} of the store's images; --align intersect "
            f"keeps the store's images unless told otherwise: {losses}. Pass --shrink-store to "
            "drop them, or import a file that holds every image of the store"
        )
    if exists:
        if dropped_from_store:
            store.restrict(keep)
            notes.append(f"store shrunk to the {len(kept_ids):,} common samples "
                         f"({dropped_from_store:,} dropped from every model)")
        filled = store.update_labels(merged, "labels")
    else:
        filled = int((merged >= 0).sum())
        Store.create(store.path, samples=pd.DataFrame({"sample_id": kept_ids, "label": merged}),
                     classes=class_table, store=store)
    if dropped_from_files:
        notes.append(f"{dropped_from_files:,} rows of the files are not in the store and were skipped")
    for it, file_pos in zip(items, rows, strict=True):
        store.write_model(
            it.name,
            it.topk_ids[file_pos],
            None if it.topk_probs is None else it.topk_probs[file_pos],
            probs=None if it.probs is None else it.probs[file_pos],
            logits=None if it.logits is None else it.logits[file_pos],
            metadata=dict(it.metadata),
            replace=replace,
            source=it.source,
            half=half,
            per_image=None if it.per_image is None else it.per_image.iloc[file_pos],
        )
    if image_paths is not None:
        store.set_image_paths(image_paths, Path(images).resolve())
        notes.append(f"images: {len(image_paths):,} files under {images}")
    return ImportResult(names, not exists, len(kept_ids), dropped_from_store, dropped_from_files,
                        filled, notes)
