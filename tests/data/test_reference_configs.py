"""Every reference config parses and takes a training step on generated data in the real on-disk format."""

from pathlib import Path

import pytest
import yaml

from bench.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
REFERENCE = sorted(p for folder in ("cifar10", "cifar100", "dvsgesture") for p in (CONFIGS / folder).glob("*.yaml"))


def _data_overrides(config: Path, cifar10_files, cifar100_files, dvs_files, tmp_path) -> list[str]:
    folder = config.parent.name
    if folder == "dvsgesture":
        return [f"--data.init_args.data_dir={dvs_files[0]}", f"--data.init_args.cache_dir={tmp_path / 'cache'}"]
    root = (cifar10_files if folder == "cifar10" else cifar100_files)[0]
    return [f"--data.init_args.data_dir={root}", "--data.init_args.verify_md5=false"]


def test_there_are_reference_configs_for_every_track():
    assert {p.parent.name for p in REFERENCE} == {"cifar10", "cifar100", "dvsgesture"}
    assert len(REFERENCE) == 12


@pytest.mark.parametrize("config", REFERENCE, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_reference_config_parses_and_says_what_it_should_reach(config, capsys):
    assert "Published" in config.read_text()  # the number it should approach, or why there is none
    with pytest.raises(SystemExit) as done:
        main(["fit", "-c", str(config), "--print_config"])
    assert done.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["arch"] in ("vgg11", "resnet19", "cnn")


@pytest.mark.parametrize("config", REFERENCE, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_reference_config_takes_a_training_step(config, cifar10_files, cifar100_files, dvs_files, tmp_path,
                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    main(["fit", "-c", str(config), *_data_overrides(config, cifar10_files, cifar100_files, dvs_files, tmp_path),
          "--data.init_args.batch_size=2", "--data.init_args.num_workers=0", "--trainer.fast_dev_run=1",
          "--logger=none", "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"])


def test_data_check_reports_the_splits(cifar10_files, dvs_files, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = CONFIGS / "cifar10/vgg11_rate_triangle.yaml"
    main(["data", "check", "-c", str(config), *_data_overrides(config, cifar10_files, None, dvs_files, tmp_path),
          "--logger=none"])
    out = capsys.readouterr().out
    assert "CIFAR10: 10 classes, input (3, 32, 32)" in out
    assert "│ train │      90 │" in out and "│ val   │      10 │" in out and "│ test  │      20 │" in out
    assert "float32" in out and str(cifar10_files[0] / "cifar-10-batches-py") in out.replace("\n", "")
