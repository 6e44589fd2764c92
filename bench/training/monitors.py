"""Spike statistics of a training epoch: per-layer firing rates and gradient sparsity.

Firing rate = spikes / neuron-steps of a LIF layer in training forward passes. Gradient sparsity =
fraction of neuron-steps whose estimate of H'(u) was exactly 0 (science.md §2), counted by the
estimators themselves in their backward. Both are exact ratios over the epoch, not means of ratios.
"""

from __future__ import annotations

import functools
from typing import Any

from torch import Tensor, nn

from bench.spiking import LIF

__all__ = ["SpikeStatistics"]


class SpikeStatistics:
    """Accumulates the statistics of the LIF layers ``neurons`` (name -> module) until :meth:`summary`."""

    def __init__(self, neurons: dict[str, LIF]) -> None:
        self.neurons = neurons
        self._spikes: dict[str, list] = {}  # name -> [spike count (tensor), neuron-steps (int)]
        self._zeros: dict[str, list] = {}  # name -> [zero estimates (tensor), estimates (int)]
        for name, module in neurons.items():
            module.register_forward_hook(functools.partial(self._count_spikes, name))

    def _count_spikes(self, name: str, module: nn.Module, inputs: Any, spikes: Tensor) -> None:
        if module.training:
            _add(self._spikes, name, spikes.detach().sum(), spikes.numel())

    def count_gradients(self) -> None:
        """Take the counts the estimators made in the last backward pass."""
        for name, module in self.neurons.items():
            counts = module.estimator.pop_gradient_counts()
            if counts is not None:
                _add(self._zeros, name, *counts)

    def discard_gradient_counts(self) -> None:
        """Drop the counts of backward passes that were not training steps (e.g. crafting attacks)."""
        for module in self.neurons.values():
            module.estimator.pop_gradient_counts()

    def summary(self) -> dict[str, Any]:
        """Rates since the last summary (None where nothing ran), then start afresh."""
        rates = {name: float(n / total) for name, (n, total) in self._spikes.items()}
        sparsity = {name: float(n / total) for name, (n, total) in self._zeros.items()}
        zeros = sum(float(n) for n, _ in self._zeros.values())
        total = sum(t for _, t in self._zeros.values())
        self._spikes, self._zeros = {}, {}
        return {"firing_rates": rates, "grad_sparsity": zeros / total if total else None,
                "grad_sparsity_per_layer": sparsity}


def _add(store: dict[str, list], name: str, count: Tensor, total: int) -> None:
    if name in store:
        store[name][0] = store[name][0] + count
        store[name][1] += total
    else:
        store[name] = [count, total]
