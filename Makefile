# PinGlass fleet. `make run` and `make test` do all the set-up they need on a fresh clone.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# pytest processes of `make test` (pytest-xdist; requirements-dev.txt says why 2)
TEST_PROCESSES ?= 2

.PHONY: run test up down status migrate bench chaos lint venv services browser clean lock

run: $(STAMP) services migrate  ## the whole fleet in sandbox mode, driving one purchase per tier end to end
	$(PY) -m scenarios.demo

test: $(STAMP) services browser  ## set-up, lint, types and layer contracts, then every test (unit, integration, scenario)
	@bash deploy/ensure-tools.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_PROCESSES) --dist loadfile --durations=20 $(PYTEST_ARGS)

up: $(STAMP) services migrate  ## start sandbox, web, worker and scheduler in the background
	$(PY) -m scenarios.fleet up

down:  ## stop every process `make up` started, and nothing else
	@if [ -x $(PY) ]; then $(PY) -m scenarios.fleet down; else echo "fleet down: nothing to stop"; fi

status:
	$(PY) -m scenarios.fleet status

migrate: $(STAMP) services
	$(PY) -m db.migrate up

bench: $(STAMP) services migrate  ## measure; writes bench/results/latest.json and .md
	$(PY) -m scenarios.bench

chaos: $(STAMP) services migrate  ## kill workers and Redis mid-run; checks every invariant; writes its report
	$(PY) -m scenarios.chaos

.PHONY: hosts
hosts: $(STAMP)  ## the fleet on four network namespaces (data, web, two worker hosts): shared Kie budget, a worker host killed, Prometheus; writes bench/results/hosts-latest.{json,md}
	@bash deploy/ensure-tools.sh
	$(PY) -m scenarios.hosts

lint: $(STAMP)  ## ruff, mypy (the fleet's code, pyproject.toml [tool.mypy]) and the layer contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

services:
	@bash deploy/ensure-services.sh

browser:  ## Debian's chromium and fonts for the Mini App's browser tests
	@bash deploy/ensure-browser.sh

venv: $(STAMP)

# Development set-up: runtime (requirements.txt) + development (requirements-dev.txt, which includes the former).
# Production installs `requirements.lock` with --require-hashes instead (README "Dependencies").
$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	# dramatiq-dashboard pins an old Dramatiq (<2); its code works with ours, so it is installed without its
	# dependency pins, in its own step, after everything else.
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	@touch $(STAMP)

lock: $(STAMP)  ## refresh requirements.lock (hash-locked runtime pins) after editing requirements.txt
	$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links --output-file requirements.lock requirements.txt

clean: down
	rm -rf $(VENV) .run .pytest_cache
