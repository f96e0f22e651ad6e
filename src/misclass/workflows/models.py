"""``misclass models``: one row per model, its top-1 and top-5 accuracy."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from misclass.workflows.common import as_store, json_ready

if TYPE_CHECKING:
    import pandas as pd

    from misclass.store import Store


@dataclass(frozen=True)
class ModelsResult:
    """The store's models: ``table`` has columns name, n, top1, top5 (fractions), store order."""

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
            for r in self.table.itertuples()
        ]})


def models(store: Store | str | os.PathLike) -> ModelsResult:
    """Every model of the store with its accuracy.

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
    pred = s.load()
    table = summarize_models(pred.models, pred.labels, pred.topk, pred.k)
    return ModelsResult(str(s.path), pred.n, table.reset_index(drop=True))
