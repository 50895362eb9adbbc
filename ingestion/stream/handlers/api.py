"""POST /invoices: the stream path's front door (API Gateway REST proxy or HTTP API).

The body is one line as a JSON object, a JSON array of them, or CSV with a header.
Every line is judged by the shared cleaning rules before anything is sent: valid lines
go to Kinesis (PutRecords, partition key = invoice number), rejected lines go to the
quarantine zone as Parquet, and the request itself is kept as received in the raw zone.

    202  some lines accepted: counts and the errors of the rejected lines
    400  nothing valid (each error names its line and field) or an unreadable body
    413  over MAX_REQUEST_BYTES
    503  Kinesis kept refusing some valid lines: retry with the same Idempotency-Key

Handlers: `rest_handler` (REST API, payload v1) and `http_handler` (HTTP API, v2).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    Response,
)
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingestion.cleaning import Lineage, clean_batch, quarantine_table, raw_table
from ingestion.lake import Lake
from ingestion.stream import aws
from ingestion.stream.output import write_parquet
from ingestion.stream.producer import Entry, put_records
from ingestion.stream.records import (
    KINESIS_MAX_RECORD_BYTES,
    LINE_FIELD,
    LineError,
    ParsedRequest,
    PayloadTooLarge,
    RequestError,
    body_format,
    decode_body,
    parse_body,
    quarantine_key,
    raw_key,
    request_key,
    stream_records,
)

logger = Logger(service="online-retail-api")
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "OnlineRetail"),
    service="online-retail-api",
)
rest_app = APIGatewayRestResolver()
http_app = APIGatewayHttpResolver()

MAX_ERRORS_LISTED = 1000  # keeps a 202 for a huge, mostly bad body under Lambda's 6 MB


@dataclass
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)

    def response(self) -> Response:
        return Response(self.status, "application/json", json.dumps(self.body))


@dataclass(frozen=True)
class Received:
    """A POST /invoices request reduced to plain values."""

    body: bytes
    content_type: str | None
    request_id: str
    idempotency_key: str | None
    received_at: datetime


def accept(request: Received, settings: aws.Settings, lake: Lake, kinesis: Any) -> Answer:
    """Judge every line, keep the request, quarantine the rejects, send the rest."""
    if len(request.body) > settings.max_request_bytes:
        raise PayloadTooLarge(
            f"body is {len(request.body):,} bytes; the limit is {settings.max_request_bytes:,}"
        )
    key = request_key(request.request_id, request.idempotency_key)
    text = decode_body(request.body, request.content_type)
    fmt = body_format(text, request.content_type)
    parsed = parse_body(text, fmt)
    source_file = raw_key(key, request.received_at, fmt)
    lake.write_bytes(source_file, request.body)

    records = stream_records(parsed.lines, source_file, key, request.received_at)
    result = clean_batch(
        raw_table(line.values for line in parsed.lines),
        pa.array([line.line_number for line in parsed.lines], pa.int64()),
        Lineage(source_file=source_file, ingested_at=request.received_at),
        event_ids=pa.array([r.event_id for r in records], pa.string()),
    )
    passed = set(result.landed["source_line_number"].to_pylist())
    entries: list[Entry] = []
    oversize: list[LineError] = []
    for line, record in zip(parsed.lines, records, strict=True):
        if line.line_number not in passed:
            continue
        entry = Entry(record.encode(), record.partition_key)
        if entry.size > KINESIS_MAX_RECORD_BYTES:
            reason = f"is {entry.size:,} bytes as a stream record; Kinesis takes at most 1 MiB"
            oversize.append(LineError(line.line_number, LINE_FIELD, reason, record.event_id))
            continue
        entries.append(entry)

    errors = _quarantine(parsed, result.quarantined, oversize, key, source_file, request, lake)
    outcome = put_records(
        kinesis,
        settings.stream_name,
        entries,
        max_attempts=settings.put_records_max_attempts,
        base_delay=settings.put_records_base_delay,
    )
    metrics.add_metric(name="LinesReceived", unit=MetricUnit.Count, value=parsed.received)
    metrics.add_metric(name="LinesAccepted", unit=MetricUnit.Count, value=outcome.sent)
    metrics.add_metric(name="LinesRejected", unit=MetricUnit.Count, value=len(errors))
    metrics.add_metric(
        name="PutRecordsRetried", unit=MetricUnit.Count, value=outcome.retried_records
    )
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
        logger.error("Kinesis refused lines after retries", extra={"unsent": len(outcome.unsent)})
        body["unsent"] = len(outcome.unsent)
        body["message"] = (
            f"Kinesis refused {len(outcome.unsent)} valid lines after retries; send the "
            "request again with the same Idempotency-Key (lines already sent collapse)"
        )
        return Answer(503, body)
    if not entries:
        body["message"] = "no line of the request is valid"
        return Answer(400, body)
    return Answer(202, body)


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


def _received(event: BaseProxyEvent, request_id: str, epoch_ms: int) -> Received:
    body = event.body or ""
    try:
        data = base64.b64decode(body, validate=True) if event.is_base64_encoded else body.encode()
    except (binascii.Error, UnicodeEncodeError) as e:
        raise RequestError(f"body cannot be read as bytes: {e}") from e
    return Received(
        body=data,
        content_type=event.headers.get("content-type"),
        request_id=request_id,
        idempotency_key=event.headers.get("idempotency-key"),
        received_at=datetime.fromtimestamp(epoch_ms / 1000, tz=UTC),
    )


@rest_app.post("/invoices")
def post_invoices_rest() -> Response:
    event = rest_app.current_event
    context = event.request_context
    request = _received(event, context.request_id, context.request_time_epoch)
    return accept(request, aws.settings(), aws.lake(), aws.kinesis()).response()


@http_app.post("/invoices")
def post_invoices_http() -> Response:
    event = http_app.current_event
    context = event.request_context
    request = _received(event, context.request_id, context.time_epoch)
    return accept(request, aws.settings(), aws.lake(), aws.kinesis()).response()


def _error(status: int, error: Exception) -> Response:
    logger.info("request refused", extra={"status": status, "reason": str(error)})
    metrics.add_metric(name=f"Requests{status}", unit=MetricUnit.Count, value=1)
    return Answer(status, {"message": str(error)}).response()


for _app in (rest_app, http_app):

    @_app.exception_handler(PayloadTooLarge)
    def _too_large(error: PayloadTooLarge) -> Response:
        return _error(413, error)

    @_app.exception_handler(RequestError)
    def _bad_request(error: RequestError) -> Response:
        return _error(400, error)


@logger.inject_lambda_context
@metrics.log_metrics
def rest_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return rest_app.resolve(event, context)


@logger.inject_lambda_context
@metrics.log_metrics
def http_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return http_app.resolve(event, context)
