"""Export the marts to a Tableau Hyper extract, so Tableau opens them with no warehouse.

Each mart becomes one table in the extract's "Extract" schema with the column types of the
warehouse (decimals stay NUMERIC(18,3), never a float). Rows travel through a Parquet file
that Hyper reads natively (`external(...)`), which is exact and far faster than inserting
row by row from Python.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bi.warehouse import open_warehouse, table
from ingestion.errors import OnlineRetailError

if TYPE_CHECKING:  # the Hyper API is imported only when an extract is written
    from tableauhyperapi import SqlType

# What Tableau reads: the core and reporting marts (dbt's models/marts/).
BI_MARTS = (
    "fct_sales_lines",
    "fct_invoices",
    "dim_customers",
    "dim_products",
    "dim_dates",
    "dim_countries",
    "rpt_revenue_weekly",
    "rpt_revenue_monthly",
    "rpt_revenue_quarterly",
    "rpt_top_products_by_season",
    "rpt_revenue_by_country",
    "rpt_customer_rfm",
)
HYPER_SCHEMA = "Extract"
HYPER_FILE_NAME = "online_retail_marts.hyper"


@dataclass(frozen=True)
class ExportedTable:
    mart: str
    rows: int
    columns: int


def hyper_type(mart: str, column: str, data_type: str) -> SqlType:
    """The Hyper SQL type for a DuckDB column type."""
    from tableauhyperapi import SqlType

    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", data_type.upper())
    if decimal:
        return SqlType.numeric(int(decimal[1]), int(decimal[2]))
    simple = {
        "VARCHAR": SqlType.text,
        "BOOLEAN": SqlType.bool,
        "SMALLINT": SqlType.small_int,
        "INTEGER": SqlType.int,
        "BIGINT": SqlType.big_int,
        "DOUBLE": SqlType.double,
        "DATE": SqlType.date,
        "TIMESTAMP": SqlType.timestamp,
        "TIMESTAMP WITH TIME ZONE": SqlType.timestamp_tz,
    }.get(data_type.upper())
    if simple is None:
        raise OnlineRetailError(f"no Hyper type for {data_type!r}", field=f"{mart}.{column}")
    return simple()


def export_hyper(
    warehouse: str | Path, out_path: str | Path, marts: tuple[str, ...] = BI_MARTS
) -> list[ExportedTable]:
    """Write every mart into one .hyper file (replacing it); returns what was written."""
    from tableauhyperapi import (
        Connection,
        CreateMode,
        HyperProcess,
        Nullability,
        TableDefinition,
        TableName,
        Telemetry,
        escape_string_literal,
    )

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    exported: list[ExportedTable] = []
    with (
        tempfile.TemporaryDirectory(prefix="hyper-export-") as scratch,
        open_warehouse(warehouse) as con,
        # Hyper writes its own log; keep it out of the project tree.
        HyperProcess(
            telemetry=Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
            parameters={"log_dir": scratch},
        ) as hyper,
        Connection(hyper.endpoint, str(out_path), CreateMode.CREATE_AND_REPLACE) as hyper_con,
    ):
        hyper_con.catalog.create_schema_if_not_exists(HYPER_SCHEMA)
        for mart in marts:
            relation = table(con, str(warehouse), mart)
            schema_name = relation.split(".")[0].strip('"')
            columns = con.execute(
                "select column_name, data_type, is_nullable from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema_name, mart],
            ).fetchall()
            definition = TableDefinition(
                TableName(HYPER_SCHEMA, mart),
                [
                    TableDefinition.Column(
                        name,
                        hyper_type(mart, name, data_type),
                        Nullability.NULLABLE if nullable == "YES" else Nullability.NOT_NULLABLE,
                    )
                    for name, data_type, nullable in columns
                ],
            )
            hyper_con.catalog.create_table(definition)
            parquet = Path(scratch) / f"{mart}.parquet"
            con.execute(f"copy (select * from {relation}) to '{parquet}' (format parquet)")
            rows = hyper_con.execute_command(
                f"insert into {definition.table_name} "
                f"select * from external({escape_string_literal(str(parquet))}, "
                "format => 'parquet')"
            )
            exported.append(ExportedTable(mart, rows, len(columns)))
    return exported
