"""The Kinesis -> DynamoDB consumer and the Firehose transformation, with AWS's shapes."""

from __future__ import annotations

import base64
import copy
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow.parquet as pq
from support import parse_csv_lines

from ingestion.lake import QUARANTINE_ZONE, Lake
from ingestion.stream import settings
from ingestion.stream.handlers import firehose_transform, kinesis_consumer
from ingestion.stream.items import UNKNOWN_CUSTOMER, from_item, lines_of
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


def test_lines_land_in_both_tables_with_string_keys_and_unknown_customers(stream_env, slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1401:1801]])
    cancellations = sum(r["InvoiceNo"].startswith("C") for r in rows)
    guests = sum(not r["CustomerID"] for r in rows)
    assert cancellations and guests  # the slice has both kinds the prototype dropped
    event = kinesis_event(kinesis_records(rows), stream_env.stream_name, "consumer")
    response = kinesis_consumer.handler(event, context("consumer"))
    assert response == {"batchItemFailures": []}

    invoice_items = scan(stream_env.invoice_table)
    invoice_lines = [line for item in invoice_items for line in lines_of(item)]
    assert len(invoice_lines) == len(rows)
    assert len(invoice_items) == len({(r["InvoiceNo"], r["StockCode"]) for r in rows})
    customer_items = scan(stream_env.customer_table)
    assert sum(len(lines_of(i)) for i in customer_items) == len(rows)
    unknown = [i for i in customer_items if i["CustomerID"] == UNKNOWN_CUSTOMER]
    assert sum(len(lines_of(i)) for i in unknown) == guests
    total = sum(Decimal(r["Quantity"]) * Decimal(r["UnitPrice"]) for r in rows)
    stored = sum(line["Quantity"] * line["UnitPrice"] for line in invoice_lines)
    assert stored == total


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
    assert outcome.stored == 100
    items = len({(r["InvoiceNo"], r["StockCode"]) for r in rows}) + len(
        {(r["CustomerID"], r["InvoiceNo"]) for r in rows}
    )
    assert outcome.requests == -(-items // 100)  # the BatchGetItems only: nothing to write
    assert (scan(stream_env.invoice_table), scan(stream_env.customer_table)) == before


def test_records_that_are_not_lines_are_skipped_not_retried(stream_env, slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1:4]])
    good = kinesis_event(kinesis_records(rows), stream_env.stream_name, "consumer")["Records"]
    bad_utf8 = copy.deepcopy(good[0])
    bad_utf8["kinesis"]["data"] = base64.b64encode(b"\xff\xfe\x00").decode()
    bad_utf8["kinesis"]["sequenceNumber"] = "2000"
    event = {"Records": [AWS_SAMPLE_KINESIS_RECORD, good[0], bad_utf8, *good[1:]]}
    assert kinesis_consumer.handler(event, context("consumer")) == {"batchItemFailures": []}
    assert sum(len(lines_of(i)) for i in scan(stream_env.invoice_table)) == 3
    assert kinesis_consumer.handler({"Records": []}, context("consumer")) == {
        "batchItemFailures": []
    }


def test_a_failed_write_is_reported_for_its_record_only(stream_env, slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1:6]])
    # A line of an invoice of its own whose items exceed DynamoDB's 400 KB: an item
    # that cannot be written fails the records of its lines, and only those.
    rows[2].update(InvoiceNo="536999", Description="x" * 450_000)
    event = kinesis_event(kinesis_records(rows), stream_env.stream_name, "consumer")
    response = kinesis_consumer.handler(event, context("consumer"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "1002"}]}
    stored = {
        line["SourceLineNumber"] for i in scan(stream_env.invoice_table) for line in lines_of(i)
    }
    assert stored == {2, 3, 5, 6}


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
