"""Small CNNs for small images (digits 8x8, CIFAR 32x32): three families that train in
seconds on a CPU, so ``misclass demo`` can compare CNNs with the classical models.

==============  ==========================================================================
cnn-plain       conv-BN-ReLU x2, max-pool, conv-BN-ReLU x2, max-pool, global average pool,
                dropout, linear (a VGG in miniature)
cnn-residual    3x3 stem, three basic residual blocks (the second halves the size and
                doubles the width), global average pool, dropout, linear (a small ResNet)
cnn-separable   3x3 stem, three depthwise-separable blocks (3x3 depthwise + 1x1 pointwise,
                the second with stride 2), global average pool, dropout, linear (MobileNet v1
                in miniature)
==============  ==========================================================================

Every family ends in dropout (p = 0.2) before its classifier, so MC dropout applies.
``width`` is the channel count of the first stage (default 32).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class CnnFamily:
    """A zoo CNN: its family name and ``build(num_classes, in_channels, input_size, width)``."""

    family: str
    build: Callable


def _plain(num_classes: int, in_channels: int, input_size: tuple[int, int], width: int = 32):
    import torch.nn as nn

    def block(cin: int, cout: int) -> list:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    w = width
    return nn.Sequential(
        *block(in_channels, w), *block(w, w), nn.MaxPool2d(2),
        *block(w, 2 * w), *block(2 * w, 2 * w), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(2 * w, num_classes),
    )


def _residual(num_classes: int, in_channels: int, input_size: tuple[int, int], width: int = 32):
    import torch.nn as nn

    class BasicBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + self.shortcut(x))

    w = width
    return nn.Sequential(
        nn.Conv2d(in_channels, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
        BasicBlock(w, w, 1), BasicBlock(w, 2 * w, 2), BasicBlock(2 * w, 2 * w, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(2 * w, num_classes),
    )


def _separable(num_classes: int, in_channels: int, input_size: tuple[int, int], width: int = 32):
    import torch.nn as nn

    def separable(cin: int, cout: int, stride: int) -> list:
        return [
            nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False), nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        ]

    w = width
    return nn.Sequential(
        nn.Conv2d(in_channels, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
        *separable(w, 2 * w, 1), *separable(2 * w, 4 * w, 2), *separable(4 * w, 4 * w, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * w, num_classes),
    )


CNN_ZOO: dict[str, CnnFamily] = {
    "cnn-plain": CnnFamily("plain CNN", _plain),
    "cnn-residual": CnnFamily("residual CNN", _residual),
    "cnn-separable": CnnFamily("depthwise-separable CNN", _separable),
}
