r"""LocalZO: a local zeroth-order estimate of the spike function's derivative.

Mukhoty et al., "Direct Training of SNN using Local Zeroth Order Method", NeurIPS 2023
(arXiv:2302.00910). With :math:`z_i \sim \lambda` i.i.d. (symmetric, unit variance), :math:`i = 1..m`:

.. math::
    G(u) = \frac{1}{m} \sum_{i=1}^{m} \frac{H(u + \delta z_i) - H(u - \delta z_i)}{2\delta} z_i
         = \frac{1}{m} \sum_{i=1}^{m} \frac{|z_i|\, \mathbb{1}\{|u| < \delta |z_i|\}}{2\delta},
    \qquad
    \mathbb{E}[G(u)] = \frac{1}{\delta} \int_{|u|/\delta}^{\infty} z\, \lambda(z)\, dz .

The expected estimate has area :math:`\mathbb{E}[z^2] = 1` and peak :math:`\mathbb{E}|z| / (2\delta)`.
G is zero wherever :math:`|u| \ge \delta \max_i |z_i|`: that is the gradient sparsity.

=======  ==================================  ==========================================================
sampler  law of z (unit variance)            E[G(u)]
=======  ==================================  ==========================================================
normal   N(0, 1)                             exp(-u^2 / (2 delta^2)) / (delta sqrt(2 pi))
uniform  U[-sqrt3, sqrt3]                    max(0, 3 - u^2 / delta^2) / (4 sqrt3 delta)
laplace  Laplace(0, 1/sqrt2)                 (|u|/delta + 1/sqrt2) exp(-sqrt2 |u| / delta) / (2 delta)
sigmoid  ~ sig'(cz) (2 sig(cz) - 1) / z      k sig(ku) (1 - sig(ku)),  k = c / delta
=======  ==================================  ==========================================================

For the sigmoid law, :math:`c = 1/\sqrt{I}` with :math:`I = \int \sigma'(w)\tanh(w/2)/w\,dw = 7\zeta(3)/(2\pi^2)
\approx 0.4262784` (the paper truncates it to 0.4262); z is drawn by inverse-CDF lookup, as in the paper's code.
Only :math:`|z|` enters G, so the samplers draw :math:`|z|`.

>>> zo = LocalZO(delta=0.5, samples=5, sampler="normal", seed=0)
>>> zo.expected()
LocalZOExpected(sampler='normal', delta=0.5)
>>> round(zo.peak(), 4), zo.area()
(0.7979, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import torch
from torch import Tensor

from bench.spiking.estimators import Estimator, check_positive, register
from bench.spiking.random import DeviceGenerator, draw_seed

__all__ = ["SAMPLERS", "LocalZO", "LocalZOExpected", "Sampler"]

_APERY = 1.2020569031595942  # zeta(3)
SIGMOID_C = 1.0 / math.sqrt(7.0 * _APERY / (2.0 * math.pi**2))  # c of the sigmoid law, ~1.53163


@dataclass(frozen=True)
class Sampler:
    """What LocalZO needs of one law of z: draws of |z|, the closed-form E[G(u)] and E|z|."""

    draw_abs: Callable[[tuple[int, ...], torch.Generator, torch.device, torch.dtype], Tensor]
    expected: Callable[[Tensor, float], Tensor]  # (u, delta) -> E[G(u)]
    mean_abs: float  # E|z|


def _normal_abs(shape, generator, device, dtype):
    return torch.randn(shape, generator=generator, device=device, dtype=dtype).abs_()


def _uniform_abs(shape, generator, device, dtype):
    return torch.rand(shape, generator=generator, device=device, dtype=dtype).mul_(math.sqrt(3.0))


def _laplace_abs(shape, generator, device, dtype):
    # |Laplace(0, b)| is exponential with rate 1/b; b = 1/sqrt(2) gives unit variance.
    return torch.empty(shape, device=device, dtype=dtype).exponential_(math.sqrt(2.0), generator=generator)


@cache
def _sigmoid_abs_table(device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """(CDF, w) on a grid of w = c|z|; density of w on [0, inf) is proportional to
    sigma'(w) tanh(w/2) / w. Built once in float64 by the trapezoid rule; the tail beyond w = 40
    has mass below 1e-17."""
    w = torch.linspace(0.0, 40.0, 2**16 + 1, dtype=torch.float64)
    s = torch.sigmoid(w)
    density = torch.where(w > 0, s * (1 - s) * torch.tanh(w / 2) / w.clamp(min=1e-300), 0.125)
    cdf = torch.cat([w.new_zeros(1), torch.cumsum((density[1:] + density[:-1]) / 2 * (w[1] - w[0]), 0)])
    return (cdf / cdf[-1]).to(device, dtype), w.to(device, dtype)


def _sigmoid_abs(shape, generator, device, dtype):
    cdf, w = _sigmoid_abs_table(device, dtype)
    p = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    hi = torch.searchsorted(cdf, p).clamp(1, len(cdf) - 1)
    lo = hi - 1
    t = (p - cdf[lo]) / (cdf[hi] - cdf[lo]).clamp(min=torch.finfo(dtype).tiny)
    return (w[lo] + t * (w[hi] - w[lo])) / SIGMOID_C


def _sigmoid_expected(u: Tensor, delta: float) -> Tensor:
    k = SIGMOID_C / delta
    s = torch.sigmoid(k * u)
    return k * s * (1 - s)


SAMPLERS: dict[str, Sampler] = {
    "normal": Sampler(
        _normal_abs,
        lambda u, d: torch.exp(-0.5 * (u / d) ** 2) / (d * math.sqrt(2 * math.pi)),
        math.sqrt(2 / math.pi),
    ),
    "uniform": Sampler(
        _uniform_abs,
        lambda u, d: (3.0 - (u / d) ** 2).clamp(min=0.0) / (4 * math.sqrt(3.0) * d),
        math.sqrt(3.0) / 2,
    ),
    "laplace": Sampler(
        _laplace_abs,
        lambda u, d: (u.abs() / d + 1 / math.sqrt(2)) * torch.exp(-math.sqrt(2) * u.abs() / d) / (2 * d),
        1 / math.sqrt(2),
    ),
    "sigmoid": Sampler(_sigmoid_abs, _sigmoid_expected, SIGMOID_C / 2),
}


def _check(sampler: str, delta: float) -> None:
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown LocalZO sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    check_positive(delta=delta)


@register("localzo")
@dataclass(eq=False, repr=False)
class LocalZO(Estimator):
    """The stochastic LocalZO estimate G(u) (module docstring), m = ``samples`` draws per neuron-step.

    Draws come from a ``torch.Generator`` seeded with ``seed`` (drawn from torch's global generator
    when None), or from ``generator`` if one is given.
    """

    stochastic = True

    delta: float = 0.5
    samples: int = 5
    sampler: str = "normal"
    seed: int | None = field(default=None, repr=False)
    generator: torch.Generator | None = field(default=None, repr=False)

    def validate(self) -> None:
        _check(self.sampler, self.delta)
        if not isinstance(self.samples, int) or self.samples < 1:
            raise ValueError(f"samples (m) must be an integer >= 1, got {self.samples!r}")
        if self.seed is None:
            self.seed = draw_seed()
        self.restart_stream()

    def restart_stream(self) -> None:
        self._stream = DeviceGenerator(self.seed)

    def surrogate(self, u: Tensor) -> Tensor:
        law = SAMPLERS[self.sampler]
        generator = self.generator if self.generator is not None else self._stream.get(u.device)
        z = law.draw_abs((self.samples, *u.shape), generator, u.device, u.dtype)
        return (z * (u.abs() < self.delta * z)).mean(0) / (2.0 * self.delta)

    def expected(self) -> LocalZOExpected:
        """The deterministic estimator E[G(u)] of this configuration."""
        return LocalZOExpected(sampler=self.sampler, delta=self.delta)

    def peak(self) -> float:
        return self.expected().peak()

    def area(self) -> float:
        return 1.0


@register("localzo_expected")
@dataclass(eq=False, repr=False)
class LocalZOExpected(Estimator):
    """The exact expectation E[G(u)] of LocalZO with ``sampler`` and ``delta`` (the table above)."""

    sampler: str = "normal"
    delta: float = 0.5

    def validate(self) -> None:
        _check(self.sampler, self.delta)

    def surrogate(self, u: Tensor) -> Tensor:
        return SAMPLERS[self.sampler].expected(u, self.delta)

    def peak(self) -> float:
        return SAMPLERS[self.sampler].mean_abs / (2.0 * self.delta)

    def area(self) -> float:
        return 1.0
