# The commands people type. Each target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help venv test lint docs site-tools bench track benchmarks-json bench-quick bench-plan bench-machine compare continuous publish preview figures spectra targets model-targets model-results claims clean

# asv: results go to results/<name>/, one name per kind of hardware. make bench-machine
# derives it from the CPU model and flags, cores, memory and BLAS kernel, checks it with a
# one-second calibration against the one stored in measurements/machines/<name>.json (a
# new name where it is more than 20% off) and writes it to $(MACHINE_NAME_FILE); every
# target below that runs or compares reads it from there (scripts/machine_id.py).
# MACHINE=<name> asks for a name by hand: it is refused when its stored calibration or
# fingerprint does not match this machine. The description asv records with it takes
# MACHINE_OS, MACHINE_ARCH, MACHINE_CPU, MACHINE_NUM_CPU and MACHINE_RAM where they are set.
MACHINE_NAME_FILE := .asv/machine-name
NAME = $(or $(MACHINE),$(shell cat $(MACHINE_NAME_FILE) 2>/dev/null))
ASV := $(PY) -m asv
# the smallest grid, for smoke passes (make bench-quick); the networks at 32x32, channels / 8;
# one wide cell (128 channels at n = 7)
QUICK_GRID := CONVBENCH_BENCH_N=32,64 CONVBENCH_BENCH_CHANNELS=1,4 CONVBENCH_BENCH_BOUNDARY_N=4,8 \
  CONVBENCH_BENCH_NETWORK_INPUT=32 CONVBENCH_BENCH_NETWORK_WIDTH=8 \
  CONVBENCH_BENCH_WIDE_CHANNELS=128 CONVBENCH_BENCH_WIDE_N=7 CONVBENCH_BENCH_LOAD_SIZES=16,64,32
FACTOR ?= 1.1
BASE ?= main
PORT ?= 8080

help:
	@echo "make venv           create .venv with the library, the suite and the tools"
	@echo "make test           run the tests, the browser test of the asv site included"
	@echo "make bench-machine  name this machine by its hardware, calibrate, register with asv"
	@echo "make bench          the full suite on HEAD (every class, n = 2^5..2^14), saved"
	@echo "make track          the tracking tier over RANGE=<git range> (or RANGE=HASHFILE:f)"
	@echo "make benchmarks-json  rewrite results/benchmarks.json from the suite (make test checks it)"
	@echo "make bench-quick    every benchmark once on the smallest grid (nothing saved)"
	@echo "make bench-plan     coverage table, skip reasons, predicted duration of make bench"
	@echo "make compare        the changes between two runs: OLD=<commit> NEW=<commit>"
	@echo "                    (default: the last two runs of MACHINE on main)"
	@echo "make continuous     asv continuous: run BASE (default main) and HEAD now, compare"
	@echo "make publish        the asv site in .asv/html, working offline"
	@echo "make preview        serve the site on http://127.0.0.1:PORT/ (default 8080)"
	@echo "make figures        execute the notebooks, write notebooks/figures/"
	@echo "make spectra        compute the stored spectra the boundary notebook reads (slow)"
	@echo "make targets        the fast path's speed-ups, wide channels, summarize memory (~20 min)"
	@echo "make claims         measure the paper's claims (< 1 h; CLAIMS_ARGS=--plan to see it)"
	@echo "make model-results  per-layer sigma_max of ResNet-18 and MobileNetV2 (MODEL_SIZE=224)"
	@echo "make model-targets  ResNet-50 at 224x224: zero-padded sigma_max, bound and spectra timed"
	@echo "make lint           ruff over the whole tree"
	@echo "make docs           the documentation site in docs/_build/html (warnings are errors)"
	@echo "make clean          remove .venv, .asv, the caches, the docs build and test artifacts"

# setuptools announces every editable install ("Editable installation. Please be careful
# with folders ..."); that notice is filtered, every other warning of the install shows.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check .

