# The two commands of the README: `make demo` (set up + run the demo end to end) and `make test`.
PYTHON ?= python3

.PHONY: setup venvs demo test test-slurm benchmark clean

setup:            ## the light login-node side: pyyaml, spython, pytest, matplotlib
	$(PYTHON) -m pip install --disable-pip-version-check -q -e ".[dev,summary]"

venvs: setup      ## one virtualenv per image (.venvs/mediapipe, .venvs/trainer) from containers/*.requirements.txt
	$(PYTHON) -m pipeline.build --runtime venv

demo: venvs       ## sample clips -> MediaPipe -> TSVs -> tiny M2M-100 -> translations -> BLEU, on this machine
	$(PYTHON) -m pipeline.submit config/demo.yaml

test: venvs       ## the test suite (stages run for real in the venvs; SLURM tests skip without a cluster)
	$(PYTHON) -m pytest -q

test-slurm: venvs ## start the one-node SLURM cluster and run the SLURM tests on it
	bash tests/slurm/start_cluster.sh
	$(PYTHON) -m pytest -q -m slurm tests/test_slurm.py; rc=$$?; bash tests/slurm/stop_cluster.sh; exit $$rc

benchmark: venvs  ## frames/s of pose estimation: the original pipeline's way vs ours (see README)
	$(PYTHON) benchmarks/estimate.py

clean:            ## remove generated jobs and data (keeps the venvs)
	rm -rf jobs/*/ data/prepare data/estimate data/preprocess data/train data/translate data/evaluate
