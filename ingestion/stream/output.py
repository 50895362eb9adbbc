"""What the stream path writes, and where: its keys in the raw and quarantine zones,
Parquet objects written whole (one PUT per object on S3), the cleaned JSON lines with
partition keys that Firehose converts to Parquet, and that conversion (Firehose's
record-format conversion with the contract, which reingest-errors also does)."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.contract.scalars import const
from ingestion.contract.schema import INVOICE_LINE_SCHEMA
from ingestion.lake import PARQUET_OPTIONS, QUARANTINE_ZONE, RAW_ZONE, Lake

# Firehose's error output prefix (ErrorOutputPrefix), under which it writes one folder per
# error output type: processing-failed/, format-conversion-failed/, ...
ERROR_ZONE = "errors/online_retail/invoice_lines"

# What JSON writes escaped in a string; the rest of a text is written as it is.
_ESCAPED = r'[\x00-\x1f"\\]'
_QUOTE, _EMPTY, _NULL = (const(t, pa.string()) for t in ('"', "", "null"))
_FALSE = const(False, pa.bool_())


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
    `yyyy-MM-dd HH:mm:ss.ffffff` and prices are strings so no float touches money.

    The bytes of `json.dumps(row, ensure_ascii=False)`, built column by column: each
    value's JSON text, then one join per row in Arrow. Text that JSON writes as it is
    (no quote, backslash or control character: nearly always) is joined between quotes
    as it is; otherwise json's own string encoder writes the values that need it."""
    if not landed.num_rows:
        return []
    texts: dict[str, pa.Array] = {}  # text columns, unquoted
    numbers: dict[str, pa.Array] = {}
    for name in landed.column_names:
        column = landed[name].combine_chunks()
        if pa.types.is_timestamp(column.type):
            texts[name] = timestamp_text(column, "%Y-%m-%d %H:%M:%S")
        elif pa.types.is_decimal(column.type):
            texts[name] = pc.cast(column, pa.string())
        elif pa.types.is_integer(column.type):
            numbers[name] = pc.fill_null(pc.cast(column, pa.string()), _NULL)
        else:
            texts[name] = column
    escape = pc.any(pc.match_substring_regex(pa.concat_arrays(list(texts.values())), _ESCAPED))
    pieces: list[pa.Array | pa.Scalar] = []
    literal = "{"
    for name in landed.column_names:
        literal += ("" if literal == "{" else ", ") + json.dumps(name) + ": "
        if name in numbers:
            pieces += [const(literal, pa.string()), numbers[name]]
            literal = ""
        elif texts[name].null_count or escape.as_py():
            pieces += [const(literal, pa.string()), _json_text(texts[name])]
            literal = ""
        else:  # quotes around the text, in the pieces on either side
            pieces += [const(literal + '"', pa.string()), texts[name]]
            literal = '"'
    pieces += [const(literal + "}\n", pa.string()), _EMPTY]  # the last: no separator
    return pc.binary_join_element_wise(*pieces).cast(pa.binary()).to_pylist()


def _json_text(text: pa.Array) -> pa.Array:
    """Each value of a text column as a JSON string (`null` for null)."""
    quoted = pc.binary_join_element_wise(_QUOTE, text, _QUOTE, _EMPTY)
    escape = pc.match_substring_regex(text, _ESCAPED)
    if pc.any(escape).as_py():
        rows = pc.indices_nonzero(escape)
        escaped = pa.array([encode_basestring(v) for v in text.take(rows).to_pylist()])
        quoted = pc.replace_with_mask(quoted, pc.fill_null(escape, _FALSE), escaped)
    return pc.fill_null(quoted, _NULL)


def timestamp_text(column: pa.Array, layout: str) -> pa.Array:
    """`pc.strftime(column, format=layout)`, formatting each distinct value once: Arrow's
    strftime costs over a microsecond a value, and a batch's lines share few times."""
    encoded = column.dictionary_encode()
    return pc.strftime(encoded.dictionary, format=layout).take(encoded.indices)


def partition_keys(landed: pa.Table) -> list[dict[str, str]]:
    """Firehose dynamic-partitioning keys of each landed row: year and month invoiced
    (worked out once per distinct time; each row gets its own dict)."""
    encoded = landed["invoiced_at"].combine_chunks().dictionary_encode()
    years = pc.year(encoded.dictionary).to_pylist()
    months = pc.month(encoded.dictionary).to_pylist()
    keys = [{"year": f"{y:04d}", "month": f"{m:02d}"} for y, m in zip(years, months, strict=True)]
    return [keys[i].copy() for i in encoded.indices.to_pylist()]


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
