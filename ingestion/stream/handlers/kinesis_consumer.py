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
from binascii import a2b_base64
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
    KinesisStreamEvent,  # noqa: F401 (callers of write_batch wrap their events with it)
    KinesisStreamRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingestion.stream import settings
from ingestion.stream.deaggregate import MAGIC, BrokenAggregate, user_records
from ingestion.stream.item_store import BatchOutcome, store_records
from ingestion.stream.record_batch import DecodedBatch, decode_batch
from ingestion.stream.records import RecordOrigin

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


@dataclass
class UserRecords:
    """The user records of a batch's Kinesis records, in order (a KPL aggregate split
    into its user records; its user records share its sequence number, so a failed
    write retries the whole aggregate, harmlessly)."""

    records: list[dict[str, Any]]  # the event's records, as Lambda sends them
    payloads: list[bytes] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)  # each payload's record
    subsequence_numbers: list[int] = field(default_factory=list)
    broken: list[tuple[int, str]] = field(default_factory=list)  # aggregates: why unsplit

    def origin(self, payload: int) -> RecordOrigin:
        """What the transport says of a payload (built only where needed: for the
        records read one by one and those that are not lines)."""
        return self.record_origin(self.owners[payload], self.subsequence_numbers[payload])

    def record_origin(self, index: int, subsequence_number: int = 0) -> RecordOrigin:
        record = self.records[index]
        kinesis = record["kinesis"]
        return RecordOrigin(
            stream_name=stream_name_of(record["eventSourceARN"]),
            shard_id=record["eventID"].rsplit(":", 1)[0],  # eventID is shardId:sequenceNumber
            sequence_number=kinesis["sequenceNumber"],
            arrived_at=datetime.fromtimestamp(kinesis["approximateArrivalTimestamp"], tz=UTC),
            subsequence_number=subsequence_number,
        )


def user_records_of(records: list[dict[str, Any]]) -> UserRecords:
    """Decode each record's data; split KPL aggregates (rare) with AWS's module."""
    # what base64.b64decode does, without its checks
    payloads = [a2b_base64(record["kinesis"]["data"]) for record in records]
    if not any(data.startswith(MAGIC) for data in payloads):  # the usual batch
        return UserRecords(records, payloads, list(range(len(records))), [0] * len(records))
    users = UserRecords(records)
    for i, (record, data) in enumerate(zip(records, payloads, strict=True)):
        kinesis = record["kinesis"]
        if not data.startswith(MAGIC):
            users.payloads.append(data)
            users.owners.append(i)
            users.subsequence_numbers.append(0)
            continue
        try:
            split = user_records(data, kinesis["partitionKey"], kinesis["sequenceNumber"])
        except BrokenAggregate as e:
            users.broken.append((i, str(e)))
            continue
        for user in split:
            users.payloads.append(user.data)
            users.owners.append(i)
            users.subsequence_numbers.append(user.subsequence_number)
    return users


def write_batch(
    records: list[KinesisStreamRecord], config: settings.Settings, dynamodb: Any
) -> BatchOutcome:
    """Decode the batch's records and store their lines; what happened to each."""
    return write_records([record.raw_event for record in records], config, dynamodb)


def write_records(
    records: list[dict[str, Any]], config: settings.Settings, dynamodb: Any
) -> BatchOutcome:
    """`write_batch` of the event's records as Lambda sends them (no Powertools wrapper
    per record before the writes: about 5% of the work on a batch of 500)."""
    outcome = BatchOutcome()
    users, batch = decode(records, outcome)
    sequence_numbers = [
        users.records[users.owners[p]]["kinesis"]["sequenceNumber"] for p in batch.positions
    ]
    tables = {"customer": config.customer_table, "invoice": config.invoice_table}
    store_records(batch, sequence_numbers, tables, dynamodb, outcome)
    for event_id, reason in outcome.rejections:
        logger.info("line fails the contract", extra={"event_id": event_id, "reason": reason})
    for failure in outcome.failures.values():
        logger.error("DynamoDB write failed", extra={"reason": str(failure)})
    return outcome


def decode(
    records: list[dict[str, Any]], outcome: BatchOutcome
) -> tuple[UserRecords, DecodedBatch]:
    """The batch's lines; the records that are not lines are counted and logged."""
    users = user_records_of(records)
    batch = decode_batch(users.payloads, users.origin)
    for i, reason in users.broken:
        outcome.rejected += 1
        event_id = users.record_origin(i).event_id
        logger.info("not an invoice line", extra={"event_id": event_id, "reason": reason})
    for payload, error in batch.errors:
        outcome.rejected += 1
        logger.info(
            "not an invoice line",
            extra={"event_id": users.origin(payload).event_id, "reason": error.reason},
        )
    return users, batch


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch: list[dict[str, Any]] = event["Records"]
    outcome = write_records(batch, settings.current(), settings.dynamodb())
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
