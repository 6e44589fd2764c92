"""The ``spikebench`` command.

``spikebench fit|validate|test|predict -c CONFIG`` go through LightningCLI: every hyper-parameter lives in
YAML (``--print_config`` shows them all), ``--ckpt_path last`` resumes an interrupted fit. ``fit`` selects
the checkpoint with the best validation accuracy, tests it once and writes a result JSON.
The other commands are typed functions in :data:`COMMANDS`, the only list of them.

Each run lives in ``<trainer.default_root_dir>/seed<seed>/``: ``checkpoints/``, ``config.yaml``, the
logger's files (wandb offline unless you are logged in, or ``--logger csv``) and ``result.json``.
"""

from __future__ import annotations

import logging
import netrc
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import lightning as L
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from rich.console import Console

from bench.results import run_record, write_json_atomic
from bench.training import SpikingClassifier, StepTimer

__all__ = ["COMMANDS", "SpikebenchCLI", "main", "run_dir_of"]

log = logging.getLogger(__name__)


def run_dir_of(config: Any) -> Path:
    """``<trainer.default_root_dir>/seed<seed>``; without a root dir, ``runs/<data>-<arch>-<estimator>``."""
    root = config.trainer.default_root_dir
    if root is None:
        data = str(config.data.class_path).rsplit(".", 1)[-1].lower()
        root = Path("runs") / f"{data}-{config.model.arch}-{config.model.estimator}"
    return Path(root) / f"seed{config.seed_everything}"


def make_logger(kind: str, run_dir: Path) -> Any:
    """The run's logger: wandb (offline unless logged in, or as WANDB_MODE says), csv, or none."""
    if kind == "none":
        return False
    if kind == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=run_dir, name="csv")
    from lightning.pytorch.loggers import WandbLogger

    offline = "WANDB_MODE" not in os.environ and not _wandb_logged_in()
    return WandbLogger(project="spikebench", name=str(run_dir), save_dir=run_dir, offline=offline)