# The documentation site (docs/: Sphinx, numpydoc, the PyData theme, MyST pages), offline,
# warnings as errors, the examples executed; the API pages are generated into
# docs/generated/ from the docstrings. (make test builds it without executing them.)
docs: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 CONVBENCH_DOCS_EXECUTE=force \
	  $(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

# npm (the site's libraries), Chromium and ChromeDriver (the site's browser test), from
# Debian's packages where missing; nothing to do when they are there.
site-tools:
	@bash scripts/install_site_tools.sh

test: $(STAMP) lint site-tools
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest
	$(QUICK_GRID) $(ASV) check --python=same

# Describe this machine to asv (~/.asv-machine.json) with values that do not change
# between boots (scripts/bench_machine.py): kernel major.minor, memory in whole GiB.
bench-machine: $(STAMP)
	@$(PY) scripts/bench_machine.py $(if $(MACHINE),--machine "$(NAME)") \
	  --name-file $(MACHINE_NAME_FILE) \
	  $(if $(MACHINE_OS),--os "$(MACHINE_OS)") $(if $(MACHINE_ARCH),--arch "$(MACHINE_ARCH)") \
	  $(if $(MACHINE_CPU),--cpu "$(MACHINE_CPU)") \
	  $(if $(MACHINE_NUM_CPU),--num-cpu "$(MACHINE_NUM_CPU)") \
	  $(if $(MACHINE_RAM),--ram "$(MACHINE_RAM)")

# The default suite on HEAD, saved to results/$(NAME)/. It runs exactly as a plain
# `asv run` does: in the environment asv.conf.json describes (a virtualenv under
# .asv/env, the commit built and installed into it), so both land on the same lines.
# The benchmarks come from the working tree: uncommitted changes to benchmarks/ or
# asv.conf.json are refused (results are filed under the commit hash). An earlier result
# file of the same commit is never overwritten: it is renamed to
# *.json.superseded-<UTC time> (which asv ignores).
bench: bench-machine
	@if [ -z "$(ALLOW_DIRTY)" ] && \
	  [ -n "$$(git status --porcelain -- benchmarks asv.conf.json)" ]; then \
	  echo "make bench: uncommitted changes in benchmarks/ or asv.conf.json;"; \
	  echo "commit them first (results are filed under the commit hash), or set ALLOW_DIRTY=1."; \
	  exit 1; fi
	@if [ -n "$$(git status --porcelain -- convbench pyproject.toml)" ]; then \
	  echo "make bench: note: uncommitted changes in convbench/ or pyproject.toml are not"; \
	  echo "measured; asv builds the committed HEAD."; fi
	@short=$$(git rev-parse --short=8 HEAD); stamp=$$(date -u +%Y%m%dT%H%M%SZ); \
	for f in results/$(NAME)/$$short-*.json; do \
	  if [ -e "$$f" ]; then mv -v "$$f" "$$f.superseded-$$stamp"; fi; done
	@start=$$(date +%s); \
	$(ASV) run --machine "$(NAME)" --show-stderr $(ASV_ARGS) "$$(git rev-parse HEAD)^!"; \
	status=$$?; \
	echo "make bench: asv run took $$(( $$(date +%s) - start )) s on $(NAME) (exit $$status)"; \
	exit $$status

# The tracking tier (CONVBENCH_BENCH_TIER=track: the representative cells of every class,
# a few minutes a commit) over a range of commits, each built into the suite's environment
# as `asv run` does; a cell an old commit cannot run is skipped with its reason. RANGE is
# a git range (e.g. e06de2f~10..main) or HASHFILE:<file of hashes>. Commits that already
# have results on this machine are skipped (asv --skip-existing-commits), so a full run
# is never overwritten by the tier's subset; results/benchmarks.json keeps the full grid.
track: bench-machine
	@if [ -z "$(RANGE)" ]; then \
	  echo "make track: give RANGE=<git range> (e.g. RANGE=HEAD~5..HEAD) or RANGE=HASHFILE:<file>"; \
	  exit 2; fi
	@case "$(RANGE)" in \
	  HASHFILE:*) f="$(patsubst HASHFILE:%,%,$(RANGE))"; \
	    [ -s "$$f" ] || { echo "make track: $$f lists no commits"; exit 2; }; \
	    n=$$(grep -c . "$$f");; \
	  *) n=$$(git rev-list $(RANGE) 2>/dev/null | wc -l) || n=0;; esac; \
	if [ "$${n:-0}" -eq 0 ]; then echo "make track: RANGE=$(RANGE) names no commits"; exit 2; fi; \
	echo "make track: $$n commit(s) on $(NAME), tier track"; \
	keep=$$(mktemp); cp results/benchmarks.json "$$keep"; start=$$(date +%s); \
	CONVBENCH_BENCH_TIER=track $(ASV) run --machine "$(NAME)" --skip-existing-commits \
	  --show-stderr $(ASV_ARGS) "$(RANGE)"; status=$$?; \
	cp "$$keep" results/benchmarks.json; rm -f "$$keep"; \
	echo "make track: asv run took $$(( $$(date +%s) - start )) s for $$n commit(s) on $(NAME)"; \
	exit $$status

