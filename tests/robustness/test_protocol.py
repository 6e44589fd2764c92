import pytest
import torch

from bench.robustness import flags, load_protocol, parse_epsilon


def test_epsilons_keep_their_label_and_refuse_nonsense():
    assert parse_epsilon("8/255").value == 8 / 255 and parse_epsilon("8/255").label == "8/255"
    assert parse_epsilon(0.3).value == 0.3
    with pytest.raises(ValueError, match=r"epsilon must be >= 0, got -0\.1"):
        parse_epsilon("-0.1")
    with pytest.raises(ValueError, match="not a number"):
        parse_epsilon("eight")


def test_v1_matrix_for_mnist():
    v1 = load_protocol("v1", "mnist5k")
    assert v1.name == "v1" and v1.subset == 1000 and [e.label for e in v1.epsilons] == ["0.1", "0.3"]
    cells = v1.cells(stochastic=True, transfer=True)
    modes = len(v1.gradient_modes)  # 5
    per_eps = 5 * modes + 3  # 5 white-box attacks through every mode; square, gn, transfer
    assert len(cells) == 2 * per_eps + modes  # + the huge-eps PGD probe per mode
    apgd = next(c for c in cells if c.attack == "apgd-ce")
    assert apgd.params == {"steps": 100, "restarts": 1, "eot": 20}  # AutoAttack 'rand'
    assert len({c.key for c in cells}) == len(cells)
    deterministic = v1.cells(stochastic=False, transfer=False)
    assert all(c.params.get("eot", 1) == 1 for c in deterministic)
    assert not any(c.attack == "transfer" for c in deterministic)


def test_quick_is_cheaper_and_named_so():
    quick = load_protocol("v1", "cifar10", quick=True)
    assert quick.name == "v1-quick" and quick.subset == 200 and quick.attacks["apgd-ce"]["steps"] == 20
    assert [e.value for e in quick.epsilons] == [8 / 255]


def test_unknown_protocols_and_datasets_are_explained():
    with pytest.raises(FileNotFoundError, match="unknown protocol 'v9'; available: v1"):
        load_protocol("v9", "mnist5k")
    with pytest.raises(ValueError, match="no epsilons for dataset 'imagenet'"):
        load_protocol("v1", "imagenet")


def test_the_worst_case_is_per_point():
    # Point 0 survives both attacks; point 1 survives A but B breaks it; point 2 the other way round.
    a = torch.tensor([[True, True], [True, True], [True, False]])
    b = torch.tensor([[True, True], [False, True], [True, True]])
    assert flags.worst_case([a, b]).tolist() == [True, False, False]
    # Either attack alone leaves 2/3 robust; the per-point worst case leaves 1/3.
    assert a.all(1).float().mean() == b.all(1).float().mean() == 2 / 3


def test_flags_fire_on_the_symptoms_and_stay_quiet_otherwise():
    assert flags.zero_gradients({"own": 0.0, "ann": 0.0}) is None
    flag = flags.zero_gradients({"own": 0.0, "surrogate:heaviside": 1.0})
    assert flag.name == "zero_gradients" and flag.value == 1.0 and "surrogate:heaviside" in flag.message
    white = torch.tensor([True] * 10)
    assert flags.black_box_stronger(white, white) is None
    assert flags.black_box_stronger(white, torch.tensor([False] + [True] * 9)).value == pytest.approx(0.1)
    assert flags.large_epsilon_not_zero({"own": 0.0, "bptr": 0.01}, "1") is None
    assert flags.large_epsilon_not_zero({"own": 0.0, "bptr": 0.4}, "1").value == 0.4
    assert flags.unhandled_randomness(0.2, eot_used=True) is None
    assert flags.unhandled_randomness(0.0, eot_used=False) is None
    assert flags.unhandled_randomness(0.2, eot_used=False).name == "unhandled_randomness"
