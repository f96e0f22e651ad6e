"""Real ensembles next to the oracle: how much of the oracle's headroom they capture.

For a set of models, the oracle (virtual accuracy) counts an image as right when any member
gets it right. Real ensembles have to decide without the label:

- majority vote over the members' top-1 (ties: the most accurate member among the tied);
- mean probability: the class with the highest mean probability, from full probabilities
  when every member has them, else from the stored top-k probabilities (classes outside a
  member's top-k count as 0 for it);
- a learned per-image selector: for each member a logistic regression predicts whether it is
  right from every member's confidence, how often it is right when it predicts that class
  (estimated on the training folds), and which members agree; each image takes the member
  most likely to be right. Cross-validated (k folds, seeded): every image is scored by a
  model that never saw it.

Each is reported as accuracy and as the share of the oracle's gain over the best single
member that it captures: ``(acc - best) / (oracle - best)``.

>>> import numpy as np
>>> labels = np.array([0, 1, 2, 3])
>>> top1 = np.array([[0, 0, 1], [1, 2, 1], [0, 2, 2], [0, 1, 2]])
>>> r = evaluate_ensembles(labels, top1, [0, 1, 2], models=["a", "b", "c"], selector=False)
>>> r.oracle, r.best_single_accuracy, r.majority_vote, r.share(r.majority_vote)
(0.75, 0.5, 0.75, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from misclass.analysis.blas import single_blas_thread
from misclass.errors import InputError

FOLDS = 5
SMOOTHING = 10.0
_CHUNK = 4096


@dataclass(frozen=True)
class EnsembleResult:
    """Oracle and real ensembles of one set of models (accuracies over labelled images).

    ``mean_probability`` / ``selector`` are None when they could not be computed; ``notes``
    says why and where an approximation was used; ``probability_source`` is ``"probs"``
    (full), ``"topk_probs"`` or None.
    """

    models: tuple[str, ...]
    n: int
    oracle: float
    best_single: str
    best_single_accuracy: float
    majority_vote: float
    mean_probability: float | None
    probability_source: str | None
    selector: float | None
    selector_features: tuple[str, ...] = ()
    folds: int = FOLDS
    seed: int = 0
    notes: tuple[str, ...] = field(default=())

    def share(self, accuracy: float | None) -> float | None:
        """Share of the oracle's gain over the best single member captured by ``accuracy``
        (None when the oracle gains nothing)."""
        gain = self.oracle - self.best_single_accuracy
        if accuracy is None or gain <= 0:
            return None
        return (accuracy - self.best_single_accuracy) / gain

    def to_dict(self) -> dict:
        def entry(acc, **extra):
            if acc is None:
                return None
            return {"accuracy": acc, "oracle_gain_captured": self.share(acc), **extra}

        return {
            "models": list(self.models),
            "n": self.n,
            "oracle_accuracy": self.oracle,
            "best_single": {"model": self.best_single, "accuracy": self.best_single_accuracy},
            "majority_vote": entry(self.majority_vote),
            "mean_probability": entry(self.mean_probability, source=self.probability_source),
            "selector": entry(self.selector, folds=self.folds, seed=self.seed,
                              features=list(self.selector_features)),
            "notes": list(self.notes),
        }


def majority_vote(top1: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """Plurality vote of each row of ``top1 (N, K)``; ties go to the tied class predicted by
    the member with the highest ``priority`` (K,), and among equal priorities the earlier.

    >>> majority_vote(np.array([[1, 2, 2], [1, 2, 3]]), np.array([3, 2, 1])).tolist()
    [2, 1]
    """
    top1 = np.asarray(top1)
    n, k = top1.shape
    votes = np.zeros((n, k), dtype=np.int64)
    for j in range(k):  # K x K comparisons of columns, vectorised over images
        votes += top1 == top1[:, j:j + 1]
    rank = np.empty(k, dtype=np.int64)  # 0 = lowest priority; equal priorities: the later lower
    rank[np.lexsort((-np.arange(k), np.asarray(priority)))] = np.arange(k)
    score = votes * k + rank[None, :]
    return top1[np.arange(n), np.argmax(score, axis=1)]


def _mean_probability_full(probs: Sequence[np.ndarray], rows: np.ndarray) -> np.ndarray:
    pred = np.empty(len(rows), dtype=np.int64)
    for start in range(0, len(rows), _CHUNK):
        idx = rows[start:start + _CHUNK]
        total = np.zeros((len(idx), probs[0].shape[1]), dtype=np.float32)
        for p in probs:
            total += np.asarray(p[idx], dtype=np.float32)
        pred[start:start + _CHUNK] = np.argmax(total, axis=1)
    return pred


def _probability_of(probs: np.ndarray, rows: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``probs[rows[i], classes[i]]`` (0 where the class is -1), read in chunks."""
    out = np.zeros(len(rows))
    for start in range(0, len(rows), _CHUNK):
        block = np.asarray(probs[rows[start:start + _CHUNK]], dtype=np.float64)
        cls = classes[start:start + _CHUNK]
        out[start:start + _CHUNK] = np.where(cls >= 0, block[np.arange(len(block)), np.maximum(cls, 0)], 0.0)
    return out


