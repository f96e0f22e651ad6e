"""The CIFAR ResNets of He et al. (2016, section 4.2), with shortcut option A.

==================  ========================================================================
``cifar-resnetD``   D = 6n + 2 layers (20, 32, 44, 56, 110: n = 3, 5, 7, 9, 18): 3x3 conv
                    (16 channels, no bias), batch norm, ReLU; three stages of n basic blocks
                    with 16, 32 and 64 channels, the first block of stages 2 and 3 with
                    stride 2; global average pooling; ``Linear(64, classes)``
==================  ========================================================================

A basic block is conv-bn-relu-conv-bn plus the shortcut, then ReLU. Where the shape changes
the shortcut is parameter-free (option A): the input subsampled (``x[:, :, ::2, ::2]``) and
padded with zero channels, half on each side. Weights start as He et al.'s (Kaiming normal
for convolutions and the linear layer).

Parameter names are those of the published PyTorch weights (``akamaster/pytorch_resnet_cifar10``):
``conv1``, ``bn1``, ``layer1..3.<i>.{conv1,bn1,conv2,bn2}``, ``linear``, so their state dicts
load as they are (``cifar-resnet56@resnet56.th``). ``width`` is the first stage's channel count
(default 16; the stages have width, 2 x width and 4 x width).

>>> sorted(CIFAR_RESNETS)
['cifar-resnet110', 'cifar-resnet20', 'cifar-resnet32', 'cifar-resnet44', 'cifar-resnet56']
>>> blocks_per_stage(56)
9
"""

from __future__ import annotations

import functools

from misclass.errors import InputError

DEPTHS = (20, 32, 44, 56, 110)
CIFAR_RESNETS: dict[str, int] = {f"cifar-resnet{d}": d for d in DEPTHS}
FAMILY = "CIFAR ResNet (He et al. 2016, option A)"
DEFAULT_WIDTH = 16


def blocks_per_stage(depth: int) -> int:
    """n, the basic blocks per stage of a CIFAR ResNet of ``depth`` = 6n + 2 layers."""
    if depth < 8 or (depth - 2) % 6:
        raise InputError(f"CIFAR ResNet depth {depth}: expected 6n + 2 (20, 32, 44, 56, 110)")
    return (depth - 2) // 6


@functools.cache
def _classes():
    """The module classes, defined once torch is imported (torch stays an optional extra)."""
    import torch.nn as nn
    import torch.nn.functional as F

    class ShortcutA(nn.Module):
        """Option A: subsample by ``stride``, pad the new channels with zeros (no parameters)."""

        def __init__(self, in_planes: int, planes: int, stride: int) -> None:
            super().__init__()
            if planes < in_planes or (planes - in_planes) % 2:
                raise InputError(f"option-A shortcut {in_planes} -> {planes} channels: expected an "
                                 "even increase")
            self.stride = stride
            self.pad = (planes - in_planes) // 2

        def forward(self, x):
            if self.stride > 1:
                x = x[:, :, ::self.stride, ::self.stride]
            return F.pad(x, (0, 0, 0, 0, self.pad, self.pad)) if self.pad else x

        def extra_repr(self) -> str:
            return f"stride={self.stride}, pad={self.pad}"

    class BasicBlock(nn.Module):
        def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.shortcut = (ShortcutA(in_planes, planes, stride) if stride != 1 or in_planes != planes
                             else nn.Identity())

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + self.shortcut(x))

    class CifarResNet(nn.Module):
        def __init__(self, depth: int, num_classes: int = 10, in_channels: int = 3,
                     width: int = DEFAULT_WIDTH) -> None:
            super().__init__()
            n = blocks_per_stage(depth)
            self.depth = depth
            self.conv1 = nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            planes = width
            for stage, (out_planes, stride) in enumerate(((width, 1), (2 * width, 2), (4 * width, 2)), 1):
                blocks = [BasicBlock(planes if i == 0 else out_planes, out_planes, stride if i == 0 else 1)
                          for i in range(n)]
                setattr(self, f"layer{stage}", nn.Sequential(*blocks))
                planes = out_planes
            self.linear = nn.Linear(planes, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d | nn.Linear):
                    nn.init.kaiming_normal_(m.weight)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layer3(self.layer2(self.layer1(out)))
            out = F.adaptive_avg_pool2d(out, 1).flatten(1)
            return self.linear(out)

    return ShortcutA, BasicBlock, CifarResNet


def cifar_resnet(depth: int, num_classes: int = 10, in_channels: int = 3, width: int = DEFAULT_WIDTH):
    """A freshly initialised CIFAR ResNet of ``depth`` layers (seed torch first)."""
    return _classes()[2](depth, num_classes=num_classes, in_channels=in_channels, width=width)


def build_cifar_resnet(arch: str, num_classes: int, in_channels: int, input_size: tuple[int, int],
                       width: int = DEFAULT_WIDTH):
    """``build_architecture``'s entry for ``cifar-resnetD`` (any input size: global pooling)."""
    return cifar_resnet(CIFAR_RESNETS[arch], num_classes=num_classes, in_channels=in_channels, width=width)
