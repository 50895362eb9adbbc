"""Kinesis -> DynamoDB: the customer and invoice tables, written idempotently.

The event source mapping is set up with ReportBatchItemFailures (and bisect-on-error,
a retry limit and an on-failure destination). A record that is not a valid line is
not a failure to retry, since no retry would fix it: it is logged and counted here
and quarantined by the Firehose path, which reads the same stream. Only a DynamoDB
write that fails is reported in `batchItemFailures`. Lambda then checkpoints before
the lowest failed sequence number and delivers that record and every later one of
the batch again, holding the shard until they succeed or the retry bounds (bisect,
attempts, record age) send the batch to the on-failure queue (docs/stream.md).

This handler decodes the event's records into plain values and hands them to
`item_store`, which cleans and stores them in batches; Powertools' BatchProcessor then
reports each record by the outcome of its items.
"""

from __future__ import annotations

import os
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

from ingestion.stream import settings
from ingestion.stream.item_store import BatchOutcome, store_records
from ingestion.stream.records import RecordOrigin, StreamRecord, decode_kinesis_record

logger = Logger(service="online-retail-kinesis-consumer")
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "OnlineRetail"),
    service="online-retail-kinesis-consumer",
)
processor = BatchProcessor(
    event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False
)


def stream_name_of(event_source_arn: str) -> str:
    return event_source_arn.rsplit("/", 1)[-1]


def write_batch(
    records: list[KinesisStreamRecord], config: settings.Settings, dynamodb: Any
) -> BatchOutcome:
    """Decode the batch's records and store their lines; what happened to each."""
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
        # Lambda delivers a KPL aggregate whole: split it (its user records share the
        # sequence number, so a failed write retries the whole aggregate, harmlessly).
        data, key = record.kinesis.data_as_bytes(), record.kinesis.partition_key
        for user in decode_kinesis_record(data, key, origin):
            if user.record is not None:
                decoded.append(user.record)
                sequence_numbers.append(record.kinesis.sequence_number)
                continue
            outcome.rejected += 1
            logger.info(
                "not an invoice line",
                extra={"event_id": user.origin.event_id, "reason": user.error.reason},
            )
    tables = {"customer": config.customer_table, "invoice": config.invoice_table}
    store_records(decoded, sequence_numbers, tables, dynamodb, outcome)
    for event_id, reason in outcome.rejections:
        logger.info("line fails the contract", extra={"event_id": event_id, "reason": reason})
    for failure in outcome.failures.values():
        logger.error("DynamoDB write failed", extra={"reason": str(failure)})
    return outcome


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = list(KinesisStreamEvent(event).records)
    outcome = write_batch(batch, settings.current(), settings.dynamodb())
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
