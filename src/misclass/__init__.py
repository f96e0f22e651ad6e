"""misclass: find which images image classifiers get wrong, and why.

The workflows (``misclass.confusion``, ``misclass.compare``, ``misclass.evaluate``,
``misclass.failure``, ...) take a store and a command's options and return results whose
``to_dict()`` is the command's ``--json``; they load on first use (PEP 562), so
``import misclass`` stays light.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType  # not ``import types``: misclass.types, once imported, is bound here

from misclass.errors import InputError, MemoryBudgetError, MisclassError, MissingExtraError, StoreError

__version__ = "0.1.0"

_STORE_NAMES = ("ModelRecord", "Predictions", "Store", "open_store")


def _workflow(name: str):
    from misclass.workflows import WORKFLOWS

    return getattr(importlib.import_module(f"misclass.workflows.{WORKFLOWS[name]}"), name)


def __getattr__(name: str):
    if name in _STORE_NAMES:
        return getattr(importlib.import_module("misclass.store"), name)
    from misclass.workflows import WORKFLOWS

    if name in WORKFLOWS:
        if importlib.util.find_spec(f"{__name__}.{name}") is not None:  # a subpackage: made callable
            return importlib.import_module(f"{__name__}.{name}")
        value = _workflow(name)  # the function, even where its module shares its name
        globals()[name] = value
        return value
    raise AttributeError(f"module 'misclass' has no attribute {name!r}")


class WorkflowPackage(ModuleType):
    """A subpackage named like a workflow (``misclass.report``, ``misclass.explain``): calling
    it calls the workflow, so ``misclass.report(store, out=...)`` works whether or not
    ``misclass.report.build`` was imported, which binds the subpackage to ``misclass.report``;
    its modules stay reachable (``misclass.report.build``). ``misclass.predict`` is only the
    workflow: what it runs lives in ``misclass.engine``."""

    def __call__(self, *args, **kwargs):
        return _workflow(self.__name__.rpartition(".")[2])(*args, **kwargs)

    @property
    def __signature__(self):
        import inspect

        return inspect.signature(_workflow(self.__name__.rpartition(".")[2]))


class _Package(ModuleType):
    def __setattr__(self, name: str, value) -> None:
        # the import system binds each subpackage here when it is first imported
        if isinstance(value, ModuleType) and value.__name__ == f"{self.__name__}.{name}":
            from misclass.workflows import WORKFLOWS

            if name in WORKFLOWS:
                value.__class__ = WorkflowPackage
        super().__setattr__(name, value)


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

sys.modules[__name__].__class__ = _Package
