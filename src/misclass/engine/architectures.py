"""Architectures that ``misclass train`` builds by name: torchvision's ImageNet models adapted
to small inputs (:mod:`misclass.engine.small_inputs`), the small CNN zoo
(:mod:`misclass.engine.cnn_zoo`) and the CIFAR ResNets of He et al.
(:mod:`misclass.engine.cifar_resnet`). ``misclass predict --model ARCH[@PATH]`` builds them
too, with random weights or a state dict's.

>>> sorted(a for a in ARCHITECTURES if a.startswith("cnn-"))
['cnn-plain', 'cnn-residual', 'cnn-separable']
>>> ARCHITECTURES["cifar-resnet56"]
'CIFAR ResNet (He et al. 2016, option A)'
"""

from __future__ import annotations

from misclass.engine.cifar_resnet import CIFAR_RESNETS, DEFAULT_WIDTH, FAMILY, build_cifar_resnet
from misclass.engine.cnn_zoo import CNN_ZOO
from misclass.engine.small_inputs import SMALL_INPUT_ARCHS
from misclass.errors import InputError
from misclass.extras import require

ARCHITECTURES: dict[str, str] = {
    **{name: "torchvision (small inputs)" for name in SMALL_INPUT_ARCHS},
    **{name: entry.family for name, entry in CNN_ZOO.items()},
    **{name: FAMILY for name in CIFAR_RESNETS},
}


def check_architectures(names: list[str]) -> list[str]:
    """Return ``names`` if each is known and none repeats, else an :class:`InputError`."""
    unknown = [n for n in names if n not in ARCHITECTURES]
    if unknown:
        raise InputError(f"--arch: unknown architecture(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(sorted(ARCHITECTURES))}")
    if len(set(names)) != len(names):
        raise InputError(f"--arch: an architecture is named twice in {','.join(names)}")
    if not names:
        raise InputError("--arch: name at least one architecture")
    return names


def build_architecture(arch: str, *, num_classes: int, in_channels: int, input_size: tuple[int, int],
                       width: int | None = None):
    """A freshly initialised ``nn.Module`` (seed torch first for reproducible weights)."""
    require("torch", "torch", feature="training CNNs")
    check_architectures([arch])
    if arch in CNN_ZOO:
        kwargs = {} if width is None else {"width": int(width)}
        return CNN_ZOO[arch].build(num_classes, in_channels, tuple(input_size), **kwargs)
    if arch in CIFAR_RESNETS:
        return build_cifar_resnet(arch, num_classes, in_channels, tuple(input_size),
                                  width=DEFAULT_WIDTH if width is None else int(width))
    if width is not None:
        raise InputError(f"--width applies to the cnn-* zoo and cifar-resnet* architectures only, "
                         f"not {arch}")
    return SMALL_INPUT_ARCHS[arch](num_classes, in_channels, tuple(input_size))
