# The README's commands. `make run` and `make test` each set up what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= deploy/ingest.yaml

.PHONY: setup tools run test lint schema clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
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

test: lint tools
	$(BIN)/pytest -q

schema: setup
	$(BIN)/python -c "import json; from ingest.models import article_json_schema; \
	open('schemas/article.v1.json', 'w').write(json.dumps(article_json_schema(), indent=2, ensure_ascii=False) + '\n')"

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
