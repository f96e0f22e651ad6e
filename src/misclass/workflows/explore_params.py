"""The parameters of an explore query (``GET /api/images?...``): their names and meaning,
the errors a bad one raises, and the checks that read one value.

>>> multi_params({"wrong": ["a", "b"], "limit": 5})
{'wrong': ['a', 'b'], 'limit': ['5']}
>>> whole_value({"limit": ["x"]}, "limit", 100, 0, 10)
Traceback (most recent call last):
...
misclass.workflows.explore_params.QueryError: limit='x': expected a whole number
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from misclass.errors import InputError

#: Every parameter of a query, with what it takes (the API's documentation and its errors).
QUERY_PARAMS = {
    "right": "a predictor that gets the image right (repeat for several)",
    "wrong": "a predictor that gets the image wrong (repeat for several)",
    "all_wrong": "1: every model gets the image wrong",
    "one_wrong": "1: exactly one model gets the image wrong",
    "all_right": "1: every model gets the image right",
    "disagree": "1: the models do not all predict the same class",
    "true": "the label: a class index, id or name (repeat: any of them)",
    "pred": "the top-1 prediction of a 'model' (default: any model): a class (repeat: any of them)",
    "model": "the predictor that 'pred', 'pair' and 'erasure' refer to (repeat: any of them)",
    "pair": "two classes C,D (or pair=C&pair=D): labelled C and predicted D, or the other way",
    "group": "a group of classes the label belongs to (repeat: any of them)",
    "score": "a score KEY to bound with 'min' and 'max' (see sort)",
    "min": "lowest value of 'score' (a number)",
    "max": "highest value of 'score' (a number)",
    "review": "reviewed, unreviewed or flagged (people's review decisions)",
    "erasure": "an outcome of erasing the salient pixels for 'model': fixed, moved, unchanged, broken, kept",
    "sort": "index, label, sample_id or a score KEY; -KEY sorts descending",
    "offset": "how many matches to skip (default 0)",
    "limit": f"how many sample ids to return (default 100, at most {100_000:,})",
    "show": "a predictor whose prediction each returned item shows (repeat; with include=items; "
            "default: the predictors the query names, else the first two)",
    "include": "items: also return each match's label and the 'show' predictors' top-1",
}
FLAGS = ("all_wrong", "one_wrong", "all_right", "disagree")
REVIEW_STATES = ("reviewed", "unreviewed", "flagged")
ERASURE_OUTCOMES = ("fixed", "moved", "unchanged", "broken", "kept")
#: Failure scores computed from one model's stored outputs (higher: more likely wrong); the
#: fitted ones (feature-space distances, class error rate) need a calibration split and stay
#: in ``misclass failure``.
FAILURE_SCORES = ("msp", "margin", "entropy", "gini", "doctor", "energy", "mc_entropy", "mc_mutual_info",
                  "mc_variance", "disagreement")
HUMAN_SCORES = {"human_agreement": "share of people's votes on the most voted class",
                "human_label_share": "share of people's votes on the dataset label"}
#: The combined score of :func:`misclass.label_issues` (how likely the given label is wrong).
LABEL_ISSUE = "label_issue"
MAX_LIMIT = 100_000
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


class QueryError(InputError):
    """A query parameter that is not what was expected (HTTP 400)."""


class NotFoundError(InputError):
    """An unknown image, or a model without the data asked for (HTTP 404)."""


def multi_params(params) -> dict[str, list[str]]:
    """Parameters as name -> list of values (a mapping of str or lists, or (name, value) pairs)."""
    items = params.items() if isinstance(params, Mapping) else params
    out: dict[str, list[str]] = {}
    for k, v in items:
        values = [v] if isinstance(v, str | int | float | bool) else list(v)
        for x in values:
            x = str(x)
            if len(x) > 500:
                raise QueryError(f"{str(k)[:100]}: {len(x)} characters; at most 500")
            out.setdefault(str(k), []).append(x)
    if sum(len(v) for v in out.values()) > 200:
        raise QueryError("more than 200 query parameters")
    return out


def one_value(q: dict[str, list[str]], name: str) -> str:
    """The one value of ``name`` (an error when it is given more than once)."""
    values = q[name]
    if len(values) != 1:
        raise QueryError(f"{name}: given {len(values)} times; give it once")
    return values[0].strip()


def flag_value(q: dict[str, list[str]], name: str) -> bool:
    """A 1/0 (true/false, yes/no, on/off) parameter; False when absent."""
    if name not in q:
        return False
    value = one_value(q, name).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise QueryError(f"{name}={value[:100]!r}: expected 1 or 0")


def whole_value(q: dict[str, list[str]], name: str, default: int, low: int, high: int | None) -> int:
    """A whole number in ``low..high`` (no upper bound when ``high`` is None), else ``default``."""
    if name not in q:
        return default
    value = _converted(q, name, int, "a whole number")
    if value < low or (high is not None and value > high):
        expected = f"at least {low}" if high is None else f"{low}..{high:,}"
        raise QueryError(f"{name}={value}: expected {expected}")
    return value


def number_value(q: dict[str, list[str]], name: str) -> float | None:
    """A number (not NaN), or None when absent."""
    if name not in q:
        return None
    value = _converted(q, name, float, "a number")
    if math.isnan(value):
        raise QueryError(f"{name}: expected a number, not NaN")
    return value


def _converted(q: dict[str, list[str]], name: str, convert, expected: str):
    text = one_value(q, name)
    try:
        return convert(text)
    except ValueError:
        raise QueryError(f"{name}={text[:100]!r}: expected {expected}") from None
