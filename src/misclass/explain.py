"""``misclass explain`` as a library call: saliency maps of a torch model on a store's images,
saliency-guided erasure with its random control, the accounting, the per-pair table, the
sweep, and (on datasets with a planted cause) how well the method finds it.

Everything happens on the model's own view of each image: the store's image goes through
the model's geometric preprocessing (resize, crop) to ``uint8`` pixels, saliency is taken
on those pixels and boxes are erased there (``fill="zero"`` paints them black), then the
model's normalisation is applied and the image reclassified.

Results are kept in the store folder for the report::

    explain/<model>.json    settings, accounting, tests, pairs, sweep, planted-cause figures
    explain/<model>.npz     example triplets: original, saliency, erased images, predictions
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from misclass.analysis.confusion import analyze_confusion
from misclass.analysis.erasure import FILLS, check_percent, dataset_mean, spare_mask
from misclass.analysis.intervention import ErasureResult, ErasureSettings, run_erasure, sweep_erasure
from misclass.analysis.saliency import SALIENCY_METHODS, TARGETS, compute_saliency, saliency_mass
from misclass.data.planted import sample_boxes
from misclass.errors import InputError
from misclass.extras import require
from misclass.store import Store, _atomic_write
from misclass.validation import check_model_name

SPARE_CHOICES = "object (the samples' object_y0..object_x1 columns) or Y0,X0,Y1,X1"
DEFAULT_SWEEP_PERCENTS = (1.0, 2.0, 5.0, 10.0, 20.0)


@dataclass(frozen=True)
class ExplainOptions:
    """Settings of one explain run (the ``misclass explain`` options).

    ``images``: sample ids to explain (default: every misclassified image); ``pairs``:
    (true, predicted) class ids to keep among the misclassified; ``correct``: how many
    correctly classified images join as the control (None: as many as misclassified, at most
    500); ``spare``: "object" or a box (y0, x0, y1, x1) never erased.
    """

    method: str = "gradcam"
    target: str = "predicted"
    percent: float = 5.0
    box: tuple[int, int] | None = None
    fill: str = "zero"
    merge: bool = True
    spare: str | tuple[int, int, int, int] | None = None
    images: tuple[str, ...] | None = None
    pairs: tuple[tuple[int, int], ...] | None = None
    correct: int | None = None
    sweep: bool = True
    sweep_percents: tuple[float, ...] = DEFAULT_SWEEP_PERCENTS
    sweep_boxes: tuple[tuple[int, int], ...] | None = None
    threshold: float = 0.3
    triplets: int = 12
    batch_size: int = 128
    seed: int = 0
    device: str = "cpu"

    def check(self) -> ExplainOptions:
        if self.method not in SALIENCY_METHODS:
            raise InputError(f"--method {self.method!r}: expected {', '.join(SALIENCY_METHODS)}")
        if self.target not in TARGETS:
            raise InputError(f"--target {self.target!r}: expected {' or '.join(TARGETS)}")
        check_percent(self.percent)
        if self.fill not in FILLS:
            raise InputError(f"--fill {self.fill!r}: expected {', '.join(FILLS)}")
        for p in self.sweep_percents:
            check_percent(p, "--sweep-percents")
        if self.correct is not None and self.correct < 0:
            raise InputError(f"--correct {self.correct}: expected 0 or more images")
        return self


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


# --------------------------------------------------------------------------- the model
def load_explain_model(store: Store, text: str, *, seed: int = 0):
    """The torch model ``text`` names: a model in the store that ``misclass train`` or
    ``misclass predict`` wrote (its checkpoint or spec), or a model spec (``ckpt:PATH``,
    ``timm:NAME@PATH``, ...). A clear :class:`InputError` otherwise."""
    from misclass.predict.specs import SPEC_FORMS, load_model, parse_model_spec

    in_store = False
    try:
        in_store = store.has_model(check_model_name(text))
    except InputError:
        pass
    if in_store:
        meta = store.model_metadata(text)
        pretrained = bool(meta.get("pretrained", False))
        if meta.get("checkpoint"):
            spec = f"{text}=ckpt:{meta['checkpoint']}"
        elif meta.get("spec"):
            spec = parse_model_spec(str(meta["spec"]))
            spec = type(spec)(spec.kind, spec.target, spec.at, text, spec.text)
            seed = int(meta.get("seed", seed)) if meta.get("weights") == "random" else seed
        else:
            raise InputError(
                f"model {text!r} in {store.path} has no torch weights "
                f"(source: {meta.get('source', 'unknown')}); "
                "explain needs a torch model: one stored by 'misclass train' or 'misclass predict', or a "
                f"spec: {SPEC_FORMS}")
        loaded = load_model(spec, num_classes=store.n_classes, pretrained=pretrained, seed=seed)
    elif ":" in text:
        loaded = load_model(parse_model_spec(text), num_classes=store.n_classes, seed=seed)
    else:
        have = ", ".join(store.model_names()) or "none"
        raise InputError(f"--model {text!r}: no such model in {store.path} (models: {have}) and not a "
                         f"model spec ({SPEC_FORMS})")
    if loaded.preprocess.custom is not None:
        raise InputError(f"model {loaded.name!r}: its preprocessing is a custom transform; explain needs "
                         "one misclass can read (resize / crop / normalise), to erase pixels the model sees")
    return loaded


class TorchClassifier:
    """A loaded model as ``classify(uint8 (B, H, W, C)) -> (B,)`` and ``inputs(...)`` tensors."""

    def __init__(self, loaded, device: str = "cpu", batch_size: int = 128):
        torch = require("torch", "torch", feature="saliency maps")
        from misclass.predict.device import select_device

        self.torch = torch
        self.loaded = loaded
        self.device = select_device(device)
        self.module = loaded.module.to(self.device).eval()
        self.batch_size = batch_size

    def inputs(self, images: np.ndarray):
        """Normalised float tensor (B, C, H, W) of uint8 (B, H, W[, C]) pixels."""
        from misclass.predict.preprocess import scale_batch

        x = self.torch.from_numpy(np.ascontiguousarray(images))
        x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
        return scale_batch(x.contiguous(), self.loaded.preprocess, self.device)

    def logits(self, images: np.ndarray) -> np.ndarray:
        out = []
        with self.torch.inference_mode():
            for i in range(0, len(images), self.batch_size):
                y = self.module(self.inputs(images[i:i + self.batch_size]))
                y = y[0] if isinstance(y, tuple | list) else getattr(y, "logits", y)
                out.append(y.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.logits(images).argmax(axis=1)


def model_view(store: Store, preprocess, *, console=None, progress: bool = True) -> np.ndarray:
    """Every store image after the model's geometric preprocessing: uint8 (N, H, W, C)."""
    from PIL import Image
    from rich.progress import Progress

    from misclass.predict.preprocess import apply_geometry

    arrays = store.images()
    samples = None
    if arrays is None:
        samples = store.samples()
        if "path" not in samples.columns:
            raise InputError(f"{store.path}: the store holds no images (no image array, no paths); explain "
                             "needs the images")
        root = _image_root(store)
    n = store.n_samples
    out = None
    with Progress(console=console, transient=True, disable=not progress) as bar:
        task = bar.add_task(f"preparing {n:,} images", total=n)
        for i in range(n):
            if arrays is not None:
                img = Image.fromarray(np.asarray(arrays[i]))
            else:
                path = Path(str(samples["path"].iloc[i]))
                path = path if path.is_absolute() or root is None else root / path
                try:
                    with Image.open(path) as im:
                        img = im.convert("RGB")
                except OSError as exc:
                    raise InputError(f"{path}: not a readable image ({exc})") from exc
            t = apply_geometry(img, preprocess).numpy()
            t = np.moveaxis(t, 0, -1)
            if out is None:
                out = np.empty((n, *t.shape), dtype=np.uint8)
            if t.shape != out.shape[1:]:
                raise InputError(f"image {i} becomes {t.shape} after preprocessing, others {out.shape[1:]}")
            out[i] = t
            bar.advance(task)
    return out if out is not None else np.zeros((0, 1, 1, 1), dtype=np.uint8)


