"""``misclass failure``: which images will fail, judged on held-out images, and the reject option.

:func:`failure` reads each chosen model's outputs from the store (probabilities, logits,
features, MC-dropout statistics) with the top-1 of *every other* model of the store (people's
answers left out: they would leak the label), so ``disagreement`` is there whichever models
are chosen, and runs
:func:`misclass.analysis.failure.analyze_failures`: every failure score and a learned
predictor, fitted on a calibration split and judged on the disjoint test split. With
``coverage`` it also chooses the reject rule (a threshold on one plain score) on the
calibration split. Its :class:`FailureResult` gives the JSON of ``misclass failure --json``
and the metrics as DataFrames indexed by model and score.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from misclass.analysis.failure_options import LEARNERS
from misclass.errors import InputError
from misclass.workflows.common import NOT_GIVEN, as_store, json_ready, per_image_predictors, renamed_models

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from misclass.analysis.failure import FailureAnalysis, RejectRule
    from misclass.store import Store

__all__ = ["LEARNERS", "FailureResult", "failure"]

#: ``progress(description, done, total)``: images with statistics, then models analysed
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FailureResult:
    """What ``misclass failure`` computes on a store, per analysed model.

    ``analyses`` holds each model's :class:`~misclass.analysis.failure.FailureAnalysis`
    (metrics on the test split, the test split's scores and errors); ``probability_sources``
    what its probability scores read; ``rejects`` the reject rule of each model (with
    ``coverage`` only) and ``rejected_files`` where its rejected sample ids were written.
    """

    store: str
    models: tuple[str, ...]
    sample_ids: np.ndarray
    analyses: dict[str, FailureAnalysis]
    probability_sources: dict[str, str | None]
    rejects: dict[str, RejectRule]
    rejected_files: dict[str, str]
    #: chosen predictors left out: expected accuracy, no per-image prediction to score
    left_out: tuple[str, ...] = ()

    @property
    def notes(self) -> tuple[str, ...]:
        """Why a chosen predictor is not analysed (one sentence each)."""
        from misclass.workflows.common import PerImagePredictors

        note = PerImagePredictors(list(self.models), self.left_out).note
        return (note,) if note else ()

    def to_dict(self) -> dict[str, Any]:
        """What ``misclass failure --json`` writes."""
        out: dict[str, Any] = {}
        for name in self.models:
            d = self.analyses[name].to_dict()
            d["probability_source"] = self.probability_sources[name]
            if name in self.rejects:
                d["reject"] = self.rejects[name].to_dict()
                if name in self.rejected_files:
                    d["reject"]["file"] = self.rejected_files[name]
            out[name] = d
        return json_ready({"models": out, "notes": list(self.notes), "left_out": list(self.left_out)})

    def metrics(self, model: str) -> dict:
        """``score name -> DetectionMetrics`` of ``model`` on the test split, the learned
        predictor last (as ``"learned"``) when it could be fitted."""
        res = self.analyses[model]
        return {**res.metrics, **({"learned": res.learned} if res.learned is not None else {})}

    def to_frame(self) -> pd.DataFrame:
        """One row per model and score (index ``model``, ``score``; the learned predictor as
        ``"learned"``), judged on the test split: ``n``, ``n_errors``, ``auroc``,
        ``aupr_error``, ``fpr95``, ``aurc``, ``eaurc``, ``selective_accuracy_<coverage>``
        (accuracy on the most confident share, e.g. ``selective_accuracy_0.90``) and
        ``undefined`` (why the ranking metrics are None, else None)."""
        import pandas as pd

        rows, index = [], []
        for name in self.models:
            for score, m in self.metrics(name).items():
                d = m.to_dict()
                sel = d.pop("selective_accuracy")
                undefined = d.pop("undefined")
                rows.append({**d, **{f"selective_accuracy_{c}": v for c, v in sel.items()},
                             "undefined": undefined})
                index.append((name, score))
        return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["model", "score"]))

    def skipped(self) -> pd.DataFrame:
        """The scores not computed (index ``model``, ``score``) and ``reason``: the input the
        store lacks."""
        import pandas as pd

        index = [(m, s) for m in self.models for s in self.analyses[m].skipped]
        return pd.DataFrame({"reason": [self.analyses[m].skipped[s] for m, s in index]},
                            index=pd.MultiIndex.from_tuples(index, names=["model", "score"]))

    def test_scores(self, model: str) -> pd.DataFrame:
        """Every score of ``model``'s test-split images (index ``sample_id``; higher: more
        likely wrong), the learned predictor's as ``learned``, and ``error`` (the prediction
        is wrong)."""
        import pandas as pd

        res = self.analyses[model]
        frame = pd.DataFrame(res.test_scores, index=pd.Index(self.sample_ids[res.test_index],
                                                             name="sample_id"))
        return frame.assign(error=res.test_errors)

    def rejected_ids(self, model: str) -> np.ndarray:
        """Sample ids the reject rule of ``model`` rejects (labelled or not; store order)."""
        if model not in self.rejects:
            raise InputError(f"no reject rule for {model!r}: call failure(..., coverage=...)")
        return self.sample_ids[self.rejects[model].rejected]


def _selected(store: Store, available: Sequence[str], model: str | Sequence[str] | None
              ) -> tuple[str, ...]:
    if model is None or len(model) == 0:
        return tuple(available)
    names = (model,) if isinstance(model, str) else tuple(model)
    if len(set(names)) != len(names):
        raise InputError(f"a model is named twice in {list(names)}")
    missing = [n for n in names if n not in available]
    if missing:
        raise InputError(f"model {missing[0]!r} is not in the store {store.path} (models: "
                         f"{', '.join(available) or 'none'})")
    return names


def _check_options(learner: str, calibration: float, coverage: float | None, score: str,
                   rejected, n_models: int) -> None:
    from misclass.analysis.failure_scores import SCORES

    if learner not in LEARNERS:
        raise InputError(f"--learner {learner!r}: expected one of {', '.join(LEARNERS)}")
    if not 0 < calibration < 1:
        raise InputError(f"--calibration {calibration}: expected a share between 0 and 1")
    if coverage is None:
        return
    if not 0 < coverage <= 1:
        raise InputError(f"--coverage {coverage}: expected a share in (0, 1]")
    if score not in SCORES or SCORES[score].fitted:
        plain = ", ".join(n for n, sc in SCORES.items() if not sc.fitted)
        raise InputError(f"--score {score!r}: the reject option takes one of {plain}")
    if rejected not in (True, False, None) and n_models > 1:
        raise InputError("--rejected names one file: pass a single --model")


def failure(
    store: Store | str | os.PathLike,
    *,
    models: str | Sequence[str] | None = None,
    calibration: float = 0.5,
    learner: str = "logistic",
    seed: int = 0,
    image_stats: bool = True,
    coverage: float | None = None,
    score: str = "msp",
    rejected: str | os.PathLike | bool = False,
    progress: Progress | None = None,
    model: str | Sequence[str] | None = NOT_GIVEN,
) -> FailureResult:
    """Score how likely each prediction is wrong and judge each score on held-out images, as
    ``misclass failure`` does.

    Parameters
    ----------
    store : a :class:`~misclass.store.Store` or the path of one
    models : the model(s) to analyse (default: every predictor with a per-image answer; an
        expected-accuracy one such as ``human-random`` is left out, named in ``notes``). The
        store's other models (kind ``"model"``, not people) are always read too:
        ``disagreement`` is the share of them that disagree. ``model=``, its old name, still
        works for one release, with a DeprecationWarning
    calibration : share of the labelled images in the calibration split (the rest: test)
    learner : the learned predictor, ``"logistic"`` or ``"boosting"``
    seed : seed of the calibration/test split (and of the learner)
    image_stats : use image statistics (brightness, sharpness, ...) as extra inputs of the
        learned predictor, where the store holds the images
    coverage : reject option: keep this share of images, the threshold chosen on the
        calibration split (None: no reject rule)
    score : the plain score the reject option thresholds (``"msp"``, ``"entropy"``, ...)
    rejected : with ``coverage``, write each model's rejected sample ids, one a line: False
        writes nothing, True writes ``<model>.rejected.txt`` in the current folder (what the
        command does), a path writes that file (one model only)
    progress : ``progress(description, done, total)``, called as image statistics are computed
        and as each model is analysed

    >>> import misclass, tempfile, numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 3, 200)
    >>> s = misclass.Store.create(tempfile.mkdtemp() + "/s",
    ...     samples=pd.DataFrame({"sample_id": [f"i{i}" for i in range(200)], "label": labels}),
    ...     classes=pd.DataFrame({"name": ["cat", "dog", "frog"]}))
    >>> p = rng.dirichlet(np.ones(3), 200).astype(np.float32)
    >>> top = np.argsort(-p, axis=1)
    >>> s.write_model("x", top, np.take_along_axis(p, top, axis=1))
    >>> s.write_model("y", np.where(rng.random(200) < 0.8, labels, (labels + 1) % 3)[:, None])
    >>> res = misclass.failure(s, models="x", coverage=0.8)
    >>> res.models, "disagreement" in res.analyses["x"].metrics
    (('x',), True)
    >>> frame = res.to_frame()
    >>> list(frame.index.names), int(frame.loc[("x", "msp"), "n"])
    (['model', 'score'], 100)
    >>> res.to_dict()["models"]["x"]["reject"]["coverage_target"]
    0.8
    """
    import numpy as np

    from misclass.analysis.failure import analyze_failures, reject_rule
    from misclass.analysis.failure_scores import compute_scores
    from misclass.gather import score_inputs, store_image_statistics

    model = renamed_models("failure", models, model)
    s = as_store(store)
    # every predictor with a per-image answer; the other models (kind "model") give each chosen
    # one its disagreement score
    pred = s.load(per_image_predictors(s).names)
    chosen = per_image_predictors(s, model) if model else None
    names = _selected(s, pred.models, None if chosen is None else chosen.names)
    _check_options(learner, calibration, coverage, score, rejected, len(names))
    stats = None
    if image_stats:
        report = None if progress is None else (lambda done: progress("image statistics", done, pred.n))
        stats = store_image_statistics(s, report)
    analyses, sources, rules = {}, {}, {}
    for j, name in enumerate(names):
        if progress is not None:
            progress(f"failure scores of {name}", j, len(names))
        inputs = score_inputs(s, pred, name)
        res = analyze_failures(name, inputs, image_features=stats, calibration_fraction=calibration,
                               learner=learner, seed=seed)
        analyses[name] = res
        sources[name] = inputs.probability_source()
        if coverage is not None:
            values, skipped = compute_scores(inputs, res.calibration_index, np.arange(pred.n), [score])
            if score not in values:
                raise InputError(f"--score {score}: {skipped[score]} ({name})")
            rules[name] = reject_rule(score, values[score], inputs.errors(), res.calibration_index,
                                      res.test_index, coverage)
    files = {}
    if rules and rejected is not False and rejected is not None:
        for name, rule in rules.items():
            path = Path(f"{name}.rejected.txt") if rejected is True else Path(rejected)
            path.write_text("".join(f"{sid}\n" for sid in pred.sample_ids[rule.rejected]))
            files[name] = str(path)
    return FailureResult(str(s.path), names, np.asarray(pred.sample_ids), analyses, sources, rules, files,
                         () if chosen is None else chosen.left_out)
