"""The Kinesis -> DynamoDB consumer and the Firehose transformation, with AWS's shapes."""

from __future__ import annotations

import base64
import copy
import functools
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from support import parse_csv_lines

from ingestion.lake import QUARANTINE_ZONE, Lake
from ingestion.stream import settings
from ingestion.stream.handlers import firehose_transform, kinesis_consumer
from ingestion.stream.items import GUEST_PREFIX, LINE_ITEM_BUDGET_BYTES, from_item, item_size
from ingestion.stream.records import StreamRecord
from local_stack.events import KinesisRecordIn, context, firehose_event, kinesis_event

# The sample event of AWS's "Using Lambda with Kinesis" page, verbatim but for the ARNs:
# its payload "Hello, this is a test." is not an invoice line.
AWS_SAMPLE_KINESIS_RECORD = {
    "kinesis": {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": "1",
        "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
        "data": "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==",
        "approximateArrivalTimestamp": 1545084650.987,
    },
    "eventSource": "aws:kinesis",
    "eventVersion": "1.0",
    "eventID": "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
    "eventName": "aws:kinesis:record",
    "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
    "awsRegion": "us-east-2",
    "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream",
}
# The sample of Firehose's data-transformation docs (a Kinesis-sourced stream).
AWS_SAMPLE_FIREHOSE_EVENT = {
    "invocationId": "invocationIdExample",
    "deliveryStreamArn": "arn:aws:kinesis:EXAMPLE",
    "region": "us-east-1",
    "sourceKinesisStreamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/lambda-stream",
    "records": [
        {
            "recordId": "49546986683135544286507457936321625675700192471156785154",
            "approximateArrivalTimestamp": 1495072949453,
            "data": "SGVsbG8gV29ybGQ=",
            "kinesisRecordMetadata": {
                "sequenceNumber": "49546986683135544286507457936321625675700192471156785154",
                "subsequenceNumber": 0,
                "partitionKey": "4d1ad2b9-24f8-4b9d-a088-76e9947c317a",
                "shardId": "shardId-000000000000",
                "approximateArrivalTimestamp": 1495072949453,
            },
        }
    ],
}
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
AT = datetime(2011, 12, 9, 12, tzinfo=UTC)


def kinesis_records(rows: list[dict[str, str]], shard: str = "shardId-000000000000"):
    return [
        KinesisRecordIn(
            data=StreamRecord(
                f"test.csv:{i + 2}", "raw/test.csv", i + 2, "2011-12-09T12:00:00.000000Z", row
            ).encode(),
            partition_key=row["InvoiceNo"],
            sequence_number=str(1000 + i),
            arrived_at=AT,
            shard_id=shard,
        )
        for i, row in enumerate(rows)
    ]


def scan(table: str) -> list[dict]:
    items = settings.dynamodb().scan(TableName=table, ConsistentRead=True)["Items"]
    return [from_item(i) for i in items]


def test_lines_land_in_both_tables_with_string_keys_and_guests_spread(stream_env, slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1401:1801]])
    cancellations = sum(r["InvoiceNo"].startswith("C") for r in rows)
    guests = sum(not r["CustomerID"] for r in rows)
    assert cancellations and guests  # the slice has both kinds the prototype dropped
    event = kinesis_event(kinesis_records(rows), stream_env.stream_name, "consumer")
    response = kinesis_consumer.handler(event, context("consumer"))
    assert response == {"batchItemFailures": []}

    line_items = scan(stream_env.invoice_table)
    assert len(line_items) == len(rows)  # one item per line
    assert {i["LineId"] for i in line_items} == {f"test.csv:{n + 2}" for n in range(len(rows))}
    summaries = scan(stream_env.customer_table)
    assert len(summaries) == len({r["InvoiceNo"] for r in rows})  # one per invoice
    assert sum(s["LineCount"] for s in summaries) == len(rows)
    guest_summaries = [s for s in summaries if s["CustomerKey"].startswith(GUEST_PREFIX)]
    assert sum(s["LineCount"] for s in guest_summaries) == guests
    assert all("CustomerID" not in s for s in guest_summaries)
    total = sum(Decimal(r["Quantity"]) * Decimal(r["UnitPrice"]) for r in rows)
    assert sum(i["Quantity"] * i["UnitPrice"] for i in line_items) == total
    assert sum(s["Amount"] for s in summaries) == total


