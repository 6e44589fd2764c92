"""Models for the robustness tests: trained here, in seconds, on real embedded data."""

from __future__ import annotations

import lightning as L
import pytest

from bench.data import MNIST5k, Synthetic
from bench.training import SpikingClassifier


def train(tmp_path, data, epochs: int, **model_args):
    model = SpikingClassifier(num_classes=data.num_classes, input_shape=list(data.input_shape), seed=0, **model_args)
    trainer = L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path)
    L.seed_everything(0)
    trainer.fit(model, data)
    path = tmp_path / "checkpoints" / "model.ckpt"
    trainer.save_checkpoint(path)
    return model.eval(), path


@pytest.fixture(scope="session")
def rate_mnist(tmp_path_factory):
    """A rate-encoded LIF MLP trained 3 epochs on MNIST-5k (about 90 % test accuracy)."""
    return train(tmp_path_factory.mktemp("rate_mnist"), MNIST5k(batch_size=64), 3, arch="mlp",
                 arch_params={"hidden": [128]}, encoder="rate", timesteps=4, estimator="atan")


@pytest.fixture(scope="session")
def direct_synthetic(tmp_path_factory):
    """A deterministic (direct-encoded) model on synthetic data."""
    return train(tmp_path_factory.mktemp("direct_synthetic"),
                 Synthetic(num_classes=4, input_shape=(1, 6, 6), samples=400, batch_size=50), 2, arch="mlp",
                 arch_params={"hidden": [32]}, encoder="direct", timesteps=3, estimator="triangle")
