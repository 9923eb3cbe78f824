# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export OSR_HOME ?= $(CURDIR)/.osr
# postings per demo company; the demo's sandbox and `make dev`'s serve the same books
DEMO_POSTINGS ?= 100000

.PHONY: demo test dev lint bench clean

$(BIN)/osr: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/osr

demo: $(BIN)/osr  ## embedded home, synthetic connection, three full imports through Dagster
	$(BIN)/osr demo --postings $(DEMO_POSTINGS)

# first what the suite needs beyond the venv, installed or started only when missing (chromium, PostgreSQL)
test:  ## the whole suite (PostgreSQL at OSR_TEST_PG_URL, default 127.0.0.1:5432)
	scripts/prepare-test-machine
	$(MAKE) --no-print-directory $(BIN)/osr
	$(BIN)/ruff check osr_pipelines osr_sandbox osr_agent tests bench
	$(BIN)/pytest

# the sandbox serves on the port the demo connection names (`osr demo` records the one it served on)
dev: $(BIN)/osr  ## the Dagster UI and daemon on the embedded home, beside the demo's Tripletex sandbox
	umask 077; $(BIN)/osr init >/dev/null; \
	$(BIN)/osr sandbox serve tripletex --from-connection demo --postings $(DEMO_POSTINGS) \
	    --option state=$(OSR_HOME)/demo-books.json --option years=3 & \
	trap 'kill $$!' EXIT; \
	OSR_DEMO_CONSUMER_TOKEN=sandbox-consumer-token OSR_DEMO_EMPLOYEE_TOKEN=sandbox-employee-token \
	DAGSTER_HOME=$(OSR_HOME)/dagster $(BIN)/dagster dev -w workspace.yaml

bench: $(BIN)/osr
	$(BIN)/python bench/bench_import.py

clean:
	rm -rf $(VENV) .osr
