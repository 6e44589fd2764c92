"""LocalZO (science.md §2): Monte-Carlo against the closed forms, closed forms against quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from bench.spiking import estimators
from bench.spiking.localzo import SAMPLERS, SIGMOID_C, LocalZO, LocalZOExpected

SAMPLER_NAMES = ["normal", "uniform", "laplace", "sigmoid"]
SQRT3, SQRT2 = math.sqrt(3.0), math.sqrt(2.0)


# ----------------------------------------------------------------------------- the laws of z, from scratch

def _sigmoid_law_pdf(z: float) -> float:
    """lambda(z) = c^2 sig'(cz) (2 sig(cz) - 1) / z, with its limit c^3 / 8 at z = 0."""
    c = SIGMOID_C
    if z == 0.0:
        return c**3 / 8
    s = special.expit(c * z)
    return c**2 * s * (1 - s) * (2 * s - 1) / z


# name -> (density, right end of the support)
LAWS = {
    "normal": (stats.norm.pdf, math.inf),
    "uniform": (lambda z: 1 / (2 * SQRT3) if abs(z) <= SQRT3 else 0.0, SQRT3),
    "laplace": (stats.laplace(scale=1 / SQRT2).pdf, math.inf),
    "sigmoid": (_sigmoid_law_pdf, math.inf),
}
MEAN_ABS = {"normal": math.sqrt(2 / math.pi), "uniform": SQRT3 / 2, "laplace": 1 / SQRT2,
            "sigmoid": SIGMOID_C / 2}


def _quad(f, lo, hi):
    if lo >= hi:
        return 0.0
    value, _ = integrate.quad(f, lo, hi, limit=200, epsabs=1e-13, epsrel=1e-11)
    return value


def quad_expected(sampler: str, u: float, delta: float) -> float:
    """E[G(u)] = (1/delta) * int_{|u|/delta}^inf z lambda(z) dz."""
    pdf, end = LAWS[sampler]
    return _quad(lambda z: z * pdf(z), abs(u) / delta, end) / delta


def quad_second_moment(sampler: str, u: float, delta: float) -> float:
    """E[G_1(u)^2] = E[z^2 1{|z| > a}] / (4 delta^2) for one draw (m = 1), a = |u|/delta."""
    pdf, end = LAWS[sampler]
    return 2 * _quad(lambda z: z * z * pdf(z), abs(u) / delta, end) / (4 * delta**2)


def abs_cdf(sampler: str, a: float) -> float:
    """F(a) = P(|z| <= a): closed forms where they exist, quadrature for the sigmoid law."""
    if sampler == "normal":
        return math.erf(a / SQRT2)
    if sampler == "uniform":
        return min(a / SQRT3, 1.0)
    if sampler == "laplace":
        return 1 - math.exp(-SQRT2 * a)
    return 2 * _quad(_sigmoid_law_pdf, 0.0, a)


def localzo_grads(zo: LocalZO, u: torch.Tensor, copies: int) -> torch.Tensor:
    """G at every u, ``copies`` independent times, through autograd: [copies, len(u)]."""
    x = u.repeat(copies, 1).requires_grad_(True)
    zo(x).sum().backward()
    return x.grad


# ----------------------------------------------------------------------------- Monte Carlo vs closed form

@pytest.mark.parametrize("m", [1, 5])
@pytest.mark.parametrize("delta", [0.5, 0.2])
@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_monte_carlo_mean_matches_the_expected_surrogate(sampler, delta, m):
    u = delta * torch.linspace(-3.0, 3.0, 25, dtype=torch.float64)  # |u|/delta up to 3, never sqrt 3
    zo = LocalZO(delta=delta, samples=m, sampler=sampler, seed=1234)
    g = localzo_grads(zo, u, copies=20_000)
    mean = g.mean(0)
    se = g.std(0) / math.sqrt(g.shape[0])
    expected = LocalZOExpected(sampler=sampler, delta=delta).surrogate(u)
    # 5 standard errors per point; 25 * 16 comparisons at 5 SE fail by chance with probability ~2e-4,
    # and the seed is fixed. Where G is always 0 (uniform beyond its support) both sides are exactly 0.
    assert torch.all((mean - expected).abs() <= 5 * se + 1e-12), (mean - expected).abs() / se
    assert (se > 0).sum() >= (9 if sampler == "uniform" else 25)


@pytest.mark.parametrize("delta", [0.5, 0.2])
@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_expected_surrogate_matches_quadrature(sampler, delta):
    expected = LocalZOExpected(sampler=sampler, delta=delta)
    us = [0.0, 0.05, -0.1, 0.3, 0.5, -0.8, 1.2, 2.0]
    got = expected.surrogate(torch.tensor(us, dtype=torch.float64)).tolist()
    want = [quad_expected(sampler, u, delta) for u in us]
    assert got == pytest.approx(want, rel=1e-8, abs=1e-12)


