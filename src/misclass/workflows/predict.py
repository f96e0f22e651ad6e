"""``misclass predict``: run torch models (timm, torchvision, checkpoints, misclass
architectures, ``py:`` callables) over a dataset in one pass and store every prediction.

:func:`predict` loads the dataset and the models, opens (or creates) the store and runs
:func:`misclass.engine.core.predict_models`; its :class:`PredictResult` wraps the
engine's :class:`~misclass.engine.core.EngineReport` with the store and the dataset, and
gives the JSON of ``misclass predict --json`` and one row per model as a DataFrame.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from misclass.errors import InputError
from misclass.workflows.common import json_ready

if TYPE_CHECKING:
    import pandas as pd

    from misclass.data.dataset import Dataset
    from misclass.engine.core import EngineReport
    from misclass.engine.specs import LoadedModel
    from misclass.store import Store

__all__ = ["SPLITS", "PredictResult", "predict", "select_split"]

SPLITS = ("test", "train", "all")


@dataclass(frozen=True)
class PredictResult:
    """What one ``misclass predict`` run did: the store it wrote to, the dataset's name and
    number of images, and the engine's report (``run``: per-model status, images decoded in
    this run, seconds, device)."""

    store: str
    dataset: str
    n_samples: int
    run: EngineReport

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.run.models)

    def to_frame(self) -> pd.DataFrame:
        """One row per model (index ``model``): status ("written", "resumed", "skipped"),
        images computed in this run, top-1 accuracy in the store, seconds and notes."""
        import pandas as pd

        rows = [{"status": r.status, "computed": r.images, "top1": r.top1, "seconds": r.seconds,
                 "notes": "; ".join(r.notes)} for r in self.run.models]
        return pd.DataFrame(rows, index=pd.Index(self.models, name="model"),
                            columns=["status", "computed", "top1", "seconds", "notes"])

    def to_dict(self) -> dict[str, Any]:
        """What ``misclass predict --json`` writes."""
        r = self.run
        return json_ready({
            "store": self.store, "dataset": self.dataset, "images": r.images, "seconds": r.seconds,
            "images_per_s": r.images_per_s if r.images else None, "device": r.device,
            "models": [{"name": m.name, "status": m.status, "computed": m.images, "top1": m.top1,
                        "notes": list(m.notes)} for m in r.models],
        })


def select_split(dataset: Dataset, split: str) -> Dataset:
    """The samples of ``split`` ("all" keeps every sample); an error names the splits there are."""
    if split not in SPLITS:
        raise InputError(f"--split {split!r}: expected {', '.join(SPLITS)}")
    if split == "all" or "split" not in dataset.samples.columns:
        return dataset
    part = dataset.split(split)
    if len(part) == 0:
        have = ", ".join(sorted(set(dataset.samples["split"]))) or "none"
        raise InputError(f"{dataset.name}: no {split!r} images (splits: {have}); use --split all")
    return part


def predict(
    store: Store | str | os.PathLike,
    *,
    data: str | Dataset,
    models: str | LoadedModel | Sequence[str | LoadedModel],
    split: str = "test",
    pretrained: bool = False,
    batch_size: int = 64,
    workers: int | None = None,
    device: str = "auto",
    amp: bool | None = None,
    top_k: int = 5,
    save_probs: bool = False,
    save_logits: bool = False,
    save_features: bool = False,
    half: bool = False,
    mean: str | Sequence[float] | None = None,
    std: str | Sequence[float] | None = None,
    mc_dropout: int = 0,
    seed: int = 0,
    force: bool = False,
    shard_size: int = 2048,
    threads: int | None = None,
    console=None,
    progress: bool = True,
    ray: str | None = None,
) -> PredictResult:
    """Predict with several models in one pass over a dataset and store every prediction.

    Parameters
    ----------
    store : the store to write to (a path: created from the dataset when it does not exist;
        an existing one must hold the dataset's samples in order).
    data : a dataset spec (``digits``, ``planted-digits``, ``cifar10:PATH``,
        ``folder:PATH[,LABELS.csv]``) or a loaded :class:`~misclass.data.dataset.Dataset`.
    models : model specs (``timm:NAME[@PATH]``, ``torchvision:NAME[@WEIGHTS|@PATH]``,
        ``ckpt:PATH``, ``py:MODULE:FUNCTION``, ``ARCH[@STATE_DICT]``, optionally ``NAME=SPEC``)
        or models already loaded (:class:`~misclass.engine.specs.LoadedModel`).
    split : which images: "test", "train" or "all".
    mean, std : normalisation (``"R,G,B"`` or three numbers) of ``ARCH[@PATH]`` specs that
        give none.
    threads : CPU threads for torch during the run (None: torch's choice).
    console, progress : where the progress bar goes, and whether to show one.
    ray : run on a Ray cluster (``misclass[ray]``): ``"auto"`` (the cluster this machine is in),
        ``"local"`` (a Ray instance on this machine) or an address (``HOST:6379``,
        ``ray://HOST:10001``); see :mod:`misclass.engine.ray_engine` and docs/scale.md.

    The other options are those of ``misclass predict`` (see ``misclass predict --help``).
    A rerun skips models already in the store (``force`` recomputes them) and resumes an
    interrupted one.
    """
    from misclass.data import load_dataset
    from misclass.engine.core import EngineOptions, predict_models, prepare_store
    from misclass.engine.device import torch_threads
    from misclass.engine.specs import LoadedModel, load_model, parse_channels, parse_model_spec
    from misclass.store import Store

    given = [models] if isinstance(models, str | LoadedModel) else list(models)
    if not given:
        raise InputError("no model given: pass at least one --model")
    specs = [m if isinstance(m, LoadedModel) else parse_model_spec(m) for m in given]
    norm = {k: _channels(v, k, parse_channels) for k, v in (("mean", mean), ("std", std))}
    if (mean is not None or std is not None) and not any(getattr(s, "kind", None) == "arch" for s in specs):
        raise InputError("--mean/--std apply to misclass architectures ARCH[@PATH] (e.g. "
                         "cifar-resnet56@resnet56.th); no --model is one")
    if mc_dropout == 1:
        raise InputError("--mc-dropout 1: use at least 2 passes (or 0 for off)")
    opts = EngineOptions(k=top_k, batch_size=batch_size, workers=workers, device=device, amp=amp,
                         save_probs=save_probs, save_logits=save_logits, save_features=save_features,
                         half=half, mc_dropout=mc_dropout, seed=seed, force=force, shard_size=shard_size)
    loaded_data = load_dataset(data, seed=seed) if isinstance(data, str) else data
    dataset = select_split(loaded_data, split)
    path = store.path if isinstance(store, Store) else store
    with torch_threads(threads):
        loaded = [s if isinstance(s, LoadedModel) else
                  load_model(s, num_classes=len(dataset.classes), pretrained=pretrained, seed=seed, **norm)
                  for s in specs]
        s = prepare_store(path, dataset, info={"split": split, "seed": seed})
        if ray is not None:
            from misclass.engine.ray_engine import predict_models_ray

            run = predict_models_ray(dataset, loaded, s, opts, address=ray, console=console,
                                     progress=progress)
        else:
            run = predict_models(dataset, loaded, s, opts, console=console, progress=progress)
    return PredictResult(str(s.path), dataset.name, len(dataset), run)


def _channels(value, name: str, parse_channels) -> tuple[float, ...] | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else ",".join(str(v) for v in value)
    return parse_channels(text, f"--{name}", positive=name == "std")
