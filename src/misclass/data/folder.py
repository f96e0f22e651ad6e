"""Image folders: class sub-folders (ImageNet's layout) or a flat folder with a CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from misclass.data.dataset import Dataset
from misclass.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"}
SPLIT_NAMES = {"train": "train", "val": "test", "validation": "test", "test": "test"}


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _class_folder_samples(root: Path, folder: Path, split: str, classes: list[str]) -> pd.DataFrame:
    rows = []
    for index, cls in enumerate(classes):
        for img in _images_in(folder / cls):
            rows.append((img.relative_to(root).as_posix(), index, split))
    return pd.DataFrame(rows, columns=["sample_id", "label", "split"])


def _class_names(wnids: list[str]) -> pd.DataFrame:
    """Class table for folder names; ImageNet names when the folders are WordNet ids."""
    from misclass.data.imagenet import imagenet_classes_or_none

    imagenet = imagenet_classes_or_none()
    if imagenet is not None and set(wnids) <= set(imagenet["id"]):
        names = dict(zip(imagenet["id"], imagenet["name"], strict=True))
        return pd.DataFrame({"id": wnids, "name": [names[w] for w in wnids]})
    return pd.DataFrame({"id": wnids, "name": wnids})


def load_folder(path: str | Path, labels_csv: str | Path | None = None) -> Dataset:
    """Load an image folder.

    - ``PATH/<class>/*.jpg``: one sub-folder per class (sorted names give the class order);
    - ``PATH/{train,val|test}/<class>/*.jpg``: the same, with splits;
    - a flat ``PATH`` with a ``file_name,label`` CSV (``labels_csv`` or ``PATH/labels.csv``);
      labels are class ids (integers) or class names. Rows keep the CSV's order, so a CSV
      can give files in class folders an order of their own (``cifar10-jpeg``'s
      ``test_index.csv``: the original CIFAR-10 test order); with class ids, such class
      folders (one per id) name the classes.

    Sample ids are paths relative to ``PATH``; split is ``"test"`` unless the layout says.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder")
    csv = Path(labels_csv) if labels_csv else root / "labels.csv"
    subdirs = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if labels_csv is None and subdirs:
        split_dirs = [d for d in subdirs if d in SPLIT_NAMES]
        if split_dirs and len(split_dirs) == len(subdirs):
            classes = sorted({c.name for d in split_dirs for c in (root / d).iterdir() if c.is_dir()})
            samples = pd.concat(
                [_class_folder_samples(root, root / d, SPLIT_NAMES[d], classes) for d in split_dirs],
                ignore_index=True,
            )
        else:
            classes = subdirs
            samples = _class_folder_samples(root, root, "test", classes)
        if samples.empty:
            raise InputError(f"{root}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in its class folders")
        samples["path"] = samples["sample_id"]
        return Dataset(f"folder:{root}", samples, _class_names(classes), root=root)
    if not csv.exists():
        raise InputError(
            f"{root}: no class sub-folders and no labels CSV ({csv}); expected PATH/<class>/image "
            "or a flat folder with a file_name,label CSV"
        )
    return _flat_folder(root, csv)


def _names_of_class_folders(files: pd.Series, labels: np.ndarray, n_classes: int) -> list[str] | None:
    """The files' folder names as class names when they are class folders: every id
    0..n_classes-1 lies in one folder and every folder holds one id; else None.

    >>> _names_of_class_folders(pd.Series(["t/cat/1.jpg", "t/dog/2.jpg", "t/cat/3.jpg"]),
    ...                         np.array([0, 1, 0]), 2)
    ['cat', 'dog']
    """
    pairs = pd.DataFrame({"folder": [Path(f).parent.name for f in files], "label": labels}).drop_duplicates()
    if (len(pairs) != n_classes or pairs["folder"].nunique() != n_classes
            or pairs["label"].nunique() != n_classes or (pairs["folder"] == "").any()):
        return None
    return pairs.sort_values("label")["folder"].tolist()


def _flat_folder(root: Path, csv: Path) -> Dataset:
    try:
        table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise InputError(f"{csv}: not a readable CSV ({exc})") from exc
    missing_cols = {"file_name", "label"} - set(table.columns)
    if missing_cols:
        raise InputError(f"{csv}: missing column(s) {sorted(missing_cols)}; expected file_name,label")
    if table.empty:
        raise InputError(f"{csv}: no rows")
    absent = [f for f in table["file_name"] if not (root / f).is_file()]
    if absent:
        raise InputError(f"{csv}: {len(absent)} listed files are not in {root} (first: {absent[0]!r})")
    numeric = pd.to_numeric(table["label"], errors="coerce")
    if numeric.notna().all():
        labels = numeric.astype(np.int64).to_numpy()
        if (labels < 0).any():
            row = int(np.argmax(labels < 0))
            raise InputError(f"{csv}: row {row + 2}, label: expected a class id >= 0")
        n_classes = int(labels.max()) + 1
        names = _names_of_class_folders(table["file_name"], labels, n_classes) or \
            [str(i) for i in range(n_classes)]
    else:
        names = sorted(set(table["label"]))
        index = {n: i for i, n in enumerate(names)}
        labels = table["label"].map(index).to_numpy(dtype=np.int64)
    samples = pd.DataFrame({
        "sample_id": table["file_name"].astype(str),
        "label": labels,
        "split": "test",
        "path": table["file_name"].astype(str),
    })
    return Dataset(f"folder:{root}", samples, pd.DataFrame({"id": names, "name": names}), root=root)
