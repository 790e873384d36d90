# Quick start: `make demo` runs the main job on the sample project, `make test` runs the tests.
# Both build the virtual environment first (once; again when pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: demo test test-fast lint bench fuzz clean check-python

# tomllib (choices files) is in the standard library from 3.11; pyproject.toml says the same.
check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "soundify-otio needs Python 3.11 or newer, found " + sys.version.split()[0] + ": run make PYTHON=python3.11")'

$(STAMP): pyproject.toml | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p $(OUT)
	$(BIN)/soundify-otio sample-project sample_projects
	$(BIN)/soundify-otio annotate sample_projects/street.otio -o $(OUT)/street.soundify.otio \
		--library sample_projects/library --fallback-random --force --report $(OUT)/street.report.html
	$(BIN)/soundify-otio render $(OUT)/street.soundify.otio -o $(OUT)/street.preview.wav \
		--with-video $(OUT)/street.preview.mp4 --force

test: $(STAMP)
	$(BIN)/python -m pytest -q

# the quick lane: no end-to-end model runs, no browser
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m 'not slow and not browser'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/bench_annotate.py

clean:
	rm -rf $(OUT) .pytest_cache

fuzz: $(STAMP)
	SOUNDIFY_FUZZ_EXAMPLES=$${SOUNDIFY_FUZZ_EXAMPLES:-2000} $(BIN)/python -m pytest -q tests/test_fuzz.py
