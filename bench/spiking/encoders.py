r"""Encoders: images ``[B, *]`` to time-major inputs ``[T, B, *]``.

- ``direct``: the (optionally normalized) image repeated T times; the first layer sees real values.
- ``frames``: inputs that are already time series ``[B, T, *]`` (binned DVS events: the binning is the
  encoding), moved to time-major floats.
- ``rate``: :math:`s_{t,i} \sim \text{Bernoulli}(x_i)` i.i.d. over t, for :math:`x \in [0, 1]` (no mean/std
  normalization before encoding). The backward is the straight-through mean over time,

  .. math:: \frac{\partial L}{\partial x} = \frac{1}{T} \sum_{t=1}^{T} \frac{\partial L}{\partial s_t},

  without which attacks would see no gradient at all.

Each function has a module twin in the ``encoders`` registry; ``stochastic`` tells the robustness code
when to average over draws (EOT).

>>> x = torch.tensor([[0.0, 1.0]])
>>> rate_encode(x, timesteps=3).squeeze(1).tolist()
[[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]
>>> rate_encode(torch.tensor([1.5]), timesteps=2)
Traceback (most recent call last):
...
ValueError: rate encoding needs intensities in [0, 1], got [1.5, 1.5]; do not normalize before rate encoding
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from bench.registry import Registry
from bench.spiking.random import DeviceGenerator, derive_seed, draw_seed

__all__ = [
    "DirectEncoder",
    "Encoder",
    "FrameEncoder",
    "RateEncoder",
    "available",
    "build",
    "direct_encode",
    "encoder_class",
    "rate_encode",
    "register",
]

_REGISTRY: Registry[type[Encoder]] = Registry("encoder")
register = _REGISTRY.register
"""Class decorator adding an :class:`Encoder` under a name."""


def build(name: str, **params: Any) -> Encoder:
    """Build the encoder ``name`` (registered, or ``"package.module:Class"``) with ``params``."""
    return _REGISTRY.build(name, **params)


def available() -> list[str]:
    """Names of the registered encoders, sorted."""
    return _REGISTRY.available()


def encoder_class(name: str) -> type[Encoder]:
    """The class behind ``name``, without building it."""
    return _REGISTRY.get(name)


class _RateEncode(torch.autograd.Function):
    @staticmethod
    def forward(x: Tensor, timesteps: int, generator: torch.Generator | None) -> Tensor:
        # Draw sample-major ([B, T, *]) so that sample b's spikes do not depend on how many samples share the
        # batch: certification counts then do not change with the batch size (CPU generators fill in order).
        draws = torch.rand((x.shape[0], timesteps, *x.shape[1:]), generator=generator, device=x.device,
                           dtype=x.dtype).transpose(0, 1)
        return (draws < x).to(x.dtype)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return grad.mean(0), None, None


def rate_encode(x: Tensor, timesteps: int, generator: torch.Generator | None = None) -> Tensor:
    """Bernoulli spikes ``[T, B, *]`` with firing probability ``x`` ``[B, *]``; straight-through backward."""
    _check_timesteps(timesteps)
    low, high = x.min().item(), x.max().item()
    if not (low >= 0.0 and high <= 1.0):  # also catches NaN
        raise ValueError(
            f"rate encoding needs intensities in [0, 1], got [{low:g}, {high:g}]; "
            "do not normalize before rate encoding"
        )
    return _RateEncode.apply(x, timesteps, generator)


def direct_encode(x: Tensor, timesteps: int) -> Tensor:
    """The input ``[B, *]`` repeated over time: ``[T, B, *]`` (a view, no copy)."""
    _check_timesteps(timesteps)
    return x.unsqueeze(0).expand(timesteps, *x.shape)


def _check_timesteps(timesteps: int) -> None:
    if timesteps < 1:
        raise ValueError(f"timesteps (T) must be >= 1, got {timesteps}")


class Encoder(nn.Module):
    """Base of the encoder modules: ``forward(x [B, *]) -> [T, B, *]``."""

    def restart_eval_stream(self) -> None:
        """Restart the draws used in eval mode, so that evaluating a model twice gives the same numbers."""

    stochastic: ClassVar[bool] = False

    def __init__(self, timesteps: int) -> None:
        super().__init__()
        _check_timesteps(timesteps)
        self.timesteps = timesteps

    def extra_repr(self) -> str:
        return f"timesteps={self.timesteps}"


@register("direct")
class DirectEncoder(Encoder):
    """Repeat the input T times, after optional per-channel normalization ``(x - mean) / std``."""

    def __init__(
        self, timesteps: int, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
    ) -> None:
        super().__init__(timesteps)
        if (mean is None) != (std is None):
            raise ValueError("direct encoder: give both mean and std, or neither")
        self.normalize = mean is not None
        if self.normalize:
            # Constants of the protocol, kept as buffers so they move with the model and are saved.
            self.register_buffer("mean", torch.tensor(mean).view(-1, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(std).view(-1, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.normalize:
            x = (x - self.mean) / self.std
        return direct_encode(x, self.timesteps)


@register("frames")
class FrameEncoder(Encoder):
    """Pre-binned frames ``[B, T, *]`` -> ``[T, B, *]`` floats; T must match ``timesteps``."""

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 3 or x.shape[1] != self.timesteps:
            raise ValueError(
                f"frames encoder expects input [B, T={self.timesteps}, ...], got shape {tuple(x.shape)}; "
                "set the data's and the model's timesteps to the same value"
            )
        return x.transpose(0, 1).float()


@register("rate")
class RateEncoder(Encoder):
    """Bernoulli rate coding (:func:`rate_encode`), seeded: same seed, same spike trains.

    Training mode and eval mode draw from two streams, so validating never shifts the training draws,
    and :meth:`restart_eval_stream` makes an evaluation repeatable.
    """

    stochastic = True

    def __init__(self, timesteps: int, seed: int | None = None) -> None:
        super().__init__(timesteps)
        self.seed = draw_seed() if seed is None else seed
        self._train_stream = DeviceGenerator(self.seed)
        self.restart_eval_stream()

    def restart_eval_stream(self) -> None:
        self._eval_stream = DeviceGenerator(derive_seed(self.seed, "eval"))

    def forward(self, x: Tensor) -> Tensor:
        stream = self._train_stream if self.training else self._eval_stream
        return rate_encode(x, self.timesteps, stream.get(x.device))

    def extra_repr(self) -> str:
        return f"timesteps={self.timesteps}, seed={self.seed}"
