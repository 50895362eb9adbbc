"""What the stream path writes, and where: its keys in the raw and quarantine zones,
Parquet objects written whole (one PUT per object on S3), the cleaned JSON lines with
partition keys that Firehose converts to Parquet, and that conversion (Firehose's
record-format conversion with the contract, which reingest-errors also does)."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.contract.schema import INVOICE_LINE_SCHEMA
from ingestion.lake import PARQUET_OPTIONS, QUARANTINE_ZONE, RAW_ZONE, Lake

# Firehose's error output prefix (ErrorOutputPrefix), under which it writes one folder per
# error output type: processing-failed/, format-conversion-failed/, ...
ERROR_ZONE = "errors/online_retail/invoice_lines"


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **PARQUET_OPTIONS)
    return buffer.getvalue()


def write_parquet(lake: Lake, key: str, table: pa.Table) -> None:
    lake.write_bytes(key, parquet_bytes(table))


def raw_key(key: str, received_at: datetime, body_format: str) -> str:
    """Where the API keeps a request as received: the raw zone, by day, for replays."""
    day = received_at.astimezone(UTC).strftime("%Y/%m/%d")
    return f"{RAW_ZONE}/stream/{day}/{key}.{body_format}"


def quarantine_key(prefix: str, key: str) -> str:
    return f"{QUARANTINE_ZONE}/stream-{prefix}-{_safe(key)}.parquet"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def cleaned_json_lines(landed: pa.Table) -> list[bytes]:
    """Each landed row as one JSON line in the Glue table's columns (the contract's),
    newline-terminated as Firehose's JSON deserializer expects. Timestamps are
    `yyyy-MM-dd HH:mm:ss.ffffff` and prices are strings so no float touches money."""
    columns: dict[str, list[object]] = {}
    for name in landed.column_names:
        column = landed[name]
        if pa.types.is_timestamp(column.type):
            column = pc.strftime(column, format="%Y-%m-%d %H:%M:%S")
        elif pa.types.is_decimal(column.type):
            column = pc.cast(column, pa.string())
        columns[name] = column.to_pylist()
    names = list(columns)
    rows = zip(*columns.values(), strict=True)
    return [
        (json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n").encode()
        for row in rows
    ]


def partition_keys(landed: pa.Table) -> list[dict[str, str]]:
    """Firehose dynamic-partitioning keys of each landed row: year and month invoiced."""
    years = pc.year(landed["invoiced_at"]).to_pylist()
    months = pc.month(landed["invoiced_at"]).to_pylist()
    return [{"year": f"{y:04d}", "month": f"{m:02d}"} for y, m in zip(years, months, strict=True)]


def rows_from_json_lines(lines: list[bytes]) -> pa.Table:
    """Cleaned JSON lines -> rows of INVOICE_LINE_SCHEMA, as Firehose's record-format
    conversion does with the Glue table (the contract); raises ValueError, KeyError,
    TypeError or pyarrow.ArrowInvalid for a line that does not fit."""
    rows = [json.loads(line) for line in lines]
    columns = {}
    for f in INVOICE_LINE_SCHEMA:
        values = [row.get(f.name) if f.nullable else row[f.name] for row in rows]
        if pa.types.is_timestamp(f.type):
            text = pa.array(values, pa.string())
            columns[f.name] = pc.cast(pc.cast(text, pa.timestamp("us")), f.type)
        elif pa.types.is_decimal(f.type):
            columns[f.name] = pc.cast(pa.array(values, pa.string()), f.type)
        else:
            columns[f.name] = pa.array(values, f.type)
    return pa.table(columns, schema=INVOICE_LINE_SCHEMA)
