"""``misclass evaluate``, ``shift`` and ``factors``: whether the label is the problem.

- :func:`evaluate`: top-1, top-5 and multi-label accuracy per predictor, and per class group.
- :func:`shift`: the same models on an original and a shifted test set; effective robustness.
- :func:`factors`: ImageNet-X error ratios (which factors of variation raise the errors).

Humans (``misclass set-kind NAME --kind human``) are listed beside the models; summaries and
fits use models only. A predictor with expected accuracy (``human-random`` of ``misclass import
votes``: a person drawn at random) is evaluated by its expectation in :func:`evaluate`; it has no
per-image prediction, so :func:`shift` and :func:`factors` leave it out with a note.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from misclass.errors import InputError
from misclass.workflows.common import (
    NOT_GIVEN,
    as_store,
    is_expected_accuracy,
    json_ready,
    per_image_predictors,
    renamed_models,
)

if TYPE_CHECKING:
    import pandas as pd

    from misclass.analysis.factors import FactorErrors
    from misclass.analysis.labels import Evaluation
    from misclass.analysis.shift import ShiftAnalysis
    from misclass.store import Predictions, Store
    from misclass.types import ClassGroups


def _model_list(model: str | Sequence[str] | None) -> list[str] | None:
    """The ``--model`` option: None (all), one name or several."""
    if model is None:
        return None
    return [model] if isinstance(model, str) else list(model)


def _load(s: Store, model: str | Sequence[str] | None) -> Predictions:
    pred = s.load(_model_list(model))
    if not pred.models:
        raise InputError(f"{s.path}: the store holds no models")
    return pred


def _class_groups(groups: str | Sequence[str] | None, classes: pd.DataFrame) -> ClassGroups | None:
    """``--groups``: None gives the default (imagenet for ImageNet stores, else none); [] none."""
    from misclass.data.imagenet_annotations import is_imagenet_classes
    from misclass.data.label_sets import load_class_groups

    if groups is None:
        specs = ["imagenet"] if is_imagenet_classes(classes["id"]) else []
    else:
        specs = [groups] if isinstance(groups, str) else list(groups)
    return load_class_groups(specs, classes)


# --------------------------------------------------------------------------- evaluate
@dataclass(frozen=True)
class EvaluateResult:
    """Accuracies of a store's predictors; ``evaluation`` holds the tables (see
    :class:`misclass.analysis.labels.Evaluation`).

    Attributes
    ----------
    store : str
        The store's path.
    evaluation : Evaluation
    n_unmatched : int
        Sample ids of the label file that are not in the store (ignored); 0 without labels.

    Predictors in ``evaluation.expected`` (metadata ``"accuracy": "expected"``) are reported by
    their expectation: top-1 the mean probability of the label, multi-label the mean summed
    probability of the label set, top-5 None; their JSON rows say ``"accuracy": "expected"``.
    """

    store: str
    evaluation: Evaluation
    n_unmatched: int = 0

    @property
    def has_label_sets(self) -> bool:
        """Whether multi-label accuracy was measured (``labels`` was given)."""
        return self.evaluation.excluded is not None

    @property
    def expected(self) -> tuple[str, ...]:
        """Predictors whose accuracies are expectations (a person drawn at random)."""
        return self.evaluation.expected

    def to_frame(self) -> pd.DataFrame:
        """One row per predictor (index ``model``): kind, n, top1, top5, multilabel, n_multilabel,
        gain and n_gain (multi-label minus top-1 accuracy on the same images), accuracy
        ("counted" or "expected")."""
        return self.evaluation.table.set_index("name").rename_axis("model")

    def subset_frame(self, metric: str | None = None) -> pd.DataFrame:
        """Groups x predictors accuracy (``metric``: "top1" or "multilabel"; default multi-label
        when label sets were given)."""
        return self.evaluation.subset_matrix(metric)

    def to_dict(self) -> dict[str, Any]:
        """What ``misclass evaluate --json`` writes."""
        return json_ready(self.evaluation.to_dict())


def evaluate(
    store: Store | str | os.PathLike,
    *,
    labels: str | None = None,
    groups: str | Sequence[str] | None = None,
    models: str | Sequence[str] | None = None,
    min_share: float | None = None,
    model: str | Sequence[str] | None = NOT_GIVEN,
) -> EvaluateResult:
    """Top-1, top-5 and multi-label accuracy per predictor, and accuracy per group of classes.

    Parameters
    ----------
    store : a Store or the path of one
    labels : "real" (ImageNet-ReaL, needs ``misclass[imagenet]``), "review" (the store's review
        decisions) or a JSONL/CSV file of sample_id -> labels; None: top-1 / top-5 only.
    groups : "imagenet", "metaclasses" or class,group CSV files (several combine); None: imagenet
        for ImageNet stores, else none; ``[]``: no groups.
    models : predictor names; None: all (``model=``, its old name, still works for one
        release, with a DeprecationWarning).
    min_share : with ``labels="counts:FILE.npy"``: a class enters an image's label set when its
        share of the votes is at least this (overrides the spec's ``min-share=``; default 0.5).

    A predictor whose metadata says ``"accuracy": "expected"`` (``human-random``) is evaluated by
    its expectation from its stored probabilities (the vote shares): top-1 is the mean share of
    the label, multi-label the mean summed share of the label set, top-5 None.

    >>> import misclass, tempfile, numpy as np, pandas as pd
    >>> s = misclass.Store.create(tempfile.mkdtemp() + "/s",
    ...     samples=pd.DataFrame({"sample_id": ["a", "b", "c", "d"], "label": [0, 1, 1, 0]}),
    ...     classes=pd.DataFrame({"name": ["cat", "dog"]}))
    >>> s.write_model("m", np.array([[0], [1], [0], [0]]))
    >>> res = misclass.evaluate(s)
    >>> res.to_frame()["top1"].to_dict(), res.to_dict()["missed"]["all_models"]
    ({'m': 0.75}, 1)
    """
    from misclass.analysis.labels import evaluate_predictors
    from misclass.store.kinds import predictor_kinds
    from misclass.workflows.label_sources import load_label_sets

    if min_share is not None and not (labels or "").startswith("counts:"):
        raise InputError(f"--min-share {min_share:g}: applies to vote counts only "
                         "(--labels counts:FILE.npy)")
    s = as_store(store)
    pred = _load(s, renamed_models("evaluate", models, model))
    classes = s.classes()
    sets = (load_label_sets(labels, pred.sample_ids, classes, store=s, min_share=min_share)
            if labels else None)
    grp = _class_groups(groups, classes)
    expected = {n: s.read_probs(n) for n in pred.models if is_expected_accuracy(s, n)}
    ev = evaluate_predictors(pred.models, pred.labels, pred.topk, pred.k, label_sets=sets, groups=grp,
                             kinds=predictor_kinds(s, pred.models), expected=expected)
    return EvaluateResult(str(s.path), ev, sets.n_unmatched if sets is not None else 0)


# --------------------------------------------------------------------------- shift
@dataclass(frozen=True)
class ShiftResult:
    """The same predictors on two test sets; ``analysis`` holds the fits (see
    :class:`misclass.analysis.shift.ShiftAnalysis`).

    Attributes
    ----------
    original_store, shifted_store : str
        The two stores' paths.
    analysis : ShiftAnalysis
        Overall and per class group; no predictor when none is in both stores (``skip_missing``).
    left_out : tuple of str
        Models in one store only.
    group_source : str or None
        Where the class groups of ``analysis.subsets`` came from (None: no groups).
    notes : tuple of str
        Predictors left out because they have no per-image prediction (expected accuracy).
    """

    original_store: str
    shifted_store: str
    analysis: ShiftAnalysis
    left_out: tuple[str, ...] = ()
    group_source: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def models(self) -> list[str]:
        """The predictors compared (in both stores)."""
        return self.analysis.overall.table["name"].tolist()

    def to_frame(self) -> pd.DataFrame:
        """One row per predictor (index ``model``): original, shifted, drop, predicted, effective
        robustness (accuracy units), residual on the logit axis."""
        return self.analysis.overall.table.set_index("name").rename_axis("model")

    def subset_frame(self) -> pd.DataFrame:
        """The same per class group, indexed by (``group``, ``model``); empty without groups."""
        import pandas as pd

        tables = {g: f.table.set_index("name") for g, f in self.analysis.subsets.items()}
        if not tables:
            return pd.DataFrame(columns=self.analysis.overall.table.columns.drop("name"),
                                index=pd.MultiIndex.from_tuples([], names=["group", "model"]))
        return pd.concat(tables, names=["group", "model"])

    def to_dict(self) -> dict[str, Any]:
        """What ``misclass shift --json`` writes."""
        out = self.analysis.to_dict()
        out.update(original_store=self.original_store, shifted_store=self.shifted_store,
                   left_out=list(self.left_out), groups=self.group_source, notes=list(self.notes))
        return json_ready(out)


def shift(
    store: Store | str | os.PathLike,
    *,
    shifted_store: Store | str | os.PathLike,
    groups: str | Sequence[str] | None = None,
    models: str | Sequence[str] | None = None,
    skip_missing: bool = False,
    model: str | Sequence[str] | None = NOT_GIVEN,
) -> ShiftResult:
    """Accuracy drop under distribution shift and each predictor's effective robustness.

    Fits logit(shifted accuracy) against logit(original accuracy) across the models in both
    stores; a predictor's effective robustness is its shifted accuracy minus the fit's
    prediction. Also per group of classes (``groups`` as for :func:`evaluate`).

    Parameters
    ----------
    store, shifted_store : the original and the shifted test set (Store or path), same classes
    models : predictor names; None: every model in both stores (``model=``: its old name, as in
        :func:`evaluate`).
    skip_missing : leave out named models that are not in both stores instead of stopping
        with an error; with none left, the result compares no predictor.
    """
    from misclass.analysis.shift import ShiftAnalysis, analyze_shift, fit_shift
    from misclass.store.kinds import predictor_kinds

    a, b = as_store(store), as_store(shifted_store)
    ca, cb = a.classes(), b.classes()
    if len(ca) != len(cb) or ca["id"].tolist() != cb["id"].tolist():
        if len(ca) != len(cb):
            what = f"{len(ca)} vs {len(cb)} classes"
        else:
            i = next(i for i, (x, y) in enumerate(zip(ca["id"], cb["id"], strict=True)) if x != y)
            what = f"class {i} has id {ca['id'].iloc[i]!r} vs {cb['id'].iloc[i]!r}"
        raise InputError(f"{a.path} and {b.path} have different classes ({what}); a shift compares "
                         "the same classes (give the second store the same class ids, e.g. --classes "
                         "with a name,id CSV on import)")
    in_a, in_b = a.model_names(), set(b.model_names())
    common = [n for n in in_a if n in in_b]
    wanted = _model_list(renamed_models("shift", models, model))
    names = common if wanted is None else [n for n in wanted if n in in_b and n in in_a]
    missing = [] if wanted is None else [n for n in wanted if n not in names]
    if missing and not skip_missing:
        raise InputError(f"models {missing} are not in both stores (in both: {', '.join(common) or 'none'})")
    left_out = tuple(sorted(set(in_a) ^ in_b))
    notes: tuple[str, ...] = ()
    if names:  # a shift counts each image right or wrong: leave out expected accuracies
        chosen = per_image_predictors(a, names)
        names, notes = chosen.names, tuple(filter(None, [chosen.note]))
    if not names:
        if not skip_missing:
            raise InputError(f"no model is in both {a.path} and {b.path}: a shift compares the same models")
        empty = np.zeros(0)
        return ShiftResult(str(a.path), str(b.path),
                           ShiftAnalysis(fit_shift([], empty, empty, n_original=0, n_shifted=0)), left_out,
                           notes=notes)
    pa, pb = a.load(names), b.load(names)
    grp = _class_groups(groups, ca)
    res = analyze_shift(names, pa.labels, pa.top1, pb.labels, pb.top1, groups=grp,
                        kinds=predictor_kinds(a, names))
    return ShiftResult(str(a.path), str(b.path), res, left_out, grp.source if grp is not None else None,
                       notes)


# --------------------------------------------------------------------------- factors
@dataclass(frozen=True)
class FactorsResult:
    """ImageNet-X error ratios; ``errors`` holds them (see
    :class:`misclass.analysis.factors.FactorErrors`), the rest records the options used and
    ``notes`` the predictors left out (expected accuracy: no per-image prediction).
    """

    errors: FactorErrors
    factor_set: str = "top"
    keep_prototypes: bool = False
    labels: str | None = None
    top: int = 3
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """Predictors x factors error ratios (above 1: the factor raises the predictor's errors)."""
        return self.errors.ratio_frame().rename_axis("model")

    def error_rate_frame(self) -> pd.DataFrame:
        """Predictors x factors error rates on the images with each factor."""
        import pandas as pd

        return pd.DataFrame(self.errors.error_rate, index=pd.Index(self.errors.models, name="model"),
                            columns=list(self.errors.factors))

    def top_factors(self) -> dict[str, list[tuple[str, float]]]:
        """Per predictor, the ``top`` factors that raise its errors most (ratio above 1)."""
        return self.errors.top_factors(self.top)

    def to_dict(self) -> dict[str, Any]:
        """What ``misclass factors --json`` writes."""
        out = self.errors.to_dict(self.top)
        out.update(factor_set=self.factor_set, prototypes_kept=self.keep_prototypes,
                   labels=self.labels or "top1", notes=list(self.notes))
        return json_ready(out)


def factors(
    store: Store | str | os.PathLike,
    *,
    models: str | Sequence[str] | None = None,
    factor_set: str = "top",
    keep_prototypes: bool = False,
    labels: str | None = None,
    top: int = 3,
    model: str | Sequence[str] | None = NOT_GIVEN,
) -> FactorsResult:
    """ImageNet-X error ratios: error rate on images with a factor / error rate on all annotated images.

    Needs an ImageNet validation store and ``misclass[imagenet]``.

    Parameters
    ----------
    models : predictor names; None: all (``model=``: its old name, as in :func:`evaluate`).
    factor_set : "top" (the most salient factor per image) or "multi" (every factor marked).
    keep_prototypes : keep the prototypical images ImageNet-X drops by default.
    labels : as for :func:`evaluate`; an error is then a top-1 prediction outside the image's
        label set, and images without a usable set are left out. None: the store's labels.
    top : factors listed per predictor in ``top_factors`` and the JSON.
    """
    from misclass.analysis.factors import factor_error_ratios
    from misclass.analysis.labels import multilabel_correct
    from misclass.data.imagenet_annotations import IMAGENET_X_FACTORS, imagenet_x_factors
    from misclass.store.kinds import predictor_kinds
    from misclass.workflows.label_sources import load_label_sets

    if top < 1:
        raise InputError(f"top {top}: expected at least 1 factor per predictor")
    s = as_store(store)
    chosen = per_image_predictors(s, _model_list(renamed_models("factors", models, model)))
    pred = _load(s, chosen.names)
    classes = s.classes()
    annotated, fac = imagenet_x_factors(pred.sample_ids, classes["id"].tolist(), which=factor_set,
                                        filter_prototypes=not keep_prototypes)
    if labels:
        sets = load_label_sets(labels, pred.sample_ids, classes, store=s)
        correct = multilabel_correct(pred.top1, sets)
        use = annotated & sets.evaluable
    else:
        correct = pred.correct
        use = annotated & (pred.labels >= 0)
    if not use.any():
        raise InputError(f"{s.path}: no image of the store has ImageNet-X annotations"
                         + (f" and a usable label set ({labels})" if labels else ""))
    res = factor_error_ratios(correct[use], fac[use], models=pred.models, factor_names=IMAGENET_X_FACTORS,
                              kinds=predictor_kinds(s, pred.models))
    return FactorsResult(res, factor_set, keep_prototypes, labels or None, top,
                         tuple(filter(None, [chosen.note])))
