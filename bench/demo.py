"""``spikebench demo``: a surrogate gradient against LocalZO on MNIST-5k, side by side.

Both runs are plain ``spikebench fit`` runs of the committed configs (so the demo shows exactly what a user
would run), resumed from their last checkpoint if interrupted; each writes a result JSON. Then each selected
model gets the quick evaluation protocol (``spikebench evaluate --quick``), with transfer attacks crafted on
the other model. Finished work (training, evaluation cells) is reused on a second run.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.cli import SpikebenchCLI
from bench.results import read_json, write_json_atomic

__all__ = ["DEMO_RUNS", "run_demo"]

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
CERTIFIED_RADIUS = 0.05  # an l1 radius of the protocol's grid, shown in the table
DEMO_RUNS: dict[str, list[str]] = {  # result name -> config files, composed in order
    "mnist5k-mlp-rate-atan": ["mnist5k/mlp_rate.yaml", "estimators/atan.yaml"],
    "mnist5k-mlp-rate-localzo": ["mnist5k/mlp_rate.yaml", "estimators/localzo.yaml"],
}


def run_demo(
    out_dir: Path = Path("results/demo"), epochs: int | None = None, logger: str = "wandb", evaluate: bool = True
) -> list[dict]:
    """Train a rate-encoded SNN on MNIST-5k with a surrogate and with LocalZO, evaluate and compare them.

    Args:
        out_dir: where the result JSONs go (one per run, and one per evaluation).
        epochs: override the configs' max_epochs (e.g. 1 for a smoke test).
        logger: wandb, csv or none.
        evaluate: run the quick robustness protocol on both models.

    Returns:
        The training records, in the order of :data:`DEMO_RUNS`.
    """
    from bench.robustness.evaluate import evaluate as evaluate_checkpoint

    # The demo passes its own argument list to LightningCLI on purpose; its warning about sys.argv is noise.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    records = []
    for name, files in DEMO_RUNS.items():
        args = ["fit", *[a for f in files for a in ("-c", str(CONFIGS / f))], f"--logger={logger}",
                f"--result_path={out_dir / f'{name}.json'}", "--ckpt_path=last"]
        if epochs is not None:
            args.append(f"--trainer.max_epochs={epochs}")
        SpikebenchCLI(args=args)
        records.append(read_json(out_dir / f"{name}.json"))
    evaluations: list[dict | None] = [None] * len(records)
    if evaluate:
        for k, (name, record) in enumerate(zip(DEMO_RUNS, records, strict=True)):
            other = records[(k + 1) % len(records)]
            evaluations[k] = evaluate_checkpoint(Path(record["checkpoint"]), quick=True,
                                                 transfer_from=Path(other["checkpoint"]))
            write_json_atomic(out_dir / f"{name}-eval-v1-quick.json", evaluations[k])
    console = Console()
    if not console.is_terminal:  # piped or logged: do not squeeze the table into 80 columns
        console = Console(width=140)
    console.print(comparison_table(records, evaluations))
    return records


def comparison_table(records: list[dict], evaluations: list[dict | None]) -> Table:
    """One row per run: estimator, accuracies, gradient sparsity, step time, worst-case robust accuracy."""
    eps_labels = [label for e in evaluations if e for label in e["metrics"]["worst_case"]]
    eps_labels = list(dict.fromkeys(eps_labels))
    table = Table(title="MNIST-5k, rate-encoded LIF MLP, T=4: surrogate vs LocalZO (model selected on val)",
                  caption="robust: per-point worst case over the quick attack matrix; certified: l1 randomized "
                          "smoothing of the rate encoding (protocol v1-quick)")
    columns = ["estimator", "parameters", "val acc", "test acc", "grad sparsity", "ms/step",
               *(f"robust @{label}" for label in eps_labels), f"certified l1 @{CERTIFIED_RADIUS}", "flags"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("estimator", "parameters", "flags") else "right")
    for record, evaluation in zip(records, evaluations, strict=True):
        est, m = record["model"]["estimator"], record["metrics"]
        robust = evaluation["metrics"]["worst_case"] if evaluation else {}
        flags = ", ".join(f["name"] for f in evaluation["metrics"]["flags"]) if evaluation else ""
        curve = evaluation["metrics"].get("certified", {}).get("certified_accuracy", []) if evaluation else []
        certified = next((f"{c['accuracy']:.3f}" for c in curve if c["radius"] == CERTIFIED_RADIUS), "")
        table.add_row(
            est["name"], " ".join(f"{k}={v}" for k, v in est["params"].items()), f"{m['val_acc']:.3f}",
            f"{m['test_acc']:.3f}", f"{m['grad_sparsity']:.3f}", f"{m['step_time_ms']:.1f}",
            *(f"{robust[label]['robust_accuracy']:.3f}" if label in robust else "" for label in eps_labels),
            certified, flags or ("none" if evaluation else ""),
        )
    return table