def _mean_probability_topk(ids: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``ids``, ``probs`` (N, K, k): the class with the highest summed top-k probability."""
    n = ids.shape[0]
    ids = ids.reshape(n, -1)
    probs = np.where(ids >= 0, np.nan_to_num(probs.reshape(n, -1), nan=0.0), 0.0)
    pred = np.empty(n, dtype=np.int64)
    for start in range(0, n, _CHUNK):
        i, p = ids[start:start + _CHUNK], probs[start:start + _CHUNK]
        score = ((i[:, :, None] == i[:, None, :]) * p[:, None, :]).sum(axis=2)
        score = np.where(i >= 0, score, -1.0)
        pred[start:start + _CHUNK] = i[np.arange(len(i)), np.argmax(score, axis=1)]
    return pred


def _precision_feature(pred: np.ndarray, right: np.ndarray, train: np.ndarray, n_keys: int):
    """How often the member is right when it predicts that class, from the training rows
    (leave-one-out on the training rows themselves), smoothed towards its accuracy."""
    key = pred + 1
    hits = np.bincount(key[train], weights=right[train], minlength=n_keys)
    count = np.bincount(key[train], minlength=n_keys).astype(np.float64)
    prior = right[train].mean()
    out = (hits[key] + SMOOTHING * prior) / (count[key] + SMOOTHING)
    out[train] = (hits[key[train]] - right[train] + SMOOTHING * prior) / (count[key[train]] - 1 + SMOOTHING)
    return out


def _selector(top1: np.ndarray, right: np.ndarray, conf: list[np.ndarray | None], names: Sequence[str],
              folds: int, seed: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Cross-validated choice of one member per image; returns (chosen member, feature names)."""
    from sklearn.model_selection import KFold

    n, k = top1.shape
    n_keys = int(top1.max()) + 2
    fixed, fixed_names = [], []
    for j in range(k):
        if conf[j] is not None:
            fixed.append(conf[j])
            fixed_names.append(f"confidence[{names[j]}]")
    votes = np.zeros((n, k))
    for j in range(k):
        for other in range(k):
            if other > j:
                eq = (top1[:, j] == top1[:, other]).astype(np.float64)
                fixed.append(eq)
                fixed_names.append(f"agree[{names[j]},{names[other]}]")
            votes[:, j] += top1[:, j] == top1[:, other]
    for j in range(k):
        fixed.append(votes[:, j] / k)
        fixed_names.append(f"vote_share[{names[j]}]")
    base = np.column_stack(fixed)
    feature_names = tuple(fixed_names) + tuple(f"precision_of_prediction[{x}]" for x in names)
    score = np.zeros((n, k))
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    # the fits are small: one BLAS thread is as fast, and far faster when cores are busy
    with single_blas_thread():
        _fit_folds(splitter.split(base), base, top1, right, n_keys, score)
    return np.argmax(score, axis=1), feature_names


def _fit_folds(splits, base: np.ndarray, top1: np.ndarray, right: np.ndarray, n_keys: int,
               score: np.ndarray) -> None:
    """Fill ``score[test, j]``: held-out probability that member j is right, fold by fold."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    n, k = top1.shape
    for train, test in splits:
        train_rows = np.sort(train)
        prec = np.column_stack([_precision_feature(top1[:, j], right[:, j].astype(np.float64),
                                                   train_rows, n_keys) for j in range(k)])
        x = np.hstack([base, prec])
        scaled = None  # the members share a fold's features: scale them once, as each pipeline would
        for j in range(k):
            y = right[train, j]
            if y.all() or not y.any():
                score[test, j] = float(y.mean())
                continue
            if scaled is None:  # float32: half the time of each Newton step, probabilities within 1e-5
                scaler = StandardScaler()
                scaled = (scaler.fit_transform(x[train]).astype(np.float32),
                          scaler.transform(x[test]).astype(np.float32))
            # = make_pipeline(StandardScaler(), FunctionTransformer(to float32), <this>)
            #   .fit(x[train], y).predict_proba(x[test])
            model = LogisticRegression(solver="newton-cholesky", max_iter=100)
            model.fit(scaled[0], y)
            score[test, j] = model.predict_proba(scaled[1])[:, 1]


def evaluate_ensembles(
    labels: np.ndarray,
    top1: np.ndarray,
    members: Sequence[int],
    *,
    models: Sequence[str],
    topk: np.ndarray | None = None,
    topk_probs: np.ndarray | None = None,
    probs: Mapping[str, np.ndarray | None] | None = None,
    selector: bool = True,
    folds: int = FOLDS,
    seed: int = 0,
) -> EnsembleResult:
    """Oracle, majority vote, mean probability and learned selector for one set of models.

    Parameters
    ----------
    labels : (N,) int, -1 unknown (left out)
    top1 : (N, M) int
    members : column indices of the models in the set
    models : M names
    topk, topk_probs : (N, M, k) ranked ids and probabilities (NaN where a model has none)
    probs : {name: (N, C) full probabilities or None}
    selector : whether to fit the learned selector
    folds, seed : cross-validation of the selector
    """
    labels = np.asarray(labels, dtype=np.int64)
    members = [int(j) for j in members]
    if not members:
        raise InputError("an ensemble needs at least one model")
    names = tuple(models[j] for j in members)
    rows = np.flatnonzero(labels >= 0)
    if len(rows) == 0:
        raise InputError("no image has a known label: ensembles need labels")
    y = labels[rows]
    t1 = np.asarray(top1)[rows][:, members]
    right = t1 == y[:, None]
    acc = right.mean(axis=0)
    best = int(np.argmax(acc))
    oracle = float(right.any(axis=1).mean())
    vote = float((majority_vote(t1, acc) == y).mean())
    notes: list[str] = []

    full = [None if probs is None else probs.get(x) for x in names]
    mean_prob, source = None, None
    has_topk = [topk_probs is not None and np.isfinite(topk_probs[rows, j, 0]).all() for j in members]
    if all(p is not None for p in full):
        mean_prob = float((_mean_probability_full(full, rows) == y).mean())
        source = "probs"
    elif all(has_topk) and topk is not None:
        sel = np.ix_(rows, members)
        mean_prob = float((_mean_probability_topk(topk[sel], topk_probs[sel]) == y).mean())
        source = "topk_probs"
        notes.append("mean probability uses each model's stored top-k probabilities (full "
                     "probabilities are absent); a class outside a model's top-k counts as 0")
    else:
        missing = [x for x, f, t in zip(names, full, has_topk, strict=True) if f is None and not t]
        which = "the models stored" if len(missing) == len(names) else f"{', '.join(missing)} stored"
        notes.append(f"no mean-probability ensemble: {which} no probabilities")

    chosen_acc, feature_names = None, ()
    if selector:
        if len(rows) < 2 * folds:
            notes.append(f"no learned selector: {len(rows)} labelled images are too few for {folds} folds")
        else:
            conf: list[np.ndarray | None] = []
            for j, x, f, t in zip(members, names, full, has_topk, strict=True):
                if t:
                    conf.append(topk_probs[rows, j, 0].astype(np.float64))
                elif f is not None:
                    conf.append(_probability_of(f, rows, t1[:, names.index(x)]))
                else:
                    conf.append(None)
            if all(c is None for c in conf):
                notes.append("the selector sees no confidences (no probabilities stored); it uses "
                             "each model's top-1: agreement and per-class precision")
            choice, feature_names = _selector(t1, right, conf, names, folds, seed)
            chosen_acc = float(right[np.arange(len(rows)), choice].mean())
    return EnsembleResult(names, len(rows), oracle, names[best], float(acc[best]), vote, mean_prob, source,
                          chosen_acc, feature_names, folds, seed, tuple(notes))
