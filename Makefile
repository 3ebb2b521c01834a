# Two entry points for a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint services agents bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/quotio-gateway serve

services:
	bash tests/services.sh

# The coding-agent CLIs for tests/agents, from the npm registry into .cache/agents (skips what is there).
agents:
	bash tests/agents/install.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP) services agents lint
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache
