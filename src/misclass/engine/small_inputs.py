"""torchvision's ImageNet architectures adapted to small inputs (8x8 digits, 32x32 CIFAR).

ImageNet models shrink a 224x224 image 32-fold before their last block; a 32x32 image would
be 1x1 after the stem, and an 8x8 one would vanish. The common CIFAR adaptation keeps each
architecture's blocks, widths and depth and changes only the stem and the down-sampling:

============  ===============================================================================
vgg16         first conv takes the image's channels; max-pools beyond what the input size
              allows are removed (all 5 kept at 32x32, the first 3 at 8x8); ``avgpool`` is a
              global 1x1 pool and the classifier is 512 -> 512 -> 512 -> classes (ReLU,
              dropout 0.5) instead of 25088 -> 4096 -> 4096
resnet50      stem 7x7 stride-2 conv -> 3x3 stride-1 conv, stem max-pool removed;
              layers 2-4 keep their stride 2 (32x32 -> 4x4; 8x8 -> 1x1)
googlenet     stem 7x7 stride-2 conv -> 3x3 stride-1 conv; the two stem max-pools removed;
              no auxiliary classifiers, no ``transform_input``
densenet161   stem 7x7 stride-2 conv -> 3x3 stride-1 conv, stem max-pool removed; the three
              transition average-pools are kept
mobilenet_v2  stem conv stride 2 -> 1 and the first stride-2 block (24 channels) stride 1, as
              in the usual CIFAR MobileNetV2; the other three stride-2 blocks are kept
inception_v3  stem conv stride 2 -> 1 with padding; the un-padded 3x3 stem convs padded; the two
              stem max-pools removed; no auxiliary classifier. Mixed_6a/7a still reduce
              (32x32 -> 15x15 -> 7x7; 8x8 -> 3x3 -> 1x1)
============  ===============================================================================

Every first convolution takes ``in_channels`` (1 for digits). After these changes, any
down-sampling that would shrink the feature map below 1x1 is removed from the end
(:func:`_limit_downsampling`), so inputs of 8x8 and larger work for every architecture.
Weights are random (torchvision's initialisation); ``num_classes`` sizes the classifier.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from misclass.errors import InputError

MIN_INPUT = 8


def _check_size(arch: str, input_size: tuple[int, int]) -> int:
    side = min(input_size)
    if side < MIN_INPUT:
        raise InputError(f"{arch}: inputs of {input_size[0]}x{input_size[1]} are too small; the "
                         f"small-input architectures need at least {MIN_INPUT}x{MIN_INPUT}")
    return int(math.floor(math.log2(side)))


def _limit_downsampling(sites: list[Callable[[], None]], budget: int) -> int:
    """Call the disabling function of every down-sampling site beyond ``budget``; return how
    many were disabled."""
    extra = sites[budget:]
    for disable in extra:
        disable()
    return len(extra)


def vgg16(num_classes: int, in_channels: int, input_size: tuple[int, int]):
    """VGG-16 for small inputs (see the module docstring)."""
    import torch.nn as nn
    from torchvision.models.vgg import VGG, cfgs, make_layers

    class SmallVGG(VGG):
        """torchvision's VGG with a small classifier (built without the 25088x4096 layer)."""

        def __init__(self) -> None:
            nn.Module.__init__(self)
            self.features = make_layers(cfgs["D"], batch_norm=False)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(
                nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(0.5),
                nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(0.5),
                nn.Linear(512, num_classes),
            )

    budget = _check_size("vgg16", input_size)
    model = SmallVGG()
    model.features[0] = nn.Conv2d(in_channels, 64, kernel_size=3, padding=1)
    for m in model.modules():  # torchvision's VGG initialisation
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)
    pools = [i for i, m in enumerate(model.features) if isinstance(m, nn.MaxPool2d)]

    def disabler(i: int):
        return lambda: model.features.__setitem__(i, nn.Identity())

    _limit_downsampling([disabler(i) for i in pools], budget)
    return model


def resnet50(num_classes: int, in_channels: int, input_size: tuple[int, int]):
    """ResNet-50 for small inputs (see the module docstring)."""
    import torch.nn as nn
    from torchvision.models import resnet50 as tv_resnet50

    budget = _check_size("resnet50", input_size)
    model = tv_resnet50(weights=None, num_classes=num_classes)
    model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()

    def disabler(layer):
        def disable():
            block = layer[0]
            block.conv2.stride = (1, 1)
            if block.downsample is not None:
                block.downsample[0].stride = (1, 1)
        return disable

    _limit_downsampling([disabler(model.layer2), disabler(model.layer3), disabler(model.layer4)], budget)
    return model


