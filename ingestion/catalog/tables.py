"""The lake's tables: their one definition, registered in the Glue Data Catalog.

This replaces the prototype's Glue crawler. A crawler guesses types from the files and
drifts when a file looks different; here every table's columns come from the schema
contract (`ingestion/schema.py`), so Athena, Redshift Spectrum and the batch job agree.

    database   GLUE_DATABASE (default online_retail_lake): the dbt sources read it
    tables     invoice_lines       transformed zone, Parquet, partitions year / month
               quarantined_lines   quarantine zone, Parquet
               batch_manifests     manifests zone, JSON (one object per batch run)
               raw_invoice_lines   raw zone, the CSV files as received (all strings)

`register_lake()` is idempotent: a table equal to its definition is left alone (no new
version), a table that differs is updated (Glue keeps the old one as a version, so a
schema change is visible in the table's history and never a silent drift), and the
partitions registered are exactly the year=/month= folders present in the lake.

The same definitions give the DDL of native tables (Redshift's COPY path, PostgreSQL in
the tests) and Redshift's COPY statements, so no engine has a column list of its own.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from ingestion.lake import MANIFEST_ZONE, QUARANTINE_ZONE, RAW_ZONE, TRANSFORMED_ZONE, Lake
from ingestion.schema import (
    COLUMN_NAMES,
    INVOICE_LINE_SCHEMA,
    PARTITION_COLUMNS,
    QUARANTINE_SCHEMA,
    glue_columns,
)

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

# The batch job's manifest (ingestion/batch_job.py BatchResult), as Glue / Hive types.
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


# ---------------------------------------------------------------- Glue registration


@dataclass
class CatalogChanges:
    """What one registration did; all empty on a second run over the same lake."""

    database_created: bool = False
    tables_created: list[str] = field(default_factory=list)
    tables_updated: list[str] = field(default_factory=list)
    partitions_added: list[tuple[str, str]] = field(default_factory=list)
    partitions_updated: list[tuple[str, str]] = field(default_factory=list)
    partitions_removed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(
            (
                self.database_created,
                self.tables_created,
                self.tables_updated,
                self.partitions_added,
                self.partitions_updated,
                self.partitions_removed,
            )
        )

    def describe(self) -> str:
        if not self.changed:
            return "catalog already up to date: nothing changed"
        parts = []
        if self.database_created:
            parts.append("database created")
        for label, items in (
            ("tables created", self.tables_created),
            ("tables updated (new version)", self.tables_updated),
            ("partitions added", self.partitions_added),
            ("partitions updated", self.partitions_updated),
            ("partitions removed", self.partitions_removed),
        ):
            if items:
                parts.append(f"{label}: {len(items)}")
        return "; ".join(parts)


_PARTITION_PATH = re.compile(r"/year=(\d{4})/month=(\d{2})/[^/]+$")


def lake_partitions(lake: Lake) -> list[tuple[str, str]]:
    """(year, month) of every partition folder that holds a file, as the path spells it."""
    found = {
        m.groups()
        for key in lake.files_under(TRANSFORMED_ZONE)
        if (m := _PARTITION_PATH.search("/" + key))
    }
    return sorted(found)


def _comparable(table: dict[str, Any]) -> dict[str, Any]:
    """The parts of a Glue table (GetTable or TableInput) that its definition sets."""
    sd = table.get("StorageDescriptor", {})
    return {
        "Description": table.get("Description", ""),
        "TableType": table.get("TableType"),
        "Parameters": table.get("Parameters", {}),
        "PartitionKeys": [
            {"Name": c["Name"], "Type": c["Type"]} for c in table.get("PartitionKeys", [])
        ],
        "Columns": [{"Name": c["Name"], "Type": c["Type"]} for c in sd.get("Columns", [])],
        "Location": sd.get("Location"),
        "InputFormat": sd.get("InputFormat"),
        "OutputFormat": sd.get("OutputFormat"),
        "SerdeInfo": {
            "SerializationLibrary": sd.get("SerdeInfo", {}).get("SerializationLibrary"),
            "Parameters": sd.get("SerdeInfo", {}).get("Parameters", {}),
        },
    }


def _partition_input(table_input: dict[str, Any], year: str, month: str) -> dict[str, Any]:
    storage = dict(table_input["StorageDescriptor"])
    storage["Location"] = f"{storage['Location']}year={year}/month={month}/"
    return {"Values": [year, month], "StorageDescriptor": storage}


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _sync_partitions(
    glue: Any, database: str, table_input: dict[str, Any], lake: Lake, changes: CatalogChanges
) -> None:
    wanted = {(y, m): _partition_input(table_input, y, m) for y, m in lake_partitions(lake)}
    existing: dict[tuple[str, str], dict[str, Any]] = {}
    for page in glue.get_paginator("get_partitions").paginate(
        DatabaseName=database, TableName=table_input["Name"]
    ):
        for partition in page["Partitions"]:
            existing[tuple(partition["Values"])] = partition  # type: ignore[index]

    # Glue takes at most 100 partitions per batch call (25 for BatchDeletePartition's peers)
    missing = [wanted[k] for k in sorted(wanted.keys() - existing.keys())]
    for chunk in _chunks(missing, 100):
        response = glue.batch_create_partition(
            DatabaseName=database, TableName=table_input["Name"], PartitionInputList=chunk
        )
        if response.get("Errors"):
            raise RuntimeError(f"Glue BatchCreatePartition failed: {response['Errors']}")
    changes.partitions_added += sorted(wanted.keys() - existing.keys())

    # A partition registered with an older column list is brought to the table's schema,
    # so Redshift Spectrum (which reads partition metadata) sees the same columns as Athena.
    stale = sorted(
        k
        for k in wanted.keys() & existing.keys()
        if _comparable({"StorageDescriptor": existing[k]["StorageDescriptor"]})
        != _comparable({"StorageDescriptor": wanted[k]["StorageDescriptor"]})
    )
    for key in stale:
        glue.update_partition(
            DatabaseName=database,
            TableName=table_input["Name"],
            PartitionValueList=list(key),
            PartitionInput=wanted[key],
        )
    changes.partitions_updated += stale

    # A folder the batch job pruned is no partition any more.
    gone = sorted(existing.keys() - wanted.keys())
    for chunk in _chunks(gone, 25):
        glue.batch_delete_partition(
            DatabaseName=database,
            TableName=table_input["Name"],
            PartitionsToDelete=[{"Values": list(k)} for k in chunk],
        )
    changes.partitions_removed += gone


def register_lake(
    lake: Lake,
    glue: Any | None = None,
    database: str | None = None,
    tables: Iterable[LakeTable] = LAKE_TABLES,
) -> CatalogChanges:
    """Create or bring up to date the Glue database, the lake's tables and the partitions
    of invoice_lines. `lake.root` must be the s3:// URI Athena and Spectrum will read."""
    import boto3  # only this function talks to AWS; the definitions above are pure

    glue = glue or boto3.client("glue")
    database = database or glue_database()
    changes = CatalogChanges()
    try:
        glue.get_database(Name=database)
    except glue.exceptions.EntityNotFoundException:
        glue.create_database(
            DatabaseInput={
                "Name": database,
                "Description": "Online Retail lake: tables defined by ingestion/catalog.py",
            }
        )
        changes.database_created = True

    for table in tables:
        wanted = table.table_input(lake.root)
        try:
            current = glue.get_table(DatabaseName=database, Name=table.name)["Table"]
        except glue.exceptions.EntityNotFoundException:
            glue.create_table(DatabaseName=database, TableInput=wanted)
            changes.tables_created.append(table.name)
        else:
            if _comparable(current) != _comparable(wanted):
                # UpdateTable archives the previous definition as a table version
                glue.update_table(DatabaseName=database, TableInput=wanted)
                changes.tables_updated.append(table.name)
        if table.partition_keys:
            _sync_partitions(glue, database, wanted, lake, changes)
    return changes


# ------------------------------------------------- native tables: Redshift COPY, PostgreSQL

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


def copy_manifest(lake: Lake, keys: Iterable[str]) -> str:
    """A Redshift COPY manifest naming exactly the files of one batch run (the batch
    manifest's output_files); content_length is required for Parquet."""
    entries = []
    for key in keys:
        size = lake.filesystem.get_file_info(lake.path(key)).size
        entries.append({"url": lake.uri(key), "mandatory": True, "meta": {"content_length": size}})
    return json.dumps({"entries": entries}, indent=2)


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
