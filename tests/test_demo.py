"""`spikebench demo`: both estimators train on the real embedded MNIST-5k, results are recorded and reused."""

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.results import config_hash

RUNS = {"mnist5k-mlp-rate-atan": "atan", "mnist5k-mlp-rate-localzo": "localzo"}
REQUIRED = {"schema_version", "protocol", "config", "config_hash", "seed", "model", "versions", "git", "hardware",
            "wall_time_s", "metrics"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        main(["demo", "--out_dir", str(home / "results")])
        first = {name: json.loads((home / "results" / f"{name}.json").read_text()) for name in RUNS}
        evaluations = {name: json.loads((home / "results" / f"{name}-eval-v1-quick.json").read_text())
                       for name in RUNS}
        written = {name: Path(r["checkpoint"]).stat().st_mtime_ns for name, r in first.items()}
        main(["demo", "--out_dir", str(home / "results")])  # everything is finished: nothing retrains
        second = {name: json.loads((home / "results" / f"{name}.json").read_text()) for name in RUNS}
        for name, record in second.items():
            record["checkpoint_mtime_changed"] = Path(record["checkpoint"]).stat().st_mtime_ns != written[name]
            record["evaluation"] = json.loads((home / "results" / f"{name}-eval-v1-quick.json").read_text())
    for name in RUNS:
        first[name]["evaluation"] = evaluations[name]
    return home, first, second


def test_both_estimators_clearly_beat_chance_on_real_digits(demo):
    _, records, _ = demo
    for name, estimator in RUNS.items():
        metrics = records[name]["metrics"]
        assert records[name]["model"]["estimator"]["name"] == estimator
        assert metrics["test_acc"] > 0.8, (name, metrics)  # chance is 0.1
        assert metrics["val_acc"] > 0.8


def test_gradient_sparsity_separates_localzo_from_the_surrogate(demo):
    _, records, _ = demo
    assert records["mnist5k-mlp-rate-atan"]["metrics"]["grad_sparsity"] == 0.0
    assert records["mnist5k-mlp-rate-localzo"]["metrics"]["grad_sparsity"] > 0.2


def test_result_json_records_its_provenance(demo):
    _, records, _ = demo
    for record in records.values():
        assert REQUIRED <= set(record)
        assert record["config_hash"] == config_hash(record["config"])
        assert record["model"]["timesteps"] == 4 and record["model"]["encoder"]["name"] == "rate"
        assert record["model"]["neuron"]["decay"] == 0.5
        assert record["versions"]["torch"] and record["versions"]["lightning"]
        assert record["protocol"]["model_selection"].startswith("checkpoint with the best val/acc")


def test_wandb_writes_an_offline_run_under_each_run_directory(demo):
    home, _, _ = demo
    for run in ("mnist5k-mlp-atan", "mnist5k-mlp-localzo"):
        assert list((home / "runs" / run / "seed0" / "wandb").glob("offline-run-*/run-*.wandb"))


def test_a_second_demo_reuses_the_trained_models_and_repeats_the_numbers(demo):
    _, first, second = demo
    for name in RUNS:
        assert second[name]["metrics"]["global_step"] == first[name]["metrics"]["global_step"]
        assert second[name]["checkpoint"] == first[name]["checkpoint"]
        assert not second[name]["checkpoint_mtime_changed"]
        # Training statistics travel in the checkpoint; seeded evaluation draws repeat the test accuracy.
        for key in ("grad_sparsity", "firing_rates", "step_time_ms"):
            assert second[name]["metrics"][key] == first[name]["metrics"][key]
        assert second[name]["metrics"]["test_acc"] == first[name]["metrics"]["test_acc"]


def test_the_demo_evaluates_both_models_with_the_quick_protocol(demo):
    _, records, second = demo
    for name, record in records.items():
        evaluation = record["evaluation"]
        assert evaluation["protocol"]["name"] == "v1-quick" and evaluation["protocol"]["stochastic"]
        assert evaluation["checkpoint"] == record["checkpoint"]  # the model selected on validation
        metrics = evaluation["metrics"]
        assert metrics["points"] == 200 and abs(metrics["clean"]["accuracy"] - record["metrics"]["test_acc"]) < 0.1
        assert {c["attack"] for c in metrics["cells"]} >= {"fgsm", "pgd", "apgd-ce", "square", "transfer"}
        assert metrics["worst_case"]["0.3"]["robust_accuracy"] < 0.05 < metrics["clean"]["accuracy"]
        assert metrics["flags"] == []  # EOT everywhere, gradients flow, large eps reaches 0
        certified = metrics["certified"]
        assert certified["norm"] == "l1" and certified["n"] == 10000 and certified["points"] == 50
        curve = [c["accuracy"] for c in certified["certified_accuracy"]]
        assert curve[0] > 0.7 and curve == sorted(curve, reverse=True)
        assert second[name]["evaluation"]["metrics"] == metrics  # reused cells, same numbers
