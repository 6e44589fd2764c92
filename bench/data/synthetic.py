"""Synthetic images: noisy copies of one random prototype per class, for quick checks and tests."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from bench.data.base import TensorDataModule
from bench.data.registry import register_dataset

__all__ = ["Synthetic"]


@register_dataset("synthetic")
class Synthetic(TensorDataModule):
    """``samples`` images in [0, 1]: a class prototype (uniform pixels) plus Gaussian ``noise``, clipped.

    Args:
        num_classes: number of classes.
        input_shape: (C, H, W) of one image.
        samples: total number of images (balanced over classes).
        noise: standard deviation of the per-pixel noise.
        sample_seed: seed of the prototypes and the noise (the split has its own ``split_seed``; the name
            differs from the model's ``seed`` because Lightning logs both modules' hyper-parameters together).
        **kwargs: see :class:`~bench.data.base.TensorDataModule`.
    """

    def __init__(
        self,
        num_classes: int = 10,
        input_shape: Sequence[int] = (1, 8, 8),
        samples: int = 1000,
        noise: float = 0.2,
        sample_seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if num_classes < 2 or samples < num_classes:
            raise ValueError(f"need num_classes >= 2 and samples >= num_classes, got {num_classes}, {samples}")
        self.num_classes = num_classes
        self.input_shape = tuple(input_shape)
        self.samples = samples
        self.noise = noise
        self.sample_seed = sample_seed
        self.location = f"generated in memory (sample_seed {sample_seed})"

    def load(self) -> tuple[Tensor, Tensor]:
        generator = torch.Generator().manual_seed(self.sample_seed)
        prototypes = torch.rand((self.num_classes, *self.input_shape), generator=generator)
        labels = torch.arange(self.samples) % self.num_classes
        noise = self.noise * torch.randn((self.samples, *self.input_shape), generator=generator)
        return (prototypes[labels] + noise).clamp_(0.0, 1.0), labels
