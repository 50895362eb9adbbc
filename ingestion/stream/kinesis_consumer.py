"""Kinesis -> DynamoDB: the customer and invoice tables, written idempotently.

The event source mapping is set up with ReportBatchItemFailures (and bisect-on-error,
a retry limit and an on-failure destination). A record that is not a valid line is
not a failure to retry, since no retry would fix it: it is logged and counted here
and quarantined by the Firehose path, which reads the same stream. Only a DynamoDB
write that fails is reported in `batchItemFailures`, so that record is retried
without blocking the shard, and the records before it are not replayed.

Round trips dominate the cost, so the whole batch is decoded and cleaned at once and
its lines are grouped by item (one UpdateItem per item, not per line); Powertools'
BatchProcessor then reports each record by the outcome of the items it touched.
"""

from __future__ import annotations

import os
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
from ingestion.stream.items import ItemWrite, item_writes
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
            sequence_number=record.kinesis.sequence_number,
            arrived_at=datetime.fromtimestamp(record.kinesis.approximate_arrival_timestamp, tz=UTC),
        )
        try:
            decoded.append(decode_record(record.kinesis.data_as_bytes(), origin))
            sequence_numbers.append(record.kinesis.sequence_number)
        except LineRejected as e:
            outcome.rejected += 1
            logger.warning(
                "not an invoice line",
                extra={"sequence_number": origin.sequence_number, "reason": str(e)},
            )

    cleaned = clean_records(decoded)
    for position, reason in zip(
        cleaned.quarantined_positions, cleaned.quarantined["reason"].to_pylist(), strict=True
    ):
        outcome.rejected += 1
        logger.warning(
            "line fails the contract",
            extra={"event_id": decoded[position].event_id, "reason": reason},
        )

    tables = {"customer": settings.customer_table, "invoice": settings.invoice_table}
    failed_positions: dict[int, ItemWriteFailed] = {}
    for write in item_writes(cleaned.landed, cleaned.landed_positions):
        error = _apply(write, tables[write.table], dynamodb, outcome)
        if error is None:
            continue
        for position in write.positions:
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


def _apply(write: ItemWrite, table_name: str, dynamodb: Any, outcome: BatchOutcome) -> str | None:
    for request in write.update_requests(table_name):
        outcome.requests += 1
        try:
            dynamodb.update_item(**request)
        except ClientError as e:
            error = e.response.get("Error", {})
            logger.error(
                "DynamoDB write failed",
                extra={"table": write.table, "key": write.key, "error": error},
            )
            return f"{error.get('Code')}: {error.get('Message')}"
    return None


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = list(KinesisStreamEvent(event).records)
    outcome = write_batch(batch, aws.settings(), aws.dynamodb())
    metrics.add_metric(name="LinesStored", unit=MetricUnit.Count, value=outcome.stored)
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=outcome.rejected)
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=len(outcome.failures))

    def record_handler(record: KinesisStreamRecord) -> None:
        failure = outcome.failures.get(record.kinesis.sequence_number)
        if failure is not None:
            raise failure

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
