"""Firehose's failure paths (issue 10, defect 3): a failed side write or invocation never
sends valid lines to the error prefix for good, both event envelopes are read, and
`reingest-errors` lands or quarantines what the error prefix holds, exactly once."""

from __future__ import annotations

import base64
import io
import json
import uuid
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest
from support import parse_csv_lines

from ingestion.lake import QUARANTINE_ZONE, TRANSFORMED_ZONE, Lake
from ingestion.stream import settings
from ingestion.stream.handlers import firehose_transform
from ingestion.stream.output import ERROR_ZONE
from ingestion.stream.records import StreamRecord
from ingestion.stream.reingest import pending_objects, reingest_errors
from local_stack.csv_bodies import send_lines
from local_stack.events import KinesisRecordIn, context, firehose_event
from local_stack.firehose import Buffering
from local_stack.fixtures import put_direct
from local_stack.hops import count_hops
from local_stack.stack import LocalStack

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


class QuarantineWriteFails(Lake):
    """The lake with S3 answering 500 to the transformation's every PUT into the quarantine
    zone, as pyarrow's S3 filesystem reports it once its own retries are spent."""

    def write_bytes(self, relative: str, data: bytes) -> None:
        if relative.startswith(f"{QUARANTINE_ZONE}/stream-firehose-"):
            raise OSError(
                "When uploading part for key 'quarantine/...': AWS Error INTERNAL_FAILURE "
                "during UploadPart operation: We encountered an internal error."
            )
        super().write_bytes(relative, data)


def parquet_tables(lake: Lake, zone: str) -> dict[str, object]:
    return {
        key: pq.read_table(io.BytesIO(lake.read_bytes(key)))
        for key in lake.files_under(zone)
        if key.endswith(".parquet")
    }


def envelope_records(rows, tag: str) -> list[KinesisRecordIn]:
    """Records as POST /invoices puts them on the stream, event ids `<tag>:<index>`."""
    return [
        KinesisRecordIn(
            data=StreamRecord(
                f"{tag}:{i}", "raw/test.csv", i + 2, "2011-12-09T12:00:00.000000Z", row
            ).encode(),
            partition_key=row["InvoiceNo"],
            sequence_number=str(1000 + i),
            arrived_at=datetime(2011, 12, 9, 12, tzinfo=UTC),
            shard_id="shardId-000000000000",
        )
        for i, row in enumerate(rows)
    ]


def test_a_failed_quarantine_write_fails_only_the_rejects(stream_env, slice_lines, monkeypatch):
    rows = parse_csv_lines([HEADER, *slice_lines[1:51]])
    rows[7]["UnitPrice"] = "1.2345"  # fails the contract
    records = envelope_records(rows, "qf")
    event = firehose_event(
        [(f"r{i}", r) for i, r in enumerate(records)], "delivery", stream_env.stream_name
    )
    not_a_line = {**event["records"][0], "recordId": "hello", "data": "SGVsbG8gV29ybGQ="}
    event["records"].append(not_a_line)
    with monkeypatch.context() as patched:
        patched.setattr(settings, "lake", lambda: QuarantineWriteFails(stream_env.lake_root))
        response = firehose_transform.handler(event, context("transform"))  # does not raise

    answers = {a["recordId"]: a for a in response["records"]}
    assert list(answers) == [r["recordId"] for r in event["records"]]
    failed = {i for i, a in answers.items() if a["result"] == "ProcessingFailed"}
    assert failed == {"r7", "hello"}
    ok = [a for a in answers.values() if a["result"] == "Ok"]
    assert len(ok) == len(rows) - 1
    # what Firehose keeps in the error prefix is the record as it came
    sent = {r["recordId"]: r["data"] for r in event["records"]}
    assert all(answers[i]["data"] == sent[i] for i in failed)
    landed_ids = {json.loads(base64.b64decode(a["data"]))["event_id"] for a in ok}
    assert landed_ids == {f"qf:{i}" for i in range(len(rows)) if i != 7}


def test_an_event_without_delivery_stream_arn_or_record_metadata(stream_env, slice_lines):
    # The shape of AWS SAM CLI's Firehose sample events (`sam local generate-event`):
    # no deliveryStreamArn, no sourceKinesisStreamArn, no kinesisRecordMetadata.
    rows = parse_csv_lines([HEADER, *slice_lines[1:4]])
    event = {
        "invocationId": "invocationIdExample",
        "region": "us-east-1",
        "records": [
            {
                "recordId": f"4954698668313554428650745793632162567570019247115678515{i}",
                "approximateArrivalTimestamp": 1495072949453,
                "data": base64.b64encode(json.dumps(row).encode()).decode(),
            }
            for i, row in enumerate(rows)
        ],
    }
    response = firehose_transform.handler(event, context("transform"))
    assert [a["result"] for a in response["records"]] == ["Ok"] * len(rows)
    ids = [json.loads(base64.b64decode(a["data"]))["event_id"] for a in response["records"]]
    assert ids == [
        f"stream:{stream_env.delivery_stream_name}:direct-put:{r['recordId']}"
        for r in event["records"]
    ]


