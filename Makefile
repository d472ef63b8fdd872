# Every target that runs code first makes sure .venv exists with the pinned dependencies.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Prefect: no telemetry (there is no network), state kept inside the checkout.
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_HOME ?= $(CURDIR)/.prefect

.PHONY: test lint typecheck unit demo bench clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Our own modules compiled once: with PYTHONDONTWRITEBYTECODE set (as on CI machines) every
# process the tests start (CLI runs, workers, killed writers) compiled them again.
unit: $(STAMP)
	$(BIN)/python -m compileall -q -j 0 bench cli connectors engine flows recovery simulator \
		transforms tests
	$(BIN)/pytest

# the checks run beside the tests (separate processes), once the venv is there
test: $(STAMP)
	$(MAKE) --no-print-directory -j3 lint typecheck unit

demo: $(STAMP)
	$(BIN)/zoho-etl demo

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .prefect .pytest_cache .mypy_cache .ruff_cache data