def _image_root(store: Store) -> Path | None:
    spec = str(store.info().get("dataset", ""))
    if spec.startswith("folder:"):
        return Path(spec[len("folder:"):].split(",")[0].split("[")[0])
    return None


# --------------------------------------------------------------------------- selection
def select_images(labels: np.ndarray, before: np.ndarray, sample_ids: np.ndarray, opts: ExplainOptions
                  ) -> np.ndarray:
    """Store indices to explain: the misclassified images (or ``opts.images``; only
    ``opts.pairs`` when given) plus a seeded sample of correctly classified controls."""
    known = labels >= 0
    wrong = known & (before != labels)
    right = known & (before == labels)
    if opts.images:
        where = {s: i for i, s in enumerate(sample_ids)}
        missing = [s for s in opts.images if s not in where]
        if missing:
            raise InputError(f"--images: unknown sample id(s) {', '.join(missing[:5])}")
        chosen = np.zeros(len(labels), dtype=bool)
        chosen[[where[s] for s in opts.images]] = True
        unknown = chosen & ~known
        if unknown.any():
            raise InputError(f"--images: {sample_ids[np.argmax(unknown)]!r} has no label")
        return np.flatnonzero(chosen)
    if opts.pairs:
        keep = np.zeros(len(labels), dtype=bool)
        for t, p in opts.pairs:
            keep |= (labels == t) & (before == p)
        wrong &= keep
    idx_wrong = np.flatnonzero(wrong)
    n_right = min(len(idx_wrong), 500) if opts.correct is None else opts.correct
    pool = np.flatnonzero(right)
    rng = np.random.default_rng(opts.seed)
    controls = np.sort(rng.choice(pool, size=min(n_right, len(pool)), replace=False)) if len(pool) else pool
    return np.sort(np.concatenate([idx_wrong, controls]))


