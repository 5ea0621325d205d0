# The two commands of the README's quick start: `make demo` and `make test`.
# `make test PYTHON=python3.13` runs the suite on another Python, in its own venv (.venv-python3.13).
PYTHON ?= python3.11
VENV   ?= $(if $(filter python3.11,$(PYTHON)),.venv,.venv-$(notdir $(PYTHON)))
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --progress-bar on

.PHONY: demo test lint bench clean

$(BIN)/python:
	@echo "make: creating $(VENV) with $(PYTHON)"
	"$$(scripts/find-python $(PYTHON))" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs greenroom (the core: no camera or web extras) into .venv and runs it on the embedded
# sample photo. pip prints each package as it comes, so a first install is never silent.
demo: $(BIN)/python
	@echo "make: installing greenroom and its core dependencies into $(VENV) (about 1 minute the first time)"
	$(PIP) .
	$(BIN)/greenroom demo -o out

# Installs greenroom with every extra and its dev tools (editable) and runs the linter and the
# whole test suite.
test: $(BIN)/python
	@echo "make: installing greenroom[dev] (every extra and the test tools) into $(VENV)"
	$(PIP) -e '.[dev]'
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/python -m pytest

# Speed benchmarks: each prints a table and writes it to docs/.
bench: $(BIN)/python
	$(PIP) --quiet -e '.[dev]'
	$(BIN)/python benchmarks/bench_effects.py
	$(BIN)/python benchmarks/bench_video.py
	$(BIN)/python benchmarks/still_skip.py

clean:
	rm -rf .venv .venv-* out build src/*.egg-info .pytest_cache .ruff_cache
