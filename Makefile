# The only entry points people and CI use: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080
DATA ?= ./data

.PHONY: install run test lint typecheck unasync format bench clean browser slapd nginx

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
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

test: $(STAMP) lint typecheck browser slapd nginx
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
