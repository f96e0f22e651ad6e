"""Model specs: what ``misclass predict --model`` accepts, parsed and loaded.

======================================  ===================================================
``timm:NAME``                           a timm model; random weights, or ``pretrained=True``
                                        (``--pretrained``) for its default weights
``timm:NAME@PATH``                      a timm model with weights from a checkpoint file
``torchvision:NAME``                    a torchvision model with random weights
``torchvision:NAME@WEIGHTS``            with a weights enum (``IMAGENET1K_V2``, ``DEFAULT``)
``torchvision:NAME@PATH``               with weights from a checkpoint file
``ckpt:PATH``                           a checkpoint that ``misclass train`` wrote
``py:MODULE:FUNCTION``                  any callable returning ``(module, transform)``;
                                        ``MODULE`` is a dotted name or a ``.py`` file
``ARCH``                                a misclass architecture (``misclass train --arch``,
                                        e.g. ``cifar-resnet20``) with random weights
``ARCH@PATH[#mean=R,G,B#std=R,G,B]``    with a third-party state dict's weights (a
                                        ``module.`` prefix is dropped; a dict holding
                                        ``state_dict`` is unwrapped); the normalisation the
                                        weights expect is given here or with ``--mean`` /
                                        ``--std``; images are resized to 32x32 (a no-op on
                                        CIFAR)
======================================  ===================================================

Prefix any spec with ``NAME=`` to choose the model's name in the store
(``r18=timm:resnet18``). Random-weight models get as many outputs as the dataset has
classes; pretrained and checkpoint models keep theirs and must match the dataset.

misclass never downloads: requested pretrained weights must already be in the local cache
(the Hugging Face hub cache or torch hub's ``checkpoints`` folder), or loading stops with
one message naming the model and the cache folders. ``HF_HUB_OFFLINE=1`` is set before
timm is imported, as a second guard.

>>> spec = parse_model_spec("r18=timm:resnet18@weights/r18.pth")
>>> spec.kind, spec.target, spec.at, spec.name
('timm', 'resnet18', 'weights/r18.pth', 'r18')
>>> spec = parse_model_spec("cifar-resnet56@weights/resnet56.th#mean=0.5,0.5,0.5#std=0.25,0.25,0.25")
>>> spec.kind, spec.target, spec.at, spec.name, spec.mean
('arch', 'cifar-resnet56', 'weights/resnet56.th', 'resnet56', (0.5, 0.5, 0.5))
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from misclass.engine.architectures import ARCHITECTURES
from misclass.engine.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Preprocess,
    fixed_size,
    imagenet_default,
    preprocess_from_transform,
)
from misclass.errors import InputError
from misclass.extras import require
from misclass.validation import check_model_name

SPEC_FORMS = ("timm:NAME[@PATH], torchvision:NAME[@WEIGHTS|@PATH], ckpt:PATH, py:MODULE:FUNCTION "
              "or a misclass architecture ARCH[@PATH] (optionally NAME=SPEC)")
_NAMED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.+-]*)=(.+)$")
ARCH_INPUT_SIZE = (32, 32)  # ARCH[@PATH] models: the CIFAR size
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors", ".ckpt", ".tar", ".pth.tar")


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec: ``kind`` (timm, torchvision, ckpt, py, arch), ``target`` (model
    name, path, ``module:function`` or architecture), ``at`` (the part after ``@``), ``name``
    (in the store), ``mean`` / ``std`` (an ``ARCH@PATH`` spec's normalisation, if given)."""

    kind: str
    target: str
    at: str | None
    name: str
    text: str
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


@dataclass
class LoadedModel:
    """A model ready for the engine: an ``nn.Module`` in eval mode and its preprocessing."""

    name: str
    module: Any
    preprocess: Preprocess
    metadata: dict[str, Any] = field(default_factory=dict)
    classifier: Any = None  # the final layer; its input is the penultimate feature vector


