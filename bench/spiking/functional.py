r"""Functional multi-step LIF neurons over time-major tensors (pure torch, no state in modules).

Layout: every sequence is time-major, ``[T, B, *]``. Stateless layers (conv, linear, BN) run on the
merged batch ``[T*B, *]`` (:func:`merge_time` / :func:`split_time`).

Dynamics of one step, with :math:`H` the Heaviside step and :math:`u_t = v_t - \vartheta`:

.. math::
    v_t &= \lambda\, v_{t-1} + x_t \qquad (\lambda = 1 - 1/\tau;\ \lambda = 1 \text{ is IF}) \\
    s_t &= H(v_t - \vartheta) \qquad \text{(backward: the chosen gradient estimator)} \\
    v_t &\leftarrow v_t (1 - s_t) + v_{\text{reset}}\, s_t \qquad \text{(hard reset)} \\
    v_t &\leftarrow v_t - \vartheta\, s_t \qquad \text{(soft reset)}

``detach_reset`` decides whether the reset path carries gradient (papers differ; it is recorded).
A neuron fires when :math:`u \ge 0` (H(0) = 1), as in SpikingJelly; snnTorch and Norse use
:math:`u > 0`. The two differ only on a set of measure zero.

With ``decay = 0.5`` and ``v_reset = 0`` this is exactly SpikingJelly's
``LIFNode(tau=2, decay_input=False, v_reset=0)``; the tests check spikes and gradients against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor

__all__ = ["LIFParameters", "LIFState", "lif_multistep", "lif_step", "merge_time", "split_time"]

SpikeFn = Callable[[Tensor], Tensor]
"""Maps ``u = v - threshold`` to spikes: Heaviside forward, an estimator's backward."""


@dataclass(frozen=True)
class LIFParameters:
    """Constants of a LIF neuron; every one of them changes results and is recorded.

    Args:
        decay: membrane decay per step, in [0, 1]; 1.0 gives IF, 0.5 is tau = 2.
        threshold: firing threshold, > 0.
        reset: "hard" (to ``v_reset``) or "soft" (subtract the threshold).
        v_reset: potential after a hard reset, and the starting potential. The leak decays v towards 0
            (not towards ``v_reset``), so SpikingJelly's LIFNode matches only for ``v_reset = 0``.
        detach_reset: if True, no gradient flows through the reset.
    """

    decay: float = 0.5
    threshold: float = 1.0
    reset: Literal["hard", "soft"] = "hard"
    v_reset: float = 0.0
    detach_reset: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.decay <= 1.0:
            raise ValueError(f"decay must be in [0, 1] (1.0 is IF), got {self.decay}")
        if not self.threshold > 0.0:  # also refuses NaN
            raise ValueError(f"threshold must be > 0, got {self.threshold}")
        if self.reset not in ("hard", "soft"):
            raise ValueError(f"reset must be one of 'hard', 'soft', got {self.reset!r}")


class LIFState(NamedTuple):
    """Membrane potential ``v``, shaped like one time step of the input ``[B, *]``."""

    v: Tensor


def lif_step(x: Tensor, state: LIFState, p: LIFParameters, spike_fn: SpikeFn) -> tuple[Tensor, LIFState]:
    """One time step: charge, fire, reset.

    Args:
        x: input current of this step, ``[B, *]``.
        state: membrane potential before the step.
        p: neuron constants.
        spike_fn: Heaviside with the estimator's backward, applied to ``v - threshold``.

    Returns:
        Spikes ``[B, *]`` and the state after reset.
    """
    v = p.decay * state.v + x  # charge
    s = spike_fn(v - p.threshold)  # fire
    s_reset = s.detach() if p.detach_reset else s
    if p.reset == "hard":
        v = v * (1.0 - s_reset) + p.v_reset * s_reset
    else:
        v = v - p.threshold * s_reset
    return s, LIFState(v)


def lif_multistep(
    x_seq: Tensor, p: LIFParameters, spike_fn: SpikeFn, state: LIFState | None = None
) -> tuple[Tensor, LIFState]:
    """Run :func:`lif_step` over the leading time axis.

    Args:
        x_seq: input currents ``[T, B, *]``.
        p: neuron constants.
        spike_fn: see :func:`lif_step`.
        state: initial state; ``None`` starts at rest (``v = v_reset``).

    Returns:
        Spikes ``[T, B, *]`` and the final state.

    >>> p = LIFParameters(decay=0.5, threshold=1.0)
    >>> s, state = lif_multistep(torch.full((4, 1), 0.6), p, lambda u: (u >= 0).float())
    >>> s.flatten().tolist(), round(state.v.item(), 2)
    ([0.0, 0.0, 1.0, 0.0], 0.6)
    """
    if state is None:
        state = LIFState(torch.full_like(x_seq[0], p.v_reset))
    spikes = []
    for x in x_seq:
        s, state = lif_step(x, state, p, spike_fn)
        spikes.append(s)
    return torch.stack(spikes), state


def merge_time(x_seq: Tensor) -> Tensor:
    """``[T, B, *]`` -> ``[T*B, *]`` so that stateless layers see one big batch."""
    return x_seq.flatten(0, 1)


def split_time(x: Tensor, timesteps: int) -> Tensor:
    """``[T*B, *]`` -> ``[T, B, *]``, the inverse of :func:`merge_time`."""
    return x.unflatten(0, (timesteps, -1))
