"""Spiking VGG in the CertifiedSNN layout (Conv3x3 + BN + LIF blocks, average pooling, two FC-LIF layers)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from bench.models.layers import NeuronFactory, SpikingNetwork, TimeDistributed, conv_bn
from bench.models.registry import register_model

__all__ = ["VGG", "VGG_CONFIGS", "vgg11"]

# Conv widths in order; "A" is a 2x2 average pool. CertifiedSNN's VGG-11:
# conv64-A, conv128, conv256-A, conv512 x3-A, conv512 x2, then FC 4096 -> LIF -> FC 4096 -> LIF -> FC.
VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "A", 128, 256, "A", 512, 512, 512, "A", 512, 512],
}


class VGG(SpikingNetwork):
    """Spiking VGG; for 32x32 input the features are 512 x 4 x 4 = 8192 values per step.

    >>> import torch
    >>> net = VGG([8, "A", 16], input_shape=(3, 8, 8), num_classes=10, neuron=NeuronFactory(), fc_width=32)
    >>> net(torch.rand(2, 3, 3, 8, 8)).shape
    torch.Size([2, 3, 10])
    """

    def __init__(
        self,
        config: Sequence[int | str],
        input_shape: Sequence[int],
        num_classes: int,
        neuron: NeuronFactory,
        fc_width: int = 4096,
    ) -> None:
        super().__init__()
        in_channels, height, width = input_shape
        layers: list[nn.Module] = []
        for item in config:
            if item == "A":
                layers.append(TimeDistributed(nn.AvgPool2d(2)))
                height, width = height // 2, width // 2
            else:
                layers += [conv_bn(in_channels, int(item)), neuron()]
                in_channels = int(item)
        self.features = nn.Sequential(*layers)
        flat = in_channels * height * width
        self.head = nn.Sequential(
            nn.Linear(flat, fc_width), neuron(), nn.Linear(fc_width, fc_width), neuron(),
            nn.Linear(fc_width, num_classes),
        )

    def forward_features(self, x_seq: Tensor) -> Tensor:
        return self.features(x_seq).flatten(2)


@register_model
def vgg11(
    num_classes: int = 10,
    input_shape: Sequence[int] = (3, 32, 32),
    neuron: NeuronFactory | None = None,
    fc_width: int = 4096,
) -> VGG:
    """VGG-11 as in CertifiedSNN (Liang et al., ICLR 2024) for 32x32 input."""
    return VGG(VGG_CONFIGS["vgg11"], input_shape, num_classes, neuron or NeuronFactory(), fc_width)