def parse_pairs(text: str, class_names: list[str]) -> tuple[tuple[int, int], ...]:
    """``"ship:airplane,cat:dog"`` (names or ids, true:predicted) as class-id pairs."""
    lookup = {n: i for i, n in enumerate(class_names)}
    out = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        t, sep, p = part.partition(":")
        if not sep:
            raise InputError(f"--pairs {part!r}: expected TRUE:PREDICTED, e.g. ship:airplane")
        ids = []
        for name in (t.strip(), p.strip()):
            if name in lookup:
                ids.append(lookup[name])
            elif name.isdigit() and int(name) < len(class_names):
                ids.append(int(name))
            else:
                raise InputError(f"--pairs {part!r}: unknown class {name!r}")
        out.append((ids[0], ids[1]))
    if not out:
        raise InputError("--pairs: name at least one TRUE:PREDICTED pair")
    return tuple(out)


def parse_spare(text: str | None) -> str | tuple[int, int, int, int] | None:
    """``--spare``: None, "object", or "Y0,X0,Y1,X1"."""
    if text is None or text == "":
        return None
    if text == "object":
        return "object"
    parts = text.split(",")
    try:
        box = tuple(int(p) for p in parts)
    except ValueError:
        box = ()
    if len(box) != 4 or box[0] >= box[2] or box[1] >= box[3] or min(box) < 0:
        raise InputError(f"--spare {text!r}: expected {SPARE_CHOICES}")
    return box  # type: ignore[return-value]


def _spare_masks(spare, samples: pd.DataFrame, idx: np.ndarray, shape) -> np.ndarray | None:
    if spare is None:
        return None
    if spare == "object":
        boxes = sample_boxes(samples, "object")
        if boxes is None:
            raise InputError("--spare object: the store's samples have no object_y0, object_x0, object_y1, "
                             "object_x1 columns; give a box Y0,X0,Y1,X1")
        return np.stack([spare_mask(boxes[i], shape) for i in idx])
    return np.broadcast_to(spare_mask(spare, shape), (len(idx), *shape)).copy()


