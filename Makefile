# The two commands a newcomer runs: `make demo` and `make test`.
# Both create (or refresh, when pyproject.toml changed) the virtual environment in .venv
# with pip from this project's own files, install the Debian packages the sandbox needs
# where they are missing, and then run.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.effdl-installed

.PHONY: demo test lint format venv system-deps clean

demo: venv system-deps
	$(BIN)/effdl demo

test: venv system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is needed, found " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# bubblewrap is the grader's sandbox. Without it the grader still works, says so loudly,
# and marks its results unsandboxed, so a failed install here is a warning, not an error.
# chromium renders the feedback and report pages in tests/test_browser.py (skipped, with the
# reason, where it is missing).
system-deps:
	@bash scripts/install-system-deps.sh

clean:
	rm -rf $(VENV) runs graded .pytest_cache .ruff_cache
