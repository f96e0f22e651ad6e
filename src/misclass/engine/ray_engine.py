"""The prediction engine on a Ray cluster (``misclass predict --ray auto|local|ADDRESS``).

The dataset is cut into the same shards as the local engine
(:func:`misclass.engine.shards.shard_bounds`); each shard x group of models is one Ray task.
A task decodes its shard's images once for every model of its group, runs them with the
local engine's own code (:func:`misclass.engine.core._run_pass`) and writes each model's
shard into ``<store>/.partial/<model>/`` through :class:`~misclass.engine.shards.PartialRun`:
the same files, under the same manifest, as the local engine. So a Ray run resumes like a
local one (and a local run can finish what a Ray run started, on the same device type).

The driver loads the models once, checks them on one image, ships them and the dataset to
the workers through Ray's object store, shows progress and commits each model to the store
(``Store.write_model``, one transaction) as soon as its shards are complete. A task whose
worker dies is retried (``max_retries``); a task that fails on its input (a node that
cannot read the store or the dataset, say) stops the run with that error, and the
finished shards stay in ``.partial/`` for the next run.

Ray is imported only here (extra ``misclass[ray]``).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from misclass.data.dataset import Dataset
from misclass.engine.core import (
    EngineOptions,
    EngineReport,
    ModelRun,
    _check_options,
    _finish,
    _ModelState,
    _prepare_model,
    _run_pass,
    _signature,
    models_to_run,
)
from misclass.engine.shards import PartialRun, samples_digest, shard_bounds
from misclass.engine.specs import LoadedModel
from misclass.errors import InputError, MisclassError, StoreError
from misclass.extras import require
from misclass.store import Store

__all__ = ["connect", "predict_models_ray", "worker_device"]


def _ray():
    return require("ray", "ray", feature="misclass predict --ray")


def connect(address: str, ray=None) -> bool:
    """Connect to Ray unless already connected; return True when this call started it.

    ``address``: ``auto`` (the cluster this machine belongs to, as ``ray start`` or
    ``RAY_ADDRESS`` set it up), ``local`` (a new Ray instance on this machine only), or a
    cluster address (``HOST:6379`` or ``ray://HOST:10001``).
    """
    ray = ray or _ray()
    if ray.is_initialized():
        return False
    try:
        if address == "local":
            ray.init(include_dashboard=False)
        else:
            ray.init(address=address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"--ray {address}: cannot connect to a Ray cluster ({first}); start one with "
                         "`ray start --head`, or use --ray local for a Ray instance on this machine") from exc
    return True


def worker_device(device: str, ray=None) -> str:
    """The torch device the tasks use: ``auto`` is ``cuda`` when the cluster has GPUs, else
    ``cpu``; ``cuda:N`` is ``cuda`` (Ray gives each task its own GPU, seen as ``cuda:0``)."""
    ray = ray or _ray()
    if device == "auto":
        return "cuda" if ray.cluster_resources().get("GPU", 0) > 0 else "cpu"
    if device.startswith("cuda"):
        if ray.cluster_resources().get("GPU", 0) <= 0:
            raise InputError(f"--device {device}: the Ray cluster has no GPUs")
        return "cuda"
    if device not in ("cpu", "mps"):
        raise InputError(f"--device {device!r}: expected auto, cpu, cuda, cuda:N or mps")
    return device


# ---------------------------------------------------------------------------- the task
def check_paths(store_path: str, dataset: Dataset, models: Sequence[str], first: int) -> None:
    """On a worker: the store's partial folders and the dataset's images must be there."""
    host = socket.gethostname()
    every = "must be on a filesystem every Ray node sees (e.g. NFS), at the same path"
    store = Path(store_path)
    if not store.is_dir():
        raise StoreError(f"node {host}: cannot read the store {store}: no such folder on this node; the "
                         f"store {every}")
    for name in models:
        part = PartialRun(store, name, {}).root
        if not part.is_dir() or not os.access(part, os.W_OK | os.X_OK):
            raise StoreError(f"node {host}: cannot write {part} (the shards of {name!r}) on this node; the "
                             f"store {every}")
    if dataset.images is None:
        root = Path(dataset.root) if dataset.root is not None else None
        if root is None or not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
            raise InputError(f"node {host}: cannot read the dataset {root}: no such readable folder on "
                             f"this node; the dataset {every}")
        image = root / str(dataset.samples["path"].iloc[first])
        if not os.access(image, os.R_OK):
            raise InputError(f"node {host}: cannot read the dataset's image {image} on this node; the "
                             f"dataset {every}")


def run_shard(store_path: str, dataset: Dataset, models: Sequence[LoadedModel], names: Sequence[str],
              signatures: dict[str, dict], shard: int, bounds: list[tuple[int, int]], opts: EngineOptions,
              device_name: str, amp: bool, threads: int = 1) -> dict[str, Any]:
    """One Ray task: shard ``shard`` of the models ``names`` of ``models``, into ``.partial/``,
    with torch on ``threads`` CPU threads (the CPUs Ray gave the task)."""
    torch = require("torch", "torch", feature="running torch models")
    torch.set_num_threads(threads)
    from misclass.engine.device import default_workers, select_device

    chosen = [m for m in models if m.name in set(names)]
    check_paths(store_path, dataset, names, bounds[shard][0])
    device = select_device(device_name)
    states = [_ModelState(m, PartialRun(Path(store_path), m.name, signatures[m.name]), {shard}, len(bounds))
              for m in chosen]
    geometries: dict[tuple, int] = {}
    for st in states:
        geometries.setdefault(st.model.preprocess.geometry_key, len(geometries))
    geo_list = [None] * len(geometries)
    for st in states:
        geo_list[geometries[st.model.preprocess.geometry_key]] = st.model.preprocess
    workers = opts.workers if opts.workers is not None else (
        default_workers(device) if device.type == "cuda" else 0)
    t0 = time.perf_counter()
    for st in states:
        _prepare_model(st, device, opts, torch)
    try:
        decoded = _run_pass(dataset, states, geometries, geo_list, bounds, [shard], opts, device, amp,
                            workers, None, False, None, torch)
    finally:
        for st in states:
            if st.hook is not None:
                st.hook.remove()
    left = [st.model.name for st in states if st.todo]
    if left:  # pragma: no cover - _run_pass flushes every shard it finishes
        raise StoreError(f"shard {shard}: no result for {', '.join(left)}")
    return {"shard": shard, "models": list(names), "images": decoded, "host": socket.gethostname(),
            "seconds": time.perf_counter() - t0}


# ---------------------------------------------------------------------------- the driver
def predict_models_ray(dataset: Dataset, models: Sequence[LoadedModel], store: Store,
                       options: EngineOptions | None = None, *, address: str = "auto",
                       models_per_task: int | None = None, cpus_per_task: int = 1, max_retries: int = 3,
                       console=None,
                       progress: bool = True, on_shard: Callable[[int], None] | None = None) -> EngineReport:
    """:func:`misclass.engine.core.predict_models` with the work spread over a Ray cluster.

    ``address``: see :func:`connect` (an already initialised Ray is used as it is).
    ``models_per_task``: models run by one task (None: every model; each task then decodes
    its shard once for all of them). ``cpus_per_task``: CPUs Ray reserves for each task, and
    torch's threads in it (results are bitwise equal to the local engine's on the same device
    and number of threads). ``max_retries``: times a task is rerun when its worker
    dies. ``on_shard(shard)`` is called on the driver after each finished task.
    """
    ray = _ray()
    torch = require("torch", "torch", feature="running torch models")
    opts = options or EngineOptions()
    _check_options(opts)
    if models_per_task is not None and models_per_task < 1:
        raise InputError(f"models_per_task {models_per_task}: expected at least 1")
    if cpus_per_task < 1:
        raise InputError(f"cpus_per_task {cpus_per_task}: expected at least 1")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise InputError(f"a model name is given twice: {', '.join(names)}; name them with NAME=SPEC")
    n = len(dataset)
    if store.n_samples != n:
        raise StoreError(f"{store.path}: {store.n_samples} samples but the dataset has {n}")
    started = connect(address, ray)
    try:
        return _drive(ray, torch, dataset, models, store, opts, models_per_task, cpus_per_task, max_retries,
                      console, progress, on_shard)
    finally:
        if started:
            ray.shutdown()


def _drive(ray, torch, dataset, models, store, opts, models_per_task, cpus_per_task, max_retries, console,
           progress, on_shard) -> EngineReport:
    device_name = worker_device(opts.device, ray)
    amp = _amp(device_name, opts.amp, torch)
    n = len(dataset)
    bounds = shard_bounds(n, opts.shard_size)
    digest = samples_digest(store.sample_ids())
    runs, pending = models_to_run(dataset, models, store, opts, torch)
    states: dict[str, _ModelState] = {}
    signatures: dict[str, dict] = {}
    for m in pending:
        signatures[m.name] = _signature(m, opts, n, digest, amp)
        partial = PartialRun(store.path, m.name, signatures[m.name])
        if opts.force:
            partial.clear()
        done = partial.open()
        states[m.name] = _ModelState(m, partial, set(range(len(bounds))) - done, len(bounds))
    size = models_per_task or max(1, len(pending))
    groups = [pending[i:i + size] for i in range(0, len(pending), size)]
    start = time.perf_counter()
    decoded = 0
    written: dict[str, ModelRun] = {}
    for st in states.values():  # every shard already on disk: commit now
        if not st.todo:
            written[st.model.name] = _finish(st, store, opts, device_name, amp, 0.0, 0)
    jobs = [(s, g) for s in range(len(bounds)) for g in range(len(groups))
            if any(s in states[m.name].todo for m in groups[g])]
    if jobs:
        task = ray.remote(run_shard).options(
            num_cpus=cpus_per_task, num_gpus=1 if device_name == "cuda" else 0, max_retries=max_retries,
            retry_exceptions=False)
        data_ref = ray.put(dataset)
        group_refs = [ray.put([_portable(m) for m in g]) for g in groups]
        futures = {}
        for s, g in jobs:
            todo = [m.name for m in groups[g] if s in states[m.name].todo]
            ref = task.remote(str(store.path), data_ref, group_refs[g], todo, signatures, s, bounds, opts,
                              device_name, amp, cpus_per_task)
            futures[ref] = (s, todo)
        decoded = _collect(ray, futures, states, bounds, store, opts, device_name, amp, start, written,
                           console, progress, on_shard)
    elapsed = time.perf_counter() - start
    for name, st in states.items():
        run = written.get(name)
        if run is None:  # pragma: no cover - _collect raises before leaving a model unfinished
            run = ModelRun(name, "incomplete", st.images, None, st.seconds)
        runs.append(run)
    order = {name: i for i, name in enumerate(m.name for m in models)}
    runs.sort(key=lambda r: order[r.name])
    slots = ray.cluster_resources().get("GPU" if device_name == "cuda" else "CPU", 0)
    return EngineReport(tuple(runs), decoded, elapsed, f"ray:{device_name}", int(slots))


def _collect(ray, futures, states, bounds, store, opts, device_name, amp, start, written, console, progress,
             on_shard) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn())
    total = sum(bounds[s][1] - bounds[s][0] for s, _ in futures.values())
    decoded = 0
    left = list(futures)
    with Progress(*columns, console=console, transient=True, disable=not progress) as bar:
        task = bar.add_task(f"predicting with {len(states)} model(s) on Ray", total=total, rate="")
        while left:
            ready, left = ray.wait(left, num_returns=1)
            shard, names = futures[ready[0]]
            try:
                result = ray.get(ready[0])
            except Exception as exc:
                for ref in left:
                    ray.cancel(ref)
                raise _task_error(ray, exc, shard, names, store) from None
            decoded += result["images"]
            for name in names:
                st = states[name]
                st.todo.discard(shard)
                st.images += bounds[shard][1] - bounds[shard][0]
                st.seconds += result["seconds"]
                if not st.todo and name not in written:
                    written[name] = _finish(st, store, opts, device_name, amp, time.perf_counter() - start,
                                            decoded)
            rate = decoded / max(time.perf_counter() - start, 1e-9)
            bar.update(task, advance=result["images"], rate=f"{rate:,.1f} images/s")
            if on_shard is not None:
                on_shard(shard)
    return decoded


def _task_error(ray, exc: Exception, shard: int, names: Sequence[str], store: Store) -> Exception:
    kept = (f"the finished shards are kept in {Path(store.path) / '.partial'}; rerun to resume")
    cause = getattr(exc, "cause", None)
    if isinstance(exc, ray.exceptions.RayTaskError) and isinstance(cause, MisclassError):
        return cause
    if isinstance(exc, ray.exceptions.RayTaskError):
        first = (str(cause) if cause is not None else str(exc)).splitlines()[0][:300]
        return StoreError(f"shard {shard} of {', '.join(names)} failed on a Ray worker: {first} ({kept})")
    first = str(exc).splitlines()[0][:300]
    return StoreError(f"shard {shard} of {', '.join(names)}: the Ray task was lost ({type(exc).__name__}: "
                      f"{first}) after its retries; {kept}")


def _amp(device_name: str, amp: bool | None, torch) -> bool:
    from misclass.engine.device import use_amp

    return use_amp(torch.device(device_name), amp)


def _portable(m: LoadedModel) -> LoadedModel:
    """The model on the CPU, for pickling into the object store."""
    m.module = m.module.to("cpu")
    return m