# --------------------------------------------------------------------------- the run
def explain_model(store: Store, loaded, options: ExplainOptions | None = None, *, console=None,
                  progress: bool = True) -> ExplainRun:
    """Saliency maps, erasure, control, tests, pairs, sweep and planted-cause figures for one
    model on the store's labelled images (see the module docstring)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    opts = (options or ExplainOptions()).check()
    clf = TorchClassifier(loaded, opts.device, opts.batch_size)
    view = model_view(store, loaded.preprocess, console=console, progress=progress)
    labels = store.labels()
    samples = store.samples()
    sample_ids = samples["sample_id"].astype(str).to_numpy()
    class_names = store.class_names()
    logits = clf.logits(view)
    if logits.ndim != 2 or logits.shape[1] != len(class_names):
        raise InputError(f"model {loaded.name!r} outputs {logits.shape[1:]} scores per image; the store has "
                         f"{len(class_names)} classes")
    before_all = logits.argmax(axis=1)
    idx = select_images(labels, before_all, sample_ids, opts)
    if len(idx) == 0:
        raise InputError(f"model {loaded.name!r}: no images to explain (no misclassified or correct labelled "
                         "images match)")
    images, lab, before = view[idx], labels[idx], before_all[idx]
    target = before if opts.target == "predicted" else lab
    shape = images.shape[1:3]
    black = clf.inputs(np.zeros((1, *images.shape[1:]), dtype=np.uint8))
    sal = np.empty((len(idx), *shape), dtype=np.float32)
    spare = _spare_masks(opts.spare, samples, idx, shape)
    mean = dataset_mean(view[labels >= 0]) if opts.fill == "mean" else None
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
    stored_top1 = None
    if store.has_model(loaded.name):
        stored_top1 = store.read_model(loaded.name).topk_ids[:, 0]
    agree = None if stored_top1 is None else float((stored_top1 == before_all).mean())
    info = {"n_images": int(len(idx)), "image_shape": list(images.shape[1:]),
            "accuracy": float((before_all == labels)[labels >= 0].mean()), "agreement_with_store": agree}
    run = ExplainRun(loaded.name, opts, result, sample_ids[idx], pairs, sweep, planted, info)
    run.triplets = pick_triplets(run, images, sal, samples, idx, opts.triplets, opts.fill, mean)
    return run


def pair_table(store: Store, labels, before_all, name: str, result: ErasureResult, class_names, threshold):
    """The per-pair fix rates with each pair's type from the confusion analysis of the store's
    models (the explained model's fresh predictions replacing or joining its stored ones)."""
    from misclass.analysis.intervention import pair_fix_rates

    names = [m for m in store.model_names() if m != name]
    top1 = [store.read_model(m).topk_ids[:, 0] for m in names] + [before_all]
    conf = analyze_confusion(labels, np.column_stack(top1), [*names, name], len(class_names),
                             threshold=threshold)
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


# --------------------------------------------------------------------------- files
def explain_dir(store: Store) -> Path:
    """The folder of a store's explain results."""
    return store.path / "explain"


def save_explain(store: Store, run: ExplainRun, payload: dict[str, Any]) -> Path:
    """Write ``explain/<model>.json`` (``payload``) and ``.npz`` (the triplets) atomically."""
    folder = explain_dir(store)
    name = check_model_name(run.model)

    def write_npz(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **run.triplets)

    _atomic_write(folder / f"{name}.npz", write_npz)
    text = json.dumps(payload, default=_json_value)
    _atomic_write(folder / f"{name}.json", lambda tmp: tmp.write_text(text))
    return folder / f"{name}.json"


def _json_value(obj: Any) -> Any:
    return obj.item() if hasattr(obj, "item") else str(obj)


def load_explain_results(store: Store) -> list[tuple[dict[str, Any], dict[str, np.ndarray]]]:
    """Every saved explain run of the store: (JSON payload, triplet arrays), by model name."""
    folder = explain_dir(store)
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path.name.startswith("."):
            continue
        payload = json.loads(path.read_text())
        npz = path.with_suffix(".npz")
        arrays = {}
        if npz.exists():
            with np.load(npz, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        out.append((payload, arrays))
    return out
