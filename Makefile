# The user's interface to the project. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov gets a venv of its own: its pins would downgrade boto3 and more under dbt
# (requirements-tools.in says which).
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
export LAKE_ROOT ?= $(CURDIR)/lake
export DUCKDB_PATH ?= $(CURDIR)/warehouse/online_retail.duckdb
export DBT_PROFILES_DIR := $(CURDIR)/profiles
# pytest workers for `make test`: much of the suite waits on dbt, moto and PostgreSQL
# subprocesses, so two workers keep both cores busy (TEST_WORKERS=0 runs it in one process)
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help setup run test lint dbt-build docs fetch bench lock clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the pinned dependencies (requirements.lock)
	@# dbt finds profiles.yml only through DBT_PROFILES_DIR, the current directory or ~/.dbt,
	@# and ours lives in profiles/: export it from the venv's activate script, so that after
	@# `source .venv/bin/activate` a plain `dbt build` in the repo root works.
	@grep -q DBT_PROFILES_DIR $(BIN)/activate || \
		echo 'export DBT_PROFILES_DIR="$(CURDIR)/profiles"  # added by make setup' >> $(BIN)/activate
	@mkdir -p $(dir $(DUCKDB_PATH))

$(TOOLS_STAMP): requirements-tools.lock $(STAMP)
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(BIN)/uv pip install --quiet --python $(TOOLS)/bin/python -r requirements-tools.lock
	@touch $(TOOLS_STAMP)

.PHONY: tools package check-deploy deploy
tools: $(TOOLS_STAMP) ## Create .venv-tools with checkov (pinned in requirements-tools.lock)

package: setup ## Build each Lambda artifact and the pyarrow layer (build/), sizes vs Lambda's limits
	$(BIN)/python scripts/package.py

check-deploy: setup tools ## Offline deploy checks: cfn-lint, checkov, SAM, actionlint; template as a moto stack + replay + IAM proof
	$(BIN)/python scripts/check_deploy.py

deploy: setup ## Package, sam build, sam deploy (guided the first time); needs the SAM CLI
	$(BIN)/python scripts/deploy.py

run: setup ## Land the full dataset, run the batch job, dbt build + docs on DuckDB, print a summary
	$(BIN)/online-retail run

PY_DIRS := ingestion bi local_stack cli tests bench scripts

test: setup tools ## The whole suite: ruff, import layers, sqlfluff, pytest (ingestion, pipeline, stream, targets, bi, deploy: runs check-deploy)
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)
	$(BIN)/lint-imports
	$(BIN)/sqlfluff lint models macros tests analyses
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

lint: setup ## ruff, the import layers (lint-imports) and sqlfluff only
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)
	$(BIN)/lint-imports
	$(BIN)/sqlfluff lint models macros tests analyses

dbt-build: setup ## dbt build on the existing lake (no ingestion)
	@mkdir -p $(dir $(DUCKDB_PATH))
	$(BIN)/dbt build

docs: setup ## Build the static dbt docs site (target/static_index.html; opens from disk)
	$(BIN)/dbt docs generate --static
	@echo "docs site: $(CURDIR)/target/static_index.html (or: make docs-serve)"

fetch: setup ## Download the original workbook from UCI (checks its digest; falls back to the shipped copy)
	$(BIN)/online-retail fetch

bench: setup ## Benchmark the batch job at 1x and 10x against DuckDB and pandas baselines
	$(BIN)/python bench/bench_batch_job.py

.PHONY: bench-warehouse
SCALES ?= 1,10,100
bench-warehouse: setup ## dbt build at 1x, 10x, 100x (full, +1 day incremental) and PostgreSQL 1x (SCALES=1,10)
	$(BIN)/python bench/bench_warehouse.py --scales $(SCALES)

.PHONY: stream
stream: setup ## Replay a day through the local stream stack (moto), dbt build, count every hop
	$(BIN)/online-retail stream

.PHONY: faults
faults: setup ## Inject each AWS fault on the local stack; one table: lines in, landed, quarantined, lost, doubled
	$(BIN)/python -m local_stack.fault_suite

.PHONY: reingest-errors
reingest-errors: setup ## Land or quarantine what Firehose left in its error prefix (LAKE_ROOT), exactly once
	$(BIN)/online-retail reingest-errors

.PHONY: catalog check-targets
catalog: setup ## Register the lake at LAKE_ROOT (s3://...) in the Glue Data Catalog (idempotent)
	$(BIN)/online-retail catalog

check-targets: setup ## Prove the warehouses offline: PostgreSQL build = DuckDB marts, Athena/Redshift compile
	$(BIN)/python scripts/check_targets.py

# BI: what Tableau, QuickSight and analysts read (README, "What BI users see").
ENGINE ?= athena
METRICS ?= net_revenue,gross_sales,returns,orders,average_order_value
BY ?= metric_time__month
.PHONY: dashboard hyper tableau-tds quicksight-validate quicksight-deploy metrics docs-serve
dashboard: setup ## Write the offline HTML dashboard (target/bi/) and its PNGs (docs/img/)
	$(BIN)/online-retail dashboard --png-dir docs/img

hyper: setup ## Export the marts to a Tableau Hyper extract (target/bi/online_retail_marts.hyper)
	$(BIN)/online-retail hyper

tableau-tds: setup ## Fill Tableau's Redshift data source from REDSHIFT_* settings (target/bi/)
	$(BIN)/online-retail tableau-tds

quicksight-validate: setup ## Check every QuickSight request against botocore's model (offline)
	$(BIN)/online-retail quicksight validate --engine athena
	$(BIN)/online-retail quicksight validate --engine redshift

quicksight-deploy: setup ## Deploy QuickSight's data source, data sets, dashboard (ENGINE=athena|redshift)
	$(BIN)/online-retail quicksight deploy --engine $(ENGINE)

metrics: setup ## Query the metrics with MetricFlow on DuckDB (METRICS=... BY=metric_time__quarter)
	$(BIN)/dbt parse --quiet
	$(BIN)/mf query --metrics $(METRICS) --group-by $(BY)

docs-serve: setup ## Serve the dbt docs site on http://localhost:8080
	$(BIN)/dbt docs serve --port 8080

lock: ## Re-pin requirements.lock from requirements.in
	$(BIN)/uv pip compile --python-version 3.11 requirements.in -o requirements.lock
	$(BIN)/uv pip compile --python-version 3.11 requirements-tools.in -o requirements-tools.lock

clean: ## Remove the local lake, warehouse and dbt artefacts (keeps .venv)
	rm -rf lake warehouse target logs build .aws-sam
