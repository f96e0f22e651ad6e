"""``misclass label-issues``: which given labels are likely wrong, from models and people.

:func:`label_issues` scores every labelled image of the store with each source the store has
(:mod:`misclass.analysis.label_sources`): ``models`` (every model's predictions, weighed by
its errors on the other images), ``cleanlab`` (confident learning on the mean probabilities
of the models that stored them), ``votes`` (people's vote counts) and ``review`` (the review
app's decisions and problematic flags); combines them with weights learned on planted label
errors (:mod:`misclass.analysis.label_issues`) and ranks the images. Its
:class:`LabelIssuesResult` gives the ``--json`` (``to_dict()``), the ranked table, the
accuracy of every predictor on the corrected labels beside the given ones, and the precision
of each ranking against people's checks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from misclass.errors import InputError, MissingExtraError
from misclass.workflows.common import as_store, json_ready

if TYPE_CHECKING:
    import pandas as pd

    from misclass.analysis.label_issues import CombinationWeights
    from misclass.analysis.label_sources import SourceScores
    from misclass.store import Store

#: Every source, in the order tables and JSON list them.
SOURCES = ("models", "cleanlab", "votes", "review")
#: Ranks at which the precision curve is read.
CURVE_KS = (10, 25, 50, 100, 200, 300, 500, 1000, 2000)


@dataclass(frozen=True)
class PeopleCheck:
    """People's verdicts that a ranking is judged against: ``checked (N,)`` images people
    judged, ``confirmed (N,)`` those whose label they judged wrong; ``source`` says which."""

    source: str
    checked: np.ndarray
    confirmed: np.ndarray


@dataclass(frozen=True)
class LabelIssuesResult:
    """What ``misclass label-issues`` computes on a store.

    ``sources`` holds each source's :class:`~misclass.analysis.label_sources.SourceScores`,
    ``combined`` the combination (``weights``), ``order`` the store indices of the scored
    images, most likely wrong first. ``accuracy`` is the table of
    :func:`misclass.analysis.label_issues.corrected_accuracy`.
    """

    store: str
    sample_ids: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    sources: dict[str, SourceScores]
    combined: SourceScores
    weights: CombinationWeights
    order: np.ndarray
    accuracy: pd.DataFrame
    threshold: float
    people: PeopleCheck | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def n_images(self) -> int:
        """Images in the store (those without a label have no score)."""
        return len(self.labels)

    @property
    def n_scored(self) -> int:
        return len(self.order)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """What ``misclass label-issues --json`` writes: ``{"issues": [...], "n_images": N}``,
        every scored image, most likely wrong first, each with ``sample_id``, ``given``,
        ``suggested`` (-1: none), ``score`` and per source its ``score`` and ``suggested``
        (cleanlab also ``flagged``)."""
        order = self.order
        score = self.combined.score[order]
        per = {}
        for name, src in self.sources.items():
            has = src.has_score[order]
            per[name] = (has, src.score[order], src.suggested[order],
                         None if src.flagged is None else src.flagged[order])
        ids = self.sample_ids[order].tolist()
        given = self.labels[order].tolist()
        suggested = self.combined.suggested[order].tolist()
        issues = []
        for r in range(len(order)):
            sources = {name: _source_entry(r, *arrays[1:]) for name, arrays in per.items() if arrays[0][r]}
            issues.append({"sample_id": str(ids[r]), "given": int(given[r]),
                           "suggested": int(suggested[r]), "score": float(score[r]), "sources": sources})
        return json_ready({"issues": issues, "n_images": self.n_images})

    def issue(self, i: int) -> dict[str, Any] | None:
        """Image ``i`` (store order) as :meth:`to_dict` lists it, with its ``rank`` (1 = most
        likely wrong) added; None for an image without a score (no given label)."""
        if not self.combined.has_score[i]:
            return None
        sources = {}
        for name, src in self.sources.items():
            if src.has_score[i]:
                sources[name] = _source_entry(i, src.score, src.suggested, src.flagged)
        c = self.combined
        return json_ready({"sample_id": str(self.sample_ids[i]), "given": int(self.labels[i]),
                           "suggested": int(c.suggested[i]), "score": float(c.score[i]), "sources": sources,
                           "rank": int(self.ranks[i])})

    @cached_property
    def ranks(self) -> np.ndarray:
        """(N,) the rank of each image in :attr:`order` (1 = most likely wrong; 0: no score)."""
        out = np.zeros(self.n_images, dtype=np.int64)
        out[self.order] = np.arange(1, len(self.order) + 1)
        return out

    # ------------------------------------------------------------------ tables
    def _name(self, c: int) -> str:
        return self.class_names[c] if c >= 0 else "-"

    @cached_property
    def _says_wrong(self) -> dict[str, np.ndarray]:
        """Per source, (N,) bool: it scores the image's label more likely wrong than right."""
        return {n: s.has_score & (s.logit > 0) for n, s in self.sources.items()}

    def agreeing(self, i: int) -> list[str]:
        """The sources that say image ``i``'s label is more likely wrong than right."""
        return [n for n, wrong in self._says_wrong.items() if wrong[i]]

    def _agree_column(self, rows: np.ndarray) -> list[str]:
        """``", ".join(self.agreeing(i))`` for each of ``rows``, one string per set of sources
        (the sets as bit codes, so no Python loop over the images)."""
        names = list(self._says_wrong)
        code = np.zeros(len(rows), dtype=np.int64)
        for bit, wrong in enumerate(self._says_wrong.values()):
            code |= wrong[rows].astype(np.int64) << bit
        seen, inverse = np.unique(code, return_inverse=True)
        texts = np.array([", ".join(n for bit, n in enumerate(names) if c >> bit & 1) for c in seen.tolist()],
                         dtype=object)
        return texts[inverse.reshape(-1)].tolist()

    def to_frame(self) -> pd.DataFrame:
        """The ranking (index ``rank``, 1 = most likely wrong): ``sample_id``, ``index`` (store
        order), ``given``, ``given_name``, ``suggested``, ``suggested_name``, ``score``,
        ``agree`` (sources scoring above 0.5), then each source's ``score_<source>``."""
        import pandas as pd

        o = self.order
        frame = pd.DataFrame({
            "sample_id": self.sample_ids[o].astype(str), "index": o, "given": self.labels[o],
            "given_name": [self._name(int(c)) for c in self.labels[o]],
            "suggested": self.combined.suggested[o],
            "suggested_name": [self._name(int(c)) for c in self.combined.suggested[o]],
            "score": self.combined.score[o],
            "agree": self._agree_column(o),
        }, index=pd.RangeIndex(1, len(o) + 1, name="rank"))
        for name, s in self.sources.items():
            frame[f"score_{name}"] = s.score[o]
        return frame

    def top_indices(self, k: int) -> np.ndarray:
        """Store indices of the ``k`` highest-ranked images (one error when there are fewer)."""
        if k < 1:
            raise InputError(f"--top {k}: must be at least 1")
        if k > self.n_scored:
            raise InputError(f"--top {k}: only {self.n_scored:,} of the store's {self.n_images:,} images "
                             "have a score (a given label); ask for at most that many")
        return self.order[:k]

    def top(self, k: int) -> pd.DataFrame:
        """The first ``k`` rows of :meth:`to_frame`."""
        self.top_indices(k)
        return self.to_frame().head(k)

    def weights_frame(self) -> pd.DataFrame:
        """Per source (index ``source``): ``weight``, ``fitted``, ``planted_auroc``, ``scored``
        (images with a verdict) and ``says_wrong`` (images it scores above 0.5)."""
        frame = self.weights.to_frame()
        frame["scored"] = [int(self.sources[s].has_score.sum()) for s in frame.index]
        frame["says_wrong"] = [int((self.sources[s].logit > 0).sum()) for s in frame.index]
        return frame

    def accuracy_frame(self) -> pd.DataFrame:
        """Accuracy of every predictor on the given and the corrected labels, with rank changes
        (see :func:`misclass.analysis.label_issues.corrected_accuracy`); best corrected first."""
        return self.accuracy.sort_values(["corrected", "original"], ascending=False, kind="stable")

    def precision_curve(self, ks: Sequence[int] = CURVE_KS) -> pd.DataFrame | None:
        """Per source and combined (columns) and K (index ``k``), the share of the images in the
        top K that people checked whose label they judged wrong (see :attr:`people`); None
        without people's verdicts."""
        import pandas as pd

        from misclass.analysis.label_issues import check_ranking, rank_by_score

        if self.people is None:
            return None
        ks = [k for k in ks if k <= self.n_scored] or [self.n_scored]
        cols = {}
        for name, s in [("combined", self.combined), *self.sources.items()]:
            order = self.order if name == "combined" else rank_by_score(s.logit)
            cols[name] = check_ranking(order, self.people.confirmed, self.people.checked,
                                       ks=ks)["confirmed_share"]
        return pd.DataFrame(cols)


