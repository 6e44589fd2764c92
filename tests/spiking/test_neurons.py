"""The LIF module against SpikingJelly 0.0.0.0.14 (the reference implementation of science.md §1)."""

from __future__ import annotations

import pytest
import torch

from bench.spiking import estimators
from bench.spiking.functional import LIFParameters, LIFState
from bench.spiking.neurons import LIF

sj_neuron = pytest.importorskip("spikingjelly.activation_based.neuron")
from spikingjelly.activation_based import functional as sj_functional  # noqa: E402
from spikingjelly.activation_based import surrogate as sj_surrogate  # noqa: E402

F64 = torch.float64
T, B, N = 8, 4, 16


def make_inputs(seed: int):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(T, B, N, generator=gen, dtype=F64) * 0.8 + 0.45  # fires a fair fraction of the time
    w = torch.randn(T, B, N, generator=gen, dtype=F64)  # upstream gradient
    return x, w


def spikes_and_input_grad(neuron, x, w):
    x = x.clone().requires_grad_(True)
    s = neuron(x)
    (grad,) = torch.autograd.grad((s * w).sum(), x)
    return s.detach(), grad


def compare(ours, ref, seeds=(0, 1)):
    for seed in seeds:
        x, w = make_inputs(seed)
        sj_functional.reset_net(ref)
        s_ref, g_ref = spikes_and_input_grad(ref, x, w)
        s_ours, g_ours = spikes_and_input_grad(ours, x, w)
        assert 0.1 < s_ref.mean().item() < 0.9  # both spiking and silent steps, so resets matter
        assert torch.equal(s_ours, s_ref)
        torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)
        assert (g_ref != 0).float().mean() > 0.5


@pytest.mark.parametrize("detach_reset", [False, True])
def test_hard_reset_lif_matches_spikingjelly(detach_reset):
    ours = LIF(decay=0.5, threshold=1.0, reset="hard", v_reset=0.0, detach_reset=detach_reset,
               estimator="atan", estimator_params={"alpha": 2.0})
    ref = sj_neuron.LIFNode(tau=2.0, decay_input=False, v_threshold=1.0, v_reset=0.0,
                            surrogate_function=sj_surrogate.ATan(alpha=2.0), detach_reset=detach_reset,
                            step_mode="m")
    assert ref.training  # SpikingJelly's eval path is a different (gradient-free) code path
    compare(ours, ref)


@pytest.mark.parametrize("detach_reset", [False, True])
def test_soft_reset_lif_matches_spikingjelly(detach_reset):
    ours = LIF(decay=0.5, reset="soft", detach_reset=detach_reset, estimator="atan",
               estimator_params={"alpha": 2.0})
    ref = sj_neuron.LIFNode(tau=2.0, decay_input=False, v_reset=None, detach_reset=detach_reset,
                            surrogate_function=sj_surrogate.ATan(alpha=2.0), step_mode="m")
    compare(ours, ref)


@pytest.mark.parametrize("reset", ["hard", "soft"])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_integrate_and_fire_matches_spikingjelly(reset, detach_reset):
    ours = LIF(decay=1.0, reset=reset, detach_reset=detach_reset, estimator="atan",
               estimator_params={"alpha": 2.0})
    ref = sj_neuron.IFNode(v_reset=0.0 if reset == "hard" else None, detach_reset=detach_reset,
                           surrogate_function=sj_surrogate.ATan(alpha=2.0), step_mode="m")
    for seed in (2, 3):
        x, w = make_inputs(seed)
        x = x - 0.3  # IF integrates without leak: a smaller drive keeps both firing and silence
        sj_functional.reset_net(ref)
        s_ref, g_ref = spikes_and_input_grad(ref, x, w)
        s_ours, g_ours = spikes_and_input_grad(ours, x, w)
        assert 0.1 < s_ref.mean().item() < 0.9
        assert torch.equal(s_ours, s_ref)
        torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)


def test_triangle_surrogate_matches_spikingjelly_piecewise_quadratic():
    # CertifiedSNN's neuron (science.md §1): IF, hard reset, triangle gamma 1 == SJ PiecewiseQuadratic(alpha 1)
    ours = LIF(decay=1.0, estimator="triangle", estimator_params={"gamma": 1.0})
    ref = sj_neuron.IFNode(v_reset=0.0, surrogate_function=sj_surrogate.PiecewiseQuadratic(alpha=1.0),
                           step_mode="m")
    x, w = make_inputs(4)
    s_ref, g_ref = spikes_and_input_grad(ref, x - 0.3, w)
    s_ours, g_ours = spikes_and_input_grad(ours, x - 0.3, w)
    assert torch.equal(s_ours, s_ref)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)


def test_forward_starts_at_rest_on_every_call():
    lif = LIF(decay=0.5, estimator="atan")
    x, _ = make_inputs(5)
    first = lif(x)
    lif(torch.full_like(x, 0.9))  # a call that leaves the membrane charged if state leaked
    assert torch.equal(lif(x), first)


@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_step_in_a_loop_equals_forward(reset):
    lif = LIF(decay=0.75, threshold=0.9, reset=reset, v_reset=-0.2, estimator="sigmoid",
              estimator_params={"alpha": 4.0})
    x, w = make_inputs(6)
    s_fwd, g_fwd = spikes_and_input_grad(lif, x, w)

    xs = x.clone().requires_grad_(True)
    state = LIFState(torch.full((B, N), -0.2, dtype=F64))  # "at rest" is v = v_reset
    steps = []
    for t in range(T):
        s, state = lif.step(xs[t], state)
        steps.append(s)
    s_loop = torch.stack(steps)
    (g_loop,) = torch.autograd.grad((s_loop * w).sum(), xs)
    assert torch.equal(s_fwd, s_loop.detach())
    torch.testing.assert_close(g_fwd, g_loop, rtol=1e-12, atol=1e-12)


def test_from_parameters_and_repr():
    p = LIFParameters(decay=0.25, threshold=0.5, reset="soft", v_reset=0.1, detach_reset=True)
    est = estimators.build("triangle", gamma=0.5)
    lif = LIF.from_parameters(p, est)
    assert lif.p == p and lif.estimator is est
    assert "decay=0.25, threshold=0.5, reset=soft, v_reset=0.1, detach_reset=True" in repr(lif)
    assert "Triangle(gamma=0.5)" in repr(lif)


def test_bad_parameters_reach_the_module():
    with pytest.raises(ValueError, match="decay"):
        LIF(decay=2.0)
    with pytest.raises(ValueError, match="alpha"):
        LIF(estimator="atan", estimator_params={"alpha": 0.0})
