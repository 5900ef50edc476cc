# `make book` and `make test` work on a fresh clone: they create (or reuse) .venv, install
# the pinned dependencies, then run. PROFILE=ci|quick|full; real data: CKPLUS=..., FER2013=...,
# FERPLUS=..., NOVA=... (a NovaEmotions/TFD-style class folder), CASME2=... (the CASME II folder)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
DATA_ARGS := $(if $(CKPLUS),--ckplus $(CKPLUS)) $(if $(FER2013),--fer2013 $(FER2013)) \
             $(if $(FERPLUS),--ferplus $(FERPLUS)) $(if $(NOVA),--nova $(NOVA)) \
             $(if $(CASME2),--casme2 $(CASME2))

.PHONY: book test install lint unit notebooks build browser chromium bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

book: install
	$(PY) -m fer_helpers.book data --profile $(PROFILE) $(DATA_ARGS)
	$(PY) -m fer_helpers.book run --profile $(PROFILE) $(DATA_ARGS)
	$(PY) -m fer_helpers.book build

lint: install
	$(VENV)/bin/ruff check fer_helpers tests notebooks

unit: install
	$(PY) -m pytest -m "not notebooks and not browser" -q

# Headless Chromium from Debian (Playwright drives it; it never downloads a browser).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# The whole check: lint, unit tests, every notebook under profile ci, the strict book
# build, and the browser test of the built pages.
test: install chromium
	$(VENV)/bin/ruff check fer_helpers tests notebooks
	$(PY) -m pytest -q --durations=10

bench: install
	$(PY) -m fer_helpers.bench synth
	$(PY) -m fer_helpers.bench train
	$(PY) -m fer_helpers.bench visualize
	$(PY) -m fer_helpers.bench facs
	$(PY) -m fer_helpers.bench micro
	$(PY) -m fer_helpers.bench apply

clean:
	rm -rf _build book/_generated data/synthfacs artifacts
