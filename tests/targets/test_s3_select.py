"""The S3 Select helper: against moto's server over HTTP where moto implements it (CSV,
the raw zone), and its request and response handling for the other formats."""

from __future__ import annotations

import csv
import gzip
import uuid

import boto3
import pytest

from ingestion.errors import OnlineRetailError
from ingestion.s3_select import input_serialization, parse_event_stream, select


@pytest.fixture
def raw_object(aws_env: str, slice_lines: list[str]) -> tuple[str, list[str]]:
    # moto's CSV reader splits on every comma, so the lines with a quoted field stay out
    lines = [slice_lines[0], *[line for line in slice_lines[1:400] if '"' not in line]]
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    body = gzip.compress(("\n".join(lines) + "\n").encode())
    key = "online-retail/raw/online_retail/slice.csv.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}", lines


def test_select_filters_a_raw_gzipped_csv_object(raw_object: tuple[str, list[str]]) -> None:
    uri, lines = raw_object
    rows = list(csv.DictReader(lines))
    french = [(r["InvoiceNo"], r["Quantity"]) for r in rows if r["Country"] == "France"]
    assert french, "the slice has French lines"

    got = select(uri, "select s.InvoiceNo, s.Quantity from s3object s where s.Country = 'France'")
    assert [(r["InvoiceNo"], r["Quantity"]) for r in got.records] == french
    assert got.bytes_scanned and got.bytes_scanned > 0

    # (filtered: moto's count(*) also counts the header row that USE consumes on AWS)
    uk = sum(r["Country"] == "United Kingdom" for r in rows)
    expression = "select count(*) from s3object s where s.Country = 'United Kingdom'"
    (count,) = select(uri, expression).records
    assert list(count.values()) == [uk]


def test_each_zone_gets_the_serialization_s3_select_needs() -> None:
    zone = "online-retail/transformed/online_retail/invoice_lines/year=2011/month=09"
    assert input_serialization(f"{zone}/x.parquet") == {"Parquet": {}}
    manifest = input_serialization("manifests/online_retail/batch/x.json")
    assert manifest["JSON"] == {"Type": "DOCUMENT"}  # a manifest is one pretty document
    assert input_serialization("raw/online_retail/x.csv")["CompressionType"] == "NONE"
    with pytest.raises(OnlineRetailError, match="cannot tell"):
        input_serialization("raw/online_retail/online_retail.xlsx")
    with pytest.raises(OnlineRetailError, match="s3://"):
        select("/local/file.parquet", "select * from s3object")


def test_records_split_across_events_are_joined() -> None:
    events = [
        {"Records": {"Payload": b'{"invoice_no":"536365","quantity":6}\n{"invoice_no":'}},
        {"Records": {"Payload": b'"536366","quantity":-1}\n'}},
        {"Stats": {"Details": {"BytesScanned": 900, "BytesReturned": 70}}},
        {"End": {}},
    ]
    result = parse_event_stream(events)
    assert result.records == [
        {"invoice_no": "536365", "quantity": 6},
        {"invoice_no": "536366", "quantity": -1},
    ]
    assert (result.bytes_scanned, result.bytes_returned) == (900, 70)