def googlenet(num_classes: int, in_channels: int, input_size: tuple[int, int]):
    """GoogLeNet for small inputs (see the module docstring)."""
    import torch.nn as nn
    from torchvision.models import googlenet as tv_googlenet
    from torchvision.models.googlenet import BasicConv2d

    budget = _check_size("googlenet", input_size)
    model = tv_googlenet(weights=None, num_classes=num_classes, aux_logits=False, init_weights=True,
                         transform_input=False)
    model.conv1 = BasicConv2d(in_channels, 64, kernel_size=3, stride=1, padding=1)
    model.maxpool1 = nn.Identity()
    model.maxpool2 = nn.Identity()

    def disabler(attr: str):
        return lambda: setattr(model, attr, nn.Identity())

    _limit_downsampling([disabler("maxpool3"), disabler("maxpool4")], budget)
    return model


def densenet161(num_classes: int, in_channels: int, input_size: tuple[int, int]):
    """DenseNet-161 for small inputs (see the module docstring)."""
    import torch.nn as nn
    from torchvision.models import densenet161 as tv_densenet161

    budget = _check_size("densenet161", input_size)
    model = tv_densenet161(weights=None, num_classes=num_classes)
    model.features.conv0 = nn.Conv2d(in_channels, 96, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.features.conv0.weight)
    model.features.pool0 = nn.Identity()

    def disabler(name: str):
        return lambda: setattr(getattr(model.features, name), "pool", nn.Identity())

    _limit_downsampling([disabler(f"transition{i}") for i in (1, 2, 3)], budget)
    return model


def mobilenet_v2(num_classes: int, in_channels: int, input_size: tuple[int, int]):
    """MobileNetV2 for small inputs (see the module docstring)."""
    import torch.nn as nn
    from torchvision.models import mobilenet_v2 as tv_mobilenet_v2

    budget = _check_size("mobilenet_v2", input_size)
    model = tv_mobilenet_v2(weights=None, num_classes=num_classes)
    stem = model.features[0][0]
    model.features[0][0] = nn.Conv2d(in_channels, stem.out_channels, kernel_size=3, stride=1, padding=1,
                                     bias=False)
    nn.init.kaiming_normal_(model.features[0][0].weight, mode="fan_out")
    strided = [i for i, block in enumerate(model.features)
               if i > 0 and getattr(block, "stride", 1) == 2]

    def depthwise(block):
        return next(m for m in block.conv.modules() if isinstance(m, nn.Conv2d) and m.groups > 1)

    def disabler(i: int):
        def disable():
            block = model.features[i]
            depthwise(block).stride = (1, 1)
            block.stride = 1
        return disable

    sites = [disabler(i) for i in strided]
    sites[0]()  # the CIFAR adaptation: the first stride-2 block (24 channels) keeps the size
    _limit_downsampling(sites[1:], budget)
    return model


def inception_v3(num_classes: int, in_channels: int, input_size: tuple[int, int]):
    """Inception v3 for small inputs (see the module docstring)."""
    import torch.nn as nn
    from torchvision.models import inception_v3 as tv_inception_v3
    from torchvision.models.inception import BasicConv2d

    if min(input_size) < MIN_INPUT:
        _check_size("inception_v3", input_size)
    model = tv_inception_v3(weights=None, num_classes=num_classes, aux_logits=False, init_weights=True,
                            transform_input=False)
    model.Conv2d_1a_3x3 = BasicConv2d(in_channels, 32, kernel_size=3, stride=1, padding=1)
    model.Conv2d_2a_3x3.conv.padding = (1, 1)
    model.Conv2d_4a_3x3.conv.padding = (1, 1)
    model.maxpool1 = nn.Identity()
    model.maxpool2 = nn.Identity()
    return model


SMALL_INPUT_ARCHS: dict[str, Callable] = {
    "vgg16": vgg16,
    "resnet50": resnet50,
    "googlenet": googlenet,
    "densenet161": densenet161,
    "mobilenet_v2": mobilenet_v2,
    "inception_v3": inception_v3,
}
