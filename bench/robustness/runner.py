"""Per-point work over a fixed test subset, as Lightning test loops: loading checkpoints and data, running jobs.

Every job (clean accuracy, an attack cell, a chunk of certificates) is a function ``(runner, x, y) -> [B, k]``
run by ``trainer.test`` with gradients enabled, so ``devices=N`` shards the points across processes and the
per-point results are gathered exactly (padding repeats dropped by index). A finished job is written at once
to ``<out>/cells/<key>.json``; a rerun reuses every job whose fingerprint matches, and each job reseeds torch
and restarts the model's streams from the protocol seed and its own key, so a resumed run equals an
uninterrupted one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from rich.progress import Progress
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from bench.data.registry import datasets
from bench.results import config_hash, file_hash, read_json, write_json_atomic
from bench.robustness.adapter import restart_streams
from bench.robustness.protocol import Protocol, load_protocol
from bench.spiking.random import derive_seed
from bench.training.classifier import CHECKPOINT_FORMAT, SpikingClassifier

__all__ = ["Context", "Job", "PointRunner", "load_checkpoint", "load_datamodule", "prepare", "run_jobs"]

Task = Callable[["PointRunner", Tensor, Tensor], Tensor]  # (runner, x, y) -> per-point results [B, k]


class _Subset(Dataset):
    """Points ``rows`` of a dataset, yielding (x, y, position in the subset)."""

    def __init__(self, dataset: Dataset, rows: Tensor) -> None:
        self.dataset, self.rows = dataset, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, position: int) -> tuple[Tensor, Tensor, int]:
        x, y = self.dataset[int(self.rows[position])]
        return x, y, position


class PointRunner(L.LightningModule):
    """Runs one task per ``trainer.test`` call over the subset and keeps its per-point results in order."""

    def __init__(self, model: SpikingClassifier, source: SpikingClassifier | None = None) -> None:
        super().__init__()
        self.model, self.source = model, source
        self.task: Task | None = None
        self.task_seed = 0
        self.result: Tensor | None = None
        self._parts: list[tuple[Tensor, Tensor]] = []

    def on_test_epoch_start(self) -> None:
        torch.manual_seed(self.task_seed)  # attack randomness (random starts, APGD, Square)
        for model in (self.model, self.source):
            if model is not None:
                restart_streams(model)
        self._parts = []

    def test_step(self, batch: tuple[Tensor, Tensor, Tensor], batch_idx: int) -> None:
        x, y, position = batch
        with torch.enable_grad():
            values = self.task(self, x, y)
        self._parts.append((position, values.detach()))

    def on_test_epoch_end(self) -> None:
        positions = torch.cat([p for p, _ in self._parts])
        values = torch.cat([v for _, v in self._parts])
        if self.trainer.world_size > 1:  # exact gathering: every rank holds the same number of rows
            positions = self.all_gather(positions).flatten(0, 1)
            values = self.all_gather(values).flatten(0, 1)
        order = torch.argsort(positions, stable=True)
        positions, values = positions[order], values[order]
        keep = torch.ones_like(positions, dtype=torch.bool)
        keep[1:] = positions[1:] != positions[:-1]  # DistributedSampler pads with repeats
        self.result = values[keep].cpu()


# -- loading -----------------------------------------------------------------------------------------


def load_checkpoint(path: Path) -> tuple[SpikingClassifier, dict[str, Any]]:
    """The model of a spikebench checkpoint and the checkpoint's data-module record."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    info = checkpoint.get("spikebench")
    if not info or "arch" not in checkpoint.get("hyper_parameters", {}):
        raise ValueError(f"{path} is not a spikebench checkpoint (no 'spikebench' record or model hyper-parameters)")
    if info.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} has checkpoint format {info.get('format')} (written by spikebench "
                         f"{info.get('version')}); this spikebench reads format {CHECKPOINT_FORMAT}")
    model = SpikingClassifier.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    return model.eval(), checkpoint.get("datamodule") or {}


def load_datamodule(record: dict[str, Any], data_dir: str | None) -> tuple[L.LightningDataModule, str]:
    if not record:
        raise ValueError("the checkpoint does not say which data it was trained on (no 'datamodule' record)")
    cls = datasets.get(record["class_path"])
    init = {k: v for k, v in record["init_args"].items() if not k.startswith("_")}
    if data_dir is not None and "data_dir" in init:
        init["data_dir"] = data_dir
    init["num_workers"] = 0
    name = next((n for n in datasets.available() if datasets.get(n) is cls), cls.__name__.lower())
    return cls(**init), name


