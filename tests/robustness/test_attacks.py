import pytest
import torch
import torch.nn.functional as F
import torchattacks

from bench.robustness import AttackableSNN, attacks, build_attack


def _grad(model, x, y):
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(F.cross_entropy(model(x), y), x)[0]


def test_eot_fgsm_steps_along_the_mean_gradient_over_draws(rate_mnist):
    model, _ = rate_mnist
    target = AttackableSNN(model)
    x, y = torch.rand(8, 1, 28, 28), torch.arange(8) % 10
    target.restart_streams()
    adv = build_attack("fgsm", target, 0.1, eot=5)(x, y)
    target.restart_streams()  # the same encoder draws, in the same order, by hand
    mean = sum(_grad(target, x, y) for _ in range(5)) / 5
    assert torch.equal(adv, (x + 0.1 * mean.sign()).clamp(0, 1))
    single = (x + 0.1 * _grad(target, x, y).sign()).clamp(0, 1)
    assert not torch.equal(adv, single)  # one draw is not the average


def test_torchattacks_eotpgd_sums_the_same_draws(rate_mnist):
    model, _ = rate_mnist
    target = AttackableSNN(model)
    x, y = torch.rand(6, 1, 28, 28), torch.arange(6)
    target.restart_streams()
    adv = torchattacks.EOTPGD(target, eps=0.2, alpha=0.2, steps=1, eot_iter=4, random_start=False)(x, y)
    target.restart_streams()
    total = sum(_grad(target, x, y) for _ in range(4))
    assert torch.equal(adv, (x + 0.2 * total.sign()).clamp(0, 1))


@pytest.mark.parametrize("name", ["fgsm", "pgd", "eotpgd", "apgd-ce", "apgd-dlr", "square"])
def test_attacks_stay_in_the_eps_ball_and_the_pixel_box(rate_mnist, name):
    model, _ = rate_mnist
    params = {"pgd": {"steps": 3}, "eotpgd": {"steps": 2, "eot": 2}, "apgd-ce": {"steps": 3},
              "apgd-dlr": {"steps": 3}, "square": {"queries": 20}}.get(name, {})
    x, y = torch.rand(4, 1, 28, 28), torch.arange(4)
    adv = build_attack(name, AttackableSNN(model), 0.05, **params)(x, y)
    assert adv.shape == x.shape and adv.min() >= 0 and adv.max() <= 1
    assert (adv - x).abs().max() <= 0.05 + 1e-6


def test_transfer_crafts_on_the_source_model(rate_mnist):
    model, _ = rate_mnist
    x, y = torch.rand(4, 1, 28, 28), torch.arange(4)
    source, target = AttackableSNN(model), AttackableSNN(model, "ann")  # the target's gradients are never used
    source.restart_streams()
    torch.manual_seed(0)
    adv = build_attack("transfer", target, 0.1, source=source, steps=2)(x, y)
    source.restart_streams()
    torch.manual_seed(0)
    on_source = torchattacks.PGD(source, eps=0.1, alpha=0.025, steps=2)(x, y)
    assert torch.equal(adv, on_source) and (adv - x).abs().max() <= 0.1 + 1e-6


def test_unknown_attacks_and_negative_epsilons_are_refused(rate_mnist):
    model, _ = rate_mnist
    with pytest.raises(KeyError, match="unknown attack 'cw'; available: apgd-ce, apgd-dlr, eotpgd, fgsm"):
        build_attack("cw", AttackableSNN(model), 0.1)
    with pytest.raises(ValueError, match="epsilon must be >= 0"):
        build_attack("pgd", AttackableSNN(model), -0.1)
    assert attacks.available() == ["apgd-ce", "apgd-dlr", "eotpgd", "fgsm", "gn", "pgd", "square", "transfer"]
