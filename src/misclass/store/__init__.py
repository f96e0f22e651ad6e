"""The store folder: its layout, its files, how writes commit, and the :class:`Store` API.

The :class:`Store` API (pandas, pyarrow) loads on first use (PEP 562), so the layout's names
(``misclass.store.layout``) can be imported without them, as the CLI does at start.
"""

from __future__ import annotations

import importlib

from misclass.store.layout import DEFAULT_STORE, MODEL_SUFFIXES, Layout

_CORE_NAMES = ("ModelRecord", "Predictions", "Store", "numbered_classes", "open_store")


def __getattr__(name: str):
    if name in _CORE_NAMES:
        return getattr(importlib.import_module("misclass.store.core"), name)
    raise AttributeError(f"module 'misclass.store' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = ["DEFAULT_STORE", "MODEL_SUFFIXES", "Layout", "ModelRecord", "Predictions", "Store",
           "numbered_classes", "open_store"]
