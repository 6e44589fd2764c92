"""Certification: the bound, the radii, soundness by exact enumeration, and CERTIFY on a trained SNN."""

import itertools
import json
import math

import numpy as np
import pytest
import torch
import yaml
from scipy import stats

from bench.robustness.certification import certify_checkpoint
from bench.robustness.certify import ABSTAIN, certify, clopper_pearson_lower, l1_radius, l2_radius, reference_radius


def test_clopper_pearson_matches_reference_values():
    # 37 of 50 at 95 % two-sided: (0.596552, 0.853699) from statsmodels and scipy (research/env.md).
    assert clopper_pearson_lower(37, 50, 0.025) == pytest.approx(0.596552, abs=1e-6)
    for k, n, alpha in [(0, 10, 0.01), (3, 10, 0.05), (99, 100, 0.001), (9990, 10000, 0.001)]:
        exact = stats.binomtest(k, n).proportion_ci(confidence_level=1 - 2 * alpha, method="exact").low
        assert clopper_pearson_lower(k, n, alpha) == pytest.approx(exact, abs=1e-12)
    assert clopper_pearson_lower(20, 20, 0.001) == pytest.approx(0.001 ** (1 / 20))  # k = n: alpha^(1/n)
    vector = clopper_pearson_lower(np.array([0, 5, 10]), 10, 0.05)
    as_tensor = clopper_pearson_lower(torch.tensor([0, 5, 10]), torch.tensor(10), 0.05)
    assert vector[0] == 0 and np.allclose(vector, as_tensor.numpy())


def test_l1_radius_is_the_t_free_formula_at_t1_and_smaller_after():
    for p in (0.5, 0.6, 0.75, 0.99, 1.0):
        assert l1_radius(p, 1) == pytest.approx(reference_radius(p))
        assert l1_radius(p, 3) <= l1_radius(p, 1)
    assert l1_radius(0.5, 4) == 0.0 and l1_radius(0.2, 1) == 0.0
    assert l1_radius(1.0, 3) == pytest.approx(1 - 0.5 ** (1 / 3)) == pytest.approx(0.2063, abs=1e-4)
    p = torch.tensor([0.3, 0.6, 0.9, 1.0], dtype=torch.float64)
    assert torch.allclose(l1_radius(p, 4), torch.tensor([l1_radius(float(v), 4) for v in p], dtype=torch.float64))


def test_l2_radius_is_sigma_times_the_normal_quantile():
    assert l2_radius(0.9, 0.5) == pytest.approx(0.5 * stats.norm.ppf(0.9))
    assert l2_radius(0.5, 0.5) == 0.0
    assert torch.allclose(l2_radius(torch.tensor([0.4, 0.99], dtype=torch.float64), 0.25),
                          torch.tensor([0.0, 0.25 * stats.norm.ppf(0.99)], dtype=torch.float64))
    with pytest.raises(ValueError, match="sigma must be > 0"):
        l2_radius(0.9, 0.0)


def _class_probabilities(x: np.ndarray, timesteps: int, table: dict, classes: int) -> np.ndarray:
    """Exact P(f(S) = c) by enumerating every spike pattern S in {0, 1}^(T x d)."""
    probs = np.zeros(classes)
    rates = np.tile(x, timesteps)
    for pattern in itertools.product((0, 1), repeat=len(rates)):
        s = np.array(pattern)
        probs[table[pattern]] += np.prod(np.where(s == 1, rates, 1 - rates))
    return probs


def test_the_t_free_radius_fails_the_science_md_counterexample_and_r_is_tight():
    timesteps, x = 3, np.array([0.0])
    table = {p: 0 if sum(p) == 0 else 1 for p in itertools.product((0, 1), repeat=3)}  # A iff all spikes are 0
    p_a = _class_probabilities(x, timesteps, table, 2)[0]
    assert p_a == 1.0 and reference_radius(p_a) == 0.5
    assert _class_probabilities(np.array([0.3]), timesteps, table, 2)[0] == pytest.approx(0.343)  # < 1/2
    r = l1_radius(p_a, timesteps)
    assert r == pytest.approx(0.2063, abs=1e-4)
    assert _class_probabilities(np.array([r]), timesteps, table, 2)[0] == pytest.approx(0.5)  # tight


@pytest.mark.parametrize(("pixels", "timesteps"), [(1, 1), (1, 3), (2, 2), (3, 1), (2, 3), (3, 2)])
def test_every_perturbation_inside_the_radius_keeps_the_prediction(pixels, timesteps):
    rng = np.random.default_rng(pixels * 10 + timesteps)
    checked = 0
    for _ in range(25):  # random lookup-table base classifiers and inputs
        classes = int(rng.integers(2, 4))
        table = {p: int(rng.integers(classes)) for p in itertools.product((0, 1), repeat=pixels * timesteps)}
        # Inside the box, or on its corners (where clipping decides what a perturbation can do).
        x = rng.uniform(0, 1, pixels) if rng.uniform() < 0.7 else rng.integers(0, 2, pixels).astype(float)
        probs = _class_probabilities(x, timesteps, table, classes)
        top = int(probs.argmax())
        radius = l1_radius(float(probs[top]), timesteps)
        if radius == 0:
            continue
        directions = [rng.standard_normal(pixels) for _ in range(30)]
        directions += [np.eye(pixels)[i] * s for i in range(pixels) for s in (1, -1)]  # all mass on one pixel
        for d in directions:
            delta = d / np.abs(d).sum() * radius * (1 - 1e-9)
            moved = np.clip(x + delta, 0, 1)
            assert np.abs(moved - x).sum() < radius
            assert _class_probabilities(moved, timesteps, table, classes)[top] > 0.5 - 1e-12
            checked += 1
    assert checked > 100


