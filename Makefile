# Two commands on a fresh machine (see README): `make demo` and `make test`.
# Both create .venv/ and install everything on first use (about 3-5 minutes, mostly torch).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo demo-offline test test-fast bench clean-venv

setup: $(STAMP)

$(STAMP): requirements.txt setup.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fusion-ros demo --ros --out out/demo

demo-offline: $(STAMP)
	$(BIN)/fusion-ros demo --out out/demo-offline

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/bench_scene.py --record BENCHMARKS.md

clean-venv:
	rm -rf $(VENV)
