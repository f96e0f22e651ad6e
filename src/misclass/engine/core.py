"""The prediction engine: one pass over a dataset serves every requested model.

Each image is read and decoded once, in DataLoader workers, which also apply each distinct
geometric preprocessing (resize, crop) once; models whose preprocessing is equal share the
tensor (see :mod:`misclass.engine.preprocess`). On the device, each batch is scaled and
normalised once per distinct normalisation and fed to every model that needs it, in
inference mode, channels-last, with float16 autocast on CUDA. Per model and image the engine
keeps the top-k ids and probabilities and, on request, full probabilities, logits,
penultimate features (the input of the final linear layer) and MC-dropout statistics, all
float32 (float16 in the store only with ``half``).

Work is cut into shards (:mod:`misclass.engine.shards`): an interrupted run resumes where
it stopped, a model already in the store is skipped unless ``force``, and a model reaches
the store only complete (``Store.write_model`` is atomic).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from misclass.data.dataset import Dataset
from misclass.engine.device import autocast, default_workers, select_device, use_amp
from misclass.engine.mcdropout import MC_COLUMNS, enable_mc_dropout
from misclass.engine.preprocess import Preprocess, apply_geometry, scale_batch
from misclass.engine.shards import PartialRun, samples_digest, shard_bounds
from misclass.engine.specs import LoadedModel
from misclass.errors import InputError, StoreError
from misclass.extras import require
from misclass.importers.readers import topk_from_probs
from misclass.store import Store


@dataclass(frozen=True)
class EngineOptions:
    """Settings of one engine run (the ``misclass predict`` options)."""

    k: int = 5
    batch_size: int = 64
    workers: int | None = None  # None: see misclass.engine.device.default_workers
    device: str = "auto"
    amp: bool | None = None  # None: on for CUDA
    save_probs: bool = False
    save_logits: bool = False
    save_features: bool = False
    half: bool = False  # store probabilities, logits and features as float16 (default float32)
    mc_dropout: int = 0
    seed: int = 0
    force: bool = False
    shard_size: int = 2048
    channels_last: bool = True


@dataclass(frozen=True)
class ModelRun:
    """What the engine did with one model."""

    name: str
    status: str  # "written", "skipped" (already in the store), "resumed"
    images: int  # images computed in this run
    top1: float | None
    seconds: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EngineReport:
    """What one engine run did: per-model results, images decoded, seconds, device, workers."""

    models: tuple[ModelRun, ...]
    images: int  # images decoded in this run
    seconds: float
    device: str
    workers: int

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")


# ---------------------------------------------------------------------------- data
class DecodedImages:
    """Map-style dataset for the DataLoader: image i -> (i, tensors per geometry, error)."""

    def __init__(self, dataset: Dataset, geometries: Sequence[Preprocess]):
        self.array = dataset.images
        self.paths = None
        if self.array is None:
            if "path" not in dataset.samples.columns or dataset.root is None:
                raise InputError(f"{dataset.name}: samples have no image paths or images")
            root = Path(dataset.root)
            self.paths = [str(root / p) for p in dataset.samples["path"]]
        self.geometries = list(geometries)
        self.n = len(dataset)

    def __len__(self) -> int:
        return self.n

    def decode(self, i: int):
        from PIL import Image

        if self.array is not None:
            return Image.fromarray(np.ascontiguousarray(self.array[i]))
        path = self.paths[i]
        try:
            with Image.open(path) as img:
                img.load()
                return img if img.mode in ("RGB", "L") else img.convert("RGB")
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable image ({exc})") from exc

    def __getitem__(self, i: int):
        try:
            img = self.decode(i)
            return i, tuple(apply_geometry(img, g) for g in self.geometries), None
        except InputError as exc:
            return i, (), str(exc)


def _collate(items):
    import torch

    errors = [e for _, _, e in items if e]
    if errors:
        return None, None, errors[0]
    idx = torch.tensor([i for i, _, _ in items], dtype=torch.long)
    tensors = [torch.stack([t[g] for _, t, _ in items]) for g in range(len(items[0][1]))]
    return idx, tensors, None


def _batches(bounds: list[tuple[int, int]], shards: Sequence[int], batch_size: int) -> list[list[int]]:
    """Batches of consecutive indices that never cross a shard boundary."""
    out = []
    for s in sorted(shards):
        a, b = bounds[s]
        out += [list(range(i, min(i + batch_size, b))) for i in range(a, b, batch_size)]
    return out


# ---------------------------------------------------------------------------- store
def prepare_store(path: str | Path, dataset: Dataset, *, info: dict[str, Any] | None = None) -> Store:
    """Open the store at ``path`` and check it holds ``dataset``'s samples in order, or
    create it from ``dataset`` (its samples, classes and in-memory images)."""
    store = Store(path)
    if not store.exists():
        info = dict(info or {}, dataset=dataset.name)
        if dataset.root is not None and dataset.images is None:
            # absolute, so explain, the gallery and the app find the files from any folder
            info["images"] = str(Path(dataset.root).resolve())
        return Store.create(path, samples=dataset.samples, classes=dataset.classes, images=dataset.images,
                            info=info)
    ids = store.sample_ids()
    want = dataset.samples["sample_id"].astype(str).to_numpy()
    if len(ids) != len(want) or not np.array_equal(ids, want):
        extra = (f"{len(ids)} samples" if len(ids) != len(want)
                 else "the same number of samples in another order")
        raise StoreError(f"{store.path}: the store holds other samples than {dataset.name} ({extra}, "
                         f"dataset: {len(want)}); use another --store")
    if store.n_classes != len(dataset.classes):
        raise StoreError(f"{store.path}: the store has {store.n_classes} classes, {dataset.name} has "
                         f"{len(dataset.classes)}")
    return store


# ---------------------------------------------------------------------------- model state
class _ModelState:
    def __init__(self, model: LoadedModel, partial: PartialRun, todo: set[int], n_shards: int):
        self.model = model
        self.partial = partial
        self.todo = set(todo)
        self.n_shards = n_shards
        self.parts: dict[str, list[np.ndarray]] = {}
        self.features: list = []
        self.images = 0
        self.seconds = 0.0
        self.hook = None

    def add(self, **arrays: np.ndarray) -> None:
        for k, v in arrays.items():
            self.parts.setdefault(k, []).append(v)

    def flush(self, shard: int) -> None:
        self.partial.save(shard, {k: np.concatenate(v) for k, v in self.parts.items()})
        self.parts = {}
        self.todo.discard(shard)


def _signature(model: LoadedModel, opts: EngineOptions, n: int, digest: str, amp: bool) -> dict[str, Any]:
    return {"spec": model.metadata.get("spec"), "weights": model.metadata.get("weights"),
            "preprocess": model.preprocess.describe(), "k": opts.k, "save_probs": opts.save_probs,
            "save_logits": opts.save_logits, "save_features": opts.save_features,
            "mc_dropout": opts.mc_dropout, "seed": opts.seed, "shard_size": opts.shard_size, "n": n,
            "samples": digest, "amp": amp, "shards": "float32"}  # older shards held float16


def _logits_of(out):
    if hasattr(out, "logits"):
        out = out.logits
    elif isinstance(out, dict):
        out = out.get("logits", next(iter(out.values())))
    elif isinstance(out, tuple | list):
        out = out[0]
    return out


def _check_options(opts: EngineOptions) -> None:
    if opts.k < 1:
        raise InputError(f"--top-k {opts.k}: expected at least 1")
    if opts.batch_size < 1 or opts.shard_size < 1:
        raise InputError("--batch-size and --shard-size must be at least 1")
    if opts.mc_dropout == 1 or opts.mc_dropout < 0:
        raise InputError(f"--mc-dropout {opts.mc_dropout}: expected 0 (off) or at least 2 passes")


# ---------------------------------------------------------------------------- the pass
def predict_models(dataset: Dataset, models: Sequence[LoadedModel], store: Store,
                   options: EngineOptions | None = None, *, console=None, progress: bool = True,
                   on_shard: Callable[[int], None] | None = None) -> EngineReport:
    """Run every model over ``dataset`` in one pass and write each to ``store``.

    ``store`` must hold ``dataset``'s samples in order (see :func:`prepare_store`).
    ``on_shard(shard)`` is called after each finished shard (for tests and progress).
    """
    torch = require("torch", "torch", feature="running torch models")
    opts = options or EngineOptions()
    _check_options(opts)
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise InputError(f"a model name is given twice: {', '.join(names)}; name them with NAME=SPEC")
    device = select_device(opts.device)
    amp = use_amp(device, opts.amp)
    n = len(dataset)
    if store.n_samples != n:
        raise StoreError(f"{store.path}: {store.n_samples} samples but the dataset has {n}")
    bounds = shard_bounds(n, opts.shard_size)
    digest = samples_digest(store.sample_ids())
    states: list[_ModelState] = []
    runs, pending = models_to_run(dataset, models, store, opts, torch)
    for m in pending:
        partial = PartialRun(store.path, m.name, _signature(m, opts, n, digest, amp))
        if opts.force:
            partial.clear()
        done = partial.open()
        states.append(_ModelState(m, partial, set(range(len(bounds))) - done, len(bounds)))
    todo = sorted(set().union(*(s.todo for s in states))) if states else []
    geometries: dict[tuple, int] = {}
    for st in states:
        if st.todo:
            geometries.setdefault(st.model.preprocess.geometry_key, len(geometries))
    geo_list = [None] * len(geometries)
    for st in states:
        if st.todo:
            geo_list[geometries[st.model.preprocess.geometry_key]] = st.model.preprocess
    workers = opts.workers if opts.workers is not None else default_workers(device)
    start = time.perf_counter()
    decoded = 0
    if todo:
        for st in states:
            _prepare_model(st, device, opts, torch)
        try:
            decoded = _run_pass(dataset, states, geometries, geo_list, bounds, todo, opts, device, amp,
                                workers, console, progress, on_shard, torch)
        finally:
            for st in states:
                if st.hook is not None:
                    st.hook.remove()
    elapsed = time.perf_counter() - start
    for st in states:
        runs.append(_finish(st, store, opts, device, amp, elapsed, decoded))
    order = {name: i for i, name in enumerate(names)}
    runs.sort(key=lambda r: order[r.name])
    return EngineReport(tuple(runs), decoded, elapsed, str(device), workers)


def _probe(dataset: Dataset, models: Sequence[LoadedModel], n_classes: int, torch) -> None:
    """Run each model on the first image (CPU, eval) to check its output before any work."""
    source = DecodedImages(dataset, [m.preprocess for m in models])
    image = source.decode(0)
    for m in models:
        x = apply_geometry(image, m.preprocess)
        module = m.module
        param = next(module.parameters(), None)
        where = param.device if param is not None else torch.device("cpu")
        x = scale_batch(x.unsqueeze(0), m.preprocess, where)
        training = {k: v.training for k, v in module.named_modules()}
        module.eval()
        try:
            with torch.inference_mode():
                out = _logits_of(module(x))
        except RuntimeError as exc:
            raise InputError(f"model {m.name!r} failed on {dataset.samples['sample_id'].iloc[0]!r} after its "
                             f"preprocessing: {str(exc).splitlines()[0][:200]}") from exc
        finally:
            for k, v in module.named_modules():
                v.train(training[k])
        if out.ndim != 2 or out.shape[1] != n_classes:
            raise InputError(f"model {m.name!r} outputs {tuple(out.shape[1:])} scores per image but the "
                             f"dataset has {n_classes} classes")


def _prepare_model(st: _ModelState, device, opts: EngineOptions, torch) -> None:
    module = st.model.module.to(device)
    if opts.channels_last and device.type in ("cpu", "cuda") and \
            any(isinstance(m, torch.nn.Conv2d) for m in module.modules()):
        module = module.to(memory_format=torch.channels_last)
    st.model.module = module
    if opts.save_features:
        if st.model.classifier is None:
            raise InputError(f"--save-features: model {st.model.name!r} has no final linear layer to take "
                             "penultimate features from")
        st.hook = st.model.classifier.register_forward_pre_hook(
            lambda _mod, args, st=st: st.features.append(args[0].detach().flatten(1).float()))


def _run_pass(dataset, states, geometries, geo_list, bounds, todo, opts, device, amp, workers, console,
              progress, on_shard, torch) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    batches = _batches(bounds, todo, opts.batch_size)
    loader = torch.utils.data.DataLoader(
        DecodedImages(dataset, geo_list), batch_sampler=batches, num_workers=workers, collate_fn=_collate,
        pin_memory=device.type == "cuda", prefetch_factor=4 if workers else None,
    )
    shard_size = opts.shard_size
    total = sum(len(b) for b in batches)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn())
    decoded = 0
    t0 = time.perf_counter()
    with Progress(*columns, console=console, transient=True, disable=not progress) as bar, \
            torch.inference_mode():
        task = bar.add_task(f"predicting with {len(states)} model(s)", total=total, rate="")
        for idx, tensors, error in loader:
            if error:
                raise InputError(error)
            shard = int(idx[0]) // shard_size
            last_of_shard = int(idx[-1]) + 1 == bounds[shard][1]
            inputs: dict[tuple, Any] = {}
            for st in states:
                if shard not in st.todo:
                    continue
                pre = st.model.preprocess
                t = time.perf_counter()
                x = inputs.get(pre.input_key)
                if x is None:
                    x = scale_batch(tensors[geometries[pre.geometry_key]], pre, device)
                    if opts.channels_last and x.ndim == 4 and device.type in ("cpu", "cuda"):
                        x = x.contiguous(memory_format=torch.channels_last)
                    inputs[pre.input_key] = x
                _forward(st, x, idx, opts, device, amp, torch)
                st.images += len(idx)
                if last_of_shard:
                    st.flush(shard)
                st.seconds += time.perf_counter() - t
            decoded += len(idx)
            rate = decoded / max(time.perf_counter() - t0, 1e-9)
            bar.update(task, advance=len(idx), rate=f"{rate:,.1f} images/s")
            if last_of_shard and on_shard is not None:
                on_shard(shard)
    return decoded


def _forward(st: _ModelState, x, idx, opts: EngineOptions, device, amp: bool, torch) -> None:
    model = st.model.module
    name = st.model.name
    st.features.clear()
    extra: dict[str, np.ndarray] = {}
    with autocast(device, amp):
        if opts.mc_dropout:
            deterministic = None
            if opts.save_logits or opts.save_features:
                from misclass.engine.mcdropout import dropout_layers

                layers = dropout_layers(model)
                for m in layers:
                    m.eval()
                deterministic = _logits_of(model(x)).float()
                for m in layers:
                    m.train()
            feats = list(st.features)
            seed = zlib.crc32(f"{opts.seed}:{name}:{int(idx[0])}".encode())
            fork = {"devices": []} if device.type == "cpu" else {"devices": [device.index or 0],
                                                                  "device_type": device.type}
            with torch.random.fork_rng(**fork):
                torch.manual_seed(seed)
                samples = torch.stack([torch.softmax(_logits_of(model(x)).float(), dim=1)
                                       for _ in range(opts.mc_dropout)])
            from misclass.engine.mcdropout import mc_statistics

            probs, stats = mc_statistics(samples)
            logits = deterministic
            extra = {k: v.cpu().numpy().astype(np.float32) for k, v in stats.items()}
            st.features[:] = feats
        else:
            logits = _logits_of(model(x)).float()
            probs = torch.softmax(logits, dim=1)
    probs_np = probs.cpu().numpy()
    ids, tprobs = topk_from_probs(probs_np, opts.k)
    arrays: dict[str, np.ndarray] = {"topk_ids": ids, "topk_probs": tprobs, **extra}
    if opts.save_probs or opts.mc_dropout:
        arrays["probs"] = probs_np.astype(np.float32)
    if opts.save_logits and logits is not None:
        arrays["logits"] = logits.cpu().numpy().astype(np.float32)
    if opts.save_features:
        arrays["features"] = st.features[0].cpu().numpy().astype(np.float32)
    st.add(**arrays)


def models_to_run(dataset, models, store: Store, opts: EngineOptions, torch) -> tuple[list[ModelRun], list]:
    """Split ``models`` into those already in the store (skipped, unless ``opts.force``) and
    those to run, which get MC dropout when asked and are checked on one image."""
    runs: list[ModelRun] = []
    pending = []
    for m in models:
        if store.has_model(m.name) and not opts.force:
            runs.append(ModelRun(m.name, "skipped", 0, store.model_metadata(m.name).get("top1"), 0.0,
                                 ("already in the store; --force recomputes",)))
            continue
        if opts.mc_dropout:
            enable_mc_dropout(m.module, m.name)
        pending.append(m)
    if pending and len(dataset):
        _probe(dataset, pending, store.n_classes, torch)
    return runs, pending


def _finish(st: _ModelState, store: Store, opts: EngineOptions, device, amp: bool, elapsed: float,
            decoded: int) -> ModelRun:
    m = st.model
    notes = []
    if st.partial.restarted:
        notes.append("settings changed since the interrupted run: started over")
    if st.todo:  # pragma: no cover - only when the pass stopped early without raising
        return ModelRun(m.name, "incomplete", st.images, None, st.seconds, tuple(notes))
    data = st.partial.load(st.n_shards)
    resumed = st.images < store.n_samples
    if resumed:
        notes.append(f"resumed: {store.n_samples - st.images} images came from an interrupted run")
    per_image = pd.DataFrame({c: data[c] for c in MC_COLUMNS}) if opts.mc_dropout else None
    meta = dict(m.metadata)
    meta.update(source=meta.get("source", "torch"), engine="misclass-predict",
                preprocess=m.preprocess.describe(),
                device=str(device), amp=amp, k=opts.k, seed=opts.seed, batch_size=opts.batch_size,
                mc_dropout=opts.mc_dropout or None, channels_last=opts.channels_last,
                pass_seconds=round(elapsed, 3), pass_images=decoded)
    store.write_model(m.name, data["topk_ids"], data["topk_probs"], probs=data.get("probs"),
                      logits=data.get("logits"), features=data.get("features"), per_image=per_image,
                      metadata=meta, replace=True, half=opts.half)
    st.partial.clear()
    top1 = store.model_metadata(m.name).get("top1")
    return ModelRun(m.name, "resumed" if resumed else "written", st.images, top1, st.seconds, tuple(notes))
