"""misclass: find which images image classifiers get wrong, and why."""

from misclass.errors import InputError, MisclassError, MissingExtraError, StoreError
from misclass.store import ModelRecord, Predictions, Store, open_store

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "MisclassError",
    "MissingExtraError",
    "ModelRecord",
    "Predictions",
    "Store",
    "StoreError",
    "open_store",
    "__version__",
]
