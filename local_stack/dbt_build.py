"""dbt on this project for a local run: `dbt build` and `dbt docs generate` over a given
lake and DuckDB warehouse, and the check that replayed lines reached the fact table;
the marts of a warehouse as rows, to compare two builds."""

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


def dbt_process(args: list[str], lake_root: str, warehouse: str, workdir: str) -> subprocess.Popen:
    """dbt started in the background, its artefacts and logs under `workdir` (never the
    repo's target/, so builds can run side by side); wait with `finish`."""
    env = {
        **os.environ,
        "LAKE_ROOT": lake_root,
        "DUCKDB_PATH": warehouse,
        "DBT_PROFILES_DIR": os.environ.get("DBT_PROFILES_DIR", str(PROJECT_DIR / "profiles")),
        "DBT_TARGET_PATH": f"{workdir}/target",
        "DBT_LOG_PATH": f"{workdir}/logs",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    Path(warehouse).parent.mkdir(parents=True, exist_ok=True)
    executable = Path(sys.executable).with_name("dbt")
    return subprocess.Popen(
        [str(executable), *args],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate()
    if process.returncode:
        raise OnlineRetailError(f"dbt failed:\n{output}")


# Lineage differs between a stream-built and a batch-built copy of the same line.
MART_LINEAGE = frozenset({"source_file", "source_line_number", "ingested_at", "event_id"})


def mart_tables(warehouse: str) -> dict[str, list[tuple]]:
    """Every fct_/dim_/rpt_ table of the warehouse, lineage columns left out, rows sorted."""
    import duckdb

    with duckdb.connect(warehouse, read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where regexp_matches(table_name, '^(fct|dim|rpt)_') and table_type = 'BASE TABLE'"
        ).fetchall()
        out = {}
        for schema, name in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, name],
                ).fetchall()
                if c not in MART_LINEAGE
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f'select {select} from "{schema}"."{name}"').fetchall()
            out[name] = sorted(rows, key=repr)
    return out


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