def test_certify_on_a_rate_encoded_mnist_model(rate_mnist):
    model, _ = rate_mnist
    from bench.data import MNIST5k
    from bench.robustness import AttackableSNN

    dm = MNIST5k()
    dm.setup()
    x, y = dm.splits["test"].tensors[0][:8], dm.splits["test"].tensors[1][:8]
    certificates = []
    for xi in x:
        AttackableSNN(model).restart_streams()
        certificates.append(certify(model, xi, n0=20, n=300, alpha=0.001, batch_size=100))
    correct = [c for c, yi in zip(certificates, y, strict=True) if c.prediction == int(yi)]
    assert len(correct) >= 5  # non-trivial certified accuracy at radius 0
    assert all(c.radius == l1_radius(c.p_lower, 4) and c.radius <= 1 - 0.5 ** 0.25 for c in correct)
    AttackableSNN(model).restart_streams()
    again = certify(model, x[0], n0=20, n=300, alpha=0.001, batch_size=37)  # another batch size
    assert again == certificates[0]  # same seed: the same counts


def test_bad_certification_requests_are_refused(rate_mnist, direct_synthetic):
    rate, _ = rate_mnist
    direct, _ = direct_synthetic
    x = torch.rand(1, 28, 28)
    with pytest.raises(ValueError, match="alpha must be in"):
        certify(rate, x, 10, 100, 1.0, 10)
    with pytest.raises(ValueError, match="n0 must be >= 1"):
        certify(rate, x, 0, 100, 0.01, 10)
    with pytest.raises(ValueError, match=r"l1 certificate needs rate .* certify it under l2 with Gaussian"):
        certify(direct, torch.rand(1, 6, 6), 10, 100, 0.01, 10, norm="l1")
    with pytest.raises(ValueError, match="sigma must be > 0"):
        certify(direct, torch.rand(1, 6, 6), 10, 100, 0.01, 10, norm="l2", sigma=-1.0)
    with pytest.raises(ValueError, match="l2 Gaussian smoothing is for direct-encoded models"):
        certify(rate, x, 10, 100, 0.01, 10, norm="l2", sigma=0.25)


PROTOCOL = {"version": "test", "seed": 0, "subset": 30, "draws": 2, "gradient_modes": ["own"],
            "epsilons": {"mnist5k": ["0.1"], "synthetic": ["0.1"]}, "huge_epsilon": "1", "attacks": {},
            "certify": {"subset": 12, "n0": 20, "n": 400, "alpha": 0.001, "batch_size": 200, "chunk": 5,
                        "l1_radii": [0.0, 0.05, 0.1], "l2_radii": [0.0, 0.25], "sigma": {"synthetic": 0.25}}}


def test_certify_command_writes_curve_records_and_resumes(rate_mnist, tmp_path):
    _, ckpt = rate_mnist
    protocol = tmp_path / "p.yaml"
    protocol.write_text(yaml.safe_dump(PROTOCOL))
    record = certify_checkpoint(ckpt, protocol=str(protocol), out=tmp_path / "out")
    summary = record["metrics"]["certified"]
    assert summary["norm"] == "l1" and summary["timesteps"] == 4 and summary["n"] == 400
    assert summary["radius_formula"].startswith("R = 1 - (3/2 - p_lower)^(1/T)")
    curve = [c["accuracy"] for c in summary["certified_accuracy"]]
    assert curve[0] > 0.5 and curve == sorted(curve, reverse=True)  # never rises with the radius
    assert len(summary["records"]) == 12 and summary["throughput"]["points_per_s"] > 0
    abstained = sum(r["prediction"] == ABSTAIN for r in summary["records"])
    assert summary["abstain_rate"] == pytest.approx(abstained / 12)
    assert (tmp_path / "out" / "certified-l1.png").stat().st_size > 1000
    reference = summary["reference_radius_certifiedsnn"]["certified_accuracy"]
    assert all(r["accuracy"] >= s["accuracy"] for r, s in zip(reference, summary["certified_accuracy"], strict=True))
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "cells").glob("*.json")}
    again = certify_checkpoint(ckpt, protocol=str(protocol), out=tmp_path / "out")["metrics"]["certified"]
    assert again == summary  # reused jobs: the same records and the throughput measured when they ran
    assert stamps == {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "cells").glob("*.json")}
    assert json.loads((tmp_path / "out" / "certify.json").read_text())["protocol"]["block"] == "certify"


def test_direct_models_get_a_gaussian_l2_certificate_and_a_warning(direct_synthetic, tmp_path):
    _, ckpt = direct_synthetic
    protocol = tmp_path / "p.yaml"
    protocol.write_text(yaml.safe_dump(PROTOCOL))
    summary = certify_checkpoint(ckpt, protocol=str(protocol), out=tmp_path / "out")["metrics"]["certified"]
    assert summary["norm"] == "l2" and summary["sigma"] == 0.25
    assert "not trained with Gaussian noise" in summary["note"]
    for record in summary["records"]:
        if record["prediction"] != ABSTAIN:
            assert record["radius"] == pytest.approx(0.25 * stats.norm.ppf(record["p_lower"]))
    assert math.isfinite(summary["smoothed_accuracy"])
