"""Firehose's data-transformation Lambda: stream records -> cleaned JSON lines.

Every recordId is answered once:

- `Ok`: the line cleaned by the shared rules, as one JSON line in the Glue table's
  columns (Firehose converts it to Parquet with that table, the batch job's schema),
  with dynamic-partitioning keys `year` and `month` of the invoice date;
- `ProcessingFailed`, with the original data: the record fails the contract or is not
  a line at all. Firehose writes it to its error prefix, and this function also writes
  the batch's rejects to the quarantine zone (QUARANTINE_SCHEMA Parquet, with the field
  and reason that Firehose's error output cannot carry), which is what dbt reads.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import (
    KinesisFirehoseDataTransformationRecord,
    KinesisFirehoseDataTransformationRecordMetadata,
    KinesisFirehoseDataTransformationResponse,
    KinesisFirehoseEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingestion.lake import Lake
from ingestion.stream import settings
from ingestion.stream.output import (
    cleaned_json_lines,
    partition_keys,
    quarantine_key,
    write_parquet,
)
from ingestion.stream.records import (
    RecordOrigin,
    StreamRecord,
    clean_records,
    decode_record,
    undecodable_quarantine,
)
from ingestion.stream.request_bodies import LineError, LineRejected

logger = Logger(service="online-retail-firehose-transform")
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "OnlineRetail"),
    service="online-retail-firehose-transform",
)


def transform(event: KinesisFirehoseEvent, lake: Lake | None) -> tuple[dict[str, Any], int, int]:
    """The response for `event`, and (lines Ok, records failed). Rejects are written to
    the quarantine zone of `lake` (None: do not write, as in the benchmark)."""
    records = list(event.records)
    stream_name = (event.source_kinesis_stream_arn or event.delivery_stream_arn).rsplit("/", 1)[-1]
    decoded: list[StreamRecord] = []
    decoded_at: list[int] = []  # position of each decoded record in `records`
    undecodable: list[tuple[int, LineError]] = []
    for i, record in enumerate(records):
        metadata = record.metadata
        origin = RecordOrigin(
            stream_name=stream_name,
            shard_id=metadata.shard_id if metadata else "direct-put",
            sequence_number=metadata.sequence_number if metadata else record.record_id,
            arrived_at=datetime.fromtimestamp(record.approximate_arrival_timestamp / 1000, tz=UTC),
        )
        try:
            decoded.append(decode_record(record.data_as_bytes, origin))
            decoded_at.append(i)
        except LineRejected as e:
            undecodable.append((i, e.error))

    cleaned = clean_records(decoded)
    answers: list[KinesisFirehoseDataTransformationRecord | None] = [None] * len(records)
    lines = cleaned_json_lines(cleaned.landed)
    keys = partition_keys(cleaned.landed)
    for position, line, partition in zip(cleaned.landed_positions, lines, keys, strict=True):
        i = decoded_at[position]
        answers[i] = KinesisFirehoseDataTransformationRecord(
            record_id=records[i].record_id,
            result="Ok",
            data=base64.b64encode(line).decode("ascii"),
            metadata=KinesisFirehoseDataTransformationRecordMetadata(partition_keys=partition),
        )
    failed = [decoded_at[p] for p in cleaned.quarantined_positions] + [i for i, _ in undecodable]
    for i in failed:
        answers[i] = KinesisFirehoseDataTransformationRecord(
            record_id=records[i].record_id, result="ProcessingFailed", data=records[i].data
        )

    if failed and lake is not None:
        rejects = pa.concat_tables(
            [
                cleaned.quarantined,
                undecodable_quarantine(
                    [e for _, e in undecodable],
                    [records[i].data_as_bytes for i, _ in undecodable],
                    f"stream:{stream_name}",
                    datetime.now(UTC),
                ),
            ]
        )
        write_parquet(lake, quarantine_key("firehose", event.invocation_id), rejects)
    response = KinesisFirehoseDataTransformationResponse(records=[a for a in answers if a])
    # Firehose never invokes with no records, but an empty answer is still well formed.
    body = response.asdict() if records else {"records": []}
    return body, len(lines), len(failed)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response, ok, failed = transform(KinesisFirehoseEvent(event), settings.lake())
    metrics.add_metric(name="LinesTransformed", unit=MetricUnit.Count, value=ok)
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=failed)
    if failed:
        logger.info("records failed the contract", extra={"failed": failed, "ok": ok})
    return response
