# Two commands: `make run` (everything on the embedded default, with demo data) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
PORT ?= 5000
export FLASK_APP := wsgi.py

.PHONY: install install-test translations messages run test lint test-sqlite test-postgres bench clean

$(VENV)/.installed: pyproject.toml
	bash scripts/sysdeps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[embedded,test]'
	npm install --no-audit --no-fund --silent
	touch $@

# Compiled translations are build output: made from the .po files at every install/run/test.
translations:
	$(VENV)/bin/pybabel compile -d app/translations

# After changing UI strings: refresh the English catalogue (Russian is the source language).
messages:
	$(VENV)/bin/pybabel extract -F babel.cfg -k _ -k gettext -k lazy_gettext -k N_ -o /tmp/bespoke-messages.pot .
	$(VENV)/bin/pybabel update -i /tmp/bespoke-messages.pot -d app/translations -l en

install: $(VENV)/.installed translations

$(VENV)/.installed: package.json

install-test: install
	bash scripts/sysdeps.sh --test

run: install
	$(VENV)/bin/flask db upgrade
	$(VENV)/bin/flask deploy
	PORT=$(PORT) $(PY) scripts/run.py

# The whole suite on SQLite and again on a throw-away PostgreSQL the tests start themselves, side by side (one pass
# per core: each has its own free ports, Redis, database and temporary folders); each pass's output is printed
# whole when it ends, and either failing fails `make test`.
test: install-test lint
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

lint:
	$(VENV)/bin/ruff check app workers tests bench scripts
	$(VENV)/bin/mypy

# Each pass keeps its temporary files under a folder of its own (PYTEST_DEBUG_TEMPROOT): two passes side by side
# would otherwise both clean pytest's shared numbered folders and trip over each other.
test-sqlite:
	t=$$(mktemp -d); PYTEST_DEBUG_TEMPROOT=$$t $(PY) -m pytest -q --durations=15; s=$$?; rm -rf $$t; exit $$s

test-postgres:
	t=$$(mktemp -d); PYTEST_DEBUG_TEMPROOT=$$t BESPOKE_TEST_DB=postgresql $(PY) -m pytest -q -m "not sqlite_only" \
	  --durations=15 -p no:cacheprovider; s=$$?; rm -rf $$t; exit $$s

bench: install
	$(PY) bench/lifecycle.py
	$(PY) bench/background.py
	$(PY) bench/portals.py

clean:
	rm -rf $(VENV) instance .pytest_cache
