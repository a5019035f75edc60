# Two commands do all the set-up on a fresh machine:
#   make demo   trains a small model from a spec, samples it, draws what it did
#   make test   runs the test suite
#   make train  trains a class-conditional model on scikit-learn's digits on NPROC
#               processes (torch.distributed, gloo on CPU): examples/train/
# Each creates the virtual environment .venv first. torch is pinned to the CPU
# build that this machine ships (a bare "torch" requirement would pull CUDA).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0
SPEC   ?= stable_cascade
NPROC  ?= 2
STEPS  ?= 1500

.PHONY: venv demo test train docs clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test,plot,docs]"
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(BIN)/gdf demo --spec $(SPEC) --out out

test: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider

train: venv
	$(BIN)/python -m pip install --quiet -e ".[train]"
	$(BIN)/torchrun --standalone --nproc_per_node=$(NPROC) examples/train/train_digits.py --steps $(STEPS) --threads 1 --out out/train --resume

docs: venv
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) out site build *.egg-info
