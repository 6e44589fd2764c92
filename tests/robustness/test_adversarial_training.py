import pytest
import torch

from bench.data import MNIST5k
from bench.robustness import AttackableSNN, build_attack
from bench.robustness.evaluate import correct_draws
from bench.training.adversarial import AdversarialTraining, parseval_retraction

from .conftest import train


def _pgd_accuracy(model, x, y, eps):
    torch.manual_seed(0)
    AttackableSNN(model).restart_streams()
    adv = build_attack("pgd", AttackableSNN(model), eps, steps=10)(x, y)
    return correct_draws(model, adv, y, 3).all(1).float().mean().item()


def test_pgd_training_buys_robustness(rate_mnist, tmp_path):
    standard, _ = rate_mnist
    robust, _ = train(tmp_path, MNIST5k(batch_size=64), 3, arch="mlp", arch_params={"hidden": [128]},
                      encoder="rate", timesteps=4, estimator="atan",
                      adversarial={"attack": "pgd", "eps": "0.1", "steps": 3, "step_size": 0.4})
    dm = MNIST5k()
    dm.setup()
    x, y = dm.splits["test"].tensors[0][:200], dm.splits["test"].tensors[1][:200]
    before, after = _pgd_accuracy(standard, x, y, 0.1), _pgd_accuracy(robust, x, y, 0.1)
    assert after > before + 0.25, (before, after)
    assert robust.describe()["training"]["adversarial"]["eps"] == 0.1


def test_adversarial_settings_are_checked():
    assert AdversarialTraining(eps="8/255").eps == 8 / 255
    with pytest.raises(ValueError, match="unknown adversarial training attack 'cw'; choose one of pgd, fgsm, gn"):
        AdversarialTraining(attack="cw")
    with pytest.raises(ValueError, match="unknown gradient mode"):
        AdversarialTraining(gradient_mode="bptt")
    assert AdversarialTraining.from_config(None) is None


def test_parseval_retraction_fixes_tight_frames_and_pulls_scaled_ones_back():
    q, _ = torch.linalg.qr(torch.randn(8, 5))
    layer = torch.nn.Linear(8, 5, bias=False)
    with torch.no_grad():
        layer.weight.copy_(q.T)  # orthonormal rows: W W^T = I
    parseval_retraction(layer, beta=0.1)
    assert torch.allclose(layer.weight, q.T, atol=1e-6)
    with torch.no_grad():
        layer.weight.copy_(2 * q.T)
    parseval_retraction(layer, beta=0.1)
    # (1 + b) 2Q - b (2Q)(2Q)^T(2Q) = (2 + 2b - 8b) Q = 1.4 Q
    assert torch.allclose(layer.weight, 1.4 * q.T, atol=1e-6)
