"""How a model wants its input, split so that the engine can share work between models.

A :class:`Preprocess` has two stages:

1. **geometry** (in the DataLoader workers, per image): convert the decoded image to a PIL
   mode (``"RGB"`` or ``"L"``), then resize / centre-crop steps, ending as a ``uint8``
   tensor ``(C, H, W)``. Models whose geometry is equal share this tensor.
2. **scaling** (on the device, per batch): ``x / 255``, then ``(x - mean) / std``.

The steps replay torchvision's own functions (``F.resize``, ``F.center_crop``,
``F.pil_to_tensor``), and the scaling performs the same float operations as ``ToTensor``
and ``Normalize``, so the engine feeds a model bit-identical inputs to the model's own
transform. :func:`preprocess_from_transform` reads timm's and torchvision's transforms
(``Compose`` of ``Resize`` / ``CenterCrop`` / ``ToTensor`` / ``Normalize``, and torchvision
weights' ``ImageClassification`` preset); any other callable is kept as an opaque
``custom`` transform (PIL image in, float tensor out) and run as it is.

Only :func:`apply_geometry`, :func:`scale_batch` and :func:`preprocess_from_transform` touch
torch, and they import it themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from misclass.errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocess:
    """One model's input preparation (see the module docstring).

    Attributes
    ----------
    mode : str
        PIL mode the decoded image is converted to first: ``"RGB"`` (3 channels) or ``"L"``.
    steps : tuple of tuples
        Geometric steps, each ``("resize", size, interpolation, max_size, antialias)`` or
        ``("center_crop", (h, w))``; ``size`` as torchvision's ``F.resize`` takes it.
    mean, std : tuple of float
        Per-channel normalisation applied after dividing by 255.
    custom : callable or None
        An opaque transform (PIL image -> float tensor) used instead of the stages above.
    """

    mode: str = "RGB"
    steps: tuple = ()
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    custom: Callable[[Any], Any] | None = field(default=None, compare=False)

    @property
    def geometry_key(self) -> tuple:
        """Equal for models that can share the worker-side tensor."""
        if self.custom is not None:
            return ("custom", id(self.custom))
        return (self.mode, self.steps)

    @property
    def input_key(self) -> tuple:
        """Equal for models that can share the normalised batch."""
        return (self.geometry_key, self.mean, self.std)

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (for model metadata)."""
        if self.custom is not None:
            return {"custom": repr(self.custom)}
        return {"mode": self.mode, "steps": [list(map(_plain, s)) for s in self.steps],
                "mean": list(self.mean), "std": list(self.std)}


def _plain(x: Any) -> Any:
    if isinstance(x, tuple | list):
        return [_plain(v) for v in x]
    return x if isinstance(x, int | float | str | bool | type(None)) else str(x)


def _size(size: Any) -> Any:
    """Torchvision sizes (int, [int], (h, w)) as hashable values."""
    if isinstance(size, int):
        return size
    return tuple(int(s) for s in size)


def _interp_name(interpolation: Any) -> str:
    value = getattr(interpolation, "value", interpolation)
    return str(value)


def fixed_size(size: tuple[int, int], *, mode: str, mean, std,
               interpolation: str = "bilinear") -> Preprocess:
    """Resize every image to exactly ``size`` (h, w): what misclass-trained models expect."""
    return Preprocess(mode=mode,
                      steps=(("resize", (int(size[0]), int(size[1])), interpolation, None, True),),
                      mean=tuple(float(m) for m in mean), std=tuple(float(s) for s in std))


def imagenet_default(resize: int = 256, crop: int = 224) -> Preprocess:
    """Torchvision's classic ImageNet evaluation transform (bilinear resize, centre crop)."""
    return Preprocess(steps=(("resize", resize, "bilinear", None, True), ("center_crop", (crop, crop))))


def preprocess_from_transform(transform: Any) -> Preprocess:
    """Read a timm / torchvision evaluation transform into a :class:`Preprocess`.

    Recognised: ``Compose([Resize, CenterCrop, ToTensor|MaybeToTensor, Normalize])`` (any of
    the geometric steps may be absent or repeated) and torchvision's ``ImageClassification``
    preset. Anything else becomes an opaque ``custom`` transform.
    """
    from torchvision import transforms as T
    from torchvision.transforms._presets import ImageClassification

    if isinstance(transform, Preprocess):
        return transform
    if isinstance(transform, ImageClassification):
        steps = (("resize", _size(transform.resize_size), _interp_name(transform.interpolation), None,
                  transform.antialias), ("center_crop", _size(transform.crop_size)))
        return Preprocess(steps=steps, mean=tuple(map(float, transform.mean)),
                          std=tuple(map(float, transform.std)))
    if isinstance(transform, T.Compose):
        steps: list[tuple] = []
        mean = std = None
        to_tensor = False
        for t in transform.transforms:
            if isinstance(t, T.Resize) and not to_tensor:
                steps.append(("resize", _size(t.size), _interp_name(t.interpolation), t.max_size,
                              t.antialias))
            elif isinstance(t, T.CenterCrop) and not to_tensor:
                steps.append(("center_crop", _size(t.size)))
            elif isinstance(t, T.ToTensor) and not to_tensor:  # timm's MaybeToTensor subclasses it
                to_tensor = True
            elif isinstance(t, T.Normalize) and to_tensor and mean is None:
                mean = tuple(float(v) for v in _as_list(t.mean))
                std = tuple(float(v) for v in _as_list(t.std))
            else:
                return Preprocess(custom=transform)
        if to_tensor and mean is not None:
            return Preprocess(steps=tuple(steps), mean=mean, std=std)
    if callable(transform):
        return Preprocess(custom=transform)
    raise InputError(f"preprocessing {transform!r}: expected a callable transform (PIL image -> tensor)")


def _as_list(v: Any) -> list:
    return v.tolist() if hasattr(v, "tolist") else list(v)


def apply_geometry(image: Any, pre: Preprocess):
    """Worker side: a decoded PIL image -> ``uint8`` tensor (C, H, W), or the custom output."""
    import torchvision.transforms.functional as F
    from torchvision.transforms import InterpolationMode

    img = image if image.mode == pre.mode else image.convert(pre.mode)
    if pre.custom is not None:
        return pre.custom(img)
    for step in pre.steps:
        if step[0] == "resize":
            _, size, interp, max_size, antialias = step
            img = F.resize(img, list(size) if isinstance(size, tuple) else size,
                           interpolation=InterpolationMode(interp), max_size=max_size, antialias=antialias)
        elif step[0] == "center_crop":
            img = F.center_crop(img, list(step[1]) if isinstance(step[1], tuple) else step[1])
        else:  # pragma: no cover - steps are made by this module only
            raise InputError(f"unknown preprocessing step {step[0]!r}")
    return img if not hasattr(img, "mode") else F.pil_to_tensor(img)


def scale_batch(batch, pre: Preprocess, device):
    """Device side: ``uint8`` (B, C, H, W) -> normalised float32, as ToTensor + Normalize do."""
    import torch

    x = batch.to(device, non_blocking=True)
    if pre.custom is not None:
        return x.float()
    x = x.to(dtype=torch.float32).div(255)
    mean = torch.as_tensor(pre.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.as_tensor(pre.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return x.sub_(mean).div_(std)
