# socklab: `make demo` runs the compose demo, `make test` runs the whole suite; both set up everything
# they need on a machine that has never seen socklab (a .venv, then `socklab prepare`: the Compose v2
# plugin, the images and, for the tests, the host packages; `socklab prepare --list` says what and where).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip install --quiet --disable-pip-version-check --no-compile
# socklab and what it runs with (the demo needs no more); then the developer tools (tests, lint, the build).
RUNTIME := $(VENV)/.installed-runtime
DEV     := $(VENV)/.installed-dev
PYTEST_ARGS ?=

# Ryuk, testcontainers' reaper, is an image from a registry; socklab removes what it makes by label.
export TESTCONTAINERS_RYUK_DISABLED ?= true

# `make` consents to installing on this host the Debian packages socklab needs when they are missing
# (musl-tools for the C witnesses, debootstrap for the swarm's node image, chromium and chromium-driver for
# the browser tests), so that a new machine works; `socklab` and pytest alone only say what is missing.
# INSTALL_MISSING=0 turns that off.
INSTALL_MISSING ?= 1
export SOCKLAB_INSTALL_MISSING := $(INSTALL_MISSING)

.PHONY: help setup base images demo test test-fast lint clean

help:
	@echo "make demo    set up what the demo needs, then docker compose up --scale client=3 until all three answered, then down"
	@echo "make test    set up everything, then the whole test suite (fast tests and lab tests)"
	@echo "make setup | base | images | test-fast | lint | clean"

$(RUNTIME): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) --editable .
	@touch $@

$(DEV): $(RUNTIME)
	$(PIP) --editable '.[dev]'
	@touch $@

setup: $(DEV)

base: $(RUNTIME)
	$(BIN)/socklab prepare --for base --for compose

images: $(RUNTIME)
	$(BIN)/socklab prepare --for images

# Only what the demo runs: the Compose plugin, the base, socklab/server:fork and socklab/client:latest.
demo: $(RUNTIME)
	$(BIN)/socklab prepare --for demo
	$(BIN)/socklab demo

# One process prepares everything the suite shares (host packages, the Compose plugin, the base, tools,
# probes and swarm node images, the C binaries) before any worker starts; the suite's controller then
# builds the session's images once for all workers (tests/conftest.py).
# The lab tests mostly wait (delays, container starts), so workers overlap their waits even on 2 cores; the
# crowds of 50 containers keep to one worker (xdist_group). Tests marked `alone` change the engine under
# everyone (a swarm init or leave breaks running containers' DNS, moby#45144): they run afterwards, by
# themselves. TEST_WORKERS=0 runs the first part in one process too; PYTEST_ARGS go to both parts.
TEST_WORKERS ?= 3
PYTEST := $(BIN)/python -m pytest

test: $(DEV)
	$(BIN)/socklab prepare --for test
	@status=0; \
	$(PYTEST) -n $(TEST_WORKERS) --dist loadgroup -m "not alone" $(PYTEST_ARGS) || status=$$?; \
	$(PYTEST) -m alone $(PYTEST_ARGS) || status=$$?; \
	exit $$status

test-fast: $(DEV)
	$(PYTEST) -m "not lab" $(PYTEST_ARGS)

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean: $(RUNTIME)
	$(BIN)/socklab clean
