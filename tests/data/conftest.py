"""Small datasets written in the exact on-disk formats of the real ones (research/env.md §5-6).

- CIFAR: torchvision's python-pickle batches (``cifar-10-batches-py/``, ``cifar-100-python/``) and a
  Hugging Face parquet mirror of the same images.
- DVS128-Gesture: tonic's preprocessed layout, ``DVSGesture/ibmGesture{Train,Test}/user<NN>_<light>/<label>.npy``
  with columns x, y, p, t (t in ms), plus the tarballs tonic checks for (>= 100 files per split).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest


def _write_pickle(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def _batch(rng: np.random.Generator, n: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(n) % classes
    return images, labels


def _flat(images: np.ndarray) -> np.ndarray:
    """HWC images -> CIFAR rows: 1024 R, then 1024 G, then 1024 B values."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072)


def write_cifar(root: Path, variant: str, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write a small CIFAR-10 (5 x 20 train, 20 test) or CIFAR-100 (1000 train, 200 test) under ``root``."""
    rng = np.random.default_rng(seed)
    if variant == "cifar10":
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        batches = [_batch(rng, 20, 10) for _ in range(5)]
        for k, (x, y) in enumerate(batches, start=1):
            _write_pickle(folder / f"data_batch_{k}", {"data": _flat(x), "labels": y.tolist(),
                                                       "batch_label": f"training batch {k} of 5",
                                                       "filenames": [f"{i}.png" for i in range(len(y))]})
        test = _batch(rng, 20, 10)
        _write_pickle(folder / "test_batch", {"data": _flat(test[0]), "labels": test[1].tolist(),
                                              "batch_label": "testing batch 1 of 1", "filenames": []})
        _write_pickle(folder / "batches.meta", {"label_names": [f"class{i}" for i in range(10)]})
        train = (np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches]))
    else:
        folder = root / "cifar-100-python"
        folder.mkdir(parents=True)
        train, test = _batch(rng, 1000, 100), _batch(rng, 200, 100)
        for name, (x, y) in (("train", train), ("test", test)):
            _write_pickle(folder / name, {"data": _flat(x), "fine_labels": y.tolist(),
                                          "coarse_labels": (y // 5).tolist(), "filenames": []})
        _write_pickle(folder / "meta", {"fine_label_names": [f"f{i}" for i in range(100)],
                                        "coarse_label_names": [f"c{i}" for i in range(20)]})
    return {"train": train, "test": test}


def write_cifar_parquet(folder: Path, arrays: dict[str, tuple[np.ndarray, np.ndarray]], label: str) -> Path:
    """The same images as a Hugging Face parquet mirror: ``train-*.parquet`` and ``test-*.parquet``."""
    import datasets
    from PIL import Image

    folder.mkdir(parents=True)
    num_classes = int(max(y.max() for _, y in arrays.values())) + 1
    features = datasets.Features({"img": datasets.Image(), label: datasets.ClassLabel(num_classes=num_classes)})
    for split, (x, y) in arrays.items():
        table = datasets.Dataset.from_dict({"img": [Image.fromarray(img) for img in x], label: y.tolist()},
                                           features=features)
        table.to_parquet(str(folder / f"{split}-00000-of-00001.parquet"))
    return folder


def write_dvs_gesture(root: Path, users: dict[str, list[int]], events: int = 60, seed: int = 0) -> dict:
    """tonic's DVSGesture layout with one recording per user, lighting and class; returns the event arrays."""
    rng = np.random.default_rng(seed)
    written = {}
    base = root / "DVSGesture"
    for split, ids in users.items():
        folder = base / ("ibmGestureTrain" if split == "train" else "ibmGestureTest")
        (base / f"{folder.name}.tar.gz").parent.mkdir(parents=True, exist_ok=True)
        (base / f"{folder.name}.tar.gz").write_bytes(b"")  # tonic checks that it exists
        for user in ids:
            for light in ("fluorescent", "led"):
                sample_dir = folder / f"user{user:02d}_{light}"
                sample_dir.mkdir(parents=True)
                for label in range(11):
                    n = events + int(rng.integers(0, 20))
                    data = np.stack([rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n),
                                     np.sort(rng.integers(0, 1500, n))], axis=1).astype(np.float64)  # t in ms
                    np.save(sample_dir / f"{label}.npy", data)
                    written[(split, user, light, label)] = data
    return written


@pytest.fixture(scope="session")
def cifar10_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar10")
    return root, write_cifar(root, "cifar10")


@pytest.fixture(scope="session")
def cifar100_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar100")
    return root, write_cifar(root, "cifar100")


@pytest.fixture(scope="session")
def dvs_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("dvs")
    # 5 users x 2 lightings x 11 classes = 110 recordings per split: tonic wants >= 100
    events = write_dvs_gesture(root, {"train": [1, 2, 3, 4, 5], "test": [24, 25, 26, 27, 28]})
    return root, events
