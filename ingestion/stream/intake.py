"""POST /invoices' work, on plain values: judge every line by the shared cleaning rules,
keep the request as received in the raw zone, quarantine the rejected lines, and send
the valid ones to Kinesis. The API handler only turns API Gateway's event into a
`Received` and the `Answer` into its response.

    202  some lines accepted: counts and the errors of the rejected lines
    400  nothing valid (each error names its line and field) or an unreadable body
    413  over the request limits (bytes, then lines): what the stream takes in time,
         see `producer.request_limits`; bigger files go to POST /uploads
    503  Kinesis kept refusing some valid lines: retry with the same Idempotency-Key

A request with an Idempotency-Key is done once (Powertools' idempotency, in the
handler); its lines' event ids are still named after the key, so that the retry of a
503, which runs again, sends the lines that had gone through under the same ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from ingestion.contract.cleaning import Lineage, clean_batch, quarantine_table, raw_table
from ingestion.lake import Lake
from ingestion.stream.output import quarantine_key, raw_key, write_parquet
from ingestion.stream.producer import (
    KINESIS_MAX_RECORD_BYTES,
    Entry,
    RequestLimits,
    put_records,
)
from ingestion.stream.records import stream_records
from ingestion.stream.request_bodies import (
    LINE_FIELD,
    LineError,
    ParsedRequest,
    PayloadTooLarge,
    body_format,
    decode_body,
    parse_body,
    request_key,
)
from ingestion.stream.settings import Settings

MAX_ERRORS_LISTED = 1000  # keeps a 202 for a huge, mostly bad body under Lambda's 6 MB


@dataclass
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)

    counts: dict[str, int] = field(default_factory=dict)  # metric name -> count


@dataclass(frozen=True)
class Received:
    """A POST /invoices request reduced to plain values."""

    body: bytes
    content_type: str | None
    request_id: str
    idempotency_key: str | None
    received_at: datetime


def check_size(request: Received, config: Settings) -> RequestLimits:
    """Refuse a body over the byte limit before reading it (413); the limits."""
    limits = config.request_limits
    if len(request.body) > limits.bytes:
        raise PayloadTooLarge(
            f"body is {len(request.body):,} bytes; the limit is {limits.describe()}"
        )
    return limits


def accept(request: Received, config: Settings, lake: Lake, kinesis: Any) -> Answer:
    """Judge every line, keep the request, quarantine the rejects, send the rest."""
    limits = check_size(request, config)
    key = request_key(request.request_id, request.idempotency_key)
    text = decode_body(request.body, request.content_type)
    fmt = body_format(text, request.content_type)
    parsed = parse_body(text, fmt)
    if parsed.received > limits.lines:
        raise PayloadTooLarge(
            f"body has {parsed.received:,} lines; the limit is {limits.describe()}"
        )
    source_file = raw_key(key, request.received_at, fmt)
    lake.write_bytes(source_file, request.body)

    records = stream_records(parsed.lines, source_file, key, request.received_at)
    lineage = Lineage.of_file(
        source_file,
        request.received_at,
        [line.line_number for line in parsed.lines],
        event_ids=[r.event_id for r in records],
    )
    result = clean_batch(raw_table(line.values for line in parsed.lines), lineage)
    entries: list[Entry] = []
    oversize: list[LineError] = []
    for position in result.landed_positions:
        line, record = parsed.lines[position], records[position]
        entry = Entry(record.encode(), record.partition_key)
        if entry.size > KINESIS_MAX_RECORD_BYTES:
            reason = f"is {entry.size:,} bytes as a stream record; Kinesis takes at most 1 MiB"
            oversize.append(LineError(line.line_number, LINE_FIELD, reason, record.event_id))
            continue
        entries.append(entry)

    errors = _quarantine(parsed, result.quarantined, oversize, key, source_file, request, lake)
    outcome = put_records(
        kinesis,
        config.stream_name,
        entries,
        max_attempts=config.put_records_max_attempts,
        base_delay=config.put_records_base_delay,
    )
    counts = {
        "LinesReceived": parsed.received,
        "LinesAccepted": outcome.sent,
        "LinesRejected": len(errors),
        "PutRecordsRetried": outcome.retried_records,
    }
    body: dict[str, Any] = {
        "request_id": request.request_id,
        "source_file": source_file,
        "received": parsed.received,
        "accepted": outcome.sent,
        "rejected": len(errors),
        "errors": [e.as_dict() for e in errors[:MAX_ERRORS_LISTED]],
    }
    if len(errors) > MAX_ERRORS_LISTED:
        body["errors_truncated"] = True
    if outcome.unsent:
        body["unsent"] = len(outcome.unsent)
        body["message"] = (
            f"Kinesis refused {len(outcome.unsent)} valid lines after retries; send the "
            "request again with the same Idempotency-Key (lines already sent collapse)"
        )
        return Answer(503, body, counts)
    if not entries:
        body["message"] = "no line of the request is valid"
        return Answer(400, body, counts)
    return Answer(202, body, counts)


def _quarantine(
    parsed: ParsedRequest,
    contract_failures: pa.Table,
    oversize: list[LineError],
    key: str,
    source_file: str,
    request: Received,
    lake: Lake,
) -> list[LineError]:
    """Write every rejected line of the request to the quarantine zone, in one object
    named for the request (a retry with the same Idempotency-Key overwrites it)."""
    texts = {line.line_number: line for line in parsed.lines}
    extra = [(e, raw) for e, raw in parsed.malformed] + [
        (e, json.dumps(texts[e.line].values, ensure_ascii=False)) for e in oversize
    ]
    others = quarantine_table(
        event_ids=[e.event_id or f"{key}:{e.line}" for e, _ in extra],
        source_file=source_file,
        line_numbers=[e.line for e, _ in extra],
        ingested_at=request.received_at,
        fields=[e.field for e, _ in extra],
        reasons=[e.reason for e, _ in extra],
        raw_records=[
            raw if raw.startswith("{") else json.dumps({"line": raw}, ensure_ascii=False)
            for _, raw in extra
        ],
    )
    table = pa.concat_tables([contract_failures, others]).sort_by("source_line_number")
    if table.num_rows:
        write_parquet(lake, quarantine_key("api", key), table)
    return [
        LineError(line, f, reason)
        for line, f, reason in zip(
            table["source_line_number"].to_pylist(),
            table["field"].to_pylist(),
            table["reason"].to_pylist(),
            strict=True,
        )
    ]
