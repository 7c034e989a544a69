# Tadasu: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# axe-core for the accessibility tests (tests/e2e/package.json, locked; `npm ci`).
AXE    := tests/e2e/node_modules/axe-core/axe.min.js

.PHONY: run serve test e2e screenshots lint format messages install clean security lock bench mutation \
	loadtest loadtest-short

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Without npm the axe-core tests are skipped with that reason (under CI=true they fail).
$(AXE): tests/e2e/package.json tests/e2e/package-lock.json
	@if command -v npm >/dev/null 2>&1; then (cd tests/e2e && npm ci --no-audit --no-fund \
		&& touch node_modules/axe-core/axe.min.js) \
		|| echo "npm ci failed: tests needing axe-core will be skipped (CI fails them)"; \
	else echo "npm not found: tests needing axe-core will be skipped (apt-get install npm)"; fi

# SQLite under var/, no other service: background jobs run in a thread of the development
# server (TADASU_JOBS_IN_PROCESS, jobs/worker.py).
run: $(STAMP)
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=1 $(PY) manage.py load_demo
	@echo "Tadasu is served at http://127.0.0.1:8000/ (Ctrl+C stops it)"
	DJANGO_DEBUG=1 TADASU_JOBS_IN_PROCESS=1 $(PY) manage.py runserver 127.0.0.1:8000

# The production stack (README, "Production"): migrate, collectstatic, gunicorn and the job
# workers, against DATABASE_URL (PostgreSQL) and REDIS_URL. Refuses SQLite.
serve: $(STAMP)
	$(PY) tools/serve.py

# The whole suite, the browser tests (tests/e2e, Debian's Chromium) included.
test: $(STAMP) $(AXE)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@$(MAKE) --no-print-directory security
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Only the end-to-end tests in Chromium (apt-get install chromium fonts-ipaexfont).
e2e: $(STAMP) $(AXE)
	$(VENV)/bin/pytest -m e2e tests/e2e $(PYTEST_ARGS)

# PNGs for the README (docs/screenshots/): the demo in Chromium, a letter via pdftoppm
# (apt-get install chromium fonts-ipaexfont poppler-utils).
screenshots: $(STAMP)
	$(PY) tools/screenshots.py docs/screenshots

# National-scale benchmark with budgets (docs/PERFORMANCE.md): 1k, 10k and 100k cases on
# SQLite, then on PostgreSQL when it answers at BENCH_PG_URL (a throwaway database: it is
# dropped and created again); a 100,000-row reception sheet and a 10,000-case case file
# (tools/bench_import.py, its 30 s budget on PostgreSQL) on each. Each run exits non-zero
# naming what missed its budget; all runs go ahead, and the target fails at the end if any did.
BENCH_PG_URL ?= postgres://postgres@127.0.0.1:5432/tadasu_bench
bench: $(STAMP)
	@failed=0; \
	$(PY) tools/bench.py $(BENCH_ARGS) || failed=1; \
	$(PY) tools/bench_receptions.py --budget 30 || failed=1; \
	$(PY) tools/bench_import.py || failed=1; \
	if $(PY) tools/pg_ready.py "$(BENCH_PG_URL)"; then \
	  $(PY) tools/bench.py --database-url "$(BENCH_PG_URL)" $(BENCH_ARGS) || failed=1; \
	  DATABASE_URL="$(BENCH_PG_URL)" $(PY) tools/bench_receptions.py --budget 30 || failed=1; \
	  $(PY) tools/bench_import.py --database-url "$(BENCH_PG_URL)" --budget 30 || failed=1; \
	else echo "SKIP: PostgreSQL does not answer at $(BENCH_PG_URL)"; fi; \
	exit $$failed

# The load test (docs/PERFORMANCE.md, "Load test"; tools/loadtest.py): `make serve`'s stack
# (4 gunicorn processes, 2 job workers) on PostgreSQL and Redis, 10,000 cases in 10 cities,
# 50 simulated staff for 3 minutes while one city imports 2,000 cases and another issues 500
# letters. LOADTEST_DATABASE_URL is dropped and created again (a throwaway database); Redis
# keys carry a prefix of the run's own. Fails on any server error, anything lost or doubled,
# a failed verify_audit or ledger_totals --check, or a page's p95 of 300 ms or more outside
# the importing city. E.g. LOADTEST_ARGS="--duration 60 --cases 2000".
LOADTEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tadasu_loadtest
LOADTEST_REDIS_URL    ?= redis://127.0.0.1:6379/12
LOADTEST_ARGS ?=
loadtest: $(STAMP)
	$(PY) tools/loadtest.py --database-url "$(LOADTEST_DATABASE_URL)" \
		--redis-url "$(LOADTEST_REDIS_URL)" $(LOADTEST_ARGS)

# CI's 30-second version (.ci/run): 1,000 cases, a 200-case import, 50 letters; the same
# checks, with a p95 budget of 1,500 ms for CI's two busy cores (a regression catcher, not
# the 300 ms promise, which `make loadtest` holds).
loadtest-short: $(STAMP)
	$(PY) tools/loadtest.py --database-url "$(LOADTEST_DATABASE_URL)" \
		--redis-url "$(LOADTEST_REDIS_URL)" --duration 30 --cases 1000 --import-cases 200 \
		--letters 50 --budget-ms 1500 $(LOADTEST_ARGS)

# Mutation testing of the core rules with Cosmic Ray (docs/TESTING.md): each module is
# mutated in a scratch copy under var/mutation/ and tested with its own tests
# (tools/mutation.py, MODULES). Not part of CI. `make mutation MODULES="mynumber deadlines"`
# runs some; REPORT=1 prints the last figures again, AGAIN=1 tries only the last survivors;
# JOBS modules run side by side (2: one per core of this machine; JOBS=1 on a shared one).
MODULES ?=
JOBS ?= 2
mutation: $(STAMP)
	$(PY) tools/mutation.py --jobs $(JOBS) $(if $(REPORT),--report) $(if $(AGAIN),--again) \
		$(MODULES)

# Static security analysis (offline). A finding is fixed, or kept with `# nosec BXXX  # why`.
# pip-audit cannot reach a vulnerability database from here: see README, "Dependency audit".
security: $(STAMP)
	$(VENV)/bin/bandit -q -r cases remedies overview receptions jobs api config tools/serve.py -x '*/migrations/*'

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
