# ferroprop: `make demo` and `make test` do all the set-up on a fresh machine (a virtual
# environment in .venv, the Python dependencies, a release build of the extension).
#
#   make develop   editable install into .venv (incremental release build) for working
#   make wheel     a manylinux2014 wheel in dist/ (built with zig, so any glibc >= 2.17)
#   make test      Rust checks, then the wheel installed into a fresh virtual environment
#                  and every Python check run against that installed package

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export VIRTUAL_ENV := $(abspath $(VENV))
# pyo3's build script (clippy --all-features) finds the interpreter here.
export PYO3_PYTHON := $(abspath $(PY))

STAMP := $(VENV)/.ferroprop-installed
SOURCES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock pyproject.toml
# The wheel is tested in its own environment, made afresh each time.
TEST_VENV ?= build/test-venv
TEST_PY := $(TEST_VENV)/bin/python
# zig links against an old glibc, which gives the wheel the manylinux2014 tag. Building
# with `make wheel WHEEL_FLAGS=` uses the system linker and gets the tag that one allows.
# The wheel builds in its own target directory so that it and `make develop` (different
# linker settings) do not rebuild each other's dependencies.
WHEEL_FLAGS ?= --zig --compatibility manylinux2014

.PHONY: demo test develop wheel test-wheel check-rust check-python check-types bench clean

demo: $(STAMP)
	$(PY) -m ferroprop demo

test: check-rust test-wheel

$(VENV)/bin/maturin:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "maturin>=1.9.4,<2" ruff ziglang

# Builds the extension in release mode and installs it (editable) with the test extras.
$(STAMP): $(VENV)/bin/maturin $(SOURCES)
	$(VENV)/bin/maturin develop --release --quiet --extras test
	touch $@

develop: $(STAMP)

wheel: $(VENV)/bin/maturin
	rm -rf dist
	PATH="$(abspath $(VENV))/bin:$$PATH" CARGO_TARGET_DIR=target/wheel \
		$(VENV)/bin/maturin build --release --strip --quiet $(WHEEL_FLAGS) --out dist

# Installs the wheel (not the source tree) with the test extras into a new environment
# and runs the lint, the types and the test suite against it.
test-wheel: wheel
	rm -rf $(TEST_VENV)
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_PY) -m pip install --quiet --upgrade pip
	$(TEST_PY) -m pip install --quiet "$$(ls dist/ferroprop-*.whl)[test]"
	$(MAKE) check-python check-types PY=$(abspath $(TEST_PY)) STAMP=
	$(TEST_PY) -c "import ferroprop, sys; sys.exit('site-packages' not in ferroprop.__file__)"

check-rust: $(VENV)/bin/maturin
	cargo fmt --all -- --check
	cargo clippy --all-targets --all-features -- -D warnings
	cargo test

check-python: $(STAMP)
	$(VENV)/bin/ruff check python tests benches examples
	$(VENV)/bin/ruff format --check python tests benches examples
	$(PY) -m pytest -q

check-types: $(STAMP)
	$(PY) -m mypy --strict python/ferroprop
	$(PY) -m mypy.stubtest ferroprop --mypy-config-file pyproject.toml

bench:
	cargo bench --bench network

clean:
	rm -rf $(VENV) target dist build
