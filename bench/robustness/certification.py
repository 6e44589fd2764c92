"""Certified accuracy of a checkpoint: CERTIFY on every point of a subset, as resumable, shardable jobs.

Rate-encoded models get the l1 certificate (their Bernoulli encoding is the smoothing); direct-encoded models
get Gaussian smoothing with the protocol's sigma (l2). ``spikebench certify`` runs this alone; ``spikebench
evaluate`` runs it after the attack matrix. Certified accuracy at radius r counts the points that are correct,
not abstained, and certified at r or more (abstentions count as wrong).
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor

from bench.results import run_record, write_json_atomic
from bench.robustness.certify import ABSTAIN, certify, predict
from bench.robustness.runner import Context, Job, PointRunner, Task, prepare
from bench.spiking.encoders import DirectEncoder, RateEncoder

__all__ = ["FIELDS", "certified_accuracy", "certify_checkpoint", "run_certification"]

# Per point, in this order: the label, CERTIFY's class (-1 = abstain), its count k of n, the bound on p_A,
# the sound radius, CertifiedSNN's T-free radius, and PREDICT's class (the smoothed classifier).
FIELDS = ("label", "prediction", "count", "p_lower", "radius", "reference_radius", "smoothed_prediction")
L1_FORMULA = "R = 1 - (3/2 - p_lower)^(1/T), 0 if p_lower <= 1/2 (l1, [0,1] intensities over the whole input)"
L2_FORMULA = "R = sigma * Phi^-1(p_lower), 0 if p_lower <= 1/2 (l2, Cohen et al. 2019)"


def threat_model(model) -> tuple[str, bool]:
    """("l1" | "l2" | "none", whether Gaussian noise was part of training)."""
    if isinstance(model.encoder, RateEncoder):
        return "l1", False
    if isinstance(model.encoder, DirectEncoder):
        adversarial = model.describe()["training"]["adversarial"]
        return "l2", bool(adversarial and adversarial["attack"] == "gn")
    return "none", False


def certify_task(settings, norm: str) -> Task:
    sigma = settings.sigma if norm == "l2" else None

    def task(runner: PointRunner, x: Tensor, y: Tensor) -> Tensor:
        # Gaussian noise (l2) from the job's own seed; rate encoding draws from the model's eval stream.
        generator = torch.Generator(device=x.device).manual_seed(runner.task_seed) if norm == "l2" else None
        rows = []
        for xi, yi in zip(x, y, strict=True):
            cert = certify(runner.model, xi, settings.n0, settings.n, settings.alpha, settings.batch_size, norm,
                           sigma, generator)
            smoothed = predict(runner.model, xi, settings.n, settings.alpha, settings.batch_size, norm, sigma,
                               generator)
            rows.append([int(yi), cert.prediction, cert.count, cert.p_lower, cert.radius, cert.reference_radius,
                         smoothed])
        return torch.tensor(rows, dtype=torch.float64, device=x.device)

    return task


def certified_accuracy(values: Tensor, radii: list[float], column: int = FIELDS.index("radius")) -> list[dict]:
    """Fraction of points correct, not abstained and certified at radius >= r, for each r.

    >>> v = torch.tensor([[1, 1, 9, .9, .2, .4, 1], [2, -1, 5, .4, 0, 0, -1], [3, 0, 9, .9, .3, .4, 0]])
    >>> [round(c["accuracy"], 3) for c in certified_accuracy(v, [0.0, 0.25])]
    [0.333, 0.0]
    """
    correct = (values[:, 1] == values[:, 0]) & (values[:, 1] != ABSTAIN)
    return [{"radius": r, "accuracy": float((correct & (values[:, column] >= r)).double().mean())} for r in radii]


def run_certification(ctx: Context) -> dict[str, Any]:
    """Certify the first ``certify.subset`` points of the context's subset; a summary with per-point records."""
    settings = ctx.spec.certify
    norm, noise_trained = threat_model(ctx.model)
    if norm == "none":
        return {"norm": None, "note": f"no certificate for {type(ctx.model.encoder).__name__} inputs in "
                                      f"{ctx.spec.name}: randomized smoothing needs rate or direct encoding"}
    if norm == "l2" and settings.sigma is None:
        raise ValueError(f"protocol {ctx.spec.name} has no certify.sigma for {ctx.dataset}: Gaussian smoothing of a "
                         "direct-encoded model needs one")
    rows = ctx.rows[:settings.subset]
    meta = {"kind": "certify", "norm": norm, **asdict(settings)}
    jobs = [Job(f"certify__{norm}__{k:04d}", certify_task(settings, norm), meta,
                rows[k:k + settings.chunk]) for k in range(0, len(rows), settings.chunk)]
    results, seconds = ctx.run(jobs, f"certify {norm} n={settings.n}")
    elapsed = sum(seconds[job.key] for job in jobs)  # as measured when each job ran, resumed or not
    values = torch.cat([results[job.key] for job in jobs])
    summary = summarize_certificates(values, settings, norm, ctx.model.hparams.timesteps, rows, elapsed)
    if norm == "l2" and not noise_trained:
        summary["note"] = (f"the model was not trained with Gaussian noise (model.adversarial attack 'gn', eps = "
                           f"sigma {settings.sigma}): expect a nearly vacuous l2 certificate")
    if ctx.trainer.is_global_zero:
        plot_curve(summary, ctx.out / f"certified-{norm}.png")
    return summary


