# The README's commands. `make run` and `make test` each set up what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= deploy/ingest.yaml

CONSTRAINTS := deploy/constraints.txt

.PHONY: setup tools run test lint schema constraints clean

# Every dependency at the version pinned in deploy/constraints.txt (the image installs the same).
$(BIN)/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

# promtool and Chromium, from Debian's packages, for the alert-rule and status-page tests.
tools: setup
	bash .ci/tools.sh $(BIN)

run: setup
	$(BIN)/ingest run --config $(CONFIG)

lint: setup
	$(BIN)/ruff check ingest tests bench examples
	$(BIN)/ruff format --check ingest tests bench examples
	$(BIN)/mypy

# Four test processes that steal work from each other: most integration tests wait on a broker or a
# service process, and stealing keeps a slow test started last from making the run's tail.
test: lint tools
	$(BIN)/pytest -q -n 4 --dist worksteal --durations=15

schema: setup
	$(BIN)/python -c "from ingest.models import committed_schemas, schema_file_text; \
	[open(f'schemas/{name}', 'w').write(schema_file_text(schema)) for name, schema in committed_schemas().items()]"

# Refresh the pins: the newest versions pyproject.toml allows, resolved in a fresh environment.
constraints:
	rm -rf .constraints-venv
	$(PYTHON) -m venv .constraints-venv
	.constraints-venv/bin/python -m pip install --quiet --upgrade pip
	.constraints-venv/bin/python -m pip install --quiet -e ".[dev]"
	{ echo "# Pinned versions of every dependency (make constraints); installed with pip -c."; \
	  .constraints-venv/bin/python -m pip freeze --exclude-editable; } > $(CONSTRAINTS)
	rm -rf .constraints-venv

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
