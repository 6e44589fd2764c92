"""Bases of the data modules: named splits with labels, and the stratified split they share.

Every split is fixed by ``split_seed`` alone, never by the training seed, so all runs of all methods see
the same validation and test sets; model selection uses the validation split only.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, TensorDataset

__all__ = ["SplitDataModule", "TensorDataModule", "stratified_split"]


def stratified_split(
    labels: Tensor, fractions: tuple[float, ...], generator: torch.Generator
) -> list[Tensor]:
    """Split indices class by class: ``round(f * n_class)`` for each fraction, the rest last.

    >>> parts = stratified_split(torch.arange(10) % 2, (0.2, 0.2), torch.Generator().manual_seed(0))
    >>> [len(p) for p in parts], sorted(torch.cat(parts).tolist()) == list(range(10))
    ([2, 2, 6], True)
    """
    parts: list[list[Tensor]] = [[] for _ in range(len(fractions) + 1)]
    for cls in labels.unique():
        idx = torch.nonzero(labels == cls).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        start = 0
        for k, fraction in enumerate(fractions):
            stop = start + round(fraction * len(idx))
            parts[k].append(idx[start:stop])
            start = stop
        parts[-1].append(idx[start:])
    return [torch.cat(p).sort().values for p in parts]


def check_fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")


class SplitDataModule(L.LightningDataModule):
    """Train/val/test splits with their labels; subclasses fill ``splits`` and ``labels`` in ``setup``.

    Subclasses set ``num_classes`` and ``input_shape`` (C, H, W) before ``setup``, so that the CLI can pass
    them to the model, and ``location`` (where the data lives) for ``spikebench data check``.
    """

    num_classes: int
    input_shape: tuple[int, ...]
    location: str = "in memory"

    def __init__(self, batch_size: int, num_workers: int) -> None:
        super().__init__()
        self.save_hyperparameters()  # every subclass's init arguments: checkpoints record the data
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.splits: dict[str, Dataset] = {}
        self.labels: dict[str, Tensor] = {}

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        return DataLoader(self.splits[split], batch_size=self.batch_size, shuffle=shuffle,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")


class TensorDataModule(SplitDataModule):
    """Data that fits in memory as float tensors in [0, 1]; subclasses implement :meth:`load`.

    Args:
        batch_size: samples per batch (per process under DDP).
        num_workers: DataLoader workers.
        val_fraction: share of each class held out for validation (model selection).
        test_fraction: share of each class held out for the final test.
        split_seed: seed of the split; keep it fixed so that test sets stay comparable.
    """

    def __init__(
        self,
        batch_size: int = 128,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        split_seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers)
        check_fraction("val_fraction", val_fraction)
        check_fraction("test_fraction", test_fraction)
        if val_fraction + test_fraction >= 1:
            raise ValueError(f"val_fraction ({val_fraction}) + test_fraction ({test_fraction}) must be < 1")
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed

    def load(self) -> tuple[Tensor, Tensor]:
        """All samples: float images ``[N, *input_shape]`` in [0, 1] and int64 labels ``[N]``."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        x, y = self.load()
        generator = torch.Generator().manual_seed(self.split_seed)
        test, val, train = stratified_split(y, (self.test_fraction, self.val_fraction), generator)
        for name, idx in (("train", train), ("val", val), ("test", test)):
            self.splits[name] = TensorDataset(x[idx], y[idx])
            self.labels[name] = y[idx]
