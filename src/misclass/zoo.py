"""The builtin zoo: scikit-learn classifiers of different families, trained with a seed.

>>> sorted(ZOO)[:3]
['decision-tree', 'gradient-boosting', 'knn']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from misclass.errors import InputError
from misclass.importers.readers import topk_from_probs


@dataclass(frozen=True)
class ZooEntry:
    """A zoo model: its family and a constructor taking the seed."""

    family: str
    build: Callable[[int], ClassifierMixin]


ZOO: dict[str, ZooEntry] = {
    "logistic-regression": ZooEntry(
        "linear", lambda s: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))),
    "svm-rbf": ZooEntry(
        "kernel",
        lambda s: make_pipeline(StandardScaler(),
                                CalibratedClassifierCV(SVC(random_state=s), ensemble=False))),
    "knn": ZooEntry("neighbours", lambda s: KNeighborsClassifier(n_neighbors=5)),
    "decision-tree": ZooEntry("tree", lambda s: DecisionTreeClassifier(random_state=s)),
    "random-forest": ZooEntry(
        "forest", lambda s: RandomForestClassifier(n_estimators=200, random_state=s, n_jobs=1)),
    "gradient-boosting": ZooEntry(
        "boosting", lambda s: HistGradientBoostingClassifier(max_iter=100, random_state=s)),
    "naive-bayes": ZooEntry("naive Bayes", lambda s: GaussianNB()),
    "mlp": ZooEntry(
        "neural network",
        lambda s: make_pipeline(StandardScaler(),
                                MLPClassifier(hidden_layer_sizes=(64,), max_iter=800, random_state=s))),
}


@dataclass(frozen=True)
class ZooPrediction:
    """One trained zoo model's predictions on the test images."""

    name: str
    topk_ids: np.ndarray
    topk_probs: np.ndarray
    probs: np.ndarray
    metadata: dict


def train_zoo(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    *,
    n_classes: int,
    models: Sequence[str] | None = None,
    seed: int = 0,
    k: int = 5,
    on_done: Callable[[str], None] | None = None,
) -> list[ZooPrediction]:
    """Fit each zoo model on the training images and predict the test images.

    Images are flattened to vectors. Returns top-``k`` ids and probabilities and the full
    probabilities (N_test, n_classes) per model. ``on_done(name)`` is called after each model
    (for progress bars).
    """
    names = list(models) if models else list(ZOO)
    unknown = [m for m in names if m not in ZOO]
    if unknown:
        raise InputError(f"unknown zoo model(s) {unknown}; choose from {', '.join(ZOO)}")
    xtr = np.asarray(x_train, dtype=np.float64).reshape(len(x_train), -1)
    xte = np.asarray(x_test, dtype=np.float64).reshape(len(x_test), -1)
    out = []
    for name in names:
        clf = ZOO[name].build(seed)
        clf.fit(xtr, y_train)
        p = clf.predict_proba(xte)
        probs = np.zeros((len(xte), n_classes))
        probs[:, np.asarray(clf.classes_, dtype=np.int64)] = p
        ids, tp = topk_from_probs(probs, k)
        meta = {"source": "zoo", "family": ZOO[name].family, "estimator": repr(clf), "seed": seed,
                "n_train": len(xtr)}
        out.append(ZooPrediction(name, ids, tp, probs.astype(np.float32), meta))
        if on_done:
            on_done(name)
    return out
