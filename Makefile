# make run   — start the platform (own .venv, migrations, demo user, uvicorn, offline model, SQLite)
# make test  — lint, the JavaScript unit tests (Node 20), `npm ci` when node_modules is missing or stale,
#              migration and deploy checks, the whole test suite (with the real AG-UI and AI SDK clients)
# make worker — a Celery worker executing runs (AGENT_RUNNER=celery; many machines)
# make bench — benchmarks against their floors, SQLite and PostgreSQL (never part of the tests; BENCH_QUICK=1: a smoke run)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000
# Production-like settings for `check --deploy`: a long random key, debug off.
DEPLOY_ENV := DJANGO_DEBUG=0 DJANGO_ALLOWED_HOSTS=agents.example.com \
	DJANGO_SECRET_KEY=check-deploy-$(shell head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n')

.PHONY: run worker test test-js lint bench venv clean

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_demo_user
	@echo "Open http://$(HOST):$(PORT)/ and sign in with the demo account above."
	$(VENV)/bin/uvicorn agents_platform.asgi:application --host $(HOST) --port $(PORT) --no-access-log --lifespan on --timeout-graceful-shutdown 5

# A worker for many-machine setups: same settings as the web (AGENT_RUNNER=celery, DATABASE_URL, REDIS_URL).
worker: $(STAMP)
	$(PY) manage.py worker

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# The chat's JavaScript units (static/chat/js) under Node's built-in test runner; nothing to install.
test-js:
	node --test tests/js/

# The real AG-UI and AI SDK clients the protocol tests run (package-lock.json; never committed).
node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules

test: lint test-js node_modules
	$(PY) manage.py makemigrations --check --dry-run
	$(DEPLOY_ENV) $(PY) manage.py check --deploy --fail-level WARNING
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts node_modules
