"""The explore app's questions about a store: which images match a query, in which order, and
what each predictor said about one image.

:func:`explore` gives an :class:`Explorer` over a store. It loads the predictions once and
keeps them while the store's files are unchanged (a new model, new labels or a review export
reload them on the next call), so a query over 50,000 images and seven models is a few
vectorised passes (:mod:`misclass.analysis.query`). Queries are the URL parameters of
``GET /api/images`` as a mapping (see :data:`QUERY_PARAMS`); every bad one is one
:class:`QueryError` naming the parameter and what was expected.

>>> import misclass, tempfile, numpy as np, pandas as pd
>>> labels = {"a": 0, "b": 1, "c": 2, "d": 0}
>>> samples = pd.DataFrame({"sample_id": list(labels), "label": list(labels.values())})
>>> s = misclass.Store.create(tempfile.mkdtemp() + "/s", samples=samples,
...                           classes=pd.DataFrame({"name": ["cat", "dog", "frog"]}))
>>> for name, top1 in {"x": [0, 1, 1, 2], "y": [0, 0, 2, 2]}.items():
...     s.write_model(name, np.array(top1)[:, None])
>>> ex = explore(s)
>>> ex.query({"wrong": "y", "right": "x"}).to_dict()
{'total': 1, 'sample_ids': ['b']}
>>> ex.query({"true": "cat", "pred": "frog", "model": ["x"]}).sample_ids
['d']
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from misclass.analysis.query import ImageFilter, filter_mask, in_range, nearest_neighbours, order_images
from misclass.errors import InputError
from misclass.workflows.common import as_store, json_ready
from misclass.workflows.explore_params import (
    ERASURE_OUTCOMES,
    FAILURE_SCORES,
    FLAGS,
    HUMAN_SCORES,
    LABEL_ISSUE,
    MAX_LIMIT,
    QUERY_PARAMS,
    REVIEW_STATES,
    NotFoundError,
    QueryError,
    flag_value,
    multi_params,
    number_value,
    one_value,
    whole_value,
)
from misclass.workflows.explore_snapshot import Snapshot, fingerprint

if TYPE_CHECKING:
    from misclass.store import Store

__all__ = ["QUERY_PARAMS", "Explorer", "NotFoundError", "ParsedQuery", "QueryError", "QueryResult", "explore"]

@dataclass(frozen=True)
class QueryResult:
    """The matches of a query: ``total`` and the store rows of the page asked for."""

    total: int
    indices: np.ndarray
    sample_ids: list[str]
    offset: int
    items: list[dict] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"total": self.total, "sample_ids": self.sample_ids}
        if self.items is not None:
            out["offset"] = self.offset
            out["items"] = self.items
        return out


@dataclass(frozen=True)
class ParsedQuery:
    """A query with names resolved: the filter, the sort key and the page."""

    filter: ImageFilter
    sort: str
    descending: bool
    offset: int
    limit: int
    show: tuple[int, ...]
    items: bool


def explore(store: Store | str | os.PathLike, *, review_marks=None, review_db: str | None = None) -> Explorer:
    """An :class:`Explorer` over ``store`` (a :class:`~misclass.store.Store` or a path).

    ``review_marks``: a callable giving ``{state: (N,) bool}`` for :data:`REVIEW_STATES` from
    the review database (the app passes one); without it ``review=`` is refused.
    ``review_db``: the SQLAlchemy URL of the review database whose decisions the label-issue
    scores read (default, as ``misclass label-issues``: the store's ``annotations.sqlite``).
    """
    return Explorer(as_store(store), review_marks=review_marks, review_db=review_db)


class Explorer:
    """Queries, image details and summaries over one store (see the module docstring)."""

    def __init__(self, store: Store, *, review_marks=None, review_db: str | None = None):
        self.store = store
        self.review_marks = review_marks
        self.review_db = review_db
        self._lock = threading.Lock()
        self._snap: Snapshot | None = None
        self._stamp: tuple | None = None

    # ------------------------------------------------------------------ data
    def warm(self) -> Explorer:
        """Load the store now (predictions, class groups, which scores exist), not on the
        first query; returns the explorer."""
        d = self.data
        for _ in (d.groups, d.table.wrong, d.table.n_wrong, d.table.unanimous, d.index_of):
            pass  # cached properties, computed here
        self.score_keys()
        return self

    @property
    def data(self) -> Snapshot:
        """The current snapshot, reloaded when the store's files changed."""
        stamp = fingerprint(self.store)
        with self._lock:
            if self._snap is None or stamp != self._stamp:
                self._snap, self._stamp = Snapshot(self.store), stamp
            return self._snap

    @property
    def n(self) -> int:
        return self.data.table.n

    def index_of(self, sample_id: str) -> int:
        """The store row of ``sample_id`` (:class:`NotFoundError` when there is none)."""
        i = self.data.index_of.get(str(sample_id))
        if i is None:
            raise NotFoundError(f"image {str(sample_id)[:200]!r}: no such sample id in the store")
        return i

    def predictor(self, name: str, where: str = "model") -> int:
        """The column of a predictor (a :class:`QueryError` naming the known ones)."""
        models = self.data.pred.models
        if name in models:
            return models.index(name)
        shown = ", ".join(models[:20]) + (", ..." if len(models) > 20 else "")
        raise QueryError(f"{where}={name[:200]!r}: no such model in the store; models: {shown or 'none'}")

    def class_index(self, token: str, where: str) -> int:
        try:
            return self.data.resolve_class(token, where)
        except QueryError:
            raise
        except InputError as exc:
            raise QueryError(str(exc)) from None

    # ------------------------------------------------------------------ scores
    def score_keys(self) -> dict[str, str | None]:
        """Every sort/score key the store could have: key -> None when available, else why not
        (found without computing the scores)."""
        from misclass.analysis.failure_scores import SCORES

        d = self.data
        with d.lock:
            if d.keys is None:
                out: dict[str, str | None] = {"index": None, "label": None, "sample_id": None}
                for m in d.pred.models:
                    inputs = self._inputs(d, m)
                    for s in FAILURE_SCORES:
                        out[f"{s}:{m}"] = SCORES[s].available(inputs)
                for key in HUMAN_SCORES:
                    out[key] = None if d.votes else "needs people's votes (misclass import votes)"
                    for m in d.votes:
                        out[f"{key}:{m}"] = None
                out[LABEL_ISSUE] = self._label_issue_available(d)
                d.keys = out
            keys = dict(d.keys)
        if d.label_issues is not None and keys[LABEL_ISSUE] is None:  # computed: its own answer
            value = d.label_issues[1]
            keys[LABEL_ISSUE] = value if isinstance(value, str) else None
        return keys

    @staticmethod
    def _label_issue_available(d: Snapshot) -> str | None:
        """Why the store cannot give label-issue scores, found without computing them (None:
        it can, unless the computation itself says otherwise)."""
        if not d.table.known.any():
            return "needs given labels: no image of this store has one"
        if not d.models and not d.votes:
            return "needs the predictions of a model or people's votes (misclass import votes)"
        return None

    def label_issues(self):
        """The store's :func:`misclass.label_issues` with its defaults (the numbers of
        ``misclass label-issues --json``), the review source read from ``review_db``; or why
        the store cannot give them (a str). Computed once per snapshot and state of the review
        database: later queries reuse it."""
        d = self.data
        why = self.score_keys()[LABEL_ISSUE]
        if d.label_issues is None and why is not None:
            return why
        stamp = self._review_stamp()
        with d.label_lock:
            if d.label_issues is None or d.label_issues[0] != stamp:
                from misclass.workflows.label_issues import label_issues

                try:
                    value = label_issues(self.store, db=self.review_db)
                except InputError as exc:
                    value = str(exc)
                d.label_issues = (stamp, value)
            return d.label_issues[1]

    def _review_stamp(self) -> tuple:
        """Sizes and modification times of the review database's files (SQLite; its WAL file
        changes with each decision), so new decisions give new label-issue scores."""
        if self.review_db is None:
            path = str(self.store.layout.annotations)
        elif self.review_db.startswith("sqlite:///"):
            path = self.review_db[len("sqlite:///"):]
        else:
            return (self.review_db,)  # a database server: read once per snapshot
        out = []
        for name in (path, path + "-wal"):
            try:
                st = os.stat(name)
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return tuple(out)

    def _inputs(self, d: Snapshot, model: str):
        """The failure-score inputs of ``model`` (:func:`misclass.gather.score_inputs`, as the
        failure workflow reads them), once per snapshot."""
        if model not in d.inputs:
            from misclass.gather import score_inputs

            d.inputs[model] = score_inputs(self.store, d.pred, model)
        return d.inputs[model]

    def score(self, key: str, where: str = "sort") -> np.ndarray:
        """The (N,) values of a score key (a :class:`QueryError` saying why it is not available)."""
        value = self._score(key, where)
        if isinstance(value, str):
            raise QueryError(f"{where}={key[:200]!r}: {value}")
        return value

    def _score(self, key: str, where: str = "sort") -> np.ndarray | str:
        d = self.data
        if key == "index":
            return np.arange(d.table.n, dtype=np.float64)
        if key == "label":
            return d.table.labels.astype(np.float64)
        if key == "sample_id":
            return d.sample_id_rank
        if key == LABEL_ISSUE:
            res = self.label_issues()
            return res if isinstance(res, str) else res.combined.score
        with d.lock:
            if key not in d.scores:
                d.scores[key] = self._compute_score(d, key, where)
            return d.scores[key]

    def _compute_score(self, d: Snapshot, key: str, where: str) -> np.ndarray | str:
        name, _, model = key.partition(":")
        if name in HUMAN_SCORES:
            if not d.votes:
                return "needs people's votes (misclass import votes): this store has none"
            source = model or next(iter(d.votes))
            if source not in d.votes:
                raise QueryError(f"{where}={key[:200]!r}: {source!r} is not a predictor imported from "
                                 f"votes; those are {', '.join(d.votes)}")
            v = d.votes[source]
            if name == "human_agreement":
                per = v["per_image"]
                if per is None or "top_share" not in per.columns:
                    return f"{source} has no per-image vote shares (top_share)"
                return per["top_share"].to_numpy(dtype=np.float64)
            shares = v["shares"]
            if shares is None:
                return f"{source} has no stored vote shares (probs)"
            labels = d.table.labels
            out = np.full(d.table.n, np.nan)
            known = labels >= 0
            out[known] = np.asarray(shares[np.flatnonzero(known), labels[known]], dtype=np.float64)
            return out
        if name not in FAILURE_SCORES or not model:
            keys = ", ".join(["index", "label", "sample_id", *(f"{s}:MODEL" for s in FAILURE_SCORES),
                              *HUMAN_SCORES, LABEL_ISSUE])
            raise QueryError(f"{where}={key[:200]!r}: not a score; expected one of {keys}")
        self.predictor(model, where)
        from misclass.analysis.failure_scores import compute_scores

        values, skipped = compute_scores(self._inputs(d, model), np.zeros(0, dtype=np.int64),
                                         np.arange(d.table.n), [name])
        if name not in values:
            return skipped[name]
        return values[name]

    # ------------------------------------------------------------------ queries
    def parse(self, params: Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]]) -> ParsedQuery:
        """Check and resolve a query (see :data:`QUERY_PARAMS`)."""
        q = multi_params(params)
        unknown = sorted(set(q) - set(QUERY_PARAMS))
        if unknown:
            raise QueryError(f"unknown query parameter {unknown[0][:100]!r}; expected one of "
                             f"{', '.join(QUERY_PARAMS)}")
        d = self.data
        kw: dict[str, Any] = {}
        kw["right"] = tuple(self.predictor(m, "right") for m in q.get("right", []))
        kw["wrong"] = tuple(self.predictor(m, "wrong") for m in q.get("wrong", []))
        for flag in FLAGS:
            kw[flag] = flag_value(q, flag)
        if "true" in q:
            kw["true"] = tuple(self.class_index(c, "true") for c in q["true"])
        by = tuple(self.predictor(m, "model") for m in q.get("model", [])) or None
        if "pred" in q:
            kw["pred"] = tuple(self.class_index(c, "pred") for c in q["pred"])
        kw["pred_by"] = by
        if "pair" in q:
            kw["pair"] = self._pair(q["pair"])
        masks = []
        if "group" in q:
            members = np.zeros(len(d.names), dtype=bool)
            for g in q["group"]:
                if g not in d.groups:
                    known = ", ".join(sorted(d.groups)[:30]) or "none (no group column, not ImageNet-1k)"
                    raise QueryError(f"group={g[:200]!r}: no such group of classes; groups: {known}")
                members |= d.groups[g]
            labels = d.table.labels
            masks.append((labels >= 0) & members[np.maximum(labels, 0)])
        masks += self._score_masks(q)
        if "review" in q:
            masks.append(self._review_mask(one_value(q, "review")))
        if "erasure" in q:
            masks.append(self._erasure_mask(one_value(q, "erasure"), by))
        sort = one_value(q, "sort") if "sort" in q else "index"
        descending = sort.startswith("-")
        sort = sort[1:] if descending else sort
        self.score(sort, "sort")  # refuses unknown and unavailable keys
        offset = whole_value(q, "offset", 0, 0, None)
        limit = whole_value(q, "limit", 100, 0, MAX_LIMIT)
        include = one_value(q, "include") if "include" in q else ""
        if include not in ("", "items"):
            raise QueryError(f"include={include[:100]!r}: expected items")
        show = tuple(self.predictor(m, "show") for m in q.get("show", []))
        if not show:  # the predictors the query names, else the first two
            named = [*kw["right"], *kw["wrong"], *(by or ())]
            show = tuple(dict.fromkeys(named)) or tuple(range(min(2, len(d.pred.models))))
        return ParsedQuery(ImageFilter(masks=tuple(masks), **kw), sort, descending, offset, limit, show,
                           include == "items")

    def _pair(self, values: list[str]) -> tuple[int, int]:
        if len(values) == 1 and "," in values[0]:
            try:
                self.class_index(values[0], "pair")
            except QueryError:
                values = [v.strip() for v in values[0].split(",")]
        if len(values) != 2:
            raise QueryError(f"pair: expected two classes (pair=C,D or pair=C&pair=D), got {len(values)}")
        return self.class_index(values[0], "pair"), self.class_index(values[1], "pair")

    def _score_masks(self, q: dict[str, list[str]]) -> list[np.ndarray]:
        if "score" not in q:
            if "min" in q or "max" in q:
                raise QueryError("min and max bound a score: give score=KEY too")
            return []
        key = one_value(q, "score")
        values = self.score(key, "score")
        low, high = number_value(q, "min"), number_value(q, "max")
        return [in_range(values, low, high)]

    def _review_mask(self, state: str) -> np.ndarray:
        if state not in REVIEW_STATES:
            raise QueryError(f"review={state[:100]!r}: expected one of {', '.join(REVIEW_STATES)}")
        if self.review_marks is None:
            raise QueryError("review: review states need the review database (serve the store with "
                             "misclass app)")
        return np.asarray(self.review_marks()[state], dtype=bool)

    def _erasure_mask(self, outcome: str, by: tuple[int, ...] | None) -> np.ndarray:
        if outcome not in ERASURE_OUTCOMES:
            raise QueryError(f"erasure={outcome[:100]!r}: expected one of {', '.join(ERASURE_OUTCOMES)}")
        d = self.data
        if not d.explain:
            raise QueryError("erasure: this store has no explain runs (misclass explain --model M)")
        names = [d.pred.models[j] for j in by] if by else list(d.explain)
        missing = [m for m in names if m not in d.explain]
        if missing:
            raise QueryError(f"erasure: no explain run of {missing[0]!r}; explained: {', '.join(d.explain)}")
        mask = np.zeros(d.table.n, dtype=bool)
        for m in names:
            rows = [i for i, rec in d.explain[m]["rows"].items() if rec.get("outcome") == outcome]
            mask[rows] = True
        return mask

    def query(self, params: Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]]) -> QueryResult:
        """The total and one page of the images that match ``params``."""
        p = self.parse(params)
        return self.run(p)

    def _sort_key(self, key: str) -> np.ndarray:
        """What ``sort=key`` orders by: the score, except label_issue, which orders by its
        log-odds (as ``misclass label-issues`` ranks; scores near 1 are equal in float64)."""
        if key == LABEL_ISSUE:
            res = self.label_issues()
            if not isinstance(res, str):
                return res.combined.logit
        return self.score(key)

    def run(self, p: ParsedQuery) -> QueryResult:
        """The total and page of a parsed query."""
        d = self.data
        key = None if p.sort == "index" and not p.descending else self._sort_key(p.sort)
        order = order_images(filter_mask(d.table, p.filter), key, descending=p.descending)
        page = order[p.offset:p.offset + p.limit]
        items = self.items(page, p.show) if p.items else None
        return QueryResult(len(order), page, d.sample_ids[page].tolist(), p.offset, items)

    def items(self, rows: np.ndarray, show: Sequence[int]) -> list[dict]:
        """Grid tiles: each row's sample id, store index, label and the ``show`` predictors' top-1."""
        d = self.data
        labels, top1 = d.table.labels[rows], d.pred.top1[rows]
        out = []
        for k, i in enumerate(rows.tolist()):
            lab = int(labels[k])
            preds = []
            for j in show:
                c = int(top1[k, j])
                preds.append({"model": d.pred.models[j], "class": c, "name": d.names[c] if c >= 0 else None,
                              "right": lab >= 0 and c == lab})
            out.append({"index": i, "sample_id": str(d.sample_ids[i]), "label": lab,
                        "label_name": d.names[lab] if lab >= 0 else None, "predictions": preds})
        return out

    # ------------------------------------------------------------------ one image
    def image(self, sample_id: str) -> dict[str, Any]:
        """Every predictor's top-k with probabilities, votes and explain outcomes of one image."""
        d = self.data
        i = self.index_of(sample_id)
        lab = int(d.table.labels[i])
        preds = []
        for j, m in enumerate(d.pred.models):
            k = int(d.pred.k[j])
            ids = d.pred.topk[i, j, :k]
            probs = None if d.pred.topk_probs is None else d.pred.topk_probs[i, j, :k]
            top = [{"class": int(c), "name": d.names[c] if c >= 0 else None,
                    "prob": None if probs is None or math.isnan(float(probs[r])) else float(probs[r])}
                   for r, c in enumerate(ids) if c >= 0]
            preds.append({"model": m, "kind": d.kinds[m], "top1": int(ids[0]) if k else -1,
                          "right": bool(d.table.correct[i, j]), "wrong": bool(d.table.wrong[i, j]),
                          "topk": top})
        votes = {}
        for m, v in d.votes.items():
            entry: dict[str, Any] = {}
            if v["per_image"] is not None:
                entry.update({c: v["per_image"][c].iloc[i] for c in v["per_image"].columns})
            if v["shares"] is not None:
                row = np.asarray(v["shares"][i], dtype=np.float64)
                top = np.flatnonzero(row > 0)
                top = top[np.argsort(-row[top], kind="stable")]
                entry["shares"] = [{"class": int(c), "name": d.names[c], "share": float(row[c])} for c in top]
            votes[m] = entry
        erasure = []
        for m, run in d.explain.items():
            rec = run["rows"].get(i)
            if rec is not None:
                erasure.append({"model": m, "method": run["method"], **rec,
                                "saliency": str(d.sample_ids[i]) in run["triplets"]})
        return json_ready({
            "index": i, "sample_id": str(d.sample_ids[i]), "label": lab,
            "label_name": d.names[lab] if lab >= 0 else None, "predictions": preds, "votes": votes,
            "erasure": erasure, "features": [m for m in d.pred.models if self._has_features(m)],
            "label_issue": self._label_issue(i),
        })

    def _label_issue(self, i: int) -> dict[str, Any]:
        """Image ``i``'s label-issue scores: the entry of ``misclass label-issues --json`` with
        its rank, class names, each source's weight and ``of`` (images scored); or
        ``{"unavailable": why}``."""
        res = self.label_issues()
        if isinstance(res, str):
            return {"unavailable": res}
        entry = res.issue(i)
        if entry is None:
            return {"unavailable": "the image has no given label, so no label-issue score"}
        names = self.data.names
        for name, src in entry["sources"].items():
            src["suggested_name"] = names[src["suggested"]] if src["suggested"] >= 0 else None
            src["weight"] = res.weights.weight(name)
        entry.update(of=res.n_scored, given_name=names[entry["given"]],
                     suggested_name=names[entry["suggested"]] if entry["suggested"] >= 0 else None)
        return entry

    def _has_features(self, model: str) -> bool:
        return self.store.layout.model(model, ".features.npy").is_file()

    def neighbours(self, sample_id: str, model: str, k: int = 12) -> dict[str, Any]:
        """The ``k`` images nearest to ``sample_id`` by cosine distance in ``model``'s stored
        features, with their labels and that model's top-1."""
        d = self.data
        i = self.index_of(sample_id)
        j = self.predictor(model, "model")
        if not 1 <= k <= 100:
            raise QueryError(f"k={k}: expected 1..100")
        features = self.store.read_features(model)
        if features is None:
            raise NotFoundError(f"model {model!r} has no stored features (misclass predict --save-features)")
        idx, dist = nearest_neighbours(features, i, k)
        items = self.items(idx, [j])
        for item, dd in zip(items, dist.tolist(), strict=True):
            item["distance"] = dd
        return {"sample_id": str(d.sample_ids[i]), "model": model, "metric": "cosine", "neighbours": items}

    def saliency(self, model: str, sample_id: str) -> dict[str, np.ndarray]:
        """The saved original, saliency map and erased image of an explained image."""
        d = self.data
        run = d.explain.get(model)
        k = None if run is None else run["triplets"].get(str(sample_id))
        if k is None:
            raise NotFoundError(f"no saliency map of {str(sample_id)[:200]!r} for model {model[:200]!r} "
                                "(misclass explain keeps maps of a few images per run)")
        return {name: run["arrays"][name][k] for name in ("original", "saliency", "erased")}

    # ------------------------------------------------------------------ summaries
    def summary(self, *, classes: int = 20, pairs: int = 20) -> dict[str, Any]:
        """What the clickable summaries show, for the predictors of kind model: each model's
        confusion counts over at most ``classes`` classes (all of them when there are so few;
        else the most confused), the PCR matrix of :func:`misclass.compare` and the top
        confusion pairs. Each cell and row carries the query that opens exactly its images."""
        from misclass.analysis.confusion import analyze_confusion

        d = self.data
        models = list(d.models)
        if not models:
            return {"models": [], "classes": [], "confusion": {}, "pcr": None, "top_pairs": []}
        cols = [d.pred.models.index(m) for m in models]
        conf = analyze_confusion(d.table.labels, d.pred.top1[:, cols], models, len(d.names),
                                 class_names=d.names)
        shown = (np.arange(len(d.names)) if len(d.names) <= classes else np.sort(conf.most_confused(classes)))
        confusion = {}
        for m, mc in conf.models.items():
            counts = mc.count_at(np.repeat(shown, len(shown)), np.tile(shown, len(shown)))
            confusion[m] = counts.reshape(len(shown), len(shown)).tolist()
        pcr = None
        if len(models) >= 2:
            import misclass

            res = misclass.compare(self.store, models=models, k=2, ensembles=False)
            pcr = res.correction_rate().to_numpy().tolist()
        top = conf.top_pairs(pairs)
        rows = [{"true": int(r["true"]), "predicted": int(r["predicted"]), "true_name": r["true_name"],
                 "predicted_name": r["predicted_name"], "total": int(r["total"]),
                 "per_model": {m: int(r[m]) for m in models}} for r in top.to_dict("records")]
        return json_ready({
            "models": models, "classes": [{"index": int(c), "name": d.names[c]} for c in shown],
            "all_classes": len(shown) == len(d.names), "n_classes": len(d.names), "confusion": confusion,
            "pcr": pcr, "top_pairs": rows})
