"""`spikebench evaluate` end to end on models trained in the tests."""

import json
import subprocess
import sys

import pytest
import torch
import yaml

from bench.robustness.evaluate import evaluate

NO_MASKING = {  # PGD through every white-box gradient mode; 0.5 is the huge epsilon
    "version": "test", "seed": 0, "subset": 100, "draws": 3,
    "gradient_modes": ["own", "surrogate:atan", "surrogate:triangle", "bptr", "ann"],
    "epsilons": {"mnist5k": ["0.3"], "synthetic": ["0.1"]}, "huge_epsilon": "0.5",
    "attacks": {"pgd": {"steps": 10, "step_size": 0.25}},
}


def _protocol(tmp_path, **changes):
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump({**NO_MASKING, **changes}))
    return str(path)


def test_pgd_breaks_a_rate_encoded_snn_through_every_gradient_mode(rate_mnist, tmp_path):
    _, ckpt = rate_mnist
    metrics = evaluate(ckpt, protocol=_protocol(tmp_path), out=tmp_path / "eval")["metrics"]
    assert metrics["clean"]["accuracy"] > 0.8
    at_03 = {c["gradient_mode"]: c["robust_accuracy"] for c in metrics["cells"] if c["eps_label"] == "0.3"}
    assert max(at_03.values()) < metrics["clean"]["accuracy"] - 0.5  # far below clean
    huge = {c["gradient_mode"]: c["robust_accuracy"] for c in metrics["cells"] if c["role"] == "masking-check"}
    assert set(huge) == set(NO_MASKING["gradient_modes"]) and max(huge.values()) <= 0.02  # ~0: no masking
    # No masking flag; plain PGD on a rate-encoded (random) model is flagged for using no EOT, rightly.
    assert [f["name"] for f in metrics["flags"]] == ["unhandled_randomness"]
    assert metrics["zero_gradient_fraction"] == dict.fromkeys(NO_MASKING["gradient_modes"], 0.0)
    assert metrics["worst_case"]["0.3"]["robust_accuracy"] <= min(at_03.values())


def test_attacking_through_a_zero_derivative_step_is_flagged(rate_mnist, tmp_path):
    _, ckpt = rate_mnist
    record = evaluate(ckpt, protocol=_protocol(tmp_path, gradient_modes=["surrogate:heaviside"]),
                      out=tmp_path / "eval")
    metrics = record["metrics"]
    names = {f["name"] for f in metrics["flags"]}
    assert metrics["zero_gradient_fraction"]["surrogate:heaviside"] == 1.0
    assert {"zero_gradients", "large_epsilon_not_zero"} <= names and metrics["potentially_unreliable"]
    # PGD without a gradient is random noise: the model looks robust, which is exactly the trap.
    huge = next(c for c in metrics["cells"] if c["role"] == "masking-check")
    assert huge["robust_accuracy"] > 0.3


def test_a_resumed_evaluation_equals_an_uninterrupted_one(rate_mnist, tmp_path):
    _, ckpt = rate_mnist
    protocol = _protocol(tmp_path, gradient_modes=["own", "bptr"],
                         attacks={"fgsm": {"eot": 2}, "pgd": {"steps": 3, "step_size": 0.25}, "gn": {}})
    whole = evaluate(ckpt, protocol=protocol, out=tmp_path / "whole")["metrics"]
    cells = sorted((tmp_path / "whole" / "cells").glob("*.json"))
    assert len(cells) == 1 + 2 + 2 * 2 + 1 + 2  # clean, zero-gradient probes, fgsm/pgd x modes, gn, huge eps
    partial = tmp_path / "partial" / "cells"
    partial.mkdir(parents=True)
    for path in cells[::2]:  # an interrupted run got every other cell done
        (partial / path.name).write_text(path.read_text())
    assert evaluate(ckpt, protocol=protocol, out=tmp_path / "partial")["metrics"] == whole
    stamp = {p.name: p.stat().st_mtime_ns for p in partial.glob("*.json")}
    assert evaluate(ckpt, protocol=protocol, out=tmp_path / "partial")["metrics"] == whole
    assert stamp == {p.name: p.stat().st_mtime_ns for p in partial.glob("*.json")}  # nothing recomputed


def test_sharding_over_two_processes_gathers_exact_per_point_results(direct_synthetic, tmp_path):
    """Deterministic model and attack: 2 processes must give the single process's per-point results."""
    _, ckpt = direct_synthetic
    protocol = _protocol(tmp_path, subset=33, gradient_modes=["own"], attacks={"fgsm": {}})  # 33: padded shards
    single = evaluate(ckpt, protocol=protocol, out=tmp_path / "one")
    done = subprocess.run([sys.executable, "-m", "bench.cli", "evaluate", f"--ckpt={ckpt}", f"--protocol={protocol}",
                           f"--out={tmp_path / 'two'}", "--devices=2", "--accelerator=cpu", "--strategy=ddp"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    for cell in (tmp_path / "one" / "cells").glob("*.json"):
        one = json.loads(cell.read_text())["values"]
        two = json.loads((tmp_path / "two" / "cells" / cell.name).read_text())["values"]
        assert len(one) == 33 and one == two
    assert json.loads((tmp_path / "two" / "result.json").read_text())["metrics"] == single["metrics"]


def test_foreign_and_incompatible_checkpoints_are_refused(rate_mnist, tmp_path):
    _, ckpt = rate_mnist
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["spikebench"]["format"] = 99
    torch.save(checkpoint, tmp_path / "future.ckpt")
    with pytest.raises(ValueError, match=r"checkpoint format 99 .* this spikebench reads format 1"):
        evaluate(tmp_path / "future.ckpt", protocol=_protocol(tmp_path))
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    with pytest.raises(ValueError, match="not a spikebench checkpoint"):
        evaluate(tmp_path / "foreign.ckpt", protocol=_protocol(tmp_path))


def test_a_checkpoint_remembers_its_data(rate_mnist):
    _, ckpt = rate_mnist
    record = torch.load(ckpt, weights_only=True)["datamodule"]
    assert record["class_path"] == "bench.data.embedded:MNIST5k" and record["init_args"]["batch_size"] == 64
