"""People as predictors: how the models' errors line up with people's (``misclass import votes``
prints it and writes it with ``--json``).

:func:`human_consistency` computes, for every model of the store (kind ``model``) and every
human predictor imported from votes, the error consistency of Geirhos et al. (2020): Cohen's
kappa of the correct/incorrect vectors on the labelled images, with a seeded percentile
bootstrap interval (:func:`misclass.analysis.humans.error_consistency_ci`). Against
``human-majority`` the reference is whether the majority class is the label; against
``human-random`` (metadata ``"accuracy": "expected"``) it is the probability that a person drawn
at random is right, ``count[label] / total`` (its stored probabilities at the label).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from misclass.errors import InputError
from misclass.workflows.common import as_store, json_ready

if TYPE_CHECKING:
    import pandas as pd

    from misclass.analysis.humans import ErrorConsistency
    from misclass.store import Store


@dataclass(frozen=True)
class HumanConsistency:
    """Error consistency of each model with each human predictor (``by_human``: name -> result)."""

    store: str
    by_human: dict[str, ErrorConsistency]

    def to_frame(self) -> pd.DataFrame:
        """One row per (model, human): ``kappa``, ``low``, ``high``, ``accuracy``."""
        import pandas as pd

        frames = [r.to_frame().assign(human=h).reset_index() for h, r in self.by_human.items()]
        if not frames:
            return pd.DataFrame(columns=["model", "human", "kappa", "low", "high", "accuracy"])
        return pd.concat(frames, ignore_index=True).set_index(["model", "human"])

    def to_dict(self) -> dict[str, Any]:
        return json_ready({"store": self.store,
                           "humans": {h: r.to_dict() for h, r in self.by_human.items()}})


def human_consistency(store: Store | str | os.PathLike, *, humans: Sequence[str] | None = None,
                      models: Sequence[str] | None = None, n_boot: int = 1000, level: float = 0.95,
                      seed: int = 0) -> HumanConsistency:
    """Error consistency of the models with people, per human predictor.

    humans : predictor names; None: the store's predictors imported from votes (metadata
        ``source`` "votes").
    models : None: every predictor of kind ``model``.
    n_boot, level, seed : bootstrap replicates, interval level, seed.
    """
    from misclass.analysis.humans import error_consistency_ci
    from misclass.store.kinds import predictor_kinds

    s = as_store(store)
    names = s.model_names()
    if humans is None:
        humans = [n for n in names if s.model_metadata(n).get("source") == "votes"]
    if models is None:
        models = [n for n, k in zip(names, predictor_kinds(s, names), strict=True) if k == "model"]
    out: dict[str, ErrorConsistency] = {}
    if not humans or not models:
        return HumanConsistency(str(s.path), out)
    pred = s.load(list(models) + list(humans))
    known = pred.labels >= 0
    if not known.any():
        raise InputError(f"{s.path}: no sample has a label; error consistency needs labels")
    labels = pred.labels[known]
    correct = pred.correct[known]
    for h in humans:
        if s.model_metadata(h).get("accuracy") == "expected":
            probs = s.read_probs(h)
            reference = np.asarray(probs[np.flatnonzero(known), labels], dtype=np.float64)
        else:
            reference = correct[:, pred.index(h)]
        out[h] = error_consistency_ci(correct[:, : len(models)], reference, models=models,
                                      n_boot=n_boot, level=level, seed=seed)
    return HumanConsistency(str(s.path), out)
