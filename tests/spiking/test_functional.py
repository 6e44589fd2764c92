"""LIF dynamics of science.md §1, checked against trajectories worked out by hand (Norse-style tests)."""

from __future__ import annotations

import math

import pytest
import torch

from bench.spiking import estimators
from bench.spiking.functional import LIFParameters, LIFState, lif_multistep, lif_step, merge_time, split_time

F64 = torch.float64


def run_steps(inputs, p, spike_fn, v0=None):
    """Drive lif_step by hand over a list of scalar inputs; returns (spikes, v after each step)."""
    state = LIFState(torch.tensor([p.v_reset if v0 is None else v0], dtype=F64))
    spikes, vs = [], []
    for x in inputs:
        s, state = lif_step(torch.tensor([x], dtype=F64), state, p, spike_fn)
        spikes.append(s.item())
        vs.append(state.v.item())
    return spikes, vs


def test_hard_reset_lif_trajectory(heaviside):
    # decay 0.5, threshold 1, hard reset to 0, constant input 0.6:
    # t1: v = 0.5*0   + 0.6 = 0.6    no spike
    # t2: v = 0.5*0.6 + 0.6 = 0.9    no spike
    # t3: v = 0.5*0.9 + 0.6 = 1.05   spike -> v = 0
    # t4: v = 0.6, t5: v = 0.9       (the cycle repeats with period 3)
    p = LIFParameters(decay=0.5, threshold=1.0, reset="hard")
    spikes, vs = run_steps([0.6] * 5, p, heaviside)
    assert spikes == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert vs == pytest.approx([0.6, 0.9, 0.0, 0.6, 0.9], abs=1e-12)


