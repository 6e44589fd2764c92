"""Spiking ResNet-19 in the LocalZO/TET layout.

Stem Conv3x3(64) + BN + LIF; BasicBlock stages of 128 (x3), 256 (x3, stride 2), 512 (x2, stride 2); global
average pool; FC 512 -> 256 -> LIF -> FC -> classes (LocalZO's ``models/resnet_models.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from bench.models.layers import NeuronFactory, SpikingNetwork, TimeDistributed, conv_bn
from bench.models.registry import register_model

__all__ = ["RESNET_CONFIGS", "BasicBlock", "SpikingResNet", "resnet19"]

# (stem width, [(stage width, blocks, stride), ...], FC width)
RESNET_CONFIGS: dict[str, tuple[int, list[tuple[int, int, int]], int]] = {
    "resnet19": (64, [(128, 3, 1), (256, 3, 2), (512, 2, 2)], 256),
}


class BasicBlock(nn.Module):
    """conv-BN -> LIF -> conv-BN, plus the (projected) input, -> LIF."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, neuron: NeuronFactory) -> None:
        super().__init__()
        self.conv1 = conv_bn(in_channels, out_channels, stride=stride)
        self.lif1 = neuron()
        self.conv2 = conv_bn(out_channels, out_channels)
        projected = stride != 1 or in_channels != out_channels
        self.shortcut = conv_bn(in_channels, out_channels, 1, stride) if projected else nn.Identity()
        self.lif2 = neuron()

    def forward(self, x_seq: Tensor) -> Tensor:
        return self.lif2(self.conv2(self.lif1(self.conv1(x_seq))) + self.shortcut(x_seq))


class SpikingResNet(SpikingNetwork):
    """Spiking ResNet with BasicBlocks.

    >>> import torch
    >>> net = SpikingResNet(4, [(8, 1, 1), (16, 1, 2)], 8, input_channels=3, num_classes=10,
    ...                     neuron=NeuronFactory())
    >>> net(torch.rand(2, 3, 3, 8, 8)).shape
    torch.Size([2, 3, 10])
    """

    def __init__(
        self,
        stem: int,
        stages: Sequence[tuple[int, int, int]],
        fc_width: int,
        input_channels: int,
        num_classes: int,
        neuron: NeuronFactory,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn(input_channels, stem), neuron()]
        in_channels = stem
        for width, blocks, stride in stages:
            for k in range(blocks):
                layers.append(BasicBlock(in_channels, width, stride if k == 0 else 1, neuron))
                in_channels = width
        layers.append(TimeDistributed(nn.AdaptiveAvgPool2d(1), nn.Flatten()))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(in_channels, fc_width), neuron(), nn.Linear(fc_width, num_classes))


@register_model
def resnet19(
    num_classes: int = 10, input_shape: Sequence[int] = (3, 32, 32), neuron: NeuronFactory | None = None
) -> SpikingResNet:
    """ResNet-19 as in LocalZO (Mukhoty et al., NeurIPS 2023) and TET (Deng et al., ICLR 2022)."""
    stem, stages, fc_width = RESNET_CONFIGS["resnet19"]
    return SpikingResNet(stem, stages, fc_width, input_shape[0], num_classes, neuron or NeuronFactory())
