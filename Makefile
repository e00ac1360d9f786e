# The only entry points people and CI use: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080
DATA ?= ./data

.PHONY: install run test lint typecheck unasync format bench clean browser slapd nginx web web-build web-test

# OpenUCWA Web (webapp/ → src/openucwa/web/app/). The built assets are committed, with the hash of the
# sources they were built from: `make install` rebuilds (npm ci + vite build) only when that hash
# differs, so `make run` and a wheel need no Node.js. File timestamps would not do: a fresh clone
# gives every file the same age.
WEB_HASH := src/openucwa/web/app.sha256
WEB_SOURCES = $(shell find webapp -path webapp/node_modules -prune -o -type f \( -name '*.ts' -o -name '*.tsx' \
  -o -name '*.css' -o -name '*.html' -o -name 'package*.json' -o -name 'tsconfig.json' \) ! -name '*.test.ts' -print | LC_ALL=C sort)
NODE_MODULES := webapp/node_modules/.installed

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) web

$(NODE_MODULES): webapp/package-lock.json
	cd webapp && npm ci --no-audit --no-fund --loglevel=error
	touch $@

web:
	@h=$$(for f in $(WEB_SOURCES); do echo "$$f"; cat "$$f"; done | sha256sum | cut -c1-64); \
	if [ "$$h" != "$$(cat $(WEB_HASH) 2>/dev/null)" ]; then \
	  $(MAKE) --no-print-directory web-build && echo "$$h" > $(WEB_HASH); \
	fi

web-build: $(NODE_MODULES)
	cd webapp && npm run --silent build

web-test: $(NODE_MODULES)
	cd webapp && npm run --silent lint && npm test --silent

run: $(STAMP) web
	$(BIN)/openucwa demo --data-dir $(DATA)
	$(BIN)/openucwa serve --host $(HOST) --port $(PORT) --data-dir $(DATA)

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts $(wildcard bench)
	$(BIN)/ruff format --check src tests scripts $(wildcard bench)
	$(BIN)/python scripts/unasync.py --check

typecheck: $(STAMP)
	$(BIN)/mypy

# The blocking SDK client is generated from the asyncio one; `lint` fails when they drift.
unasync: $(STAMP)
	$(BIN)/python scripts/unasync.py

format: $(STAMP)
	$(BIN)/ruff format src tests scripts bench
	$(BIN)/ruff check --fix src tests scripts bench

# Browser tests drive Debian's Chromium (browser downloads are impossible here); installed when
# missing and we are root, otherwise those tests skip with the reason.
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: browser tests will be skipped"; }

# Directory tests run a throwaway Debian slapd (tests/directory/slapd.py); installed the same way.
slapd:
	@test -x /usr/sbin/slapd || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils >/dev/null) \
	  || echo "slapd not installed: directory tests will be skipped"; }


# tests/ops/test_deploy_docs.py runs docs/nginx.conf with Debian's nginx; installed likewise.
nginx:
	@test -x /usr/sbin/nginx || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) \
	  || echo "nginx not installed: the nginx example's test will be skipped"; }

# Two pytest workers: most tests wait on real servers, not on a core. Tests marked `serial` measure
# time, so they run alone afterwards (exit status 5 = none selected, e.g. with a PYTEST_ARGS path).
test: $(STAMP) web lint typecheck browser slapd nginx web-test
	$(BIN)/python -m pytest -n 2 -m "not serial" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m serial $(PYTEST_ARGS) || test $$? = 5

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache webapp/node_modules
