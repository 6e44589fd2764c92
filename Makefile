# The README's two commands: `make demo` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch/torchvision are pinned here (the CUDA 13 builds, which also run on CPU) and installed first;
# pyproject.toml itself only asks for ranges.
TORCH := torch==2.14.1 torchvision==0.29.1
TORCHATTACKS := 3.5.1
OFFLINE := WANDB_MODE=offline HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

.PHONY: install demo test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev]'
	# torchattacks, pinned, repacked without its stale requests pin (see bench/tools/torchattacks_wheel.py)
	$(BIN)/pip download --quiet --no-deps torchattacks==$(TORCHATTACKS) -d $(VENV)/wheels
	$(BIN)/python -m bench.tools.torchattacks_wheel $(VENV)/wheels/torchattacks-$(TORCHATTACKS)-py3-none-any.whl $(VENV)/wheels/repacked
	$(BIN)/pip install --quiet $(VENV)/wheels/repacked/torchattacks-$(TORCHATTACKS)-py3-none-any.whl
	$(BIN)/pip check
	touch $(STAMP)

demo: install
	$(BIN)/spikebench demo

test: install
	$(OFFLINE) $(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check bench tests

clean:
	rm -rf runs results/demo .pytest_cache
