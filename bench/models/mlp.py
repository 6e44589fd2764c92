"""Fully connected spiking network, for the embedded data (MNIST-5k, digits)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from bench.models.layers import NeuronFactory, SpikingNetwork
from bench.models.registry import register_model

__all__ = ["SpikingMLP", "mlp"]


class SpikingMLP(SpikingNetwork):
    """Flatten -> (Linear -> LIF) per hidden width -> Linear readout (Linear acts on the last axis, so
    it needs no merging of time).

    >>> import torch
    >>> net = SpikingMLP(in_features=4, hidden=(8,), num_classes=3, neuron=NeuronFactory())
    >>> net(torch.rand(2, 5, 4)).shape
    torch.Size([2, 5, 3])
    """

    def __init__(self, in_features: int, hidden: Sequence[int], num_classes: int, neuron: NeuronFactory):
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(in_features, width), neuron()]
            in_features = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(in_features, num_classes)

    def forward_features(self, x_seq: Tensor) -> Tensor:
        return self.features(x_seq.flatten(2))


@register_model
def mlp(
    num_classes: int = 10,
    input_shape: Sequence[int] = (1, 28, 28),
    neuron: NeuronFactory | None = None,
    hidden: Sequence[int] = (256,),
) -> SpikingMLP:
    """MLP with LIF hidden layers of the given widths."""
    return SpikingMLP(math.prod(input_shape), hidden, num_classes, neuron or NeuronFactory())