def parse_model_spec(text: str) -> ModelSpec:
    """Parse a spec string (see the module docstring); a malformed one is an :class:`InputError`."""
    raw = text.strip()
    name = None
    m = _NAMED.match(raw)
    if m:
        name, raw = m.group(1), m.group(2)
    if raw.split("#")[0].partition("@")[0] in ARCHITECTURES:
        return _parse_arch_spec(text, raw, name)
    kind, sep, rest = raw.partition(":")
    if not sep or kind not in ("timm", "torchvision", "ckpt", "py"):
        raise InputError(f"model spec {text!r}: expected {SPEC_FORMS}")
    if not rest:
        raise InputError(f"model spec {text!r}: nothing after '{kind}:'")
    at = None
    if kind in ("timm", "torchvision"):
        target, _, at = rest.partition("@")
        at = at or None
        if not target or "@" in rest and at is None:
            raise InputError(f"model spec {text!r}: expected {kind}:NAME[@...]")
        default = target.replace("/", "_").replace(":", "_")
    elif kind == "ckpt":
        target = rest
        default = _name_of_file(Path(rest))
    else:
        module, sep2, func = rest.rpartition(":")
        if not sep2 or not module or not func.isidentifier():
            raise InputError(f"model spec {text!r}: expected py:MODULE:FUNCTION (e.g. py:mypkg.models:build)")
        target = rest
        default = func
    return ModelSpec(kind, target, at, check_model_name(name or default), text)


def _name_of_file(path: Path) -> str:
    """The default model name of a weights file: its stem, or its folder's name for the
    generic ``best`` / ``last`` / ``checkpoint`` (``misclass train`` writes <arch>/best.pt)."""
    default = path.name.split(".")[0] or "checkpoint"
    if default in ("best", "last", "checkpoint") and path.parent.name:
        default = path.parent.name
    return default


def parse_channels(text: str, what: str, *, positive: bool = False) -> tuple[float, ...]:
    """``"0.485,0.456,0.406"`` -> a tuple of floats, one per channel (all > 0 if ``positive``).

    >>> parse_channels("0.5, 0.25,1", "--std", positive=True)
    (0.5, 0.25, 1.0)
    """
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"{what} {text!r}: expected comma-separated numbers, one per channel "
                         "(e.g. 0.485,0.456,0.406)") from None
    if len(values) not in (1, 3):
        raise InputError(f"{what} {text!r}: expected 1 or 3 values (one per channel), got {len(values)}")
    if positive and min(values) <= 0:
        raise InputError(f"{what} {text!r}: expected positive values")
    return values


def _parse_arch_spec(text: str, raw: str, name: str | None) -> ModelSpec:
    head, *options = raw.split("#")
    target, sep, at = head.partition("@")
    if sep and not at:
        raise InputError(f"model spec {text!r}: nothing after '@'; expected {target}@PATH")
    norm: dict[str, tuple[float, ...]] = {}
    for opt in options:
        key, eq, value = opt.partition("=")
        if key not in ("mean", "std") or not eq:
            raise InputError(f"model spec {text!r}: unknown option {opt!r}; expected #mean=R,G,B and "
                             "#std=R,G,B")
        norm[key] = parse_channels(value, f"model spec {text!r}: {key}", positive=key == "std")
    if options and len(norm) != 2:
        raise InputError(f"model spec {text!r}: give both #mean=R,G,B and #std=R,G,B")
    default = _name_of_file(Path(at)) if at else target
    return ModelSpec("arch", target, at or None, check_model_name(name or default), text,
                     norm.get("mean"), norm.get("std"))


def _looks_like_path(at: str) -> bool:
    return "/" in at or os.sep in at or at.endswith(CHECKPOINT_SUFFIXES) or Path(at).exists()


