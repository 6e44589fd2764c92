"""Training: the SpikingClassifier LightningModule, its losses and callbacks."""

from bench.training.callbacks import StepTimer
from bench.training.classifier import SpikingClassifier
from bench.training.losses import mean_ce, tet

__all__ = ["SpikingClassifier", "StepTimer", "mean_ce", "tet"]
