"""The model that attacks see: pixels in [0, 1] -> logits (B, C), with a gradient path of the attack's choosing.

A trained SNN's gradient is whatever its estimator says; an attack must not be limited to that (a model
trained with a zero-derivative step would look robust). The *gradient mode* is fixed at construction and
changes only the backward pass (except ``ann``); every mode sees the same weights:

- ``own``: BPTT with the model's own estimator (LocalZO stays stochastic).
- ``surrogate:<name>``: BPTT with a registered estimator at its default parameters instead, e.g.
  ``surrogate:atan`` (alpha 2) or ``surrogate:triangle`` (gamma 1), the reference surrogates.
- ``bptr``: backprop through rate (SNN-RAT, Ding et al. NeurIPS 2022): spikes forward; backward passes the
  incoming gradient wherever the neuron fired at least once in the T steps.
- ``ann``: the ANN twin: every LIF becomes a ReLU of its input current, the encoder is skipped (raw
  intensities for rate coding, normalized input for direct coding), one step.

The rate encoder keeps its straight-through backward in every mode; attacks average gradients over encoder
draws (EOT) themselves. Each call starts the neurons at rest, so queries never leak state into each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from bench.spiking import LIF, estimators
from bench.spiking.encoders import DirectEncoder, RateEncoder
from bench.spiking.functional import lif_multistep

__all__ = ["GRADIENT_MODES", "AttackableSNN", "check_gradient_mode"]

GRADIENT_MODES = ("own", "surrogate:<estimator>", "bptr", "ann")


def check_gradient_mode(mode: str) -> str | None:
    """Validate ``mode``; returns the surrogate's name for ``surrogate:<name>``, else None."""
    if mode in ("own", "bptr", "ann"):
        return None
    kind, _, name = mode.partition(":")
    if kind == "surrogate" and name in estimators.available():
        return name
    raise ValueError(
        f"unknown gradient mode {mode!r}; choose one of own, bptr, ann, or surrogate:<name> with <name> in "
        f"{', '.join(estimators.available())}"
    )


def restart_streams(model: nn.Module) -> None:
    """Restart a classifier's encoder eval draws and its estimators' draws: a repeated evaluation repeats."""
    model.encoder.restart_eval_stream()
    for module in model.network.modules():
        if isinstance(module, LIF):
            module.estimator.restart_stream()


class _RateBackprop(torch.autograd.Function):
    """LIF spikes forward; backward ``grad * 1{neuron fired at least once}`` at every step (BPTR)."""

    @staticmethod
    def forward(x_seq: Tensor, lif: LIF) -> Tensor:
        spikes, _ = lif_multistep(x_seq, lif.p, lambda u: (u >= 0).to(u.dtype))
        return spikes

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, spikes: Tensor) -> None:
        ctx.save_for_backward((spikes.sum(0, keepdim=True) > 0).to(spikes.dtype))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (fired,) = ctx.saved_tensors
        return grad * fired, None


class _BPTR(nn.Module):
    def __init__(self, lif: LIF) -> None:
        super().__init__()
        self.lif = lif

    def forward(self, x_seq: Tensor) -> Tensor:
        return _RateBackprop.apply(x_seq, self.lif)


@contextmanager
def _swapped_neurons(network: nn.Module, make: Callable[[LIF], nn.Module]) -> Iterator[None]:
    """Replace every LIF in ``network`` by ``make(lif)`` inside the block, then put them back."""
    swaps = []
    for name, module in list(network.named_modules()):
        if isinstance(module, LIF):
            parent_name, _, attr = name.rpartition(".")
            parent = network.get_submodule(parent_name)
            swaps.append((parent, attr, module))
            setattr(parent, attr, make(module))
    try:
        yield
    finally:
        for parent, attr, module in swaps:
            setattr(parent, attr, module)


class AttackableSNN(nn.Module):
    """A trained :class:`~bench.training.SpikingClassifier` as attacks need it.

    Args:
        model: the classifier (its weights are shared, not copied).
        gradient_mode: see the module docstring.

    ``forward(x [B, *] in [0, 1]) -> logits [B, C]`` (time-mean readout).
    """

    def __init__(self, model: nn.Module, gradient_mode: str = "own") -> None:
        super().__init__()
        surrogate = check_gradient_mode(gradient_mode)
        if gradient_mode == "ann" and not isinstance(model.encoder, (RateEncoder, DirectEncoder)):
            raise ValueError(
                f"gradient mode 'ann' needs an image encoder (rate or direct); this model's encoder is "
                f"{type(model.encoder).__name__}: use own, bptr or surrogate:<name>"
            )
        if not any(isinstance(m, LIF) for m in model.network.modules()):
            raise ValueError("the model has no LIF layers: gradient modes would not change anything")
        self.model = model
        self.gradient_mode = gradient_mode
        self._surrogate = estimators.build(surrogate) if surrogate else None
        # Mirror the model's mode: torchattacks puts the attacked module back into the mode it found, and a
        # fresh nn.Module says "training", which would leave the model in training mode after an attack.
        self.train(model.training)

    @property
    def stochastic(self) -> bool:
        """True when the forward pass itself is random (rate encoding): attacks need EOT."""
        return bool(self.model.encoder.stochastic)

    def restart_streams(self) -> None:
        """See :func:`restart_streams`."""
        restart_streams(self.model)

    def _replacement(self) -> Callable[[LIF], nn.Module] | None:
        if self.gradient_mode == "ann":
            return lambda lif: nn.ReLU()
        if self.gradient_mode == "bptr":
            return _BPTR
        if self._surrogate is not None:
            return lambda lif: LIF.from_parameters(lif.p, self._surrogate)
        return None

    def _encode(self, x: Tensor) -> Tensor:
        if self.gradient_mode != "ann":
            return self.model.encoder(x)
        if isinstance(self.model.encoder, RateEncoder):
            return x.unsqueeze(0)  # the intensities the spikes estimate
        return self.model.encoder(x)[:1]  # normalized input, one step

    def forward(self, x: Tensor) -> Tensor:
        make = self._replacement()
        if make is None:
            return self.model.network(self._encode(x)).mean(0)
        with _swapped_neurons(self.model.network, make):
            return self.model.network(self._encode(x)).mean(0)

    def extra_repr(self) -> str:
        return f"gradient_mode={self.gradient_mode!r}"
