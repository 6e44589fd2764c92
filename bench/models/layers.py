"""Building blocks shared by the architectures: layers over merged time, and the neuron factory."""

from __future__ import annotations

import itertools
from dataclasses import asdict
from typing import Any

from torch import Tensor, nn

from bench.spiking import LIF, LIFParameters, estimators
from bench.spiking.functional import merge_time, split_time

__all__ = ["NeuronFactory", "SpikingNetwork", "TimeDistributed", "conv_bn"]


class TimeDistributed(nn.Sequential):
    """Stateless layers applied to every time step at once, on the merged ``[T*B, *]`` batch."""

    def forward(self, x_seq: Tensor) -> Tensor:
        return split_time(super().forward(merge_time(x_seq)), x_seq.shape[0])


def conv_bn(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> TimeDistributed:
    """Conv (no bias) + BatchNorm over the merged time batch (BN statistics shared across time steps)."""
    return TimeDistributed(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class NeuronFactory:
    """Makes the spiking layers of a network: one :class:`~bench.spiking.LIF` per call, all with the same
    constants and estimator. A stochastic estimator gets ``seed + k`` in the k-th layer, so layers draw
    independent streams and a run repeats exactly.

    >>> make = NeuronFactory(LIFParameters(decay=1.0), "localzo", {"samples": 1}, seed=10)
    >>> [make().estimator.seed for _ in range(2)]
    [10, 11]
    """

    def __init__(
        self,
        params: LIFParameters | None = None,
        estimator: str = "atan",
        estimator_params: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        self.params = params or LIFParameters()
        self.estimator = estimator
        self.estimator_params = dict(estimator_params or {})
        self.stochastic = estimators.estimator_class(estimator).stochastic
        self.seed = seed
        self._layers = itertools.count()
        self.build_estimator(seed)  # fail early on a bad name or parameter

    def build_estimator(self, seed: int) -> estimators.Estimator:
        """The estimator of one layer; ``seed`` is used only if it is stochastic."""
        extra = {"seed": seed} if self.stochastic else {}
        return estimators.build(self.estimator, **self.estimator_params, **extra)

    def __call__(self) -> LIF:
        estimator = self.build_estimator(self.seed + next(self._layers))
        return LIF(**asdict(self.params), estimator=estimator)


class SpikingNetwork(nn.Module):
    """Base of the architectures: ``forward_features`` then ``forward_head``, both time-major.

    ``forward(x_seq [T, B, *]) -> logits [T, B, C]``; the classifier averages over T. Subclasses set
    ``self.features`` and ``self.head`` (or override the two stages).
    """

    features: nn.Module
    head: nn.Module

    def forward_features(self, x_seq: Tensor) -> Tensor:
        """Spiking features ``[T, B, F]`` (or ``[T, B, C, H, W]``)."""
        return self.features(x_seq)

    def forward_head(self, features: Tensor) -> Tensor:
        """Per-step logits ``[T, B, classes]``."""
        return self.head(features)

    def forward(self, x_seq: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x_seq))
