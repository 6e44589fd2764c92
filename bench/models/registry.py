"""The model registry (kept apart from ``__init__`` so that families can import it)."""

from __future__ import annotations

from typing import Any

from torch import nn

from bench.registry import Registry

__all__ = ["available_models", "build_model", "models", "register_model"]

models: Registry = Registry("model")
register_model = models.register()
"""Decorator registering a builder under its function name (the name users type is the code's name)."""


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the model ``name``; ``None`` values keep the builder's defaults (as in timm)."""
    return models.build(name, **{k: v for k, v in kwargs.items() if v is not None})


def available_models() -> list[str]:
    """Names of the registered architectures, sorted."""
    return models.available()
