# The two commands of the README's quick start: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs greenroom into .venv and runs it on the embedded sample photo.
demo: $(BIN)/python
	$(BIN)/python -m pip install --quiet .
	$(BIN)/greenroom demo -o out

# Installs greenroom with its dev tools (editable) and runs the linter and the whole test suite.
test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

# Speed benchmarks: each prints a table and writes it to docs/.
bench: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python benchmarks/bench_effects.py
	$(BIN)/python benchmarks/bench_video.py
	$(BIN)/python benchmarks/still_skip.py

clean:
	rm -rf $(VENV) out build src/*.egg-info .pytest_cache .ruff_cache
