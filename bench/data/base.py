"""In-memory data modules: a fixed, seeded, stratified train/val/test split of tensors in [0, 1].

The split depends only on ``split_seed``, never on the training seed, so every run of every method sees
the same test set; model selection uses the validation split only.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

__all__ = ["TensorDataModule", "stratified_split"]


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


class TensorDataModule(L.LightningDataModule):
    """Base for data that fits in memory. Subclasses set ``num_classes`` and ``input_shape`` and
    implement :meth:`load`.

    Args:
        batch_size: samples per batch (per process under DDP).
        num_workers: DataLoader workers.
        val_fraction: share of each class held out for validation (model selection).
        test_fraction: share of each class held out for the final test.
        split_seed: seed of the split; keep it fixed so that test sets stay comparable.
    """

    num_classes: int
    input_shape: tuple[int, ...]

    def __init__(
        self,
        batch_size: int = 128,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        split_seed: int = 0,
    ) -> None:
        super().__init__()
        if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
            raise ValueError(
                f"val_fraction ({val_fraction}) and test_fraction ({test_fraction}) must be in (0, 1) "
                "and sum to less than 1"
            )
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self.splits: dict[str, TensorDataset] = {}

    def load(self) -> tuple[Tensor, Tensor]:
        """All samples: float images ``[N, *input_shape]`` in [0, 1] and int64 labels ``[N]``."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        x, y = self.load()
        generator = torch.Generator().manual_seed(self.split_seed)
        test, val, train = stratified_split(y, (self.test_fraction, self.val_fraction), generator)
        self.splits = {name: TensorDataset(x[i], y[i]) for name, i in
                       (("train", train), ("val", val), ("test", test))}

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        return DataLoader(self.splits[split], batch_size=self.batch_size, shuffle=shuffle,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
