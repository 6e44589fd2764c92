"""Trainer callbacks: measurements that belong to the run, not to the model."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch

__all__ = ["StepTimer"]


class StepTimer(L.Callback):
    """Logs ``train/step_time_ms``: mean wall time of a training batch (forward, backward, optimizer step)
    over the epoch. ``mean_ms`` (the last finished epoch's) is saved in checkpoints."""

    def __init__(self) -> None:
        self._start = 0.0
        self._times: list[float] = []
        self.mean_ms: float | None = None

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        _synchronize(pl_module.device)
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        _synchronize(pl_module.device)  # GPU work is asynchronous: wait for it, or the time means nothing
        self._times.append(1000.0 * (time.perf_counter() - self._start))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._times:
            self.mean_ms = sum(self._times) / len(self._times)
            self._times = []
            pl_module.log("train/step_time_ms", self.mean_ms, sync_dist=True)

    def state_dict(self) -> dict[str, Any]:
        return {"mean_ms": self.mean_ms}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.mean_ms = state_dict.get("mean_ms")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
