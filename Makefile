# socklab: `make demo` runs the compose demo, `make test` runs the whole suite; both set up everything
# they need on a fresh machine (a .venv, the Compose v2 plugin, the base image, the images).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

# Ryuk, testcontainers' reaper, is an image from a registry; socklab removes what it makes by label.
export TESTCONTAINERS_RYUK_DISABLED ?= true

.PHONY: help setup base images demo test test-fast lint clean

help:
	@echo "make demo    set up, then docker compose up --scale client=3 until all three answered, then down"
	@echo "make test    set up, then the whole test suite (fast tests and lab tests)"
	@echo "make setup | base | images | test-fast | lint | clean"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --editable '.[dev]'
	@touch $@

setup: $(STAMP)
	$(BIN)/socklab compose

base: setup
	$(BIN)/socklab base

# `make` consents to installing the host tools the C witnesses need (musl-gcc, via apt-get) and the browser
# the live view's tests drive (chromium, chromium-driver) when they are missing, so that a fresh machine
# works; `socklab images` and pytest alone only say what is missing. INSTALL_MISSING=0 turns that off.
INSTALL_MISSING ?= 1

images: base
	SOCKLAB_INSTALL_MISSING=$(INSTALL_MISSING) $(BIN)/socklab images

demo: base
	$(BIN)/socklab images --no-c
	$(BIN)/socklab demo

# The lab tests mostly wait (delays, container starts), so workers overlap their waits even on 2 cores; the
# crowds of 50 containers keep to one worker (xdist_group). Tests marked `alone` change the engine under
# everyone (a swarm init or leave breaks running containers' DNS, moby#45144): they run afterwards, by
# themselves. TEST_WORKERS=0 runs the first part in one process too; PYTEST_ARGS go to both parts.
TEST_WORKERS ?= 3
PYTEST := SOCKLAB_INSTALL_MISSING=$(INSTALL_MISSING) $(BIN)/python -m pytest

test: base
	@status=0; \
	$(PYTEST) -n $(TEST_WORKERS) --dist loadgroup -m "not alone" $(PYTEST_ARGS) || status=$$?; \
	$(PYTEST) -m alone $(PYTEST_ARGS) || status=$$?; \
	exit $$status

test-fast: $(STAMP)
	SOCKLAB_INSTALL_MISSING=$(INSTALL_MISSING) $(BIN)/python -m pytest -m "not lab" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean: $(STAMP)
	$(BIN)/socklab clean
