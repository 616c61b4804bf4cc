# The front door. `make run` and `make test` work on a fresh machine with only Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Local runs are development runs: debug on, dev secret key, SQLite unless DATABASE_URL is set.
DEV_ENV := DJANGO_DEBUG=$${DJANGO_DEBUG:-true}
# Production-like values for `check --deploy` (nothing here is a real secret).
DEPLOY_ENV := DJANGO_DEBUG=false DJANGO_SECRET_KEY=check-deploy-only-0f9e8d7c6b5a49382716afedcba98765 \
	DJANGO_ALLOWED_HOSTS=crm.example.com

.PHONY: install run migrate seed test check lint format worker beat bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

migrate: install
	$(DEV_ENV) $(PY) manage.py migrate --noinput

seed: migrate
	$(DEV_ENV) $(PY) manage.py seed_demo --if-empty

run: seed
	@echo "Serving on http://127.0.0.1:$(PORT)/  (logins: manager / demo, setter / demo)"
	$(DEV_ENV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: lint
	$(DEV_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(DEPLOY_ENV) $(PY) manage.py check --deploy --fail-level WARNING

worker: install
	$(DEV_ENV) $(VENV)/bin/celery -A crm worker --loglevel INFO

beat: install
	$(DEV_ENV) $(VENV)/bin/celery -A crm beat --loglevel INFO

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache

# Speed at the reference size (SPEC S12) on PostgreSQL, beside the naive way. Builds the data set
# into BENCH_DATABASE_URL the first time (a few minutes), then reuses it.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/crm_bench
bench: install
	@psql "$(dir $(BENCH_DATABASE_URL))postgres" -Atc "select 1 from pg_database where datname='$(notdir $(BENCH_DATABASE_URL))'" | grep -q 1 \
		|| psql "$(dir $(BENCH_DATABASE_URL))postgres" -c "create database $(notdir $(BENCH_DATABASE_URL))"
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) bench/run.py $(BENCH_ARGS)
