# The two commands of the contract: `make run` and `make test` (each sets everything up first).
VENV    := .venv
PY      := $(VENV)/bin/python
ZX      := $(VENV)/bin/zhixing
PYTHON  ?= python3

.PHONY: install run test bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]' --config-settings editable_mode=compat
	$(PY) -m web.i18n
	touch $@

# bpmn-js, dmn-js, ECharts, htmx: pinned by web/package-lock.json, served from their dist folders
web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed web/node_modules/.installed

run: install
	$(ZX) init
	$(ZX) deploy
	$(ZX) demo
	$(ZX) serve --host 127.0.0.1 --port 5000

test: install
	@test -x "$${ZHIXING_CHROMIUM:-/usr/bin/chromium}" || { echo "browser tests need Debian's chromium: apt-get install chromium (.ci/run does)"; exit 1; }
	$(VENV)/bin/ruff check engine handlers web tools tests migrations
	$(VENV)/bin/mypy
	ZHIXING_TEST_POSTGRES="$$(bash tests/support/postgres.sh)" $(PY) -m pytest -q

# every figure on SQLite, then on the throw-away PostgreSQL (with the 5-minute load test); the growth table:
#   $(PY) -m tools.bench_scale --database URL --instances 10000,100000,1000000
bench: install
	$(ZX) bench --json
	$(ZX) bench --json --database "$$(bash tests/support/postgres.sh)"

clean:
	rm -rf $(VENV) var *.egg-info web/node_modules
