"""The lake's tables, defined once from the schema contract: the zones as Glue / Hive
tables (columns, storage, partition keys) and the names dbt's sources share with them.
Pure definitions: no boto3.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from ingestion.contract.schema import (
    COLUMN_NAMES,
    INVOICE_LINE_SCHEMA,
    PARTITION_COLUMNS,
    QUARANTINE_SCHEMA,
    glue_columns,
)
from ingestion.lake import MANIFEST_ZONE, QUARANTINE_ZONE, RAW_ZONE, TRANSFORMED_ZONE

# The one place for the Glue database's name; dbt's sources read the same env var with
# the same default (dbt_project.yml `glue_database`), and a test compares the two.
DEFAULT_GLUE_DATABASE = "online_retail_lake"
GLUE_DATABASE_ENV = "GLUE_DATABASE"
# Redshift: the Spectrum external schema over that database, and the schema of the native
# tables the COPY path loads (PostgreSQL in the tests uses the same name). The dbt sources
# default to these too (REDSHIFT_LAKE_SCHEMA, POSTGRES_LAKE_SCHEMA).
SPECTRUM_SCHEMA = "online_retail_spectrum"
RAW_SCHEMA = "online_retail_raw"

Format = Literal["parquet", "json", "csv"]

# The batch job's manifest (ingestion/batch/job.py BatchResult), as Glue / Hive types.
# Times stay strings: they are ISO 8601 with an offset, which staging parses.
MANIFEST_COLUMNS: list[dict[str, str]] = [
    {"Name": "source_file", "Type": "string"},
    {"Name": "file_format", "Type": "string"},
    {"Name": "compression", "Type": "string"},
    {"Name": "encoding", "Type": "string"},
    {"Name": "rows_in", "Type": "bigint"},
    {"Name": "rows_landed", "Type": "bigint"},
    {"Name": "rows_quarantined", "Type": "bigint"},
    {"Name": "started_at", "Type": "string"},
    {"Name": "finished_at", "Type": "string"},
    {"Name": "ingested_at", "Type": "string"},
    {"Name": "date_formats", "Type": "map<string,bigint>"},
    {"Name": "partitions", "Type": "map<string,bigint>"},
    {"Name": "quarantine_reasons", "Type": "map<string,bigint>"},
    {"Name": "output_files", "Type": "array<string>"},
]

# Hive storage of each format: (input format, output format, serde, serde parameters).
_STORAGE: dict[Format, tuple[str, str, str, dict[str, str]]] = {
    "parquet": (
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        {"serialization.format": "1"},
    ),
    "json": (
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "org.openx.data.jsonserde.JsonSerDe",
        # a manifest field the table does not list is ignored, not an error
        {"ignore.malformed.json": "false", "dots.in.keys": "false"},
    ),
    "csv": (
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        # OpenCSVSerde because descriptions hold quoted commas; it reads every column as text
        "org.apache.hadoop.hive.serde2.OpenCSVSerde",
        {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"},
    ),
}


@dataclass(frozen=True)
class LakeTable:
    """One zone of the lake as a catalog table."""

    name: str
    zone: str
    format: Format
    columns: list[dict[str, str]]
    description: str
    partition_keys: list[dict[str, str]] = field(default_factory=list)
    arrow_schema: pa.Schema | None = None  # the contract, where the zone has one
    extra_parameters: dict[str, str] = field(default_factory=dict)

    def location(self, lake_root: str) -> str:
        return f"{lake_root.rstrip('/')}/{self.zone}/"

    def table_input(self, lake_root: str) -> dict[str, Any]:
        """The TableInput of Glue's CreateTable / UpdateTable for this table."""
        input_format, output_format, serde, serde_parameters = _STORAGE[self.format]
        return {
            "Name": self.name,
            "Description": self.description,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {
                "EXTERNAL": "TRUE",
                "classification": self.format,
                **self.extra_parameters,
            },
            "PartitionKeys": self.partition_keys,
            "StorageDescriptor": {
                "Columns": self.columns,
                "Location": self.location(lake_root),
                "InputFormat": input_format,
                "OutputFormat": output_format,
                "SerdeInfo": {"SerializationLibrary": serde, "Parameters": serde_parameters},
            },
        }


INVOICE_LINES = LakeTable(
    name="invoice_lines",
    zone=TRANSFORMED_ZONE,
    format="parquet",
    columns=glue_columns(INVOICE_LINE_SCHEMA),
    # Hive partitions: the path segments year=YYYY/month=MM (month zero padded)
    partition_keys=[{"Name": name, "Type": "int"} for name in PARTITION_COLUMNS],
    arrow_schema=INVOICE_LINE_SCHEMA,
    extra_parameters={"parquet.compression": "SNAPPY"},
    description="Cleaned invoice lines (transformed zone), one row per accepted source line.",
)
QUARANTINED_LINES = LakeTable(
    name="quarantined_lines",
    zone=QUARANTINE_ZONE,
    format="parquet",
    columns=glue_columns(QUARANTINE_SCHEMA),
    arrow_schema=QUARANTINE_SCHEMA,
    extra_parameters={"parquet.compression": "SNAPPY"},
    description="Source lines that failed the contract, with field, reason and raw record.",
)
BATCH_MANIFESTS = LakeTable(
    name="batch_manifests",
    zone=MANIFEST_ZONE,
    format="json",
    columns=MANIFEST_COLUMNS,
    description="One JSON manifest per batch run: rows in = landed + quarantined.",
)
RAW_INVOICE_LINES = LakeTable(
    name="raw_invoice_lines",
    zone=RAW_ZONE,
    format="csv",
    # the eight source columns under their contract names, as received: all text
    columns=[{"Name": name, "Type": "string"} for name in COLUMN_NAMES.values()],
    extra_parameters={"skip.header.line.count": "1"},
    description="The source files as received (CSV, gzipped or not), every value as text.",
)

LAKE_TABLES: tuple[LakeTable, ...] = (
    INVOICE_LINES,
    QUARANTINED_LINES,
    BATCH_MANIFESTS,
    RAW_INVOICE_LINES,
)


def glue_database() -> str:
    return os.environ.get(GLUE_DATABASE_ENV, DEFAULT_GLUE_DATABASE)
