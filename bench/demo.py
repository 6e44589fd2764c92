"""``spikebench demo``: a surrogate gradient against LocalZO on MNIST-5k, side by side.

Both runs are plain ``spikebench fit`` runs of the committed configs (so the demo shows exactly what a user
would run), resumed from their last checkpoint if interrupted; each writes a result JSON.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.cli import SpikebenchCLI
from bench.results import read_json

__all__ = ["DEMO_RUNS", "run_demo"]

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
DEMO_RUNS: dict[str, list[str]] = {  # result name -> config files, composed in order
    "mnist5k-mlp-rate-atan": ["mnist5k/mlp_rate.yaml", "estimators/atan.yaml"],
    "mnist5k-mlp-rate-localzo": ["mnist5k/mlp_rate.yaml", "estimators/localzo.yaml"],
}


def run_demo(out_dir: Path = Path("results/demo"), epochs: int | None = None, logger: str = "wandb") -> list[dict]:
    """Train a rate-encoded SNN on MNIST-5k with a surrogate and with LocalZO, and compare them.

    Args:
        out_dir: where the result JSONs go (one per run).
        epochs: override the configs' max_epochs (e.g. 1 for a smoke test).
        logger: wandb, csv or none.

    Returns:
        The result records, in the order of :data:`DEMO_RUNS`.
    """
    records = []
    # The demo passes its own argument list to LightningCLI on purpose; its warning about sys.argv is noise.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    for name, files in DEMO_RUNS.items():
        args = ["fit", *[a for f in files for a in ("-c", str(CONFIGS / f))], f"--logger={logger}",
                f"--result_path={out_dir / f'{name}.json'}", "--ckpt_path=last"]
        if epochs is not None:
            args.append(f"--trainer.max_epochs={epochs}")
        SpikebenchCLI(args=args)
        records.append(read_json(out_dir / f"{name}.json"))
    console = Console()
    if not console.is_terminal:  # piped or logged: do not squeeze the table into 80 columns
        console = Console(width=120)
    console.print(comparison_table(records))
    return records


def comparison_table(records: list[dict]) -> Table:
    """One row per run: estimator, accuracies, gradient sparsity, step time."""
    table = Table(title="MNIST-5k, rate-encoded LIF MLP, T=4: surrogate vs LocalZO (model selected on val)")
    for column in ("estimator", "parameters", "val acc", "test acc", "grad sparsity", "ms/step", "epochs"):
        table.add_column(column, justify="left" if column in ("estimator", "parameters") else "right")
    for record in records:
        est, m = record["model"]["estimator"], record["metrics"]
        table.add_row(
            est["name"], " ".join(f"{k}={v}" for k, v in est["params"].items()), f"{m['val_acc']:.3f}",
            f"{m['test_acc']:.3f}", f"{m['grad_sparsity']:.3f}", f"{m['step_time_ms']:.1f}", str(m["epochs"]),
        )
    return table
