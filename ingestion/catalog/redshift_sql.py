"""Redshift's SQL for the lake: the Spectrum schema over the Glue database, and native
tables loaded by COPY (the same DDL creates PostgreSQL's tables in the tests), all from
the table definitions, so no engine has a column list of its own.
"""

from __future__ import annotations

import json
import re
from typing import Literal

import pyarrow as pa

from ingestion.catalog.tables import (
    BATCH_MANIFESTS,
    INVOICE_LINES,
    QUARANTINED_LINES,
    RAW_SCHEMA,
    SPECTRUM_SCHEMA,
    LakeTable,
    glue_database,
)
from ingestion.errors import OnlineRetailError

_IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/\S+$")

Dialect = Literal["redshift", "postgres"]


def _native_type(arrow_type: pa.DataType, dialect: Dialect) -> str:
    if pa.types.is_string(arrow_type):
        # Redshift's varchar is bytes, max 65535; PostgreSQL's text has no limit
        return "varchar(65535)" if dialect == "redshift" else "text"
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    names = {pa.int32(): "integer", pa.int64(): "bigint"}
    return names[arrow_type]


_GLUE_TO_ARROW = {"string": pa.string(), "bigint": pa.int64(), "int": pa.int32()}


def native_columns(table: LakeTable, dialect: Dialect) -> list[tuple[str, str]]:
    """(name, type) of the native table a COPY loads; nested manifest fields are left out
    (dbt reads none of them)."""
    if table.arrow_schema is not None:
        return [(f.name, _native_type(f.type, dialect)) for f in table.arrow_schema]
    return [
        (c["Name"], _native_type(_GLUE_TO_ARROW[c["Type"]], dialect))
        for c in table.columns
        if c["Type"] in _GLUE_TO_ARROW
    ]


def create_table_sql(table: LakeTable, schema: str, dialect: Dialect) -> str:
    columns = ",\n".join(f"    {name} {kind}" for name, kind in native_columns(table, dialect))
    return f"create table if not exists {schema}.{table.name} (\n{columns}\n)"


def jsonpaths(table: LakeTable, dialect: Dialect = "redshift") -> str:
    """The JSONPaths file of a COPY ... FORMAT JSON: one path per native column, in order."""
    paths = [f"$['{name}']" for name, _ in native_columns(table, dialect)]
    return json.dumps({"jsonpaths": paths}, indent=2)


def redshift_load_sql(
    lake_root: str,
    iam_role: str,
    *,
    raw_schema: str = RAW_SCHEMA,
    spectrum_schema: str = SPECTRUM_SCHEMA,
    database: str | None = None,
    jsonpaths_uri: str | None = None,
) -> list[str]:
    """Redshift statements for both ways dbt can read the lake:

    - Spectrum: an external schema over the Glue database (no copy; Spectrum reads S3);
    - COPY: native tables from the contract, truncated and loaded (Parquet by column
      order, manifests with a JSONPaths file), for workloads that scan the facts often.
    """
    if not _IAM_ROLE_ARN.match(iam_role):
        raise OnlineRetailError(
            f"{iam_role!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
            field="--iam-role",
        )
    database = database or glue_database()
    root = lake_root.rstrip("/")
    jsonpaths_uri = jsonpaths_uri or f"{root}/catalog/redshift/batch_manifests.jsonpaths"
    statements = [
        f"create external schema if not exists {spectrum_schema} "
        f"from data catalog database '{database}' iam_role '{iam_role}'",
        f"create schema if not exists {raw_schema}",
    ]
    for table in (INVOICE_LINES, QUARANTINED_LINES, BATCH_MANIFESTS):
        statements.append(create_table_sql(table, raw_schema, "redshift"))
        statements.append(f"truncate table {raw_schema}.{table.name}")
        source = table.location(root)
        if table.format == "parquet":
            options = "format as parquet"
        else:
            options = f"format as json '{jsonpaths_uri}' timeformat 'auto'"
        statements.append(
            f"copy {raw_schema}.{table.name} from '{source}' iam_role '{iam_role}' {options}"
        )
    return statements
