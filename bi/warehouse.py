"""The DuckDB warehouse dbt builds, opened read-only for BI: the one way every BI module
finds the warehouse file and a mart in it, and says so in one line when either is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ingestion.errors import OnlineRetailError

WAREHOUSE_SETTING = "DUCKDB_PATH or --warehouse"


@contextmanager
def open_warehouse(warehouse: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the warehouse file, which must exist: DuckDB would
    otherwise create an empty one, or fail with its own traceback when read-only."""
    if not Path(warehouse).is_file():
        raise OnlineRetailError(
            f"{warehouse}: no warehouse file; run `make run` (or `dbt build`) first",
            setting=WAREHOUSE_SETTING,
        )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        yield con


def table(con: duckdb.DuckDBPyConnection, warehouse: str | Path, name: str) -> str:
    """The quoted, schema-qualified name of a model (dbt may build into any schema)."""
    found = con.execute(
        "select table_schema from information_schema.tables where table_name = ? "
        "order by table_schema = 'main' desc limit 1",
        [name],
    ).fetchone()
    if found is None:
        raise OnlineRetailError(
            f"{warehouse}: no table {name}; run `make run` (or `dbt build`) first"
        )
    return f'"{found[0]}"."{name}"'
