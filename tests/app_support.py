"""Helpers for the explore app's tests: the store read with pandas alone (an independent count of
every filter), and the app on a copy of a store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd


def copy_store(src: Path, dst: Path) -> Path:
    """A copy of a store's files (not its review database, thumbnails or training runs)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("annotations.sqlite*", "thumbs", "training",
                                                              ".txn", ".lock", ".commit.lock"))
    return dst


class Frame:
    """A store as plain pandas: ``df`` has ``sample_id``, ``label`` and one top-1 column per
    predictor (read from the Parquet files, not through misclass)."""

    def __init__(self, path: Path):
        path = Path(path)
        samples = pd.read_parquet(path / "samples.parquet")
        self.classes = pd.read_parquet(path / "classes.parquet")
        self.df = samples[["sample_id", "label"]].copy()
        self.df["sample_id"] = self.df["sample_id"].astype(str)
        self.kinds = {}
        for f in sorted((path / "models").glob("*.parquet")):
            if f.name.endswith(".per_image.parquet"):
                continue
            name = f.name[: -len(".parquet")]
            ids = pd.read_parquet(f, columns=["topk_ids"])["topk_ids"]
            self.df[name] = [int(x[0]) for x in ids]
            meta = json.loads((path / "models" / f"{name}.json").read_text())
            self.kinds[name] = meta.get("kind", "model")
        self.predictors = list(self.kinds)
        self.models = [m for m, k in self.kinds.items() if k == "model"]
        self.path = path

    @property
    def known(self) -> pd.Series:
        return self.df["label"] >= 0

    def right(self, m: str) -> pd.Series:
        return self.known & (self.df[m] == self.df["label"])

    def wrong(self, m: str) -> pd.Series:
        return self.known & (self.df[m] != self.df["label"])

    def n_wrong(self) -> pd.Series:
        return sum(self.wrong(m).astype(int) for m in self.models)

    def ids(self, mask: pd.Series) -> list[str]:
        return self.df.loc[mask.to_numpy(), "sample_id"].tolist()

    def predicted_by_any(self, cls: int, models: list[str] | None = None) -> pd.Series:
        return self.df[models or self.models].eq(cls).any(axis=1)

    def confusions(self, model: str) -> pd.Series:
        """(true, predicted) -> images, off the diagonal, most first."""
        wrong = self.df[self.wrong(model)]
        return wrong.groupby(["label", model]).size().sort_values(ascending=False, kind="stable")


def all_ids(client, query: str) -> dict:
    """GET /api/images?QUERY with every match in one page."""
    r = client.get(f"/api/images?{query}{'&' if query else ''}limit=100000")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"total", "sample_ids"}
    assert body["total"] == len(body["sample_ids"])
    return body


def cosine_order(features: np.ndarray, i: int, k: int) -> list[int]:
    """The k rows nearest to row i by cosine distance, computed with scikit-learn."""
    from sklearn.metrics.pairwise import cosine_distances

    d = cosine_distances(features[i: i + 1].astype(np.float64), features.astype(np.float64))[0]
    d[i] = np.inf
    return np.argsort(d, kind="stable")[:k].tolist()
