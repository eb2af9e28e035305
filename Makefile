# e-Retribusi Pasar — `make run` serves the demo, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: install run test lint format browser i18n bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# Migrate the SQLite database in instance/, load the demo, serve on http://127.0.0.1:5000
run: install
	$(BIN)/retribusi db upgrade
	$(BIN)/retribusi demo
	$(BIN)/retribusi run --host 127.0.0.1 --port 5000

# Debian's Chromium for the browser tests (Playwright cannot download a browser here).
browser:
	@if command -v chromium >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "chromium not found: browser tests will be skipped (install Debian's chromium to run them)"; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The whole suite on SQLite, or on PostgreSQL when TEST_DATABASE_URL is set.
test: install browser lint
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# Extract each unit's messages, merge them into its Indonesian catalogue, compile it. A unit
# nested in another (retribusi/levy in retribusi) keeps its own catalogue.
I18N_UNITS := retribusi retribusi/levy vendors payments payments/qris payments/va payments/sim payments/portal reconcile
i18n: install
	@mkdir -p build
	@for unit in $(I18N_UNITS); do \
	  [ -d $$unit ] || continue; \
	  pot=build/$$(echo $$unit | tr / -).pot; \
	  ignore=$$(for other in $(I18N_UNITS); do case $$other in $$unit/*) echo --ignore-dirs=$${other#$$unit/};; esac; done); \
	  $(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
	    $$ignore -o $$pot $$unit || exit 1; \
	  grep -q '^msgid "[^"]' $$pot || continue; \
	  if [ -f $$unit/translations/id/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel update -i $$pot -d $$unit/translations -l id --no-fuzzy-matching --ignore-obsolete; \
	  else \
	    $(BIN)/pybabel init -i $$pot -d $$unit/translations -l id; \
	  fi; \
	  $(BIN)/pybabel compile -d $$unit/translations || exit 1; \
	done

bench: install
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache
