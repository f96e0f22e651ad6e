"""misclass: find which images image classifiers get wrong, and why.

The workflows (``misclass.confusion``, ``misclass.compare``, ``misclass.evaluate``,
``misclass.failure``, ...) take a store and a command's options and return results whose
``to_dict()`` is the command's ``--json``; they load on first use (PEP 562), so
``import misclass`` stays light.
"""

from __future__ import annotations

import importlib

from misclass.errors import InputError, MemoryBudgetError, MisclassError, MissingExtraError, StoreError

__version__ = "0.1.0"

_STORE_NAMES = ("ModelRecord", "Predictions", "Store", "open_store")


def __getattr__(name: str):
    if name in _STORE_NAMES:
        return getattr(importlib.import_module("misclass.store"), name)
    from misclass.workflows import WORKFLOWS

    if name in WORKFLOWS:  # the function, even where its module shares its name
        value = getattr(importlib.import_module(f"misclass.workflows.{WORKFLOWS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'misclass' has no attribute {name!r}")


def __dir__() -> list[str]:
    from misclass.workflows import WORKFLOWS

    return sorted(set(__all__) | set(WORKFLOWS))


__all__ = [
    "InputError",
    "MemoryBudgetError",
    "MisclassError",
    "MissingExtraError",
    "ModelRecord",
    "Predictions",
    "Store",
    "StoreError",
    "open_store",
    "__version__",
]
