"""``misclass compare``: which images another model gets right, the oracle accuracy of pairs
and k-model combinations, images every model misses, and real ensembles.

:func:`compare` reads the store's labels, class names, top-k predictions and probabilities
and runs :func:`misclass.analysis.crossmodel.compare_models`; its :class:`CompareResult`
gives the JSON of ``misclass compare --json`` and every table as a DataFrame indexed by
model names (pair matrices) or class names (per-class tables).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from misclass.analysis.search_limits import LIST_LIMIT, MAX_COMBINATIONS
from misclass.errors import InputError
from misclass.workflows.common import PerImagePredictors, as_store, json_ready, per_image_predictors

if TYPE_CHECKING:
    import pandas as pd

    from misclass.analysis.combinations import Progress
    from misclass.analysis.crossmodel import ModelComparison
    from misclass.store import Store

__all__ = ["LIST_LIMIT", "MAX_COMBINATIONS", "CompareResult", "compare"]


@dataclass(frozen=True)
class CompareResult:
    """What ``misclass compare`` computes on a store.

    ``comparison`` is the analysis result (arrays); the methods give its tables as
    DataFrames. Pair matrices are indexed by model names (rows: model A, columns: model B),
    per-class tables by class names (names may repeat, as ImageNet's two "crane" classes do:
    the ``class_index`` column tells them apart).

    ``left_out``: predictors of the selection with expected accuracy (``human-random``), which
    have no per-image prediction to compare; ``notes`` names them.
    """

    store: str
    comparison: ModelComparison
    left_out: tuple[str, ...] = ()

    # ------------------------------------------------------------------ plain values
    @property
    def models(self) -> tuple[str, ...]:
        return self.comparison.models

    @property
    def n(self) -> int:
        """Images with a known label (the others are left out of every quantity)."""
        return self.comparison.n

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.comparison.classes.class_names

    @property
    def notes(self) -> tuple[str, ...]:
        left = PerImagePredictors(list(self.models), self.left_out).note
        return self.comparison.notes + ((left,) if left else ())

    @property
    def ensemble_notes(self) -> tuple[str, ...]:
        """The ensembles' notes (why a method is missing, approximations), each once."""
        return tuple(dict.fromkeys(n for e in self.comparison.ensembles for n in e.notes))

    def to_dict(self) -> dict[str, Any]:
        """What ``misclass compare --json`` writes."""
        return json_ready(self.comparison.to_dict()
                          | {"notes": list(self.notes), "left_out": list(self.left_out)})

    # ------------------------------------------------------------------ per model
    def to_frame(self) -> pd.DataFrame:
        """One row per model (index ``model``): ``accuracy`` and ``only_it_misses`` (images
        every other model gets right)."""
        import pandas as pd

        c = self.comparison
        return pd.DataFrame({"accuracy": c.pairs.accuracy, "only_it_misses": c.failures.unique_errors},
                            index=pd.Index(self.models, name="model"))

    # ------------------------------------------------------------------ pairs
    def _pair_frame(self, values) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(values, index=pd.Index(self.models, name="model A"),
                            columns=pd.Index(self.models, name="model B"))

    def correction_rate(self) -> pd.DataFrame:
        """PCR(A, B): share of row model A's mistakes that column model B gets right (NaN
        rows for a model without mistakes; the diagonal is 0)."""
        return self._pair_frame(self.comparison.pairs.correction_rate)

    def virtual_accuracy(self) -> pd.DataFrame:
        """Oracle accuracy of each pair (right when either is right); the diagonal is each
        model's accuracy."""
        return self._pair_frame(self.comparison.pairs.virtual_accuracy)

    def error_consistency(self) -> pd.DataFrame:
        """Cohen's kappa of the two models' correct/incorrect vectors (NaN when undefined)."""
        return self._pair_frame(self.comparison.pairs.error_consistency)

    def equal_top1(self) -> pd.DataFrame:
        """Share of images on which the two models predict the same class."""
        return self._pair_frame(self.comparison.pairs.equal_top1)

    def both_correct(self) -> pd.DataFrame:
        """Images both models get right (counts)."""
        return self._pair_frame(self.comparison.pairs.both_correct)

    def pairs(self) -> pd.DataFrame:
        """One row per pair of models (index ``model A``, ``model B``, A listed first in the
        store's order), best oracle accuracy first: ``virtual_accuracy``,
        ``correction_rate_b_over_a`` (share of A's mistakes B gets right),
        ``correction_rate_a_over_b``, ``error_consistency``, ``equal_top1``."""
        import numpy as np
        import pandas as pd

        p = self.comparison.pairs
        a, b = np.triu_indices(len(self.models), 1)
        names = np.asarray(self.models, dtype=object)
        frame = pd.DataFrame({
            "virtual_accuracy": p.virtual_accuracy[a, b],
            "correction_rate_b_over_a": p.correction_rate[a, b],
            "correction_rate_a_over_b": p.correction_rate[b, a],
            "error_consistency": p.error_consistency[a, b],
            "equal_top1": p.equal_top1[a, b],
        }, index=pd.MultiIndex.from_arrays([names[a], names[b]], names=["model A", "model B"]))
        return frame.sort_values("virtual_accuracy", ascending=False, kind="stable")

    # ------------------------------------------------------------------ combinations
    def combinations(self) -> pd.DataFrame:
        """Every listed combination of two or more models (as in the JSON): ``size``,
        ``models`` (tuple of names), ``virtual_accuracy``; sizes with too many combinations
        are not listed (``best`` still has them)."""
        table = self.comparison.combinations.table
        return table[table["size"] >= 2].reset_index(drop=True)

    def best(self) -> pd.DataFrame:
        """The best combination of each size (index ``size``, 1..k): ``models``,
        ``virtual_accuracy``, ``gain`` over the best single model (a fraction), ``method``
        (exact or greedy) and ``search``."""
        import pandas as pd

        best = self.comparison.combinations.best
        single = best[1].virtual_accuracy
        sizes = sorted(best)
        return pd.DataFrame({
            "models": [best[s].models for s in sizes],
            "virtual_accuracy": [best[s].virtual_accuracy for s in sizes],
            "gain": [best[s].virtual_accuracy - single for s in sizes],
            "method": [best[s].method for s in sizes],
            "search": [best[s].search for s in sizes],
        }, index=pd.Index(sizes, name="size"))

    def greedy(self) -> pd.DataFrame:
        """Oracle accuracy as models are added greedily (index ``step``): ``added``,
        ``virtual_accuracy``."""
        return self.comparison.combinations.greedy.set_index("step")

    def ensembles(self) -> pd.DataFrame:
        """One row per evaluated ensemble: ``set`` ("best 2", ..., "all 7"), ``models``,
        ``best_single`` and its accuracy, ``oracle``, then the accuracy of ``majority_vote``,
        ``mean_probability`` and ``selector`` (NaN where not computed), each with the
        ``..._share`` of the oracle's gain over the best member it captures (NaN where the
        oracle gains nothing; negative: worse than the best member)."""
        import pandas as pd

        c = self.comparison
        best_sets = {frozenset(b.models): s for s, b in c.combinations.best.items()}
        rows = []
        for e in c.ensembles:
            size = best_sets.get(frozenset(e.models))
            row = {"set": f"best {size}" if size is not None else
                   f"all {len(e.models)}" if len(e.models) == len(self.models) else "",
                   "models": e.models, "best_single": e.best_single,
                   "best_single_accuracy": e.best_single_accuracy, "oracle": e.oracle}
            for kind in ("majority_vote", "mean_probability", "selector"):
                acc = getattr(e, kind)
                row[kind] = acc
                row[f"{kind}_share"] = e.share(acc)
            rows.append(row)
        columns = ["set", "models", "best_single", "best_single_accuracy", "oracle", "majority_vote",
                   "majority_vote_share", "mean_probability", "mean_probability_share", "selector",
                   "selector_share"]
        return pd.DataFrame(rows, columns=columns)

    # ------------------------------------------------------------------ per class
    def _class_frame(self, values) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(values, index=pd.Index(self.class_names, name="class"),
                            columns=pd.Index(self.models, name="model"))

    def class_accuracy(self) -> pd.DataFrame:
        """Accuracy of each model (columns) on each class (rows; NaN without images)."""
        return self._class_frame(self.comparison.classes.class_accuracy)

    def corrected(self) -> pd.DataFrame:
        """Images of each class the model gets right while another model is wrong, summed
        over the other models."""
        return self._class_frame(self.comparison.classes.corrected)

    def got_corrected(self) -> pd.DataFrame:
        """Images of each class the model misses and another model gets right, summed over
        the other models."""
        return self._class_frame(self.comparison.classes.got_corrected)

    def per_class(self) -> pd.DataFrame:
        """Long table, one row per class and model (index ``class``, ``model``):
        ``class_index``, ``n_images``, ``accuracy``, ``corrected``, ``got_corrected``."""
        table = self.comparison.classes.table().rename(columns={"class_name": "class"})
        return table.set_index(["class", "model"])

    def top_corrected(self) -> pd.DataFrame:
        """The (up to) five classes each model corrects most (index ``model``, ``rank``):
        ``class_index``, ``class``, ``corrected``."""
        top = self.comparison.classes.top_corrected.rename(columns={"class_name": "class"})
        return top.set_index(["model", "rank"])

    def hard_classes(self) -> pd.DataFrame:
        """Classes on which every model is below 50% (index ``class``), lowest best accuracy
        first: ``class_index``, ``n_images``, ``best_accuracy``, ``best_model``,
        ``mean_accuracy``."""
        hard = self.comparison.classes.hard_classes.rename(columns={"class_name": "class"})
        return hard.set_index("class")[["class_index", "n_images", "best_accuracy", "best_model",
                                        "mean_accuracy"]]

    # ------------------------------------------------------------------ images
    def all_wrong(self) -> pd.DataFrame:
        """Images every model misses (index ``sample_id``): ``index`` (row in the store),
        ``label``, then each model's top-1."""
        return self.comparison.failures.all_wrong.set_index("sample_id")

    def only_one_wrong(self) -> pd.DataFrame:
        """Images exactly one model misses (index ``sample_id``): ``index``, ``label``,
        ``model`` (the one that misses it), ``prediction``."""
        return self.comparison.failures.only_one_wrong.set_index("sample_id")


