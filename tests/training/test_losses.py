import torch
import torch.nn.functional as F

from bench.training import mean_ce, tet


def test_mean_ce_is_cross_entropy_of_the_time_mean():
    torch.manual_seed(0)
    logits, y = torch.randn(5, 3, 4), torch.tensor([0, 3, 1])
    assert torch.allclose(mean_ce(logits, y), F.cross_entropy(logits.mean(0), y))


def test_tet_matches_its_definition_step_by_step():
    torch.manual_seed(1)
    logits, y, lamb, phi = torch.randn(4, 3, 5), torch.tensor([4, 0, 2]), 0.3, 1.0
    per_step = sum(F.cross_entropy(o, y) for o in logits) / len(logits)
    mmd = ((logits - phi) ** 2).mean()
    assert torch.allclose(tet(logits, y, lamb=lamb, phi=phi), (1 - lamb) * per_step + lamb * mmd)
