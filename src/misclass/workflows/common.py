"""What every workflow shares: opening the store it is given, the predictors that have a
per-image prediction, and JSON-ready values."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from misclass.errors import InputError
from misclass.store import Store, open_store


def as_store(store: Store | str | os.PathLike) -> Store:
    """The :class:`Store` itself, or the existing store at a path (a clear error if none)."""
    return store if isinstance(store, Store) else open_store(store)


#: Sentinel of a deprecated keyword that was not given.
NOT_GIVEN: Any = object()


def renamed_models(workflow: str, models: Any, model: Any) -> Any:
    """The ``models`` option of ``workflow``, also accepted under its old name ``model`` for one
    release (a :class:`DeprecationWarning`); both at once is an error."""
    if model is NOT_GIVEN:
        return models
    if models is not None:
        raise InputError(f"misclass.{workflow}: give models=, not both models= and its old name model=")
    import warnings

    warnings.warn(f"misclass.{workflow}(model=...) is renamed models=...; model= goes in the next release",
                  DeprecationWarning, stacklevel=3)
    return model


def is_expected_accuracy(store: Store, name: str) -> bool:
    """Whether the predictor's accuracy is an expectation (metadata ``"accuracy": "expected"``:
    ``human-random`` of ``misclass import votes``, a person drawn at random from the voters)."""
    return store.model_metadata(name).get("accuracy") == "expected"


@dataclass(frozen=True)
class PerImagePredictors:
    """The predictors an analysis can count right or wrong image by image.

    ``names``: the chosen predictors in order, less those whose accuracy is an expectation
    (``left_out``): their stored top-1 is not any one person's answer (for ``human-random`` it
    is the majority class), so counting it would report the majority's accuracy.
    """

    names: list[str]
    left_out: tuple[str, ...] = ()

    @property
    def note(self) -> str | None:
        """One sentence naming the predictors left out, or None."""
        if not self.left_out:
            return None
        return (f"left out {', '.join(self.left_out)}: expected accuracy (a person drawn at random "
                "from each image's voters), no per-image prediction to count right or wrong; "
                "misclass evaluate and misclass models report its expectation")


def per_image_predictors(store: Store, models: Sequence[str] | str | None = None) -> PerImagePredictors:
    """``models`` (None: every predictor of the store) less the expected-accuracy predictors.

    For the analyses that count each image's top-1 right or wrong (compare, confusion, failure,
    factors, shift): ``store.load(per_image_predictors(store, models).names)``. ``models`` empty
    means every predictor, as for :meth:`Store.load`; names the store does not hold are kept, so
    loading them gives the store's own error; a selection of nothing but expected-accuracy
    predictors is an :class:`InputError` (``store.load([])`` would load every predictor).

    >>> import misclass, tempfile, numpy as np, pandas as pd
    >>> s = misclass.Store.create(tempfile.mkdtemp() + "/s",
    ...     samples=pd.DataFrame({"sample_id": ["a", "b"], "label": [0, 1]}),
    ...     classes=pd.DataFrame({"name": ["cat", "dog"]}))
    >>> s.write_model("m", np.array([[0], [0]]))
    >>> per_image_predictors(s)
    PerImagePredictors(names=['m'], left_out=())
    """
    have = store.model_names()
    names = [models] if isinstance(models, str) else list(models) if models else have
    stored = set(have)
    left_out = tuple(n for n in names if n in stored and is_expected_accuracy(store, n))
    keep = [n for n in names if n not in left_out]
    if left_out and not keep:
        raise InputError(f"{store.path}: {', '.join(left_out)} {'has' if len(left_out) == 1 else 'have'} "
                         "expected accuracy (a person drawn at random), no per-image prediction; "
                         "choose predictors whose top-1 is an answer (see misclass models)")
    return PerImagePredictors(keep, left_out)


def json_ready(obj: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays become Python ones; NaN and inf become null.

    >>> json_ready({"a": np.float32(0.5), "b": [np.nan, np.int64(3)], 1: np.array([True])})
    {'a': 0.5, 'b': [None, 3], '1': [True]}
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return None if math.isnan(f) or math.isinf(f) else f
    return obj
