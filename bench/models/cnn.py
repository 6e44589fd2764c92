"""A small spiking CNN for the embedded data (28x28 MNIST-5k, 8x8 digits)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from bench.models.layers import NeuronFactory, SpikingNetwork, TimeDistributed, conv_bn
from bench.models.registry import register_model

__all__ = ["SpikingCNN", "cnn"]


class SpikingCNN(SpikingNetwork):
    """(Conv3x3 + BN -> LIF -> AvgPool2) per width -> Linear readout.

    >>> import torch
    >>> net = SpikingCNN(input_shape=(1, 8, 8), channels=(4, 8), num_classes=10, neuron=NeuronFactory())
    >>> net(torch.rand(3, 2, 1, 8, 8)).shape
    torch.Size([3, 2, 10])
    """

    def __init__(
        self, input_shape: Sequence[int], channels: Sequence[int], num_classes: int, neuron: NeuronFactory
    ):
        super().__init__()
        in_channels, height, width = input_shape
        layers: list[nn.Module] = []
        for out_channels in channels:
            layers += [conv_bn(in_channels, out_channels), neuron(), TimeDistributed(nn.AvgPool2d(2))]
            in_channels, height, width = out_channels, height // 2, width // 2
        if height < 1 or width < 1:
            raise ValueError(f"input {tuple(input_shape)} is too small for {len(channels)} pooling stages")
        self.features = nn.Sequential(*layers)
        self.head = TimeDistributed(nn.Flatten(), nn.Linear(in_channels * height * width, num_classes))


@register_model
def cnn(
    num_classes: int = 10,
    input_shape: Sequence[int] = (1, 28, 28),
    neuron: NeuronFactory | None = None,
    channels: Sequence[int] = (16, 32),
) -> SpikingCNN:
    """Small CNN: one conv stage (with 2x2 average pooling) per entry of ``channels``."""
    return SpikingCNN(input_shape, channels, num_classes, neuron or NeuronFactory())