def load_model(spec: ModelSpec | str, *, num_classes: int, pretrained: bool = False,
               seed: int = 0, mean: tuple[float, ...] | None = None,
               std: tuple[float, ...] | None = None) -> LoadedModel:
    """Build the model a spec names, in eval mode on the CPU.

    ``num_classes`` sizes random-weight models, whose weights come from ``seed`` (the same
    spec and seed give the same weights); ``pretrained`` applies to ``timm:NAME``; ``mean``
    and ``std`` are the normalisation of an ``ARCH[@PATH]`` spec that gives none.
    """
    if isinstance(spec, str):
        spec = parse_model_spec(spec)
    torch = require("torch", "torch", feature="running torch models")
    with torch.random.fork_rng(devices=[]):  # seed the weights, leave the caller's RNG as it was
        torch.manual_seed(seed)
        if spec.kind == "timm":
            loaded = _load_timm(spec, num_classes=num_classes, pretrained=pretrained)
        elif spec.kind == "torchvision":
            loaded = _load_torchvision(spec, num_classes=num_classes, pretrained=pretrained)
        elif spec.kind == "arch":
            loaded = _load_arch(spec, num_classes=num_classes, mean=spec.mean or mean, std=spec.std or std)
        elif spec.kind == "ckpt":
            from misclass.engine.checkpoint import load_checkpoint_model

            loaded = load_checkpoint_model(Path(spec.target), name=spec.name)
        else:
            loaded = _load_py(spec)
    loaded.module.eval()
    if loaded.metadata.get("weights") == "random":
        loaded.metadata["seed"] = seed
    loaded.metadata.setdefault("spec", spec.text)
    loaded.metadata.setdefault("parameters", int(sum(p.numel() for p in loaded.module.parameters())))
    return loaded


# ---------------------------------------------------------------------------- timm
def _timm():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return require("timm", "torch", feature="timm models")


def _load_timm(spec: ModelSpec, *, num_classes: int, pretrained: bool) -> LoadedModel:
    timm = _timm()
    if not timm.is_model(spec.target) and not timm.is_model(spec.target.split(".")[0]):
        close = timm.list_models(f"*{spec.target.split('.')[0][:6]}*")[:5]
        hint = f" (similar: {', '.join(close)})" if close else ""
        raise InputError(f"model spec {spec.text!r}: timm has no model {spec.target!r}{hint}")
    meta: dict[str, Any] = {"source": "timm", "architecture": spec.target}
    if spec.at is not None:
        path = _existing_file(spec.at, spec)
        state = _read_state_dict(path, spec)
        classifier = timm.models.get_pretrained_cfg_value(spec.target, "classifier") or "fc"
        classifier = classifier[0] if isinstance(classifier, list | tuple) else classifier
        weight = state.get(f"{classifier}.weight")
        n_out = int(weight.shape[0]) if weight is not None else num_classes
        model = timm.create_model(spec.target, pretrained=False, num_classes=n_out)
        _load_state(model, state, path, spec)
        meta.update(weights=str(path.resolve()))
    elif pretrained:
        weights = find_cached_timm_weights(spec.target)
        model = timm.create_model(spec.target, pretrained=True,
                                  pretrained_cfg_overlay={"file": str(weights), "source": "",
                                                          "hf_hub_id": None, "url": ""})
        meta.update(weights=str(weights), pretrained=True)
    else:
        model = timm.create_model(spec.target, pretrained=False, num_classes=num_classes)
        meta.update(weights="random")
    config = timm.data.resolve_data_config({}, model=model)
    transform = timm.data.create_transform(**config)
    meta["data_config"] = {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}
    return LoadedModel(spec.name, model, preprocess_from_transform(transform), meta,
                       classifier=model.get_classifier())


