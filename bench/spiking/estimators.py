r"""Gradient estimators for the spike function: Heaviside forward, estimated derivative backward.

Every estimator is a small ``nn.Module`` whose call ``fn(u)`` returns :math:`H(u)` (``u >= 0`` fires,
``u = v - threshold``) and whose backward multiplies the incoming gradient by ``fn.surrogate(u)``, its
estimate of :math:`H'(u)`. Each reports the ``peak()`` and ``area()`` (integral over u) of its expected
backward, because library defaults differ in both and comparisons must fix them.

The registry has three functions: :func:`register`, :func:`build` and :func:`available`.
``build`` also takes ``"package.module:Class"``, so a user's estimator plugs in from YAML:

>>> fn = build("atan", alpha=2.0)
>>> fn
ATan(alpha=2.0)
>>> u = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
>>> fn(u).tolist()
[0.0, 1.0, 1.0]
>>> fn(u).sum().backward(); [round(g, 4) for g in u.grad.tolist()]
[0.2884, 1.0, 0.2884]
>>> fn.peak(), fn.area()
(1.0, 1.0)

Writing your own: subclass :class:`Estimator` as a dataclass, implement ``surrogate``, ``peak`` and
``area``, and register it (or name it by import path). See README.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from bench.registry import Registry

__all__ = [
    "STE",
    "ATan",
    "Estimator",
    "FastSigmoid",
    "Gaussian",
    "Heaviside",
    "Rectangle",
    "Sigmoid",
    "Triangle",
    "available",
    "build",
    "register",
]

_REGISTRY: Registry[type[Estimator]] = Registry("estimator")


class _SpikeFunction(torch.autograd.Function):
    """Heaviside forward; backward ``grad * estimator.surrogate(u)``."""

    @staticmethod
    def forward(u: Tensor, estimator: Estimator) -> Tensor:
        return (u >= 0).to(u.dtype)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor, Estimator], output: Tensor) -> None:
        u, estimator = inputs
        ctx.save_for_backward(u)
        ctx.estimator = estimator

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None
        (u,) = ctx.saved_tensors
        g = ctx.estimator.surrogate(u)
        ctx.estimator.record(g)
        return grad * g, None


class Estimator(nn.Module):
    """Base class: a dataclass of parameters, an estimate of H'(u), its peak and its area.

    Subclasses are ``@dataclass(eq=False, repr=False)`` (``eq=False`` keeps ``nn.Module`` hashable).
    ``stochastic`` estimators draw random numbers in ``surrogate`` and take a ``seed``.
    """

    name: ClassVar[str] = "estimator"
    stochastic: ClassVar[bool] = False

    def __post_init__(self) -> None:
        super().__init__()
        self.validate()
        self._zeros: Tensor | None = None  # estimates that were exactly 0 since the last pop
        self._count = 0  # estimates computed since the last pop

    def validate(self) -> None:
        """Raise ValueError on a bad parameter (override per estimator)."""

    def forward(self, u: Tensor) -> Tensor:
        """Spikes ``H(u)``, shaped like ``u``; the backward uses :meth:`surrogate`."""
        return _SpikeFunction.apply(u, self)

    def surrogate(self, u: Tensor) -> Tensor:
        """The estimate of H'(u) used in the backward pass, shaped like ``u``."""
        raise NotImplementedError

    def restart_stream(self) -> None:
        """Restart the random draws from the seed (stochastic estimators; a no-op otherwise)."""

    def peak(self) -> float:
        """Maximum of the expected estimate (at u = 0 for every built-in shape)."""
        raise NotImplementedError

    def area(self) -> float:
        """Integral of the expected estimate over u (1 for a unit-mass estimator; inf for STE)."""
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """The dataclass fields, as recorded in configs and result JSON."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.repr}

    def describe(self) -> dict[str, Any]:
        """Name, parameters, peak and area, for result files (a non-finite area becomes None)."""
        area = self.area()
        return {"name": self.name, "params": self.params(), "peak": self.peak(),
                "area": area if math.isfinite(area) else None}

    def record(self, g: Tensor) -> None:
        """Count exact zeros of a backward estimate (gradient sparsity, science.md §2)."""
        zeros = (g == 0).sum()
        self._zeros = zeros if self._zeros is None else self._zeros + zeros
        self._count += g.numel()

    def pop_gradient_counts(self) -> tuple[Tensor, int] | None:
        """(exact zeros, entries) of the estimates since the last call, or None if no backward ran.

        Their ratio is the gradient sparsity: the fraction of neuron-steps with G = 0.
        """
        if self._zeros is None:
            return None
        counts = (self._zeros, self._count)
        self._zeros, self._count = None, 0
        return counts

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.params().items())


def register(name: str):
    """Class decorator: add an :class:`Estimator` subclass to the registry under ``name``."""

    def add(cls: type[Estimator]) -> type[Estimator]:
        _REGISTRY.register(name)(cls)
        cls.name = name
        return cls

    return add


def build(name: str | Estimator, **params: Any) -> Estimator:
    """Build the estimator ``name`` (registered, or ``"package.module:Class"``) with ``params``.

    An already built :class:`Estimator` is returned as it is (``params`` must then be empty).
    """
    if isinstance(name, Estimator):
        if params:
            raise ValueError(f"got a built estimator {name!r} and extra parameters {params}")
        return name
    estimator = _REGISTRY.build(name, **params)
    if not isinstance(estimator, Estimator):
        raise TypeError(f"estimator {name!r} built a {type(estimator).__name__}, not an Estimator")
    return estimator


def available() -> list[str]:
    """Names of the registered estimators, sorted."""
    return _REGISTRY.available()


def estimator_class(name: str) -> type[Estimator]:
    """The class behind ``name`` (registered or an import path), without building it."""
    return _REGISTRY.get(name)


def check_positive(**values: float) -> None:
    """Raise ValueError naming each parameter that is not > 0."""
    for key, value in values.items():
        if not value > 0:
            raise ValueError(f"{key} must be > 0, got {value}")


@register("sigmoid")
@dataclass(eq=False, repr=False)
class Sigmoid(Estimator):
    r""":math:`\alpha\,\sigma(\alpha u)(1-\sigma(\alpha u))`; peak :math:`\alpha/4`, area 1.

    SpikingJelly's ``surrogate.Sigmoid(alpha=4)`` (its neuron default), same parameter meaning.
    """

    alpha: float = 4.0

    def validate(self) -> None:
        check_positive(alpha=self.alpha)

    def surrogate(self, u: Tensor) -> Tensor:
        s = torch.sigmoid(self.alpha * u)
        return self.alpha * s * (1.0 - s)

    def peak(self) -> float:
        return self.alpha / 4.0

    def area(self) -> float:
        return 1.0


@register("atan")
@dataclass(eq=False, repr=False)
class ATan(Estimator):
    r""":math:`\frac{\alpha/2}{1 + (\frac{\pi}{2}\alpha u)^2}`; peak :math:`\alpha/2`, area 1.

    SpikingJelly's ``surrogate.ATan(alpha=2)`` and snnTorch's ``surrogate.atan(alpha=2)``
    (Fang et al., ICCV 2021, doi:10.1109/ICCV48922.2021.00266).
    """

    alpha: float = 2.0

    def validate(self) -> None:
        check_positive(alpha=self.alpha)

    def surrogate(self, u: Tensor) -> Tensor:
        return (self.alpha / 2.0) / (1.0 + (math.pi / 2.0 * self.alpha * u) ** 2)

    def peak(self) -> float:
        return self.alpha / 2.0

    def area(self) -> float:
        return 1.0


@register("fast_sigmoid")
@dataclass(eq=False, repr=False)
class FastSigmoid(Estimator):
    r"""SuperSpike: :math:`\frac{1}{(1 + k|u|)^2}`; peak 1, area :math:`2/k`.

    snnTorch's ``surrogate.fast_sigmoid(slope=25)``; Norse's ``super`` uses k = 100
    (Zenke & Ganguli 2018, doi:10.1162/neco_a_01086).
    """

    k: float = 25.0

    def validate(self) -> None:
        check_positive(k=self.k)

    def surrogate(self, u: Tensor) -> Tensor:
        return 1.0 / (1.0 + self.k * u.abs()) ** 2

    def peak(self) -> float:
        return 1.0

    def area(self) -> float:
        return 2.0 / self.k


@register("triangle")
@dataclass(eq=False, repr=False)
class Triangle(Estimator):
    r"""ZIF / triangle: :math:`\frac{\max(0, \gamma - |u|)}{\gamma^2}`; peak :math:`1/\gamma`, area 1.

    SpikingJelly's ``surrogate.PiecewiseQuadratic(alpha)`` with ``alpha = 1/gamma``; SNN-RAT and
    CertifiedSNN use gamma 1 (Esser et al. 2016, doi:10.1073/pnas.1604850113).
    """

    gamma: float = 1.0

    def validate(self) -> None:
        check_positive(gamma=self.gamma)

    def surrogate(self, u: Tensor) -> Tensor:
        return (self.gamma - u.abs()).clamp(min=0.0) / self.gamma**2

    def peak(self) -> float:
        return 1.0 / self.gamma

    def area(self) -> float:
        return 1.0


@register("rectangle")
@dataclass(eq=False, repr=False)
class Rectangle(Estimator):
    r""":math:`\frac{1}{a}\,\mathbb{1}\{|u| < a/2\}`; peak :math:`1/a`, area 1.

    SpikingJelly's ``surrogate.Rect(alpha)`` with ``alpha = 1/width``
    (Wu et al. 2018, doi:10.3389/fnins.2018.00331).
    """

    width: float = 1.0

    def validate(self) -> None:
        check_positive(width=self.width)

    def surrogate(self, u: Tensor) -> Tensor:
        return (u.abs() < self.width / 2.0).to(u.dtype) / self.width

    def peak(self) -> float:
        return 1.0 / self.width

    def area(self) -> float:
        return 1.0


@register("gaussian")
@dataclass(eq=False, repr=False)
class Gaussian(Estimator):
    r""":math:`\mathcal{N}(u; 0, \sigma^2)`; peak :math:`1/(\sigma\sqrt{2\pi})`, area 1.

    SpikingJelly's ``surrogate.Erf(alpha)`` with ``sigma = 1/(alpha sqrt 2)``; the expected
    LocalZO estimate with normal z and ``delta = sigma``.
    """

    sigma: float = 0.5

    def validate(self) -> None:
        check_positive(sigma=self.sigma)

    def surrogate(self, u: Tensor) -> Tensor:
        return torch.exp(-0.5 * (u / self.sigma) ** 2) / (self.sigma * math.sqrt(2.0 * math.pi))

    def peak(self) -> float:
        return 1.0 / (self.sigma * math.sqrt(2.0 * math.pi))

    def area(self) -> float:
        return 1.0


@register("ste")
@dataclass(eq=False, repr=False)
class STE(Estimator):
    r"""Straight-through: :math:`H'(u) := 1` everywhere; peak 1, area infinite
    (Bengio et al. 2013, arXiv:1308.3432)."""

    def surrogate(self, u: Tensor) -> Tensor:
        return torch.ones_like(u)

    def peak(self) -> float:
        return 1.0

    def area(self) -> float:
        return math.inf


@register("heaviside")
@dataclass(eq=False, repr=False)
class Heaviside(Estimator):
    r"""The true derivative of the step, :math:`H'(u) = 0` almost everywhere: no gradient at all.

    Useless for training; it is what an attack sees through SpikingJelly-style eval-mode spikes, and the
    robustness checks use it to show that such gradient masking gets flagged. Peak 0, area 0.
    """

    def surrogate(self, u: Tensor) -> Tensor:
        return torch.zeros_like(u)

    def peak(self) -> float:
        return 0.0

    def area(self) -> float:
        return 0.0
