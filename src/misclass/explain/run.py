"""One explain run: saliency, erasure, control, tests, pairs, sweep, planted-cause figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from misclass.analysis.confusion import analyze_confusion
from misclass.analysis.erasure import dataset_mean, spare_mask
from misclass.analysis.intervention import ErasureResult, ErasureSettings, run_erasure, sweep_erasure
from misclass.data.planted import sample_boxes
from misclass.errors import InputError
from misclass.explain.model import TorchClassifier, model_view, view_mean
from misclass.explain.options import ExplainOptions, select_images, spare_masks
from misclass.explain.saliency import compute_saliency, saliency_mass
from misclass.store import Store


@dataclass
class ExplainRun:
    """What :func:`explain_model` found (``to_dict()`` is the ``--json`` output)."""

    model: str
    options: ExplainOptions
    result: ErasureResult
    sample_ids: np.ndarray
    pairs: pd.DataFrame
    sweep: pd.DataFrame | None
    planted: dict[str, Any] | None
    info: dict[str, Any] = field(default_factory=dict)
    triplets: dict[str, np.ndarray] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        opts = asdict(self.options)
        res = self.result
        table = res.table.assign(sample_id=self.sample_ids[res.table["index"].to_numpy()])
        return {
            "model": self.model, "method": self.options.method, "target": self.options.target,
            "top_percent": self.options.percent, "box": f"{res.box[1]}x{res.box[0]}",
            "fill": self.options.fill, "options": opts, **self.info,
            "accounting": {"saliency": res.accounting.to_dict(), "random": res.accounting_random.to_dict(),
                           "erased_fraction": float(table["erased_fraction"].mean()) if len(table) else None,
                           "net_gain": res.accounting.fixed - res.accounting.broken},
            "mcnemar": {"fixes": res.fixes_test().to_dict(), "breaks": res.breaks_test().to_dict()},
            "pairs": self.pairs.to_dict("records"),
            "sweep": None if self.sweep is None else self.sweep.to_dict("records"),
            "planted": self.planted,
            "images": table.drop(columns=["index"]).to_dict("records"),
        }


# --------------------------------------------------------------------------- the run
def explain_model(store: Store, loaded, options: ExplainOptions | None = None, *, console=None,
                  progress: bool = True) -> ExplainRun:
    """Saliency maps, erasure, control, tests, pairs, sweep and planted-cause figures for one
    model on the store's labelled images (see the module docstring)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    opts = (options or ExplainOptions()).check()
    clf = TorchClassifier(loaded, opts.device, opts.batch_size)
    labels = store.labels()
    samples = store.samples()
    sample_ids = samples["sample_id"].astype(str).to_numpy()
    class_names = store.class_names()
    stored_top1 = store.read_model(loaded.name).topk_ids[:, 0] if store.has_model(loaded.name) else None
    chosen = None
    if opts.images:  # classify the chosen images only; the rest keep the stored top-1
        chosen = select_images(labels, None, sample_ids, opts)
        view = model_view(store, loaded.preprocess, indices=chosen, console=console, progress=progress)
    else:
        view = model_view(store, loaded.preprocess, console=console, progress=progress)
    logits = clf.logits(view)
    if logits.ndim != 2 or logits.shape[1] != len(class_names):
        raise InputError(f"model {loaded.name!r} outputs {logits.shape[1:]} scores per image; the store has "
                         f"{len(class_names)} classes")
    if chosen is None:
        before_all = logits.argmax(axis=1)
        idx = select_images(labels, before_all, sample_ids, opts)
        images, before, classified = view[idx], before_all[idx], np.arange(len(labels))
    else:
        idx, images, before, classified = chosen, view, logits.argmax(axis=1), chosen
        before_all = None
        if stored_top1 is not None:
            before_all = stored_top1.copy()
            before_all[idx] = before
    lab = labels[idx]
    target = before if opts.target == "predicted" else lab
    shape = images.shape[1:3]
    black = clf.inputs(np.zeros((1, *images.shape[1:]), dtype=np.uint8))
    sal = np.empty((len(idx), *shape), dtype=np.float32)
    spare = spare_masks(opts.spare, samples, idx, shape)
    mean = None
    if opts.fill == "mean":
        mean = (dataset_mean(view[labels >= 0]) if chosen is None else
                view_mean(store, loaded.preprocess, np.flatnonzero(labels >= 0), console=console,
                          progress=progress))
    sweep_boxes = opts.sweep_boxes
    n_cells = len(opts.sweep_percents) * (len(sweep_boxes) if sweep_boxes else 3) if opts.sweep else 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not progress) as bar:
        task = bar.add_task(f"{opts.method} saliency", total=len(idx))
        bs = max(1, opts.batch_size // (16 if opts.method in ("smoothgrad", "integrated-gradients") else 1))
        for s in range(0, len(idx), bs):
            x = clf.inputs(images[s:s + bs])
            kw = {"baseline": black} if opts.method == "integrated-gradients" else {"seed": opts.seed}
            sal[s:s + bs] = compute_saliency(clf.module, x, target[s:s + bs], opts.method, **kw)
            bar.advance(task, len(x))
        task = bar.add_task("erasing and reclassifying", total=len(idx))
        settings = ErasureSettings(percent=opts.percent, box=opts.box, fill=opts.fill, merge=opts.merge,
                                   seed=opts.seed)
        result = run_erasure(clf, images, sal, lab, before, settings, spare=spare, mean=mean,
                             batch_size=opts.batch_size, on_batch=lambda k: bar.advance(task, k))
        sweep = None
        if opts.sweep:
            task = bar.add_task("sweep over top % and box size", total=n_cells)
            sweep = sweep_erasure(clf, images, sal, lab, before, percents=opts.sweep_percents,
                                  boxes=sweep_boxes, fill=opts.fill, seed=opts.seed, spare=spare, mean=mean,
                                  on_cell=lambda k: bar.advance(task, k))
    pairs = pair_table(store, labels, before_all, loaded.name, result, class_names, opts.threshold)
    planted = planted_figures(samples, idx, sal, result)
    fresh = before_all[classified] if chosen is None else before
    agree = None if stored_top1 is None else float((stored_top1[classified] == fresh).mean())
    known = labels[classified] >= 0
    # accuracy and agreement are of the classified images: every one, or with images= those chosen
    info = {"n_images": int(len(idx)), "n_classified": int(len(classified)),
            "image_shape": list(images.shape[1:]),
            "accuracy": float((fresh == labels[classified])[known].mean()) if known.any() else None,
            "agreement_with_store": agree}
    run = ExplainRun(loaded.name, opts, result, sample_ids[idx], pairs, sweep, planted, info)
    run.triplets = pick_triplets(run, images, sal, samples, idx, opts.triplets, opts.fill, mean)
    return run


def pair_table(store: Store, labels, before_all, name: str, result: ErasureResult, class_names, threshold):
    """The per-pair fix rates with each pair's type from the confusion analysis of the store's
    models (the explained model's fresh predictions replacing or joining its stored ones;
    ``before_all`` None: a model neither stored nor run on every image, left out)."""
    from misclass.analysis.intervention import pair_fix_rates
    # an expected-accuracy predictor (human-random) has no per-image answer to count
    names = [m for m in store.model_names()
             if m != name and store.model_metadata(m).get("accuracy") != "expected"]
    top1 = [store.read_model(m).topk_ids[:, 0] for m in names]
    if before_all is not None:
        top1, names = [*top1, before_all], [*names, name]
    types = {}
    if names:
        conf = analyze_confusion(labels, np.column_stack(top1), names, len(class_names), threshold=threshold)
        types = {(int(r.a), int(r.b)): str(r.pattern) for r in conf.patterns.itertuples()}
    t = result.table
    return pair_fix_rates(t["label"].to_numpy(), t["before"].to_numpy(), t["outcome"].to_numpy() == "fixed",
                          t["outcome_random"].to_numpy() == "fixed", class_names=class_names,
                          pair_types=types)


def planted_figures(samples: pd.DataFrame, idx: np.ndarray, saliency: np.ndarray,
                    result: ErasureResult) -> dict[str, Any] | None:
    """On a planted-cause dataset (samples with ``planted``, ``patch_class`` and ``patch_*``
    columns): saliency mass inside the patch, and fix rates on planted errors against other
    errors, for the saliency erasure and the random control; None elsewhere.

    *Planted errors* are the errors the patch causes: images whose patch shows another class
    and that the model assigns to that class. *Other errors* are errors on images without a
    planted patch; errors on planted images towards a third class are counted apart
    (``other_planted_image_errors``)."""
    from scipy.stats import fisher_exact

    from misclass.analysis.stats import mcnemar_test

    boxes = sample_boxes(samples, "patch")
    if boxes is None or "planted" not in samples.columns:
        return None
    shape = saliency.shape[1:]
    region = np.stack([spare_mask(boxes[i], shape) for i in idx])
    mass = saliency_mass(saliency, region)
    planted = samples["planted"].to_numpy(dtype=bool)[idx]
    patch_class = samples["patch_class"].to_numpy(dtype=np.int64)[idx]
    t = result.table
    wrong = (t["before"] != t["label"]).to_numpy()
    fixed = (t["outcome"] == "fixed").to_numpy()
    fixed_r = (t["outcome_random"] == "fixed").to_numpy()
    caused = wrong & planted & (t["before"].to_numpy() == patch_class)

    def rate(mask, what):
        return float(what[mask].mean()) if mask.any() else None

    pe, oe, rest = caused, wrong & ~planted, wrong & planted & ~caused
    table = [[int(fixed[pe].sum()), int((~fixed[pe]).sum())], [int(fixed[oe].sum()), int((~fixed[oe]).sum())]]
    fisher_p = float(fisher_exact(table, alternative="greater")[1]) if pe.any() and oe.any() else None
    return {
        "patch_area_fraction": float(region[0].mean()) if len(region) else None,
        "saliency_mass_in_patch": {
            "planted_errors": _nanmean(mass[pe]), "other_errors": _nanmean(mass[oe]),
            "other_planted_image_errors": _nanmean(mass[rest]), "correct": _nanmean(mass[~wrong]),
            "all": _nanmean(mass)},
        "planted_errors": int(pe.sum()), "other_errors": int(oe.sum()),
        "other_planted_image_errors": int(rest.sum()),
        "fix_rate": {"planted_errors": rate(pe, fixed), "other_errors": rate(oe, fixed),
                     "other_planted_image_errors": rate(rest, fixed)},
        "random_fix_rate": {"planted_errors": rate(pe, fixed_r), "other_errors": rate(oe, fixed_r),
                            "other_planted_image_errors": rate(rest, fixed_r)},
        "fisher_planted_vs_other": {"table": table, "p_one_sided": fisher_p},
        "mcnemar_planted_errors": mcnemar_test(fixed[pe], fixed_r[pe]).to_dict(),
    }


def _nanmean(x: np.ndarray) -> float | None:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else None


def pick_triplets(run: ExplainRun, images, saliency, samples, idx, k: int, fill: str, mean
                  ) -> dict[str, np.ndarray]:
    """Up to ``k`` examples for the report, taken in turn from: fixed errors on planted images,
    other fixed errors, errors not fixed (planted, then other), broken correct images; arrays
    for original, saliency and erased images."""
    from misclass.analysis.erasure import fill_erased

    t = run.result.table
    planted = samples["planted"].to_numpy(dtype=bool)[idx] if "planted" in samples.columns else np.zeros(
        len(idx), dtype=bool)
    outcome = t["outcome"].to_numpy()
    fixed, broken = outcome == "fixed", outcome == "broken"
    missed = np.isin(outcome, ("moved", "unchanged"))
    groups = [np.flatnonzero(g) for g in (fixed & planted, fixed & ~planted, missed & planted,
                                          missed & ~planted, broken)]
    pick_list: list[int] = []
    for r in range(max((len(g) for g in groups), default=0)):
        pick_list += [int(g[r]) for g in groups if r < len(g)]
        if len(pick_list) >= k:
            break
    pick = np.array(pick_list[:k], dtype=np.int64)
    sigma = max(1.0, max(run.result.box) / 2)
    erased = np.stack([fill_erased(images[i], run.result.erased[i], fill, mean=mean, sigma=sigma)
                       for i in pick]) if len(pick) else images[:0]
    return {"sample_id": run.sample_ids[pick].astype(str), "original": images[pick],
            "saliency": saliency[pick].astype(np.float16), "erased": erased,
            "label": t["label"].to_numpy()[pick], "before": t["before"].to_numpy()[pick],
            "after": t["after"].to_numpy()[pick], "after_random": t["after_random"].to_numpy()[pick],
            "outcome": t["outcome"].to_numpy()[pick].astype(str), "planted": planted[pick]}


