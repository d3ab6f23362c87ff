# `make demo` and `make test` each set up everything on a fresh machine, then run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The CPU build of torch lies in /opt/wheels on these machines; elsewhere pip uses its index.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)

.PHONY: demo test test-all test-gpu lint bench fidelity reliability

$(VENV)/.installed: requirements.txt pyproject.toml
	@echo "setting up $(VENV): first run, or requirements.txt / pyproject.toml changed since"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(FIND_LINKS) -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check  # the lock satisfies every range pyproject.toml declares
	touch $@

# The demo ends by serving the UI on the demo's ledger (Ctrl-C stops it). Run again, it reuses
# the venv, the corpus and the finished runs, and resumes a run that Ctrl-C interrupted. It stops
# first, with the URL, when a UI (another demo's) already holds the port.
DEMO_PORT := 8501
demo: $(VENV)/.installed
	@echo "venv $(VENV): ready, installed $$(date -r $(VENV)/.installed '+%F %T') (reused; rm -rf $(VENV) reinstalls)"
	@$(PY) -m provenance.ports $(DEMO_PORT)
	$(VENV)/bin/provenance demo --out provenance-data
	$(VENV)/bin/provenance ui --out provenance-data --port $(DEMO_PORT)

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest -q

test-all: lint
	$(PY) -m pytest -q -m ""

# The engine on a CUDA device against the CPU float64 oracle (tests/gpu/; a GPU machine only).
test-gpu: $(VENV)/.installed
	$(PY) -m pytest -q -m gpu tests/gpu

bench: $(VENV)/.installed
	$(PY) -m benchmarks.overhead

# The whole reliability suite (tests/reliability/; the fast subset runs in `make test`).
reliability: $(VENV)/.installed
	$(PY) -m pytest -q -m "reliability_full or not slow" tests/reliability

# The fidelity benchmarks of docs/fidelity.md. planted_regimes runs the Bergson peer only when
# it is installed under .peers/bergson (benchmarks/bergson_peer.py says how); it prints why not.
fidelity: $(VENV)/.installed
	$(PY) -m benchmarks.fidelity_mc
	$(PY) -m benchmarks.planted_regimes
	$(PY) -m benchmarks.leave_one_out
