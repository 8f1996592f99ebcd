# The two commands a newcomer needs (see README.md):
#   make run    set up .venv and start the bot (console chat on SQLite without a config)
#   make test   set up .venv with the test tools, PostgreSQL and Chromium, then lint, type-check and test
# Everything the tests need is installed here; nothing by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup setup-test postgres chromium lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

setup-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'

run: setup
	$(BIN)/strikewire run

# PostgreSQL's server binaries (initdb, pg_ctl) from Debian's package; the
# tests start their own server in a temporary directory.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null; then \
		echo "installing PostgreSQL (Debian package)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; \
	fi

# Debian's Chromium for the web face's browser test (tests/test_web_browser.py
# drives it with Playwright's Python package; no browser is downloaded from
# anywhere else, and `playwright install` is never run).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Chromium (Debian package)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: setup-test postgres chromium lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis test-artifacts
