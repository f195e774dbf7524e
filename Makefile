# hallq — the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
POSTGRES_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test install lint test-sqlite test-postgres browser openapi openapi-check bench messages clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

install: $(VENV)/.installed

# `make run` talks to the local stand-in of WeChat's and the SMS vendors' servers (no machine here
# reaches the real ones); set these variables to use a real official account instead.
SANDBOX_PORT ?= 9100
run: export HALLQ_WECHAT_APP_ID ?= wx5a4d000000sandbox
run: export HALLQ_WECHAT_APP_SECRET ?= sandbox-app-secret
run: export HALLQ_WECHAT_TOKEN ?= sandbox-token
run: export HALLQ_WECHAT_API_BASE ?= http://$(HOST):$(SANDBOX_PORT)
run: export HALLQ_WECHAT_OAUTH_BASE ?= http://$(HOST):$(SANDBOX_PORT)
run: export HALLQ_SMS_ENDPOINT ?= $(HOST):$(SANDBOX_PORT)
run: install
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py load_demo --base-url http://$(HOST):$(PORT) --sandbox-url http://$(HOST):$(SANDBOX_PORT)
	@$(PY) manage.py wechat_sandbox --host $(HOST) --port $(SANDBOX_PORT) \
	  --callback-url http://$(HOST):$(PORT)/wechat/callback > var/wechat-sandbox.log 2>&1 & \
	  sandbox=$$!; trap 'kill $$sandbox 2>/dev/null' EXIT; \
	  HALLQ_INPROCESS_WORKER=1 $(PY) manage.py serve --host $(HOST) --port $(PORT)

# Debian's chromium for the Playwright tests (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium fonts-noto-cjk"; fi; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy .
	$(MAKE) --no-print-directory openapi-check

test: install browser lint test-sqlite test-postgres

test-sqlite: install
	$(VENV)/bin/pytest -q

# Every test runs on PostgreSQL too. CI sets HALLQ_REQUIRE_POSTGRES=1 so that a missing
# server fails the run instead of skipping this pass.
test-postgres: install
	@if [ -n "$$HALLQ_REQUIRE_POSTGRES" ] || $(PY) -c "import psycopg; psycopg.connect('$(POSTGRES_TEST_URL)', connect_timeout=2).close()" 2>/dev/null; then \
	  echo "PostgreSQL pass"; DATABASE_URL=$(POSTGRES_TEST_URL) $(VENV)/bin/pytest -q; \
	else echo "PostgreSQL is not reachable at $(POSTGRES_TEST_URL): its pass is skipped (HALLQ_REQUIRE_POSTGRES=1 makes this an error)."; fi

openapi: install
	$(PY) manage.py export_openapi_schema --api config.api.api --indent 2 --sorted --output docs/openapi.json

openapi-check: install
	@$(PY) manage.py export_openapi_schema --api config.api.api --indent 2 --sorted --output var/openapi.json
	@diff -q docs/openapi.json var/openapi.json >/dev/null || { echo "docs/openapi.json is out of date: run make openapi"; diff -u docs/openapi.json var/openapi.json | head -40; exit 1; }

messages: install
	$(PY) scripts/compile_messages.py

bench: install
	bash bench/run.sh

clean:
	rm -rf $(VENV) .tools var
