"""Found by the fault suite (issue 10): two identical bare lines in one of Firehose's
`processing-failed` objects must come back as two lines.

A producer other than the API sends bare lines (no id of their own); the dataset has
5,268 exact copies of other lines, and Firehose splits a KPL aggregate into user records
that share its arrival time. When such a batch fails every transformation attempt, its
error object holds the two copies with the same `arrivalTimestamp` and `rawData`, and
nothing else (no sequence number). reingest-errors names a bare line by those two; dbt
keeps one row per event id, so the copies must not share one.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json

import pyarrow.parquet as pq
from support import parse_csv_lines

from ingestion.lake import TRANSFORMED_ZONE, Lake
from ingestion.stream.output import ERROR_ZONE
from ingestion.stream.reingest import reingest_errors

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def document(row: dict[str, str]) -> dict:
    """Firehose's processing-failed record for a user record of a failed batch."""
    return {
        "attemptsMade": 4,
        "arrivalTimestamp": 1323435000000,  # the aggregate's, shared by its user records
        "errorCode": "Lambda.FunctionError",
        "errorMessage": "The Lambda function was successfully invoked but it returned an error",
        "attemptEndingTimestamp": 1323435061000,
        "rawData": base64.b64encode(json.dumps(row).encode()).decode(),
        "lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:transform",
    }


def landed_ids(lake: Lake) -> list[str]:
    return [
        i
        for key in lake.files_under(TRANSFORMED_ZONE)
        for i in pq.read_table(io.BytesIO(lake.read_bytes(key)))["event_id"].to_pylist()
    ]


def test_identical_bare_lines_of_one_error_object_keep_an_id_each(tmp_path, slice_lines):
    first, other = parse_csv_lines([HEADER, *slice_lines[1:3]])
    lake = Lake(str(tmp_path / "lake"))
    key = f"{ERROR_ZONE}/processing-failed/2011/12/09/12/s-1-2011-12-09-12-00-00-x"
    docs = [document(first), document(other), document(first)]  # a copy of the first
    lake.write_bytes(key, "".join(json.dumps(d) + "\n" for d in docs).encode())

    report = reingest_errors(lake, "lines")
    assert (report.records_in, report.landed, report.quarantined) == (3, 3, 0)
    ids = landed_ids(lake)
    assert len(ids) == len(set(ids)) == 3  # each copy a line of its own
    # the first copy keeps the id it always had (arrival ms and a digest of its bytes)
    digest = hashlib.sha256(base64.b64decode(docs[0]["rawData"])).hexdigest()[:16]
    assert f"stream:lines:firehose-error:1323435000000-{digest}" in ids
