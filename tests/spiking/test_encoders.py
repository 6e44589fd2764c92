"""Encoders of science.md §3: direct repetition, Bernoulli rate coding with a straight-through backward."""

from __future__ import annotations

import math

import pytest
import torch

from bench.spiking import encoders
from bench.spiking.encoders import DirectEncoder, RateEncoder, direct_encode, rate_encode


def test_rate_encode_mean_is_the_intensity():
    x = torch.linspace(0.0, 1.0, 11, dtype=torch.float64).reshape(1, 11)
    t = 20_000
    s = rate_encode(x, t, generator=torch.Generator().manual_seed(0))
    assert s.shape == (t, 1, 11)
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    rate = s.mean(0)
    sd = (x * (1 - x) / t).sqrt()  # binomial standard deviation of the mean; 0 at x = 0 and x = 1
    assert torch.all((rate - x).abs() <= 5 * sd), (rate - x) / sd
    assert rate[0, 0] == 0.0 and rate[0, -1] == 1.0  # deterministic ends


def test_rate_encode_draws_are_independent_over_time():
    # at x = 1/2, the fraction of equal consecutive pairs s_t == s_{t+1} is 1/2 for i.i.d. draws
    s = rate_encode(torch.full((1, 1000), 0.5), 200, generator=torch.Generator().manual_seed(1))
    same = (s[1:] == s[:-1]).double().mean().item()
    n = 199 * 1000
    assert abs(same - 0.5) <= 5 * math.sqrt(0.25 / n)


def test_rate_encode_gradient_is_the_straight_through_mean():
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(3, 2, 4, 4, generator=gen).requires_grad_(True)
    w = torch.randn(6, 3, 2, 4, 4, generator=gen)
    spikes = rate_encode(x, 6, generator=gen)
    (spikes * w).sum().backward()
    assert torch.equal(x.grad, w.mean(0))  # dL/dx = (1/T) sum_t dL/ds_t, exactly


@pytest.mark.parametrize("bad", [[1.5, 0.2], [-0.1, 0.5], [-0.5, 2.0]])
def test_rate_encode_refuses_values_outside_unit_interval(bad):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rate_encode(torch.tensor(bad), 4)


def test_rate_encode_accepts_the_closed_interval():
    s = rate_encode(torch.tensor([0.0, 1.0]), 5)
    assert s.tolist() == [[0.0, 1.0]] * 5


@pytest.mark.parametrize("timesteps", [0, -3])
def test_zero_timesteps_are_refused(timesteps):
    with pytest.raises(ValueError, match="timesteps"):
        rate_encode(torch.rand(2), timesteps)
    with pytest.raises(ValueError, match="timesteps"):
        direct_encode(torch.rand(2), timesteps)
    with pytest.raises(ValueError, match="timesteps"):
        RateEncoder(timesteps, seed=0)
    with pytest.raises(ValueError, match="timesteps"):
        DirectEncoder(timesteps)


X = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(3))


def test_rate_encoder_same_seed_same_spikes_different_seed_different():
    a = RateEncoder(6, seed=10)(X)
    assert a.shape == (6, *X.shape)
    assert torch.equal(a, RateEncoder(6, seed=10)(X))
    assert not torch.equal(a, RateEncoder(6, seed=11)(X))


def test_rate_encoder_train_and_eval_streams_are_separate():
    enc = RateEncoder(6, seed=20)
    ref = RateEncoder(6, seed=20)  # trains twice in a row, never evaluates
    ref_train = [ref(X), ref(X)]

    train1 = enc(X)
    enc.eval()
    eval1 = enc(X)
    enc.train()
    train2 = enc(X)
    # evaluating in between did not shift the training draws
    assert torch.equal(train1, ref_train[0]) and torch.equal(train2, ref_train[1])
    # and the eval draws are their own stream, not a continuation of the training one
    assert not torch.equal(eval1, train1) and not torch.equal(eval1, train2)
    fresh = RateEncoder(6, seed=20).eval()
    assert torch.equal(fresh(X), eval1)


def test_restart_eval_stream_repeats_the_eval_draws():
    enc = RateEncoder(6, seed=30).eval()
    first, second = enc(X), enc(X)
    assert not torch.equal(first, second)
    enc.restart_eval_stream()
    assert torch.equal(enc(X), first) and torch.equal(enc(X), second)
    enc.train()
    train_before = enc(X)
    enc.restart_eval_stream()  # restarting eval leaves the training stream where it was
    assert not torch.equal(enc(X), train_before)


def test_rate_encoder_is_stochastic_and_keeps_the_gradient():
    enc = RateEncoder(5, seed=0)
    assert RateEncoder.stochastic and not DirectEncoder.stochastic
    x = X.clone().requires_grad_(True)
    enc(x).sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))  # mean over T of ones


def test_direct_encode_repeats_the_input():
    x = torch.randn(2, 3, 4)
    out = direct_encode(x, 5)
    assert out.shape == (5, 2, 3, 4)
    for t in range(5):
        assert torch.equal(out[t], x)
    xg = x.clone().requires_grad_(True)
    (direct_encode(xg, 5) * torch.arange(5.0).view(5, 1, 1, 1)).sum().backward()
    assert torch.equal(xg.grad, torch.full_like(x, 0 + 1 + 2 + 3 + 4))  # the sum over t


def test_direct_encoder_normalizes_per_channel():
    mean, std = [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]
    enc = DirectEncoder(4, mean=mean, std=std)
    out = enc(X)
    assert out.shape == (4, *X.shape)
    for c in range(3):
        want = (X[:, c] - mean[c]) / std[c]
        for t in range(4):
            torch.testing.assert_close(out[t, :, c], want, rtol=1e-6, atol=1e-6)
    assert torch.equal(DirectEncoder(4)(X)[2], X)  # without mean/std: the raw input


@pytest.mark.parametrize("kwargs", [{"mean": [0.5]}, {"std": [0.5]}])
def test_direct_encoder_needs_both_mean_and_std(kwargs):
    with pytest.raises(ValueError, match="mean and std"):
        DirectEncoder(4, **kwargs)


def test_encoders_registry():
    assert encoders.available() == ["direct", "frames", "rate"]
    assert isinstance(encoders.build("rate", timesteps=3, seed=0), RateEncoder)
    assert isinstance(encoders.build("direct", timesteps=3), DirectEncoder)
    with pytest.raises(KeyError) as err:
        encoders.build("dvs", timesteps=3)
    assert "'dvs'" in str(err.value) and "direct" in str(err.value) and "rate" in str(err.value)


def test_nan_intensities_are_refused():
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        rate_encode(torch.tensor([float("nan"), 0.5]), 3)


def test_eval_draws_of_one_seed_are_not_the_training_draws_of_another():
    x = torch.full((64,), 0.5)
    for seed in range(3):
        evaluated = RateEncoder(8, seed=seed).eval()(x)
        assert not any(torch.equal(evaluated, RateEncoder(8, seed=other)(x)) for other in range(4))


def test_frames_encoder_moves_time_first_and_checks_t():
    x = torch.arange(2 * 3 * 4, dtype=torch.int16).view(2, 3, 4)  # [B=2, T=3, 4]
    out = encoders.build("frames", timesteps=3)(x)
    assert out.shape == (3, 2, 4) and out.dtype == torch.float32
    assert torch.equal(out[1, 0], x[0, 1].float())
    with pytest.raises(ValueError, match=r"frames encoder expects input \[B, T=5"):
        encoders.build("frames", timesteps=5)(x)
