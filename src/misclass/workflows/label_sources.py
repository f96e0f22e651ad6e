"""Every source of label sets, the review app's decisions included: the one resolver of
``--labels`` for the workflows (files and datasets come from :mod:`misclass.data.label_sets`,
review decisions from :mod:`misclass.review.export`, which sits above ``data/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from misclass.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from misclass.store import Store
    from misclass.types import LabelSets


def load_label_sets(spec: str, sample_ids: Sequence[str], classes: pd.DataFrame, *,
                    store: Store | None = None, min_share: float | None = None) -> LabelSets:
    """``review`` (the decisions of the review app in the store's ``annotations.sqlite``;
    ``review:URL`` reads another database; needs ``store`` and ``misclass[review]``), else
    whatever :func:`misclass.data.label_sets.load_label_sets` reads (``real``,
    ``counts:FILE.npy``, a JSONL/CSV file)."""
    if spec == "review" or spec.startswith("review:"):
        if store is None:
            raise InputError(f"--labels {spec}: needs the store whose review decisions to read")
        from misclass.extras import require

        require("sqlalchemy", "review", feature="--labels review")
        from misclass.review.export import review_label_sets

        return review_label_sets(store, spec.split(":", 1)[1] if ":" in spec else None,
                                 sample_ids=sample_ids)
    from misclass.data import label_sets

    return label_sets.load_label_sets(spec, sample_ids, classes, min_share=min_share)
