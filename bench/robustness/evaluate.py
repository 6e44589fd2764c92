"""``spikebench evaluate``: clean accuracy, the attack matrix, the per-point worst case, the flags and the
certificates, in one command. The jobs run as resumable, shardable Lightning loops (see runner.py).

A point counts as robust in a cell only if *all* its evaluation draws are correct (for stochastic models,
``draws`` forward passes; 1 otherwise); the cell also reports the expected accuracy over draws.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor

from bench.results import file_hash, run_record, write_json_atomic
from bench.robustness import flags
from bench.robustness.adapter import AttackableSNN
from bench.robustness.attacks import build_attack
from bench.robustness.certification import certificate_table, run_certification
from bench.robustness.protocol import CellSpec, Protocol
from bench.robustness.runner import Job, PointRunner, Task, load_checkpoint, prepare
from bench.spiking.random import derive_seed
from bench.training.classifier import SpikingClassifier

__all__ = ["clean_task", "correct_draws", "evaluate", "summarize"]


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


# -- the command -------------------------------------------------------------------------------------


def evaluate(
    ckpt: Path,
    protocol: str = "v1",
    quick: bool = False,
    transfer_from: Path | None = None,
    epsilons: list[str] | None = None,
    certify: bool = True,
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
        certify: also run the protocol's certification block (if it has one).
        out: output folder (default: ``<run dir>/eval-<protocol>``, beside ``checkpoints/``).
        data_dir: where the data is, if not where the checkpoint was trained.
        batch_size: points per batch (per process).
        devices, accelerator, strategy: as for Lightning's Trainer; ``devices=N`` shards the points.
    """
    started = time.perf_counter()
    source = load_checkpoint(Path(transfer_from))[0] if transfer_from else None
    ctx = prepare(ckpt, protocol, quick, epsilons, out, data_dir, batch_size, devices, accelerator, strategy,
                  source=source, extra_fingerprint={"transfer_from": file_hash(transfer_from)
                                                    if transfer_from else None})
    spec, model = ctx.spec, ctx.model
    stochastic = AttackableSNN(model).stochastic
    draws = spec.draws_for(stochastic)
    cells = spec.cells(stochastic, transfer=source is not None)
    jobs = [Job("clean", clean_task(draws), {"kind": "clean", "draws": draws}, ctx.rows)]
    jobs += [Job(f"zero-gradient__{m.replace(':', '-')}", zero_gradient_task(m), {"kind": "zero_gradient", "mode": m},
                 ctx.rows) for m in spec.gradient_modes]
    jobs += [Job(c.key, cell_task(c, draws, derive_seed(spec.seed, c.key)),
                 {"kind": "cell", "draws": draws, **c.to_dict()}, ctx.rows) for c in cells]
    results = {k: v.bool() for k, v in ctx.run(jobs, f"evaluate {spec.name}")[0].items()}
    metrics = summarize(spec, cells, results, stochastic)
    if certify and spec.certify is not None:
        metrics["certified"] = run_certification(ctx)
    record = run_record(
        config={"checkpoint": str(ctx.ckpt), "transfer_from": str(transfer_from) if transfer_from else None,
                "dataset": ctx.dataset, "protocol": spec.to_dict(), "subset_rows": ctx.rows.tolist()},
        seed=spec.seed, model=model.describe(), metrics=metrics, wall_time_s=time.perf_counter() - started,
        protocol={"name": spec.name, "hash": spec.hash, "draws": draws, "stochastic": stochastic},
        checkpoint=str(ctx.ckpt), checkpoint_sha256=ctx.fingerprint["checkpoint"],
    )
    if ctx.trainer.is_global_zero:
        write_json_atomic(ctx.out / "result.json", record)
        Console().print(matrix_table(spec, metrics))
        if metrics.get("certified", {}).get("norm"):
            Console().print(certificate_table(metrics["certified"]))
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
