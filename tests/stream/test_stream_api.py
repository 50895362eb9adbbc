"""POST /invoices against moto's server, with REST (v1) and HTTP API (v2) events."""

from __future__ import annotations

import base64
import io
import json

import pyarrow.parquet as pq
import pytest
from support import parse_csv_lines

from ingestion.contract.cleaning import Lineage, clean_batch, raw_table
from ingestion.lake import QUARANTINE_ZONE, Lake
from ingestion.stream import settings
from ingestion.stream.handlers import api
from local_stack.events import context, http_api_event, rest_api_event
from local_stack.kinesis_mapping import shard_readers

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def post(body: bytes, *, http: bool = False, **headers: str) -> tuple[int, dict]:
    headers = {"Content-Type": "text/csv", **headers}
    if http:
        response = api.handler(
            http_api_event("POST", "/invoices", body=body, headers=headers), context("api")
        )
    else:
        response = api.handler(
            rest_api_event("POST", "/invoices", body=body, headers=headers), context("api")
        )
    return response["statusCode"], json.loads(response["body"])


def stream_contents(config: settings.Settings) -> list[dict]:
    out = []
    for reader in shard_readers(settings.kinesis(), config.stream_name):
        while batch := reader.read(10_000):
            out += [{"key": r.partition_key, **json.loads(r.data)} for r in batch]
    return out


def expected_valid(lines: list[str]) -> int:
    """The test's own count of valid lines: the shared rules over its own CSV parse."""
    rows = parse_csv_lines([HEADER, *lines])
    result = clean_batch(raw_table(rows), Lineage.of_file("t", _now(), range(len(rows))))
    return result.landed.num_rows


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.mark.parametrize("http", [False, True], ids=["rest-v1", "http-v2"])
def test_csv_body_lands_valid_lines_in_kinesis_and_rejects_with_line_numbers(
    stream_env, slice_lines, http
):
    lines = [*slice_lines[1:1201], "536999,22086,KIT,six,12/1/2010 9:00,2.55,17850,United Kingdom"]
    body = "\n".join([HEADER, *lines]).encode()
    status, answer = post(body, http=http)
    valid = expected_valid(lines)
    assert status == 202
    assert (answer["received"], answer["accepted"], answer["rejected"]) == (
        1201,
        valid,
        1201 - valid,
    )
    assert {
        "line": 1202,
        "field": "Quantity",
        "reason": "is not a whole number of units: 'six'",
    } in (answer["errors"])
    records = stream_contents(stream_env)
    assert len(records) == valid  # 1,200+ lines: three PutRecords calls, nothing doubled
    assert len({r["event_id"] for r in records}) == valid
    assert all(r["key"] == r["line"]["InvoiceNo"] for r in records)
    first = min(records, key=lambda r: r["source_line_number"])
    assert first["source_line_number"] == 2  # the header is line 1
    assert first["source_file"] == answer["source_file"]
    lake = Lake(stream_env.lake_root)
    assert lake.read_bytes(answer["source_file"]) == body  # kept as received
    (quarantine,) = [k for k in lake.files_under(QUARANTINE_ZONE)]
    rejected = pq.read_table(io.BytesIO(lake.read_bytes(quarantine)))
    assert rejected.num_rows == 1201 - valid
    assert 1202 in rejected["source_line_number"].to_pylist()


def test_a_retry_with_the_same_idempotency_key_is_not_sent_again(stream_env, slice_lines):
    body = "\n".join(slice_lines[:4]).encode()
    post(body, **{"Idempotency-Key": "order-42"})
    post(body, **{"Idempotency-Key": "order-42"})
    ids = [r["event_id"] for r in stream_contents(stream_env)]
    assert sorted(ids) == ["order-42:2", "order-42:3", "order-42:4"]  # sent once


def test_json_array_with_client_ids_and_nothing_valid_is_400(stream_env):
    body = json.dumps([{"event_id": "a", "InvoiceNo": "X"}, {"line_id": "b", "Quantity": 1}])
    status, answer = post(body.encode(), **{"Content-Type": "application/json"})
    assert status == 400
    assert [(e["line"], e["field"]) for e in answer["errors"]] == [
        (1, "InvoiceNo"),
        (2, "InvoiceNo"),
    ]
    assert stream_contents(stream_env) == []


def test_bad_bodies_are_4xx_never_500(stream_env, monkeypatch):
    status, answer = post(b"\xa3\xff not utf-8", http=True)  # sent base64-encoded
    assert status == 400 and "not utf-8" in answer["message"]
    status, _ = post(b"[{", **{"Content-Type": "application/json"})
    assert status == 400
    status, _ = post(b"")
    assert status == 400
    monkeypatch.setenv("MAX_REQUEST_BYTES", "1000")
    settings.cold_start()
    status, answer = post(b"x" * 1001)
    assert status == 413 and "1,001 bytes" in answer["message"]


def test_a_binary_body_is_read_from_base64(stream_env, slice_lines):
    event = rest_api_event("POST", "/invoices", body=b"", headers={"Content-Type": "text/csv"})
    event["body"] = base64.b64encode("\n".join(slice_lines[:3]).encode()).decode()
    event["isBase64Encoded"] = True
    response = api.handler(event, context("api"))
    assert response["statusCode"] == 202
    assert json.loads(response["body"])["accepted"] == 2
