"""KPL-aggregated records (issue 10, defect 5): every user record of an aggregate is a
line of its own, with the same event id in DynamoDB and in the lake, and redelivery adds
nothing. The aggregates are made by AWS's own aggregator (aws-kinesis-agg)."""

from __future__ import annotations

import base64
import io
import json
import uuid
from datetime import UTC, datetime

import pyarrow.parquet as pq
from aws_kinesis_agg.aggregator import RecordAggregator
from support import parse_csv_lines

from ingestion.lake import TRANSFORMED_ZONE
from ingestion.stream import settings
from ingestion.stream.handlers import firehose_transform, kinesis_consumer
from ingestion.stream.items import line_id_of
from ingestion.stream.reingest import reingest_errors
from local_stack.events import KinesisRecordIn, context, firehose_event, kinesis_event
from local_stack.firehose import FirehoseDelivery
from local_stack.kinesis_mapping import EventSourceMapping
from local_stack.stack import LocalStack

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
SHARD = "shardId-000000000000"
AT = datetime(2011, 12, 9, 12, tzinfo=UTC)


def aggregate(rows: list[dict[str, str]]) -> tuple[str, bytes]:
    """One KPL aggregate of the rows as bare JSON lines (a producer other than the API),
    each under its invoice number; (partition key of the aggregate, its bytes)."""
    aggregator = RecordAggregator()
    for row in rows:
        assert aggregator.add_user_record(row["InvoiceNo"], json.dumps(row).encode()) is None
    partition_key, _, data = aggregator.clear_and_get().get_contents()
    return partition_key, data


def expected_ids(stream: str, shard: str, sequence: str, n: int) -> set[str]:
    # the test's own statement of the id scheme: subsequence added when above 0
    base = f"stream:{stream}:{shard}:{sequence}"
    return {base} | {f"{base}:{i}" for i in range(1, n)}


def dynamodb_line_ids(table: str) -> set[str]:
    """The event ids of the line items (one item per line) in the invoices table."""
    pages = settings.dynamodb().get_paginator("scan").paginate(TableName=table)
    return {line_id_of(item) for page in pages for item in page["Items"]}


def summarised_lines(table: str) -> int:
    """How many lines the customers table's invoice summaries count, in all."""
    pages = settings.dynamodb().get_paginator("scan").paginate(TableName=table)
    return sum(int(item["LineCount"]["N"]) for page in pages for item in page["Items"])


def test_the_consumer_stores_every_line_of_an_aggregate(stream_env, slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1:41]])
    key, data = aggregate(rows)
    record = KinesisRecordIn(
        data, key, "49590338271490256608559692538361571095921575989136588898", AT, SHARD
    )
    event = kinesis_event([record], stream_env.stream_name, "consumer")
    assert kinesis_consumer.handler(event, context("consumer")) == {"batchItemFailures": []}

    ids = expected_ids(stream_env.stream_name, SHARD, record.sequence_number, len(rows))
    assert dynamodb_line_ids(stream_env.invoice_table) == ids
    assert summarised_lines(stream_env.customer_table) == len(ids)
    before = settings.dynamodb().scan(TableName=stream_env.invoice_table)["Items"]
    kinesis_consumer.handler(event, context("consumer"))  # redelivered
    after = settings.dynamodb().scan(TableName=stream_env.invoice_table)["Items"]
    assert sorted(map(json.dumps, after)) == sorted(map(json.dumps, before))


def test_firehose_split_records_get_one_event_id_each(stream_env, slice_lines):
    # What Firehose hands the transformation once it has split an aggregate: one record
    # per user record, the same sequence number, subsequence numbers 0..n-1.
    rows = parse_csv_lines([HEADER, *slice_lines[1:21]])
    sequence = "49546986683135544286507457936321625675700192471156785154"
    users = [
        (f"r{i}", KinesisRecordIn(json.dumps(row).encode(), row["InvoiceNo"], sequence, AT, SHARD))
        for i, row in enumerate(rows)
    ]
    event = firehose_event(users, "delivery", stream_env.stream_name)
    for i, record in enumerate(event["records"]):
        record["kinesisRecordMetadata"]["subsequenceNumber"] = i
    response = firehose_transform.handler(event, context("transform"))
    assert [a["result"] for a in response["records"]] == ["Ok"] * len(rows)
    ids = [json.loads(base64.b64decode(a["data"]))["event_id"] for a in response["records"]]
    assert len(set(ids)) == len(rows)
    assert set(ids) == expected_ids(stream_env.stream_name, SHARD, sequence, len(rows))