def summarize_certificates(values: Tensor, settings, norm: str, timesteps: int, rows: Tensor,
                           elapsed: float) -> dict[str, Any]:
    radii = list(settings.l1_radii if norm == "l1" else settings.l2_radii)
    points = len(values)
    correct = values[:, FIELDS.index("smoothed_prediction")] == values[:, 0]
    summary: dict[str, Any] = {
        "norm": norm, "n0": settings.n0, "n": settings.n, "alpha": settings.alpha, "timesteps": timesteps,
        "sigma": settings.sigma if norm == "l2" else None,
        "radius_formula": L1_FORMULA if norm == "l1" else L2_FORMULA,
        "points": points, "subset_rows": rows.tolist(),
        "abstain_rate": float((values[:, 1] == ABSTAIN).double().mean()),
        "smoothed_accuracy": float(correct.double().mean()),
        "certified_accuracy": certified_accuracy(values, radii),
        "records": [dict(zip(FIELDS, row, strict=True)) for row in values.tolist()],
    }
    if norm == "l1":
        summary["reference_radius_certifiedsnn"] = {
            "formula": "p_lower - 1/2 (CertifiedSNN's code; sound only for T = 1): for comparison, never ranked",
            "certified_accuracy": certified_accuracy(values, radii, FIELDS.index("reference_radius")),
        }
    draws = points * (settings.n0 + 2 * settings.n)  # CERTIFY's n0 + n, PREDICT's n
    passes = sum(-(-d // settings.batch_size) for d in (settings.n0, settings.n, settings.n)) * points
    summary["throughput"] = {"seconds": round(elapsed, 3), "points_per_s": points / elapsed if elapsed else None,
                             "forward_passes_per_s": passes / elapsed if elapsed else None,
                             "draws_per_s": draws / elapsed if elapsed else None}
    return summary


def plot_curve(summary: dict[str, Any], path: Path) -> None:
    """Certified accuracy against radius (a step curve over the per-point radii), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = summary["records"]
    radii = sorted({0.0, *(r["radius"] for r in records)})
    correct = [r for r in records if r["prediction"] == r["label"] and r["prediction"] != ABSTAIN]
    curve = [sum(r["radius"] >= rad for r in correct) / len(records) for rad in radii]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.step(radii, curve, where="post")
    ax.set_xlabel(f"{summary['norm']} radius")
    ax.set_ylabel("certified accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(f"n={summary['n']}, alpha={summary['alpha']}, T={summary['timesteps']}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def certificate_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"certified accuracy ({summary['norm']}, n={summary['n']}, alpha={summary['alpha']}, "
                        f"{summary['points']} points)",
                  caption=f"abstain {summary['abstain_rate']:.3f}, smoothed accuracy "
                          f"{summary['smoothed_accuracy']:.3f}. {summary.get('note', '')}")
    table.add_column("radius", justify="right")
    table.add_column("certified accuracy", justify="right")
    reference = summary.get("reference_radius_certifiedsnn")
    if reference:
        table.add_column("with p_lower - 1/2 (reference, unsound for T > 1)", justify="right")
    for k, row in enumerate(summary["certified_accuracy"]):
        extra = [f"{reference['certified_accuracy'][k]['accuracy']:.3f}"] if reference else []
        table.add_row(f"{row['radius']:g}", f"{row['accuracy']:.3f}", *extra)
    return table


def certify_checkpoint(
    ckpt: Path,
    protocol: str = "v1",
    quick: bool = False,
    n0: int | None = None,
    n: int | None = None,
    alpha: float | None = None,
    subset: int | None = None,
    sigma: float | None = None,
    out: Path | None = None,
    data_dir: str | None = None,
    batch_size: int = 50,
    devices: int | str = 1,
    accelerator: str = "auto",
    strategy: str = "auto",
) -> dict[str, Any]:
    """``spikebench certify``: certified accuracy vs radius, abstain rate, smoothed accuracy, a PNG curve and
    ``<out>/certify.json``. Options left unset take the protocol's values.

    Args:
        ckpt: a checkpoint written by ``spikebench fit``.
        protocol, quick: the protocol whose certify block is used (and its quick variant).
        n0, n, alpha, subset, sigma: override the protocol's values (recorded in the result).
        out: output folder (default: ``<run dir>/eval-<protocol>``).
        data_dir: where the data is, if not where the checkpoint was trained.
        batch_size: points per job batch (draws per forward pass is the protocol's certify.batch_size).
        devices, accelerator, strategy: as for Lightning's Trainer; ``devices=N`` splits the points.
    """
    started = time.perf_counter()
    ctx = prepare(ckpt, protocol, quick, [], out, data_dir, batch_size, devices, accelerator, strategy)
    if ctx.spec.certify is None:
        raise ValueError(f"protocol {ctx.spec.name} has no certify block")
    overrides = {k: v for k, v in {"n0": n0, "n": n, "alpha": alpha, "subset": subset, "sigma": sigma}.items()
                 if v is not None}
    ctx.spec = replace(ctx.spec, certify=replace(ctx.spec.certify, **overrides))
    summary = run_certification(ctx)
    record = run_record(config={"checkpoint": str(ctx.ckpt), "dataset": ctx.dataset,
                                "certify": asdict(ctx.spec.certify)},
                        seed=ctx.spec.seed, model=ctx.model.describe(), metrics={"certified": summary},
                        wall_time_s=time.perf_counter() - started,
                        protocol={"name": ctx.spec.name, "block": "certify", "overrides": overrides},
                        checkpoint=str(ctx.ckpt), checkpoint_sha256=ctx.fingerprint["checkpoint"])
    if ctx.trainer.is_global_zero:
        write_json_atomic(ctx.out / "certify.json", record)
        if summary["norm"]:
            Console().print(certificate_table(summary))
    return record