def _source_entry(r: int, score, suggested, flagged) -> dict[str, Any]:
    """One source's verdict on row ``r`` of its arrays, as ``--json`` writes it."""
    entry = {"score": float(score[r]), "suggested": int(suggested[r])}
    if flagged is not None:
        entry["flagged"] = bool(flagged[r])
    return entry


# --------------------------------------------------------------------------- the workflow
def _names(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def label_issues(store: Store | str | os.PathLike, *, models: str | Sequence[str] | None = None,
                 sources: str | Sequence[str] | None = None, k: int = 1,
                 probs: str | Sequence[str] | None = None,
                 votes: str | os.PathLike | np.ndarray | None = None,
                 weights: dict[str, float] | None = None, plant_rate: float = 0.05, seed: int = 0,
                 threshold: float = 0.5, db: str | None = None) -> LabelIssuesResult:
    """Score how likely each given label is wrong, per source and combined, and rank the images.

    Parameters
    ----------
    store : the store or its path.
    models : the predictors to use (models for the models and cleanlab sources; every one in
        the accuracy table); default all.
    sources : which of :data:`SOURCES` to use; default every one the store has data for.
    k : 1: each model's top-1 with its confusion matrix; K > 1: the ranks of each model's top-K.
    probs : models whose probabilities cleanlab reads (their mean); default every model that
        stored probabilities.
    votes : people's vote counts, an (N, C) ``.npy`` file or array in store order; default the
        store's vote predictors (``misclass import votes``).
    weights : one weight per source (no learning); default learned on planted label errors.
    plant_rate, seed : share of labelled images given a planted wrong label to learn the
        weights, and its seed.
    threshold : combined score from which the suggested label replaces the given one in the
        corrected labels (reviewed images take their review label sets).
    db : SQLAlchemy URL of the review database (default the store's annotations.sqlite).
    """
    from misclass.analysis import label_issues as li
    from misclass.store.kinds import predictor_kinds

    s = as_store(store)
    labels = s.labels()
    if not (labels >= 0).any():
        raise InputError(f"{s.path}: no image has a label, so no label can be judged wrong; import "
                         "the labels first (--labels FILE on import, or a labelled dataset)")
    if not 0 < threshold <= 1:
        raise InputError(f"threshold {threshold}: must lie in (0, 1]")
    wanted = _names(sources)
    unknown = [x for x in wanted or [] if x not in SOURCES]
    if unknown or (wanted is not None and not wanted):
        raise InputError(f"sources {', '.join(unknown) or '(none)'}: name some of {', '.join(SOURCES)}")
    names = _names(models) or s.model_names()
    kinds = predictor_kinds(s, names)
    pred = s.load(names) if names else None
    ins = _Inputs(s, pred, [m for m, kind in zip(names, kinds, strict=True) if kind == "model"],
                  set(wanted or SOURCES), required=set(wanted or []))
    ins.add_models(k)
    ins.add_cleanlab(_names(probs))
    ins.add_votes(votes)
    review = ins.add_review(db)
    if not ins.scorers:
        raise InputError(f"{s.path}: nothing to judge the labels with: no models, probabilities, "
                         "votes or review decisions")
    used = [x for x in SOURCES if x in ins.scorers]
    found = {x: ins.scorers[x](labels) for x in used}
    if weights is not None:
        w = li.fixed_weights(used, weights)
    else:
        top1 = pred.top1[:, [pred.index(m) for m in ins.models]] if ins.models else None
        planted_labels, planted = li.plant_label_errors(labels, top1, s.n_classes, rate=plant_rate,
                                                        seed=seed)
        w = li.learn_weights([ins.scorers[x](planted_labels, flag=False) for x in used], planted)
    combined = li.combine_sources([found[x] for x in used], w, n_classes=s.n_classes)
    corrected = li.corrected_label_sets(labels, combined, threshold=threshold,
                                        reviewed=review.sets if review else None,
                                        problematic=review.problematic if review else None)
    top1 = pred.top1 if pred is not None else np.zeros((len(labels), 0), dtype=np.int64)
    expected = [s.read_probs(m) if s.model_metadata(m).get("accuracy") == "expected" else None for m in names]
    accuracy = li.corrected_accuracy(names, kinds, top1, labels, corrected, expected=expected)
    return LabelIssuesResult(str(s.path), s.sample_ids(), labels, tuple(s.class_names()), found, combined,
                             w, li.rank_by_score(combined.logit), accuracy, threshold,
                             _people_check(found, ins.counts, labels), tuple(ins.notes))


class _Inputs:
    """Each source's scorer (a function of the labels, so that planted labels can be scored
    again), the notes on what was used, and the vote counts."""

    def __init__(self, store: Store, pred, models: list[str], wanted: set[str], required: set[str]):
        self.store, self.pred, self.models = store, pred, models
        self.wanted, self.required = wanted, required
        self.scorers: dict = {}
        self.notes: list[str] = []
        self.counts: np.ndarray | None = None

    def _unavailable(self, source: str, why: str) -> None:
        if source in self.required:
            raise InputError(f"source {source}: {why}")
        self.notes.append(f"{source}: not used ({why})")

    def add_models(self, k: int) -> None:
        from misclass.analysis.label_sources import model_scores

        if "models" not in self.wanted:
            return
        if not self.models:
            return self._unavailable("models", "the store holds no models (predictors of kind model)")
        topk = self.pred.topk[:, [self.pred.index(m) for m in self.models], :]
        c = self.store.n_classes
        self.scorers["models"] = lambda y, flag=True: model_scores(y, topk, n_classes=c, k=k)

    def add_cleanlab(self, chosen: list[str] | None) -> None:
        from misclass.analysis.label_sources import mean_probabilities, probability_scores

        if "cleanlab" not in self.wanted:
            return
        s = self.store
        with_probs = [m for m in self.models if s.model_metadata(m).get("has_probs")]
        if chosen is not None:
            missing = [m for m in chosen if m not in with_probs]
            if missing:
                raise InputError(f"--probs: {', '.join(missing)}: not a model of the store with stored "
                                 f"probabilities (those are: {', '.join(with_probs) or 'none'})")
        chosen = chosen if chosen is not None else with_probs
        if not chosen:
            return self._unavailable("cleanlab", "no model stored probabilities (misclass predict "
                                     "--save-probs)")
        mean = mean_probabilities([s.read_probs(m) for m in chosen])
        self.scorers["cleanlab"] = lambda y, flag=True: probability_scores(y, mean, flag=flag)
        self.notes.append(f"cleanlab: mean probabilities of {', '.join(chosen)}")

    def add_votes(self, votes) -> None:
        from misclass.analysis.label_sources import check_vote_counts, vote_scores
        from misclass.workflows.label_inputs import read_vote_file, store_vote_counts

        if "votes" not in self.wanted:
            return
        s = self.store
        n, c = s.n_samples, s.n_classes
        if isinstance(votes, np.ndarray):
            counts = check_vote_counts(votes, n, c, "votes")
        elif votes is not None:
            counts = read_vote_file(votes, n, c)
        else:
            counts, vote_names = store_vote_counts(s)
            if vote_names:
                self.notes.append(f"votes: from {', '.join(vote_names)}")
        if counts is None:
            return self._unavailable("votes", "no votes (misclass import votes FILE.npy, or --votes "
                                     "FILE.npy)")
        self.counts = counts
        self.scorers["votes"] = lambda y, flag=True: vote_scores(y, counts)

    def add_review(self, db: str | None):
        from misclass.analysis.label_sources import review_scores
        from misclass.workflows.label_inputs import review_inputs

        if "review" not in self.wanted:
            return None
        try:
            review = review_inputs(self.store, db, required="review" in self.required)
        except MissingExtraError as exc:  # a review database, but not the extra to read it
            if "review" in self.required:
                raise
            self._unavailable("review", str(exc))
            return None
        if review is not None:
            self.scorers["review"] = lambda y, flag=True: review_scores(y, review.votes)
            self.notes.append(f"review: {review.n_reviewed:,} reviewed images in {review.url}")
        return review


def _people_check(found: dict[str, SourceScores], counts: np.ndarray | None,
                  labels: np.ndarray) -> PeopleCheck | None:
    """Review decisions when anyone reviewed (the label judged wrong: more "wrong" votes and
    flags than "correct" ones), else votes (most people chose another class)."""
    if "review" in found and found["review"].has_score.any():
        r = found["review"]
        return PeopleCheck("review", r.has_score, r.has_score & (r.logit > 0))
    if counts is not None:
        total = counts.sum(axis=1)
        checked = (total > 0) & (labels >= 0)
        given = counts[np.arange(len(labels)), np.maximum(labels, 0)]
        return PeopleCheck("votes", checked, checked & (2 * given < total))
    return None
