"""DVS128-Gesture through tonic, binned into T frames once and cached on disk.

Split: tonic's preprocessed release (figshare), 1077 training and 264 test recordings (users 1-23 train,
24-29 test), each recording already cut into one sample per gesture. SpikingJelly cuts the original
IBM archive itself and gets 1176/288; we use tonic's because it downloads and checks itself and keeps
timestamps in ms. Validation holds out whole training *users* (seeded), like the test set does, so that
model selection never sees a test user and no recording leaks between train and val.

Frames: each sample becomes ``[T, 2, size, size]`` event counts (polarity first), binned by event count
or by time (:func:`bin_events`; no event is ever dropped). ``clip`` caps counts (1 = binary frames). Frames are
cached as one memory-mapped ``.npy`` per split, in the smallest dtype that holds them, under a key made
of every setting that changes them and a fingerprint of the source files; a changed setting never reads
a stale cache. The binning is the encoding: models get ``[T, B, 2, H, W]`` through the ``frames`` encoder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from bench.data.base import SplitDataModule, check_fraction
from bench.data.registry import register_dataset

__all__ = ["DVSGesture", "bin_events"]

CACHE_FORMAT = 1  # bump when the cached layout or the binning code changes
SENSOR = (128, 128, 2)


def bin_events(events: np.ndarray, timesteps: int, binning: str, size: int, clip: int | None) -> np.ndarray:
    """Structured events (x, y, p, t), sorted by t -> counts ``[T, 2, size, size]`` (int64).

    "count": frames of ``N // T`` events each, the last one taking the remainder (SpikingJelly's
    ``split_by="number"``); "time": T equal spans of ``[t_first, t_last]``, the last event in the last frame.
    Written here rather than with tonic's ``ToFrame``, whose equal-count bins drop the ``N mod T`` last
    events and whose time bins drop the last event. Coordinates are scaled by ``size / 128`` (floor).
    """
    n = len(events)
    if binning == "count":
        frame = np.minimum(np.arange(n) // max(n // timesteps, 1), timesteps - 1)
    else:
        t = events["t"].astype(np.int64)
        span = max(int(t[-1] - t[0]), 1) if n else 1
        frame = np.minimum((t - t[0]) * timesteps // span, timesteps - 1)
    x = events["x"].astype(np.int64) * size // SENSOR[0]
    y = events["y"].astype(np.int64) * size // SENSOR[1]
    frames = np.zeros((timesteps, 2, size, size), dtype=np.int64)
    np.add.at(frames, (frame, events["p"].astype(np.int64), y, x), 1)
    return np.minimum(frames, clip) if clip is not None else frames


class _Frames(Dataset):
    """Rows ``rows`` of a cached ``.npy`` -> (float frames ``[T, 2, H, W]``, label).

    The file is memory-mapped on first access in each process: DataLoader workers that are spawned rather
    than forked receive the path, not a copy of the frames.
    """

    def __init__(self, path: Path, rows: np.ndarray, labels: Tensor) -> None:
        self.path, self.rows, self.labels = path, rows, labels
        self._frames: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        if self._frames is None:
            self._frames = np.load(self.path, mmap_mode="r")
        return torch.from_numpy(self._frames[self.rows[index]].astype(np.float32)), self.labels[index]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_frames": None}


@register_dataset("dvsgesture")
class DVSGesture(SplitDataModule):
    """DVS128-Gesture, 11 classes, frames ``[T, 2, size, size]``.

    Args:
        data_dir: tonic's ``save_to``: the data lives in ``<data_dir>/DVSGesture/``.
        timesteps: number of frames T (must equal the model's ``timesteps``).
        binning: "count" (equal event counts per frame) or "time" (equal durations).
        size: frame side after spatial downsampling of the 128x128 sensor (e.g. 128, 64, 32).
        clip: cap on the count per pixel and frame (None = no cap, 1 = binary).
        cache_dir: where binned frames are cached (default ``<data_dir>/cache``).
        download: let tonic fetch the data from figshare if missing.
        batch_size: samples per batch (per process under DDP).
        num_workers: DataLoader workers.
        val_fraction: share of the training users held out for validation.
        split_seed: seed of the choice of validation users.
    """

    num_classes = 11

    def __init__(
        self,
        data_dir: str = "data",
        timesteps: int = 16,
        binning: Literal["count", "time"] = "count",
        size: int = 128,
        clip: int | None = None,
        cache_dir: str | None = None,
        download: bool = False,
        batch_size: int = 16,
        num_workers: int = 2,
        val_fraction: float = 0.1,
        split_seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers)
        if binning not in ("count", "time"):
            raise ValueError(f"unknown binning {binning!r}; choose one of count, time")
        if timesteps < 1:
            raise ValueError(f"timesteps (T) must be >= 1, got {timesteps}")
        if not 1 <= size <= SENSOR[0]:
            raise ValueError(f"size must be in [1, 128] (the sensor is 128x128), got {size}")
        if clip is not None and clip < 1:
            raise ValueError(f"clip must be >= 1 or None, got {clip}")
        check_fraction("val_fraction", val_fraction)
        self.input_shape = (2, size, size)
        self.data_dir = Path(data_dir)
        self.timesteps, self.binning, self.size, self.clip = timesteps, binning, size, clip
        self.cache_dir = Path(cache_dir) if cache_dir else self.data_dir / "cache"
        self.download = download
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.location = str(self.data_dir / "DVSGesture")

    # -- source ------------------------------------------------------------------------------------

    def _tonic(self, train: bool):
        import tonic

        folder = "ibmGestureTrain" if train else "ibmGestureTest"
        root = self.data_dir / "DVSGesture"
        if not self.download and not ((root / f"{folder}.tar.gz").is_file() and (root / folder).is_dir()):
            raise FileNotFoundError(
                f"DVS128-Gesture not found: expected {root / folder}/ (user*_*/<label>.npy) and "
                f"{root / folder}.tar.gz, tonic's layout. Set `data.init_args.download: true` to let tonic fetch "
                "it from figshare, or download ibmGestureTrain.tar.gz and ibmGestureTest.tar.gz into "
                f"{root} and extract them there."
            )
        return tonic.datasets.DVSGesture(save_to=str(self.data_dir), train=train)

    @staticmethod
    def _sorted_samples(dataset) -> list[int]:
        # tonic lists files in os.walk order, which differs between file systems: sort by path.
        return sorted(range(len(dataset.data)), key=lambda i: dataset.data[i])

    def _fingerprint(self, dataset) -> list:
        root = Path(dataset.location_on_system)
        return [[str(Path(p).relative_to(root)), os.path.getsize(p)] for p in sorted(dataset.data)]

    # -- cache -------------------------------------------------------------------------------------

    @property
    def dtype(self) -> type:
        """uint8 when counts are clipped to <= 255, else int16 (counts saturate at 32767)."""
        return np.uint8 if self.clip is not None and self.clip <= 255 else np.int16

    def cache_key(self, fingerprints: dict[str, list]) -> str:
        """Hash of every setting that changes the frames, and of the source files."""
        settings = {"format": CACHE_FORMAT, "timesteps": self.timesteps, "binning": self.binning,
                    "size": self.size, "clip": self.clip, "sources": fingerprints}
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]

    def cache_path(self) -> Path:
        """The cache folder of the current settings (sources are fingerprinted, not read)."""
        datasets = {split: self._tonic(split == "train") for split in ("train", "test")}
        key = self.cache_key({split: self._fingerprint(ds) for split, ds in datasets.items()})
        return self.cache_dir / f"dvsgesture-{key}"

    def prepare_data(self) -> None:
        """Bin every recording once and write the cache (atomically: a folder renamed into place)."""
        target = self.cache_path()
        if target.is_dir():
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=self.cache_dir, prefix=".partial-"))
        try:
            for split in ("train", "test"):
                dataset = self._tonic(split == "train")
                order = self._sorted_samples(dataset)
                frames = np.lib.format.open_memmap(work / f"{split}_frames.npy", mode="w+", dtype=self.dtype,
                                                   shape=(len(order), self.timesteps, *self.input_shape))
                for row, i in enumerate(order):  # one recording at a time: memory stays flat
                    counts = bin_events(dataset[i][0], self.timesteps, self.binning, self.size, self.clip)
                    frames[row] = np.minimum(counts, np.iinfo(self.dtype).max)
                frames.flush()
                del frames
                np.savez(work / f"{split}_meta.npz", labels=np.asarray([dataset.targets[i] for i in order]),
                         users=np.asarray([dataset.users[i] for i in order]))
            (work / "settings.json").write_text(json.dumps(
                {"timesteps": self.timesteps, "binning": self.binning, "size": self.size, "clip": self.clip}))
            os.replace(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        folder = self.cache_path()
        if not folder.is_dir():
            self.prepare_data()
        self.location = f"{self.data_dir / 'DVSGesture'} (frames cached in {folder})"
        for split in ("train", "test"):
            meta = np.load(folder / f"{split}_meta.npz")
            labels, users = torch.as_tensor(meta["labels"], dtype=torch.int64), meta["users"]
            if split == "test":
                parts = {"test": np.arange(len(labels))}
            else:
                is_val = np.isin(users, self.validation_users(np.unique(users)))
                parts = {"train": np.flatnonzero(~is_val), "val": np.flatnonzero(is_val)}
            for name, rows in parts.items():
                self.labels[name] = labels[rows]
                self.splits[name] = _Frames(folder / f"{split}_frames.npy", rows, self.labels[name])

    def validation_users(self, users: np.ndarray) -> np.ndarray:
        """The training users held out for validation: a seeded choice of ``round(val_fraction * n)`` (>= 1)."""
        count = max(1, round(self.val_fraction * len(users)))
        order = torch.randperm(len(users), generator=torch.Generator().manual_seed(self.split_seed))
        return np.sort(users[order[:count].numpy()])
