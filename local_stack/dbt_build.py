"""dbt on this project for a local run: `dbt build` and `dbt docs generate` over a given
lake and DuckDB warehouse, and the check that replayed lines reached the fact table."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from ingestion.batch.dataset import PROJECT_DIR
from ingestion.errors import OnlineRetailError


def run_dbt(args: list[str], lake_root: str, warehouse: str) -> None:
    """Run dbt in the project with the lake and warehouse of this run."""
    env = {
        **os.environ,
        "LAKE_ROOT": lake_root,
        "DUCKDB_PATH": warehouse,
        "DBT_PROFILES_DIR": os.environ.get("DBT_PROFILES_DIR", str(PROJECT_DIR / "profiles")),
    }
    Path(warehouse).parent.mkdir(parents=True, exist_ok=True)
    executable = Path(sys.executable).with_name("dbt")
    print(f"$ dbt {' '.join(args)}", flush=True)
    subprocess.run([str(executable), *args], cwd=PROJECT_DIR, env=env, check=True)


def fact_rows_for(warehouse: str, event_ids: Sequence[str]) -> int:
    """Rows of fct_sales_lines whose event id is one of `event_ids`."""
    import duckdb

    with duckdb.connect(warehouse, read_only=True) as con:
        schemas = con.execute(
            "select table_schema from information_schema.tables"
            " where table_name = 'fct_sales_lines'"
        ).fetchall()
        if not schemas:
            raise OnlineRetailError(f"{warehouse}: no table fct_sales_lines; did dbt build run?")
        schema = schemas[0]
        sent = pa.table({"event_id": pa.array(list(event_ids), pa.string())})
        con.register("sent", sent)
        (count,) = con.execute(
            f'select count(*) from "{schema[0]}".fct_sales_lines join sent using (event_id)'
        ).fetchone()
    return int(count)