# results/benchmarks.json, the suite as asv discovers it on the default grid (the site and
# asv compare read it; make test checks that it is current).
benchmarks-json: bench-machine
	@env $$(env | grep -o '^CONVBENCH_BENCH_[A-Z_]*' | sed 's/^/-u /') \
	  $(ASV) run --python=same --dry-run --quick --bench 'TrackSortChoice' --machine "$(NAME)" >/dev/null \
	  || { echo "make benchmarks-json: discovery failed"; exit 1; }
	@git diff --stat -- results/benchmarks.json

# Every benchmark once on the smallest grid, in .venv; nothing saved. asv rewrites
# results/benchmarks.json with the grid it ran; the committed one is put back.
bench-quick: bench-machine
	@start=$$(date +%s); keep=$$(mktemp); cp results/benchmarks.json "$$keep"; \
	$(QUICK_GRID) $(ASV) run --python=same --quick --dry-run --show-stderr \
	  --machine "$(NAME)" $(ASV_ARGS); status=$$?; \
	cp "$$keep" results/benchmarks.json; rm -f "$$keep"; \
	[ $$status -eq 0 ] || exit $$status; \
	echo "make bench-quick: took $$(( $$(date +%s) - start )) s; nothing saved"; \
	echo "(a saved run: make bench, or .venv/bin/asv run --bench <regex> HEAD^!)"

# Coverage table, skip reasons and predicted duration of make bench, from the suite's
# skip rule. BENCH=<regex> lists the reason of every skipped cell of those benchmarks.
bench-plan: $(STAMP)
	$(PY) -m benchmarks.plan --reasons $(if $(BENCH),--bench '$(BENCH)')

# The changes between two stored runs of this machine (scripts/compare.py on asv's
# results: unchanged values, negative ones included, are never better or worse, and an
# accuracy track moving less than 1e-12 of sigma_max is not a change; nothing is run):
# OLD and NEW default to the last two commits of main with results for the machine.
compare: bench-machine
	@set -e; old="$(OLD)"; new="$(NEW)"; \
	if [ -z "$$old" ] || [ -z "$$new" ]; then \
	  pair=$$($(PY) scripts/history.py --machine "$(NAME)" --last 2); \
	  old=$${old:-$${pair%% *}}; new=$${new:-$${pair##* }}; fi; \
	$(PY) scripts/compare.py --machine "$(NAME)" --factor $(FACTOR) $(if $(ALL),--all) \
	  "$$old" "$$new"

# asv continuous: builds BASE and HEAD in the suite's environment, runs both now on this
# machine and prints what changed by more than FACTOR (before merging a change).
continuous: bench-machine
	$(ASV) continuous --show-stderr --machine "$(NAME)" --factor $(FACTOR) $(ASV_ARGS) \
	  $(BASE) $(or $(HEAD),HEAD)

# The asv site (.asv/html) from results/, every script and stylesheet served from the
# site itself (scripts/asv_site.py: pinned, checksummed libraries from the registries).
publish: $(STAMP)
	@bash scripts/install_site_tools.sh npm
	$(PY) scripts/asv_site.py publish

# Serve the published site on 127.0.0.1 (PORT, default 8080) until Ctrl-C.
preview: $(STAMP)
	$(PY) scripts/asv_site.py serve --port $(PORT)

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

# The whole-model targets on ResNet-50 at 224x224 (zero-padded sigma_max + bound under
# 60 s, periodic spectra under 30 s), with an ARPACK-on-torch check of a few layers;
# writes measurements/targets/models-<commit>.json (a new name if taken).
model-targets: $(STAMP)
	$(PY) scripts/model_targets.py

# The per-layer tables the models notebook draws (scripts/model_results.py): ResNet-18 and
# MobileNetV2 with PyTorch's default initialisation (seed 0), model_spectra with the zero
# boundary at MODEL_SIZE x MODEL_SIZE, to results/models/<arch>-<size>.csv and
# results/models/provenance/<arch>-<size>.json.
# Existing files are refused; FORCE=1 replaces them.
MODEL_SIZE ?= 224
model-results: $(STAMP)
	$(PY) scripts/model_results.py --size $(MODEL_SIZE) $(if $(FORCE),--force)

# The paper's claims (scripts/claims.py), each in its own regime: interleaved repeats, one
# BLAS/FFT thread, load averages per cell. Raw samples go to
# results/claims/<name>/<commit>-<UTC time>.json (never overwritten); notebooks/claims.py
# turns them into verdicts. CLAIMS_ARGS=--plan prints the cells and the predicted time.
claims: bench-machine
	$(PY) scripts/claims.py --machine "$(NAME)" $(CLAIMS_ARGS)

clean:
	rm -rf $(VENV) .asv .pytest_cache .ruff_cache .hypothesis build/test-artifacts \
	  docs/_build docs/generated
