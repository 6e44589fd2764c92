"""Fixtures shared by the spiking-core tests (pure torch; reference libraries are imported per module).

Helpers are handed out as fixtures, not imported, because several test folders have a ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor


def _heaviside(u: Tensor) -> Tensor:
    return (u >= 0).to(u.dtype)


def _spikes_and_grad(fn: Callable[[Tensor], Tensor], u: Tensor, weight: Tensor | None = None):
    u = u.detach().clone().requires_grad_(True)
    out = fn(u)
    loss = out.sum() if weight is None else (out * weight).sum()
    (grad,) = torch.autograd.grad(loss, u)
    return out.detach(), grad


@pytest.fixture
def heaviside() -> Callable[[Tensor], Tensor]:
    """H(u) with H(0) = 1 and no gradient of its own: the plain spike function of science.md §1."""
    return _heaviside


@pytest.fixture
def spikes_and_grad():
    """``f(fn, u, weight=None)`` -> (``fn(u)``, d/du of ``(fn(u) * weight).sum()``; weight 1 if None)."""
    return _spikes_and_grad
