import json
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from misclass import InputError, Store, StoreError, open_store


def test_load_arrays(small_store):
    pred = small_store.load()
    assert pred.models == ("a", "b")
    assert pred.topk.shape == (6, 2, 2)
    assert pred.topk[:, 1, 1].tolist() == [-1] * 6  # model b stored k=1: padded
    assert pred.k.tolist() == [2, 1]
    assert pred.top1.tolist() == [[0, 0], [1, 0], [1, 0], [1, 1], [2, 2], [0, 2]]
    assert pred.correct.sum(axis=0).tolist() == [4, 5]
    assert np.isnan(pred.topk_probs[:, 1]).all()
    assert pred.topk_probs[0, 0].tolist() == pytest.approx([0.7, 0.2])


def test_unknown_label_is_never_correct(tmp_path):
    s = Store.create(tmp_path / "s", samples=pd.DataFrame({"sample_id": ["a", "b"], "label": [-1, 1]}),
                     classes=pd.DataFrame({"name": ["x", "y"]}))
    s.write_model("m", np.array([[0], [1]]))
    assert s.load().correct[:, 0].tolist() == [False, True]
    assert s.model_metadata("m")["top1"] == 1.0


def test_model_files_are_readable_without_misclass(small_store):
    df = pd.read_parquet(small_store.model_path("a"))
    assert list(df.columns) == ["sample_id", "topk_ids", "topk_probs"]
    assert df["topk_ids"].iloc[2].tolist() == [1, 2]
    assert df["sample_id"].tolist() == [f"s{i}" for i in range(6)]


def test_replace_is_explicit(small_store):
    with pytest.raises(StoreError, match="already in the store.*--replace"):
        small_store.write_model("a", np.zeros((6, 1), dtype=int))
    small_store.write_model("a", np.zeros((6, 1), dtype=int), replace=True)
    assert small_store.read_model("a").topk_ids.shape == (6, 1)
    assert small_store.read_model("a").topk_probs is None


@pytest.mark.parametrize("name", ["../x", "a b", "", ".hidden", "x/y"])
def test_names_must_be_file_safe(small_store, name):
    with pytest.raises(InputError, match="not file-safe"):
        small_store.write_model(name, np.zeros((6, 1), dtype=int))


def test_write_is_atomic_when_interrupted(small_store, monkeypatch):
    before = small_store.model_path("a").read_bytes()
    import pyarrow.parquet as pq

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(KeyboardInterrupt):
        small_store.write_model("a", np.ones((6, 1), dtype=int), replace=True)
    with pytest.raises(KeyboardInterrupt):
        small_store.write_model("c", np.ones((6, 1), dtype=int))
    monkeypatch.undo()
    assert small_store.model_path("a").read_bytes() == before
    assert small_store.model_names() == ["a", "b"]
    leftovers = [p for p in os.listdir(small_store.models_dir) if ".tmp-" in p]
    assert leftovers == []


def test_class_ids_out_of_range(small_store):
    with pytest.raises(InputError, match=r"row 2, topk_ids: class id 3 is out of range; expected 0..2"):
        small_store.write_model("c", np.array([[0], [3], [0], [0], [0], [0]]))
    assert not small_store.has_model("c")


def test_probs_and_features_roundtrip(small_store):
    probs = np.full((6, 3), 1 / 3)
    feats = np.arange(12, dtype=float).reshape(6, 2)
    small_store.write_model("p", np.zeros((6, 1), dtype=int), probs=probs, features=feats)
    assert small_store.read_probs("p").dtype == np.float32
    assert small_store.read_features("p").dtype == np.float32
    assert small_store.load(["p"]).probs("p").shape == (6, 3)
    assert small_store.read_features("p")[5].tolist() == [10.0, 11.0]
    meta = json.loads(small_store.model_path("p", ".json").read_text())
    assert meta["has_probs"] is True and meta["precision"] == "float32"


def test_half_precision_is_asked_for_and_recorded(small_store):
    probs = np.array([[0.5, 0.25, 0.25]] * 6)
    small_store.write_model("h", np.zeros((6, 1), dtype=int), probs=probs, logits=np.log(probs), half=True)
    assert small_store.read_probs("h").dtype == np.float16
    assert small_store.read_logits("h").dtype == np.float16
    assert small_store.model_metadata("h")["precision"] == "float16"
    assert small_store.load(["h"]).probs("h")[0].tolist() == [0.5, 0.25, 0.25]


def test_restrict_keeps_every_file_aligned(small_store):
    small_store.write_model("p", np.zeros((6, 1), dtype=int), probs=np.full((6, 3), 1 / 3))
    small_store.restrict(np.array([True, False, True, True, False, True]))
    pred = small_store.load()
    assert pred.sample_ids.tolist() == ["s0", "s2", "s3", "s5"]
    assert pred.top1[:, 0].tolist() == [0, 1, 1, 0]
    assert small_store.read_probs("p").shape == (4, 3)


def test_missing_store_and_model(tmp_path, small_store):
    with pytest.raises(StoreError, match="no misclass store here"):
        open_store(tmp_path / "nothing")
    with pytest.raises(StoreError, match="model 'zzz' is not in the store.*models: a, b"):
        small_store.load(["zzz"])


def test_update_labels_refuses_contradictions(small_store):
    with pytest.raises(InputError, match="label of sample 's0' is 1 but the store has 0"):
        small_store.update_labels(np.array([1, 0, 1, 1, 2, 2]), "x.csv")
    assert small_store.labels().tolist() == [0, 0, 1, 1, 2, 2]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=40))
def test_correct_matches_definition(tmp_path_factory, pairs):
    labels, preds = np.array(pairs).T
    s = Store.create(tmp_path_factory.mktemp("h") / "s",
                     samples=pd.DataFrame({"sample_id": [str(i) for i in range(len(labels))],
                                           "label": labels}),
                     classes=pd.DataFrame({"name": list("abcde")}))
    s.write_model("m", preds[:, None])
    pred = s.load()
    assert pred.correct[:, 0].tolist() == (labels == preds).tolist()
    assert 0 <= pred.correct.mean() <= 1
