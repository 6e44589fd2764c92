"""``spikebench evaluate``: clean accuracy, the attack matrix, the per-point worst case and the flags.

Every piece of work is a per-point function run over a fixed test subset as a Lightning test loop (with
gradients enabled), so ``devices=N`` shards the points across processes and the per-point results are
gathered exactly (duplicates from padding are dropped by index). Each finished cell is written at once to
``<out>/cells/<cell>.json``; a rerun reuses every cell whose fingerprint (checkpoint, protocol, cell) matches,
so a crash loses nothing and a resumed evaluation equals an uninterrupted one: each cell reseeds torch and
restarts the model's random streams from the protocol seed and its own key.

A point counts as robust in a cell only if *all* its evaluation draws are correct (for stochastic models,
``draws`` forward passes; 1 otherwise); the cell also reports the expected accuracy over draws.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from bench.data.registry import datasets
from bench.results import config_hash, read_json, run_record, write_json_atomic
from bench.robustness import flags
from bench.robustness.adapter import AttackableSNN
from bench.robustness.attacks import build_attack
from bench.robustness.protocol import CellSpec, Protocol, load_protocol
from bench.spiking.random import derive_seed
from bench.training.classifier import CHECKPOINT_FORMAT, SpikingClassifier

__all__ = ["PointRunner", "evaluate", "load_checkpoint"]

log = logging.getLogger(__name__)
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
                AttackableSNN(model).restart_streams()
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


# -- tasks -------------------------------------------------------------------------------------------


def correct_draws(model: SpikingClassifier, x: Tensor, y: Tensor, draws: int) -> Tensor:
    """bool ``[B, draws]``: is each of ``draws`` forward passes of the real model correct on ``x``?"""
    judge = AttackableSNN(model)
    with torch.no_grad():
        return torch.stack([judge(x).argmax(1) == y for _ in range(draws)], dim=1)


def clean_task(draws: int) -> Task:
    return lambda runner, x, y: correct_draws(runner.model, x, y, draws)


def zero_gradient_task(mode: str) -> Task:
    """bool ``[B, 1]``: is the input gradient of the margin loss exactly zero through ``mode``?"""

    def task(runner: PointRunner, x: Tensor, y: Tensor) -> Tensor:
        x = x.clone().requires_grad_(True)
        logits = AttackableSNN(runner.model, mode)(x)
        true = logits.gather(1, y[:, None])[:, 0]
        other = logits.masked_fill(torch.nn.functional.one_hot(y, logits.shape[1]).bool(), -torch.inf).amax(1)
        (grad,) = torch.autograd.grad((other - true).sum(), x)
        return (grad.flatten(1) == 0).all(dim=1, keepdim=True)

    return task


def cell_task(spec: CellSpec, draws: int, seed: int) -> Task:
    """Attack the points as ``spec`` says, then judge the adversarial points over ``draws`` passes."""

    def task(runner: PointRunner, x: Tensor, y: Tensor) -> Tensor:
        target = AttackableSNN(runner.model, spec.gradient_mode or "own")
        params = dict(spec.params)
        if spec.attack in ("apgd-ce", "apgd-dlr", "square"):
            params["seed"] = seed
        if spec.attack == "transfer":
            params["source"] = AttackableSNN(runner.source)
        x_adv = build_attack(spec.attack, target, spec.eps.value, **params)(x, y)
        if spec.attack != "gn" and (x_adv - x).abs().max() > spec.eps.value + 1e-5:
            raise RuntimeError(f"{spec.key} left the eps ball: {(x_adv - x).abs().max():.6f} > {spec.eps.value}")
        return correct_draws(runner.model, x_adv, y, draws)

    return task


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


def _datamodule(record: dict[str, Any], data_dir: str | None) -> tuple[L.LightningDataModule, str]:
    if not record:
        raise ValueError("the checkpoint does not say which data it was trained on (no 'datamodule' record)")
    cls = datasets.get(record["class_path"])
    init = {k: v for k, v in record["init_args"].items() if not k.startswith("_")}
    if data_dir is not None and "data_dir" in init:
        init["data_dir"] = data_dir
    init["num_workers"] = 0
    name = next((n for n in datasets.available() if datasets.get(n) is cls), cls.__name__.lower())
    return cls(**init), name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- the command -------------------------------------------------------------------------------------


def evaluate(
    ckpt: Path,
    protocol: str = "v1",
    quick: bool = False,
    transfer_from: Path | None = None,
    epsilons: list[str] | None = None,
    out: Path | None = None,
    data_dir: str | None = None,
    batch_size: int = 250,
    devices: int | str = 1,
    accelerator: str = "auto",
    strategy: str = "auto",
) -> dict[str, Any]:
    """Evaluate a checkpoint under a versioned protocol; prints the matrix and writes ``<out>/result.json``.

    Args:
        ckpt: a checkpoint written by ``spikebench fit``.
        protocol: a protocol name in configs/protocol/ (e.g. v1) or a YAML path.
        quick: the protocol's cheaper variant (recorded as "<version>-quick").
        transfer_from: another checkpoint to craft transfer attacks on (no transfer cells without it).
        epsilons: override the protocol's epsilons for this dataset, e.g. ["0.1", "8/255"].
        out: output folder (default: ``<run dir>/eval-<protocol>``, beside ``checkpoints/``).
        data_dir: where the data is, if not where the checkpoint was trained.
        batch_size: points per batch (per process).
        devices, accelerator, strategy: as for Lightning's Trainer; ``devices=N`` shards the points.
    """
    started = time.perf_counter()
    ckpt = Path(ckpt)
    model, data_record = load_checkpoint(ckpt)
    datamodule, dataset = _datamodule(data_record, data_dir)
    spec = load_protocol(protocol, dataset, quick=quick, epsilons=epsilons)
    source = load_checkpoint(Path(transfer_from))[0] if transfer_from else None
    stochastic = AttackableSNN(model).stochastic
    draws = spec.draws_for(stochastic)
    out = Path(out) if out else ckpt.resolve().parent.parent / f"eval-{spec.name}"

    datamodule.prepare_data()
    datamodule.setup("test")
    test = datamodule.splits["test"]
    rows = torch.randperm(len(test), generator=torch.Generator().manual_seed(spec.seed))[:spec.subset].sort().values
    loader = DataLoader(_Subset(test, rows), batch_size=batch_size, shuffle=False)
    trainer = L.Trainer(devices=devices, accelerator=accelerator, strategy=strategy, inference_mode=False,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    runner = PointRunner(model, source)

    fingerprint = {"checkpoint": _sha256(ckpt), "transfer_from": _sha256(Path(transfer_from)) if transfer_from
                   else None, "protocol": spec.hash, "rows": config_hash(rows.tolist()), "draws": draws}
    cells = spec.cells(stochastic, transfer=source is not None)
    jobs: list[tuple[str, Task, dict[str, Any]]] = [("clean", clean_task(draws), {"kind": "clean"})]
    jobs += [(f"zero-gradient__{m.replace(':', '-')}", zero_gradient_task(m), {"kind": "zero_gradient", "mode": m})
             for m in spec.gradient_modes]
    jobs += [(c.key, cell_task(c, draws, derive_seed(spec.seed, c.key)), {"kind": "cell", **c.to_dict()})
             for c in cells]

    results: dict[str, Tensor] = {}
    with Progress(disable=not trainer.is_global_zero) as progress:
        bar = progress.add_task(f"evaluate {spec.name}", total=len(jobs))
        for key, task, meta in jobs:
            path = out / "cells" / f"{key}.json"
            cached = read_json(path) if path.is_file() else None
            if cached and cached["fingerprint"] == {**fingerprint, "job": meta}:
                results[key] = torch.tensor(cached["values"], dtype=torch.bool)
            else:
                runner.task, runner.task_seed = task, derive_seed(spec.seed, key)
                trainer.test(runner, dataloaders=loader, verbose=False)
                results[key] = runner.result.bool()
                if trainer.is_global_zero:
                    write_json_atomic(path, {"fingerprint": {**fingerprint, "job": meta},
                                             "values": results[key].int().tolist()})
            progress.advance(bar)

    metrics = summarize(spec, cells, results, stochastic)
    record = run_record(
        config={"checkpoint": str(ckpt), "transfer_from": str(transfer_from) if transfer_from else None,
                "dataset": dataset, "protocol": spec.to_dict(), "subset_rows": rows.tolist()},
        seed=spec.seed, model=model.describe(), metrics=metrics, wall_time_s=time.perf_counter() - started,
        protocol={"name": spec.name, "hash": spec.hash, "draws": draws, "stochastic": stochastic},
        checkpoint=str(ckpt), checkpoint_sha256=fingerprint["checkpoint"],
    )
    if trainer.is_global_zero:
        write_json_atomic(out / "result.json", record)
        Console().print(matrix_table(spec, metrics))
    return record


def summarize(spec: Protocol, cells: list[CellSpec], results: dict[str, Tensor], stochastic: bool) -> dict:
    """Clean accuracy, every cell, the per-point worst case per epsilon, and the flags."""
    clean = results["clean"]
    per_draw = clean.float().mean(0)
    metrics: dict[str, Any] = {
        "points": len(clean),
        "clean": {"accuracy": float(per_draw.mean()), "std_over_draws": float(per_draw.std()) if len(per_draw) > 1
                  else 0.0, "majority_vote": float((clean.float().mean(1) > 0.5).float().mean()),
                  "all_draws": float(clean.all(1).float().mean())},
        "cells": [],
        "worst_case": {},
        "zero_gradient_fraction": {m: float(results[f"zero-gradient__{m.replace(':', '-')}"].float().mean())
                                   for m in spec.gradient_modes},
    }
    for cell in cells:
        value = results[cell.key]
        metrics["cells"].append({**cell.to_dict(), "robust_accuracy": float(value.all(1).float().mean()),
                                 "expected_accuracy": float(value.float().mean())})
    raised = [flags.zero_gradients(metrics["zero_gradient_fraction"]),
              flags.unhandled_randomness(float(((clean.float().mean(1) > 0) & (clean.float().mean(1) < 1))
                                               .float().mean()),
                                         eot_used=any(c.params.get("eot", 1) > 1 for c in cells) or not stochastic)]
    for eps in spec.epsilons:
        at_eps = [c for c in cells if c.eps == eps and c.role == "matrix"]
        white = [results[c.key] for c in at_eps if c.gradient_mode is not None]
        black = [results[c.key] for c in at_eps if c.gradient_mode is None]
        worst = flags.worst_case([clean, *white, *black])
        metrics["worst_case"][eps.label] = {"eps": eps.value, "robust_accuracy": float(worst.float().mean())}
        if white and black:
            raised.append(flags.black_box_stronger(flags.worst_case([clean, *white]), flags.worst_case(black)))
    huge = {c.gradient_mode: float(results[c.key].all(1).float().mean()) for c in cells if c.role == "masking-check"}
    if huge:
        raised.append(flags.large_epsilon_not_zero(huge, spec.huge_epsilon.label))
    metrics["flags"] = [vars(f) for f in raised if f is not None]
    metrics["potentially_unreliable"] = bool(metrics["flags"])
    return metrics


def matrix_table(spec: Protocol, metrics: dict[str, Any]) -> Table:
    """Attack x gradient mode rows, one column per epsilon: robust accuracy."""
    labels = [e.label for e in spec.epsilons] + ([spec.huge_epsilon.label] if spec.epsilons else [])
    table = Table(title=f"protocol {spec.name}: robust accuracy on {metrics['points']} test points "
                        f"(clean {metrics['clean']['accuracy']:.3f})")
    table.add_column("attack")
    table.add_column("gradient mode")
    for label in labels:
        table.add_column(f"eps {label}", justify="right")
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for cell in metrics["cells"]:
        rows.setdefault((cell["attack"], cell["gradient_mode"] or "black-box"), {})[cell["eps_label"]] = \
            cell["robust_accuracy"]
    for (attack, mode), values in rows.items():
        table.add_row(attack, mode, *(f"{values[lb]:.3f}" if lb in values else "" for lb in labels))
    table.add_section()
    table.add_row("worst case", "per point", *(f"{metrics['worst_case'][lb]['robust_accuracy']:.3f}"
                                               if lb in metrics["worst_case"] else "" for lb in labels))
    if metrics["flags"]:
        table.caption = "potentially unreliable: " + "; ".join(f["message"] for f in metrics["flags"])
    return table
