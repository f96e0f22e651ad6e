"""Predictors are models or humans: the ``kind`` field of a model's metadata.

A human labeler's answers are imported like any predictor (``misclass import table
answers.csv --name human-alice``) and then marked ``misclass set-kind human-alice --kind
human``. Every analysis keeps working on them; ``misclass evaluate``, ``shift`` and ``factors``
fit and summarise over models only and show humans beside them. A predictor without the field
is a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from misclass.errors import InputError
from misclass.types import PREDICTOR_KINDS

if TYPE_CHECKING:
    from misclass.store import Store


def predictor_kind(store: Store, name: str) -> str:
    """"model" or "human" (metadata field ``kind``; absent means "model")."""
    kind = store.model_metadata(name).get("kind", "model")
    if kind not in PREDICTOR_KINDS:
        raise InputError(f"model {name!r}: metadata kind {kind!r} is not one of {', '.join(PREDICTOR_KINDS)}")
    return kind


def predictor_kinds(store: Store, names: Sequence[str]) -> list[str]:
    """The kind of each named predictor, in order."""
    return [predictor_kind(store, n) for n in names]


def set_predictor_kind(store: Store, name: str, kind: str) -> bool:
    """Record ``kind`` in the predictor's metadata; return False when it already had it.

    Only the model's metadata file is rewritten (one commit).
    """
    if kind not in PREDICTOR_KINDS:
        raise InputError(f"kind {kind!r}: expected one of {', '.join(PREDICTOR_KINDS)}")
    meta = store.model_metadata(name)
    if meta.get("kind", "model") == kind and "kind" in meta:
        return False
    store.update_model_metadata(name, {"kind": kind})
    return True
