"""CIFAR-10 and CIFAR-100 from torchvision's files or from the Hugging Face hub (or a local parquet mirror).

Both sources end in the same uint8 arrays ``[N, 32, 32, 3]``, so identical images give identical tensors.
The official test set is the test split; validation is carved from the training set, stratified and seeded
by ``split_seed``. Images stay in [0, 1]: rate encoding needs raw intensities, and direct-encoding configs
normalize inside the model (``encoder_params: {mean, std}``, see :data:`CIFAR_MEAN_STD`), so that attacks
and certificates work in pixel units.

Why our own reader of the pickle files: torchvision's ``CIFAR10`` refuses any file whose md5 is not the
official one, so generated test files could only pass by patching its md5 table. Here the *same* reader
reads real and generated files, and the md5 check is a separate, explicit step (``verify_md5``) against
torchvision's own table, which real downloads always pass.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from bench.data.base import SplitDataModule, check_fraction, stratified_split
from bench.data.registry import register_dataset
from bench.results import file_hash

__all__ = ["CIFAR10", "CIFAR100", "CIFAR_MEAN_STD", "CIFARDataModule", "Cutout", "read_cifar_pickles"]

# Per-channel mean and std of the training images (in [0, 1]), for direct encoding.
CIFAR_MEAN_STD = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


@dataclass(frozen=True)
class _Variant:
    name: str
    num_classes: int
    label_key: str  # in the pickle files
    hf_path: str  # hub dataset
    hf_label: str  # label column there


def read_cifar_pickles(paths: list[Path], label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Read CIFAR's python-pickle batches: images uint8 ``[N, 32, 32, 3]`` (HWC, RGB) and int64 labels.

    Each file is a pickled dict with ``b"data"``/``"data"`` uint8 ``[n, 3072]`` (1024 R, 1024 G, 1024 B
    values, row-major 32x32) and a label list under ``label_key``.
    """
    images, labels = [], []
    for path in paths:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="latin1")
        images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch[label_key], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


class Cutout(nn.Module):
    """Zero a ``length`` x ``length`` square at a uniformly random centre; the square may cross the border
    (DeVries & Taylor 2017, arXiv:1708.04552). torchvision's RandomErasing keeps its box inside the image,
    which is a different augmentation, hence this one."""

    def __init__(self, length: int) -> None:
        super().__init__()
        self.length = length

    def forward(self, image: Tensor) -> Tensor:
        height, width = image.shape[-2:]
        cy, cx = int(torch.randint(height, ())), int(torch.randint(width, ()))
        half = self.length // 2
        image = image.clone()
        image[..., max(cy - half, 0):min(cy + half, height), max(cx - half, 0):min(cx + half, width)] = 0
        return image


class _Images(Dataset):
    """uint8 images ``[N, 3, H, W]`` -> (float image in [0, 1], label), with an optional augmentation."""

    def __init__(self, images: Tensor, labels: Tensor, augment: nn.Module | None = None) -> None:
        self.images, self.labels, self.augment = images, labels, augment

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        image = self.images[index]
        if self.augment is not None:
            image = self.augment(image)
        return image.float().div_(255.0), self.labels[index]


