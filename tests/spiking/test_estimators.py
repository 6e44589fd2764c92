"""Surrogate gradient estimators (science.md §2): closed forms, peak/area, peer libraries, registry."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from bench.spiking import estimators

F64 = torch.float64


# Closed forms of science.md §2, written out in numpy (independent of the torch code under test).
def _sigmoid(u, alpha):
    e = np.exp(-alpha * u)
    return alpha * e / (1.0 + e) ** 2  # alpha sig(alpha u)(1 - sig(alpha u))


def _atan(u, alpha):
    return (alpha / 2) / (1 + (np.pi / 2 * alpha * u) ** 2)


def _fast_sigmoid(u, k):
    return 1.0 / (1.0 + k * np.abs(u)) ** 2


def _triangle(u, gamma):
    return np.maximum(0.0, gamma - np.abs(u)) / gamma**2


def _rectangle(u, width):
    return (np.abs(u) < width / 2).astype(float) / width


def _gaussian(u, sigma):
    return np.exp(-(u**2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))


def _ste(u):
    return np.ones_like(u)


@dataclass
class Case:
    name: str
    params: dict
    formula: object
    peak: float  # the maximum of the closed form, at u = 0
    area: float  # its integral over R


# Non-default parameters throughout, so that a parameter that is ignored shows up.
CASES = [
    Case("sigmoid", {"alpha": 3.0}, lambda u: _sigmoid(u, 3.0), 3.0 / 4, 1.0),
    Case("atan", {"alpha": 3.0}, lambda u: _atan(u, 3.0), 3.0 / 2, 1.0),
    Case("fast_sigmoid", {"k": 10.0}, lambda u: _fast_sigmoid(u, 10.0), 1.0, 2.0 / 10.0),
    Case("triangle", {"gamma": 0.7}, lambda u: _triangle(u, 0.7), 1 / 0.7, 1.0),
    Case("rectangle", {"width": 0.6}, lambda u: _rectangle(u, 0.6), 1 / 0.6, 1.0),
    Case("gaussian", {"sigma": 0.3}, lambda u: _gaussian(u, 0.3), 1 / (0.3 * math.sqrt(2 * math.pi)), 1.0),
    Case("ste", {}, _ste, 1.0, math.inf),
]
IDS = [c.name for c in CASES]


def wide_grid() -> torch.Tensor:
    """Symmetric grid on [-1e7, 1e7] that contains 0: step 1e-5 on [-10, 10], then log-spaced tails.

    Quadrature error of the trapezoid rule on it, for the cases above:
    - tails: atan decays like 2/(pi^2 alpha u^2), so the mass beyond 1e7 is 4/(pi^2 * 3 * 1e7) ~ 1.4e-8;
      fast_sigmoid's is 2/(k (1 + k 1e7)) ~ 2e-9; the others are compactly supported or exponentially small.
    - jumps: the rectangle's two edges cost at most one step each times its height: 2 * 1e-5 / 0.6 ~ 3.3e-5.
    - smooth parts: h^2 f''/12 per unit length, below 1e-8; log tails with ratio 1.00014 are below 1e-8.
    A tolerance of 1e-4 covers all of these.
    """
    core = torch.linspace(0.0, 10.0, 1_000_001, dtype=F64)[1:]
    tail = torch.logspace(1.0, 7.0, 100_001, dtype=F64)[1:]
    pos = torch.cat([core, tail])
    return torch.cat([-pos.flip(0), torch.zeros(1, dtype=F64), pos])


@pytest.fixture(scope="module")
def grid():
    return wide_grid()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_is_heaviside_with_h0_equal_1(case, spikes_and_grad):
    fn = estimators.build(case.name, **case.params)
    u = torch.tensor([-3.0, -1e-7, -0.0, 0.0, 1e-7, 0.4, 3.0], dtype=F64)
    spikes, _ = spikes_and_grad(fn, u)
    assert spikes.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert spikes.dtype == F64
    assert fn(u.float()).dtype == torch.float32


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_backward_is_the_closed_form(case, spikes_and_grad):
    fn = estimators.build(case.name, **case.params)
    u = torch.linspace(-2.0, 2.0, 801, dtype=F64)  # step 0.005: hits 0 and the rectangle's edges +-0.3
    torch.manual_seed(0)
    w = torch.randn(801, dtype=F64)
    _, grad = spikes_and_grad(fn, u)
    np.testing.assert_allclose(grad.numpy(), case.formula(u.numpy()), rtol=1e-12, atol=1e-14)
    _, grad_w = spikes_and_grad(fn, u, w)  # the upstream gradient multiplies the estimate
    np.testing.assert_allclose(grad_w.numpy(), w.numpy() * case.formula(u.numpy()), rtol=1e-12, atol=1e-14)


def test_rectangle_edges_are_open():
    # 1{|u| < a/2}: exactly at +-a/2 the estimate is 0 (a = 0.5, so the edges are exact in binary).
    fn = estimators.build("rectangle", width=0.5)
    g = fn.surrogate(torch.tensor([-0.25, -0.2499, 0.0, 0.2499, 0.25], dtype=F64))
    assert g.tolist() == [0.0, 2.0, 2.0, 2.0, 0.0]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_peak_is_the_maximum_on_a_fine_grid(case, grid):
    fn = estimators.build(case.name, **case.params)
    values = fn.surrogate(grid)
    assert fn.peak() == pytest.approx(values.max().item(), rel=1e-12)
    assert fn.peak() == pytest.approx(case.peak, rel=1e-12)
    assert fn.describe()["peak"] == fn.peak()


@pytest.mark.parametrize("case", [c for c in CASES if c.name != "ste"], ids=IDS[:-1])
def test_area_is_the_integral(case, grid):
    fn = estimators.build(case.name, **case.params)
    integral = torch.trapezoid(fn.surrogate(grid), grid).item()
    assert integral == pytest.approx(case.area, abs=1e-4)  # quadrature error budget: see wide_grid
    assert fn.area() == pytest.approx(case.area, rel=1e-12)
    assert fn.describe()["area"] == fn.area()


def test_ste_area_is_infinite(grid):
    fn = estimators.build("ste")
    # The integral over [-L, L] is 2L: it grows without bound.
    for half_width in (10.0, 1e4):
        inner = grid[grid.abs() <= half_width]
        assert torch.trapezoid(fn.surrogate(inner), inner).item() == pytest.approx(2 * half_width, rel=1e-12)
    assert fn.area() == math.inf
    assert fn.describe() == {"name": "ste", "params": {}, "peak": 1.0, "area": None}


def test_describe_and_params_record_the_parameters():
    fn = estimators.build("triangle", gamma=0.7)
    assert fn.params() == {"gamma": 0.7}
    assert fn.describe() == {"name": "triangle", "params": {"gamma": 0.7}, "peak": 1 / 0.7, "area": 1.0}
    assert repr(fn) == "Triangle(gamma=0.7)"


# ----------------------------------------------------------------------------- peer libraries

def _sj():
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import surrogate

    return surrogate


SJ_PAIRS = [
    # (our name, our params, SpikingJelly class name, SJ alpha)
    ("sigmoid", {"alpha": 3.0}, "Sigmoid", 3.0),
    ("atan", {"alpha": 3.0}, "ATan", 3.0),
    ("triangle", {"gamma": 0.7}, "PiecewiseQuadratic", 1 / 0.7),  # gamma = 1/alpha
    ("gaussian", {"sigma": 1 / (2.5 * math.sqrt(2))}, "Erf", 2.5),  # sigma = 1/(alpha sqrt 2)
]


@pytest.mark.parametrize(("name", "params", "sj_name", "sj_alpha"), SJ_PAIRS, ids=[p[0] for p in SJ_PAIRS])
def test_matches_spikingjelly(name, params, sj_name, sj_alpha, spikes_and_grad):
    surrogate = _sj()
    ref = getattr(surrogate, sj_name)(alpha=sj_alpha)
    ours = estimators.build(name, **params)
    torch.manual_seed(1)
    # SpikingJelly also fires at u >= 0, so u == 0 is included.
    u = torch.cat([torch.randn(500, dtype=F64), torch.linspace(-1.5, 1.5, 301, dtype=F64)])
    w = torch.randn_like(u)
    s_ref, g_ref = spikes_and_grad(ref, u, w)
    s_ours, g_ours = spikes_and_grad(ours, u, w)
    assert s_ref.dtype == F64  # SpikingJelly returns the input dtype: the comparison is in float64
    assert torch.equal(s_ours, s_ref)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)
    assert (g_ref != 0).sum() > 200  # the comparison is not vacuous


SNN_PAIRS = [
    ("fast_sigmoid", {"k": 10.0}, "fast_sigmoid", {"slope": 10.0}),
    ("atan", {"alpha": 3.0}, "atan", {"alpha": 3.0}),
]


@pytest.mark.parametrize(("name", "params", "snn_name", "snn_params"), SNN_PAIRS, ids=[p[0] for p in SNN_PAIRS])
def test_matches_snntorch(name, params, snn_name, snn_params, spikes_and_grad):
    pytest.importorskip("snntorch")
    import snntorch.surrogate as snn_surrogate

    ref = getattr(snn_surrogate, snn_name)(**snn_params)  # a closure over FastSigmoid/ATan.apply
    ours = estimators.build(name, **params)
    torch.manual_seed(2)
    u = torch.randn(1000)  # float32: snnTorch's forward returns float32 whatever the input dtype
    u = u[u != 0]  # snnTorch fires on u > 0, we on u >= 0: keep away from u == 0
    w = torch.randn_like(u)
    s_ref, g_ref = spikes_and_grad(ref, u, w)
    s_ours, g_ours = spikes_and_grad(ours, u, w)
    assert s_ref.dtype == torch.float32
    assert torch.equal(s_ours, s_ref)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- registry

ALL_NAMES = ["atan", "fast_sigmoid", "gaussian", "heaviside", "localzo", "localzo_expected", "rectangle",
             "sigmoid", "ste", "triangle"]


def test_available_lists_the_ten_estimators():
    assert estimators.available() == ALL_NAMES


def test_heaviside_passes_no_gradient_at_all():
    fn = estimators.build("heaviside")
    u = torch.linspace(-2, 2, 9, requires_grad=True)
    fn(u).sum().backward()
    assert torch.equal(u.grad, torch.zeros(9)) and fn.peak() == 0.0 and fn.area() == 0.0


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(KeyError) as err:
        estimators.build("spline")
    message = str(err.value)
    assert "'spline'" in message
    assert all(name in message for name in ALL_NAMES)


def test_duplicate_registration_is_refused():
    class Impostor(estimators.Estimator):
        pass

    with pytest.raises(ValueError, match="'atan' is already registered"):
        estimators.register("atan")(Impostor)
    assert estimators.estimator_class("atan") is estimators.ATan  # the original entry survives
    assert estimators.available() == ALL_NAMES


def test_build_by_import_path():
    fn = estimators.build("bench.spiking.estimators:ATan", alpha=2.5)
    assert isinstance(fn, estimators.ATan) and fn.alpha == 2.5
    assert fn.surrogate(torch.zeros(1)).item() == pytest.approx(1.25)


def test_build_passes_a_built_estimator_through():
    fn = estimators.build("atan")
    assert estimators.build(fn) is fn
    with pytest.raises(ValueError, match="extra parameters"):
        estimators.build(fn, alpha=3.0)


def test_import_path_to_a_non_estimator_is_refused():
    with pytest.raises(TypeError, match="not an Estimator"):
        estimators.build("bench.spiking.functional:LIFParameters")


@pytest.mark.parametrize(
    ("name", "param", "value"),
    [("sigmoid", "alpha", 0.0), ("atan", "alpha", -1.0), ("fast_sigmoid", "k", 0.0),
     ("triangle", "gamma", -0.5), ("rectangle", "width", 0.0), ("gaussian", "sigma", -1.0),
     ("sigmoid", "alpha", math.nan)],
)
def test_bad_parameters_are_refused(name, param, value):
    with pytest.raises(ValueError, match=rf"^{param} must be > 0"):
        estimators.build(name, **{param: value})


# ----------------------------------------------------------------------------- gradient sparsity counters

def test_gradient_counts_of_a_rectangle():
    fn = estimators.build("rectangle", width=1.0)
    assert fn.pop_gradient_counts() is None  # nothing ran yet
    # 1{|u| < 0.5}: nonzero at -0.49, 0, 0.3 only; the edges +-0.5 are zeros -> 5 zeros out of 8
    u = torch.tensor([-1.0, -0.5, -0.49, 0.0, 0.3, 0.5, 0.7, 2.0], requires_grad=True)
    fn(u).sum().backward()
    zeros, count = fn.pop_gradient_counts()
    assert (int(zeros), count) == (5, 8)
    assert fn.pop_gradient_counts() is None  # popping clears

    # counts accumulate over backward passes until popped; a forward alone records nothing
    fn(u).sum().backward()
    fn(u[:3].detach().clone().requires_grad_(True)).sum().backward()  # -1, -0.5, -0.49: 2 zeros
    with torch.no_grad():
        fn(u)
    zeros, count = fn.pop_gradient_counts()
    assert (int(zeros), count) == (7, 11)


def test_no_counts_without_a_backward():
    fn = estimators.build("rectangle", width=1.0)
    fn(torch.randn(10, requires_grad=True))
    assert fn.pop_gradient_counts() is None