def compare(
    store: Store | str | os.PathLike,
    *,
    models: Sequence[str] | None = None,
    k: int = 3,
    ensembles: bool = True,
    seed: int = 0,
    list_limit: int = LIST_LIMIT,
    max_combinations: int = MAX_COMBINATIONS,
    progress: Progress | None = None,
) -> CompareResult:
    """Compare models image by image, as ``misclass compare`` does.

    Parameters
    ----------
    store : a :class:`~misclass.store.Store` or the path of one
    models : names of the models to compare (default: every model of the store); at least two;
        predictors with expected accuracy (``human-random``) are left out with a note
    k : largest combination size
    ensembles : evaluate majority vote, mean probability and a learned selector for the best
        combination of each size and, for up to 12 models, all of them
    seed : seed of the selector's cross-validation folds
    list_limit : sizes with at most this many combinations are all listed
    max_combinations : sizes with more combinations than this use greedy search instead of exact
    progress : ``progress(description, done, total)``, called during long enumerations

    >>> import misclass, tempfile, numpy as np, pandas as pd
    >>> s = misclass.Store.create(tempfile.mkdtemp() + "/s",
    ...     samples=pd.DataFrame({"sample_id": list("abcd"), "label": [0, 1, 2, 0]}),
    ...     classes=pd.DataFrame({"name": ["cat", "dog", "frog"]}))
    >>> s.write_model("x", np.array([[0], [1], [1], [2]]))
    >>> s.write_model("y", np.array([[0], [0], [2], [2]]))
    >>> res = misclass.compare(s, k=2, ensembles=False)
    >>> pcr = res.correction_rate()  # rows: model A, columns: model B
    >>> float(pcr.loc["x", "y"]), list(pcr.index), list(pcr.columns)
    (0.5, ['x', 'y'], ['x', 'y'])
    >>> res.to_dict()["virtual_accuracy"], list(res.all_wrong().index)
    ([[0.5, 0.75], [0.75, 0.5]], ['d'])
    """
    from misclass.analysis.crossmodel import compare_models

    s = as_store(store)
    chosen = per_image_predictors(s, models)
    pred = s.load(chosen.names)
    if len(pred.models) < 2:
        raise InputError(f"compare needs at least two models; the selection has {len(pred.models)}: "
                         f"{', '.join(pred.models) or 'none'}" + (f" ({chosen.note})" if chosen.note else ""))
    res = compare_models(
        pred.labels, pred.top1, models=pred.models, class_names=s.class_names(), k=k,
        sample_ids=pred.sample_ids, topk=pred.topk, topk_probs=pred.topk_probs,
        probs={m: pred.probs(m) for m in pred.models}, ensembles=ensembles, seed=seed,
        list_limit=list_limit, max_combinations=max_combinations, progress=progress)
    return CompareResult(str(s.path), res, chosen.left_out)