def test_a_redelivered_batch_changes_nothing(stream_env, slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1:101]])
    event = kinesis_event(kinesis_records(rows), stream_env.stream_name, "consumer")
    kinesis_consumer.handler(event, context("consumer"))
    before = scan(stream_env.invoice_table), scan(stream_env.customer_table)
    outcome = kinesis_consumer.write_batch(
        list(kinesis_consumer.KinesisStreamEvent(copy.deepcopy(event)).records),
        settings.current(),
        settings.dynamodb(),
    )
    assert outcome.stored == 100 and not outcome.failures
    after = scan(stream_env.invoice_table), scan(stream_env.customer_table)
    key = lambda i: (i.get("InvoiceNo"), i.get("LineId", i.get("CustomerKey")))  # noqa: E731
    assert [sorted(t, key=key) for t in after] == [sorted(t, key=key) for t in before]
    assert sum(s["LineCount"] for s in after[1]) == 100  # nothing counted twice


def test_records_that_are_not_lines_are_skipped_not_retried(stream_env, slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1:4]])
    good = kinesis_event(kinesis_records(rows), stream_env.stream_name, "consumer")["Records"]
    bad_utf8 = copy.deepcopy(good[0])
    bad_utf8["kinesis"]["data"] = base64.b64encode(b"\xff\xfe\x00").decode()
    bad_utf8["kinesis"]["sequenceNumber"] = "2000"
    event = {"Records": [AWS_SAMPLE_KINESIS_RECORD, good[0], bad_utf8, *good[1:]]}
    assert kinesis_consumer.handler(event, context("consumer")) == {"batchItemFailures": []}
    assert len(scan(stream_env.invoice_table)) == 3
    assert kinesis_consumer.handler({"Records": []}, context("consumer")) == {
        "batchItemFailures": []
    }


def test_a_line_too_long_for_an_item_is_stored_cut_to_fit(stream_env, slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1:6]])
    # Before, this line's item went over DynamoDB's 400 KB and its record failed until
    # it expired; the lake keeps the whole line, the lookup table a bounded item.
    rows[2].update(InvoiceNo="536999", Description="x" * 450_000)
    event = kinesis_event(kinesis_records(rows), stream_env.stream_name, "consumer")
    assert kinesis_consumer.handler(event, context("consumer")) == {"batchItemFailures": []}
    raw = settings.dynamodb().scan(TableName=stream_env.invoice_table)["Items"]
    assert len(raw) == 5 and max(item_size(i) for i in raw) <= LINE_ITEM_BUDGET_BYTES
    (cut,) = [from_item(i) for i in raw if i["InvoiceNo"]["S"] == "536999"]
    assert cut["Truncated"] == ["Description"] and set(cut["Description"]) == {"x"}


class HoldingBack:
    """DynamoDB, but BatchWriteItem leaves the item of one line unprocessed the first
    `times` calls that carry it, as DynamoDB does under throttling (UnprocessedItems)."""

    def __init__(self, client, line_id: str, times: int) -> None:
        self.client, self.line_id, self.times = client, line_id, times
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def batch_write_item(self, RequestItems):
        self.calls += 1
        ((table, requests),) = RequestItems.items()
        held = [r for r in requests if r["PutRequest"]["Item"]["LineId"]["S"] == self.line_id]
        if not held or self.times == 0:
            return self.client.batch_write_item(RequestItems=RequestItems)
        self.times -= 1
        rest = [r for r in requests if r not in held]
        if rest:
            self.client.batch_write_item(RequestItems={table: rest})
        return {"UnprocessedItems": {table: held}}


