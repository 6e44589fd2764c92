"""LightningDataModules; each has ``num_classes`` and ``input_shape`` for the model.

>>> available_datasets()
['digits', 'mnist5k', 'synthetic']
"""

from bench.data.base import TensorDataModule, stratified_split
from bench.data.embedded import Digits, MNIST5k
from bench.data.registry import available_datasets, build_datamodule, datasets, register_dataset
from bench.data.synthetic import Synthetic

__all__ = [
    "Digits",
    "MNIST5k",
    "Synthetic",
    "TensorDataModule",
    "available_datasets",
    "build_datamodule",
    "datasets",
    "register_dataset",
    "stratified_split",
]