def find_cached_timm_weights(name: str) -> Path:
    """The local file holding timm's default pretrained weights for ``name``, or an error
    naming the model and the cache folders."""
    timm = _timm()
    import torch

    cfg = timm.models.get_pretrained_cfg(name, allow_unregistered=False)
    if cfg is None:
        raise InputError(f"timm:{name}: timm has no pretrained weights for this model")
    cfg = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
    torch_cache = Path(torch.hub.get_dir()) / "checkpoints"
    hf_cache = _hf_cache_dir()
    candidates: list[Path] = []
    if cfg.get("file"):
        candidates.append(Path(cfg["file"]))
    if cfg.get("hf_hub_id"):
        found = _hf_cached(cfg["hf_hub_id"], cfg.get("hf_hub_filename"))
        if found is not None:
            return found
    if cfg.get("url"):
        candidates.append(torch_cache / Path(cfg["url"].split("?")[0]).name)
    for c in candidates:
        if c.is_file():
            return c
    where = f"the Hugging Face cache {hf_cache} ({cfg.get('hf_hub_id') or 'no hub id'})"
    if cfg.get("url"):
        where += f" or {torch_cache / Path(cfg['url']).name}"
    raise InputError(
        f"timm:{name}: pretrained weights are not in the local cache: looked in {where}. misclass "
        "does not download; fetch them once (e.g. timm.create_model(name, pretrained=True) on a "
        "machine with network) or pass timm:NAME@PATH"
    )


def _hf_cache_dir() -> Path:
    try:
        from huggingface_hub import constants

        return Path(constants.HF_HUB_CACHE)
    except ImportError:
        return Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"


def _hf_cached(hub_id: str, filename: str | None) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    repo, _, revision = hub_id.partition("@")
    names = [filename] if filename else ["model.safetensors", "pytorch_model.bin"]
    for fname in names:
        found = try_to_load_from_cache(repo, fname, revision=revision or None)
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


# ---------------------------------------------------------------------------- torchvision
def _load_torchvision(spec: ModelSpec, *, num_classes: int, pretrained: bool) -> LoadedModel:
    tv = require("torchvision", "torch", feature="torchvision models")
    available = tv.models.list_models(module=tv.models)
    if spec.target not in available:
        close = [m for m in available if m.startswith(spec.target[:4])][:5]
        hint = f" (similar: {', '.join(close)})" if close else ""
        raise InputError(f"model spec {spec.text!r}: torchvision has no classification model "
                         f"{spec.target!r}{hint}")
    meta: dict[str, Any] = {"source": "torchvision", "architecture": spec.target}
    extra = _torchvision_kwargs(spec.target)
    at = spec.at or ("DEFAULT" if pretrained else None)
    if at is not None and not _looks_like_path(at):
        enum = tv.models.get_model_weights(spec.target)
        try:
            weights = enum[at] if at != "DEFAULT" else enum.DEFAULT
        except KeyError:
            raise InputError(f"model spec {spec.text!r}: {spec.target} has no weights {at!r}; choose from "
                             f"{', '.join(w.name for w in enum)} or give a checkpoint path") from None
        _check_torchvision_cache(spec, weights)
        model = tv.models.get_model(spec.target, weights=weights)
        meta.update(weights=f"{type(weights).__name__}.{weights.name}", pretrained=True)
        return LoadedModel(spec.name, model, preprocess_from_transform(weights.transforms()), meta,
                           classifier=last_linear(model))
    if at is not None:
        path = _existing_file(at, spec)
        state = _read_state_dict(path, spec)
        probe = tv.models.get_model(spec.target, weights=None, **extra)
        head = last_linear_name(probe)
        weight = state.get(f"{head}.weight") if head else None
        n_out = int(weight.shape[0]) if weight is not None else num_classes
        model = tv.models.get_model(spec.target, weights=None, num_classes=n_out, **extra)
        _load_state(model, state, path, spec)
        meta.update(weights=str(path.resolve()))
    else:
        model = tv.models.get_model(spec.target, weights=None, num_classes=num_classes, **extra)
        meta.update(weights="random")
    return LoadedModel(spec.name, model, _torchvision_default_preprocess(spec.target), meta,
                       classifier=last_linear(model))


