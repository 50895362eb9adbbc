"""Request bodies become numbered lines; stream records round-trip; PutRecords chunks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ingestion.stream.producer import Entry, chunks
from ingestion.stream.records import RecordOrigin, StreamRecord, clean_records, decode_record
from ingestion.stream.request_bodies import (
    LineRejected,
    RequestError,
    body_format,
    decode_body,
    parse_body,
    request_key,
)

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
ORIGIN = RecordOrigin(
    "s",
    "shardId-000000000001",
    "49590338271490256608559692538361571095921575989136588898",
    datetime(2011, 12, 9, tzinfo=UTC),
)


def test_csv_lines_are_numbered_as_in_a_file_with_the_header_as_line_1(slice_lines):
    text = "\n".join(slice_lines[:6]) + "\n\n" + slice_lines[6] + "\n"
    parsed = parse_body(text, "csv")
    assert [line.line_number for line in parsed.lines] == [2, 3, 4, 5, 6, 8]
    assert parsed.lines[0].values["InvoiceNo"] == slice_lines[1].split(",")[0]


def test_a_quoted_newline_keeps_its_record_whole_and_later_numbers_follow_the_file():
    text = (
        f'{HEADER}\n536365,85123A,"TWO\nLINES",6,12/1/2010 8:26,2.55,17850,United Kingdom\n'
        "536365,71053,LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom\n"
    )
    parsed = parse_body(text, "csv")
    assert [(line.line_number, line.values["Description"]) for line in parsed.lines] == [
        (2, "TWO\nLINES"),
        (4, "LANTERN"),
    ]


def test_csv_lines_with_the_wrong_number_of_fields_are_malformed_with_their_line():
    parsed = parse_body(f"{HEADER}\n536365,85123A,X,6\n", "csv")
    assert parsed.lines == []
    ((error, raw),) = parsed.malformed
    assert (error.line, error.field) == (2, "(line)")
    assert raw == "536365,85123A,X,6"


def test_a_csv_header_without_the_source_columns_is_a_request_error():
    with pytest.raises(RequestError, match="lacks UnitPrice"):
        parse_body("InvoiceNo,StockCode,Description,Quantity,InvoiceDate\n1,2,3,4,5\n", "csv")


def test_json_object_array_and_client_ids():
    one = parse_body('{"InvoiceNo": 536365, "StockCode": "85123A", "line_id": "a-1"}', "json")
    assert [(line.line_number, line.client_event_id) for line in one.lines] == [(1, "a-1")]
    assert one.lines[0].values["InvoiceNo"] == "536365"
    many = parse_body('[{"InvoiceNo": "1"}, 7, {"event_id": "e"}, {"StockCode": "X"}]', "json")
    assert [line.line_number for line in many.lines] == [1, 4]
    assert [(e.line, e.field) for e, _ in many.malformed] == [(2, "(line)"), (3, "(line)")]


def test_bodies_that_cannot_be_read_are_request_errors_not_crashes():
    with pytest.raises(RequestError, match="not valid JSON"):
        parse_body("[{", "json")
    with pytest.raises(RequestError, match="empty"):
        parse_body("  \n", "csv")
    with pytest.raises(RequestError, match="not utf-8 text: byte b'\\\\xa3' at offset 3"):
        decode_body(b"abc\xa3", "text/csv")
    assert decode_body(b"\xa3", "text/csv; charset=windows-1252") == "£"
    with pytest.raises(RequestError, match="Idempotency-Key"):
        request_key("req", "has spaces")
    assert body_format(" [1]", None) == "json" and body_format("a,b", None) == "csv"


def test_decode_record_reads_the_api_envelope_and_bare_lines_and_rejects_the_rest():
    record = StreamRecord("e-1", "raw/x.csv", 2, "2011-12-09T10:00:00.000000Z", {"InvoiceNo": "C1"})
    assert decode_record(record.encode(), ORIGIN).event_id == "e-1"
    bare = decode_record(json.dumps({"InvoiceNo": "536365"}).encode(), ORIGIN)
    assert bare.event_id == f"stream:s:shardId-000000000001:{ORIGIN.sequence_number}"
    assert (bare.source_file, bare.source_line_number) == ("stream:s", 1)
    for data, reason in [
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "not an object"),
        (b"{not json", "not JSON"),
        (b'{"hello": "world"}', "not an invoice line"),
    ]:
        with pytest.raises(LineRejected, match=reason) as caught:
            decode_record(data, ORIGIN)
        assert caught.value.error.field == "(record)"


def test_clean_records_keeps_each_records_own_lineage(slice_lines):
    records = [
        StreamRecord(
            f"e{i}",
            f"raw/r{i}.csv",
            10 + i,
            f"2011-12-0{i + 1}T00:00:00.000000Z",
            dict(zip(HEADER.split(","), slice_lines[1 + i].split(","), strict=True)),
        )
        for i in range(3)
    ]
    bad = StreamRecord("bad", "raw/b.csv", 99, "2011-12-09T00:00:00.000000Z", {"InvoiceNo": "1"})
    cleaned = clean_records([records[0], bad, records[1], records[2]])
    assert cleaned.landed_positions == [0, 2, 3]
    assert cleaned.landed["source_file"].to_pylist() == ["raw/r0.csv", "raw/r1.csv", "raw/r2.csv"]
    assert cleaned.landed["source_line_number"].to_pylist() == [10, 11, 12]
    assert [t.day for t in cleaned.landed["ingested_at"].to_pylist()] == [1, 2, 3]
    assert cleaned.quarantined_positions == [1]
    assert cleaned.quarantined["source_line_number"].to_pylist() == [99]
    assert cleaned.quarantined["field"].to_pylist() == ["StockCode"]


def test_chunks_respect_500_records_and_5_mib_per_call():
    small = [Entry(b"x" * 100, "k")] * 1201
    assert [len(c) for c in chunks(small)] == [500, 500, 201]
    big = [Entry(b"x" * (1024 * 1024 - 10), "key")] * 11  # just under 1 MiB each
    sizes = [len(c) for c in chunks(big)]
    assert sizes == [5, 5, 1]
    assert all(sum(big[i].size for i in c) <= 5 * 1024 * 1024 for c in chunks(big))