def test_sigmoid_constant():
    # I = int_R sig'(w)(2 sig(w) - 1)/w dw; the integrand is even with limit 1/8 at 0.
    def integrand(w):
        if w == 0.0:
            return 0.125
        s = special.expit(w)
        return s * (1 - s) * (2 * s - 1) / w

    value = 2 * _quad(integrand, 0.0, math.inf)
    assert value == pytest.approx(7 * special.zeta(3) / (2 * math.pi**2), rel=1e-10)
    assert value == pytest.approx(1 / SIGMOID_C**2, rel=1e-10)
    # I = 0.42627840...: the paper's 0.4262 is I truncated to 4 decimals (rounding would give 0.4263).
    assert math.floor(value * 1e4) / 1e4 == 0.4262
    assert abs(value - 0.4262) < 1e-4
    # the sigmoid law is a unit-variance density: int lambda = 1 and int z^2 lambda = 1
    assert 2 * _quad(_sigmoid_law_pdf, 0.0, math.inf) == pytest.approx(1.0, rel=1e-9)
    assert 2 * _quad(lambda z: z * z * _sigmoid_law_pdf(z), 0.0, math.inf) == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize("delta", [0.5, 0.2])
@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_expected_area_and_peak(sampler, delta):
    expected = LocalZOExpected(sampler=sampler, delta=delta)
    u = torch.linspace(-40 * delta, 40 * delta, 400_001, dtype=torch.float64)  # contains 0; step delta/5000
    values = expected.surrogate(u)
    # Trapezoid on a step of delta/5000: the uniform law's kinks at +-sqrt3 delta cost O(h^2), the tails
    # beyond 40 delta are below e^-40 (laplace: e^(-40 sqrt2)); 1e-6 is ample.
    assert torch.trapezoid(values, u).item() == pytest.approx(1.0, abs=1e-6)
    peak = MEAN_ABS[sampler] / (2 * delta)
    assert values.max().item() == pytest.approx(peak, rel=1e-12)
    assert expected.peak() == pytest.approx(peak, rel=1e-12)
    assert expected.area() == 1.0
    zo = LocalZO(delta=delta, sampler=sampler, seed=0)
    assert zo.peak() == pytest.approx(peak, rel=1e-12) and zo.area() == 1.0
    assert zo.expected().sampler == sampler and zo.expected().delta == delta


@pytest.mark.parametrize("delta", [0.5, 0.2, 0.05])
def test_normal_expected_is_the_gaussian_surrogate(delta):
    u = torch.linspace(-2, 2, 1001, dtype=torch.float64)
    ours = LocalZOExpected(sampler="normal", delta=delta).surrogate(u)
    torch.testing.assert_close(ours, estimators.build("gaussian", sigma=delta).surrogate(u), rtol=1e-14, atol=0)


