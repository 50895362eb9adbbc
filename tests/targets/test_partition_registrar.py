"""New Firehose partitions become visible (issue 10, defect 2): the S3-event Lambda
registers the year=/month= partition of every object created in the transformed zone,
on moto's Glue and S3, idempotently, with the same partition definition as the catalog
command."""

from __future__ import annotations

import uuid
from urllib.parse import quote_plus

import boto3
import pytest
from support import write_csv
from test_architecture import NOT_IN_LAMBDA, import_closure

from ingestion.batch.job import run_batch_job
from ingestion.catalog import partition_registrar
from ingestion.catalog.glue import register_lake
from ingestion.catalog.tables import INVOICE_LINES
from ingestion.errors import OnlineRetailError
from ingestion.lake import TRANSFORMED_ZONE, Lake, land_file
from local_stack.events import context

# What Firehose's dynamic partitioning writes: prefix + <stream>-<version>-<time>-<uuid>
FIREHOSE_OBJECT = "online-retail-invoice-lines-1-2026-11-30-09-15-02-5f0b2c1e-7a1d-4e7f-9c7e-3d1f"


def s3_event(bucket: str, *keys: str, name: str = "ObjectCreated:Put") -> dict:
    """An S3 event notification as AWS sends it (keys URL-encoded):
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html"""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-30T09:15:03.120Z",
                "eventName": name,
                "userIdentity": {"principalId": "AWS:AROAEXAMPLE:firehose"},
                "requestParameters": {"sourceIPAddress": "10.0.0.1"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "x"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "register-partitions",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": 1024,
                        "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
            for key in keys
        ]
    }


@pytest.fixture
def catalogued(aws_env: str, slice_lines: list[str], tmp_path, monkeypatch) -> tuple[Lake, str]:
    """A lake on moto's S3 whose batch output is registered, and the registrar's database."""
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    lake = Lake(f"s3://{bucket}/online-retail")
    december = [slice_lines[0], *(line for line in slice_lines[1:] if "/2010 " in line)]
    run_batch_job(land_file(str(write_csv(tmp_path / "day.csv", december)), lake), lake)
    database = f"lake_{uuid.uuid4().hex[:6]}"
    register_lake(lake, boto3.client("glue"), database)
    monkeypatch.setenv("GLUE_DATABASE", database)
    partition_registrar.glue.cache_clear()  # a new container: its client sees this moto
    return lake, database


def registered(database: str) -> dict[tuple[str, ...], dict]:
    pages = (
        boto3.client("glue")
        .get_paginator("get_partitions")
        .paginate(DatabaseName=database, TableName=INVOICE_LINES.name)
    )
    return {tuple(p["Values"]): p for page in pages for p in page["Partitions"]}


def firehose_writes(lake: Lake, year: str, month: str) -> str:
    """An object where Firehose's prefix puts a line of a new month; its S3 key."""
    bucket, prefix = lake.root.removeprefix("s3://").split("/", 1)
    key = f"{prefix}/{TRANSFORMED_ZONE}/year={year}/month={month}/{FIREHOSE_OBJECT}"
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=b"PAR1")
    return key


def test_a_new_firehose_prefix_is_registered_as_it_appears(catalogued) -> None:
    lake, database = catalogued
    bucket = lake.root.removeprefix("s3://").split("/", 1)[0]
    before = registered(database)
    assert set(before) == {("2010", "12")}

    keys = [firehose_writes(lake, "2011", "01"), firehose_writes(lake, "2011", "02")]
    result = partition_registrar.handler(s3_event(bucket, *keys), context("registrar"))

    after = registered(database)
    assert set(after) == {("2010", "12"), ("2011", "01"), ("2011", "02")}
    assert result["partitions_created"] == ["2011-01", "2011-02"]
    location = after[("2011", "01")]["StorageDescriptor"]["Location"]
    assert location == f"{lake.root}/{TRANSFORMED_ZONE}/year=2011/month=01/"
    # the catalog command finds the registrar's partitions exactly as it defines them
    changes = register_lake(lake, boto3.client("glue"), database)
    assert (changes.partitions_added, changes.partitions_updated) == ([], [])


def test_events_delivered_again_or_for_a_known_partition_change_nothing(catalogued) -> None:
    lake, database = catalogued
    bucket = lake.root.removeprefix("s3://").split("/", 1)[0]
    new = firehose_writes(lake, "2011", "03")
    known = firehose_writes(lake, "2010", "12")
    event = s3_event(bucket, new, new, known)  # one partition twice, one registered already

    first = partition_registrar.handler(event, context("registrar"))
    state = registered(database)
    again = partition_registrar.handler(event, context("registrar"))  # S3 delivers twice

    assert first["partitions_seen"] == ["2010-12", "2011-03"]
    assert first["partitions_created"] == ["2011-03"]
    assert again["partitions_created"] == []
    assert registered(database) == state
    assert set(state) == {("2010", "12"), ("2011", "03")}


def test_objects_outside_the_transformed_zone_and_removals_are_ignored(catalogued) -> None:
    lake, database = catalogued
    bucket, prefix = lake.root.removeprefix("s3://").split("/", 1)
    error_key = f"{prefix}/errors/online_retail/invoice_lines/processing-failed/2026/11/30/09/x"
    marker = f"{prefix}/{TRANSFORMED_ZONE}/year=2011/month=04/"
    removed = firehose_writes(lake, "2011", "05")
    events = [
        s3_event(bucket, error_key, marker),
        s3_event(bucket, removed, name="ObjectRemoved:Delete"),
    ]
    for event in events:
        assert partition_registrar.handler(event, context("registrar"))["partitions_seen"] == []
    assert set(registered(database)) == {("2010", "12")}


def test_a_missing_table_fails_the_invocation_with_the_step_to_take(catalogued, monkeypatch):
    lake, _ = catalogued
    bucket = lake.root.removeprefix("s3://").split("/", 1)[0]
    boto3.client("glue").create_database(DatabaseInput={"Name": "empty_lake"})
    monkeypatch.setenv("GLUE_DATABASE", "empty_lake")
    event = s3_event(bucket, firehose_writes(lake, "2011", "06"))
    with pytest.raises(OnlineRetailError, match="online-retail catalog"):
        partition_registrar.handler(event, context("registrar"))


def test_the_registrar_ships_without_emulator_or_warehouse_code() -> None:
    modules = import_closure("ingestion.catalog.partition_registrar")
    assert "ingestion.catalog.partition_registrar" in modules
    assert {name.split(".")[0] for name in modules} & NOT_IN_LAMBDA == set()
