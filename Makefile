# The two commands of the README's quick start: `make demo` and `make test`.
# `make test PYTHON=python3.13` runs the suite on another Python, in its own venv (.venv-python3.13).
PYTHON ?= python3.11
VENV   ?= $(if $(filter python3.11,$(PYTHON)),.venv,.venv-$(notdir $(PYTHON)))
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --progress-bar on

.PHONY: demo test lint bench train clean

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
	$(BIN)/python benchmarks/model_graph.py

# greenroom's own model (docs/training.md): MediaPipe's selfie model (general, 256x256)
# fine-tuned on ../shared's EG1800-dev minus its held-out tenth (flips only, no teacher),
# written back into the same .tflite; then scored raw on the held-out tenth and dance-twirl
# beside today's default (auto). About 10-20 minutes on this shared 2-core machine.
# weights/greenroom_selfie.tflite is the export of this command's best.pt (run with 1 thread).
# The CPU torch 2.13.0 wheel is what this machine has on disk; elsewhere '.[train]' picks one.
SHARED     ?= ../shared
TRAIN_OUT  ?= out/train
TRAIN_NAME ?= greenroom-selfie
TRAIN_ARGS ?= --net selfie-general --no-augment background --no-augment color \
	--no-augment blur --no-augment scale --epochs 10 --steps-per-epoch 60 --lr 1e-4 \
	--batch 8 --threads 1 --patience 10
train: $(BIN)/python
	$(PIP) -e '.[train]' 'torch==2.13.0'
	nice -n 10 $(BIN)/greenroom train $(SHARED)/data/eg1800-dev -o $(TRAIN_OUT) \
		--name $(TRAIN_NAME) $(TRAIN_ARGS)
	for model in $(TRAIN_OUT)/model.tflite auto; do \
		$(BIN)/greenroom eval $(TRAIN_OUT)/held-out --sequence $(SHARED)/data/davis-dance-twirl \
			--model $$model --stage raw || exit 1; \
	done

clean:
	rm -rf .venv .venv-* out build src/*.egg-info .pytest_cache .ruff_cache
