"""POST /invoices takes what the stream can send before API Gateway's timeout, answers
413 beyond, sends bulk files to the raw zone (POST /uploads), and runs a request with an
Idempotency-Key once (Powertools' idempotency on DynamoDB)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from test_stream_api import HEADER, post, stream_contents

from ingestion.batch.job import run_batch_job
from ingestion.lake import Lake
from ingestion.stream import settings
from ingestion.stream.handlers import api
from local_stack.events import context, http_api_event, rest_api_event

# The facts the limit is sized from, restated here from AWS's documentation.
SHARD_RECORDS_PER_SECOND = 1_000  # Kinesis, per shard
API_GATEWAY_SECONDS = 29
LAMBDA_EVENT_BYTES = 6 * 1024 * 1024


@pytest.mark.parametrize("shards", [1, 2, 4, 16])
def test_the_limit_is_what_the_shards_take_well_inside_api_gateways_timeout(shards):
    from ingestion.stream.producer import request_limits

    limits = request_limits(shards)
    seconds_to_send = limits.lines / (shards * SHARD_RECORDS_PER_SECOND)
    assert seconds_to_send <= API_GATEWAY_SECONDS / 2
    # a body at the limit fits Lambda's event even base64-encoded, with room for headers
    assert limits.bytes * 4 / 3 + 64 * 1024 <= LAMBDA_EVENT_BYTES
    if shards == 2:  # the stack's stream
        assert (limits.lines, limits.bytes) == (20_000, 2_000_000)
        # The old limit, 5 MiB, is ~63,000 CSV lines of the data: 31 s at 2 shards' rate.
        assert 5 * 1024 * 1024 / 83 / (shards * SHARD_RECORDS_PER_SECOND) > API_GATEWAY_SECONDS


def test_a_body_over_the_byte_limit_is_413_naming_the_limit(stream_env):
    limit = 2_000_000  # 2 shards (the fixture's stream): 20,000 lines of 100 bytes
    body = "\n".join([HEADER] + ["x" * 99] * (limit // 100 + 1)).encode()
    for http in (False, True):
        status, answer = post(body, http=http)
        assert status == 413
        assert f"{len(body):,} bytes" in answer["message"]
        assert "20,000 lines or 2,000,000 bytes" in answer["message"]
        assert "POST /uploads" in answer["message"]
    assert stream_contents(stream_env) == []


def test_more_lines_than_the_stream_takes_in_time_is_413_and_sends_nothing(
    stream_env, monkeypatch, dataset_lines
):
    monkeypatch.setenv("STREAM_SHARDS", "1")
    settings.cold_start()
    lines = dataset_lines[1:10_002]  # 10,001 lines, ~850 KB: under the byte limit
    body = "\n".join([HEADER, *lines]).encode()
    assert len(body) < 1_000_000  # 1 shard: 10,000 lines of 100 bytes
    status, answer = post(body)
    assert status == 413
    assert "10,001 lines" in answer["message"] and "10,000 lines" in answer["message"]
    assert stream_contents(stream_env) == []


def _post(body: bytes, headers: dict[str, str], path: str = "/invoices", http: bool = False):
    headers = {"Content-Type": "text/csv", **headers}
    build = http_api_event if http else rest_api_event
    response = api.handler(build("POST", path, body=body, headers=headers), context("api"))
    lowered = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    return response["statusCode"], json.loads(response["body"]), lowered


def test_the_same_idempotency_key_twice_sends_once_and_answers_the_same(stream_env, slice_lines):
    body = "\n".join(slice_lines[:4]).encode()
    first = _post(body, {"Idempotency-Key": "order-42"})
    second = _post(body, {"Idempotency-Key": "order-42"}, http=True)
    assert first[0] == second[0] == 202
    assert first[1] == second[1]  # the same answer, the same request id and raw file
    assert second[2].get("idempotency-replayed") == "true"
    ids = [r["event_id"] for r in stream_contents(stream_env)]
    assert sorted(ids) == ["order-42:2", "order-42:3", "order-42:4"]  # one set of records
    # the key again with another body is the client's mistake, not a replay
    status, answer, _ = _post(
        body + b"\n" + slice_lines[5].encode(), {"Idempotency-Key": "order-42"}
    )
    assert status == 422 and "another body" in answer["message"]
    # without a key, each request is new
    _post(body, {})
    assert len(stream_contents(stream_env)) == 6


def test_post_uploads_presigns_a_put_into_the_raw_zone_that_the_batch_job_lands(
    stream_env, slice_lines
):
    keys = []
    for http in (False, True):
        status, answer, _ = _post(
            json.dumps({"file_name": "daily_export.csv"}).encode(),
            {"Content-Type": "application/json"},
            path="/uploads",
            http=http,
        )
        assert status == 201 and answer["method"] == "PUT"
        keys.append(answer["key"])
    assert keys[0] != keys[1]  # the same file name twice: two arrivals, two keys
    assert all(k.startswith("raw/online_retail/uploads/ingest_date=") for k in keys)
    assert all(k.endswith(".csv") for k in keys)

    data = ("\n".join(slice_lines[:2001]) + "\n").encode()
    put = urllib.request.Request(answer["upload_url"], data, answer["headers"], method="PUT")
    with urllib.request.urlopen(put) as response:
        assert response.status == 200
    lake = Lake(stream_env.lake_root)
    assert lake.read_bytes(answer["key"]) == data
    result = run_batch_job(answer["key"], lake)
    assert result.rows_in == 2000 and result.rows_landed + result.rows_quarantined == 2000

    status, answer, _ = _post(b'{"file_name": "x.pdf"}', {}, path="/uploads")
    assert status == 400 and ".csv.gz" in answer["message"]
    # a workbook: the job an upload starts on AWS (Glue Spark) reads CSV only
    status, answer, _ = _post(b'{"file_name": "daily.xlsx"}', {}, path="/uploads")
    assert status == 400 and "'daily.xlsx'" in answer["message"], answer
