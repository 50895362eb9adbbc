"""dbt as its users run it: after `source .venv/bin/activate`, in the repo root, with no
LAKE_ROOT, DUCKDB_PATH or DBT_PROFILES_DIR set, dbt finds the profile (exported by the
activate script that `make setup` writes) and defaults the lake and the warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
ACTIVATE = Path(sys.executable).with_name("activate")
pytestmark = pytest.mark.pipeline


def as_a_user(command: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """`command` in a fresh bash that sources the venv, in the repo root, with dbt's and
    the project's settings removed from the environment (artefacts go to tmp_path)."""
    if not ACTIVATE.exists():
        pytest.skip(f"no {ACTIVATE}: the venv is not the one `make setup` creates")
    dropped = ("LAKE_ROOT", "DUCKDB_PATH", "DBT_", "AWS_", "ATHENA_", "REDSHIFT_", "POSTGRES_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        DBT_TARGET_PATH=str(tmp_path / "target"),  # not the repo's target/ (runs side by side)
        DBT_LOG_PATH=str(tmp_path / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        HOME=str(tmp_path),  # no ~/.dbt/profiles.yml, no ~/.aws to fall back on
    )
    return subprocess.run(
        ["bash", "-c", f"source {ACTIVATE} && {command}"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_activated_venv_points_dbt_at_the_profiles_folder(tmp_path: Path) -> None:
    done = as_a_user('echo "$DBT_PROFILES_DIR"', tmp_path)
    assert done.stdout.strip() == str(PROJECT_DIR / "profiles"), done.stderr


def test_dbt_parse_defaults_the_lake_to_the_repos_lake_folder(tmp_path: Path) -> None:
    done = as_a_user("dbt parse", tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    sources = json.loads((tmp_path / "target" / "manifest.json").read_text())["sources"]
    files = {s["name"]: s["config"]["meta"]["lake_files"] for s in sources.values()}
    assert files == {
        "invoice_lines": "lake/transformed/online_retail/invoice_lines/*/*/*.parquet",
        "quarantined_lines": "lake/quarantine/online_retail/invoice_lines/*.parquet",
        "batch_manifests": "lake/manifests/online_retail/batch/*.json",
    }


def test_dbt_compile_for_athena_needs_no_aws_account(tmp_path: Path) -> None:
    # --no-populate-cache: dbt would otherwise list the Glue database first, which takes
    # credentials; nothing else asks AWS (macros/is_incremental.sql answers 'full')
    done = as_a_user("dbt compile --target athena --no-populate-cache", tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    compiled = tmp_path / "target" / "compiled" / "online_retail" / "models"
    fact = next(compiled.rglob("fct_sales_lines.sql")).read_text()
    assert "online_retail_lake" not in fact and "gross_sales_amount" in fact
