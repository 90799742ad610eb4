# Backoffice: `make run` starts everything on a fresh clone; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run setup install install-dev test test-fast lint bench check-migrations browser system-packages clean check backup restore

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Development mode for `make setup`/`make run` (and the Procfile processes honcho starts) and the migration
# check: the settings default to production. Set DJANGO_DEBUG=false yourself for production mode.
setup run check-migrations: export DJANGO_DEBUG ?= true

## setup: migrate, roles, schedules, demo data, admin account, static files (idempotent)
setup: install system-packages
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py setup_roles
	$(BIN)/python manage.py setup_schedules
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py ensure_admin --url http://localhost:$(PORT)/admin/

## run: set up, then start web (gunicorn) and worker (qcluster) from the Procfile
run: setup
	PORT=$(PORT) $(BIN)/honcho start -f Procfile web worker

## test: install what tests need, then the whole suite (unit, integration, browser)
test: install-dev check-migrations browser system-packages
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# Commands below run in development mode on a machine without DJANGO_SECRET_KEY (production sets it).
DEV_UNLESS_KEYED := $(if $(DJANGO_SECRET_KEY),,DJANGO_DEBUG=$${DJANGO_DEBUG:-true})

## check: pre-deployment check (deploy settings in production mode, migrations, stock, API schema, backups)
check: install
	$(DEV_UNLESS_KEYED) $(BIN)/python manage.py preflight

## backup: database + media into one archive in BACKUP_DIR (default ./backups)
backup: install
	$(DEV_UNLESS_KEYED) $(BIN)/python manage.py backup

## restore FILE=backups/backoffice-….tar.gz: replace database and media (stop web and worker first)
## (backup and restore print the database and media folder first; restore asks to confirm, YES=1 skips it)
restore: install
	@if [ -z "$(FILE)" ]; then echo "Usage: make restore FILE=backups/backoffice-YYYYMMDD-….tar.gz [YES=1]"; exit 2; fi
	$(DEV_UNLESS_KEYED) $(BIN)/python manage.py restore $(if $(YES),--yes) "$(FILE)"

check-migrations: install-dev
	$(BIN)/python manage.py makemigrations --check --dry-run

browser:
	@if [ -z "$$CHROMIUM_PATH" ] && [ ! -x /usr/bin/chromium ]; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium fonts-liberation >/dev/null; \
	fi

# WeasyPrint's system libraries and fonts (PDF documents, orders/documents_pdf.py) and poppler-utils (pdftoppm:
# a browser test keeps a PNG of the PDF it received), from Debian's packages, only when missing.
system-packages:
	@if ! ldconfig -p | grep -q 'libpangoft2-1.0.so.0' || ! ldconfig -p | grep -q 'libharfbuzz-subset.so.0' \
	  || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || ! command -v pdftoppm >/dev/null; then \
	  echo "Installing WeasyPrint's libraries (pango, harfbuzz), fonts and poppler-utils from Debian"; \
	  apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq libpango-1.0-0 libpangoft2-1.0-0 \
	    libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core poppler-utils >/dev/null; \
	fi

lint: install-dev
	$(BIN)/ruff check .

bench: install-dev
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) staticfiles test-artifacts
