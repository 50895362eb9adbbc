"""The Glue catalog registration against moto's server (Glue and S3 over HTTP): tables
from the schema contract, partitions equal to the lake's folders, idempotent re-runs,
and a schema change applied as a new table version."""

from __future__ import annotations

import dataclasses
import uuid

import boto3
import pyarrow.parquet as pq
import pytest
from support import write_csv

from ingestion.batch.job import run_batch_job
from ingestion.catalog.glue import register_lake
from ingestion.catalog.tables import INVOICE_LINES, LAKE_TABLES
from ingestion.lake import TRANSFORMED_ZONE, Lake, land_file


@pytest.fixture
def s3_lake(aws_env: str, slice_lines: list[str], tmp_path) -> Lake:
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    lake = Lake(f"s3://{bucket}/online-retail")
    run_batch_job(land_file(str(write_csv(tmp_path / "slice.csv.gz", slice_lines)), lake), lake)
    return lake


def _listed_partitions(lake: Lake) -> set[tuple[str, str]]:
    """The lake's partition folders, read straight from S3's listing."""
    bucket, prefix = lake.root.removeprefix("s3://").split("/", 1)
    found = set()
    for page in (
        boto3.client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=bucket, Prefix=f"{prefix}/{TRANSFORMED_ZONE}/")
    ):
        # only files: pyarrow leaves an empty "folder/" marker where it deleted the last file
        for item in page.get("Contents", []):
            if not item["Key"].endswith(".parquet"):
                continue
            year, month = item["Key"].split("/")[-3:-1]
            found.add((year.removeprefix("year="), month.removeprefix("month=")))
    return found


def _versions(glue, database: str, table: str) -> list[dict]:
    return glue.get_table_versions(DatabaseName=database, TableName=table)["TableVersions"]


def test_registration_follows_the_lake_and_a_second_run_changes_nothing(s3_lake: Lake) -> None:
    glue = boto3.client("glue")
    database = f"lake_{uuid.uuid4().hex[:6]}"

    first = register_lake(s3_lake, glue, database)
    assert first.database_created
    assert first.tables_created == [t.name for t in LAKE_TABLES]
    assert set(first.partitions_added) == _listed_partitions(s3_lake)
    assert len(first.partitions_added) == 13  # Dec 2010 .. Dec 2011

    # The registered columns are the ones the Parquet files really hold, in file order.
    table = glue.get_table(DatabaseName=database, Name="invoice_lines")["Table"]
    some_file = s3_lake.files_under(TRANSFORMED_ZONE)[0]
    file_schema = pq.read_schema(s3_lake.filesystem.open_input_file(s3_lake.path(some_file)))
    registered = [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    assert registered == file_schema.names
    assert [k["Name"] for k in table["PartitionKeys"]] == ["year", "month"]
    assert table["StorageDescriptor"]["Location"] == f"{s3_lake.root}/{TRANSFORMED_ZONE}/"
    partition = glue.get_partition(
        DatabaseName=database, TableName="invoice_lines", PartitionValues=["2011", "09"]
    )["Partition"]
    assert partition["StorageDescriptor"]["Location"].endswith("/year=2011/month=09/")

    second = register_lake(s3_lake, glue, database)
    assert not second.changed, second.describe()
    assert second.describe() == "catalog already up to date: nothing changed"
    for lake_table in LAKE_TABLES:
        assert len(_versions(glue, database, lake_table.name)) == 1, lake_table.name


def test_a_contract_change_is_a_new_table_version_not_a_drift(s3_lake: Lake) -> None:
    glue = boto3.client("glue")
    database = f"lake_{uuid.uuid4().hex[:6]}"
    register_lake(s3_lake, glue, database)

    # The contract gains a column: the next registration must apply it, visibly.
    changed = dataclasses.replace(
        INVOICE_LINES, columns=[*INVOICE_LINES.columns, {"Name": "channel", "Type": "string"}]
    )
    tables = [changed if t.name == "invoice_lines" else t for t in LAKE_TABLES]
    result = register_lake(s3_lake, glue, database, tables)
    assert result.tables_updated == ["invoice_lines"]
    assert len(result.partitions_updated) == 13  # partitions follow the table's schema
    assert not result.tables_created and not result.partitions_added

    versions = _versions(glue, database, "invoice_lines")
    assert len(versions) == 2
    columns_by_version = {
        v["VersionId"]: [c["Name"] for c in v["Table"]["StorageDescriptor"]["Columns"]]
        for v in versions
    }
    assert columns_by_version["1"][-1] == "country"
    assert columns_by_version["2"][-1] == "channel"
    partition = glue.get_partition(
        DatabaseName=database, TableName="invoice_lines", PartitionValues=["2010", "12"]
    )["Partition"]
    assert partition["StorageDescriptor"]["Columns"][-1]["Name"] == "channel"

    assert not register_lake(s3_lake, glue, database, tables).changed
    assert len(_versions(glue, database, "invoice_lines")) == 2


def test_a_partition_the_lake_no_longer_has_is_deregistered(s3_lake: Lake) -> None:
    glue = boto3.client("glue")
    database = f"lake_{uuid.uuid4().hex[:6]}"
    register_lake(s3_lake, glue, database)
    for key in s3_lake.files_under(f"{TRANSFORMED_ZONE}/year=2011/month=12"):
        s3_lake.delete(key)

    result = register_lake(s3_lake, glue, database)
    assert result.partitions_removed == [("2011", "12")]
    pages = glue.get_paginator("get_partitions").paginate(
        DatabaseName=database, TableName="invoice_lines"
    )
    registered = {tuple(p["Values"]) for page in pages for p in page["Partitions"]}
    assert registered == _listed_partitions(s3_lake)
    assert ("2011", "12") not in registered
