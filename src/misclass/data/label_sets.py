"""Read label sets and class groups from users' files, or name a built-in source.

Label sets (``--labels``): ``real`` (ImageNet-ReaL from ``imagenet-x``), ``review`` (the store's
review decisions, see :mod:`misclass.review`) or a file mapping
sample ids to lists of correct classes, with an optional ``problematic`` flag:

- JSONL, one object a line: ``{"sample_id": "img1.png", "labels": [3, 5], "problematic": false}``;
- CSV with a header: ``sample_id,labels[,problematic]``, labels separated by spaces, ``;`` or
  ``|`` (or a JSON list), e.g. ``img1.png,3 5,0``. An empty labels field is an empty set (no
  valid label).

- ``counts:FILE.npy``: people's votes, an (N, C) count matrix in the store's sample order (as
  ``misclass import votes`` reads it). A class enters an image's set when its share of the
  image's votes is at least the minimum share, 0.5 unless ``counts:FILE.npy,min-share=X``
  (or ``min_share``) says otherwise: by default the class most people chose, and only when a
  majority (half or more) chose it, so a set has at most two classes and an image without
  such a class has an empty set (no valid label: excluded and counted). An image without
  votes has no set. ``min-share=0.1`` keeps every class a tenth of the people chose (on
  CIFAR-10H 896 images then have several classes); a share at most 1/C never leaves a set
  empty.

A class is given by its index (0..C-1), its id (e.g. the WordNet id ``n01440764``) or its name
when that name is unique. Images of the store missing from the file have no set; ids in the
file that are not in the store are ignored (and counted). Problematic is true/false, 1/0, yes/no.

Class groups (``--groups``): ``imagenet`` (objects / organisms / dogs, shipped),
``metaclasses`` (the 100 metaclasses of ``imagenet-x``), or a CSV ``class,group`` (one row per
class and group; a class may be in several groups).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from misclass.data.imagenet_annotations import (
    imagenet_groups,
    imagenet_metaclasses,
    is_imagenet_classes,
    real_label_sets,
)
from misclass.errors import InputError
from misclass.types import ClassGroups, LabelSets

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


class ClassResolver:
    """Turn a class token (index, id or unique name) into an index, with messages naming the source."""

    def __init__(self, classes: pd.DataFrame):
        self.n = len(classes)
        self.by_id = {str(v): i for i, v in enumerate(classes["id"])}
        names: dict[str, list[int]] = {}
        for i, v in enumerate(classes["name"]):
            names.setdefault(str(v), []).append(i)
        self.by_name = names

    def __call__(self, token, where: str) -> int:
        if isinstance(token, bool):
            raise InputError(f"{where}: {token!r} is not a class")
        if isinstance(token, int | np.integer):
            if 0 <= int(token) < self.n:
                return int(token)
            raise InputError(f"{where}: class id {token} is out of range; expected 0..{self.n - 1}")
        tok = str(token).strip()
        if re.fullmatch(r"\d+", tok):
            if int(tok) < self.n:
                return int(tok)
            raise InputError(f"{where}: class id {tok} is out of range; expected 0..{self.n - 1}")
        if tok in self.by_id:
            return self.by_id[tok]
        hits = self.by_name.get(tok, [])
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise InputError(f"{where}: class name {tok!r} is shared by classes {hits}; give the index")
        raise InputError(f"{where}: {tok!r} is neither a class index 0..{self.n - 1}, a class id nor a "
                         "class name of the store")


def _flag(value, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    s = str(value).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise InputError(f"{where}, problematic: {value!r} is not true/false, 1/0 or yes/no")


def _split_labels(text: str, where: str) -> list[str]:
    text = text.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}, labels: {text!r} is not a JSON list ({exc.msg})") from None
        return [str(v) for v in value]
    return [t for t in re.split(r"[\s;|]+", text) if t]


def _records(path: Path):
    """Yield (where, sample_id, labels list, problematic) from a JSONL or CSV file; ``where`` names
    the file and line (JSONL) or row (CSV) for messages.
    """
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with path.open() as fh:
            for row, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                where = f"{path}: line {row}"
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{where}: not JSON ({exc.msg})") from None
                if not isinstance(obj, dict) or "sample_id" not in obj or "labels" not in obj:
                    raise InputError(f"{where}: expected an object with 'sample_id' and 'labels'")
                labels = obj["labels"]
                if labels is None:
                    labels = []
                if not isinstance(labels, list):
                    raise InputError(f"{where}, labels: expected a list of classes, got {labels!r}")
                yield where, str(obj["sample_id"]), labels, _flag(obj.get("problematic"), where)
        return
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        if "sample_id" not in cols or "labels" not in cols:
            raise InputError(f"{path}: expected a CSV header with sample_id,labels[,problematic]; got {cols}")
        for row, rec in enumerate(reader, 2):
            where = f"{path}: row {row}"
            yield (where, str(rec["sample_id"]), _split_labels(rec["labels"] or "", where),
                   _flag(rec.get("problematic"), where))


def read_label_sets(path: str | Path, sample_ids: Sequence[str], classes: pd.DataFrame) -> LabelSets:
    """Label sets for the store's images from a JSONL or CSV file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--labels {path}: no such file (expected 'real' or a JSONL/CSV file)")
    resolve = ClassResolver(classes)
    pos = {str(s): i for i, s in enumerate(sample_ids)}
    sets: list[list[int] | None] = [None] * len(pos)
    problematic = np.zeros(len(pos), dtype=bool)
    unmatched = 0
    seen: dict[str, str] = {}
    for where, sid, labels, flag in _records(path):
        if sid in seen:
            raise InputError(f"{where}: sample id {sid!r} already given at {seen[sid]}")
        seen[sid] = where.rsplit(": ", 1)[-1]
        ids = [resolve(t, f"{where}, labels") for t in labels]
        i = pos.get(sid)
        if i is None:
            unmatched += 1
            continue
        sets[i] = ids
        problematic[i] = flag
    if not seen:
        raise InputError(f"{path}: no label sets in the file")
    if unmatched == len(seen):
        raise InputError(f"{path}: none of its {len(seen)} sample ids is in the store "
                         f"(first: {next(iter(seen))!r}, store's first: {next(iter(pos), None)!r})")
    return LabelSets.from_lists(sets, problematic=problematic, source=str(path), n_unmatched=unmatched)


