"""Spiking architectures behind one registry: ``build_model(name, **kwargs)`` (timm's ``create_model``).

Every registered builder takes ``num_classes``, ``input_shape`` (C, H, W) and ``neuron`` (a
:class:`~bench.models.layers.NeuronFactory`) plus its own width/depth options, and returns a
:class:`~bench.models.layers.SpikingNetwork` mapping ``[T, B, C, H, W]`` to logits ``[T, B, classes]``.

>>> sorted(available_models())
['cnn', 'mlp', 'resnet19', 'vgg11']
"""

from __future__ import annotations

from bench.models.layers import NeuronFactory, SpikingNetwork, TimeDistributed
from bench.models.registry import available_models, build_model, models, register_model

# Importing the families registers their builders.
from bench.models import cnn, mlp, resnet, vgg  # noqa: F401  isort: skip

__all__ = [
    "NeuronFactory",
    "SpikingNetwork",
    "TimeDistributed",
    "available_models",
    "build_model",
    "models",
    "register_model",
]
