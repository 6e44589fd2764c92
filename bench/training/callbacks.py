"""Trainer callbacks: measurements that belong to the run, not to the model."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch

__all__ = ["StepTimer"]


class StepTimer(L.Callback):
    """Logs ``train/step_time_ms``: wall time of one training batch (data to optimizer step), per epoch."""

    def __init__(self) -> None:
        self._start = 0.0

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        _synchronize(pl_module.device)
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        _synchronize(pl_module.device)  # GPU work is asynchronous: wait for it, or the time means nothing
        elapsed_ms = 1000.0 * (time.perf_counter() - self._start)
        pl_module.log("train/step_time_ms", elapsed_ms, on_step=False, on_epoch=True)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