@dataclass(frozen=True)
class Job:
    """One unit of resumable work: a task over some rows of the test split."""

    key: str
    task: Task
    meta: dict[str, Any]
    rows: Tensor


def run_jobs(jobs: list[Job], test: Dataset, runner: PointRunner, trainer: L.Trainer, out: Path,
             fingerprint: dict[str, Any], seed: int, batch_size: int, label: str
             ) -> tuple[dict[str, Tensor], dict[str, float]]:
    """Run (or reuse) every job: per-point results in the order of each job's rows, and the seconds each job
    took when it ran (kept in its file, so throughput survives a resume)."""
    results: dict[str, Tensor] = {}
    seconds: dict[str, float] = {}
    with Progress(disable=not trainer.is_global_zero) as progress:
        bar = progress.add_task(label, total=len(jobs))
        for job in jobs:
            path = out / "cells" / f"{job.key}.json"
            # Through JSON once, so that tuples compare equal to the lists read back from the file.
            stamp = json.loads(json.dumps({**fingerprint, "job": job.meta, "rows": config_hash(job.rows.tolist())}))
            cached = read_json(path) if path.is_file() else None
            if cached and cached["fingerprint"] == stamp:
                results[job.key] = torch.tensor(cached["values"], dtype=torch.float64)  # JSON floats are doubles
                seconds[job.key] = cached["seconds"]
            else:
                runner.task, runner.task_seed = job.task, derive_seed(seed, job.key)
                loader = DataLoader(_Subset(test, job.rows), batch_size=batch_size, shuffle=False)
                started = time.perf_counter()
                trainer.test(runner, dataloaders=loader, verbose=False)
                results[job.key], seconds[job.key] = runner.result, time.perf_counter() - started
                if trainer.is_global_zero:
                    write_json_atomic(path, {"fingerprint": stamp, "seconds": seconds[job.key],
                                             "values": runner.result.tolist()})
            progress.advance(bar)
    return results, seconds


@dataclass
class Context:
    """Everything a protocol run needs, shared by ``evaluate`` and ``certify``."""

    ckpt: Path
    model: SpikingClassifier
    dataset: str
    spec: Protocol
    test: Dataset
    rows: Tensor  # the protocol's test subset (indices into the test split)
    trainer: L.Trainer
    runner: PointRunner
    out: Path
    fingerprint: dict[str, Any]
    batch_size: int

    def run(self, jobs: list[Job], label: str) -> tuple[dict[str, Tensor], dict[str, float]]:
        return run_jobs(jobs, self.test, self.runner, self.trainer, self.out, self.fingerprint, self.spec.seed,
                        self.batch_size, label)


def prepare(ckpt: Path, protocol: str, quick: bool, epsilons: list[str] | None, out: Path | None,
            data_dir: str | None, batch_size: int, devices: int | str, accelerator: str, strategy: str,
            source: SpikingClassifier | None = None, extra_fingerprint: dict[str, Any] | None = None) -> Context:
    """Load the checkpoint, its data and the protocol; fix the subset; make the trainer (``devices=N`` shards)."""
    ckpt = Path(ckpt)
    model, data_record = load_checkpoint(ckpt)
    datamodule, dataset = load_datamodule(data_record, data_dir)
    spec = load_protocol(protocol, dataset, quick=quick, epsilons=epsilons)
    datamodule.prepare_data()
    datamodule.setup("test")
    test = datamodule.splits["test"]
    rows = torch.randperm(len(test), generator=torch.Generator().manual_seed(spec.seed))[:spec.subset].sort().values
    trainer = L.Trainer(devices=devices, accelerator=accelerator, strategy=strategy, inference_mode=False,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    fingerprint = {"checkpoint": file_hash(ckpt), "protocol": spec.hash, **(extra_fingerprint or {})}
    out = Path(out) if out else ckpt.resolve().parent.parent / f"eval-{spec.name}"
    return Context(ckpt, model, dataset, spec, test, rows, trainer, PointRunner(model, source), out, fingerprint,
                   batch_size)
