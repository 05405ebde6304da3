# The two commands of the README: `make run` and `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run serve test lint install system-packages client-tools messages

# Creates the virtual environment when missing; reinstalls when a requirements file changes.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP) system-packages client-tools

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_users
	$(PY) manage.py rungateway

# The production server: DEBUG off, so DJANGO_SECRET_KEY and ALLOWED_HOSTS must be set (see README).
serve: $(STAMP)
	DEBUG=0 $(PY) manage.py migrate --noinput
	DEBUG=0 $(PY) manage.py collectstatic --noinput --verbosity 0
	DEBUG=0 $(PY) manage.py serve

test: $(STAMP) system-packages client-tools
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports  # the layers: pyproject.toml's [tool.importlinter], docs/architecture.md
	$(PY) manage.py makemigrations --check --dry-run

# The web page's browser tests drive the system's Chromium and its driver; the translation tests use GNU
# gettext; the reverse proxy's tests run nginx (/usr/sbin, off a user's PATH) with a certificate made by
# openssl. Installed from Debian's packages when missing, if we are root; otherwise those tests skip and
# say why (with CI=true they fail instead).
SYSTEM_PACKAGES := chromium chromium-driver gettext nginx openssl
system-packages:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v msgfmt >/dev/null \
	    || ! [ -x /usr/sbin/nginx ] || ! command -v openssl >/dev/null; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	        echo "Installing $(SYSTEM_PACKAGES) for the browser, translation and reverse proxy tests"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	    else \
	        echo "Missing one of $(SYSTEM_PACKAGES), and not root: the tests that need them will skip."; \
	    fi; \
	fi

# Third-party clients from npm that the tests drive against a live gateway (Codex CLI: openai_api/tests/
# test_codex_cli.py), at the versions pinned in .tools/package-lock.json, into .tools/node_modules (ignored by
# git). Skipped when that lock file is already installed; without npm, those tests skip (with CI=true, fail).
CLIENT_TOOLS := .tools/node_modules/.bin/codex
client-tools:
	@if ! [ -x $(CLIENT_TOOLS) ] || [ .tools/package-lock.json -nt .tools/node_modules/.package-lock.json ]; then \
	    if command -v npm >/dev/null; then \
	        echo "Installing the clients of .tools/package-lock.json (Codex CLI) for their tests"; \
	        npm ci --prefix .tools --no-audit --no-fund --loglevel=error; \
	    else \
	        echo "npm is missing: the Codex CLI tests will skip."; \
	    fi; \
	fi

# Refresh the translation catalogs (locale/*/LC_MESSAGES/*.po) from the strings in the code, then compile
# them into the .mo files that are committed beside them (docs/i18n.md).
MAKEMESSAGES := $(PY) manage.py makemessages --all --no-obsolete --add-location=file --ignore=staticfiles --ignore=.venv
messages: $(STAMP)
	$(MAKEMESSAGES) --domain django
	$(MAKEMESSAGES) --domain djangojs --ignore=web/static/web/vendor
	$(PY) manage.py compilemessages --ignore=.venv --ignore=staticfiles
