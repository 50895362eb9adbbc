"""Kinesis -> DynamoDB: the customer and invoice tables, written idempotently.

The event source mapping is set up with ReportBatchItemFailures (and bisect-on-error,
a retry limit and an on-failure destination). A record that is not a valid line is
not a failure to retry, since no retry would fix it: it is logged and counted here
and quarantined by the Firehose path, which reads the same stream. Only a DynamoDB
write that fails is reported in `batchItemFailures`, so that record is retried
without blocking the shard, and the records before it are not replayed.

Round trips dominate the cost, so the whole batch is decoded and cleaned at once, its
lines are grouped by item, and the items are read and written in batches
(BatchGetItem, BatchWriteItem: a few calls per batch rather than two per line);
Powertools' BatchProcessor then reports each record by the outcome of its items.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamEvent,
    KinesisStreamRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from ingestion.stream import aws
from ingestion.stream.items import CUSTOMER_KEY, INVOICE_KEY, ItemWrite, item_writes
from ingestion.stream.records import (
    LineRejected,
    RecordOrigin,
    StreamRecord,
    clean_records,
    decode_record,
)

logger = Logger(service="online-retail-kinesis-consumer")
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "OnlineRetail"),
    service="online-retail-kinesis-consumer",
)
processor = BatchProcessor(
    event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False
)


class ItemReadFailed(RuntimeError):
    """DynamoDB kept some keys of a batch read unprocessed: the whole batch is retried."""


class ItemWriteFailed(RuntimeError):
    """A DynamoDB write of a line failed; the line's record is retried."""

    def __init__(
        self, sequence_number: str, event_id: str, table: str, key: dict[str, str], error: str
    ):
        super().__init__(
            f"record {sequence_number} (event {event_id}): {table} item {key}: {error}"
        )
        self.sequence_number, self.event_id, self.table, self.key = (
            sequence_number,
            event_id,
            table,
            key,
        )


@dataclass
class BatchOutcome:
    stored: int = 0  # lines written to both tables
    rejected: int = 0  # records that are not valid lines (quarantined on the Firehose path)
    requests: int = 0
    failures: dict[str, ItemWriteFailed] = field(default_factory=dict)  # by sequence number


def stream_name_of(event_source_arn: str) -> str:
    return event_source_arn.rsplit("/", 1)[-1]


def write_batch(
    records: list[KinesisStreamRecord], settings: aws.Settings, dynamodb: Any
) -> BatchOutcome:
    outcome = BatchOutcome()
    decoded: list[StreamRecord] = []
    sequence_numbers: list[str] = []
    for record in records:
        origin = RecordOrigin(
            stream_name=stream_name_of(record.event_source_arn),
            shard_id=record.event_id.rsplit(":", 1)[0],  # eventID is shardId:sequenceNumber
            sequence_number=record.kinesis.sequence_number,
            arrived_at=datetime.fromtimestamp(record.kinesis.approximate_arrival_timestamp, tz=UTC),
        )
        try:
            decoded.append(decode_record(record.kinesis.data_as_bytes(), origin))
            sequence_numbers.append(record.kinesis.sequence_number)
        except LineRejected as e:
            outcome.rejected += 1
            logger.info(
                "not an invoice line",
                extra={"sequence_number": origin.sequence_number, "reason": str(e)},
            )

    cleaned = clean_records(decoded)
    for position, reason in zip(
        cleaned.quarantined_positions, cleaned.quarantined["reason"].to_pylist(), strict=True
    ):
        outcome.rejected += 1
        logger.info(
            "line fails the contract",
            extra={"event_id": decoded[position].event_id, "reason": reason},
        )

    tables = {"customer": settings.customer_table, "invoice": settings.invoice_table}
    writes = item_writes(cleaned.landed, cleaned.landed_positions)
    errors = store(writes, tables, dynamodb, outcome)
    failed_positions: dict[int, ItemWriteFailed] = {}
    for write, error in errors:
        for position in sorted(write.positions):
            failed_positions.setdefault(
                position,
                ItemWriteFailed(
                    sequence_numbers[position],
                    decoded[position].event_id,
                    write.table,
                    write.key,
                    error,
                ),
            )
    outcome.stored = len(cleaned.landed_positions) - len(failed_positions)
    outcome.failures = {f.sequence_number: f for f in failed_positions.values()}
    return outcome


