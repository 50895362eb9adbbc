"""Glue Data Catalog registration of the lake's tables, idempotent.

`register_lake()` creates or brings up to date the database, the tables of
`ingestion.catalog.tables` and the partitions of invoice_lines: a table equal to its
definition is left alone (no new version), a table that differs is updated (Glue keeps
the old one as a version, so a schema change is visible in the table's history and never
a silent drift), and the partitions registered are exactly the year=/month= folders
present in the lake.

`register_partitions()` registers partitions as objects arrive, for the S3-event Lambda
(`ingestion.catalog.partition_registrar`): Firehose's dynamic partitioning writes new
year=/month= prefixes at any time, and Athena and Redshift Spectrum read registered
partitions only. It only adds (AlreadyExists is success), so S3's repeated or reordered
event deliveries are harmless; `register_lake()` still prunes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from ingestion.catalog.tables import INVOICE_LINES, LAKE_TABLES, LakeTable, glue_database
from ingestion.errors import OnlineRetailError, reaching_aws
from ingestion.lake import TRANSFORMED_ZONE, Lake


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
            raise OnlineRetailError(f"Glue BatchCreatePartition failed: {response['Errors']}")
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

    if not lake.root.startswith("s3://"):
        raise OnlineRetailError(
            f"the Glue catalog points Athena at S3; {lake.root!r} is not an s3:// lake",
            setting="LAKE_ROOT (or --lake)",
        )
    glue = glue or boto3.client("glue")
    database = database or glue_database()
    with reaching_aws("the Glue Data Catalog"):
        return _register(lake, glue, database, tables)


def _register(lake: Lake, glue: Any, database: str, tables: Iterable[LakeTable]) -> CatalogChanges:
    changes = CatalogChanges()
    try:
        glue.get_database(Name=database)
    except glue.exceptions.EntityNotFoundException:
        glue.create_database(
            DatabaseInput={
                "Name": database,
                "Description": "Online Retail lake: tables defined by ingestion/catalog/tables.py",
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


@dataclass(frozen=True, order=True)
class Partition:
    """One year=/month= partition of invoice_lines in one lake (s3://bucket/prefix)."""

    lake_root: str
    year: str
    month: str


_TRANSFORMED_OBJECT = re.compile(
    rf"^(?:(?P<prefix>.+)/)?{re.escape(TRANSFORMED_ZONE)}/"
    r"year=(?P<year>\d{4})/month=(?P<month>\d{2})/[^/]+$"
)


def partition_of_object(bucket: str, key: str) -> Partition | None:
    """The partition an object of the transformed zone belongs to; None for any other key
    (another zone, Firehose's error prefix, a folder marker ending in `/`)."""
    match = _TRANSFORMED_OBJECT.match(key)
    if match is None:
        return None
    root = f"s3://{bucket}/{match['prefix']}" if match["prefix"] else f"s3://{bucket}"
    return Partition(root, match["year"], match["month"])


def partitions_in_s3_event(event: dict[str, Any]) -> list[Partition]:
    """The distinct partitions of the objects an S3 event notification says were created.
    S3 URL-encodes the key in the event (`year%3D2011/month%3D12/...`):
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html"""
    found = set()
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record["s3"]
        partition = partition_of_object(s3["bucket"]["name"], unquote_plus(s3["object"]["key"]))
        if partition is not None:
            found.add(partition)
    return sorted(found)


def register_partitions(
    glue: Any, database: str, partitions: Iterable[Partition], table: LakeTable = INVOICE_LINES
) -> list[Partition]:
    """Create the partitions Glue does not have yet, with the table's storage (the same
    PartitionInput as register_lake); returns the ones created. A partition that exists
    already is left as it is: BatchCreatePartition reports it as AlreadyExistsException,
    which is success here. Any other error raises, so the Lambda's invocation fails and
    S3's asynchronous invocation retries it (then its on-failure destination keeps it)."""
    by_root: dict[str, list[Partition]] = {}
    for partition in sorted(set(partitions)):
        by_root.setdefault(partition.lake_root, []).append(partition)
    created: list[Partition] = []
    with reaching_aws("the Glue Data Catalog"):
        for root, wanted in by_root.items():
            table_input = table.table_input(root)
            for chunk in _chunks(wanted, 100):  # BatchCreatePartition takes at most 100
                try:
                    response = glue.batch_create_partition(
                        DatabaseName=database,
                        TableName=table.name,
                        PartitionInputList=[
                            _partition_input(table_input, p.year, p.month) for p in chunk
                        ],
                    )
                except glue.exceptions.EntityNotFoundException as error:
                    raise OnlineRetailError(
                        f"Glue has no table {database}.{table.name} to add partitions to; "
                        "register the lake first (online-retail catalog)",
                        setting="GLUE_DATABASE",
                    ) from error
                existed, failed = set(), []
                for error in response.get("Errors", []):
                    values = tuple(error.get("PartitionValues", []))
                    if error.get("ErrorDetail", {}).get("ErrorCode") == "AlreadyExistsException":
                        existed.add(values)
                    else:
                        failed.append(error)
                if failed:
                    raise OnlineRetailError(f"Glue BatchCreatePartition failed: {failed}")
                created += [p for p in chunk if (p.year, p.month) not in existed]
    return created
