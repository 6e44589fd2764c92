r"""Certified robustness by randomized smoothing: l1 for rate-encoded SNNs, l2 (Gaussian) for direct-encoded.

The smoothed classifier is :math:`g(x) = \arg\max_c P(f(S) = c)`, with S the random input the base
classifier f sees: Bernoulli spike trains :math:`S \sim \text{Bernoulli}(x)^{T \times d}` for rate coding
(Mukhoty et al., ICLR 2024), or :math:`x + \mathcal{N}(0, \sigma^2 I)` for direct coding (Cohen et al., 2019).

CERTIFY (Cohen et al.): n0 draws choose :math:`c_A`; n fresh draws count :math:`k = \#\{f(S) = c_A\}`;
:math:`\underline{p_A}` is the one-sided Clopper-Pearson lower bound at level alpha; abstain if
:math:`\underline{p_A} \le 1/2`. Radii:

.. math::
    R_{\ell_1}(\underline{p_A}, T) = 1 - (3/2 - \underline{p_A})^{1/T}, \qquad
    R_{\ell_2}(\underline{p_A}, \sigma) = \sigma\, \Phi^{-1}(\underline{p_A}).

Why the l1 radius depends on T (science.md §4): moving x by delta changes each of the T*d Bernoulli
coordinates by :math:`|\delta_i|` in total variation; coupling gives
:math:`TV \le 1 - \prod_i (1 - |\delta_i|)^T \le 1 - (1 - \|\delta\|_1)^T`, and the prediction cannot change
while :math:`TV < \underline{p_A} - 1/2`. For T = 1 this is :math:`\underline{p_A} - 1/2`, the formula in the
CertifiedSNN code, which is *not* sound for T > 1: with d = 1, T = 3, x = 0 and f = "class A iff all three
spikes are 0", p_A = 1 and the T-free radius is 0.5, yet at x' = 0.3, :math:`P(A) = 0.7^3 = 0.343 < 1/2`;
R gives :math:`1 - 0.5^{1/3} = 0.206`, where :math:`P(A) = 1/2` exactly. Radii are in l1 units of [0, 1]
intensities summed over the whole input. That reference formula is reported only as a labelled extra column.

>>> round(l1_radius(1.0, 3), 4), l1_radius(0.9, 1), l1_radius(0.4, 2)
(0.2063, 0.4, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from scipy import stats
from torch import Tensor, nn

from bench.spiking.encoders import DirectEncoder, RateEncoder

__all__ = ["ABSTAIN", "Certificate", "certify", "clopper_pearson_lower", "l1_radius", "l2_radius", "predict",
           "reference_radius"]

ABSTAIN = -1


def clopper_pearson_lower(k, n, alpha: float):
    """One-sided Clopper-Pearson lower bound on a binomial proportion: ``beta.ppf(alpha, k, n - k + 1)``
    (0 where k = 0). Vectorized over ``k`` and ``n`` (numbers, arrays or tensors; returns the same kind).

    >>> round(float(clopper_pearson_lower(37, 50, 0.025)), 6)
    0.596552
    """
    _check_alpha(alpha)
    as_tensor = isinstance(k, Tensor)
    k_np, n_np = (np.asarray(v.cpu() if isinstance(v, Tensor) else v, dtype=float) for v in (k, n))
    if np.any(n_np < 1) or np.any(k_np < 0) or np.any(k_np > n_np):
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    lower = np.where(k_np > 0, stats.beta.ppf(alpha, k_np, n_np - k_np + 1), 0.0)
    if as_tensor:
        return torch.as_tensor(lower, dtype=torch.float64)
    return float(lower) if lower.ndim == 0 else lower


def l1_radius(p_lower, timesteps: int):
    """Sound l1 radius ``1 - (3/2 - p_lower)^(1/T)``, 0 where ``p_lower <= 1/2``; floats or tensors."""
    if timesteps < 1:
        raise ValueError(f"timesteps (T) must be >= 1, got {timesteps}")
    if isinstance(p_lower, Tensor):
        return torch.where(p_lower > 0.5, 1 - (1.5 - p_lower).clamp(max=1.0) ** (1 / timesteps), 0.0)
    return 1 - (1.5 - p_lower) ** (1 / timesteps) if p_lower > 0.5 else 0.0


def l2_radius(p_lower, sigma: float):
    """Cohen et al.'s l2 radius ``sigma * Phi^-1(p_lower)``, 0 where ``p_lower <= 1/2``; floats or tensors."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if isinstance(p_lower, Tensor):
        return torch.where(p_lower > 0.5, sigma * torch.special.ndtri(p_lower.clamp(max=1 - 1e-16)), 0.0)
    return sigma * float(stats.norm.ppf(p_lower)) if p_lower > 0.5 else 0.0