def test_a_direct_put_envelope(stream_env, slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1:6]])
    event = {
        "invocationId": str(uuid.uuid4()),
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/direct",
        "region": "us-east-1",
        "records": [
            {
                "recordId": f"direct-{i}",
                "approximateArrivalTimestamp": 1323435000000,
                "data": base64.b64encode(json.dumps(row).encode()).decode(),
            }
            for i, row in enumerate(rows)
        ],
    }
    response = firehose_transform.handler(event, context("transform"))
    lines = [json.loads(base64.b64decode(a["data"])) for a in response["records"]]
    assert [a["result"] for a in response["records"]] == ["Ok"] * len(rows)
    assert [line["event_id"] for line in lines] == [
        f"stream:direct:direct-put:direct-{i}" for i in range(len(rows))
    ]
    assert [line["invoice_no"] for line in lines] == [r["InvoiceNo"] for r in rows]
    assert [line["source_file"] for line in lines] == ["stream:direct"] * len(rows)


def _distinct(tables, column="event_id") -> tuple[int, set[str]]:
    ids = [i for t in tables.values() for i in t[column].to_pylist()]
    return len(ids), set(ids)


def test_s3_5xx_on_the_quarantine_write_loses_nothing_after_reingest(
    moto_endpoint, aws_env, dataset_lines, monkeypatch
):
    lines = dataset_lines[1:301]
    bare = [json.dumps(row).encode() for row in parse_csv_lines([HEADER, *dataset_lines[301:311]])]
    bad_row = {**parse_csv_lines([HEADER, dataset_lines[311]])[0], "UnitPrice": "2.5555"}
    junk = [b'{"hello": "world"}', b"\xff\xfe\xfd", json.dumps(bad_row).encode(), b"[1, 2]"]
    with LocalStack(moto_endpoint, name=f"qf{uuid.uuid4().hex[:8]}") as stack:
        failing = QuarantineWriteFails(stack.settings.lake_root)
        with monkeypatch.context() as patched:
            patched.setattr(settings, "lake", lambda: failing)
            ids = [f"raw/online_retail/x.csv:{i + 2}" for i in range(len(lines))]
            tally = send_lines(stack, dataset_lines[0], lines, ids, per_request=100)
            put_direct(stack, bare + junk)
            stack.drain()

        assert tally.accepted == len(lines)
        assert stack.firehose.stats.ok == len(lines) + len(bare)  # valid lines all Ok
        assert stack.firehose.stats.processing_failed == len(junk)
        assert parquet_tables(stack.lake, QUARANTINE_ZONE) == {}  # every write failed
        (error_object,) = pending_objects(stack.lake)
        assert "/processing-failed/" in error_object

        report = reingest_errors(stack.lake, stack.settings.stream_name)
        assert (report.records_in, report.landed, report.quarantined) == (len(junk), 0, 4)
        hops = count_hops(stack, tally)
        assert hops.reconciles() == []
        transformed = parquet_tables(stack.lake, TRANSFORMED_ZONE)
        rows, landed_ids = _distinct(transformed)
        assert rows == len(landed_ids) == len(lines) + len(bare)  # none lost, none doubled
        _, quarantined_ids = _distinct(parquet_tables(stack.lake, QUARANTINE_ZONE))
        assert len(quarantined_ids) == len(junk)
        assert hops.in_kinesis == len(lines) + len(bare) + len(junk)

        before = sorted(stack.lake.files_under(""))
        again = reingest_errors(stack.lake, stack.settings.stream_name)
        assert (again.records_in, again.landed, again.quarantined) == (0, 0, 0)
        assert sorted(stack.lake.files_under("")) == before


