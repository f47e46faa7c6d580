# `make test` and `make run` create .venv on first use and install the project (editable, with its dev extra).
# A GPU user overrides the torch requirement, e.g. `make run TORCH="torch==2.13.0 --index-url ..."`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
CORES ?= all
# `gpu` resource slots: one per visible CUDA device; on a machine without one every core may run a (one-thread)
# stage at once, so the slots are the core count. Override: `make run GPUS=1`.
GPUS ?= $(shell n=$$(nvidia-smi -L 2>/dev/null | grep -c '^GPU'); if [ "$$n" -gt 0 ]; then echo $$n; else nproc; fi)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A user's extra config overlays, merged over the tier's in this order: `make run CONFIG="my.yaml other.yaml"`.
# Every config file of a run is checked first (syntax, empty file, repeated key: the message names file and line).
CONFIG ?=
CHECK_CONFIG := $(BIN)/python -m pipeline_lib.core.configfiles
OVERLAYS = $(if $(strip $(CONFIG)),--configfile $(CONFIG))

.PHONY: install test test-integration lint unit run run-cpu run-paper report dry-run bench bench-stages gpu-check clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check workflow
	$(BIN)/snakemake --lint --workflow-profile none

# One pytest worker per core (pytest-xdist); the shared smoke run is built once, in the background from the start,
# by whichever worker comes first (tests/conftest.py).
unit: $(STAMP)
	$(BIN)/pytest -q -n auto

test: lint unit

# Services the tests start themselves (root + apt on a fresh machine): a one-node SLURM cluster running the smoke
# config through workflow/profiles/slurm, and PostgreSQL for the multi-host Optuna storage. Skipped with the
# reason where they cannot start (PIPELINE_REQUIRE_INTEGRATION=1 fails instead).
test-integration: $(STAMP)
	$(BIN)/pytest -q -m integration tests/integration

# Quick tier (CPU, minutes): every stage of the DAG at small budgets.
run: $(STAMP)
	$(CHECK_CONFIG) config/config.yaml config/quick.yaml $(CONFIG)
	$(BIN)/snakemake --cores $(CORES) --resources gpu=$(GPUS) --configfile config/quick.yaml $(CONFIG)

# CPU tier: all twelve Table 2 settings at Table 3 hyperparameters and the paper's test size, Table 1 at the
# report's data sizes; reduced randomized and sweep budgets (marked). Log: results/logs/run_cpu.log.
run-cpu: $(STAMP)
	$(CHECK_CONFIG) config/config.yaml config/cpu.yaml $(CONFIG)
	mkdir -p results/logs
	$(BIN)/snakemake --cores $(CORES) --resources gpu=$(GPUS) --configfile config/cpu.yaml $(CONFIG) 2>&1 | tee results/logs/run_cpu.log

# Paper tier: every setting of both source documents.
run-paper: $(STAMP)
	$(CHECK_CONFIG) config/config.yaml $(CONFIG)
	$(BIN)/snakemake --cores $(CORES) --resources gpu=$(GPUS) $(OVERLAYS)

# HTML report of the quick tier (after `make run`): every table and figure with its caption, plus provenance.
report: $(STAMP)
	$(CHECK_CONFIG) config/config.yaml config/quick.yaml $(CONFIG)
	$(BIN)/snakemake --cores $(CORES) --configfile config/quick.yaml $(CONFIG) --report results/report.html

# What the paper tier (plus CONFIG overlays) would run, and why; nothing is computed.
dry-run: $(STAMP)
	$(CHECK_CONFIG) config/config.yaml $(CONFIG)
	$(BIN)/snakemake -n --cores $(CORES) $(OVERLAYS)

bench: $(STAMP)
	$(BIN)/python benchmarks/dp.py

# On a machine with a CUDA device: DP throughput, training steps and the smoke tier on the device (<= 8 min).
gpu-check: $(STAMP)
	bash benchmarks/gpu_check.sh

# Per-stage wall time / memory of a run from Snakemake's benchmark files (GPU machine: the paper tier).
bench-stages: $(STAMP)
	$(BIN)/python benchmarks/gpu_stage_timings.py

# Every output of a run: results/ (incl. checkpoints under results/_ckpt and the Optuna studies), logs/, the
# per-job benchmark folders benchmarks/<rule>/ (never the benchmark scripts benchmarks/*.py) and Snakemake's
# metadata, locks and logs under .snakemake/ (its conda/ and apptainer/singularity environments are kept).
clean:
	rm -rf results logs
	find benchmarks -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
	test ! -d .snakemake || find .snakemake -mindepth 1 -maxdepth 1 ! -name conda ! -name singularity \
		! -name apptainer -exec rm -rf {} +