#: A class enters an image's label set from vote counts when its share is at least this.
DEFAULT_MIN_SHARE = 0.5


def _counts_spec(spec: str, min_share: float | None) -> tuple[Path, float]:
    """``counts:FILE.npy[,min-share=X]`` -> (file, minimum share); ``min_share`` wins."""
    body = spec[len("counts:"):]
    share = None
    m = re.fullmatch(r"(.*),min-share=([^,]*)", body)
    if m:
        body = m.group(1)
        try:
            share = float(m.group(2))
        except ValueError:
            raise InputError(f"--labels {spec}: min-share {m.group(2)!r} is not a number") from None
    share = min_share if min_share is not None else (share if share is not None else DEFAULT_MIN_SHARE)
    if not 0 < share <= 1:
        raise InputError(f"--labels {spec}: min-share {share} is outside (0, 1]: a class enters a "
                         "set when its share of the votes is at least min-share")
    if not body:
        raise InputError(f"--labels {spec}: expected counts:FILE.npy[,min-share=X]")
    return Path(body), share


def count_label_sets(path: str | Path, n_samples: int, n_classes: int,
                     min_share: float = DEFAULT_MIN_SHARE) -> LabelSets:
    """Label sets from an (N, C) vote-count ``.npy`` file in store sample order: the classes
    whose share of an image's votes is at least ``min_share`` (see the module docstring)."""
    from misclass.data.votes import read_vote_counts

    path = Path(path)
    counts = read_vote_counts(path)
    if counts.shape != (n_samples, n_classes):
        raise InputError(f"--labels counts:{path}: a {counts.shape[0]:,} x {counts.shape[1]} count "
                         f"matrix for a store of {n_samples:,} samples and {n_classes} classes; "
                         "expected one row per store sample, in store order, and one column a class")
    total = counts.sum(axis=1)
    member = (counts >= min_share * total[:, None] - 1e-9 * total[:, None]) & (counts > 0)
    _, cols = np.nonzero(member)
    indptr = np.concatenate([[0], np.cumsum(member.sum(axis=1))]).astype(np.int64)
    return LabelSets(indptr, cols.astype(np.int64), total > 0, np.zeros(n_samples, dtype=bool),
                     source=f"counts:{path} (min share {min_share:g})")


def load_label_sets(spec: str, sample_ids: Sequence[str], classes: pd.DataFrame, *,
                    min_share: float | None = None) -> LabelSets:
    """Label sets from files and datasets: ``real`` (ImageNet-ReaL; needs
    ``misclass[imagenet]``), ``counts:FILE.npy[,min-share=X]`` (people's vote counts in store
    order; ``min_share`` overrides the spec's, default :data:`DEFAULT_MIN_SHARE`) or a
    JSONL/CSV file path. Review decisions (``review``) live above this layer: see
    :func:`misclass.workflows.label_sources.load_label_sets`."""
    if spec.startswith("counts:"):
        path, share = _counts_spec(spec, min_share)
        return count_label_sets(path, len(sample_ids), len(classes), share)
    if spec == "real":
        return real_label_sets(list(sample_ids), classes["id"].tolist())
    if spec == "review" or spec.startswith("review:"):
        raise InputError(f"--labels {spec}: review decisions are read through the store "
                         "(misclass.workflows.label_sources.load_label_sets)")
    return read_label_sets(spec, sample_ids, classes)


def read_class_groups(path: str | Path, classes: pd.DataFrame) -> ClassGroups:
    """Class groups from a CSV with a ``class,group`` header (class: index, id or unique name)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--groups {path}: no such file "
                         "(expected imagenet, metaclasses or a class,group CSV)")
    resolve = ClassResolver(classes)
    cls_idx, grp = [], []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "class" not in reader.fieldnames or "group" not in reader.fieldnames:
            raise InputError(f"{path}: expected a CSV header with class,group; got {reader.fieldnames}")
        for row, rec in enumerate(reader, 2):
            group = (rec["group"] or "").strip()
            if not group:
                raise InputError(f"{path}: row {row}, group: empty group name")
            cls_idx.append(resolve(rec["class"] or "", f"{path}: row {row}, class"))
            grp.append(group)
    if not grp:
        raise InputError(f"{path}: no class,group rows")
    return ClassGroups.from_assignments(cls_idx, grp, len(classes), source=str(path))


def load_class_groups(specs: Sequence[str], classes: pd.DataFrame) -> ClassGroups | None:
    """Combine ``imagenet``, ``metaclasses`` and CSV files into one :class:`ClassGroups` (None if none)."""
    out: ClassGroups | None = None
    for spec in specs:
        if spec in ("imagenet", "metaclasses"):
            if not is_imagenet_classes(classes["id"]):
                raise InputError(f"--groups {spec} needs an ImageNet-1k store: its classes must be the 1000 "
                                 "WordNet ids in standard order")
            g = imagenet_groups() if spec == "imagenet" else imagenet_metaclasses()
        else:
            g = read_class_groups(spec, classes)
        out = g if out is None else out + g
    return out
