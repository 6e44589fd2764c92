"""The data-module registry: ``build_datamodule("mnist5k", batch_size=64)``."""

from __future__ import annotations

from typing import Any

import lightning as L

from bench.registry import Registry

__all__ = ["available_datasets", "build_datamodule", "datasets", "register_dataset"]

datasets: Registry[type[L.LightningDataModule]] = Registry("dataset")
register_dataset = datasets.register


def build_datamodule(name: str, **kwargs: Any) -> L.LightningDataModule:
    """Build the data module registered as ``name`` (or a ``"package.module:Class"`` path)."""
    return datasets.build(name, **kwargs)


def available_datasets() -> list[str]:
    """Registered dataset names, sorted."""
    return datasets.available()
