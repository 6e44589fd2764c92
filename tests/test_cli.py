"""The spikebench command: config printing, bad names, fit -> test -> result JSON, and resuming."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

TINY = {
    "seed_everything": 3,
    "trainer": {"max_epochs": 1, "enable_progress_bar": False, "enable_model_summary": False},
    "data": {"class_path": "bench.data.Synthetic",
             "init_args": {"num_classes": 4, "input_shape": [1, 4, 4], "samples": 160, "batch_size": 32}},
    "model": {"arch": "mlp", "arch_params": {"hidden": [16]}, "timesteps": 2, "estimator": "triangle"},
}


@pytest.fixture
def tiny_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs/ goes into the temporary directory
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_print_config_shows_the_composed_yaml(capsys):
    with pytest.raises(SystemExit) as done:
        main(["fit", "-c", str(CONFIGS / "mnist5k/mlp_rate.yaml"), "-c", str(CONFIGS / "estimators/localzo.yaml"),
              "--print_config"])
    assert done.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["estimator"] == "localzo"
    assert printed["model"]["estimator_params"] == {"sampler": "normal", "delta": 0.5, "samples": 5}
    assert printed["data"]["class_path"] == "bench.data.MNIST5k"


def test_an_unknown_estimator_names_the_choices(tiny_config):
    with pytest.raises(KeyError, match="unknown estimator 'nope'; available: atan, fast_sigmoid"):
        main(["fit", "-c", str(tiny_config), "--model.estimator=nope", "--logger=none"])


def test_fit_tests_the_best_checkpoint_once_and_resumes_from_last(tiny_config, tmp_path):
    main(["fit", "-c", str(tiny_config), "--logger=csv"])
    run = tmp_path / "runs" / "synthetic-mlp-triangle" / "seed3"
    first = json.loads((run / "result.json").read_text())
    assert first["metrics"]["epochs"] == 1 and first["seed"] == 3
    assert first["checkpoint"].startswith(str(run / "checkpoints" / "best-epoch000"))
    assert first["model"]["estimator"]["name"] == "triangle"
    assert first["config"]["model"]["timesteps"] == 2 and len(first["config_hash"]) == 64
    assert yaml.safe_load((run / "csv" / "version_0" / "hparams.yaml").read_text())["estimator"] == "triangle"

    # Train one more epoch, resuming from last.ckpt: the new log holds epoch 1 only.
    main(["fit", "-c", str(tiny_config), "--logger=csv", "--trainer.max_epochs=2", "--ckpt_path=last"])
    with open(run / "csv" / "version_1" / "metrics.csv") as f:
        epochs = {row["epoch"] for row in csv.DictReader(f) if row.get("train/loss_epoch")}
    assert epochs == {"1"}
    second = json.loads((run / "result.json").read_text())
    assert second["metrics"]["epochs"] == 2
    assert second["metrics"]["global_step"] == 2 * first["metrics"]["global_step"]


def test_test_command_reads_the_model_from_the_checkpoint(tiny_config, tmp_path, capsys):
    main(["fit", "-c", str(tiny_config), "--logger=none"])
    best = json.loads((tmp_path / "runs/synthetic-mlp-triangle/seed3/result.json").read_text())["checkpoint"]
    # The config says triangle; the checkpoint's own hyper-parameters win for the model.
    main(["test", "-c", str(tiny_config), "--model.estimator=atan", "--logger=none", f"--ckpt_path={best}"])
    assert "test/acc" in capsys.readouterr().out


def test_two_processes_with_one_flag(tiny_config, tmp_path):
    """DDP on 2 CPU processes (gloo): each rank trains on half of every epoch, rank 0 writes the result."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli", "fit", "-c", str(tiny_config), "--logger=none",
         "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "runs/synthetic-mlp-triangle/seed3/result.json").read_text())
    # 160 samples -> 112 for training; 56 per rank -> 2 batches of 32 per epoch (4 in one process).
    assert record["metrics"]["global_step"] == 2
    assert 0.0 <= record["metrics"]["test_acc"] <= 1.0
