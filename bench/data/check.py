"""``spikebench data check``: a report a new user reads before a long run."""

from __future__ import annotations

import lightning as L
import torch
from rich.table import Table

__all__ = ["data_report"]


def data_report(datamodule: L.LightningDataModule) -> Table:
    """Prepare and set up ``datamodule``; one row per split: size, class balance, one sample."""
    datamodule.prepare_data()
    datamodule.setup("fit")
    name = type(datamodule).__name__
    table = Table(title=f"{name}: {datamodule.num_classes} classes, input {tuple(datamodule.input_shape)}",
                  caption=f"data: {getattr(datamodule, 'location', 'unknown')}")
    for column in ("split", "samples", "classes", "per class (min-max)", "sample shape", "dtype", "range"):
        table.add_column(column, justify="left" if column in ("split", "dtype") else "right")
    for split, dataset in datamodule.splits.items():
        counts = torch.bincount(datamodule.labels[split], minlength=datamodule.num_classes)
        x, _ = dataset[0]
        dtype = str(x.dtype).removeprefix("torch.")
        table.add_row(split, str(len(dataset)), str(int((counts > 0).sum())),
                      f"{int(counts.min())}-{int(counts.max())}", str(tuple(x.shape)), dtype,
                      f"[{float(x.min()):.3g}, {float(x.max()):.3g}]")
    return table