@pytest.mark.parametrize("times", [2, 1000], ids=["then-written", "always"])
def test_unprocessed_items_are_retried_and_what_stays_unwritten_fails_its_record_only(
    stream_env, slice_lines, monkeypatch, times
):
    rows = parse_csv_lines([HEADER, *slice_lines[1:6]])
    holding = HoldingBack(settings.dynamodb(), "test.csv:4", times)
    monkeypatch.setattr(settings, "dynamodb", functools.cache(lambda: holding))
    monkeypatch.setattr("ingestion.stream.item_store._backoff", lambda attempt: None)
    event = kinesis_event(kinesis_records(rows), stream_env.stream_name, "consumer")
    response = kinesis_consumer.handler(event, context("consumer"))
    stored = {i["LineId"] for i in scan(stream_env.invoice_table)}
    if times == 2:
        assert response == {"batchItemFailures": []} and holding.calls == 3
        assert len(stored) == 5
    else:
        assert response == {"batchItemFailures": [{"itemIdentifier": "1002"}]}
        assert stored == {"test.csv:2", "test.csv:3", "test.csv:5", "test.csv:6"}
        # its invoice's summary waits for the retry rather than count without it
        assert {r["InvoiceNo"] for r in rows} == {"536365"}
        assert scan(stream_env.customer_table) == []


def test_firehose_answers_every_record_once_and_quarantines_the_rejects(stream_env, slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1:51]])
    rows[7]["UnitPrice"] = "1.2345"
    records = kinesis_records(rows)
    event = firehose_event(
        [(f"r{i}", r) for i, r in enumerate(records)], "delivery", stream_env.stream_name
    )
    event["records"].append(AWS_SAMPLE_FIREHOSE_EVENT["records"][0])  # "Hello World"
    response = firehose_transform.handler(event, context("transform"))
    answers = response["records"]
    assert [a["recordId"] for a in answers] == [r["recordId"] for r in event["records"]]
    results = [a["result"] for a in answers]
    # quarantined with its reason: done, so Dropped, and nothing left in the error prefix
    assert results.count("Ok") == 49 and results.count("Dropped") == 2
    assert answers[7]["result"] == "Dropped"
    assert answers[7]["data"] == event["records"][7]["data"]
    line = json.loads(base64.b64decode(answers[0]["data"]))
    assert line["invoice_no"] == rows[0]["InvoiceNo"]
    assert line["unit_price"] == f"{Decimal(rows[0]['UnitPrice']):.3f}"
    assert line["source_line_number"] == 2 and line["event_id"] == "test.csv:2"
    month, day_year = rows[0]["InvoiceDate"].split("/", 1)
    assert answers[0]["metadata"]["partitionKeys"] == {
        "year": day_year.split("/")[1][:4],
        "month": f"{int(month):02d}",
    }
    lake = Lake(stream_env.lake_root)
    (key,) = lake.files_under(QUARANTINE_ZONE)
    quarantined = pq.read_table(io.BytesIO(lake.read_bytes(key)))
    assert sorted(quarantined["field"].to_pylist()) == ["(record)", "UnitPrice"]


def test_firehose_sample_event_and_an_empty_invocation(stream_env):
    response = firehose_transform.handler(AWS_SAMPLE_FIREHOSE_EVENT, context("transform"))
    assert response["records"] == [
        {
            "recordId": AWS_SAMPLE_FIREHOSE_EVENT["records"][0]["recordId"],
            "result": "Dropped",  # quarantined: not an invoice line
            "data": "SGVsbG8gV29ybGQ=",
        }
    ]
    empty = {**AWS_SAMPLE_FIREHOSE_EVENT, "records": []}
    assert firehose_transform.handler(empty, context("transform")) == {"records": []}
