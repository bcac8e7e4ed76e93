# Fresh machine: `make demo` sets everything up and runs the main job; `make test` runs the test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; a plain `pip install torch` would download a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
DEMO_DIR ?= out/demo

.PHONY: setup demo test lint bench clean-demo

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: setup
	BIN=$(VENV)/bin DEMO_DIR=$(DEMO_DIR) bash scripts/demo.sh

test: setup
	$(PY) -m pytest -q -n 2

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) benchmarks/gen_throughput.py

clean-demo:
	rm -rf $(DEMO_DIR)
