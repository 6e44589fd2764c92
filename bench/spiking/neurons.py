"""Neuron modules: thin stateful-looking shells over :mod:`bench.spiking.functional`.

``LIF.forward`` takes a whole sequence ``[T, B, *]`` and starts at rest on every call, so nothing
leaks between batches or between an attack's queries; ``step`` serves streaming use with explicit state.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from torch import Tensor, nn

from bench.spiking import estimators
from bench.spiking.functional import LIFParameters, LIFState, lif_multistep, lif_step

__all__ = ["LIF"]


class LIF(nn.Module):
    """Multi-step leaky integrate-and-fire neurons (IF with ``decay=1``).

    Args:
        decay, threshold, reset, v_reset, detach_reset: see :class:`~bench.spiking.functional.LIFParameters`.
        estimator: a built :class:`~bench.spiking.estimators.Estimator` or a registered name.
        estimator_params: parameters for a named estimator.

    >>> import torch
    >>> lif = LIF(decay=0.5, estimator="triangle", estimator_params={"gamma": 1.0})
    >>> lif
    LIF(
      decay=0.5, threshold=1.0, reset=hard, v_reset=0.0, detach_reset=False
      (estimator): Triangle(gamma=1.0)
    )
    >>> lif(torch.full((3, 2), 1.2)).tolist()
    [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
    """

    def __init__(
        self,
        decay: float = 0.5,
        threshold: float = 1.0,
        reset: Literal["hard", "soft"] = "hard",
        v_reset: float = 0.0,
        detach_reset: bool = False,
        estimator: estimators.Estimator | str = "atan",
        estimator_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.p = LIFParameters(decay, threshold, reset, v_reset, detach_reset)
        self.estimator = estimators.build(estimator, **(estimator_params or {}))

    @classmethod
    def from_parameters(cls, p: LIFParameters, estimator: estimators.Estimator) -> LIF:
        """Build from a :class:`LIFParameters` and a built estimator."""
        return cls(**asdict(p), estimator=estimator)

    def forward(self, x_seq: Tensor) -> Tensor:
        """Spikes ``[T, B, *]`` for input currents ``[T, B, *]``, starting at rest."""
        spikes, _ = lif_multistep(x_seq, self.p, self.estimator)
        return spikes

    def step(self, x: Tensor, state: LIFState) -> tuple[Tensor, LIFState]:
        """One time step ``[B, *]`` with explicit state (see :func:`~bench.spiking.functional.lif_step`)."""
        return lif_step(x, state, self.p, self.estimator)

    def extra_repr(self) -> str:
        p = self.p
        return (f"decay={p.decay}, threshold={p.threshold}, reset={p.reset}, v_reset={p.v_reset}, "
                f"detach_reset={p.detach_reset}")