@pytest.mark.parametrize("delta", [0.5, 0.2, 0.05])
def test_sigmoid_expected_is_the_sigmoid_surrogate(delta):
    u = torch.linspace(-2, 2, 1001, dtype=torch.float64)
    ours = LocalZOExpected(sampler="sigmoid", delta=delta).surrogate(u)
    ref = estimators.build("sigmoid", alpha=SIGMOID_C / delta).surrogate(u)
    torch.testing.assert_close(ours, ref, rtol=1e-14, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_sampled_abs_z_has_unit_second_moment(sampler, dtype):
    n = 400_000
    gen = torch.Generator().manual_seed(7)
    z = SAMPLERS[sampler].draw_abs((n,), gen, torch.device("cpu"), dtype)
    assert z.shape == (n,) and z.dtype == dtype and bool((z >= 0).all())
    z = z.double()
    z2 = z**2
    assert abs(z2.mean().item() - 1.0) <= 5 * z2.std().item() / math.sqrt(n)
    assert abs(z.mean().item() - MEAN_ABS[sampler]) <= 5 * z.std().item() / math.sqrt(n)
    assert SAMPLERS[sampler].mean_abs == pytest.approx(MEAN_ABS[sampler], rel=1e-12)


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_sampled_abs_z_follows_its_law(sampler):
    # Kolmogorov-Smirnov against F(a) = P(|z| <= a), tabulated on a grid (quadrature for the sigmoid law).
    gen = torch.Generator().manual_seed(8)
    z = SAMPLERS[sampler].draw_abs((20_000,), gen, torch.device("cpu"), torch.float64).numpy()
    a_grid = np.linspace(0.0, 12.0, 2401)
    f_grid = np.array([abs_cdf(sampler, a) for a in a_grid]) if sampler == "sigmoid" else None

    def cdf(a):
        if f_grid is not None:
            return np.interp(a, a_grid, f_grid)
        return np.array([abs_cdf(sampler, x) for x in np.atleast_1d(a)])

    assert stats.kstest(z, cdf).pvalue > 1e-3


@pytest.mark.parametrize("m", [1, 5])
@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_sparsity_is_the_probability_that_no_draw_reaches_u(sampler, m):
    delta, n = 0.5, 40_000
    ratios = [0.25, 0.75, 1.25, 2.0]  # a = |u|/delta
    u = torch.tensor([delta * a for a in ratios], dtype=torch.float64)
    zo = LocalZO(delta=delta, samples=m, sampler=sampler, seed=99)
    g = localzo_grads(zo, u, copies=n)
    zeros, count = zo.pop_gradient_counts()
    assert count == n * len(ratios) and int(zeros) == int((g == 0).sum())
    for j, a in enumerate(ratios):
        p = abs_cdf(sampler, a) ** m  # P(max_i |z_i| <= a)
        frac = (g[:, j] == 0).double().mean().item()
        assert abs(frac - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-12, (a, frac, p)


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_variance_falls_as_one_over_m(sampler):
    delta, a, n = 0.5, 0.5, 100_000
    u = torch.full((1,), delta * a, dtype=torch.float64)
    mean = quad_expected(sampler, delta * a, delta)
    var1 = quad_second_moment(sampler, delta * a, delta) - mean**2  # exact Var[G] for one draw
    sample_vars = {}
    for m in (1, 5):
        g = localzo_grads(LocalZO(delta=delta, samples=m, sampler=sampler, seed=5 + m), u, copies=n)[:, 0]
        d = g - g.mean()
        var = d.pow(2).mean().item()
        se = math.sqrt(max((d.pow(4).mean().item() - var**2) / n, 0.0))  # SE of a sample variance
        assert abs(var - var1 / m) <= 5 * se, (m, var, var1 / m, se)
        sample_vars[m] = var
    assert sample_vars[1] / sample_vars[5] == pytest.approx(5.0, rel=0.1)


# ----------------------------------------------------------------------------- seeds and generators

def _grads(zo, n=200):
    u = torch.linspace(-1, 1, n).requires_grad_(True)
    zo(u).sum().backward()
    return u.grad


def test_same_seed_same_gradients_different_seed_different():
    a = _grads(LocalZO(seed=3))
    assert torch.equal(a, _grads(LocalZO(seed=3)))
    assert not torch.equal(a, _grads(LocalZO(seed=4)))


def test_stream_advances_between_backward_passes():
    zo = LocalZO(seed=3)
    first, second = _grads(zo), _grads(zo)
    assert not torch.equal(first, second)
    fresh = LocalZO(seed=3)
    assert torch.equal(_grads(fresh), first) and torch.equal(_grads(fresh), second)


def test_explicit_generator_is_used():
    a = _grads(LocalZO(seed=1, generator=torch.Generator().manual_seed(11)))
    b = _grads(LocalZO(seed=2, generator=torch.Generator().manual_seed(11)))  # the generator wins over seed
    c = _grads(LocalZO(seed=1, generator=torch.Generator().manual_seed(12)))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_draws_give_the_formula_of_g():
    # G(u) = (1/m) sum_i |z_i| 1{|u| < delta |z_i|} / (2 delta), with the normal |z| drawn as |randn|
    # from the given generator, one [m, *u.shape] block per backward.
    delta, m = 0.3, 4
    u = torch.linspace(-1, 1, 101, dtype=torch.float64)
    zo = LocalZO(delta=delta, samples=m, sampler="normal", generator=torch.Generator().manual_seed(21))
    got = _grads_at(zo, u)
    z = torch.randn((m, 101), generator=torch.Generator().manual_seed(21), dtype=torch.float64).abs()
    want = torch.stack([z[i] * (u.abs() < delta * z[i]) / (2 * delta) for i in range(m)]).sum(0) / m
    torch.testing.assert_close(got, want, rtol=1e-14, atol=0)


def _grads_at(zo, u):
    u = u.clone().requires_grad_(True)
    zo(u).sum().backward()
    return u.grad


def test_seed_none_comes_from_the_global_generator():
    torch.manual_seed(0)
    a = LocalZO()
    torch.manual_seed(0)
    b = LocalZO()
    assert a.seed == b.seed and torch.equal(_grads(a), _grads(b))
    assert LocalZO().seed != a.seed


def test_spikes_are_heaviside():
    zo = LocalZO(seed=0)
    assert zo(torch.tensor([-0.5, -1e-6, 0.0, 1e-6, 0.5])).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("cls", [LocalZO, LocalZOExpected])
@pytest.mark.parametrize("delta", [0.0, -0.5])
def test_bad_delta_is_refused(cls, delta):
    with pytest.raises(ValueError, match=rf"delta must be > 0, got {delta}"):
        cls(delta=delta)


def test_zero_samples_are_refused():
    with pytest.raises(ValueError, match=r"samples.*>= 1, got 0"):
        LocalZO(samples=0)


@pytest.mark.parametrize("cls", [LocalZO, LocalZOExpected])
def test_unknown_sampler_is_refused(cls):
    with pytest.raises(ValueError) as err:
        cls(sampler="cauchy")
    message = str(err.value)
    assert "'cauchy'" in message and all(name in message for name in SAMPLER_NAMES)


def test_a_fractional_number_of_samples_is_refused():
    with pytest.raises(ValueError, match=r"samples .* integer >= 1, got 2\.5"):
        LocalZO(samples=2.5)