def _wandb_logged_in() -> bool:
    """An API key in the environment or in ~/.netrc (where ``wandb login`` puts it)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


class SpikebenchCLI(LightningCLI):
    """LightningCLI over :class:`SpikingClassifier` and any LightningDataModule (``data.class_path``)."""

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        self._started = time.perf_counter()
        super().__init__(
            SpikingClassifier,
            L.LightningDataModule,
            subclass_mode_data=True,
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},  # a resumed run rewrites its config.yaml
            auto_configure_optimizers=False,  # the optimizer is part of the model's hyper-parameters
            parser_kwargs={"description": "spikebench: fit, validate and test spiking networks. "
                                          f"Other commands: {', '.join(COMMANDS)}."},
            args=args,
            run=run,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
        parser.link_arguments("data.input_shape", "model.input_shape", compute_fn=list, apply_on="instantiate")
        parser.link_arguments("seed_everything", "model.seed")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({
            "checkpoint.monitor": "val/acc",
            "checkpoint.mode": "max",
            "checkpoint.filename": "best-epoch{epoch:03d}",
            "checkpoint.auto_insert_metric_name": False,
        })
        parser.add_lightning_class_args(StepTimer, "step_timer")
        parser.add_argument("--logger", type=Literal["wandb", "csv", "none"], default="wandb",
                            help="Experiment tracker: wandb (offline unless logged in), csv, or none.")
        parser.add_argument("--result_path", type=str | None, default=None,
                            help="Where fit writes its result JSON (default: <run dir>/result.json).")

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        run_dir = run_dir_of(config)
        if config.checkpoint.dirpath is None:
            config.checkpoint.dirpath = str(run_dir / "checkpoints")
        if config.trainer.default_root_dir is None:
            config.trainer.default_root_dir = str(run_dir.parent)
        if config.get("ckpt_path") == "last" and not (Path(config.checkpoint.dirpath) / "last.ckpt").is_file():
            log.info("no checkpoint to resume in %s: starting a fresh run", config.checkpoint.dirpath)
            config.ckpt_path = None
        self._run_dir = run_dir
        self._logger_kind = config.logger

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        config = self.config[self.subcommand] if self.subcommand else self.config
        if config.trainer.logger is None:  # not set in YAML: use --logger
            kwargs["logger"] = make_logger(self._logger_kind, self._run_dir)
        trainer = super().instantiate_trainer(**kwargs)
        # last.ckpt after every validation, for --ckpt_path last. The best-model callback cannot do it: since
        # Lightning 2.6 its save_last only writes when a new best is saved, so a resume would redo epochs.
        # Saved at the end of the training epoch, after validation: it holds the epoch's statistics too.
        trainer.callbacks.append(ModelCheckpoint(dirpath=config.checkpoint.dirpath, filename="last", monitor=None,
                                                 save_top_k=1, enable_version_counter=False,
                                                 save_on_train_epoch_end=True))
        return trainer

    def after_fit(self) -> None:
        """Test the checkpoint selected on validation, once, and write the result JSON."""
        if self.trainer.interrupted or self.trainer.fast_dev_run:  # a smoke run selects and records nothing
            return
        # Training statistics come from the model and the timer, which keep them in checkpoints: a resumed,
        # already finished run reports them without training again.
        summary = self.model.train_summary
        timer = next(cb for cb in self.trainer.callbacks if isinstance(cb, StepTimer))
        (tested,) = self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path="best")
        if self.trainer.is_global_zero:
            self._write_record(tested, summary, timer.mean_ms)
        self._finish_logger()

    def _write_record(self, tested: dict[str, float], summary: dict[str, Any], step_time_ms: float | None) -> None:
        checkpoint = self.trainer.checkpoint_callback
        config = self.config[self.subcommand]
        resolved = yaml.safe_load(self.parser.dump(self.config, skip_none=False))[self.subcommand]
        record = run_record(
            config=resolved,
            seed=config.seed_everything,
            model=self.model.describe(),
            metrics={
                "val_acc": float(checkpoint.best_model_score),
                "test_acc": tested["test/acc"],
                "test_loss": tested["test/loss"],
                "grad_sparsity": summary.get("grad_sparsity"),
                "grad_sparsity_per_layer": summary.get("grad_sparsity_per_layer"),
                "firing_rates": summary.get("firing_rates"),
                "step_time_ms": step_time_ms,
                "epochs": self.trainer.current_epoch,
                "global_step": self.trainer.global_step,
            },
            wall_time_s=time.perf_counter() - self._started,
            data=type(self.datamodule).__name__,
            run_dir=str(self._run_dir),
            checkpoint=checkpoint.best_model_path,
        )
        write_json_atomic(config.result_path or self._run_dir / "result.json", record)

    def _finish_logger(self) -> None:
        # A wandb run stays open after fit; close it so that a second run in this process gets its own.
        from lightning.pytorch.loggers import WandbLogger

        for logger in self.trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.experiment.finish()


def demo_command(args: list[str]) -> None:
    """``spikebench demo [--out_dir DIR] [--epochs N] [--logger wandb|csv|none]``."""
    from jsonargparse import CLI

    from bench.demo import run_demo

    CLI(run_demo, args=args, as_positional=False)


def data_check_command(args: list[str]) -> None:
    """``spikebench data check -c CONFIG``: where the data is, split sizes, class balance, a sample."""
    from bench.data.check import data_report

    cli = SpikebenchCLI(args=args, run=False)  # the same config files and flags as fit
    Console().print(data_report(cli.datamodule))


def evaluate_command(args: list[str]) -> None:
    """``spikebench evaluate --ckpt PATH [--protocol v1] [--quick] [--devices N] ...``."""
    from jsonargparse import CLI

    from bench.robustness.evaluate import evaluate

    # `--quick` alone means true (jsonargparse wants a value for booleans).
    CLI(evaluate, args=[a + "=true" if a == "--quick" else a for a in args], as_positional=False)


def certify_command(args: list[str]) -> None:
    """``spikebench certify --ckpt PATH [--n0 --n --alpha --subset --quick --devices N]``."""
    from jsonargparse import CLI

    from bench.robustness.certification import certify_checkpoint

    CLI(certify_checkpoint, args=[a + "=true" if a == "--quick" else a for a in args], as_positional=False)


# The commands beside fit/validate/test/predict: words -> function of the remaining arguments.
COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "demo": demo_command,
    "data check": data_check_command,
    "evaluate": evaluate_command,
    "certify": certify_command,
}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``spikebench`` console script."""
    args = sys.argv[1:] if argv is None else argv
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger("bench").addHandler(handler)
    logging.getLogger("bench").setLevel(logging.INFO)
    # A deprecation inside Lightning itself (lightning/pytorch/utilities/_pytree.py), not ours to fix.
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    for words, command in COMMANDS.items():
        n = len(words.split())
        if " ".join(args[:n]) == words:
            command(args[n:])
            return
    SpikebenchCLI(args=argv)  # None: LightningCLI reads sys.argv itself


if __name__ == "__main__":
    main()
