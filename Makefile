# The two commands of the README: `make demo` (set up + run the demo end to end) and `make test`.
PYTHON ?= python3
# The login-node side gets its own virtualenv: system Pythons that refuse `pip install` (PEP 668: Debian 12,
# Ubuntu 24.04, most cluster login nodes) are only used to create it. `source .venvs/driver/bin/activate` to use it.
DRIVER := .venvs/driver
PY := $(DRIVER)/bin/python

.PHONY: setup venvs demo test test-all lint test-slurm benchmark clean

$(PY):
	$(PYTHON) -m venv $(DRIVER)

setup: $(PY)      ## the light login-node side in .venvs/driver: pyyaml, spython, pytest, matplotlib
	$(PY) -m pip install --disable-pip-version-check -q -e ".[dev,summary]"

venvs: setup      ## one virtualenv per image (.venvs/mediapipe, .venvs/trainer) from containers/*.requirements.txt
	$(PY) -m pipeline.build --runtime venv

demo: venvs       ## sample clips -> MediaPipe -> TSVs -> tiny M2M-100 -> translations -> BLEU, on this machine
	$(PY) -m pipeline.submit config/demo.yaml
	$(PY) -m pipeline.summarize jobs/demo

test: venvs       ## the quick tier (under 10 minutes on 2 cores): everything but the slow chains, stages for real
	$(PY) -m pytest -q -m "not slow" --durations=10

lint: setup       ## ruff (lint + format check) and mypy, as configured in pyproject.toml
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test-all: venvs   ## the whole suite, slow chains included (learnability, eight pose types, SLURM when a cluster runs)
	$(PY) -m pytest -q --durations=25

test-slurm: venvs ## start the one-node SLURM cluster and run the SLURM tests on it
	bash tests/slurm/start_cluster.sh
	$(PY) -m pytest -q -m slurm tests/test_slurm.py; rc=$$?; bash tests/slurm/stop_cluster.sh; exit $$rc

benchmark: venvs  ## frames/s of pose estimation: the original pipeline's way vs ours (see README)
	$(PY) benchmarks/estimate.py

clean:            ## remove generated jobs and data (keeps the venvs)
	rm -rf jobs/*/ data/prepare data/estimate data/preprocess data/train data/translate data/evaluate
