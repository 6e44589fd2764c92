"""LightningDataModules; each has ``num_classes`` and ``input_shape`` for the model.

>>> available_datasets()
['cifar10', 'cifar100', 'digits', 'dvsgesture', 'mnist5k', 'synthetic']
"""

from bench.data.base import SplitDataModule, TensorDataModule, stratified_split
from bench.data.cifar import CIFAR10, CIFAR100, CIFAR_MEAN_STD, Cutout, read_cifar_pickles
from bench.data.dvs import DVSGesture
from bench.data.embedded import Digits, MNIST5k
from bench.data.registry import available_datasets, build_datamodule, datasets, register_dataset
from bench.data.synthetic import Synthetic

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "CIFAR_MEAN_STD",
    "Cutout",
    "DVSGesture",
    "Digits",
    "MNIST5k",
    "SplitDataModule",
    "Synthetic",
    "TensorDataModule",
    "available_datasets",
    "build_datamodule",
    "datasets",
    "read_cifar_pickles",
    "register_dataset",
    "stratified_split",
]
