"""ImageNet-1k class metadata and validation labels, from the ``imagenet-x`` package."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

from misclass.extras import require


def _annotation(name: str, feature: str):
    require("imagenet_x", "imagenet", feature=feature)
    return resources.files("imagenet_x") / "annotations" / name


@lru_cache(maxsize=1)
def imagenet_classes() -> pd.DataFrame:
    """The 1000 classes in standard (sorted WordNet id) order: ``id`` (wnid), ``name``."""
    path = _annotation("imagenet_labels.txt", "ImageNet class names")
    rows = [line.split(",", 1) for line in path.read_text().splitlines() if line.strip()]
    return pd.DataFrame(rows, columns=["id", "name"])


def imagenet_classes_or_none() -> pd.DataFrame | None:
    """:func:`imagenet_classes`, or None when ``imagenet-x`` is not installed."""
    try:
        return imagenet_classes()
    except ImportError:
        return None


@lru_cache(maxsize=1)
def imagenet_val_labels() -> pd.DataFrame:
    """``file_name``, ``label`` of the 50,000 ILSVRC2012 validation images."""
    path = _annotation("filename_label.csv", "--labels imagenet-val")
    with path.open() as fh:
        return pd.read_csv(fh, dtype={"file_name": str, "label": "int64"})
