"""ImageNet annotations beyond the labels: ReaL multi-labels, metaclasses, ImageNet-X factors,
and the objects / organisms / dogs split.

ReaL, metaclasses and ImageNet-X factors are read at run time from the installed ``imagenet-x``
package (``pip install 'misclass[imagenet]'``; its annotations are CC BY-NC 4.0 and are not
copied into misclass). The objects / organisms / dogs table is derived from WordNet 3.0 by
``scripts/make_imagenet_groups.py`` and shipped with misclass, so it needs nothing installed.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from misclass.data.imagenet import _annotation
from misclass.errors import InputError
from misclass.types import ClassGroups, LabelSets

#: The 16 ImageNet-X factors of variation, in the order the ImageNet-X paper plots them.
IMAGENET_X_FACTORS = (
    "pose", "background", "pattern", "color", "smaller", "shape", "partial_view", "subcategory",
    "texture", "larger", "darker", "object_blocking", "person_blocking", "style", "brighter",
    "multiple_objects",
)
N_VAL = 50_000
_VAL_ID = re.compile(r"(?:^|[/\\])ILSVRC2012_val_(\d{8})(?:\.jpe?g)?$", re.IGNORECASE)


# --------------------------------------------------------------------------- shipped table
@lru_cache(maxsize=1)
def imagenet_group_table() -> pd.DataFrame:
    """The shipped 1000-row table: ``index``, ``wnid``, ``group`` (object / organism), ``is_dog``."""
    path = resources.files("misclass.data") / "resources" / "imagenet_groups.csv"
    with path.open() as fh:
        return pd.read_csv(fh, dtype={"index": "int64", "wnid": str, "group": str, "is_dog": "int64"})


def is_imagenet_classes(class_ids) -> bool:
    """True when ``class_ids`` are the 1000 ImageNet-1k WordNet ids in standard order."""
    ids = [str(x) for x in class_ids]
    return ids == imagenet_group_table()["wnid"].tolist()


def imagenet_groups() -> ClassGroups:
    """``objects`` (590 classes), ``organisms`` (410) and ``dogs`` (118, also organisms)."""
    t = imagenet_group_table()
    idx = t["index"].to_numpy()
    members = np.stack([t["group"].to_numpy() == "object", t["group"].to_numpy() == "organism",
                        t["is_dog"].to_numpy() == 1])
    assert members.shape == (3, 1000) and np.array_equal(idx, np.arange(1000))
    return ClassGroups(("objects", "organisms", "dogs"), members, "imagenet (WordNet 3.0)")


# --------------------------------------------------------------------------- imagenet-x
@lru_cache(maxsize=1)
def imagenet_metaclass_table() -> pd.DataFrame:
    """1000 rows in class order: ``index``, ``metaclass`` (0..99), ``metaclass_wnid``, ``metaclass_name``."""
    path = _annotation("imagenet_1k_classes_to_100_metaclasses.csv", "ImageNet metaclasses")
    with path.open() as fh:
        raw = pd.read_csv(fh, dtype={"wnid": str, "name": str, "metaclass": "int64"})
    if len(raw) != 1000:
        raise InputError(f"imagenet-x metaclass table has {len(raw)} rows; expected 1000")
    return pd.DataFrame({"index": np.arange(1000), "metaclass": raw["metaclass"],
                         "metaclass_wnid": raw["wnid"], "metaclass_name": raw["name"]})


def imagenet_metaclasses() -> ClassGroups:
    """The 100 metaclasses of ``imagenet-x`` as class groups, named by metaclass name."""
    t = imagenet_metaclass_table()
    first = t.drop_duplicates("metaclass").sort_values("metaclass")
    names = first["metaclass_name"].tolist()
    if len(set(names)) != len(names):  # keep names unique should two metaclasses share one
        names = [f"{n}-{i}" for n, i in zip(names, first["metaclass"], strict=True)]
    by_id = dict(zip(first["metaclass"], names, strict=True))
    return ClassGroups.from_assignments(t["index"], t["metaclass"].map(by_id), 1000,
                                        source="imagenet-x metaclasses", order=names)


@lru_cache(maxsize=1)
def imagenet_real_labels() -> tuple[tuple[int, ...], ...]:
    """ImageNet-ReaL label lists of the 50,000 validation images, ``ILSVRC2012_val_00000001`` first.

    An empty list means the image has no valid label.
    """
    path = _annotation("imagenet_real_labels.jsonl", "--labels real (ImageNet-ReaL)")
    with path.open() as fh:
        lists = json.load(fh)
    if len(lists) != N_VAL:
        raise InputError(f"{path}: {len(lists)} ReaL label lists; expected {N_VAL}")
    return tuple(tuple(int(c) for c in s) for s in lists)


def val_numbers(sample_ids) -> np.ndarray:
    """``ILSVRC2012_val_%08d.JPEG`` (also as a path's last part) -> that number; others -> 0."""
    out = np.zeros(len(sample_ids), dtype=np.int64)
    for i, sid in enumerate(sample_ids):
        m = _VAL_ID.search(str(sid))
        if m:
            out[i] = int(m.group(1))
    return out


def _require_val_store(sample_ids, class_ids, what: str) -> np.ndarray:
    if not is_imagenet_classes(class_ids):
        raise InputError(f"{what} needs an ImageNet-1k store: its classes must be the 1000 WordNet ids "
                         "in standard order (import with --labels imagenet-val or --classes imagenet)")
    num = val_numbers(sample_ids)
    if not ((num >= 1) & (num <= N_VAL)).any():
        example = str(sample_ids[0]) if len(sample_ids) else "none"
        raise InputError(f"{what} needs ImageNet validation images: no sample id of the store looks like "
                         f"ILSVRC2012_val_00000001.JPEG (first id: {example!r})")
    return num


_REAL_SETS: list = []  # [(the lists of imagenet_real_labels(), their LabelSets)]: built once per read


def _all_real_sets() -> LabelSets:
    """The ReaL label sets of the 50,000 validation images in order (read through
    :func:`imagenet_real_labels`, so clearing its cache reads the file again)."""
    real = imagenet_real_labels()
    if not _REAL_SETS or _REAL_SETS[0][0] is not real:
        _REAL_SETS[:] = [(real, LabelSets.from_lists(real))]
    return _REAL_SETS[0][1]


def real_label_sets(sample_ids, class_ids) -> LabelSets:
    """ReaL label sets for the store's images (images that are not validation images: no set).

    The rows of the validation images' sets (built once), gathered in the store's order."""
    num = _require_val_store(sample_ids, class_ids, "--labels real")
    every = _all_real_sets()
    val = (num >= 1) & (num <= N_VAL)
    row = np.where(val, num - 1, 0)
    sizes = np.where(val, every.sizes[row], 0).astype(np.int64)
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    # the k-th id of image i is every.indices[every.indptr[row[i]] + k]
    offset = np.repeat(every.indptr[row] - indptr[:-1], sizes)
    indices = every.indices[offset + np.arange(int(indptr[-1]), dtype=np.int64)]
    return LabelSets(indptr, indices, val, np.zeros(len(num), dtype=bool), "ImageNet-ReaL (imagenet-x)")


def _read_jsonl(path) -> pd.DataFrame:
    """A JSON-lines file as a frame: pyarrow's reader (six times faster than pandas' on the
    ImageNet-X files, the same frame), or pandas' where pyarrow cannot type a column."""
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        return pj.read_json(path).to_pandas()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # e.g. a column of mixed types
        with path.open() as fh:
            return pd.read_json(fh, lines=True, dtype=False)


@lru_cache(maxsize=2)
def imagenet_x_annotations(which: str = "top", filter_prototypes: bool = True) -> pd.DataFrame:
    """ImageNet-X validation annotations: ``file_name``, ``class`` and the 16 factor columns (bool).

    ``which``: "top" (the one factor annotators marked as most salient) or "multi" (every factor
    marked). ``filter_prototypes`` drops the prototypical images annotators compared against,
    as ``imagenet_x.load_annotations`` does by default.
    """
    if which not in ("top", "multi"):
        raise InputError(f"ImageNet-X factor set {which!r}: expected 'top' or 'multi'")
    path = _annotation(f"imagenet_x_val_{which}_factor.jsonl", "misclass factors (ImageNet-X)")
    df = _read_jsonl(path)
    missing = [c for c in ("file_name", "class", *IMAGENET_X_FACTORS) if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing columns {missing}")
    df = df[["file_name", "class", *IMAGENET_X_FACTORS]].copy()
    df[list(IMAGENET_X_FACTORS)] = df[list(IMAGENET_X_FACTORS)].astype(bool)
    if filter_prototypes:
        with _annotation("prototypical_paths.csv", "misclass factors (ImageNet-X)").open() as fh:
            protos = set(pd.read_csv(fh)["file_name"].astype(str))
        df = df[~df["file_name"].isin(protos)]
    return df.reset_index(drop=True)


def imagenet_x_factors(sample_ids, class_ids, *, which: str = "top", filter_prototypes: bool = True
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Factor annotations aligned to the store: ``annotated (N,)`` bool and ``factors (N, 16)`` bool."""
    num = _require_val_store(sample_ids, class_ids, "misclass factors")
    ann = imagenet_x_annotations(which, filter_prototypes)
    ann_num = val_numbers(ann["file_name"].tolist())
    lookup = np.full(N_VAL + 1, -1, dtype=np.int64)
    lookup[ann_num] = np.arange(len(ann))
    row = lookup[np.clip(num, 0, N_VAL)]
    annotated = (num > 0) & (row >= 0)
    factors = np.zeros((len(num), len(IMAGENET_X_FACTORS)), dtype=bool)
    factors[annotated] = ann[list(IMAGENET_X_FACTORS)].to_numpy()[row[annotated]]
    return annotated, factors
