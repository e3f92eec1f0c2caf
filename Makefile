# Set-up is automatic: every target below creates .venv and installs the pinned
# dependencies first if needed. Servers bind to 127.0.0.1 unless ALIGNED_HOST says otherwise.
# For a CPU-only torch, pass pip's standard options, e.g.
#   make install PIP_OPTIONS="--extra-index-url https://download.pytorch.org/whl/cpu"
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_OPTIONS ?=
ALIGNED_HOST ?= 127.0.0.1
KEEP ?= 5
RUN := $(BIN)/kedro run --pipelines=aligned
REPORT := data/08_reporting/report.html

.PHONY: install run test test-scale reference lint format bench bench-full viz viz-build mlflow notebooks prune clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar off $(PIP_OPTIONS) -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(RUN)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# Only the tests that start a Dask cluster of kedro runs (also part of `make test`).
test-scale: $(STAMP)
	$(BIN)/python -m pytest -m scale

# The default run's non-timing metrics against tests/reference (about 2 minutes).
reference: $(STAMP)
	$(BIN)/python scripts/reference_metrics.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Under 10 minutes on 2 cores: the speed targets' cases, naive baselines timed at small
# sizes and extrapolated. bench-full: every case, with the refinement cases (ecoli_like
# alone took 7.5 minutes on a busy machine), the whole E. coli run and the noise sweeps.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_closure.py
	$(BIN)/python benchmarks/bench_human_kb.py --cases dorothea_scale
	$(BIN)/python benchmarks/bench_predict.py --cases norman_scale
	$(BIN)/python benchmarks/bench_routing.py --cases ecoli,norman_pseudobulk
	$(BIN)/python benchmarks/bench_training.py --case training_gnn
	$(BIN)/python benchmarks/bench_training.py --case training_gnn_norman_per_cell
	$(BIN)/python benchmarks/bench_training.py --case out_of_fold_norman_per_cell
	$(BIN)/python benchmarks/bench_topology.py --cases dorothea_scale,node_shortcut_edges,node_knowledge_usage,node_grn_diff_plot
	$(BIN)/python benchmarks/bench_refine.py --case dorothea_scale

bench-full: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

viz: $(STAMP)
	$(BIN)/kedro viz run --host $(ALIGNED_HOST) --port 4141 --no-browser

viz-build: $(STAMP)
	$(BIN)/kedro viz build

mlflow: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host $(ALIGNED_HOST) --port 5000 --workers 1

# Both notebooks, executed by a headless Jupyter kernel into build/notebooks/ (the
# committed notebooks stay without outputs); runs the pipeline first when no run has
# completed yet.
notebooks: $(STAMP) | $(REPORT)
	$(BIN)/jupyter nbconvert --to notebook --execute --output-dir build/notebooks notebooks/*.ipynb

$(REPORT): | $(STAMP)
	$(RUN)

# Versions older than the last KEEP complete runs (each dataset keeps its newest).
prune: $(STAMP)
	$(BIN)/python -m aligned_kedro.runs prune --keep $(KEEP)

clean:
	rm -rf $(VENV) build mlruns mlflow.db
