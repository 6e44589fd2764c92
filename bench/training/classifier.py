"""SpikingClassifier: encoder -> spiking network (with its gradient estimator) -> time-mean readout.

Every argument is a plain value from the YAML config, so a checkpoint rebuilds its model by itself
(``SpikingClassifier.load_from_checkpoint(path)``) and every constant that changes results is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal

import lightning as L
import torch
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from bench import __version__
from bench.models import NeuronFactory, build_model
from bench.spiking import LIF, LIFParameters, encoders
from bench.spiking.random import derive_seed
from bench.training.adversarial import AdversarialTraining, parseval_retraction
from bench.training.losses import mean_ce, tet
from bench.training.monitors import SpikeStatistics

__all__ = ["CHECKPOINT_FORMAT", "SpikingClassifier"]

CHECKPOINT_FORMAT = 1  # bump when a checkpoint's contents change incompatibly

# Hyper-parameters that define the network; a checkpoint must agree on them to be resumed or loaded.
MODEL_KEYS = ("arch", "arch_params", "num_classes", "input_shape", "encoder", "encoder_params", "timesteps",
              "decay", "threshold", "reset", "v_reset", "detach_reset", "estimator", "estimator_params")


class SpikingClassifier(L.LightningModule):
    """Trains a spiking network on images; ``forward(x [B, *]) -> logits [B, C]`` (mean over T).

    Args:
        arch: registered model name (``bench.models.available_models()``) or "package.module:builder".
        arch_params: extra builder arguments (widths, depths).
        num_classes: output classes (linked from the data module by the CLI).
        input_shape: (C, H, W) of one image (linked from the data module by the CLI).
        encoder: "rate" or "direct" (``bench.spiking.encoders``) or an import path.
        encoder_params: extra encoder arguments, e.g. ``{mean: [...], std: [...]}`` for direct coding.
        timesteps: simulation steps T.
        decay: LIF membrane decay in [0, 1] (1 = IF).
        threshold: firing threshold (> 0).
        reset: "hard" or "soft".
        v_reset: potential after a hard reset.
        detach_reset: stop gradients through the reset.
        estimator: gradient estimator name (``bench.spiking.estimators.available()``) or import path.
        estimator_params: its parameters, e.g. ``{alpha: 2.0}`` or ``{delta: 0.5, samples: 5}``.
        loss: "mean_ce" (CE of time-mean logits) or "tet" (Deng et al. 2022).
        tet_lambda: weight of TET's MSE term.
        optimizer: "adam" or "sgd".
        lr: learning rate.
        weight_decay: L2 penalty.
        momentum: SGD momentum.
        scheduler: "cosine" (annealed over max_epochs) or "none".
        adversarial: train on adversarial inputs, e.g. ``{attack: pgd, eps: 8/255, steps: 4, step_size: 0.25,
            gradient_mode: own}`` (see :class:`~bench.training.adversarial.AdversarialTraining`).
        parseval_beta: SNN-RAT's orthogonal retraction strength after each step (0 = off; SNN-RAT uses 5e-4).
        seed: seed of the encoder's and estimators' random streams (the CLI links it to ``seed_everything``).
    """

    def __init__(
        self,
        arch: str = "mlp",
        arch_params: dict[str, Any] | None = None,
        num_classes: int = 10,
        input_shape: Sequence[int] = (1, 28, 28),
        encoder: str = "rate",
        encoder_params: dict[str, Any] | None = None,
        timesteps: int = 4,
        decay: float = 0.5,
        threshold: float = 1.0,
        reset: Literal["hard", "soft"] = "hard",
        v_reset: float = 0.0,
        detach_reset: bool = False,
        estimator: str = "atan",
        estimator_params: dict[str, Any] | None = None,
        loss: Literal["mean_ce", "tet"] = "mean_ce",
        tet_lambda: float = 0.05,
        optimizer: Literal["adam", "sgd"] = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        scheduler: Literal["cosine", "none"] = "cosine",
        adversarial: dict[str, Any] | None = None,
        parseval_beta: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if loss not in ("mean_ce", "tet"):
            raise ValueError(f"unknown loss {loss!r}; choose one of mean_ce, tet")
        self.adversary = AdversarialTraining.from_config(adversarial)
        encoder_class = encoders.encoder_class(encoder)
        extra = {"seed": derive_seed(seed, "encoder")} if encoder_class.stochastic else {}
        self.encoder = encoder_class(timesteps=timesteps, **(encoder_params or {}), **extra)
        neuron = NeuronFactory(
            LIFParameters(decay, threshold, reset, v_reset, detach_reset), estimator, estimator_params,
            seed=derive_seed(seed, "neurons"),
        )
        self.network = build_model(arch, num_classes=num_classes, input_shape=tuple(input_shape), neuron=neuron,
                                   **(arch_params or {}))

        self.neurons = {name: m for name, m in self.network.named_modules() if isinstance(m, LIF)}
        self.spike_statistics = SpikeStatistics(self.neurons)
        self.train_summary: dict[str, Any] = {}  # the last finished training epoch's statistics (checkpointed)
        # Keys end in "_" because a ModuleDict key "train" would shadow nn.Module.train.
        self.accuracy = nn.ModuleDict({split: MulticlassAccuracy(num_classes, average="micro")
                                       for split in ("train_", "val_", "test_")})

    # -- the model -------------------------------------------------------------------------------

    def forward_steps(self, x: Tensor) -> Tensor:
        """Per-step logits ``[T, B, C]`` for images ``x`` ``[B, *]``."""
        return self.network(self.encoder(x))

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, C]``: the readout averaged over time."""
        return self.forward_steps(x).mean(0)

    def loss_fn(self, logits_seq: Tensor, y: Tensor) -> Tensor:
        if self.hparams.loss == "tet":
            return tet(logits_seq, y, lamb=self.hparams.tet_lambda)
        return mean_ce(logits_seq, y)

    # -- steps -----------------------------------------------------------------------------------

    def _shared_step(self, batch: tuple[Tensor, Tensor], split: str) -> Tensor:
        x, y = batch
        logits_seq = self.forward_steps(x)
        loss = self.loss_fn(logits_seq, y)
        self.accuracy[split + "_"](logits_seq.mean(0), y)
        on_step = split == "train"
        self.log(f"{split}/loss", loss, on_step=on_step, on_epoch=True, prog_bar=True, sync_dist=True)
        self.log(f"{split}/acc", self.accuracy[split + "_"], on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        if self.adversary is not None:
            x, y = batch
            batch = (self.adversary(self, x, y), y)
            self.spike_statistics.discard_gradient_counts()  # crafting's backward passes are not training's
        return self._shared_step(batch, "train")

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.hparams.parseval_beta:
            parseval_retraction(self.network, self.hparams.parseval_beta)

    def on_after_backward(self) -> None:
        self.spike_statistics.count_gradients()

    def on_train_epoch_end(self) -> None:
        self.train_summary = self.spike_statistics.summary()
        logged = {f"train/firing_rate/{k}": v for k, v in self.train_summary["firing_rates"].items()}
        logged |= {f"train/grad_sparsity/{k}": v for k, v in self.train_summary["grad_sparsity_per_layer"].items()}
        if self.train_summary["grad_sparsity"] is not None:
            logged["train/grad_sparsity"] = self.train_summary["grad_sparsity"]
        self.log_dict(logged, sync_dist=True)

    def on_validation_epoch_start(self) -> None:
        self.encoder.restart_eval_stream()

    def on_test_epoch_start(self) -> None:
        self.encoder.restart_eval_stream()

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        if hp.optimizer == "sgd":
            opt = torch.optim.SGD(self.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
        else:
            opt = torch.optim.Adam(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.scheduler == "none":
            return {"optimizer": opt}
        epochs = max(1, self.trainer.max_epochs or 1)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)}

    # -- records ---------------------------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["spikebench"] = {"version": __version__, "format": CHECKPOINT_FORMAT}
        checkpoint["train_summary"] = self.train_summary
        datamodule = self._trainer.datamodule if self._trainer is not None else None
        if datamodule is not None:  # so that `spikebench evaluate --ckpt` finds the same data again
            cls = type(datamodule)
            checkpoint["datamodule"] = {"class_path": f"{cls.__module__}:{cls.__qualname__}",
                                        "init_args": _plain(dict(datamodule.hparams))}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.train_summary = checkpoint.get("train_summary", {})
        saved = checkpoint.get("hyper_parameters", {})
        differ = [k for k in MODEL_KEYS if k in saved and _plain(saved[k]) != _plain(self.hparams[k])]
        if differ:
            detail = ", ".join(f"{k}: checkpoint {saved[k]!r} vs config {self.hparams[k]!r}" for k in differ)
            raise ValueError(f"checkpoint was trained with a different model ({detail})")

    def describe(self) -> dict[str, Any]:
        """Everything about the model that changes results, for the result JSON."""
        hp = self.hparams
        first = next(iter(self.neurons.values()))
        return {
            "arch": hp.arch,
            "arch_params": dict(hp.arch_params or {}),
            "parameters": sum(p.numel() for p in self.parameters()),
            "encoder": {"name": hp.encoder, "params": dict(hp.encoder_params or {}),
                        "stochastic": self.encoder.stochastic},
            "timesteps": hp.timesteps,
            "neuron": {"model": "LIF", **asdict(first.p)},
            "estimator": first.estimator.describe(),
            "loss": hp.loss,
            "training": {"adversarial": asdict(self.adversary) if self.adversary else None,
                         "parseval_beta": hp.parseval_beta},
            "seed": hp.seed,
        }


def _plain(value: Any) -> Any:
    """Tuples and lists compare equal (YAML gives lists, code gives tuples)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