def test_an_aggregate_that_reaches_the_transformation_whole_is_reingested(stream_env, slice_lines):
    # Direct PUT: Firehose does not split a producer's aggregate; the transformation
    # leaves it to the error prefix, and reingest-errors splits and lands it.
    rows = parse_csv_lines([HEADER, *slice_lines[1:11]])
    _, data = aggregate(rows)
    event = {
        "invocationId": "i-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/d",
        "region": "us-east-1",
        "records": [
            {
                "recordId": "agg",
                "approximateArrivalTimestamp": 1323435000000,
                "data": base64.b64encode(data).decode(),
            }
        ],
    }
    response = firehose_transform.handler(event, context("transform"))
    assert [a["result"] for a in response["records"]] == ["ProcessingFailed"]
    lake = settings.lake()
    document = {
        "attemptsMade": 1,
        "arrivalTimestamp": 1323435000000,
        "errorCode": "Lambda.ProcessingFailedStatus",
        "errorMessage": "ProcessingFailed status set for record",
        "attemptEndingTimestamp": 1323435001000,
        "rawData": response["records"][0]["data"],
        "lambdaArn": "arn:aws:lambda:x",
    }
    lake.write_bytes(
        "errors/online_retail/invoice_lines/processing-failed/x", json.dumps(document).encode()
    )
    report = reingest_errors(lake, stream_env.stream_name)
    assert (report.records_in, report.landed, report.quarantined) == (len(rows), len(rows), 0)
    tables = [
        pq.read_table(io.BytesIO(lake.read_bytes(k))) for k in lake.files_under(TRANSFORMED_ZONE)
    ]
    ids = [i for t in tables for i in t["event_id"].to_pylist()]
    assert len(ids) == len(set(ids)) == len(rows)


def test_aggregates_through_the_local_stack_land_once_with_the_same_ids(
    moto_endpoint, aws_env, dataset_lines
):
    rows = parse_csv_lines([HEADER, *dataset_lines[1:241]])
    groups = [rows[i : i + 60] for i in range(0, len(rows), 60)]  # 4 aggregates of 60 lines
    with LocalStack(moto_endpoint, name=f"kpl{uuid.uuid4().hex[:8]}") as stack:
        stream = stack.settings.stream_name
        expected: set[str] = set()
        for group in groups:
            key, data = aggregate(group)
            put = settings.kinesis().put_record(StreamName=stream, Data=data, PartitionKey=key)
            expected |= expected_ids(stream, put["ShardId"], put["SequenceNumber"], len(group))
        stack.drain()

        assert stack.firehose.stats.aggregates_split == len(groups)
        assert stack.firehose.stats.ok == len(rows)
        lake_ids = parquet_ids(stack)
        assert len(lake_ids) == len(set(lake_ids)) == len(rows)
        assert set(lake_ids) == expected
        assert dynamodb_line_ids(stack.settings.invoice_table) == expected
        assert summarised_lines(stack.settings.customer_table) == len(expected)

        # Redelivery: both consumers read the whole stream again from its start.
        items = settings.dynamodb().scan(TableName=stack.settings.invoice_table)["Items"]
        again = EventSourceMapping(
            kinesis_consumer.handler, "consumer", stream, batch_size=stack.batch_size
        )
        firehose = FirehoseDelivery(
            firehose_transform.handler,
            delivery_stream=stack.settings.delivery_stream_name,
            stream_name=stream,
            lake=stack.lake,
        )
        while again.poll() + firehose.poll():
            pass
        firehose.flush()
        redelivered = parquet_ids(stack)
        assert len(redelivered) == 2 * len(rows)  # Firehose delivers twice: at least once
        assert set(redelivered) == expected  # and staging keeps one row per event id
        after = settings.dynamodb().scan(TableName=stack.settings.invoice_table)["Items"]
        assert sorted(map(json.dumps, after)) == sorted(map(json.dumps, items))


def parquet_ids(stack: LocalStack) -> list[str]:
    return [
        i
        for key in stack.lake.files_under(TRANSFORMED_ZONE)
        for i in pq.read_table(io.BytesIO(stack.lake.read_bytes(key)))["event_id"].to_pylist()
    ]
