"""Checkpoints that ``misclass train`` writes and ``ckpt:PATH`` reads.

A checkpoint is a ``torch.save`` dict of plain values and tensors (loadable with
``weights_only=True``)::

    format        "misclass-checkpoint"      version   1
    arch          architecture name          arch_kwargs  num_classes, in_channels, input_size, width
    state_dict    the weights                preprocess   mode, size (h, w), mean, std
    classes       class names                training     hyperparameters, epoch, metrics
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from misclass.engine.preprocess import Preprocess, fixed_size
from misclass.errors import InputError
from misclass.store.files import atomic_write

FORMAT = "misclass-checkpoint"
VERSION = 1


def save_checkpoint(path: Path, *, model, arch: str, arch_kwargs: dict[str, Any], preprocess: dict[str, Any],
                    classes: list[str], training: dict[str, Any]) -> Path:
    """Write a checkpoint atomically (temporary file, then rename)."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    obj = {
        "format": FORMAT, "version": VERSION, "arch": arch, "arch_kwargs": dict(arch_kwargs),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "preprocess": dict(preprocess), "classes": list(classes), "training": dict(training),
    }
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Read and check a misclass checkpoint; a clear :class:`InputError` otherwise."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"ckpt:{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for unreadable files
        raise InputError(f"ckpt:{path}: not a readable torch checkpoint ({type(exc).__name__})") from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise InputError(f"ckpt:{path}: not a checkpoint written by 'misclass train' (use timm:NAME@PATH "
                         "or torchvision:NAME@PATH for other weights files)")
    if obj.get("version") != VERSION:
        raise InputError(f"ckpt:{path}: checkpoint version {obj.get('version')}; this misclass reads "
                         f"{VERSION}")
    return obj


def checkpoint_preprocess(pre: dict[str, Any]) -> Preprocess:
    """The :class:`Preprocess` a checkpoint's ``preprocess`` entry describes."""
    return fixed_size(tuple(pre["size"]), mode=pre["mode"], mean=pre["mean"], std=pre["std"])


def load_checkpoint_model(path: Path, *, name: str):
    """The model of a misclass checkpoint as a :class:`~misclass.engine.specs.LoadedModel`."""
    from misclass.engine.architectures import build_architecture
    from misclass.engine.specs import LoadedModel, last_linear

    obj = read_checkpoint(path)
    kwargs = obj["arch_kwargs"]
    model = build_architecture(obj["arch"], num_classes=int(kwargs["num_classes"]),
                               in_channels=int(kwargs["in_channels"]),
                               input_size=tuple(kwargs["input_size"]), width=kwargs.get("width"))
    try:
        model.load_state_dict(obj["state_dict"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"ckpt:{path}: weights do not fit {obj['arch']} ({first})") from exc
    meta = {"source": "checkpoint", "architecture": obj["arch"], "weights": str(Path(path).resolve()),
            "training": obj.get("training", {})}
    return LoadedModel(name, model, checkpoint_preprocess(obj["preprocess"]), meta,
                       classifier=last_linear(model))
