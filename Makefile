# Tadasu: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint format messages install clean security lock bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=1 $(PY) manage.py load_demo
	@echo "Tadasu is served at http://127.0.0.1:8000/ (Ctrl+C stops it)"
	DJANGO_DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@$(MAKE) --no-print-directory security
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# National-scale benchmark with budgets (docs/PERFORMANCE.md): 1k, 10k and 100k cases on
# SQLite, then on PostgreSQL when it answers at BENCH_PG_URL (a throwaway database: it is
# dropped and created again). Each run exits non-zero naming what missed its budget; all
# runs go ahead, and the target fails at the end if any did.
BENCH_PG_URL ?= postgres://postgres@127.0.0.1:5432/tadasu_bench
bench: $(STAMP)
	@failed=0; \
	$(PY) tools/bench.py $(BENCH_ARGS) || failed=1; \
	$(PY) tools/bench_receptions.py --budget 30 || failed=1; \
	if $(PY) tools/pg_ready.py "$(BENCH_PG_URL)"; then \
	  $(PY) tools/bench.py --database-url "$(BENCH_PG_URL)" $(BENCH_ARGS) || failed=1; \
	  DATABASE_URL="$(BENCH_PG_URL)" $(PY) tools/bench_receptions.py --budget 30 || failed=1; \
	else echo "SKIP: PostgreSQL does not answer at $(BENCH_PG_URL)"; fi; \
	exit $$failed

# Static security analysis (offline). A finding is fixed, or kept with `# nosec BXXX  # why`.
# pip-audit cannot reach a vulnerability database from here: see README, "Dependency audit".
security: $(STAMP)
	$(VENV)/bin/bandit -q -r cases remedies overview receptions config -x '*/migrations/*'

# Pins the dependency closure installed in .venv (runtime and dev) for audits elsewhere.
lock: $(STAMP)
	$(PY) tools/lock_requirements.py > requirements.lock

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Needs GNU gettext (apt-get install gettext); the compiled .mo files are committed so
# that nobody else needs it.
messages: $(STAMP)
	DJANGO_DEBUG=1 $(PY) manage.py makemessages -l ja -l en --no-obsolete --no-location
	DJANGO_DEBUG=1 $(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) var
