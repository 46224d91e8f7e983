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

# Three test processes: most integration tests wait on a broker or a service process, not the CPU.
test: lint tools
	$(BIN)/pytest -q -n 3 --durations=15

schema: setup
	$(BIN)/python -c "import json; from ingest.models import article_json_schema; \
	open('schemas/article.v1.json', 'w').write(json.dumps(article_json_schema(), indent=2, ensure_ascii=False) + '\n')"

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
