# The commands people type. Each target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help venv test lint bench bench-quick bench-plan bench-machine compare publish figures spectra targets clean

# asv: results go to results/<MACHINE>/ (set MACHINE to name this machine's results).
MACHINE ?= $(shell hostname -s 2>/dev/null || hostname)
ASV := $(PY) -m asv
# the smallest grid, for smoke passes (make bench-quick)
QUICK_GRID := CONVBENCH_BENCH_N=32,64 CONVBENCH_BENCH_CHANNELS=1,4 CONVBENCH_BENCH_BOUNDARY_N=4,8
FACTOR ?= 1.1

help:
	@echo "make test         run the tests (creates .venv on first use)"
	@echo "make bench        run the default asv suite on the current commit, save to results/"
	@echo "make bench-quick  fast smoke pass of the suite (results not saved)"
	@echo "make bench-plan   coverage table and predicted duration of make bench"
	@echo "make compare BASE=<commit> HEAD=<commit>  asv continuous between two commits"
	@echo "make publish      build the asv HTML site"
	@echo "make figures      execute the notebooks, write notebooks/figures/"
	@echo "make spectra      compute the stored spectra the boundary notebook reads (slow)"
	@echo "make targets      the fast path's speed-ups and summarize memory (~10 min)"

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
	$(QUICK_GRID) $(ASV) check --python=same

# Register this machine with asv without questions (asv keeps it in ~/.asv-machine.json).
bench-machine: $(STAMP)
	$(ASV) machine --yes --machine $(MACHINE)

# The default suite on the current commit, in .venv, saved to results/$(MACHINE)/.
# Refuses to run with uncommitted changes to the code it measures (results are filed
# under the commit hash). An earlier result file of the same commit is never
# overwritten: it is renamed to *.json.superseded-<UTC time> (which asv ignores).
bench: bench-machine
	@if [ -z "$(ALLOW_DIRTY)" ] && \
	  [ -n "$$(git status --porcelain -- convbench benchmarks asv.conf.json pyproject.toml)" ]; then \
	  echo "make bench: uncommitted changes in convbench/, benchmarks/, asv.conf.json or pyproject.toml;"; \
	  echo "commit them first (results are filed under the commit hash), or set ALLOW_DIRTY=1."; \
	  exit 1; fi
	@short=$$(git rev-parse --short=8 HEAD); stamp=$$(date -u +%Y%m%dT%H%M%SZ); \
	for f in results/$(MACHINE)/$$short-*.json; do \
	  if [ -e "$$f" ]; then mv -v "$$f" "$$f.superseded-$$stamp"; fi; done
	@start=$$(date +%s); \
	$(ASV) run --python=same --set-commit-hash=$$(git rev-parse HEAD) --machine $(MACHINE) \
	  --show-stderr $(ASV_ARGS) || exit $$?; \
	echo "make bench: asv run took $$(( $$(date +%s) - start )) s on $(MACHINE)"

# Every benchmark once on the smallest grid; nothing saved.
bench-quick: bench-machine
	@start=$$(date +%s); \
	$(QUICK_GRID) $(ASV) run --python=same --quick --dry-run --show-stderr \
	  --machine $(MACHINE) $(ASV_ARGS) || exit $$?; \
	echo "make bench-quick: took $$(( $$(date +%s) - start )) s"

# Coverage table and predicted duration of make bench, from the suite's skip rule.
bench-plan: $(STAMP)
	$(PY) -m benchmarks.plan --reasons

# asv continuous: builds BASE and HEAD in virtualenvs under .asv/env and compares them.
compare: bench-machine
	@if [ -z "$(BASE)" ] || [ -z "$(HEAD)" ]; then \
	  echo "usage: make compare BASE=<commit> HEAD=<commit> [FACTOR=1.1]"; exit 2; fi
	$(ASV) continuous --show-stderr --machine $(MACHINE) --factor $(FACTOR) $(ASV_ARGS) \
	  $(BASE) $(HEAD)

# The asv HTML site from results/ (written to .asv/html; view with: .venv/bin/asv preview).
publish: $(STAMP)
	$(ASV) publish

# Execute every notebook headless (fresh python3 kernel, cwd notebooks/) on the committed
# results: writes the executed .ipynb beside each .py source and the figures to
# notebooks/figures/ (PNG and SVG). Nothing is re-measured.
figures: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) scripts/run_notebooks.py

# The stored spectra (results/spectra/*.npz) the boundary notebook reads: dense SVDs of
# zero-padded operators, too slow to recompute for every figure (about half an hour on
# 2 cores). Existing files are kept; FORCE=1 recomputes and replaces them.
SPECTRA_THREADS ?= 2
spectra: $(STAMP)
	OPENBLAS_NUM_THREADS=$(SPECTRA_THREADS) OMP_NUM_THREADS=$(SPECTRA_THREADS) \
	  MKL_NUM_THREADS=$(SPECTRA_THREADS) \
	  $(PY) scripts/boundary_spectra.py $(if $(FORCE),--force,--skip-existing)

# The fast path's targets (speed-ups against lfa and fft with BLAS/FFT threads 1, the
# thread scaling, summarize's peak memory); prints the table and keeps the raw numbers in
# measurements/targets/ under the commit hash (an existing file gets a new name, never replaced).
targets: $(STAMP)
	@mkdir -p measurements/targets
	$(PY) scripts/fast_targets.py --repeats 7 --json measurements/targets/fast-$$(git rev-parse --short=8 HEAD).json

clean:
	rm -rf $(VENV) .asv .pytest_cache .ruff_cache .hypothesis
