"""The workflows that named their predictors ``model=`` (evaluate, shift, factors, failure,
models) take ``models=``, as compare, confusion and label_issues do; the old name still works
for one release, with a DeprecationWarning, and gives the same result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import misclass
from misclass.errors import InputError, MisclassError
from misclass.store import Store


def _store(path, seed: int) -> Store:
    rng = np.random.default_rng(seed)
    n = 120
    labels = rng.integers(0, 3, n)
    s = Store.create(path, samples=pd.DataFrame({"sample_id": [f"i{i}" for i in range(n)], "label": labels}),
                     classes=pd.DataFrame({"name": ["cat", "dog", "frog"]}))
    for name, right in (("a", 0.8), ("b", 0.6), ("c", 0.7)):
        top1 = np.where(rng.random(n) < right, labels, (labels + 1) % 3)
        p = rng.dirichlet(np.ones(3), n)
        p[np.arange(n), top1] += 1.0
        p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
        top = np.argsort(-p, axis=1)
        s.write_model(name, top, np.take_along_axis(p, top, axis=1), probs=p)
    return s


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("renamed")
    return _store(root / "a", 0), _store(root / "b", 1)


CALLS = {
    "evaluate": lambda s, t, **kw: misclass.evaluate(s, **kw),
    "shift": lambda s, t, **kw: misclass.shift(s, shifted_store=t, **kw),
    "failure": lambda s, t, **kw: misclass.failure(s, image_stats=False, **kw),
    "models": lambda s, t, **kw: misclass.models(s, **kw),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_model_is_the_old_name_of_models(stores, name):
    s, t = stores
    call = CALLS[name]
    new = call(s, t, models=["a", "c"]).to_dict()
    with pytest.warns(DeprecationWarning, match=rf"misclass\.{name}\(model=\.\.\.\) is renamed models="):
        old = call(s, t, model=["a", "c"]).to_dict()
    assert old == new
    assert new != call(s, t, models=["b"]).to_dict()  # the option is used
    with pytest.raises(InputError, match="not both models= and its old name model="):
        call(s, t, models=["a"], model=["a"])


def test_factors_takes_models_too(stores):
    s, _ = stores
    with pytest.raises(InputError, match="not both models= and its old name model="):
        misclass.factors(s, models=["a"], model=["a"])
    # not an ImageNet store: the old name warns, then the store is refused as it is without it
    with pytest.raises(MisclassError) as new:
        misclass.factors(s, models=["a"])
    with pytest.warns(DeprecationWarning, match="renamed models="), pytest.raises(MisclassError) as old:
        misclass.factors(s, model=["a"])
    assert str(old.value) == str(new.value)
