"""The store folder: its layout, its files, how writes commit, and the :class:`Store` API."""

from misclass.store.core import (
    DEFAULT_STORE,
    ModelRecord,
    Predictions,
    Store,
    numbered_classes,
    open_store,
)
from misclass.store.layout import MODEL_SUFFIXES, Layout

__all__ = ["DEFAULT_STORE", "MODEL_SUFFIXES", "Layout", "ModelRecord", "Predictions", "Store",
           "numbered_classes", "open_store"]