def _torchvision_kwargs(name: str) -> dict[str, Any]:
    """Keyword arguments that keep torchvision's models single-output in eval and quiet."""
    if name in ("googlenet", "inception_v3"):
        return {"aux_logits": False, "init_weights": True}
    return {}


def _torchvision_default_preprocess(name: str) -> Preprocess:
    """The preprocessing of the model's DEFAULT weights (sizes and normalisation), used for
    random and checkpoint weights too."""
    import torchvision

    try:
        return preprocess_from_transform(torchvision.models.get_model_weights(name).DEFAULT.transforms())
    except (ValueError, AttributeError, KeyError):
        return imagenet_default()


def _check_torchvision_cache(spec: ModelSpec, weights) -> None:
    import torch

    cache = Path(torch.hub.get_dir()) / "checkpoints"
    target = cache / Path(weights.url.split("?")[0]).name
    if not target.is_file():
        raise InputError(
            f"{spec.text}: pretrained weights {type(weights).__name__}.{weights.name} are not in the "
            f"local cache ({target}). misclass does not download; fetch them once on a machine with "
            "network or give a checkpoint path after '@'"
        )


def last_linear_name(model) -> str | None:
    """Qualified name of the last ``nn.Linear`` of a model (its classifier), or None."""
    import torch

    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    return names[-1] if names else None


def last_linear(model):
    """The last ``nn.Linear`` of a model (its classifier), or None."""
    name = last_linear_name(model)
    return model.get_submodule(name) if name else None


# ---------------------------------------------------------------------------- files
def _existing_file(at: str, spec: ModelSpec) -> Path:
    path = Path(at).expanduser()
    if not path.is_file():
        raise InputError(f"model spec {spec.text!r}: checkpoint {path} does not exist")
    return path