def test_a_failing_invocation_is_retried_then_its_batch_reingested(
    moto_endpoint, aws_env, dataset_lines
):
    lines = dataset_lines[1:401]
    # ~20 KB invocations: about a dozen; the second fails on every attempt
    with LocalStack(
        moto_endpoint,
        name=f"fi{uuid.uuid4().hex[:8]}",
        processor_buffer=Buffering(20_000, 60),
    ) as stack:
        handler, calls = stack.firehose.transform, []

        def flaky(event, ctx):
            calls.append(len(event["records"]))
            if 2 <= len(calls) <= 5:
                raise TimeoutError("Task timed out after 60.00 seconds")
            return handler(event, ctx)

        stack.firehose.transform = flaky
        ids = [f"raw/online_retail/x.csv:{i + 2}" for i in range(len(lines))]
        tally = send_lines(stack, dataset_lines[0], lines, ids, per_request=100)
        stack.drain()

        assert calls[1:5] == [calls[1]] * 4  # the same batch, 1 + 3 retries
        assert stack.firehose.stats.failed_invocations == 1
        (error_object,) = pending_objects(stack.lake)
        documents = stack.lake.read_bytes(error_object).decode().splitlines()
        assert len(documents) == calls[1]
        first = json.loads(documents[0])
        assert first["attemptsMade"] == 4 and first["errorCode"] == "Lambda.FunctionError"
        assert set(first) >= {"arrivalTimestamp", "attemptEndingTimestamp", "lambdaArn"}

        report = reingest_errors(stack.lake, stack.settings.stream_name)
        assert (report.records_in, report.landed, report.quarantined) == (calls[1], calls[1], 0)
        hops = count_hops(stack, tally)
        assert hops.reconciles() == []
        rows, landed_ids = _distinct(parquet_tables(stack.lake, TRANSFORMED_ZONE))
        assert rows == len(landed_ids) == len(set(ids))
        assert landed_ids == set(ids)


def test_reingest_of_format_conversion_errors_is_idempotent(tmp_path, slice_lines):
    from ingestion.stream.output import cleaned_json_lines
    from ingestion.stream.records import clean_records

    rows = parse_csv_lines([HEADER, *slice_lines[1:4]])
    records = [
        StreamRecord(f"fc:{i}", "raw/t.csv", i + 2, "2011-12-09T12:00:00.000000Z", row)
        for i, row in enumerate(rows)
    ]
    *good, last = cleaned_json_lines(clean_records(records).landed)
    broken = json.dumps({**json.loads(last), "quantity": "a dozen"}).encode()
    documents = [
        {
            "attemptsMade": 1,
            "arrivalTimestamp": 1323435000000,
            "ErrorCode": "DataFormatConversion.MalformedData",
            "ErrorMessage": "The schema is invalid.",
            "attemptEndingTimestamp": 1323435001000,
            "rawData": base64.b64encode(line).decode(),
            "sequenceNumber": "4954",
            "subSequenceNumber": 0,
            "dataCatalogTable": {"databaseName": "online_retail", "tableName": "invoice_lines"},
        }
        for line in [*good, broken]
    ]
    lake = Lake(str(tmp_path / "lake"))
    key = f"{ERROR_ZONE}/format-conversion-failed/2011/12/09/12/s-1-2011-12-09-12-00-00-x"
    lake.write_bytes(key, "".join(json.dumps(d) + "\n" for d in documents).encode())

    report = reingest_errors(lake, "lines")
    assert (report.records_in, report.landed, report.quarantined) == (3, 2, 1)
    landed = parquet_tables(lake, TRANSFORMED_ZONE)
    assert sorted(i for t in landed.values() for i in t["event_id"].to_pylist()) == ["fc:0", "fc:1"]
    (quarantined,) = parquet_tables(lake, QUARANTINE_ZONE).values()
    assert quarantined["event_id"].to_pylist() == ["fc:2"]
    assert "The schema is invalid." in quarantined["reason"][0].as_py()
    assert lake.files_under(f"{ERROR_ZONE}/reingested") == [
        key.replace(ERROR_ZONE, f"{ERROR_ZONE}/reingested")
    ]
    before = {k: lake.read_bytes(k) for k in lake.files_under("")}
    again = reingest_errors(lake, "lines")
    assert (again.records_in, again.landed, again.quarantined) == (0, 0, 0)
    assert {k: lake.read_bytes(k) for k in lake.files_under("")} == before


def test_an_error_object_that_is_not_firehose_s_names_the_document(tmp_path):
    from ingestion.errors import OnlineRetailError

    lake = Lake(str(tmp_path / "lake"))
    key = f"{ERROR_ZONE}/processing-failed/x"
    lake.write_bytes(key, b'{"rawData": "aGk="}\n{"errorCode": "x"}\n')
    with pytest.raises(OnlineRetailError, match="document 2 is not a Firehose error record"):
        reingest_errors(lake, "lines")
    assert pending_objects(lake) == [key]  # left where it was
