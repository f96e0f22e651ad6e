"""Exceptions that misclass raises for bad input, a bad store or a missing extra.

The CLI prints the message of any :class:`MisclassError` as one line and exits with
status 2; library users can catch the subclasses.
"""

from __future__ import annotations


class MisclassError(Exception):
    """Base class of every error misclass raises on purpose."""


class InputError(MisclassError, ValueError):
    """A file, row or field a user gave is not what was expected."""


class StoreError(MisclassError):
    """The store is missing, inconsistent, or would be changed in a way that loses data."""


class MissingExtraError(MisclassError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class MemoryBudgetError(InputError):
    """A dense per-class matrix would need more memory than the budget
    (``MISCLASS_MEMORY_BUDGET``, see :mod:`misclass.analysis.budget`); the message says how
    many classes, how much memory, the budget and how to restrict the classes."""

    def __init__(self, message: str, *, n_classes: int, needed: int, budget: int) -> None:
        super().__init__(message)
        self.n_classes = n_classes
        self.needed = needed
        self.budget = budget