def store(
    writes: list[ItemWrite], tables: dict[str, str], dynamodb: Any, outcome: BatchOutcome
) -> list[tuple[ItemWrite, str]]:
    """Read the items, add the lines, write back what changed; the writes that failed.

    Read-modify-write is safe here because every item is keyed by an invoice number
    and records are partitioned by invoice number: one shard, processed in order by one
    invocation at a time, is the only writer of an item.
    """
    existing = _batch_get(writes, tables, dynamodb, outcome)
    changed = []
    for write in writes:
        item = write.merged(existing.get((write.table, _key(write.key_item()))))
        if item is not None:
            changed.append((write, item))
    failed: list[tuple[ItemWrite, str]] = []
    for start in range(0, len(changed), BATCH_WRITE_MAX):
        failed += _batch_put(changed[start : start + BATCH_WRITE_MAX], tables, dynamodb, outcome)
    return failed


BATCH_GET_MAX, BATCH_WRITE_MAX, ATTEMPTS = 100, 25, 5


def _key(key_item: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v["S"]) for k, v in key_item.items()))


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.05 * 2**attempt))


def _batch_get(
    writes: list[ItemWrite], tables: dict[str, str], dynamodb: Any, outcome: BatchOutcome
) -> dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]]:
    table_of = {name: table for table, name in tables.items()}
    found: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
    for start in range(0, len(writes), BATCH_GET_MAX):
        request: dict[str, Any] = {}
        for write in writes[start : start + BATCH_GET_MAX]:
            keys = request.setdefault(tables[write.table], {"Keys": [], "ConsistentRead": True})
            keys["Keys"].append(write.key_item())
        for attempt in range(ATTEMPTS):
            if not request:
                break
            if attempt:
                _backoff(attempt)
            outcome.requests += 1
            response = dynamodb.batch_get_item(RequestItems=request)
            for name, items in response.get("Responses", {}).items():
                table = table_of[name]
                key_names = CUSTOMER_KEY if table == "customer" else INVOICE_KEY
                for item in items:
                    found[(table, _key({k: item[k] for k in key_names}))] = item
            request = response.get("UnprocessedKeys") or {}
        else:
            if request:
                raise ItemReadFailed(f"BatchGetItem left keys unprocessed after {ATTEMPTS} tries")
    return found


def _batch_put(
    changed: list[tuple[ItemWrite, dict[str, Any]]],
    tables: dict[str, str],
    dynamodb: Any,
    outcome: BatchOutcome,
) -> list[tuple[ItemWrite, str]]:
    by_key = {(tables[w.table], _key(w.key_item())): w for w, _ in changed}
    request: dict[str, list[dict[str, Any]]] = {}
    for write, item in changed:
        request.setdefault(tables[write.table], []).append({"PutRequest": {"Item": item}})
    for attempt in range(ATTEMPTS):
        if attempt:
            _backoff(attempt)
        outcome.requests += 1
        try:
            response = dynamodb.batch_write_item(RequestItems=request)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ValidationException":
                raise
            # One bad item (e.g. over 400 KB) fails the whole call: isolate it.
            return _put_one_by_one(changed, tables, dynamodb, outcome)
        request = response.get("UnprocessedItems") or {}
        if not request:
            return []
    key_names = {tables["customer"]: CUSTOMER_KEY, tables["invoice"]: INVOICE_KEY}
    return [
        (
            by_key[(name, _key({k: r["PutRequest"]["Item"][k] for k in key_names[name]}))],
            "unprocessed",
        )
        for name, requests in request.items()
        for r in requests
    ]


def _put_one_by_one(
    changed: list[tuple[ItemWrite, dict[str, Any]]],
    tables: dict[str, str],
    dynamodb: Any,
    outcome: BatchOutcome,
) -> list[tuple[ItemWrite, str]]:
    failed = []
    for write, item in changed:
        outcome.requests += 1
        try:
            dynamodb.put_item(TableName=tables[write.table], Item=item)
        except ClientError as e:
            error = e.response.get("Error", {})
            logger.error("DynamoDB write failed", extra={"table": write.table, "key": write.key})
            failed.append((write, f"{error.get('Code')}: {error.get('Message')}"))
    return failed


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = list(KinesisStreamEvent(event).records)
    outcome = write_batch(batch, aws.settings(), aws.dynamodb())
    metrics.add_metric(name="LinesStored", unit=MetricUnit.Count, value=outcome.stored)
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=outcome.rejected)
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=len(outcome.failures))
    if not batch:
        # The service never invokes with no records, but Powertools rejects such an
        # event as being of no known type; an empty batch has nothing to report.
        return {"batchItemFailures": []}

    def record_handler(record: KinesisStreamRecord) -> None:
        failure = outcome.failures.get(record.kinesis.sequence_number)
        if failure is not None:
            raise failure

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