def test_soft_reset_lif_trajectory(heaviside):
    # decay 0.5, threshold 1, soft reset (v - threshold), constant input 0.6:
    # t1 0.6; t2 0.9; t3 1.05 -> spike, v = 0.05; t4 0.025 + 0.6 = 0.625; t5 0.3125 + 0.6 = 0.9125;
    # t6 0.45625 + 0.6 = 1.05625 -> spike, v = 0.05625
    p = LIFParameters(decay=0.5, threshold=1.0, reset="soft")
    spikes, vs = run_steps([0.6] * 6, p, heaviside)
    assert spikes == [0.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    assert vs == pytest.approx([0.6, 0.9, 0.05, 0.625, 0.9125, 0.05625], abs=1e-12)


def test_integrate_and_fire_hard_reset(heaviside):
    # decay 1.0 (IF), input 0.4: 0.4, 0.8, 1.2 -> spike, 0; 0.4, 0.8, 1.2 -> spike, 0
    p = LIFParameters(decay=1.0, threshold=1.0, reset="hard")
    spikes, vs = run_steps([0.4] * 6, p, heaviside)
    assert spikes == [0.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    assert vs == pytest.approx([0.4, 0.8, 0.0, 0.4, 0.8, 0.0], abs=1e-12)


def test_integrate_and_fire_soft_reset_fires_exactly_at_threshold(heaviside):
    # Dyadic numbers, so every value is exact in floating point. IF, soft reset, input 3/8:
    # 0.375, 0.75, 1.125 -> spike, 0.125; 0.5, 0.875, 1.25 -> spike, 0.25; 0.625, 1.0 -> spike (u == 0
    # fires: H(0) = 1), 0.0
    p = LIFParameters(decay=1.0, threshold=1.0, reset="soft")
    spikes, vs = run_steps([0.375] * 8, p, heaviside)
    assert spikes == [0, 0, 1, 0, 0, 1, 0, 1]
    assert vs == [0.375, 0.75, 0.125, 0.5, 0.875, 0.25, 0.625, 0.0]


def test_u_equal_zero_fires_with_an_estimator():
    # decay 0.5, inputs 0.5 then 0.75: v = 0.5, then 0.25 + 0.75 = 1.0 == threshold -> fires (H(0) = 1)
    p = LIFParameters(decay=0.5, threshold=1.0)
    spikes, _ = lif_multistep(torch.tensor([[0.5], [0.75]], dtype=F64), p, estimators.build("atan"))
    assert spikes.flatten().tolist() == [0.0, 1.0]


def test_nonzero_v_reset_is_the_start_and_the_reset_value(heaviside):
    # v_reset = -0.5 (also the initial potential), decay 0.5, threshold 1, input 0.8.
    # The leak is v_t = decay * v_{t-1} + x_t (science.md §1), i.e. towards 0, not towards v_reset:
    # t1: 0.5*(-0.5) + 0.8 = 0.55; t2: 0.275 + 0.8 = 1.075 -> spike, v = -0.5; t3 0.55; t4 1.075 -> spike
    p = LIFParameters(decay=0.5, threshold=1.0, reset="hard", v_reset=-0.5)
    spikes, vs = run_steps([0.8] * 4, p, heaviside)
    assert spikes == [0.0, 1.0, 0.0, 1.0]
    assert vs == pytest.approx([0.55, -0.5, 0.55, -0.5], abs=1e-12)
    # lif_multistep with state=None starts from v_reset, so it gives the same trajectory.
    s_seq, state = lif_multistep(torch.full((4, 1), 0.8, dtype=F64), p, heaviside)
    assert s_seq.flatten().tolist() == spikes
    assert state.v.item() == pytest.approx(-0.5, abs=1e-12)


def test_soft_reset_ignores_v_reset(heaviside):
    # Soft reset subtracts the threshold whatever v_reset is; v_reset is only the starting potential.
    # v0 = 0.25, decay 1, input 0.5: 0.75; 1.25 -> spike, 0.25; 0.75
    p = LIFParameters(decay=1.0, threshold=1.0, reset="soft", v_reset=0.25)
    spikes, vs = run_steps([0.5] * 3, p, heaviside)
    assert spikes == [0.0, 1.0, 0.0]
    assert vs == [0.75, 0.25, 0.75]


@pytest.mark.parametrize("reset", ["hard", "soft"])
@pytest.mark.parametrize("detach_reset", [False, True])
@pytest.mark.parametrize("v_reset", [0.0, -0.3])
def test_multistep_equals_a_loop_of_steps(reset, detach_reset, v_reset):
    torch.manual_seed(0)
    p = LIFParameters(decay=0.75, threshold=0.8, reset=reset, v_reset=v_reset, detach_reset=detach_reset)
    fn = estimators.build("sigmoid", alpha=3.0)
    x = (torch.randn(7, 3, 5, dtype=F64) * 0.7 + 0.3).requires_grad_(True)
    w = torch.randn(7, 3, 5, dtype=F64)

    s_multi, final = lif_multistep(x, p, fn)
    (g_multi,) = torch.autograd.grad((s_multi * w).sum(), x)

    state = LIFState(torch.full((3, 5), v_reset, dtype=F64))  # state=None must mean "start at v_reset"
    s_loop = []
    for t in range(7):
        s, state = lif_step(x[t], state, p, fn)
        s_loop.append(s)
    s_loop = torch.stack(s_loop)
    (g_loop,) = torch.autograd.grad((s_loop * w).sum(), x)

    assert 0.05 < s_multi.mean().item() < 0.95  # the neurons do fire sometimes, so resets are exercised
    assert torch.equal(s_multi, s_loop)
    assert torch.equal(final.v, state.v)
    torch.testing.assert_close(g_multi, g_loop, rtol=1e-12, atol=1e-12)


def test_multistep_continues_from_a_given_state(heaviside):
    p = LIFParameters(decay=0.5)
    x = torch.full((3, 1), 0.6, dtype=F64)
    _, mid = lif_multistep(x[:2], p, heaviside)
    s_tail, end_tail = lif_multistep(x[2:], p, heaviside, state=mid)
    s_all, end_all = lif_multistep(x, p, heaviside)
    assert torch.equal(s_tail, s_all[2:]) and torch.equal(end_tail.v, end_all.v)


def _atan(u: float, alpha: float = 2.0) -> float:
    return (alpha / 2) / (1 + (math.pi / 2 * alpha * u) ** 2)


@pytest.mark.parametrize("reset", ["hard", "soft"])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_gradient_through_the_reset_by_hand(reset, detach_reset):
    # Two steps, decay l = 0.5, threshold 1, v_reset 0, inputs x1 = 1.5 (fires), x2 = 0.25; loss = s2.
    # v1 = x1, u1 = 0.5, s1 = 1; g = atan(alpha 2) surrogate.
    #   hard: v1' = v1 (1 - s1)  -> dv1'/dx1 = (1 - s1) - v1 g(u1) = -1.5 g(0.5); 0 if the reset is detached
    #         v2 = l*0 + 0.25, u2 = -0.75
    #   soft: v1' = v1 - s1      -> dv1'/dx1 = 1 - g(u1); 1 if detached
    #         v2 = l*0.5 + 0.25 = 0.5, u2 = -0.5
    # ds2/dx1 = g(u2) * l * dv1'/dx1, ds2/dx2 = g(u2)
    p = LIFParameters(decay=0.5, threshold=1.0, reset=reset, detach_reset=detach_reset)
    x = torch.tensor([[1.5], [0.25]], dtype=F64, requires_grad=True)
    s, _ = lif_multistep(x, p, estimators.build("atan", alpha=2.0))
    assert s.flatten().tolist() == [1.0, 0.0]
    (grad,) = torch.autograd.grad(s[1].sum(), x)
    if reset == "hard":
        u2, dv1 = -0.75, (0.0 if detach_reset else -1.5 * _atan(0.5))
    else:
        u2, dv1 = -0.5, (1.0 if detach_reset else 1.0 - _atan(0.5))
    expected = [_atan(u2) * 0.5 * dv1, _atan(u2)]
    assert grad.flatten().tolist() == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("decay", [-0.1, 1.5])
def test_bad_decay_is_refused(decay):
    with pytest.raises(ValueError, match="decay"):
        LIFParameters(decay=decay)


@pytest.mark.parametrize("threshold", [0.0, -1.0, float("nan")])
def test_bad_threshold_is_refused(threshold):
    with pytest.raises(ValueError, match="threshold"):
        LIFParameters(threshold=threshold)


def test_unknown_reset_is_refused():
    with pytest.raises(ValueError, match=r"reset.*'medium'"):
        LIFParameters(reset="medium")


def test_boundary_decays_are_accepted():
    assert LIFParameters(decay=0.0).decay == 0.0 and LIFParameters(decay=1.0).decay == 1.0


def test_merge_and_split_time_round_trip():
    x = torch.arange(3 * 4 * 5, dtype=F64).reshape(3, 4, 5)
    merged = merge_time(x)
    assert merged.shape == (12, 5)
    for t in range(3):
        for b in range(4):
            assert torch.equal(merged[t * 4 + b], x[t, b])  # time-major: row t*B + b
    assert torch.equal(split_time(merged, 3), x)
    y = torch.randn(6, 2, 3, 3)
    assert torch.equal(merge_time(split_time(y, 2)), y)
    assert split_time(y, 2).shape == (2, 3, 2, 3, 3)
