"""The one schema contract for an Online Retail invoice line.

Every path (the batch job, the stream Lambdas, the Glue catalog, the dbt sources)
takes its column names and types from here, so a change is made once.
"""

from __future__ import annotations

import pyarrow as pa

# The eight columns of the source, in the order the UCI file has them.
SOURCE_COLUMNS: tuple[str, ...] = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)

# Source column -> contract column. The contract names are the ones the lake and dbt use.
COLUMN_NAMES: dict[str, str] = {
    "InvoiceNo": "invoice_no",
    "StockCode": "stock_code",
    "Description": "description",
    "Quantity": "quantity",
    "InvoiceDate": "invoiced_at",
    "UnitPrice": "unit_price",
    "CustomerID": "customer_id",
    "Country": "country",
}

# Prices in the data have up to 3 decimals (e.g. 0.001); money is never a float.
UNIT_PRICE_TYPE = pa.decimal128(12, 3)

# A cleaned invoice line as it lands in the transformed zone (Parquet).
# The Hive partition columns year and month are path segments, not file columns.
INVOICE_LINE_SCHEMA = pa.schema(
    [
        # identity and lineage: which record of which source this row is
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line_number", pa.int64(), nullable=False),
        pa.field("ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
        # the retail line, typed
        pa.field("invoice_no", pa.string(), nullable=False),
        pa.field("stock_code", pa.string(), nullable=False),
        pa.field("description", pa.string()),
        pa.field("quantity", pa.int32(), nullable=False),
        pa.field("invoiced_at", pa.timestamp("us"), nullable=False),
        pa.field("unit_price", UNIT_PRICE_TYPE, nullable=False),
        pa.field("customer_id", pa.string()),
        pa.field("country", pa.string(), nullable=False),
    ]
)

PARTITION_COLUMNS: tuple[str, ...] = ("year", "month")

# A line that failed the contract, as it lands in the quarantine zone.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line_number", pa.int64(), nullable=False),
        pa.field("ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("field", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        # the source values as received, JSON-encoded, so the line can be fixed and replayed
        pa.field("raw_record", pa.string(), nullable=False),
    ]
)

# The same contract in Glue / Hive DDL types, for the Data Catalog and Athena.
_GLUE_TYPES = {
    pa.string(): "string",
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.timestamp("us"): "timestamp",
    pa.timestamp("us", tz="UTC"): "timestamp",
    UNIT_PRICE_TYPE: f"decimal({UNIT_PRICE_TYPE.precision},{UNIT_PRICE_TYPE.scale})",
}


def glue_columns(schema: pa.Schema) -> list[dict[str, str]]:
    """Columns of `schema` in the shape Glue's CreateTable expects."""
    return [{"Name": f.name, "Type": _GLUE_TYPES[f.type]} for f in schema]
