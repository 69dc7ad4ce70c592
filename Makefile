# The commands people type. Each target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help venv test lint bench bench-quick compare publish figures clean

help:
	@echo "make test         run the tests (creates .venv on first use)"
	@echo "make bench        run the default asv suite on the current commit, save to results/"
	@echo "make bench-quick  fast smoke pass of the suite (results not saved)"
	@echo "make compare BASE=<commit> HEAD=<commit>  asv continuous between two commits"
	@echo "make publish      build the asv HTML site"
	@echo "make figures      execute the notebooks, write notebooks/figures/"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .

test: $(STAMP) lint
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest

bench: $(STAMP)
	@echo "The asv suite is coming: see the open issue for the benchmark suite."

clean:
	rm -rf $(VENV) .asv .pytest_cache .ruff_cache .hypothesis