def _read_state_dict(path: Path, spec: ModelSpec) -> dict[str, Any]:
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for unreadable files
        raise InputError(f"{path}: not a readable weights file for {spec.text} ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200]})") from exc
    if isinstance(obj, dict):
        for key in ("state_dict_ema", "model_ema", "state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise InputError(f"{path}: expected a state dict (parameter name -> tensor) for {spec.text}")
    return {(k[7:] if k.startswith("module.") else k): v for k, v in obj.items()}


_AUX_PREFIXES = ("aux1.", "aux2.", "AuxLogits.")


def _key_list(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def _load_state(model, state: dict[str, Any], path: Path, spec: ModelSpec) -> None:
    """Load ``state`` into ``model``; any mismatch is one error naming the missing keys, the
    unexpected keys and the keys with another shape."""
    own = model.state_dict()
    state = {k: v for k, v in state.items() if k in own or not k.startswith(_AUX_PREFIXES)}
    reshaped = {k: v for k, v in state.items()
                if k in own and tuple(getattr(v, "shape", ())) != tuple(own[k].shape)}
    try:
        result = model.load_state_dict({k: v for k, v in state.items() if k not in reshaped}, strict=False)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1:2] or [str(exc)]
        raise InputError(f"{path}: weights do not fit {spec.text}: {first[0].strip()[:200]}") from exc
    missing = [k for k in result.missing_keys if k not in reshaped]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing: {_key_list(missing)}")
    if result.unexpected_keys:
        parts.append(f"{len(result.unexpected_keys)} unexpected: {_key_list(result.unexpected_keys)}")
    if reshaped:
        parts.append(f"{len(reshaped)} with another shape: " + _key_list(
            [f"{k} {tuple(v.shape)} (model {tuple(own[k].shape)})" for k, v in reshaped.items()], 3))
    if parts:
        raise InputError(f"{path}: weights do not fit {spec.text}: {'; '.join(parts)}")


# ---------------------------------------------------------------------------- ARCH[@PATH]
def _load_arch(spec: ModelSpec, *, num_classes: int, mean: tuple[float, ...] | None,
               std: tuple[float, ...] | None) -> LoadedModel:
    """A misclass architecture with random weights or a state dict's. Classes and input
    channels follow the state dict (its last linear layer and first convolution)."""
    import torch

    from misclass.engine.architectures import build_architecture

    meta: dict[str, Any] = {"source": "architecture", "architecture": spec.target}
    channels = 3

    def build(classes: int, in_channels: int):
        return build_architecture(spec.target, num_classes=classes, in_channels=in_channels,
                                  input_size=ARCH_INPUT_SIZE)

    if spec.at is None:
        model = build(num_classes, channels)
        meta["weights"] = "random"
        mean, std = mean or IMAGENET_MEAN, std or IMAGENET_STD
    else:
        if mean is None or std is None:
            raise InputError(
                f"model spec {spec.text!r}: give the normalisation its weights were trained with: "
                f"--mean R,G,B --std R,G,B, or {spec.target}@PATH#mean=R,G,B#std=R,G,B (ImageNet's: "
                f"{','.join(map(str, IMAGENET_MEAN))} and {','.join(map(str, IMAGENET_STD))})")
        path = _existing_file(spec.at, spec)
        state = _read_state_dict(path, spec)
        model = build(num_classes, channels)
        head = last_linear_name(model)
        first_conv = next((n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)), None)
        weight, conv = state.get(f"{head}.weight"), state.get(f"{first_conv}.weight")
        n_out = int(weight.shape[0]) if getattr(weight, "ndim", 0) == 2 else num_classes
        channels = int(conv.shape[1]) if getattr(conv, "ndim", 0) == 4 else channels
        if (n_out, channels) != (num_classes, 3):
            model = build(n_out, channels)
        _load_state(model, state, path, spec)
        meta["weights"] = str(path.resolve())
    if channels not in (1, 3):
        raise InputError(f"model spec {spec.text!r}: the weights take {channels} input channels; "
                         "expected 1 (grey) or 3 (RGB)")
    for what, values in (("mean", mean), ("std", std)):
        if len(values) not in (1, channels):
            raise InputError(f"model spec {spec.text!r}: {what} has {len(values)} values; the model "
                             f"takes {channels} channel(s)")
    pre = fixed_size(ARCH_INPUT_SIZE, mode="L" if channels == 1 else "RGB", mean=mean, std=std)
    return LoadedModel(spec.name, model, pre, meta, classifier=last_linear(model))


# ---------------------------------------------------------------------------- py:
def _import_module(target: str, spec: ModelSpec):
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise InputError(f"model spec {spec.text!r}: {path} does not exist")
        mod_name = f"misclass_user_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[mod_name] = module  # so DataLoader workers can pickle its transforms
        module_spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(target)
    except ImportError as exc:
        raise InputError(f"model spec {spec.text!r}: cannot import {target!r} ({exc})") from exc


def _load_py(spec: ModelSpec) -> LoadedModel:
    import torch

    module_name, _, func_name = spec.target.rpartition(":")
    module = _import_module(module_name, spec)
    func = getattr(module, func_name, None)
    if not callable(func):
        raise InputError(f"model spec {spec.text!r}: {module_name} has no callable {func_name!r}")
    out = func()
    if isinstance(out, dict):
        out = (out.get("model"), out.get("transform") or out.get("preprocess"))
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], torch.nn.Module)):
        raise InputError(f"model spec {spec.text!r}: {func_name}() must return (torch.nn.Module, transform); "
                         f"got {type(out).__name__}")
    model, transform = out
    if transform is None:
        raise InputError(f"model spec {spec.text!r}: {func_name}() returned no transform")
    meta = {"source": "py", "architecture": type(model).__name__, "callable": spec.target}
    return LoadedModel(spec.name, model, preprocess_from_transform(transform), meta,
                       classifier=last_linear(model))