def reference_radius(p_lower):
    """CertifiedSNN's T-free radius ``p_lower - 1/2`` (sound only for T = 1): for comparison, never ranked."""
    if isinstance(p_lower, Tensor):
        return (p_lower - 0.5).clamp(min=0.0)
    return max(p_lower - 0.5, 0.0)


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


@dataclass(frozen=True)
class Certificate:
    """CERTIFY's answer for one input: the class (or ABSTAIN), the bound on p_A, the radius, and the counts."""

    prediction: int
    p_lower: float
    radius: float
    reference_radius: float
    count: int  # k: draws (of n) that gave the chosen class


def _base(model: nn.Module, norm: Literal["l1", "l2"], sigma: float | None, generator: torch.Generator | None):
    """The base classifier f on one random draw per row: logits -> predicted classes."""
    encoder = model.encoder
    if norm == "l1":
        if not isinstance(encoder, RateEncoder):
            raise ValueError(f"an l1 certificate needs rate (Bernoulli) encoding; this model's encoder is "
                             f"{type(encoder).__name__}: certify it under l2 with Gaussian smoothing (sigma)")
        if sigma is not None:
            raise ValueError("sigma is for l2 (Gaussian) smoothing; rate encoding is its own smoothing")
        return lambda x: model(x).argmax(1)
    if norm != "l2":
        raise ValueError(f"unknown norm {norm!r}; choose one of l1, l2")
    if not isinstance(encoder, DirectEncoder):
        raise ValueError(f"l2 Gaussian smoothing is for direct-encoded models; this model's encoder is "
                         f"{type(encoder).__name__}: use norm='l1'")
    if sigma is None or not sigma > 0:
        raise ValueError(f"sigma must be > 0 for l2 smoothing, got {sigma}")

    def noisy(x: Tensor) -> Tensor:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return model(x + sigma * noise).argmax(1)

    return noisy


@torch.no_grad()
def _counts(base, x: Tensor, draws: int, batch_size: int, num_classes: int) -> Tensor:
    counts = torch.zeros(num_classes, dtype=torch.int64)
    remaining = draws
    while remaining > 0:
        size = min(batch_size, remaining)
        predictions = base(x.unsqueeze(0).expand(size, *x.shape))
        counts += torch.bincount(predictions.cpu(), minlength=num_classes)
        remaining -= size
    return counts


def _check_counts(n0: int, n: int, batch_size: int) -> None:
    for name, value in (("n0", n0), ("n", n), ("batch_size", batch_size)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def certify(
    model: nn.Module,
    x: Tensor,
    n0: int,
    n: int,
    alpha: float,
    batch_size: int,
    norm: Literal["l1", "l2"] = "l1",
    sigma: float | None = None,
    generator: torch.Generator | None = None,
) -> Certificate:
    """Cohen et al.'s CERTIFY for one input ``x`` ``[*]`` of a SpikingClassifier in eval mode.

    Draws are batched, ``batch_size`` per forward pass, so certifying costs about (n0 + n) / batch_size
    passes. Rate-encoded models draw from their encoder's eval stream; Gaussian noise from ``generator``.
    """
    _check_alpha(alpha)
    _check_counts(n0, n, batch_size)
    base = _base(model, norm, sigma, generator)
    num_classes = model.hparams.num_classes
    chosen = int(_counts(base, x, n0, batch_size, num_classes).argmax())
    k = int(_counts(base, x, n, batch_size, num_classes)[chosen])
    p_lower = float(clopper_pearson_lower(k, n, alpha))
    if p_lower <= 0.5:
        return Certificate(ABSTAIN, p_lower, 0.0, 0.0, k)
    radius = l1_radius(p_lower, model.hparams.timesteps) if norm == "l1" else l2_radius(p_lower, sigma)
    return Certificate(chosen, p_lower, radius, reference_radius(p_lower) if norm == "l1" else radius, k)


def predict(
    model: nn.Module,
    x: Tensor,
    n: int,
    alpha: float,
    batch_size: int,
    norm: Literal["l1", "l2"] = "l1",
    sigma: float | None = None,
    generator: torch.Generator | None = None,
) -> int:
    """Cohen et al.'s PREDICT: the top class of n draws, or ABSTAIN unless a two-sided binomial test of the
    top two counts rejects a tie at level alpha."""
    _check_alpha(alpha)
    _check_counts(1, n, batch_size)
    counts = _counts(_base(model, norm, sigma, generator), x, n, batch_size, model.hparams.num_classes)
    top2 = counts.topk(2)
    n_a, n_b = int(top2.values[0]), int(top2.values[1])
    if stats.binomtest(n_a, n_a + n_b, 0.5).pvalue > alpha:
        return ABSTAIN
    return int(top2.indices[0])
