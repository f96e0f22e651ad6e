"""``misclass models``: one row per model, its top-1 and top-5 accuracy."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from misclass.workflows.common import NOT_GIVEN, as_store, json_ready, renamed_models

if TYPE_CHECKING:
    import pandas as pd

    from misclass.store import Store


@dataclass(frozen=True)
class ModelsResult:
    """The store's models: ``table`` has columns name, n, top1, top5 (fractions) and accuracy
    ("counted", or "expected" for a person drawn at random, see below), store order."""

    store: str
    n_samples: int
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """One row per model, indexed by model name."""
        return self.table.set_index("name")

    def to_dict(self) -> dict[str, Any]:
        """What ``misclass models --json`` writes."""
        return json_ready({"models": [
            {"name": r.name, "n": int(r.n), "top1": r.top1, "top5": r.top5}
            | ({"accuracy": "expected"} if r.accuracy == "expected" else {})
            for r in self.table.itertuples()
        ]})


def models(store: Store | str | os.PathLike, *, models: Sequence[str] | str | None = None,
           model: Sequence[str] | str | None = NOT_GIVEN) -> ModelsResult:
    """Every model of the store (or those named in ``models``, in that order; ``model=``, its
    old name, still works for one release, with a DeprecationWarning) with its accuracy.

    A predictor whose metadata says ``"accuracy": "expected"`` (``human-random`` from ``misclass
    import votes``) gets its stored ``top1``: the expected accuracy of a person drawn at random
    (mean of ``count[label] / total``), not the accuracy of its stored top-1 (the majority
    class); its top-5 is None (one person gives one answer), and its JSON row says
    ``"accuracy": "expected"``.

    >>> import misclass, tempfile, numpy as np, pandas as pd
    >>> s = misclass.Store.create(tempfile.mkdtemp() + "/s",
    ...     samples=pd.DataFrame({"sample_id": ["a", "b"], "label": [0, 1]}),
    ...     classes=pd.DataFrame({"name": ["cat", "dog"]}))
    >>> s.write_model("m", np.array([[0], [0]]))
    >>> misclass.models(s).to_dict()
    {'models': [{'name': 'm', 'n': 2, 'top1': 0.5, 'top5': None}]}
    """
    from misclass.analysis.summary import summarize_models

    s = as_store(store)
    model = renamed_models("models", models, model)
    pred = s.load([model] if isinstance(model, str) else list(model) if model else None)
    table = summarize_models(pred.models, pred.labels, pred.topk, pred.k).reset_index(drop=True)
    metas = [s.model_metadata(name) for name in pred.models]
    expected = np.array([m.get("accuracy") == "expected" for m in metas], dtype=bool)
    table["accuracy"] = np.where(expected, "expected", "counted")
    for i in np.flatnonzero(expected):
        table.loc[i, "top1"] = np.nan if metas[i].get("top1") is None else metas[i]["top1"]
        table.loc[i, "top5"] = np.nan
    return ModelsResult(str(s.path), pred.n, table)
