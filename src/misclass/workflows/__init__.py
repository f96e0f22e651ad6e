"""Workflows: one function per command, the Python API of misclass.

Each takes a :class:`~misclass.store.Store` (or a store path) and the command's options, reads
what it needs from the store, calls the pure analyses and returns a frozen result whose
``to_dict()`` is exactly what the command's ``--json`` writes. The CLI, the report, the app
and notebooks call these functions and nothing below them, so they cannot disagree.

Modules load on first use (``misclass.confusion`` imports only the confusion workflow). Use
the functions as ``misclass.<name>``: once loaded, a module that shares its function's name
(``misclass.workflows.models``) is the module.
"""

from __future__ import annotations

import importlib

#: public name -> module under misclass.workflows that defines it
WORKFLOWS = {
    "confusion": "confusion",
    "compare": "compare",
    "evaluate": "evaluate",
    "shift": "evaluate",
    "factors": "evaluate",
    "failure": "failure",
    "explain": "explain",
    "label_issues": "label_issues",
    "predict": "predict",
    "train": "train",
    "report": "report",
    "models": "models",
    "demo": "demo",
    "human_consistency": "votes",
    "explore": "explore",
}


def __getattr__(name: str):
    module = WORKFLOWS.get(name)
    if module is None:
        raise AttributeError(f"module 'misclass.workflows' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(WORKFLOWS)
