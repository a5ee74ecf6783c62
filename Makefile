# Two commands do everything on a fresh machine:  make run   and   make test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
COR := $(VENV)/bin/cor
PIP_FLAGS := --quiet --disable-pip-version-check
LINT_PATHS := src tests bench scripts

.PHONY: install run lint test test-fast system-deps node-deps contracts bench golden format clean poi-generate poi-likelihood poi-calibrate poi-composed

install: $(VENV)/.installed $(VENV)/.compiled

# llama-cpp-python is built from source for this machine (-march=native, as pip builds it) but without AMX: on a CPU
# with AMX (Sapphire Rapids) a native build routes the matrix products through ggml's AMX backend, which segfaults in
# the first decode (ggml-org/llama.cpp#20824; seen here on 2026-12-04: every SmolLM2 eval crashed). The explicit
# -mno-amx-* flags win over -march=native's, so on a CPU without AMX this is the same build as before (the committed
# PoI traces match it; a portable AVX2-only build gave other logits: 52 of 62 tokens agreed). Built without pip's
# wheel cache (a wheel built natively before would be taken again) and done once per venv: a venv made before this
# rule rebuilds it once (~4 min)
# (x86-64 flags only: elsewhere the build is pip's own)
LLAMA_NO_AMX := $(if $(filter x86_64,$(shell uname -m)),-mno-amx-tile -mno-amx-int8 -mno-amx-bf16,)
$(VENV)/.llama-no-amx: requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade "pip==26.3"
	CFLAGS="$(LLAMA_NO_AMX)" CXXFLAGS="$(LLAMA_NO_AMX)" $(PY) -m pip install $(PIP_FLAGS) --no-cache-dir --force-reinstall --no-deps \
		"$$(grep -i '^llama[-_]cpp[-_]python==' requirements.lock)"
	@touch $@

$(VENV)/.installed: requirements.lock pyproject.toml $(VENV)/.llama-no-amx
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade "pip==26.3"
	$(PY) -m pip install $(PIP_FLAGS) -r requirements.lock
	$(PY) -m pip install $(PIP_FLAGS) --no-deps -e .
	@touch $@

# the package's bytecode, as a packaged (non-editable) install has it: a process started with PYTHONDONTWRITEBYTECODE
# set would otherwise compile every module of the package again (~0.2 s of a `cor serve` start). Compiled again
# whenever a source is newer than the last compile (a pull or a merge after the install): compileall redoes only those
PACKAGE_SOURCES := $(shell find src/cor_incentives -name '*.py')
$(VENV)/.compiled: $(VENV)/.installed $(PACKAGE_SOURCES)
	$(PY) -m compileall -q src/cor_incentives
	@touch $@

node-deps: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# ABI + bytecode of contracts/*.sol with solc-js (pinned); the artifacts are committed and a test
# rebuilds them byte for byte
contracts: node-deps
	node scripts/compile-contracts.mjs

system-deps:
	@bash scripts/ensure-system-deps.sh

run: install node-deps
	$(COR) devnet --epochs 3 --miners-backend llama --chain

# style, types and layers (settings in pyproject.toml); `make test` runs it first
lint: install
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

# on pytest-xdist's workers, one per logical CPU (TEST_WORKERS=0 runs in one process); the 30 slowest are listed at the
# end. "logical", not "auto": with psutil installed "auto" counts physical cores, 1 on a 2-vCPU machine with SMT
TEST_WORKERS ?= logical
test: lint node-deps system-deps
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal --durations=30

test-fast: install
	$(PY) -m pytest -q -m "not slow and not postgres and not browser"

# one table: every scale benchmark with its goal, a same-run baseline and whether it holds (bench/README.md)
bench: install node-deps
	$(PY) bench/all.py

# rewrite the code in the project's format (ruff, settings in pyproject.toml)
format: install
	$(VENV)/bin/ruff format $(LINT_PATHS)
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)

# the seeded scenario's fingerprint and epoch roots (tests/golden/scenario.json); regenerate only
# in a commit that changes behaviour on purpose, and say why in its message
golden: install
	$(PY) tests/support/golden.py

# PoI calibration (docs/poi-calibration.md): outputs with the real SmolLM2 (slow, resumable), their traces
# under the model (teacher forcing, resumable), then ROC and rates
poi-generate: install
	$(PY) scripts/poi_generate.py

poi-likelihood: install
	$(PY) scripts/poi_likelihood.py
	$(PY) scripts/poi_likelihood.py --outputs variants.jsonl
	$(PY) scripts/poi_likelihood.py --prompt-free
	$(PY) scripts/poi_likelihood.py --prompt-free --outputs variants.jsonl

poi-calibrate: install
	$(PY) scripts/poi_calibrate.py

# PoI on composed network prompts (docs/poi-calibration.md, "Composed network prompts"): SmolLM2 answers and
# the stitching copier, read by the model (slow, resumable), then the shipped validator's rates
poi-composed: install
	$(PY) scripts/poi_composed.py generate
	$(PY) scripts/poi_composed.py read
	$(PY) scripts/poi_composed.py borrow
	$(PY) scripts/poi_composed.py measure

clean:
	rm -rf $(VENV) node_modules cor-data .pytest_cache
