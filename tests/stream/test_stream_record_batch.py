"""The handlers' batch-at-once work gives what the record-by-record code gives: each
record read as `decode_record` reads it, line items as boto3's TypeSerializer writes
them, JSON lines as `json.dumps` writes them, answers as Powertools builds them."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime

import pytest
from aws_lambda_powertools.utilities.data_classes import (
    KinesisFirehoseDataTransformationRecord,
    KinesisFirehoseDataTransformationRecordMetadata,
    KinesisFirehoseEvent,
)
from support import parse_csv_lines

from ingestion.contract.schema import SOURCE_COLUMNS
from ingestion.stream.handlers.firehose_transform import answer, transform
from ingestion.stream.items import _text_columns, _typed, line_item, line_writes
from ingestion.stream.output import cleaned_json_lines
from ingestion.stream.record_batch import decode_batch
from ingestion.stream.records import RecordOrigin, StreamRecord, clean_records, decode_record
from ingestion.stream.request_bodies import LineRejected
from local_stack.events import KinesisRecordIn, firehose_event

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
AT = datetime(2011, 12, 9, 12, tzinfo=UTC)


def origin(i: int) -> RecordOrigin:
    return RecordOrigin("s", "shardId-000000000001", str(1000 + i), AT)


def envelopes(rows: list[dict[str, str]]) -> list[bytes]:
    return [
        StreamRecord(f"t:{i}", "raw/t.csv", i + 2, "2011-12-09T12:00:00.000000Z", row).encode()
        for i, row in enumerate(rows)
    ]


def one_by_one(payloads: list[bytes]) -> tuple[list[StreamRecord], list[tuple[int, str]]]:
    records, errors = [], []
    for i, data in enumerate(payloads):
        try:
            records.append(decode_record(data, origin(i)))
        except LineRejected as e:
            errors.append((i, e.error.reason))
    return records, errors


def assert_read_as_one_by_one(payloads: list[bytes]) -> None:
    batch = decode_batch(payloads, origin)
    records, errors = one_by_one(payloads)
    assert [(i, e.reason) for i, e in batch.errors] == errors
    assert len(batch.positions) == len(records) == batch.raw.num_rows
    expected = clean_records(records)
    got = clean_records(
        [
            StreamRecord(e, f, n, t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), v)
            for e, f, n, t, v in zip(
                batch.lineage.event_ids.to_pylist(),
                batch.lineage.source_files.to_pylist(),
                batch.lineage.line_numbers.to_pylist(),
                batch.lineage.ingested_at.to_pylist(),
                batch.raw.to_pylist(),
                strict=True,
            )
        ]
    )
    assert got.landed.equals(expected.landed) and got.quarantined.equals(expected.quarantined)


def test_a_batch_of_envelopes_is_read_at_once_as_record_by_record(slice_lines):
    payloads = envelopes(parse_csv_lines([HEADER, *slice_lines[1:501]]))
    assert_read_as_one_by_one(payloads)


@pytest.mark.parametrize(
    "odd",
    [
        b'{"InvoiceNo": "536365", "Quantity": 6, "UnitPrice": 2.55, "Country": "UK"}',
        b'{"event_id": "x", "line": {"InvoiceNo": "1"}}',  # a broken envelope
        b'{"event_id": null, "source_file": "f", "source_line_number": 2, '
        b'"ingested_at": "2011-12-09T12:00:00Z", "line": {"InvoiceNo": "536365"}}',
        b'{"event_id": "x", "source_file": "f", "source_line_number": 2, '
        b'"ingested_at": "2011-12-09T12:00:00Z", "line": {"Quantity": 6}}',  # a number
        b'{"event_id": "a", "event_id": "b", "source_file": "f", "source_line_number": 2, '
        b'"ingested_at": "2011-12-09T12:00:00Z", "line": {"InvoiceNo": "536365"}}',
        b'{"event_id": "x", "source_file": "f",\n"source_line_number": 2, '
        b'"ingested_at": "2011-12-09T12:00:00Z", "line": {"InvoiceNo": "536365"}}',
        b"\xef\xbb\xbf" + b'{"InvoiceNo": "536365"}',  # json.loads refuses a BOM
        b"\xff\xfe",
        b"",
        b"   ",
        b"[1, 2]",
        b'{"a": 1} {"b": 2}',
        b"Hello, this is a test.",
        b'{"hello": "world"}',
        b'{"InvoiceNo": "5\\u00e9\\"\\\\", "Description": "tab\\there"}',
    ],
)
def test_records_arrow_refuses_or_reads_otherwise_are_read_one_by_one(slice_lines, odd):
    payloads = envelopes(parse_csv_lines([HEADER, *slice_lines[1:6]]))
    for at in (0, 2, 5):
        assert_read_as_one_by_one([*payloads[:at], odd, *payloads[at:]])
    assert_read_as_one_by_one([odd])


def test_line_items_are_those_of_boto3s_serializer(slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1:3001]])
    rows[3].update(Description="x" * 450_000)  # cut to fit, as before
    rows[4].update(Description="é" * 5_000, CustomerID="")
    rows[5].update(Description="")
    records = [
        StreamRecord(f"t:{i}", "raw/t.csv", i + 2, "2011-12-09T12:00:00.000000Z", row)
        for i, row in enumerate(rows)
    ]
    cleaned = clean_records(records)
    writes = line_writes(cleaned.landed, cleaned.landed_positions)
    text = {name: column.to_pylist() for name, column in _text_columns(cleaned.landed).items()}
    expected = [
        line_item(_typed({name: values[row] for name, values in text.items()}))
        for row in range(cleaned.landed.num_rows)
    ]
    assert [w.item for w in writes] == expected
    assert [list(w.item) for w in writes] == [list(e) for e in expected]  # attribute order
    assert [w.position for w in writes] == cleaned.landed_positions
    assert "Truncated" in writes[3].item and "Description" not in writes[5].item


def test_json_lines_are_those_of_json_dumps(slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1:301]])
    for i, text in enumerate(['a "quote"', "back\\slash", "tab\tnew\nline", "\x01", "£ é 中"]):
        rows[10 + i]["Description"] = text
    rows[20]["CustomerID"] = ""
    for rows_ in (rows[:10], rows):  # without text to escape, and with
        landed = clean_records(
            [StreamRecord(f"t:{i}", "raw/t.csv", i + 2, "2011-12-09T12:00:00.123456Z", row)
             for i, row in enumerate(rows_)]
        ).landed  # fmt: skip
        expected = []
        for row in landed.to_pylist():
            for name in ("ingested_at", "invoiced_at"):
                row[name] = row[name].strftime("%Y-%m-%d %H:%M:%S.%f")
            row["unit_price"] = str(row["unit_price"])
            expected.append((json.dumps(row, ensure_ascii=False) + "\n").encode())
        assert cleaned_json_lines(landed) == expected


@pytest.mark.parametrize("result", ["Ok", "Dropped", "ProcessingFailed"])
def test_firehose_answers_are_those_of_powertools(result):
    data = base64.b64encode(b'{"a": 1}\n')
    keys = {"year": "2011", "month": "12"} if result == "Ok" else None
    powertools = KinesisFirehoseDataTransformationRecord(
        record_id="r1",
        result=result,
        data=data.decode(),
        metadata=KinesisFirehoseDataTransformationRecordMetadata(partition_keys=keys)
        if keys
        else None,
    ).asdict()
    assert answer("r1", result, data, keys) == powertools
    assert answer("r1", result, data.decode(), keys) == powertools


def test_a_records_own_origin_is_asked_only_when_it_is_read_one_by_one(slice_lines):
    payloads = envelopes(parse_csv_lines([HEADER, *slice_lines[1:11]]))
    asked: list[int] = []

    def tracking(i: int) -> RecordOrigin:
        asked.append(i)
        return dataclasses.replace(origin(i))

    decode_batch(payloads, tracking)
    assert asked == []
    decode_batch([*payloads[:3], b'{"InvoiceNo": "536365"}', *payloads[3:]], tracking)
    assert asked == [3]
    assert {c for c in SOURCE_COLUMNS} == set(decode_batch(payloads, origin).raw.column_names)


def test_the_transformations_ok_answers_are_those_of_powertools(slice_lines):
    rows = parse_csv_lines([HEADER, *slice_lines[1:21]])
    rows[4]["Quantity"] = "six"  # a reject among them: answers placed by recordId
    records = [
        KinesisRecordIn(data, row["InvoiceNo"], str(1000 + i), AT, "shardId-000000000000")
        for i, (row, data) in enumerate(zip(rows, envelopes(rows), strict=True))
    ]
    event = firehose_event([(f"r{i}", r) for i, r in enumerate(records)], "d", "s")
    body, ok, failed = transform(KinesisFirehoseEvent(event), None)
    assert (ok, failed) == (19, 1)
    assert [a["recordId"] for a in body["records"]] == [f"r{i}" for i in range(20)]
    for got in body["records"]:
        keys = got.get("metadata", {}).get("partitionKeys")
        metadata = KinesisFirehoseDataTransformationRecordMetadata(partition_keys=keys)
        expected = KinesisFirehoseDataTransformationRecord(
            record_id=got["recordId"],
            result=got["result"],
            data=got["data"],
            metadata=metadata if keys else None,
        ).asdict()
        assert got == expected and (keys is not None) == (got["result"] == "Ok")