class CIFARDataModule(SplitDataModule):
    """CIFAR with a choice of source.

    Args:
        data_dir: root of torchvision's files (``<data_dir>/cifar-10-batches-py/...``).
        source: "torchvision" (the pickle files) or "huggingface" (``datasets.load_dataset(hf_path)``).
        hf_path: hub dataset id or a local directory of parquet/arrow files with train and test splits;
            None means the official hub copy (``uoft-cs/cifar10`` / ``uoft-cs/cifar100``).
        download: fetch the data if missing (torchvision downloads and checks the official md5).
        verify_md5: check torchvision's files against the official md5s before reading them.
        batch_size: samples per batch (per process under DDP).
        num_workers: DataLoader workers.
        val_fraction: share of each training class held out for validation.
        split_seed: seed of the train/val split.
        augment: random crop 32 with padding 4 and horizontal flip on the training split.
        cutout: side of the Cutout square (0 = off; LocalZO uses 16 for CIFAR-10, 8 for CIFAR-100).
    """

    variant: _Variant
    input_shape = (3, 32, 32)

    def __init__(
        self,
        data_dir: str = "data",
        source: Literal["torchvision", "huggingface"] = "torchvision",
        hf_path: str | None = None,
        download: bool = False,
        verify_md5: bool = True,
        batch_size: int = 128,
        num_workers: int = 2,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        augment: bool = True,
        cutout: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers)
        if source not in ("torchvision", "huggingface"):
            raise ValueError(f"unknown CIFAR source {source!r}; choose one of torchvision, huggingface")
        check_fraction("val_fraction", val_fraction)
        self.num_classes = self.variant.num_classes
        self.data_dir = Path(data_dir)
        self.source = source
        self.hf_path = hf_path or self.variant.hf_path
        self.download = download
        self.verify_md5 = verify_md5
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.augment = augment
        self.cutout = cutout
        self.location = str(self.folder if source == "torchvision" else self.hf_path)

    @property
    def folder(self) -> Path:
        return self.data_dir / self._torchvision_class().base_folder

    def _torchvision_class(self) -> type:
        from torchvision import datasets

        return datasets.CIFAR10 if self.variant.num_classes == 10 else datasets.CIFAR100

    def prepare_data(self) -> None:
        if not self.download:
            return
        if self.source == "torchvision":
            for train in (True, False):  # downloads, extracts and checks the official md5s
                self._torchvision_class()(str(self.data_dir), train=train, download=True)
        else:
            self._load_hub()

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        read = self._read_torchvision if self.source == "torchvision" else self._read_hub
        (x_train, y_train), (x_test, y_test) = read()
        val, train = stratified_split(y_train, (self.val_fraction,), torch.Generator().manual_seed(self.split_seed))
        augment = None
        if self.augment:
            from torchvision.transforms import v2

            steps: list[nn.Module] = [v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()]
            augment = v2.Compose(steps + ([Cutout(self.cutout)] if self.cutout else []))
        parts = {"train": (x_train[train], y_train[train], augment), "val": (x_train[val], y_train[val], None),
                 "test": (x_test, y_test, None)}
        for name, (x, y, aug) in parts.items():
            self.splits[name] = _Images(x, y, aug)
            self.labels[name] = y

    # -- sources ---------------------------------------------------------------------------------

    def _read_torchvision(self) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
        tv = self._torchvision_class()
        wanted = [*tv.train_list, *tv.test_list, [tv.meta["filename"], tv.meta["md5"]]]
        missing = [name for name, _ in wanted if not (self.folder / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{self.variant.name} not found: expected {', '.join(missing)} in {self.folder} (the python "
                "version from https://www.cs.toronto.edu/~kriz/cifar.html, extracted). Set "
                "`data.init_args.download: true` to fetch it, or `data.init_args.source: huggingface`."
            )
        if self.verify_md5:
            for name, md5 in wanted:
                if (found := file_hash(self.folder / name, "md5")) != md5:
                    raise ValueError(
                        f"{self.folder / name} has md5 {found}, not the official {md5}: the file is corrupted "
                        "or not the official release. Download it again, or set "
                        "`data.init_args.verify_md5: false` to read it anyway."
                    )
        train = read_cifar_pickles([self.folder / n for n, _ in tv.train_list], self.variant.label_key)
        test = read_cifar_pickles([self.folder / n for n, _ in tv.test_list], self.variant.label_key)
        return _to_tensors(*train), _to_tensors(*test)

    def _load_hub(self):
        import datasets

        try:
            return datasets.load_dataset(self.hf_path)
        except (ConnectionError, FileNotFoundError, ValueError) as err:
            raise FileNotFoundError(
                f"cannot load {self.hf_path!r} with datasets.load_dataset: {err}. Use a hub id with internet "
                "access (and HF_HUB_OFFLINE unset), or a local directory of parquet files named train-*.parquet "
                "and test-*.parquet."
            ) from err

    def _read_hub(self) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
        dataset = self._load_hub()
        out = []
        for split in ("train", "test"):
            if split not in dataset:
                raise ValueError(f"{self.hf_path!r} has splits {list(dataset)}; need 'train' and 'test'")
            table = dataset[split].with_format("numpy")
            image_column = next(c for c in ("img", "image") if c in table.column_names)
            out.append(_to_tensors(table[image_column], table[self.variant.hf_label]))
        return out[0], out[1]


def _to_tensors(images: np.ndarray, labels: np.ndarray) -> tuple[Tensor, Tensor]:
    """HWC uint8 arrays -> CHW uint8 tensor, int64 labels."""
    images = np.asarray(images, dtype=np.uint8)
    if images.shape[1:] != (32, 32, 3):
        raise ValueError(f"expected CIFAR images of shape (32, 32, 3), got {images.shape[1:]}")
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.as_tensor(labels, dtype=torch.int64)


@register_dataset("cifar10")
class CIFAR10(CIFARDataModule):
    """CIFAR-10: 50000 training (45000 train / 5000 val by default) and 10000 test images, 10 classes."""

    variant = _Variant("CIFAR-10", 10, "labels", "uoft-cs/cifar10", "label")


@register_dataset("cifar100")
class CIFAR100(CIFARDataModule):
    """CIFAR-100 with its 100 fine labels."""

    variant = _Variant("CIFAR-100", 100, "fine_labels", "uoft-cs/cifar100", "fine_label")
