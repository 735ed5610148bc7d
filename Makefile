# ferroprop: `make demo` and `make test` do all the set-up on a fresh machine (a virtual
# environment in .venv, the Python dependencies, a release build of the extension).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export VIRTUAL_ENV := $(abspath $(VENV))
# pyo3's build script (clippy --all-features) finds the interpreter here.
export PYO3_PYTHON := $(abspath $(PY))

STAMP := $(VENV)/.ferroprop-installed
SOURCES := $(wildcard src/*.rs) Cargo.toml Cargo.lock pyproject.toml

.PHONY: demo test develop check-rust check-python bench clean

demo: $(STAMP)
	$(PY) -m ferroprop demo

test: $(STAMP) check-rust check-python

$(VENV)/bin/maturin:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "maturin>=1.9.4,<2" ruff

# Builds the extension in release mode and installs it (editable) with the test extras.
$(STAMP): $(VENV)/bin/maturin $(SOURCES)
	$(VENV)/bin/maturin develop --release --quiet --extras test
	touch $@

develop: $(STAMP)

check-rust:
	cargo fmt --all -- --check
	cargo clippy --all-targets --all-features -- -D warnings
	cargo test

check-python: $(STAMP)
	$(VENV)/bin/ruff check python tests benches examples
	$(VENV)/bin/ruff format --check python tests benches examples
	$(PY) -m pytest -q

bench:
	cargo bench --bench network

clean:
	rm -rf $(VENV) target
